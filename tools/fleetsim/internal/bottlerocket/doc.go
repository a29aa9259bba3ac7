// Package bottlerocket simulates one Bottlerocket host's update machinery
// (apiserver → thar-be-updates → updog → signpost) and the `apiclient` command
// line in front of it, in virtual time, for the fleet simulator.
//
// A Host is driven by command lines (Run) exactly as an SSM
// aws:runShellScript document would send them, and answers with the stdout,
// stderr and exit code the real apiclient would produce. Every duration is
// virtual: Run schedules its completion on the simulator's Clock, so nothing
// here sleeps, spawns goroutines or takes locks. Host is not goroutine-safe;
// the simulator serialises calls to it (Clock.AfterFunc callbacks run under
// the simulator's lock). Repo is safe for concurrent use because many hosts
// share it and a new release may be published at any time.
//
// # Update state machine
//
// The state lives in thar-be-updates' status.json on tmpfs, so it is gone
// after every boot: until the first update command after a boot the status is
// uninitialised (a raw GET /updates/status answers 404) and any update command
// initialises it as Idle before acting.
//
//	           refresh: none chosen, or refresh failed
//	        ┌─────────────────────────────────────────┐
//	        ▼           refresh: chosen update         │
//	     ┌──────┐ ──────────────────────────────► ┌───────────┐ ◄── refresh: chosen update
//	boot►│ Idle │ ◄── refresh: none chosen        │ Available │
//	     └──────┘                                 └───────────┘
//	                                          prepare │     ▲ prepare failed
//	                                                  ▼     │
//	                                              ┌────────┐ ◄── prepare (again)
//	                                              │ Staged │
//	                                              └────────┘
//	                                      activate │     ▲ deactivate
//	                                               ▼     │ (update cancel)
//	                                              ┌───────┐
//	                                              │ Ready │
//	                                              └───────┘
//
//	Staged and Ready keep their state on refresh; every state is lost on boot.
//
// Allowed transitions (thar-be-updates' drive_state_machine):
//
//   - refresh (apiclient update check): Idle|Available → Available if a chosen
//     update exists, else Idle; a failed refresh lands in Idle. From Staged and
//     Ready the state is unchanged (available_updates and chosen_update are
//     still recomputed).
//   - prepare: Available|Staged → Staged (the chosen image is written to the
//     inactive partition set). A failed prepare lands in Available with no
//     staging partition.
//   - activate: Staged → Ready (the inactive set becomes next to boot, with
//     one boot try).
//   - deactivate (apiclient update cancel): Ready → Staged.
//   - anything else is refused: HTTP 409 "Update action not allowed according
//     to update state", apiclient exit code 1.
//
// `apiclient update apply` is prepare followed by activate (Timings.Prepare +
// Timings.Activate); `--check` runs `update check` first and exits 0 without
// applying when the state is Idle or Ready; `--reboot` reboots after a
// successful apply. While a mutating update command (check, apply, cancel)
// runs, thar-be-updates holds its lock and every other mutating update command
// fails at once with HTTP 423 "Update lock held" (exit code 1).
//
// # Reboot and rollback
//
// `apiclient reboot` answers "Rebooting, goodbye..." (exit 0), the host goes
// down Timings.Shutdown later (Hooks.HostDown; commands still running are cut
// off and never complete) and comes up Timings.Boot after that (Hooks.HostUp)
// on the partition set marked next to boot. A freshly activated set gets one
// boot try: with Faults.NewVersionFailsToBoot that try fails, GRUB falls back
// to the old set (the boot takes 2×Timings.Boot) and the host runs its old
// version again. With Faults.RebootNeverReturns the host stays down.
//
// # Choosing an update
//
// available_updates lists every version the Repo offers for the host's
// variant and arch, newest first, including older ones (rollback targets).
// chosen_update follows settings.updates.version-lock: "latest" picks the
// first release, newest first, that is newer than the running version (or any
// release whose MaxVersion the running version exceeds) and whose wave has
// reached this host's seed; a specific version picks exactly that version if
// the Repo offers it and the host does not already run it, older or newer,
// regardless of waves (the fleet's rollback lever).
package bottlerocket

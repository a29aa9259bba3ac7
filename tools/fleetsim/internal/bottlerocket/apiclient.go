package bottlerocket

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
)

// What apiclient logs on stderr, one line each.
const (
	msgRefreshing     = "Refreshing updates..."
	msgDownloading    = "Downloading and applying update to disk..."
	msgActivating     = "Setting the update active so it will apply on the next reboot..."
	msgApplied        = "Update has been applied and will take effect on next reboot."
	msgRebooting      = "Rebooting, goodbye..."
	msgCanceling      = "Canceling update..."
	msgNoUpdates      = "No updates available."
	msgAlreadyApplied = "Update already applied; reboot for it to take effect, or request a cancel."

	// prepareHint wraps every failure of the prepare step of update apply.
	prepareHint = "Failed to prepare update.  This could mean that we don't have a list of updates yet or that an update is already applied.  Running 'apiclient update check' will help you find out.  You can cancel an applied ('Ready') update with 'apiclient update cancel' if desired.  Detail: "

	// API error bodies.
	bodyDisallowed    = "Update action not allowed according to update state"
	bodyNoUpdate      = "Previously chosen Update no longer exists"
	bodyLockHeld      = "Unable to obtain shared lock for reading update status: Resource temporarily unavailable (os error 11)"
	bodyUninitialized = "Update status is uninitialized, refresh-updates to initialize it"
)

// usage is what apiclient prints (with exit code 2) for a line it cannot parse.
const usage = `Usage: apiclient [SUBCOMMAND] [OPTION]...

Global options:
    -s, --socket-path PATH     Override the server socket path.  Default: /run/api.sock
    --log-level                Desired amount of output; trace|debug|info|warn|error
    -v, --verbose              Sets log level to 'debug'.

Subcommands:
    raw                        Makes an HTTP request and prints the response on stdout.
                               'raw' is the default subcommand and may be omitted.
    get                        Retrieve and print settings or OS information.
    set                        Changes settings and applies them to the system.
    update check               Prints information about available updates.
    update apply               Applies available updates.
    update cancel              Deactivates an applied update.
    reboot                     Reboots the host.

raw options:
    -u, --uri URI              Required; URI to request from the server, e.g. /os
    -m, -X, --method METHOD    HTTP method to use in request.  Default: GET
    -d, --data DATA            Data to include in the request body.  Default: empty

get options:
    [PREFIX ...]               Dotted prefixes to print, e.g. os or settings.updates

set options:
    KEY=VALUE [KEY=VALUE ...]  Settings to change, e.g. settings.updates.version-lock=v1.20.3

update apply options:
    -c, --check                Automatically 'update check' and apply whatever is found.
    -r, --reboot               Automatically reboot if an update was found and applied.`

// invocation accumulates one command line's output and answers done once.
type invocation struct {
	h         *Host
	done      func(Result)
	out, err  strings.Builder
	sync      bool // still inside Run: answers must go through the clock
	holdsLock bool
}

func (iv *invocation) log(line string) { iv.err.WriteString(line + "\n") }

// finish answers done with exit, then runs then (if any) in the same instant.
func (iv *invocation) finish(exit int, then func()) {
	if iv.holdsLock {
		iv.h.locked, iv.holdsLock = false, false
	}
	res := Result{Stdout: iv.out.String(), Stderr: iv.err.String(), ExitCode: exit}
	answer := func() {
		iv.done(res)
		if then != nil {
			then()
		}
	}
	if iv.sync {
		iv.h.after(0, answer)
		return
	}
	answer()
}

func (iv *invocation) fail(msg string) {
	iv.log(msg)
	iv.finish(1, nil)
}

// Run executes one command line, as an SSM aws:runShellScript step would,
// and calls done with its output once the operation's virtual duration has
// passed. done is never called if the command hangs (Faults.ApplyHangs) or
// the host goes down before the command completes; the caller learns of the
// latter through Hooks.HostDown.
//
// On a host that is down, Run calls done before returning, with ExitCode
// ExitHostDown: the real host would not answer, so queueing the command or
// timing it out is the caller's business. Otherwise done is always called
// from a Clock callback, never from within Run.
//
// Supported lines (one command each; no shell operators):
//
//	apiclient update check
//	apiclient update apply [--check|-c] [--reboot|-r]
//	apiclient update cancel
//	apiclient reboot
//	apiclient get [PREFIX ...]            e.g. os, os.version_id, settings.updates
//	apiclient set KEY=VALUE ...           settings.updates.{version-lock,ignore-waves,seed}
//	apiclient [raw] -u URI [-m METHOD]    GET /os, /updates/status, /settings; POST /actions/reboot
//
// A line apiclient cannot parse exits ExitUsage with the usage on stderr; a
// line that is not apiclient exits ExitNotFound.
func (h *Host) Run(line string, done func(Result)) {
	if done == nil {
		done = func(Result) {}
	}
	if !h.up {
		done(Result{Stderr: fmt.Sprintf("host %s is down\n", h.id), ExitCode: ExitHostDown})
		return
	}
	iv := &invocation{h: h, done: done, sync: true}
	h.dispatch(iv, splitLine(line))
	iv.sync = false
}

// splitLine splits on blanks and drops one level of quotes around a word.
func splitLine(line string) []string {
	words := strings.Fields(line)
	for i, w := range words {
		if k, v, ok := strings.Cut(w, "="); ok {
			words[i] = k + "=" + unquote(v)
		} else {
			words[i] = unquote(w)
		}
	}
	return words
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}

func (h *Host) dispatch(iv *invocation, words []string) {
	if len(words) == 0 {
		iv.finish(0, nil)
		return
	}
	if words[0] != "apiclient" && !strings.HasSuffix(words[0], "/apiclient") {
		iv.err.WriteString(fmt.Sprintf("sh: 1: %s: not found\n", words[0]))
		iv.finish(ExitNotFound, nil)
		return
	}
	usageErr := func(msg string) {
		if msg != "" {
			iv.err.WriteString(msg + "\n\n")
		}
		iv.err.WriteString(usage + "\n")
		iv.finish(ExitUsage, nil)
	}
	var sub string
	var args []string
	for i := 1; i < len(words); i++ {
		switch w := words[i]; w {
		case "-h", "--help":
			usageErr("")
			return
		case "--log-level", "-s", "--socket-path":
			if i+1 == len(words) {
				usageErr("Did not give argument to " + w)
				return
			}
			i++
		case "-v", "--verbose":
		case "raw", "reboot", "update", "get", "set":
			if sub == "" {
				sub = w
				continue
			}
			args = append(args, w)
		default:
			args = append(args, w)
		}
	}
	switch sub {
	case "", "raw":
		h.raw(iv, args, usageErr)
	case "reboot":
		if len(args) > 0 {
			usageErr("Unknown arguments: " + strings.Join(args, ", "))
			return
		}
		iv.log(msgRebooting)
		iv.finish(0, h.beginShutdown)
	case "update":
		h.update(iv, args, usageErr)
	case "get":
		iv.out.WriteString(marshal(h.getTree(args), true) + "\n")
		iv.finish(0, nil)
	case "set":
		h.set(iv, args, usageErr)
	}
}

func (h *Host) update(iv *invocation, args []string, usageErr func(string)) {
	var sub string
	var rest []string
	for _, a := range args {
		if sub == "" && (a == "check" || a == "apply" || a == "cancel") {
			sub = a
			continue
		}
		rest = append(rest, a)
	}
	var check, reboot bool
	switch sub {
	case "check", "cancel":
		if len(rest) > 0 {
			usageErr("Unknown arguments: " + strings.Join(rest, ", "))
			return
		}
	case "apply":
		for _, a := range rest {
			switch a {
			case "-c", "--check":
				check = true
			case "-r", "--reboot":
				reboot = true
			default:
				usageErr(fmt.Sprintf("Unknown argument '%s'", a))
				return
			}
		}
	default:
		usageErr("Missing or unknown subcommand for 'update'")
		return
	}

	// Every update command first reads /updates/status, which fails while
	// another command holds thar-be-updates' lock.
	if h.locked {
		locked := "Unable to check initial update status, got code '423 Locked': " + bodyLockHeld
		switch sub {
		case "check":
			iv.log(msgRefreshing)
			iv.fail("Failed to check for updates: " + locked)
		case "cancel":
			iv.log(msgCanceling)
			iv.fail("Failed to cancel update: " + locked)
		case "apply":
			if check {
				iv.log(msgRefreshing)
				iv.fail("Failed to check for updates: " + locked)
				return
			}
			iv.log(msgDownloading)
			iv.fail("Failed to apply update: " + prepareHint + locked)
		}
		return
	}
	h.locked, iv.holdsLock = true, true

	switch sub {
	case "check":
		h.check(iv, func() { iv.finish(0, nil) })
	case "cancel":
		h.cancel(iv)
	case "apply":
		apply := func() {
			h.apply(iv, func() {
				if reboot {
					iv.log(msgRebooting)
					iv.finish(0, h.beginShutdown)
					return
				}
				iv.log(msgApplied)
				iv.finish(0, nil)
			})
		}
		if !check {
			apply()
			return
		}
		h.check(iv, func() {
			switch h.status.UpdateState {
			case StateIdle:
				iv.log(msgNoUpdates)
				iv.finish(0, nil)
			case StateReady:
				iv.log(msgAlreadyApplied)
				iv.finish(0, nil)
			default:
				apply()
			}
		})
	}
}

// check is `update check`: refresh, then print the status.
func (h *Host) check(iv *invocation, next func()) {
	iv.log(msgRefreshing)
	h.after(h.timings.Refresh, func() {
		if !h.refresh() {
			iv.fail(fmt.Sprintf("Failed to check for updates: refresh attempt failed with status '%s' (1): %s", cmdFailed, refreshFailure))
			return
		}
		iv.out.WriteString(h.statusJSON(true) + "\n")
		next()
	})
}

// apply is prepare then activate.
func (h *Host) apply(iv *invocation, next func()) {
	iv.log(msgDownloading)
	h.ensureStatus()
	st := h.status
	applyErr := func(detail string) { iv.fail("Failed to apply update: " + prepareHint + detail) }
	if st.UpdateState != StateAvailable && st.UpdateState != StateStaged {
		applyErr("Failed to make prepare request: Status 409 when POSTing /actions/prepare-update: " + bodyDisallowed)
		return
	}
	if st.ChosenUpdate == nil || !h.offered(st.ChosenUpdate.Version) {
		applyErr("Failed to make prepare request: Status 404 when POSTing /actions/prepare-update: " + bodyNoUpdate)
		return
	}
	if h.faults.ApplyHangs {
		return // lock held, done never called
	}
	version := st.ChosenUpdate.Version
	h.after(h.timings.Prepare, func() {
		in := h.inactive()
		h.next = h.active
		if h.faults.ApplyFails {
			h.parts[in] = ""
			st.UpdateState = StateAvailable
			h.record(cmdPrepare, 1, prepareFailure)
			h.syncPartitions()
			applyErr(fmt.Sprintf("prepare attempt failed with status '%s' (1): %s", cmdFailed, prepareFailure))
			return
		}
		h.parts[in] = version
		st.UpdateState = StateStaged
		h.record(cmdPrepare, 0, "")
		h.syncPartitions()
		iv.log(msgActivating)
		h.after(h.timings.Activate, func() {
			h.next = h.inactive()
			st.UpdateState = StateReady
			h.record(cmdActivate, 0, "")
			h.syncPartitions()
			next()
		})
	})
}

// offered reports whether the repo still offers version to this host.
func (h *Host) offered(version string) bool {
	for _, rel := range h.repo.Releases(h.variant, h.arch) {
		if rel.Version == version {
			return true
		}
	}
	return false
}

// cancel is `update cancel`: deactivate, Ready → Staged.
func (h *Host) cancel(iv *invocation) {
	iv.log(msgCanceling)
	h.ensureStatus()
	if h.status.UpdateState != StateReady {
		iv.fail("Failed to cancel update: Failed to make deactivate request: Status 409 when POSTing /actions/deactivate-update: " + bodyDisallowed)
		return
	}
	h.after(h.timings.Cancel, func() {
		h.next = h.active
		h.status.UpdateState = StateStaged
		h.record(cmdDeactivate, 0, "")
		h.syncPartitions()
		iv.finish(0, nil)
	})
}

// osInfo is the API's /os object.
func (h *Host) osInfo() map[string]any {
	v := h.Version()
	sum := fnv.New32a()
	sum.Write([]byte(v))
	return map[string]any{
		"arch":        h.arch,
		"build_id":    fmt.Sprintf("%08x", sum.Sum32()),
		"pretty_name": fmt.Sprintf("Bottlerocket OS %s (%s)", v, h.variant),
		"variant_id":  h.variant,
		"version_id":  v,
	}
}

func (h *Host) updateSettings() map[string]any {
	return map[string]any{
		"version-lock": h.versionLock,
		"ignore-waves": h.ignoreWaves,
		"seed":         h.seed % MaxSeed,
	}
}

// getTree is `apiclient get`: the os and settings trees cut down to the
// requested dotted prefixes; a prefix that starts with neither is a setting.
func (h *Host) getTree(prefixes []string) map[string]any {
	all := map[string]any{"os": h.osInfo(), "settings": map[string]any{"updates": h.updateSettings()}}
	if len(prefixes) == 0 {
		return all
	}
	out := map[string]any{}
	for _, p := range prefixes {
		if p != "os" && p != "settings" && !strings.HasPrefix(p, "os.") && !strings.HasPrefix(p, "settings.") {
			p = "settings." + p
		}
		copyPath(out, all, strings.Split(p, "."))
	}
	return out
}

// copyPath copies src's subtree at path into dst, creating the maps on the way.
func copyPath(dst, src map[string]any, path []string) {
	v, ok := src[path[0]]
	if !ok {
		return
	}
	if len(path) == 1 {
		dst[path[0]] = v
		return
	}
	sub, ok := v.(map[string]any)
	if !ok {
		return
	}
	d, ok := dst[path[0]].(map[string]any)
	if !ok {
		d = map[string]any{}
	}
	copyPath(d, sub, path[1:])
	if len(d) > 0 {
		dst[path[0]] = d
	}
}

// set is `apiclient set`: only the settings.updates keys this simulator
// models are accepted.
func (h *Host) set(iv *invocation, args []string, usageErr func(string)) {
	if len(args) == 0 {
		usageErr("Must specify key=value settings to set")
		return
	}
	lock, ignore, seed := h.versionLock, h.ignoreWaves, h.seed
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			usageErr(fmt.Sprintf("Invalid setting '%s', expected key=value", a))
			return
		}
		k = strings.TrimPrefix(k, "settings.")
		invalid := func() {
			iv.fail(fmt.Sprintf("Failed to change settings: Status 400 when PATCHing /settings: Unable to deserialize input for key '%s': invalid value '%s'", k, v))
		}
		switch k {
		case "updates.version-lock":
			if v != "latest" && !isVersion(normalizeVersion(v)) {
				invalid()
				return
			}
			lock = v
		case "updates.ignore-waves":
			b, err := strconv.ParseBool(v)
			if err != nil {
				invalid()
				return
			}
			ignore = b
		case "updates.seed":
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil {
				invalid()
				return
			}
			seed = uint32(n)
		default:
			iv.fail(fmt.Sprintf("Failed to change settings: Status 400 when PATCHing /settings: Json deserialize error: unknown field '%s'", k))
			return
		}
	}
	h.versionLock, h.ignoreWaves, h.seed = lock, ignore, seed
	iv.finish(0, nil)
}

// isVersion accepts MAJOR.MINOR.PATCH with an optional pre-release.
func isVersion(v string) bool {
	core, _, _ := strings.Cut(v, "-")
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return false
	}
	for _, p := range parts {
		if _, err := strconv.ParseUint(p, 10, 32); err != nil {
			return false
		}
	}
	return true
}

// raw is `apiclient [raw] -u URI [-m METHOD]` for the endpoints the fleet's
// documents use.
func (h *Host) raw(iv *invocation, args []string, usageErr func(string)) {
	method, uri := "GET", ""
	for i := 0; i < len(args); i++ {
		switch a := args[i]; a {
		case "-m", "-X", "--method", "-u", "--uri", "-d", "--data":
			if i+1 == len(args) {
				usageErr("Did not give argument to " + a)
				return
			}
			i++
			switch a {
			case "-u", "--uri":
				uri = args[i]
			case "-d", "--data":
			default:
				method = strings.ToUpper(args[i])
			}
		default:
			usageErr(fmt.Sprintf("Unknown argument '%s'", a))
			return
		}
	}
	if uri == "" {
		usageErr("Missing required argument '--uri'")
		return
	}
	httpErr := func(code, body string) {
		iv.fail(fmt.Sprintf("Failed %s request to '%s': Status %s when %sing %s: %s", method, uri, code, method, uri, body))
	}
	switch {
	case method == "GET" && uri == "/os":
		iv.out.WriteString(marshal(h.osInfo(), false) + "\n")
	case method == "GET" && uri == "/settings":
		iv.out.WriteString(marshal(map[string]any{"updates": h.updateSettings()}, false) + "\n")
	case method == "GET" && uri == "/updates/status":
		switch {
		case h.locked:
			httpErr("423", bodyLockHeld)
			return
		case h.status == nil:
			httpErr("404", bodyUninitialized)
			return
		}
		iv.out.WriteString(h.statusJSON(false) + "\n")
	case method == "POST" && uri == "/actions/reboot":
		iv.finish(0, h.beginShutdown)
		return
	default:
		httpErr("404", "Not Found")
		return
	}
	iv.finish(0, nil)
}

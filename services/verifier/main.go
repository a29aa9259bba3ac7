// Command verifier is rollwave's verifier: it takes jobs at step verify from <prefix>-verifier,
// waits (woken by the ECS events on <prefix>-verifier-events, re-checking as a backstop) until
// the rebooted host's ECS agent and SSM agent are back, checks its version over SSM, and ends
// the job: ACTIVE and unmarked when updated, failed and marked failed when the host rolled back or
// never came back (kept out of service, or a rolled-back host returned to service pinned to its
// version where the cluster's onVerifyFailure policy says so). docs/architecture.md describes the
// contract.
package main

import (
	"github.com/rollwave/rollwave/services/verifier/verify"
	"github.com/rollwave/rollwave/shared/service"
)

func main() { service.Main("verifier", verify.Run) }

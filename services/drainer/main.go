// Command drainer is rollwave's drainer: it takes jobs at step drain from <prefix>-drainer,
// admits each drain while its cluster can spare the instance, sets the instance DRAINING, waits
// (woken by the ECS events on <prefix>-drainer-events) until its tasks have moved, and forwards
// the job to <prefix>-patcher for the reboot. docs/architecture.md describes the contract.
package main

import (
	_ "time/tzdata" // maintenance windows name IANA zones; the image has no zoneinfo

	"github.com/rollwave/rollwave/services/drainer/drain"
	"github.com/rollwave/rollwave/shared/service"
)

func main() { service.Main("drainer", drain.Run) }

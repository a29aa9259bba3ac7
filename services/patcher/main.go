// Command patcher stages Bottlerocket updates while an instance still serves traffic (`apiclient
// update apply`, no reboot) and, once the drainer has drained the instance, reboots it exactly once
// (`apiclient reboot`). It is the intake of every job: the scanner's and a person's.
package main

import (
	"github.com/rollwave/rollwave/services/patcher/patch"
	"github.com/rollwave/rollwave/shared/service"
)

func main() { service.Main("patcher", patch.Run) }

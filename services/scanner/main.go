// Command scanner finds the Bottlerocket container instances of the configured ECS clusters that
// have an update, and sends one job per instance to the patcher's queue. It runs when a scan
// request arrives on its queue: from a schedule in AWS, from a person (`rollwave scan`), or from
// `make demo` locally.
package main

import (
	"github.com/rollwave/rollwave/services/scanner/scan"
	"github.com/rollwave/rollwave/shared/service"
)

func main() { service.Main("scanner", scan.Run) }

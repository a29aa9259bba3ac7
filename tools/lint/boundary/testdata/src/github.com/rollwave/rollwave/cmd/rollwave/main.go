package main

import (
	_ "github.com/aws/aws-sdk-go-v2/aws"

	_ "github.com/rollwave/rollwave/tools/fleetsim/admin"
	_ "github.com/rollwave/rollwave/tools/fleetsim/fleet"
	_ "github.com/rollwave/rollwave/tools/fleetsim/scenario"
	_ "github.com/rollwave/rollwave/tools/harness" // want `rule cli-reaches-tools-only-through-fleetsim-admin`
)

func main() {}

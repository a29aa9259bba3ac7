package main

import (
	_ "os"

	_ "github.com/rollwave/rollwave/tools/harness"
)

func main() {}

package main

import _ "github.com/rollwave/rollwave/tools/harness"

module github.com/rollwave/rollwave/tools/harness

go 1.25.0

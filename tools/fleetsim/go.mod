module github.com/rollwave/rollwave/tools/fleetsim

go 1.25.0

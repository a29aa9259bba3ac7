module github.com/rollwave/rollwave/shared

go 1.25.0

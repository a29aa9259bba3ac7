package update

import (
	_ "os" // a test reads its golden files

	_ "github.com/rollwave/rollwave/tools/harness"
)

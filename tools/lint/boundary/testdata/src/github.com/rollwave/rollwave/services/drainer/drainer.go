package drainer

import (
	_ "os"

	_ "github.com/rollwave/rollwave/services/scanner/lib" // want `import "github.com/rollwave/rollwave/services/scanner/lib" is not allowed by rule drainer-imports-no-other-service: a service never imports another`
	_ "github.com/rollwave/rollwave/shared/update"
	_ "github.com/rollwave/rollwave/tools/harness" // want `rule tools-stay-out-of-binaries`
)

package drainer

import _ "github.com/rollwave/rollwave/tools/harness" // tests may use the harness

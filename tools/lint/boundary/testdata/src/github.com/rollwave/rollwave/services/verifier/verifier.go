package verifier

import _ "github.com/rollwave/rollwave/services/patcher" // want `rule verifier-imports-no-other-service`

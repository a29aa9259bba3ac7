package scan

import (
	"testing"

	"github.com/rollwave/rollwave/shared/service/servicetest"
)

// TestRunRefusesBadConfigurationBeforeAnyNetworkCall: two problems (the scanner reads no
// rollout policy) are both named in one error, before the scanner calls AWS.
func TestRunRefusesBadConfigurationBeforeAnyNetworkCall(t *testing.T) {
	servicetest.ConfigFirst(t, Run, map[string]string{
		"ROLLWAVE_CONCURRENCY": "many",
		"ROLLWAVE_SSM_TIMEOUT": "soon",
	}, "ROLLWAVE_CONCURRENCY", "ROLLWAVE_SSM_TIMEOUT")
}

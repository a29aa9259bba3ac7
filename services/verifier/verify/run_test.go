package verify

import (
	"testing"

	"github.com/rollwave/rollwave/shared/service/servicetest"
)

// TestRunRefusesBadConfigurationBeforeAnyNetworkCall: a bad setting and a bad policy are both
// named in one error, before the verifier calls AWS.
func TestRunRefusesBadConfigurationBeforeAnyNetworkCall(t *testing.T) {
	servicetest.ConfigFirst(t, Run, map[string]string{
		"ROLLWAVE_CONCURRENCY":      "many",
		"ROLLWAVE_CLUSTER_POLICIES": "{not json",
	}, "ROLLWAVE_CONCURRENCY", "ROLLWAVE_CLUSTER_POLICIES")
}

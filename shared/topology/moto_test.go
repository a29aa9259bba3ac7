package topology_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/rollwave/rollwave/tools/harness"
)

// motoConfig starts (or shares) the harness's moto server for t.
func motoConfig(t *testing.T) aws.Config {
	return harness.Start(t, harness.WithoutFleetsim()).AWSConfig(t.Context())
}

package queue_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/rollwave/rollwave/shared/queue/queuetest"
	"github.com/rollwave/rollwave/tools/harness"
)

func TestContractMoto(t *testing.T) {
	stack := harness.Start(t, harness.WithoutFleetsim())
	client := sqs.NewFromConfig(stack.AWSConfig(t.Context()))
	queuetest.RunContract(t, func(*testing.T) queuetest.ContractClient { return client })
}

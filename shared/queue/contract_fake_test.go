package queue_test

import (
	"testing"

	"github.com/rollwave/rollwave/shared/queue/queuetest"
)

func TestContractFake(t *testing.T) {
	queuetest.RunContract(t, func(*testing.T) queuetest.ContractClient { return queuetest.NewSQS() })
}

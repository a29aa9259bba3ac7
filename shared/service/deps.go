package service

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/rollwave/rollwave/shared/clock"
	"github.com/rollwave/rollwave/shared/pause"
	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/topology"
)

// SQS is the part of *sqs.Client a worker uses: its queues, their tags (pauses, the error
// budget) and finding their URLs. The in-memory queuetest.SQS has it too.
type SQS interface {
	queue.Client
	topology.QueueURLGetter
	pause.ListQueueTagsAPI
	pause.TagQueueAPI
}

// PutEventsAPI is the EventBridge call a worker makes: publishing its pipeline events.
type PutEventsAPI interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, optFns ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// Deps is what a worker talks to and the time it keeps. A worker's process takes them from the
// AWS SDK's default configuration (AWSDeps); rollwave plan gives the workers an in-memory SQS and
// event bus, a simulated fleet behind AWS, and a virtual clock.
type Deps struct {
	// AWS makes the clients of ECS, SSM, EC2, Auto Scaling and CloudWatch.
	AWS    aws.Config
	SQS    SQS
	Events PutEventsAPI
	Clock  clock.Clock
}

// AWSDeps are the dependencies of a worker's process: AWS through the SDK's default
// configuration (environment, shared files, the task role), on real time.
func AWSDeps(ctx context.Context) (Deps, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return Deps{}, fmt.Errorf("load aws config: %w", err)
	}
	return Deps{AWS: cfg, SQS: sqs.NewFromConfig(cfg), Events: eventbridge.NewFromConfig(cfg), Clock: clock.Real}, nil
}

// Command sdkcalls is the fixture of TestSDKCallsFollowsInterfaces: a narrow seam over an SDK
// client, an adapter with a method nobody calls, a handler taken as a value.
package main

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

type sender interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

type adapter struct{ api sender }

func (a adapter) send(ctx context.Context) error {
	_, err := a.api.SendMessage(ctx, &sqs.SendMessageInput{})
	return err
}

// purge is never called: sqs:PurgeQueue must not count.
func (a adapter) purge(ctx context.Context, c *sqs.Client) error {
	_, err := c.PurgeQueue(ctx, &sqs.PurgeQueueInput{})
	return err
}

func main() {
	ctx := context.Background()
	cfg := aws.Config{}
	a := adapter{api: sqs.NewFromConfig(cfg)}
	run := a.send
	_ = run(ctx)
	publish := func() { _, _ = eventbridge.NewFromConfig(cfg).PutEvents(ctx, &eventbridge.PutEventsInput{}) }
	publish()
}

package queue

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// Receipt returns m's receipt handle. A handler that returned RetryAfter may keep it to make the
// message visible again before its delay ends (Reveal): that is how a job that waits for an event
// is woken without being held in flight.
func (m Message) Receipt() string { return m.receiptHandle }

// VisibilityChanger is the SQS call Reveal makes (*sqs.Client satisfies it).
type VisibilityChanger interface {
	ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
}

// Reveal makes the message of receipt in queueURL visible at once, so that the next receive of
// any consumer gets it. It is meant for a message that waits hidden after RetryAfter; a receipt
// that is no longer valid (the message was received again, or deleted) is an error, which a
// caller that only hurries a wait may ignore: the message's own delay still brings it back.
func Reveal(ctx context.Context, c VisibilityChanger, queueURL, receipt string) error {
	_, err := c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl: aws.String(queueURL), ReceiptHandle: aws.String(receipt), VisibilityTimeout: 0,
	})
	if err != nil {
		return fmt.Errorf("reveal message: %w", err)
	}
	return nil
}

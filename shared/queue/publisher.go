package queue

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// Publisher sends jobs to queues, typically forwarding a job to the next stage.
type Publisher struct {
	client Sender
}

// NewPublisher returns a publisher that sends through client.
func NewPublisher(client Sender) *Publisher { return &Publisher{client: client} }

// Send sends body to the queue at queueURL, visible after delay (whole seconds, at most 15 min),
// with attrs as String message attributes (at most 10). It returns the message ID.
func (p *Publisher) Send(ctx context.Context, queueURL string, body []byte, delay time.Duration, attrs map[string]string) (string, error) {
	if delay < 0 || delay > maxDelay {
		return "", fmt.Errorf("send message to %s: delay %s is outside [0, 15m]", queueURL, delay)
	}
	if len(attrs) > maxMessageAttributes {
		return "", fmt.Errorf("send message to %s: %d attributes, at most %d", queueURL, len(attrs), maxMessageAttributes)
	}
	out, err := p.client.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:          &queueURL,
		MessageBody:       ptr(string(body)),
		DelaySeconds:      seconds(delay, maxDelay),
		MessageAttributes: stringAttributes(attrs),
	})
	if err != nil {
		return "", fmt.Errorf("send message to %s: %w", queueURL, err)
	}
	return deref(out.MessageId), nil
}

package queue

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/rollwave/rollwave/shared/clock"
	"github.com/rollwave/rollwave/shared/topology"
)

// Publisher sends jobs to queues, typically forwarding a job to the next stage.
type Publisher struct {
	// Clock times SendBatch's waits before it resends failed entries; nil is clock.Real. Set it
	// before use.
	Clock clock.Clock

	client   Sender
	maxBytes int
}

// NewPublisher returns a publisher that sends through client to queues of the topology, whose
// maximum message size is topology.MaxMessageBytes.
func NewPublisher(client Sender) *Publisher {
	return &Publisher{client: client, maxBytes: topology.MaxMessageBytes}
}

// Send sends body to the queue at queueURL, visible after delay (whole seconds, at most 15 min),
// with attrs as String message attributes (at most 10). It returns the message ID. A message
// larger than the queue's maximum (body and attributes, counted as SQS counts them) is refused
// with an error wrapping ErrMessageTooLarge.
func (p *Publisher) Send(ctx context.Context, queueURL string, body []byte, delay time.Duration, attrs map[string]string) (string, error) {
	if delay < 0 || delay > maxDelay {
		return "", fmt.Errorf("send message to %s: delay %s is outside [0, 15m]", queueURL, delay)
	}
	if len(attrs) > maxMessageAttributes {
		return "", fmt.Errorf("send message to %s: %d attributes, at most %d", queueURL, len(attrs), maxMessageAttributes)
	}
	if err := checkSize(string(body), attrs, p.maxBytes); err != nil {
		return "", fmt.Errorf("send message to %s: %w", queueURL, err)
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

package pipeline

import (
	"context"

	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/update"
)

// Waiting publishes "Instance Update Waiting" for a job held before admission since w.Since,
// for w.Reason; message says why for people. The drainer calls it once per wait, at its first
// warning (update.Waiting.Look); an error is the caller's to retry at its next look.
func (e *Ender) Waiting(ctx context.Context, job *update.Job, w update.Waiting, message string) error {
	var resources []string
	if job.ContainerInstanceARN != "" {
		resources = append(resources, job.ContainerInstanceARN)
	}
	d := jobDetail(*job, e.Now())
	d.Reason, d.Message, d.WaitingSince = string(w.Reason), message, w.Since.UTC()
	return e.Events.Publish(ctx, notify.InstanceUpdateWaiting, d, resources...)
}

package jobs

import (
	"context"

	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/update"
)

// InstanceGetter looks up one container instance by EC2 instance ID or ARN
// (cluster.Client.Instance).
type InstanceGetter interface {
	Instance(ctx context.Context, cluster, idOrARN string) (cluster.Instance, error)
}

// Instance looks up the container instance a job is about: by its ARN once a worker recorded
// it, else by job.Instance. On success it records on the job what the lookup taught (the ARN,
// and the EC2 instance ID when the job had none) and names both in the message's log fields
// (instance, instance_arn).
// Errors are the adapter's, unwrapped, so the caller can tell a gone instance from a transient
// failure with errors.Is.
func Instance(ctx context.Context, ecs InstanceGetter, job *update.Job) (cluster.Instance, error) {
	ref := job.ContainerInstanceARN
	if ref == "" {
		ref = job.Instance
	}
	inst, err := ecs.Instance(ctx, job.Cluster, ref)
	if err != nil {
		return cluster.Instance{}, err
	}
	job.ContainerInstanceARN = inst.ARN
	if job.EC2InstanceID == "" {
		job.EC2InstanceID = inst.EC2InstanceID
	}
	queue.Annotate(ctx, queue.Fields{Instance: job.EC2InstanceID, InstanceARN: inst.ARN})
	return inst, nil
}

package jobs

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/update"
)

// instances is an InstanceGetter over a map keyed by ID or ARN; it records the refs asked for.
type instances struct {
	byRef map[string]cluster.Instance
	asked []string
}

func (f *instances) Instance(_ context.Context, _, ref string) (cluster.Instance, error) {
	f.asked = append(f.asked, ref)
	in, ok := f.byRef[ref]
	if !ok {
		return cluster.Instance{}, cluster.ErrInstanceNotFound
	}
	return in, nil
}

func TestJobInstance(t *testing.T) {
	const arn = "arn:aws:ecs:eu-west-1:123456789012:container-instance/prod/abc"
	in := cluster.Instance{ARN: arn, EC2InstanceID: "i-00000001"}
	tests := []struct {
		name      string
		job       update.Job
		wantAsked string
		wantJob   update.Job
		wantErr   error
	}{
		{name: "a new job is looked up by its instance and learns the ARN",
			job: update.Job{Cluster: "prod", Instance: "i-00000001"}, wantAsked: "i-00000001",
			wantJob: update.Job{Cluster: "prod", Instance: "i-00000001", ContainerInstanceARN: arn, EC2InstanceID: "i-00000001"}},
		{name: "a job that knows the ARN is looked up by it",
			job: update.Job{Cluster: "prod", Instance: arn, ContainerInstanceARN: arn}, wantAsked: arn,
			wantJob: update.Job{Cluster: "prod", Instance: arn, ContainerInstanceARN: arn, EC2InstanceID: "i-00000001"}},
		{name: "a known EC2 instance ID is kept",
			job: update.Job{Cluster: "prod", Instance: "i-00000001", EC2InstanceID: "i-00000009"}, wantAsked: "i-00000001",
			wantJob: update.Job{Cluster: "prod", Instance: "i-00000001", ContainerInstanceARN: arn, EC2InstanceID: "i-00000009"}},
		{name: "a gone instance is the adapter's error, the job unchanged",
			job: update.Job{Cluster: "prod", Instance: "i-00000002"}, wantAsked: "i-00000002",
			wantJob: update.Job{Cluster: "prod", Instance: "i-00000002"}, wantErr: cluster.ErrInstanceNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &instances{byRef: map[string]cluster.Instance{"i-00000001": in, arn: in}}
			job := tt.job
			got, err := Instance(t.Context(), f, &job)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Instance() error = %v, want %v", err, tt.wantErr)
			}
			if err == nil && got.ARN != arn {
				t.Errorf("Instance() = %+v, want %s", got, arn)
			}
			if diff := cmp.Diff([]string{tt.wantAsked}, f.asked); diff != "" {
				t.Errorf("Instance() looked up (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantJob, job); diff != "" {
				t.Errorf("Instance() job (-want +got):\n%s", diff)
			}
		})
	}
}

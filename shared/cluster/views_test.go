package cluster_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/update"
)

func TestInstanceView(t *testing.T) {
	tests := []struct {
		name string
		in   cluster.Instance
		want update.InstanceView
	}{
		{name: "marks become the job and its stage",
			in:   cluster.Instance{ARN: "arn-1", EC2InstanceID: "i-1", Status: "DRAINING", AgentConnected: true, Attributes: map[string]string{update.AttrJob: "j-1", update.AttrStage: "draining"}},
			want: update.InstanceView{ARN: "arn-1", EC2InstanceID: "i-1", Status: "DRAINING", AgentConnected: true, Job: "j-1", Stage: update.StageDraining}},
		{name: "an unknown stage counts by status and agent only",
			in:   cluster.Instance{ARN: "arn-2", Status: "ACTIVE", Attributes: map[string]string{update.AttrStage: "sideways"}},
			want: update.InstanceView{ARN: "arn-2", Status: "ACTIVE"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.in.View()); diff != "" {
				t.Errorf("View() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoads(t *testing.T) {
	services := []cluster.Service{
		{Name: "web", Desired: 4, Running: 4, MinHealthyPercent: 50, MaxPercent: 200},
		{Name: "api", Desired: 2, Running: 2, MinHealthyPercent: 100, MaxPercent: 200},
	}
	task := func(group, startedBy, status string, cpu, mem int) cluster.Task {
		return cluster.Task{ARN: group + "-" + status, Group: group, StartedBy: startedBy, LastStatus: status, CPU: cpu, Memory: mem}
	}
	tasks := []cluster.Task{
		task("service:web", "ecs-svc/1", "RUNNING", 256, 512),
		task("service:web", "ecs-svc/1", "RUNNING", 512, 256),
		task("service:api", "ecs-svc/2", "STOPPED", 256, 256),    // not running: nothing to re-place
		task("service:daemon", "ecs-svc/3", "RUNNING", 128, 128), // a service not listed (daemon)
		task("family:batch", "person", "RUNNING", 1024, 1024),    // standalone
	}
	want := []update.ServiceLoad{{Name: "web", Desired: 4, Running: 4, MinHealthyPercent: 50, MaxPercent: 200, OnInstance: 2, TaskCPU: 512, TaskMemory: 512}}
	if diff := cmp.Diff(want, cluster.Loads(services, tasks)); diff != "" {
		t.Errorf("Loads() (-want +got):\n%s", diff)
	}
}

func TestHosts(t *testing.T) {
	in := func(arn, id, status string, agent bool, attrs map[string]string) cluster.Instance {
		return cluster.Instance{ARN: arn, EC2InstanceID: id, Status: status, AgentConnected: agent, Attributes: attrs, RemainingCPU: 1024, RemainingMemory: 2048}
	}
	all := []cluster.Instance{
		in("arn-me", "i-me", "ACTIVE", true, nil), // the one about to drain
		in("arn-a", "i-a", "ACTIVE", true, nil),   // in service
		in("arn-b", "", "ACTIVE", true, nil),      // no EC2 ID: named by ARN
		in("arn-c", "i-c", "DRAINING", true, nil), // out of service
		in("arn-d", "i-d", "ACTIVE", false, nil),  // agent disconnected
		in("arn-e", "i-e", "ACTIVE", true, map[string]string{update.AttrJob: "j-2", update.AttrStage: "admitting"}), // claimed by another job
		in("arn-f", "i-f", "ACTIVE", true, map[string]string{update.AttrStage: "failed"}),                           // failed, back in service
	}
	want := []update.Host{
		{Name: "i-a", CPU: 1024, Memory: 2048},
		{Name: "arn-b", CPU: 1024, Memory: 2048},
		{Name: "i-f", CPU: 1024, Memory: 2048},
	}
	if diff := cmp.Diff(want, cluster.Hosts(all, "arn-me")); diff != "" {
		t.Errorf("Hosts() (-want +got):\n%s", diff)
	}
}

func TestInstanceName(t *testing.T) {
	tests := []struct {
		name string
		in   cluster.Instance
		want string
	}{
		{name: "the EC2 instance ID", in: cluster.Instance{ARN: "arn-1", EC2InstanceID: "i-1"}, want: "i-1"},
		{name: "the ARN when ECS gave no EC2 ID", in: cluster.Instance{ARN: "arn-2"}, want: "arn-2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.in.Name(); got != tt.want {
				t.Errorf("Name() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestInstanceClaim(t *testing.T) {
	tests := []struct {
		name string
		in   cluster.Instance
		want update.Claim
	}{
		{name: "marks as written, an unknown stage included",
			in: cluster.Instance{Status: "DRAINING", Attributes: map[string]string{
				update.AttrJob: "j-1", update.AttrStage: "sideways", update.AttrLease: "2026-12-05T10:00:00Z", "ecs.os-type": "linux"}},
			want: update.Claim{Job: "j-1", Stage: "sideways", Lease: "2026-12-05T10:00:00Z", Status: "DRAINING"}},
		{name: "no marks", in: cluster.Instance{Status: "ACTIVE"}, want: update.Claim{Status: "ACTIVE"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.in.Claim()); diff != "" {
				t.Errorf("Claim() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUpdated(t *testing.T) {
	at := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	all := []cluster.Instance{
		{ARN: "arn-a", EC2InstanceID: "i-a", Status: "ACTIVE", AgentConnected: true, RunningTasks: 3, PendingTasks: 1,
			Attributes: map[string]string{update.AttrVerifiedAt: at.Format(time.RFC3339)}},
		{ARN: "arn-b", Status: "ACTIVE", Attributes: map[string]string{update.AttrVerifiedAt: "yesterday"}},          // does not parse: long ago
		{ARN: "arn-c", EC2InstanceID: "i-c", Status: "ACTIVE", Attributes: map[string]string{update.AttrJob: "j-1"}}, // not verified: not updated
	}
	want := []update.UpdatedInstance{
		{Name: "i-a", VerifiedAt: at, Status: "ACTIVE", AgentConnected: true, Running: 3, Pending: 1},
		{Name: "arn-b", Status: "ACTIVE"},
	}
	if diff := cmp.Diff(want, cluster.Updated(all)); diff != "" {
		t.Errorf("Updated() (-want +got):\n%s", diff)
	}
}

func TestHealths(t *testing.T) {
	services := []cluster.Service{
		{Name: "web", Desired: 4, Running: 3, Pending: 1, Deployments: 2, MinHealthyPercent: 50, MaxPercent: 200},
		{Name: "api", Desired: 2, Running: 2, Deployments: 1},
	}
	want := []update.ServiceHealth{
		{Name: "web", Desired: 4, Running: 3, Pending: 1, Deployments: 2},
		{Name: "api", Desired: 2, Running: 2, Deployments: 1},
	}
	if diff := cmp.Diff(want, cluster.Healths(services)); diff != "" {
		t.Errorf("Healths() (-want +got):\n%s", diff)
	}
}

func TestTaskViews(t *testing.T) {
	tasks := []cluster.Task{
		{ARN: "t-1", Group: "service:web", StartedBy: "ecs-svc/1", LastStatus: "RUNNING", CPU: 256, Memory: 512},
		{ARN: "t-2", Group: "family:batch", StartedBy: "person", LastStatus: "PENDING"},
	}
	want := []update.TaskView{
		{ARN: "t-1", Group: "service:web", StartedBy: "ecs-svc/1", LastStatus: "RUNNING"},
		{ARN: "t-2", Group: "family:batch", StartedBy: "person", LastStatus: "PENDING"},
	}
	if diff := cmp.Diff(want, cluster.TaskViews(tasks)); diff != "" {
		t.Errorf("TaskViews() (-want +got):\n%s", diff)
	}
}

func TestViews(t *testing.T) {
	all := []cluster.Instance{
		{ARN: "arn-1", EC2InstanceID: "i-1", Status: "ACTIVE", AgentConnected: true},
		{ARN: "arn-2", EC2InstanceID: "i-2", Status: "DRAINING", Attributes: map[string]string{update.AttrJob: "j-2", update.AttrStage: "draining"}},
	}
	want := []update.InstanceView{
		{ARN: "arn-1", EC2InstanceID: "i-1", Status: "ACTIVE", AgentConnected: true},
		{ARN: "arn-2", EC2InstanceID: "i-2", Status: "DRAINING", Job: "j-2", Stage: update.StageDraining},
	}
	if diff := cmp.Diff(want, cluster.Views(all)); diff != "" {
		t.Errorf("Views() (-want +got):\n%s", diff)
	}
}

func TestInstanceWaiting(t *testing.T) {
	since := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		attrs  map[string]string
		want   update.Waiting
		wantOK bool
	}{
		{name: "no wait recorded", attrs: map[string]string{update.AttrJob: "j-1"}},
		{name: "a recorded wait", attrs: map[string]string{update.AttrWaiting: "window since 2026-12-05T10:00:00Z"},
			want: update.Waiting{Reason: update.WaitWindow, Since: since}, wantOK: true},
		{name: "a value that does not parse, as written", attrs: map[string]string{update.AttrWaiting: "sideways"},
			want: update.Waiting{Reason: "sideways"}, wantOK: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := cluster.Instance{Attributes: tt.attrs}.Waiting()
			if diff := cmp.Diff(tt.want, got); diff != "" || ok != tt.wantOK {
				t.Errorf("Waiting() = _, %t, want %t; (-want +got):\n%s", ok, tt.wantOK, diff)
			}
		})
	}
}

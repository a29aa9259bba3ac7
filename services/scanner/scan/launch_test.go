package scan

import (
	"context"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rollwave/rollwave/shared/launchtemplate"
	"github.com/rollwave/rollwave/shared/metrics"
	"github.com/rollwave/rollwave/shared/metrics/metricstest"
	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/queue"
)

// templates records the requests to follow and answers each with one finding of outcome.
type templates struct {
	mu       sync.Mutex
	requests []launchtemplate.Request
	outcome  launchtemplate.Outcome
}

func (f *templates) Follow(_ context.Context, req launchtemplate.Request) ([]launchtemplate.Finding, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, req)
	return []launchtemplate.Finding{{Cluster: req.Cluster, AutoScalingGroup: "asg", Version: req.Version, Outcome: f.outcome}}, nil
}

// driftEvents records the "Launch Template Drift" events.
type driftEvents struct {
	mu     sync.Mutex
	events []launchtemplate.Finding
}

func (p *driftEvents) Publish(_ context.Context, detailType string, detail any, _ ...string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if f, ok := detail.(launchtemplate.Finding); ok && detailType == notify.LaunchTemplateDrift {
		p.events = append(p.events, f)
	}
	return nil
}

func TestScanFollowsACompletedRolloutIntoTheLaunchTemplates(t *testing.T) {
	current := func(id string) host { return host{id: id, state: "Idle", active: "1.20.3"} }
	tests := []struct {
		name   string
		hosts  []host
		mode   launchtemplate.Mode
		dryRun bool
		want   []launchtemplate.Request // nil: the templates are not looked at
	}{
		{
			name: "every host current", hosts: []host{current("i-1"), current("i-2")}, mode: launchtemplate.ModeUpdate,
			want: []launchtemplate.Request{{Cluster: "prod", Version: "1.20.3", Mode: launchtemplate.ModeUpdate, Hosts: []launchtemplate.Host{
				{EC2InstanceID: "i-1", Variant: "aws-ecs-2"}, {EC2InstanceID: "i-2", Variant: "aws-ecs-2"}}}},
		},
		{
			name: "a dry run scanner", hosts: []host{current("i-1")}, mode: launchtemplate.ModeUpdate, dryRun: true,
			want: []launchtemplate.Request{{Cluster: "prod", Version: "1.20.3", Mode: launchtemplate.ModeUpdate, DryRun: true,
				Hosts: []launchtemplate.Host{{EC2InstanceID: "i-1", Variant: "aws-ecs-2"}}}},
		},
		{name: "off", hosts: []host{current("i-1")}, mode: launchtemplate.ModeOff},
		{name: "a host has an update: jobs, not templates", hosts: []host{current("i-1"), {id: "i-2", state: "Available", active: "1.19.5", chosen: "1.20.3", available: []string{"1.20.3"}}}, mode: launchtemplate.ModeReport},
		{name: "a host still has its job", hosts: []host{current("i-1"), {id: "i-2", state: "Idle", active: "1.20.3", jobAttr: "job-1"}}, mode: launchtemplate.ModeReport},
		{name: "a host's check failed", hosts: []host{current("i-1"), {id: "i-2", checkFails: true}}, mode: launchtemplate.ModeReport},
		{name: "hosts on two versions with nothing to do", hosts: []host{current("i-1"), {id: "i-2", state: "Idle", active: "1.19.5"}}, mode: launchtemplate.ModeReport},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, ecs, _, _ := newScanner(t, tt.hosts...)
			tmpl := &templates{outcome: launchtemplate.Updated}
			events, rec := &driftEvents{}, &metricstest.Recorder{}
			s.launch = &launchFollower{mode: tt.mode, templates: tmpl, instances: ecs, events: events, metrics: rec}
			s.dryRun = tt.dryRun
			if out := s.handle(t.Context(), queue.Message{ID: "m1", Body: []byte(`{"schema":"rollwave.scan/v1"}`)}); out != queue.Done() {
				t.Fatalf("handle = %+v, want done", out)
			}
			if diff := cmp.Diff(tt.want, tmpl.requests); diff != "" {
				t.Fatalf("launch templates followed with (-want +got):\n%s", diff)
			}
			if tt.want == nil {
				return
			}
			if len(events.events) != 1 || events.events[0].Outcome != launchtemplate.Updated {
				t.Errorf("Launch Template Drift events = %+v, want the one finding", events.events)
			}
			if got := rec.Sum(metrics.LaunchTemplatesDrifted, map[string]string{metrics.Cluster: "prod", metrics.Outcome: "updated"}); got != 1 {
				t.Errorf("LaunchTemplatesDrifted{prod, updated} = %v, want 1", got)
			}
		})
	}
}

func TestScanPublishesNothingForACurrentTemplate(t *testing.T) {
	s, ecs, _, _ := newScanner(t, host{id: "i-1", state: "Idle", active: "1.20.3"})
	events, rec := &driftEvents{}, &metricstest.Recorder{}
	s.launch = &launchFollower{mode: launchtemplate.ModeUpdate, templates: &templates{outcome: launchtemplate.Current}, instances: ecs, events: events, metrics: rec}
	s.handle(t.Context(), queue.Message{ID: "m1", Body: []byte(`{"schema":"rollwave.scan/v1"}`)})
	if len(events.events) != 0 || len(rec.Data()) != 0 {
		t.Errorf("a current template gave events %+v and metrics %+v, want none", events.events, rec.Data())
	}
}

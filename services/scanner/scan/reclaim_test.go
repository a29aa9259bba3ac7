package scan

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/update"
)

// published records the pipeline events the scanner publishes.
type published struct {
	mu     sync.Mutex
	events []notify.ReclaimedDetail
}

func (p *published) Publish(_ context.Context, detailType string, detail any, _ ...string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if d, ok := detail.(notify.ReclaimedDetail); ok && detailType == notify.InstanceReclaimed {
		p.events = append(p.events, d)
	}
	return nil
}

// The scanner's clock in newScanner is 2026-11-25 12:00 UTC, its lease 1h (grace 30m).
const (
	longExpired = "2026-11-25T11:00:00Z" // an hour ago: past the grace
	justExpired = "2026-11-25T11:45:00Z" // within the grace: maybe a slow worker
	live        = "2026-11-25T12:40:00Z"
)

func TestScanReclaimsOrphanedInstances(t *testing.T) {
	tests := []struct {
		name          string
		status        string
		marks         map[string]string
		dryRun        bool
		wantStatus    string
		wantMarks     map[string]string
		wantEvent     *notify.ReclaimedDetail // without ARN, message and times
		wantCancelled bool                    // apiclient update cancel sent
		wantJob       bool                    // the same scan sent a fresh job
	}{
		{name: "drained by rollwave, lease long expired: ACTIVE again, update cancelled, unmarked, a fresh job",
			status: "DRAINING", marks: map[string]string{update.AttrJob: "j-lost", update.AttrStage: "draining", update.AttrLease: longExpired},
			wantStatus: "ACTIVE", wantMarks: map[string]string{}, wantCancelled: true, wantJob: true,
			wantEvent: &notify.ReclaimedDetail{Cluster: "prod", EC2InstanceID: "i-00000001", JobID: "j-lost", Stage: "draining", Reactivated: true, UpdateCancelled: true}},
		{name: "staged and waiting when its job was lost: update cancelled, unmarked, a fresh job",
			status: "ACTIVE", marks: map[string]string{update.AttrJob: "j-lost", update.AttrStage: "staged", update.AttrLease: longExpired},
			wantStatus: "ACTIVE", wantMarks: map[string]string{}, wantCancelled: true, wantJob: true,
			wantEvent: &notify.ReclaimedDetail{Cluster: "prod", EC2InstanceID: "i-00000001", JobID: "j-lost", Stage: "staged", UpdateCancelled: true}},
		{name: "claimed (admitting) but DRAINING: a person drained it, it stays DRAINING",
			status: "DRAINING", marks: map[string]string{update.AttrJob: "j-lost", update.AttrStage: "admitting", update.AttrLease: longExpired},
			wantStatus: "DRAINING", wantMarks: map[string]string{}, wantCancelled: true,
			wantEvent: &notify.ReclaimedDetail{Cluster: "prod", EC2InstanceID: "i-00000001", JobID: "j-lost", Stage: "admitting", UpdateCancelled: true}},
		{name: "parked failed: left for a person",
			status: "DRAINING", marks: map[string]string{update.AttrJob: "j-old", update.AttrStage: "failed", "rollwave.failure": "never-came-back"},
			wantStatus: "DRAINING", wantMarks: map[string]string{update.AttrJob: "j-old", update.AttrStage: "failed", "rollwave.failure": "never-came-back"}},
		{name: "lease expired within the grace: a slow worker keeps it",
			status: "DRAINING", marks: map[string]string{update.AttrJob: "j-slow", update.AttrStage: "draining", update.AttrLease: justExpired},
			wantStatus: "DRAINING", wantMarks: map[string]string{update.AttrJob: "j-slow", update.AttrStage: "draining", update.AttrLease: justExpired}},
		{name: "a live lease: kept",
			status: "ACTIVE", marks: map[string]string{update.AttrJob: "j-live", update.AttrStage: "staged", update.AttrLease: live},
			wantStatus: "ACTIVE", wantMarks: map[string]string{update.AttrJob: "j-live", update.AttrStage: "staged", update.AttrLease: live}},
		{name: "marked without a lease by an older version: adopted with a lease from now",
			status: "DRAINING", marks: map[string]string{update.AttrJob: "j-old", update.AttrStage: "draining"},
			wantStatus: "DRAINING", wantMarks: map[string]string{update.AttrJob: "j-old", update.AttrStage: "draining", update.AttrLease: "2026-11-25T13:00:00Z"}},
		{name: "opted out by a person: rollwave keeps away, even from its own marks",
			status: "DRAINING", marks: map[string]string{update.AttrJob: "j-lost", update.AttrStage: "draining", update.AttrLease: longExpired, update.AttrOptOut: "ops"},
			wantStatus: "DRAINING", wantMarks: map[string]string{update.AttrJob: "j-lost", update.AttrStage: "draining", update.AttrLease: longExpired, update.AttrOptOut: "ops"}},
		{name: "a dry run changes nothing",
			status: "DRAINING", dryRun: true, marks: map[string]string{update.AttrJob: "j-lost", update.AttrStage: "draining", update.AttrLease: longExpired},
			wantStatus: "DRAINING", wantMarks: map[string]string{update.AttrJob: "j-lost", update.AttrStage: "draining", update.AttrLease: longExpired}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, ecs, ssm, sent := newScanner(t, host{id: "i-00000001", state: "Ready", active: "1.19.5", chosen: "1.20.3"})
			s.dryRun = tt.dryRun
			in, err := ecs.Instance(t.Context(), "prod", "i-00000001")
			if err != nil {
				t.Fatal(err)
			}
			in.Status = tt.status
			for k, v := range tt.marks {
				in.Attributes[k] = v
			}
			ecs.SetInstance(in)

			ctx := queue.WithLogger(t.Context(), zerolog.New(zerolog.NewTestWriter(t)))
			if out := s.handle(ctx, queue.Message{ID: "scan-1", Body: []byte(`{"schema":"rollwave.scan/v1"}`)}); out.String() != "done" {
				t.Fatalf("handle() = %s, want done", out)
			}

			after, err := ecs.Instance(t.Context(), "prod", "i-00000001")
			if err != nil {
				t.Fatal(err)
			}
			gotMarks := map[string]string{}
			for k, v := range after.Attributes {
				if strings.HasPrefix(k, "rollwave.") {
					gotMarks[k] = v
				}
			}
			if diff := cmp.Diff(tt.wantMarks, gotMarks); diff != "" {
				t.Errorf("marks after the scan (-want +got):\n%s", diff)
			}
			if after.Status != tt.wantStatus {
				t.Errorf("status after the scan = %s, want %s", after.Status, tt.wantStatus)
			}
			cancelled := false
			for _, c := range ssm.Commands() {
				cancelled = cancelled || c.Document == cancelDoc
			}
			if cancelled != tt.wantCancelled {
				t.Errorf("update cancel sent = %t, want %t", cancelled, tt.wantCancelled)
			}
			var want []notify.ReclaimedDetail
			if tt.wantEvent != nil {
				e := *tt.wantEvent
				e.ContainerInstanceARN = in.ARN
				e.LeaseExpiredAt = time.Date(2026, 11, 25, 11, 0, 0, 0, time.UTC)
				e.At = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
				want = append(want, e)
			}
			got := s.reclaim.events.(*published).events
			for i := range got {
				if !strings.Contains(got[i].Message, "expired at 2026-11-25T11:00:00Z") {
					t.Errorf("event message %q does not say when the lease expired", got[i].Message)
				}
				got[i].Message = ""
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Instance Reclaimed events (-want +got):\n%s", diff)
			}
			if gotJob := len(sent.jobs) == 1 && sent.jobs[0].Instance == "i-00000001"; gotJob != tt.wantJob {
				t.Errorf("fresh job sent = %t (%v), want %t", gotJob, targets(sent.jobs), tt.wantJob)
			}
		})
	}
}

// A reclaim that cannot re-activate the instance keeps its marks, so that the next scan tries
// again rather than leave it DRAINING and unmarked.
func TestAReclaimThatCannotReactivateKeepsTheMarks(t *testing.T) {
	s, ecs, _, sent := newScanner(t, host{id: "i-00000001", state: "Ready", active: "1.19.5", chosen: "1.20.3"})
	in, err := ecs.Instance(t.Context(), "prod", "i-00000001")
	if err != nil {
		t.Fatal(err)
	}
	in.Status = cluster.StatusDraining
	in.Attributes[update.AttrJob], in.Attributes[update.AttrStage], in.Attributes[update.AttrLease] = "j-lost", "rebooting", longExpired
	ecs.SetInstance(in)
	ecs.FailNext("SetState", cluster.ErrTransient)
	ctx := queue.WithLogger(t.Context(), zerolog.New(zerolog.NewTestWriter(t)))
	if out := s.handle(ctx, queue.Message{ID: "scan-1", Body: []byte(`{"schema":"rollwave.scan/v1"}`)}); out.String() != "done" {
		t.Fatalf("handle() = %s, want done", out)
	}
	after, _ := ecs.Instance(t.Context(), "prod", "i-00000001")
	if after.Attributes[update.AttrJob] != "j-lost" || after.Status != cluster.StatusDraining {
		t.Errorf("after a failed re-activation: %s %v, want DRAINING and still marked", after.Status, after.Attributes)
	}
	if len(sent.jobs) != 0 || len(s.reclaim.events.(*published).events) != 0 {
		t.Errorf("jobs %v, events %v; want none", targets(sent.jobs), s.reclaim.events.(*published).events)
	}
}

package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rollwave/rollwave/shared/cluster/clustertest"
	"github.com/rollwave/rollwave/shared/managed"
	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/update"
)

// jobBody encodes a valid job at step stage for prod/i-00000001, then applies edit to its JSON.
func jobBody(t *testing.T, edit func(map[string]any)) []byte {
	t.Helper()
	j := update.Job{Schema: update.Schema, ID: "job-1", Cluster: "prod", Instance: "i-00000001",
		TargetVersion: "1.20.3", RequestedBy: "alice", Reason: "test", Step: update.StepStage}
	if err := j.Advance(update.StepStage, "patcher", "accepted", time.Unix(0, 0).UTC()); err != nil {
		t.Fatal(err)
	}
	b, err := update.Encode(j)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	if b, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	return b
}

// prodOnly is a deployment that manages the cluster prod of the account 123456789012.
var prodOnly = managed.New(managed.Config{Clusters: []string{"prod"}}, clusterFinder())

func clusterFinder() *clustertest.Fake {
	f := clustertest.NewFake()
	f.AddCluster("prod", nil)
	f.AddCluster("elsewhere", nil)
	return f
}

type failingBoundary struct{}

func (failingBoundary) Manages(context.Context, string) (bool, error) {
	return false, errors.New("throttled")
}

func TestReceiveJob(t *testing.T) {
	keep := func(map[string]any) {}
	tests := []struct {
		name       string
		body       []byte
		dryRun     bool
		wantOK     bool
		wantID     string
		wantDryRun bool
		wantOut    string // the outcome's String when not ok
		boundary   Boundary
	}{
		{name: "a job keeps its ID", body: jobBody(t, keep), wantOK: true, wantID: "job-1"},
		{name: "a job without ID takes the message's", body: jobBody(t, func(m map[string]any) { delete(m, "id") }), wantOK: true, wantID: "msg-1"},
		{name: "ROLLWAVE_DRY_RUN makes it a dry run", body: jobBody(t, keep), dryRun: true, wantOK: true, wantID: "job-1", wantDryRun: true},
		{name: "a dry run stays one", body: jobBody(t, func(m map[string]any) { m["dryRun"] = true }), wantOK: true, wantID: "job-1", wantDryRun: true},
		{name: "not a job is poison", body: []byte("{"), wantOut: "poison: "},
		{name: "a job for a cluster the deployment does not manage is poison", body: jobBody(t, func(m map[string]any) { m["cluster"] = "elsewhere" }),
			wantOut: "poison: cluster-not-managed: "},
		{name: "a job naming a managed cluster by ARN is taken", body: jobBody(t, func(m map[string]any) { m["cluster"] = "arn:aws:ecs:us-east-1:123456789012:cluster/prod" }),
			wantOK: true, wantID: "job-1"},
		{name: "a boundary that cannot be resolved is retried, not an answer", body: jobBody(t, keep), boundary: failingBoundary{},
			wantOut: "retry: resolve the managed clusters: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var locks Locks
			boundary := tt.boundary
			if boundary == nil {
				boundary = prodOnly
			}
			job, unlock, out, ok := Receive(t.Context(), &locks, boundary, queue.Message{ID: "msg-1", Body: tt.body}, tt.dryRun)
			if ok != tt.wantOK {
				t.Fatalf("Receive() ok = %t (%v), want %t", ok, out, tt.wantOK)
			}
			if !ok {
				if !strings.HasPrefix(out.String(), tt.wantOut) || unlock != nil {
					t.Errorf("Receive() = %v, unlock %t; want %q..., no unlock", out, unlock != nil, tt.wantOut)
				}
				return
			}
			defer unlock()
			if diff := cmp.Diff([]any{tt.wantID, tt.wantDryRun}, []any{job.ID, job.DryRun}); diff != "" {
				t.Errorf("Receive() job ID, DryRun (-want +got):\n%s", diff)
			}
			// The instance's lock is held until unlock.
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			if _, err := locks.Lock(ctx, InstanceKey("prod", "i-00000001")); err == nil {
				t.Error("Receive() returned without holding the instance's lock")
			}
		})
	}
}

func TestReceiveJobRetriesWhenCancelledWaitingForTheLock(t *testing.T) {
	var locks Locks
	unlock, err := locks.Lock(t.Context(), InstanceKey("prod", "i-00000001"))
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, got, out, ok := Receive(ctx, &locks, prodOnly, queue.Message{ID: "msg-1", Body: jobBody(t, func(map[string]any) {})}, false)
	if ok || got != nil || out.String() != "retry: "+context.Canceled.Error() {
		t.Errorf("Receive(cancelled, lock held) = %v, ok %t, want retry: context canceled, not ok", out, ok)
	}
}

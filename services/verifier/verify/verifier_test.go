package verify

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/cluster/clustertest"
	"github.com/rollwave/rollwave/shared/jobs"
	"github.com/rollwave/rollwave/shared/managed"
	"github.com/rollwave/rollwave/shared/notify"
	rollout "github.com/rollwave/rollwave/shared/policy"
	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/ssmcommand/ssmcommandtest"
	"github.com/rollwave/rollwave/shared/ssmdoc"
	"github.com/rollwave/rollwave/shared/update"
	"github.com/rollwave/rollwave/shared/wake"
)

const (
	testCluster = "prod"
	jobID       = "job-1"
	checkDoc    = "rollwave-update-check"
	lockDoc     = "rollwave-version-lock"
	oldVersion  = "1.19.5"
	newVersion  = "1.20.3"
)

// events records the pipeline events published.
type events struct {
	mu   sync.Mutex
	sent []string // "detail-type: reason"
}

func (e *events) Publish(_ context.Context, detailType string, detail any, _ ...string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.sent = append(e.sent, detailType+": "+detail.(notify.JobDetail).Reason)
	return nil
}

func (e *events) all() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.sent...)
}

// host is the simulated Bottlerocket host behind the SSM fake's check document.
type host struct {
	mu      sync.Mutex
	version string
	state   string
	failing bool // the check command fails (the host is shutting down)
}

func (h *host) set(version, state string, failing bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.version, h.state, h.failing = version, state, failing
}

func (h *host) answer(doc, _ string) ssmcommandtest.Response {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.failing {
		return ssmcommandtest.Response{ExitCode: 1, Stderr: "connection reset"}
	}
	return ssmcommandtest.Response{Stdout: fmt.Sprintf(`{"update_state":%q,"active_partition":{"image":{"version":%q}}}`, h.state, h.version)}
}

// world is a verifier over in-memory fakes, with one instance that job-1 drained and rebooted:
// DRAINING, rollwave.stage=rebooting, its host still up on the old version with the update Ready
// (the reboot command was sent, the host has not gone down yet).
type world struct {
	ecs    *clustertest.Fake
	ssm    *ssmcommandtest.Fake
	host   *host
	events *events
	v      *verifier
	me     cluster.Instance
}

func newWorld(t *testing.T, on update.VerifyFailurePolicy) *world {
	t.Helper()
	w := &world{ecs: clustertest.NewFake(), ssm: ssmcommandtest.NewFake(), host: &host{version: oldVersion, state: "Ready"}, events: &events{}}
	w.me = w.ecs.AddInstance(testCluster, cluster.Instance{AgentConnected: true, Status: cluster.StatusDraining, Attributes: map[string]string{
		"bottlerocket.variant": "aws-ecs-2", update.AttrJob: jobID, update.AttrStage: string(update.StageRebooting),
		update.AttrLease: update.LeaseValue(time.Now(), time.Hour), // as the patcher renewed it
	}})
	w.ssm.AddInstance(w.me.EC2InstanceID, true)
	w.ssm.Handler = w.host.answer
	w.v = &verifier{
		boundary: managed.New(managed.Config{Clusters: []string{testCluster}}, w.ecs),
		ecs:      w.ecs, ssm: w.ssm, marks: w.ecs, state: w.ecs,
		lease:   &jobs.Leaser{Marks: w.ecs, Duration: time.Hour, Now: time.Now},
		ender:   &jobs.Ender{Marks: w.ecs, Events: w.events, By: by, Now: time.Now},
		wakeups: wake.NewRegistry(), now: time.Now,
		policy:   policy{RebootTimeout: 15 * time.Minute, Recheck: 30 * time.Second, CheckDoc: checkDoc, LockDoc: lockDoc},
		policies: rollout.Set{Default: rollout.Policy{OnVerifyFailure: on}},
	}
	return w
}

// job is job-1 at step verify, entered now.
func (w *world) job(t *testing.T) []byte {
	t.Helper()
	j := update.Job{Schema: update.Schema, ID: jobID, Cluster: testCluster, Instance: w.me.EC2InstanceID,
		TargetVersion: newVersion, RequestedBy: "alice", Reason: "test",
		ContainerInstanceARN: w.me.ARN, EC2InstanceID: w.me.EC2InstanceID, FromVersion: oldVersion, StagedVersion: newVersion}
	for _, s := range []update.Step{update.StepStage, update.StepDrain, update.StepReboot, update.StepVerify} {
		if err := j.Advance(s, "test", "", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	b, err := update.Encode(j)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (w *world) handle(t *testing.T, body []byte) queue.Outcome {
	ctx := queue.WithLogger(t.Context(), zerolog.New(zerolog.NewTestWriter(t)))
	return w.v.handle(ctx, queue.Message{ID: "m-1", Body: body, ReceiveCount: 1})
}

func (w *world) start(t *testing.T, body []byte) func() queue.Outcome {
	ch := make(chan queue.Outcome, 1)
	go func() { ch <- w.handle(t, body) }()
	return func() queue.Outcome { return <-ch }
}

// goDown takes the host down as its reboot does: agent disconnected, SSM offline.
func (w *world) goDown() {
	in := w.instance()
	in.AgentConnected = false
	w.ecs.SetInstance(in)
	w.ssm.AddInstance(w.me.EC2InstanceID, false)
	w.host.set(oldVersion, "Ready", true)
	w.v.wakeups.Wake(w.me.ARN)
}

// comeBack boots the host on version with update state state: agent connected, SSM online.
func (w *world) comeBack(version, state string) {
	w.host.set(version, state, false)
	w.ssm.AddInstance(w.me.EC2InstanceID, true)
	in := w.instance()
	in.AgentConnected = true
	w.ecs.SetInstance(in)
	w.v.wakeups.Wake(w.me.ARN)
}

func (w *world) instance() cluster.Instance {
	in, err := w.ecs.Instance(context.Background(), testCluster, w.me.ARN)
	if err != nil {
		panic(err)
	}
	return in
}

func marks(in cluster.Instance) map[string]string {
	out := map[string]string{}
	for k, v := range in.Attributes {
		if strings.HasPrefix(k, "rollwave.") {
			out[k] = v
		}
	}
	return out
}

func TestVerify(t *testing.T) {
	failed := func(code update.Code) map[string]string {
		return map[string]string{update.AttrJob: jobID, update.AttrStage: string(update.StageFailed), update.AttrFailure: string(code)}
	}
	tests := []struct {
		name       string
		on         update.VerifyFailurePolicy
		version    string // "" = never comes back
		state      string
		wantStatus string
		wantMarks  map[string]string
		wantEvents []string
		wantLock   string // the version the host was pinned to, "" for none
	}{
		{
			name: "updated", on: update.ParkFailed, version: newVersion, state: "Idle",
			// verified-at (synctest's clock) awaits the health gate of the next drain
			wantStatus: cluster.StatusActive, wantMarks: map[string]string{update.AttrVerifiedAt: "2000-01-01T00:02:10Z", update.AttrRollbackTo: oldVersion, update.AttrUpdatedBy: jobID},
			wantEvents: []string{notify.InstanceUpdateSucceeded + ": updated"},
		},
		{
			name: "rolled back, parked", on: update.ParkFailed, version: oldVersion, state: "Available",
			wantStatus: cluster.StatusDraining, wantMarks: failed(update.CodeBootFailedRolledBack),
			wantEvents: []string{notify.InstanceUpdateFailed + ": boot-failed-rolled-back"},
		},
		{
			name: "rolled back, returned to service pinned to its version and still marked failed", on: update.ReturnFailed, version: oldVersion, state: "Available",
			wantStatus: cluster.StatusActive, wantMarks: failed(update.CodeBootFailedRolledBack),
			wantEvents: []string{notify.InstanceUpdateFailed + ": boot-failed-rolled-back"}, wantLock: oldVersion,
		},
		{
			name: "unexpected version, parked", on: update.ParkFailed, version: "1.20.2", state: "Idle",
			wantStatus: cluster.StatusDraining, wantMarks: failed(update.CodeUnexpectedVersion),
			wantEvents: []string{notify.InstanceUpdateFailed + ": unexpected-version"},
		},
		{
			name: "unexpected version, parked even where failures return", on: update.ReturnFailed, version: "1.20.2", state: "Idle",
			wantStatus: cluster.StatusDraining, wantMarks: failed(update.CodeUnexpectedVersion),
			wantEvents: []string{notify.InstanceUpdateFailed + ": unexpected-version"},
		},
		{
			name: "never came back, parked", on: update.ParkFailed,
			wantStatus: cluster.StatusDraining, wantMarks: failed(update.CodeNeverCameBack),
			wantEvents: []string{notify.InstanceUpdateFailed + ": never-came-back"},
		},
		{
			name: "never came back, parked even where failures return", on: update.ReturnFailed,
			wantStatus: cluster.StatusDraining, wantMarks: failed(update.CodeNeverCameBack),
			wantEvents: []string{notify.InstanceUpdateFailed + ": never-came-back"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWorld(t, tt.on)
				start := time.Now()
				wait := w.start(t, w.job(t))
				synctest.Wait() // first look: old version, update Ready: not rebooted yet
				if got := w.instance().Attributes[update.AttrStage]; got != string(update.StageVerifying) {
					t.Errorf("stage while waiting = %q, want verifying", got)
				}
				if got := w.events.all(); len(got) != 0 {
					t.Fatalf("events before the reboot = %v, want none", got)
				}
				time.Sleep(10 * time.Second) // fake time: the host takes a while to go down
				w.goDown()
				synctest.Wait()
				time.Sleep(2 * time.Minute) // and to boot
				if tt.version != "" {
					w.comeBack(tt.version, tt.state)
				}
				if got := wait(); got.String() != "done" {
					t.Fatalf("handle = %s, want done", got)
				}
				if took := time.Since(start); tt.version == "" && (took < 15*time.Minute || took > 16*time.Minute) {
					t.Errorf("gave up after %s, want the 15m reboot timeout", took)
				}
				in := w.instance()
				if in.Status != tt.wantStatus {
					t.Errorf("status = %s, want %s", in.Status, tt.wantStatus)
				}
				if diff := cmp.Diff(tt.wantMarks, marks(in)); diff != "" {
					t.Errorf("marks (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(tt.wantEvents, w.events.all()); diff != "" {
					t.Errorf("events (-want +got):\n%s", diff)
				}
				if got := pinnedTo(w); got != tt.wantLock {
					t.Errorf("pinned to %q, want %q", got, tt.wantLock)
				}
			})
		})
	}
}

// pinnedTo returns the version the verifier locked the host to, "" when it sent no lock.
func pinnedTo(w *world) string {
	pinned := ""
	for _, c := range w.ssm.Calls() {
		if c.Op == "Run" && len(c.Args) > 0 && c.Args[0] == lockDoc {
			pinned = strings.TrimPrefix(c.Args[len(c.Args)-1], ssmdoc.LockParam+"=")
		}
	}
	return pinned
}

// TestReturnToServiceParksWhenItCannot: a rolled-back host whose lock fails, or that ECS refuses
// to set ACTIVE, stays parked (DRAINING, marked failed) under the return policy: serving again
// unpinned would invite the failed version back.
func TestReturnToServiceParksWhenItCannot(t *testing.T) {
	tests := []struct {
		name     string
		setup    func(w *world)
		wantLock string
	}{
		{"the lock fails", func(w *world) {
			w.ssm.Respond(w.me.EC2InstanceID, lockDoc, ssmcommandtest.Response{ExitCode: 1, Stderr: "apiclient: 423 Locked"})
		}, oldVersion},
		{"ECS refuses ACTIVE", func(w *world) { w.v.state = refuseActive{} }, oldVersion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWorld(t, update.ReturnFailed)
				tt.setup(w)
				w.host.set(oldVersion, "Available", false) // booted the old version again
				if got := w.handle(t, w.job(t)); got.String() != "done" {
					t.Fatalf("handle = %s, want done", got)
				}
				in := w.instance()
				if in.Status != cluster.StatusDraining {
					t.Errorf("status = %s, want DRAINING: parked", in.Status)
				}
				want := map[string]string{update.AttrJob: jobID, update.AttrStage: string(update.StageFailed), update.AttrFailure: string(update.CodeBootFailedRolledBack)}
				if diff := cmp.Diff(want, marks(in)); diff != "" {
					t.Errorf("marks (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff([]string{notify.InstanceUpdateFailed + ": boot-failed-rolled-back"}, w.events.all()); diff != "" {
					t.Errorf("events (-want +got):\n%s", diff)
				}
				if got := pinnedTo(w); got != tt.wantLock {
					t.Errorf("pinned to %q, want %q", got, tt.wantLock)
				}
			})
		})
	}
}

func TestCheckFailingWhileBootingIsNotYet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, update.ParkFailed)
		w.host.set(oldVersion, "Ready", true) // agent and SSM still report up, the command fails
		wait := w.start(t, w.job(t))
		synctest.Wait()
		time.Sleep(time.Minute)
		w.comeBack(newVersion, "Idle")
		if got := wait(); got.String() != "done" {
			t.Fatalf("handle = %s, want done", got)
		}
		if diff := cmp.Diff([]string{notify.InstanceUpdateSucceeded + ": updated"}, w.events.all()); diff != "" {
			t.Errorf("events (-want +got):\n%s", diff)
		}
	})
}

func TestRedelivery(t *testing.T) {
	tests := []struct {
		name       string
		stage      update.Stage
		job        string
		wantEvents []string
		wantStatus string
	}{
		{name: "already verifying: resumes", stage: update.StageVerifying, job: jobID,
			wantEvents: []string{notify.InstanceUpdateSucceeded + ": updated"}, wantStatus: cluster.StatusActive},
		{name: "ended before (unmarked): nothing again", stage: update.StageNone, job: "",
			wantStatus: cluster.StatusActive},
		{name: "ended before (failed): nothing again", stage: update.StageFailed, job: jobID,
			wantStatus: cluster.StatusDraining},
		{name: "another job owns the instance: duplicate", stage: update.StageRebooting, job: "job-0",
			wantEvents: []string{notify.InstanceUpdateSkipped + ": job-in-flight"}, wantStatus: cluster.StatusDraining},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWorld(t, update.ParkFailed)
				in := w.instance()
				in.Attributes = map[string]string{}
				if tt.job != "" {
					in.Attributes[update.AttrJob] = tt.job
					in.Attributes[update.AttrStage] = string(tt.stage)
				}
				if tt.wantStatus == cluster.StatusActive && tt.stage == update.StageNone {
					in.Status = cluster.StatusActive
				}
				w.ecs.SetInstance(in)
				w.host.set(newVersion, "Idle", false)
				if got := w.handle(t, w.job(t)); got.String() != "done" {
					t.Fatalf("handle = %s, want done", got)
				}
				if diff := cmp.Diff(tt.wantEvents, w.events.all()); diff != "" {
					t.Errorf("events (-want +got):\n%s", diff)
				}
				if got := w.instance().Status; got != tt.wantStatus {
					t.Errorf("status = %s, want %s", got, tt.wantStatus)
				}
			})
		})
	}
}

func TestReactivateRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, update.ParkFailed)
		w.v.state = refuseActive{}
		w.host.set(newVersion, "Idle", false)
		if got := w.handle(t, w.job(t)); got.String() != "done" {
			t.Fatalf("handle = %s, want done", got)
		}
		if diff := cmp.Diff([]string{notify.InstanceUpdateFailed + ": reactivate-failed"}, w.events.all()); diff != "" {
			t.Errorf("events (-want +got):\n%s", diff)
		}
		if got := w.instance().Attributes[update.AttrFailure]; got != string(update.CodeReactivateFailed) {
			t.Errorf("rollwave.failure = %q, want reactivate-failed", got)
		}
	})
}

// refuseActive is an ECS that refuses to set any instance ACTIVE, individually.
type refuseActive struct{}

func (refuseActive) SetState(_ context.Context, _ string, arns []string, _ string) (map[string]string, error) {
	out := map[string]string{}
	for _, a := range arns {
		out[a] = "container instance is DEREGISTERING"
	}
	return out, nil
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		setup      func(w *world)
		want       string
		wantEvents []string
	}{
		{name: "not JSON", body: "{", want: "poison: invalid job: not one JSON object"},
		{name: "newer schema", body: `{"schema":"rollwave.job/v2"}`, want: "poison: invalid job: schema: newer job schema"},
		{name: "wrong step",
			body: `{"schema":"rollwave.job/v1","cluster":"prod","instance":"i-0123456789abcdef0","requestedBy":"a","reason":"b","step":"drain"}`,
			want: `poison: job m-1 is at step "drain"`},
		{name: "transient ECS error: retried",
			setup: func(w *world) { w.ecs.FailNext("Instance", fmt.Errorf("describe: %w", cluster.ErrTransient)) },
			want:  "retry: describe: transient ecs error"},
		{name: "instance deregistered: skipped instance-gone",
			setup: func(w *world) {
				w.ecs.FailNext("Instance", fmt.Errorf("describe: %w", cluster.ErrInstanceNotFound))
			},
			want: "done", wantEvents: []string{notify.InstanceUpdateSkipped + ": instance-gone"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWorld(t, update.ParkFailed)
				if tt.setup != nil {
					tt.setup(w)
				}
				body := w.job(t)
				if tt.body != "" {
					body = []byte(tt.body)
				}
				if got := w.handle(t, body); !strings.HasPrefix(got.String(), tt.want) {
					t.Errorf("handle = %s, want %s...", got, tt.want)
				}
				if diff := cmp.Diff(tt.wantEvents, w.events.all()); diff != "" {
					t.Errorf("events (-want +got):\n%s", diff)
				}
			})
		})
	}
}

func TestNoUpdateCheckBeforeTheHostWentDown(t *testing.T) {
	checks := func(w *world) int {
		n := 0
		for _, c := range w.ssm.Commands() {
			if c.Document == checkDoc {
				n++
			}
		}
		return n
	}
	t.Run("within the grace it waits for the host to go down", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			w := newWorld(t, update.ParkFailed)
			w.v.policy.DownGrace = time.Minute
			wait := w.start(t, w.job(t))
			time.Sleep(50 * time.Second) // fake time: rechecks every 30s, all inside the grace
			synctest.Wait()
			if n := checks(w); n != 0 {
				t.Fatalf("update checks before the host went down = %d, want 0: the host would shut down under them", n)
			}
			w.goDown()
			synctest.Wait()
			w.comeBack(newVersion, "Idle")
			if got := wait(); got.String() != "done" {
				t.Fatalf("handle = %s, want done", got)
			}
			if diff := cmp.Diff([]string{notify.InstanceUpdateSucceeded + ": updated"}, w.events.all()); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	})
	t.Run("past the grace it checks even if it never saw the host go down", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			w := newWorld(t, update.ParkFailed)
			w.v.policy.DownGrace = time.Minute
			w.host.set(newVersion, "Idle", false) // rebooted so fast that no look saw it down
			if got := w.handle(t, w.job(t)); got.String() != "done" {
				t.Fatalf("handle = %s, want done", got)
			}
			if n := checks(w); n == 0 {
				t.Fatal("no update check after the grace, want the version checked")
			}
			if diff := cmp.Diff([]string{notify.InstanceUpdateSucceeded + ": updated"}, w.events.all()); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	})
}

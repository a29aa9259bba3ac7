package drain

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/cluster/clustertest"
	"github.com/rollwave/rollwave/shared/jobs"
	"github.com/rollwave/rollwave/shared/managed"
	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/policy"
	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/queue/queuetest"
	"github.com/rollwave/rollwave/shared/ssmcommand"
	"github.com/rollwave/rollwave/shared/ssmcommand/ssmcommandtest"
	"github.com/rollwave/rollwave/shared/update"
	"github.com/rollwave/rollwave/shared/wake"
)

const (
	testCluster = "prod"
	jobID       = "job-1"
	checkDoc    = "rollwave-update-check"
	cancelDoc   = "rollwave-update-cancel"
	ready       = `{"update_state":"Ready","active_partition":{"image":{"version":"1.19.5"}}}`
)

// events records the pipeline events published.
// events records the events published: the progress of jobs ("decision reason") apart from the
// rest ("detail-type: reason"), which most tests check alone.
type events struct {
	mu       sync.Mutex
	sent     []string // "detail-type: reason"
	progress []string // "decision reason" of Instance Update Progressed
}

func (e *events) Publish(_ context.Context, detailType string, detail any, _ ...string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	d := detail.(notify.JobDetail)
	if detailType == notify.InstanceUpdateProgressed {
		e.progress = append(e.progress, strings.TrimSpace(d.Decision+" "+d.Reason))
		return nil
	}
	e.sent = append(e.sent, detailType+": "+d.Reason)
	return nil
}

// all is every event but the progress of jobs.
func (e *events) all() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.sent...)
}

// steps is the progress of jobs: "decision reason" of each Instance Update Progressed.
func (e *events) steps() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.progress...)
}

// world is a drainer over in-memory fakes: a cluster of three instances, the first ("me")
// staged by job-1 and running one service task.
type world struct {
	ecs        *clustertest.Fake
	ssm        *ssmcommandtest.Fake
	sqs        *queuetest.SQS
	events     *events
	d          *drainer
	me         cluster.Instance
	others     []cluster.Instance
	patcherURL string
	rebootURL  string
	raceClaim  bool // another drainer claims between our claim and our re-read
}

// testPolicy is a test's drainer settings: the default policy of every cluster and the timings.
type testPolicy struct {
	Limit          update.Limit
	DrainTimeout   time.Duration
	Recheck        time.Duration
	AdmissionRetry time.Duration
	// AdmissionBackstop is the look again of a job held until it is woken.
	AdmissionBackstop time.Duration
	Standalone        update.StandalonePolicy
	// WaitingThreshold is DefaultWaitingThreshold when zero.
	WaitingThreshold time.Duration
}

func newWorld(t *testing.T, p testPolicy) *world {
	t.Helper()
	w := &world{ecs: clustertest.NewFake(), ssm: ssmcommandtest.NewFake(), sqs: queuetest.NewSQS(), events: &events{}}
	w.me = w.ecs.AddInstance(testCluster, cluster.Instance{AgentConnected: true, Attributes: map[string]string{
		"bottlerocket.variant": "aws-ecs-2", update.AttrJob: jobID, update.AttrStage: string(update.StageStaged),
		update.AttrLease: update.LeaseValue(time.Now(), time.Hour), // as the patcher took it
	}})
	for range 2 {
		w.others = append(w.others, w.ecs.AddInstance(testCluster, cluster.Instance{AgentConnected: true,
			Attributes: map[string]string{"bottlerocket.variant": "aws-ecs-2"}}))
	}
	w.ecs.AddTask(testCluster, cluster.Task{InstanceARN: w.me.ARN, StartedBy: "ecs-svc/1", Group: "service:web"})
	w.ssm.AddInstance(w.me.EC2InstanceID, true)
	w.ssm.Respond(w.me.EC2InstanceID, checkDoc, ssmcommandtest.Response{Stdout: ready})
	out, err := w.sqs.CreateQueue(t.Context(), &sqs.CreateQueueInput{QueueName: aws.String("rollwave-patcher")})
	if err != nil {
		t.Fatal(err)
	}
	w.patcherURL = aws.ToString(out.QueueUrl)
	if out, err = w.sqs.CreateQueue(t.Context(), &sqs.CreateQueueInput{QueueName: aws.String("rollwave-reboot")}); err != nil {
		t.Fatal(err)
	}
	w.rebootURL = aws.ToString(out.QueueUrl)
	if p.Limit == (update.Limit{}) {
		p.Limit = update.DefaultLimit
	}
	if p.WaitingThreshold == 0 {
		p.WaitingThreshold = DefaultWaitingThreshold
	}
	ender := &jobs.Ender{Marks: w.ecs, Events: w.events, By: by, Now: time.Now}
	w.d = &drainer{
		managed: managed.New(managed.Config{Clusters: []string{testCluster}}, w.ecs),
		ecs:     w.ecs, marks: w.ecs, state: w.ecs, ender: ender,
		lease:   &jobs.Leaser{Marks: w.ecs, Duration: time.Hour, Now: time.Now},
		undo:    &jobs.Undoer{State: w.ecs, Commands: w.ssm, CheckDoc: checkDoc, CancelDoc: cancelDoc, Ender: ender},
		forward: queue.NewPublisher(w.sqs), patcherURL: w.patcherURL, rebootURL: w.rebootURL,
		wakeups: wake.NewRegistry(), now: time.Now, events: ender,
		policy:   timings{DrainTimeout: p.DrainTimeout, Recheck: p.Recheck, AdmissionRetry: p.AdmissionRetry, AdmissionBackstop: p.AdmissionBackstop, WaitingThreshold: p.WaitingThreshold},
		policies: policy.Set{Default: policy.Policy{MaxOutOfService: p.Limit, Standalone: p.Standalone, CheckCapacity: true, HealthGate: true}},
		jitter:   func(d time.Duration) time.Duration { return d / 10 },
	}
	return w
}

func defaultPolicy() testPolicy {
	return testPolicy{Limit: update.DefaultLimit, DrainTimeout: 25 * time.Minute, Recheck: 30 * time.Second,
		AdmissionRetry: 30 * time.Second, AdmissionBackstop: 5 * time.Minute, Standalone: update.StandaloneSkip}
}

// job is job-1 for w.me at step drain, entered now.
func (w *world) job(t *testing.T) []byte {
	t.Helper()
	j := update.Job{Schema: update.Schema, ID: jobID, Cluster: testCluster, Instance: w.me.EC2InstanceID,
		TargetVersion: "1.20.3", RequestedBy: "alice", Reason: "test", Step: update.StepStage,
		ContainerInstanceARN: w.me.ARN, EC2InstanceID: w.me.EC2InstanceID, FromVersion: "1.19.5", StagedVersion: "1.20.3"}
	now := time.Now()
	if err := j.Advance(update.StepStage, "patcher", "accepted", now); err != nil {
		t.Fatal(err)
	}
	if err := j.Advance(update.StepDrain, "patcher", "staged", now); err != nil {
		t.Fatal(err)
	}
	b, err := update.Encode(j)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// handle runs the handler on body with a logger that writes to t.
func (w *world) handle(t *testing.T, body []byte) queue.Outcome {
	ctx := queue.WithLogger(t.Context(), zerolog.New(zerolog.NewTestWriter(t)))
	return w.d.handle(ctx, queue.Message{ID: "m-1", Body: body, ReceiveCount: 1})
}

// start runs the handler in a goroutine and returns a function that waits for its outcome.
func (w *world) start(t *testing.T, body []byte) func() queue.Outcome {
	ch := make(chan queue.Outcome, 1)
	go func() { ch <- w.handle(t, body) }()
	return func() queue.Outcome { return <-ch }
}

func (w *world) instance(t *testing.T, arn string) cluster.Instance {
	t.Helper()
	in, err := w.ecs.Instance(t.Context(), testCluster, arn)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// forwarded returns the jobs sent to the patcher: a drained job at step reboot on the reboot
// queue, a rollback job at step stage on the patcher's intake; a job on the other queue fails
// the test.
func (w *world) forwarded(t *testing.T) []update.Job {
	t.Helper()
	var jobs []update.Job
	for _, q := range []struct {
		url  string
		want update.Step
	}{{w.rebootURL, update.StepReboot}, {w.patcherURL, update.StepStage}} {
		url, want := q.url, q.want
		for _, m := range w.sqs.Messages(url) {
			j, err := update.Decode([]byte(m.Body))
			if err != nil {
				t.Fatalf("forwarded job does not decode: %v", err)
			}
			if j.Step != want {
				t.Errorf("job %s at step %s sent to %s, want only step %s there", j.ID, j.Step, url, want)
			}
			jobs = append(jobs, j)
		}
	}
	return jobs
}

func (w *world) ssmDocs() []string {
	var docs []string
	for _, c := range w.ssm.Commands() {
		docs = append(docs, c.Document)
	}
	return docs
}

// marks returns the rollwave attributes of the instance.
func marks(in cluster.Instance) map[string]string {
	out := map[string]string{}
	for k, v := range in.Attributes {
		if strings.HasPrefix(k, "rollwave.") {
			out[k] = v
		}
	}
	return out
}

func TestDrainSucceedsWhenTasksMove(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, defaultPolicy())
		wait := w.start(t, w.job(t))
		synctest.Wait()
		in := w.instance(t, w.me.ARN)
		if in.Status != cluster.StatusDraining || in.Attributes[update.AttrStage] != string(update.StageDraining) {
			t.Fatalf("while waiting: status %s stage %q, want DRAINING and draining", in.Status, in.Attributes[update.AttrStage])
		}
		time.Sleep(5 * time.Minute) // fake time: the drain takes a while
		w.ecs.StopTasks(w.me.ARN)
		w.d.wakeups.Wake(w.me.ARN) // the ECS event
		if got := wait(); got.String() != "done" {
			t.Fatalf("handle = %s, want done", got)
		}
		jobs := w.forwarded(t)
		if len(jobs) != 1 || jobs[0].Step != update.StepReboot {
			t.Fatalf("forwarded %+v, want one job at step reboot", jobs)
		}
		last := jobs[0].History[len(jobs[0].History)-1]
		if last.By != by || !strings.Contains(last.Note, "drained") || !strings.Contains(last.Note, "1 of at most 1") {
			t.Errorf("last history entry = %+v, want the drainer's admission note", last)
		}
		if got := w.events.all(); len(got) != 0 {
			t.Errorf("events = %v, want none (the job goes on)", got)
		}
		if diff := cmp.Diff([]string{notify.DecisionAdmitted, notify.DecisionDrained}, w.events.steps()); diff != "" {
			t.Errorf("progress events (-want +got): the admission, then the drain done:\n%s", diff)
		}
	})
}

func TestDrainWokenOnlyByRecheck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, defaultPolicy())
		wait := w.start(t, w.job(t))
		synctest.Wait()
		w.ecs.StopTasks(w.me.ARN) // no event: the periodic re-check must find it
		if got := wait(); got.String() != "done" {
			t.Fatalf("handle = %s, want done", got)
		}
		if n := len(w.forwarded(t)); n != 1 {
			t.Fatalf("forwarded %d jobs, want 1", n)
		}
	})
}

func TestDrainTimeoutUndoes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, defaultPolicy())
		start := time.Now()
		got := w.handle(t, w.job(t)) // the task never moves
		if got.String() != "done" {
			t.Fatalf("handle = %s, want done", got)
		}
		if took := time.Since(start); took < 25*time.Minute || took > 26*time.Minute {
			t.Errorf("gave up after %s, want the 25m drain timeout", took)
		}
		in := w.instance(t, w.me.ARN)
		if in.Status != cluster.StatusActive {
			t.Errorf("status = %s, want ACTIVE again", in.Status)
		}
		if diff := cmp.Diff(map[string]string{}, marks(in)); diff != "" {
			t.Errorf("marks (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{checkDoc, cancelDoc}, w.ssmDocs()); diff != "" {
			t.Errorf("SSM documents (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{notify.InstanceUpdateFailed + ": drain-timeout"}, w.events.all()); diff != "" {
			t.Errorf("events (-want +got):\n%s", diff)
		}
		if n := len(w.forwarded(t)); n != 0 {
			t.Errorf("forwarded %d jobs, want none", n)
		}
	})
}

func TestRedeliveryWhileDrainingResumesTheWait(t *testing.T) {
	for _, status := range []string{cluster.StatusDraining, cluster.StatusActive} {
		t.Run("status "+status, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWorld(t, testPolicy{Limit: update.DefaultLimit, DrainTimeout: time.Hour, Recheck: time.Minute, AdmissionRetry: time.Minute})
				// Another instance is out of service: a fresh admission would back off, a resumed
				// drain must not even ask.
				other := w.others[0]
				other.Status = cluster.StatusDraining
				w.ecs.SetInstance(other)
				me := w.me
				me.Status = status // ACTIVE: the crash came between the mark and DRAINING
				me.Attributes[update.AttrStage] = string(update.StageDraining)
				w.ecs.SetInstance(me)
				wait := w.start(t, w.job(t))
				synctest.Wait()
				if got := w.instance(t, w.me.ARN).Status; got != cluster.StatusDraining {
					t.Fatalf("status while waiting = %s, want DRAINING", got)
				}
				w.ecs.StopTasks(w.me.ARN)
				w.d.wakeups.Wake(w.me.ARN)
				if got := wait(); got.String() != "done" {
					t.Fatalf("handle = %s, want done", got)
				}
				if n := len(w.forwarded(t)); n != 1 {
					t.Fatalf("forwarded %d jobs, want 1", n)
				}
				for _, c := range w.ecs.Calls() {
					if c.Op == "ListInstances" {
						t.Errorf("a resumed drain counted the cluster again: %+v", c)
					}
					// The patcher may have moved the stage on meanwhile: writing draining again
					// would set it back.
					if c.Op == "PutAttributes" {
						t.Errorf("a resumed drain wrote attributes again: %+v", c)
					}
				}
			})
		})
	}
}

func TestAdmission(t *testing.T) {
	tests := []struct {
		name       string
		limit      string
		setup      func(w *world)
		want       string // outcome
		wantStage  update.Stage
		wantStatus string
		wantEvents []string
	}{
		{
			name:       "another instance draining by rollwave: back off, claim withdrawn",
			limit:      "1",
			setup:      func(w *world) { w.mark(w.others[0], "job-2", update.StageDraining, cluster.StatusDraining) },
			want:       "retry after 5m30s: cluster prod: 2 of at most 1 instances out of service with this claim",
			wantStage:  update.StageStaged,
			wantStatus: cluster.StatusActive,
		},
		{
			name:  "another instance still registering, its agent connected: out of service, back off",
			limit: "1",
			setup: func(w *world) {
				o := w.others[0]
				o.Status = "REGISTERING"
				w.ecs.SetInstance(o)
			},
			want:       "retry after 5m30s: cluster prod: 2 of at most 1 instances out of service with this claim",
			wantStage:  update.StageStaged,
			wantStatus: cluster.StatusActive,
		},
		{
			name:  "in a cluster of more than a page, another instance deregistering: back off",
			limit: "1",
			setup: func(w *world) {
				large(w)
				o := w.others[0]
				o.Status = "DEREGISTERING"
				w.ecs.SetInstance(o)
			},
			want:       "retry after 5m30s: cluster prod: 2 of at most 1 instances out of service with this claim",
			wantStage:  update.StageStaged,
			wantStatus: cluster.StatusActive,
		},
		{
			name:       "a racing claim seen only after ours is written: back off, claim withdrawn",
			limit:      "1",
			setup:      func(w *world) { w.raceClaim = true },
			want:       "retry after 5m30s: cluster prod: 2 of at most 1 instances out of service with this admit",
			wantStage:  update.StageStaged,
			wantStatus: cluster.StatusActive,
		},
		{
			name:       "limit 2 admits beside one draining instance",
			limit:      "2",
			setup:      func(w *world) { w.mark(w.others[0], "job-2", update.StageDraining, cluster.StatusDraining) },
			want:       "retry: context deadline exceeded", // admitted, then waiting for the drain
			wantStage:  update.StageDraining,
			wantStatus: cluster.StatusDraining,
		},
		{
			name:       "drained by a person: refused, skipped, never re-activated",
			limit:      "1",
			setup:      func(w *world) { w.mark(w.me, jobID, update.StageStaged, cluster.StatusDraining) },
			want:       "done",
			wantStage:  update.StageNone,
			wantStatus: cluster.StatusDraining,
			wantEvents: []string{notify.InstanceUpdateSkipped + ": drained-by-other"},
		},
		{
			name:  "standalone task: skipped, update cancelled",
			limit: "1",
			setup: func(w *world) {
				w.ecs.AddTask(testCluster, cluster.Task{InstanceARN: w.me.ARN, StartedBy: "", Group: "family:report"})
			},
			want:       "done",
			wantStage:  update.StageNone,
			wantStatus: cluster.StatusActive,
			wantEvents: []string{notify.InstanceUpdateSkipped + ": standalone-task"},
		},
		{
			name:       "another job owns the instance: duplicate, marks untouched",
			limit:      "1",
			setup:      func(w *world) { w.mark(w.me, "job-0", update.StageDraining, cluster.StatusDraining) },
			want:       "done",
			wantStage:  update.StageDraining,
			wantStatus: cluster.StatusDraining,
			wantEvents: []string{notify.InstanceUpdateSkipped + ": job-in-flight"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				limit, err := update.ParseLimit(tt.limit)
				if err != nil {
					t.Fatal(err)
				}
				p := defaultPolicy()
				p.Limit = limit
				w := newWorld(t, p)
				tt.setup(w)
				if w.raceClaim {
					w.d.ecs = &racingClaim{instances: w.ecs, claim: func() { w.mark(w.others[1], "job-3", update.StageAdmitting, cluster.StatusActive) }}
				}
				ctx, cancel := context.WithTimeout(t.Context(), 33*time.Second) // bounds the drain in the proceed case
				defer cancel()
				got := w.d.handle(queue.WithLogger(ctx, zerolog.New(zerolog.NewTestWriter(t))), queue.Message{ID: "m-1", Body: w.job(t), ReceiveCount: 1})
				if !strings.HasPrefix(got.String(), tt.want) {
					t.Errorf("handle = %s, want %s...", got, tt.want)
				}
				in := w.instance(t, w.me.ARN)
				if update.Stage(in.Attributes[update.AttrStage]) != tt.wantStage || in.Status != tt.wantStatus {
					t.Errorf("instance: stage %q status %s, want %q %s", in.Attributes[update.AttrStage], in.Status, tt.wantStage, tt.wantStatus)
				}
				if diff := cmp.Diff(tt.wantEvents, w.events.all()); diff != "" {
					t.Errorf("events (-want +got):\n%s", diff)
				}
			})
		})
	}
}

// racingClaim lets another drainer write its claim between our claim and our re-read: the
// census after the claim, the look's own being the first.
type racingClaim struct {
	instances
	claim    func()
	censuses int
}

func (r *racingClaim) Census(ctx context.Context, c string) (cluster.Census, error) {
	r.censuses++
	if r.censuses == 2 {
		r.claim()
	}
	return r.instances.Census(ctx, c)
}

func (w *world) mark(in cluster.Instance, job string, stage update.Stage, status string) {
	in.Attributes[update.AttrJob] = job
	in.Attributes[update.AttrStage] = string(stage)
	in.Status = status
	w.ecs.SetInstance(in)
}

func TestErrors(t *testing.T) {
	throttled := fmt.Errorf("list tasks: %w", cluster.ErrTransient)
	tests := []struct {
		name       string
		body       func(w *world) []byte
		setup      func(w *world)
		want       string
		wantEvents []string
	}{
		{
			name: "not JSON",
			body: func(*world) []byte { return []byte("{") },
			want: "poison: invalid job: not one JSON object",
		},
		{
			name: "misspelt field",
			body: func(*world) []byte {
				return []byte(`{"schema":"rollwave.job/v1","cluster":"prod","instance":"i-0123456789abcdef0","requestedBy":"a","reason":"b","step":"drain","targetVerison":"1.2.3"}`)
			},
			want: "poison: invalid job: targetVerison: unknown field",
		},
		{
			name: "wrong step",
			body: func(*world) []byte {
				return []byte(`{"schema":"rollwave.job/v1","cluster":"prod","instance":"i-0123456789abcdef0","requestedBy":"a","reason":"b","step":"verify"}`)
			},
			want: `poison: job m-1 is at step "verify"`,
		},
		{
			name:  "transient ECS error: retried",
			setup: func(w *world) { w.ecs.FailNext("Tasks", throttled) },
			want:  "retry: check eligibility: list tasks: transient ecs error",
		},
		{
			name: "instance deregistered: skipped instance-gone",
			setup: func(w *world) {
				me := w.me
				me.Status = "INACTIVE"
				w.ecs.SetInstance(me)
				w.ecs.FailNext("Instance", fmt.Errorf("describe: %w", cluster.ErrInstanceNotFound))
			},
			want:       "done",
			wantEvents: []string{notify.InstanceUpdateSkipped + ": instance-gone"},
		},
		{
			name: "ECS refuses DRAINING: drain-failed, update cancelled",
			setup: func(w *world) {
				w.d.state = refuseDraining{w.ecs}
			},
			want:       "done",
			wantEvents: []string{notify.InstanceUpdateFailed + ": drain-failed"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWorld(t, defaultPolicy())
				if tt.setup != nil {
					tt.setup(w)
				}
				body := w.job(t)
				if tt.body != nil {
					body = tt.body(w)
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

func TestDrainFailedIsUndone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, defaultPolicy())
		w.d.state = refuseDraining{w.ecs}
		if got := w.handle(t, w.job(t)); got.String() != "done" {
			t.Fatalf("handle = %s, want done", got)
		}
		if diff := cmp.Diff([]string{checkDoc, cancelDoc}, w.ssmDocs()); diff != "" {
			t.Errorf("SSM documents (-want +got):\n%s", diff)
		}
		if got := marks(w.instance(t, w.me.ARN)); len(got) != 0 {
			t.Errorf("marks = %v, want none", got)
		}
	})
}

// refuseDraining is an ECS that refuses to drain any instance, individually.
type refuseDraining struct{ f *clustertest.Fake }

func (r refuseDraining) SetState(ctx context.Context, c string, arns []string, status string) (map[string]string, error) {
	if status == cluster.StatusDraining {
		out := map[string]string{}
		for _, a := range arns {
			out[a] = "container instance is not ACTIVE"
		}
		return out, nil
	}
	return r.f.SetState(ctx, c, arns, status)
}

func TestShutdownReturnsTheMessage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, defaultPolicy())
		ctx, cancel := context.WithCancel(t.Context())
		ch := make(chan queue.Outcome, 1)
		go func() {
			ch <- w.d.handle(queue.WithLogger(ctx, zerolog.New(zerolog.NewTestWriter(t))), queue.Message{ID: "m-1", Body: w.job(t)})
		}()
		synctest.Wait()
		cancel()
		got := <-ch
		if !strings.HasPrefix(got.String(), "retry: ") || !strings.Contains(got.String(), context.Canceled.Error()) {
			t.Errorf("handle after cancel = %s, want retry: context canceled", got)
		}
		if in := w.instance(t, w.me.ARN); in.Attributes[update.AttrStage] != string(update.StageDraining) {
			t.Errorf("stage = %q, want draining kept for the next delivery", in.Attributes[update.AttrStage])
		}
	})
}

// The drain's undo must not hinge on a cancel that cannot run: with the host's SSM agent offline,
// the instance is still re-activated and unmarked, and the job ends drain-timeout.
func TestDrainTimeoutUndoesWhenTheHostCannotBeChecked(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, defaultPolicy())
		offline := ssmcommandtest.Response{Latency: 24 * time.Hour} // no answer to any document
		w.ssm.Respond(w.me.EC2InstanceID, checkDoc, offline)
		w.ssm.Respond(w.me.EC2InstanceID, "", offline)
		w.d.undo.SSM = ssmcommand.Options{Wait: time.Minute}
		if got := w.handle(t, w.job(t)); got.String() != "done" {
			t.Fatalf("handle = %s, want done", got)
		}
		in := w.instance(t, w.me.ARN)
		if in.Status != cluster.StatusActive {
			t.Errorf("status = %s, want ACTIVE again", in.Status)
		}
		if diff := cmp.Diff(map[string]string{}, marks(in)); diff != "" {
			t.Errorf("marks (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{checkDoc, cancelDoc}, w.ssmDocs()); diff != "" {
			t.Errorf("SSM documents (-want +got): the cancel is sent once, best effort:\n%s", diff)
		}
		if diff := cmp.Diff([]string{notify.InstanceUpdateFailed + ": drain-timeout"}, w.events.all()); diff != "" {
			t.Errorf("events (-want +got):\n%s", diff)
		}
	})
}

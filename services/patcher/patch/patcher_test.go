package patch

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/cluster/clustertest"
	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/ssmcommand/ssmcommandtest"
	"github.com/rollwave/rollwave/shared/update"
)

const instanceID = "i-0123456789abcdef0"

type sent struct {
	url   string
	job   update.Job
	delay time.Duration
}

type recorder struct {
	mu       sync.Mutex
	jobs     []sent
	events   []string
	messages []string // the message of each event, as events
}

func (r *recorder) Send(_ context.Context, url string, body []byte, delay time.Duration, _ map[string]string) (string, error) {
	j, err := update.Decode(body)
	if err != nil {
		return "", err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.jobs = append(r.jobs, sent{url, j, delay})
	return "id", nil
}

func (r *recorder) Publish(_ context.Context, detailType string, detail any, _ ...string) error {
	d := detail.(notify.JobDetail)
	r.mu.Lock()
	defer r.mu.Unlock()
	if detailType == notify.InstanceUpdateProgressed {
		r.events = append(r.events, detailType+": "+d.Decision) // its reason is always empty here
	} else {
		r.events = append(r.events, detailType+": "+d.Reason)
	}
	r.messages = append(r.messages, d.Message)
	return nil
}

// bottlerocketHost answers the check and apply documents like a host with one update on offer.
type bottlerocketHost struct {
	mu                 sync.Mutex
	state, active, new string
	applyFails         bool
	// offline: the SSM agent answers nothing. applyHangs: apply never finishes and holds the
	// update lock (locked), so that every later update command answers 423 Locked.
	offline, applyHangs, locked bool
	// applyTakes is how long apply runs before it reports success.
	applyTakes time.Duration
}

func (h *bottlerocketHost) answer(doc, _ string) ssmcommandtest.Response {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.offline {
		return ssmcommandtest.Response{Latency: 24 * time.Hour}
	}
	if h.locked {
		return ssmcommandtest.Response{ExitCode: 1, Stderr: "Unable to check initial update status, got code '423 Locked': Update lock held"}
	}
	if doc == "rollwave-update-apply" && h.applyHangs {
		h.locked = true
		return ssmcommandtest.Response{Latency: 24 * time.Hour}
	}
	switch doc {
	case "rollwave-update-check":
		chosen, staging := "null", "null"
		if h.state != "Idle" {
			chosen = fmt.Sprintf(`{"arch":"x86_64","version":%q,"variant":"aws-ecs-2"}`, h.new)
		}
		if h.state == "Ready" || h.state == "Staged" {
			staging = fmt.Sprintf(`{"image":{"arch":"x86_64","version":%q,"variant":"aws-ecs-2"},"next_to_boot":%v}`, h.new, h.state == "Ready")
		}
		return ssmcommandtest.Response{Stdout: fmt.Sprintf(`{"update_state":%q,"chosen_update":%s,
			"active_partition":{"image":{"arch":"x86_64","version":%q,"variant":"aws-ecs-2"},"next_to_boot":%v},
			"staging_partition":%s}`, h.state, chosen, h.active, h.state != "Ready", staging)}
	case "rollwave-update-apply":
		if h.applyFails {
			return ssmcommandtest.Response{ExitCode: 1, Stderr: "Failed to prepare update: disk full"}
		}
		h.state = "Ready"
		return ssmcommandtest.Response{Latency: h.applyTakes}
	case "rollwave-update-cancel":
		h.state = "Staged"
	}
	return ssmcommandtest.Response{}
}

// worldClock is the world's time, which the test moves on: the patcher's, and the fake SSM's, so that
// an apply's latency passes while its job waits in the patcher's queue.
type worldClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *worldClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *worldClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type world struct {
	clock *worldClock
	p     *patcher
	ecs   *clustertest.Fake
	ssm   *ssmcommandtest.Fake
	host  *bottlerocketHost
	rec   *recorder
	arn   string
}

func newWorld(t *testing.T, host *bottlerocketHost, attrs map[string]string, tasks ...cluster.Task) *world {
	t.Helper()
	cfg, err := loadConfig(func(k string) string { return map[string]string{"ROLLWAVE_CLUSTERS": "prod"}[k] })
	if err != nil {
		t.Fatal(err)
	}
	e := clustertest.NewFake()
	e.AddCluster("prod", nil)
	a := map[string]string{"bottlerocket.variant": "aws-ecs-2"}
	for k, v := range attrs {
		a[k] = v
	}
	in := e.AddInstance("prod", cluster.Instance{EC2InstanceID: instanceID, Status: "ACTIVE", AgentConnected: true, Attributes: a})
	for _, task := range tasks {
		task.InstanceARN = in.ARN
		e.AddTask("prod", task)
	}
	c := &worldClock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	s := ssmcommandtest.NewFake()
	s.Now = c.Now
	s.AddInstance(instanceID, true)
	s.Handler = host.answer
	rec := &recorder{}
	p := newPatcher(cfg, e, s, rec, rec, c.Now)
	p.drainerURL, p.verifyURL, p.patcherURL = "drainer", "verifier", "patcher"
	p.quick.PollInterval, p.apply.PollInterval = time.Millisecond, time.Millisecond
	return &world{clock: c, p: p, ecs: e, ssm: s, host: host, rec: rec, arn: in.ARN}
}

func (w *world) handle(t *testing.T, job update.Job) queue.Outcome {
	t.Helper()
	return w.handleOn(t, w.p.handle, job)
}

// handleOn hands job to one lane's handler, w.p.handle (the patcher queue) or w.p.handleReboot
// (the reboot queue), and then does what the patcher queue would while the host applies the
// update: the job the patcher sent back to itself with the apply it waits for (Job.Applying)
// comes back once its delay has passed, and again after every wait it asks for, until it is done
// with. It returns the last outcome; w.rec.jobs keeps what the patcher sent elsewhere.
func (w *world) handleOn(t *testing.T, h queue.Handler, job update.Job) queue.Outcome {
	t.Helper()
	out := w.deliver(t, h, job)
	followed := map[string]bool{} // the applies whose job came back
	for range 1000 {
		delay, waits := out.Waits()
		w.rec.mu.Lock()
		last := len(w.rec.jobs) - 1
		if out == queue.Done() && last >= 0 && w.rec.jobs[last].url == "patcher" {
			if back := w.rec.jobs[last]; back.job.Applying != nil && !followed[back.job.Applying.Command] {
				followed[back.job.Applying.Command] = true
				job, delay, waits = back.job, back.delay, true
				w.rec.jobs = w.rec.jobs[:last] // received: the queue no longer holds it
			}
		}
		w.rec.mu.Unlock()
		if !waits || job.Applying == nil {
			return out
		}
		w.clock.Add(delay)
		out = w.deliver(t, h, job)
	}
	t.Fatalf("the job still waits for its apply after 1000 looks: %s", out)
	return out
}

func (w *world) deliver(t *testing.T, h queue.Handler, job update.Job) queue.Outcome {
	t.Helper()
	body, err := update.Encode(job)
	if err != nil {
		t.Fatal(err)
	}
	return h(context.Background(), queue.Message{ID: "msg-1", Body: body})
}

func (w *world) attrs(t *testing.T) map[string]string {
	t.Helper()
	in, err := w.ecs.Instance(context.Background(), "prod", w.arn)
	if err != nil {
		t.Fatal(err)
	}
	return in.Attributes
}

func (w *world) drained(t *testing.T) bool {
	for _, c := range w.ecs.Calls() {
		if c.Op == "SetState" {
			return true
		}
	}
	return false
}

func handJob() update.Job {
	return update.Job{Schema: update.Schema, Cluster: "prod", Instance: instanceID, RequestedBy: "alice", Reason: "test"}
}

func TestStageAppliesTheUpdateAndForwardsToTheDrainer(t *testing.T) {
	w := newWorld(t, &bottlerocketHost{state: "Available", active: "1.19.5", new: "1.20.3"}, nil,
		cluster.Task{StartedBy: "ecs-svc/1", Group: "service:web", LastStatus: "RUNNING", DesiredStatus: "RUNNING"})
	if out := w.handle(t, handJob()); out != queue.Done() {
		t.Fatalf("handle() = %+v, want Done", out)
	}
	if len(w.rec.jobs) != 1 || w.rec.jobs[0].url != "drainer" {
		t.Fatalf("forwarded = %+v, want one job to the drainer", w.rec.jobs)
	}
	j := w.rec.jobs[0].job
	if j.ID != "msg-1" || j.Step != update.StepDrain || j.FromVersion != "1.19.5" || j.StagedVersion != "1.20.3" || j.TargetVersion != "1.20.3" || j.ContainerInstanceARN != w.arn {
		t.Errorf("forwarded job = %+v, want id msg-1 at step drain, 1.19.5 -> staged 1.20.3, the ARN learnt", j)
	}
	if a := w.attrs(t); a[update.AttrJob] != "msg-1" || a[update.AttrStage] != "staged" {
		t.Errorf("attributes = %v, want rollwave.job=msg-1 rollwave.stage=staged", a)
	}
	if w.drained(t) {
		t.Error("the patcher changed the instance's state; staging must not drain")
	}
	want := []string{notify.InstanceUpdateStarted + ": ", notify.InstanceUpdateProgressed + ": " + notify.DecisionStaged}
	if diff := cmp.Diff(want, w.rec.events); diff != "" || w.rec.messages[1] != "staged 1.20.3" {
		t.Errorf("events (-want +got): the start, then the update staged:\n%s\nmessages %q", diff, w.rec.messages)
	}
}

// TestStagingHoldsNoWorkerWhileTheHostApplies: the patcher sends the apply and puts the job back on
// its queue with the command, so that its handler returns at once and the stage lane's slots serve
// other jobs while the host stages. The job comes back when the apply is expected to have ended,
// waits by the poll schedule while it still runs, and is forwarded once it is staged.
func TestStagingHoldsNoWorkerWhileTheHostApplies(t *testing.T) {
	w := newWorld(t, &bottlerocketHost{state: "Available", active: "1.19.5", new: "1.20.3", applyTakes: 70 * time.Second}, nil)
	w.p.apply.PollInterval = 5 * time.Second // looks 60 s after the send (ROLLWAVE_APPLY_EXPECTED), then at 65 s and 75 s
	sentAt := w.clock.Now()
	if out := w.deliver(t, w.p.handle, handJob()); out != queue.Done() {
		t.Fatalf("handle() = %s, want Done: the job went back to the queue", out)
	}
	if len(w.rec.jobs) != 1 || w.rec.jobs[0].url != "patcher" || w.rec.jobs[0].delay != time.Minute {
		t.Fatalf("sent = %+v, want the job back to the patcher queue, delayed 1m", w.rec.jobs)
	}
	back := w.rec.jobs[0].job
	if a := back.Applying; a == nil || a.Command == "" || !a.Since.Equal(sentAt) || back.Step != update.StepStage {
		t.Fatalf("job sent back = %+v, applying %+v; want at step stage with the apply's command, sent at %s", back, back.Applying, sentAt)
	}
	if a := w.attrs(t); a[update.AttrStage] != "staging" {
		t.Errorf("stage = %q while applying, want staging", a[update.AttrStage])
	}
	w.rec.jobs = nil
	for _, look := range []struct{ after, wait time.Duration }{{time.Minute, 5 * time.Second}, {5 * time.Second, 10 * time.Second}} {
		w.clock.Add(look.after)
		out := w.deliver(t, w.p.handle, back)
		if d, ok := out.Waits(); !ok || d != look.wait || len(w.rec.jobs) != 0 {
			t.Fatalf("look %s after the send = %s, sent %+v; want a wait of %s and nothing sent", w.clock.Now().Sub(sentAt), out, w.rec.jobs, look.wait)
		}
	}
	w.clock.Add(10 * time.Second)
	if out := w.deliver(t, w.p.handle, back); out != queue.Done() {
		t.Fatalf("look once the apply ended = %s, want Done", out)
	}
	if len(w.rec.jobs) != 1 || w.rec.jobs[0].url != "drainer" || w.rec.jobs[0].job.StagedVersion != "1.20.3" || w.rec.jobs[0].job.Applying != nil {
		t.Fatalf("sent = %+v, want the job to the drainer, staged 1.20.3, no apply pending", w.rec.jobs)
	}
	var applies, looks int
	for _, c := range w.ssm.Calls() {
		switch {
		case c.Op == "Send" && c.Args[0] == "rollwave-update-apply":
			applies++
			if c.Args[2] != "rollwave job msg-1" {
				t.Errorf("apply comment = %q, want the job named", c.Args[2])
			}
		case c.Op == "Invocation":
			looks++
		}
	}
	if applies != 1 || looks != 3 {
		t.Errorf("applies sent %d, invocation looks %d; want 1 and 3", applies, looks)
	}
}

// TestACopyOfAStagingJobWaitsForTheApplySent: SQS delivers a message at least once, so a copy of
// the job may come while the apply another copy sent runs and holds the host's update lock. The
// copy must not check the host (the check would meet the lock and fail the staging): it finds the
// apply by its comment and waits for it, and both copies then forward the staged job.
func TestACopyOfAStagingJobWaitsForTheApplySent(t *testing.T) {
	w := newWorld(t, &bottlerocketHost{state: "Available", active: "1.19.5", new: "1.20.3", applyTakes: 70 * time.Second}, nil)
	if out := w.deliver(t, w.p.handle, handJob()); out != queue.Done() {
		t.Fatalf("handle() = %s, want Done: the job went back to the queue", out)
	}
	w.host.mu.Lock()
	w.host.locked = true // the apply runs: every other update command answers 423 Locked
	w.host.mu.Unlock()
	w.rec.jobs = nil
	if out := w.deliver(t, w.p.handle, handJob()); out != queue.Done() {
		t.Fatalf("handle(copy) = %s, want Done: the copy went back to the queue to wait", out)
	}
	if len(w.rec.jobs) != 1 || w.rec.jobs[0].url != "patcher" || w.rec.jobs[0].job.Applying == nil {
		t.Fatalf("the copy sent %+v, want itself back to the patcher queue with the apply", w.rec.jobs)
	}
	copyBack := w.rec.jobs[0].job
	var applies, checks int
	for _, c := range w.ssm.Commands() {
		switch c.Document {
		case "rollwave-update-apply":
			applies++
			if c.ID != copyBack.Applying.Command {
				t.Errorf("the copy waits for %s, want the apply sent, %s", copyBack.Applying.Command, c.ID)
			}
		case "rollwave-update-check":
			checks++
		}
	}
	if applies != 1 || checks != 1 {
		t.Errorf("applies %d, update checks %d; want 1 and 1: the copy sent neither", applies, checks)
	}
	w.host.mu.Lock()
	w.host.locked = false // the apply ended
	w.host.mu.Unlock()
	w.rec.jobs = nil
	w.clock.Add(75 * time.Second)
	if out := w.deliver(t, w.p.handle, copyBack); out != queue.Done() {
		t.Fatalf("the copy's look after the apply = %s, want Done", out)
	}
	if len(w.rec.jobs) != 1 || w.rec.jobs[0].url != "drainer" {
		t.Errorf("sent %+v, want the staged job to the drainer", w.rec.jobs)
	}
	if a := w.attrs(t); a[update.AttrStage] != "staged" {
		t.Errorf("stage = %q, want staged", a[update.AttrStage])
	}
}

func TestStagingFailureEndsTheJobWithoutDraining(t *testing.T) {
	w := newWorld(t, &bottlerocketHost{state: "Available", active: "1.19.5", new: "1.20.3", applyFails: true}, nil)
	if out := w.handle(t, handJob()); out != queue.Done() {
		t.Fatalf("handle() = %+v, want Done (the job ended failed)", out)
	}
	if len(w.rec.jobs) != 0 {
		t.Errorf("forwarded %+v, want nothing", w.rec.jobs)
	}
	if want := notify.InstanceUpdateFailed + ": staging-failed"; len(w.rec.events) != 2 || w.rec.events[0] != notify.InstanceUpdateStarted+": " || w.rec.events[1] != want {
		t.Errorf("events = %v, want [Instance Update Started: , %s]", w.rec.events, want)
	}
	if a := w.attrs(t); a[update.AttrJob] != "" || a[update.AttrStage] != "" {
		t.Errorf("attributes = %v, want the marks removed", a)
	}
	if w.drained(t) {
		t.Error("a failed staging drained the instance")
	}
}

func TestNoUpdateIsSkipped(t *testing.T) {
	w := newWorld(t, &bottlerocketHost{state: "Idle", active: "1.20.3"}, nil)
	w.handle(t, handJob())
	if want := notify.InstanceUpdateSkipped + ": no-update"; len(w.rec.events) != 2 || w.rec.events[0] != notify.InstanceUpdateStarted+": " || w.rec.events[1] != want {
		t.Errorf("events = %v, want [Instance Update Started: , %s]", w.rec.events, want)
	}
	if a := w.attrs(t); a[update.AttrJob] != "" {
		t.Errorf("attributes = %v, want no marks", a)
	}
}

func TestStandaloneTaskIsSkippedBeforeStaging(t *testing.T) {
	w := newWorld(t, &bottlerocketHost{state: "Available", active: "1.19.5", new: "1.20.3"}, nil,
		cluster.Task{StartedBy: "", Group: "family:batch", LastStatus: "RUNNING", DesiredStatus: "RUNNING"})
	w.handle(t, handJob())
	if want := notify.InstanceUpdateSkipped + ": standalone-task"; len(w.rec.events) != 1 || w.rec.events[0] != want {
		t.Errorf("events = %v, want [%s]", w.rec.events, want)
	}
	if w.host.state != "Available" {
		t.Errorf("host state = %s, want Available: nothing staged", w.host.state)
	}
}

// TestStandalonePolicyIsPerCluster: a cluster whose override in ROLLWAVE_CLUSTER_POLICIES is wait
// or stop has its instance with a standalone task staged (the drainer then waits for the task or
// stops it); one without an override keeps the default skip.
func TestStandalonePolicyIsPerCluster(t *testing.T) {
	for _, tc := range []struct {
		name, policies string
		wantStaged     bool
	}{
		{name: "default skip", policies: `{"other": {"standaloneTasks": "stop"}}`},
		{name: "wait for this cluster", policies: `{"prod": {"standaloneTasks": "wait"}}`, wantStaged: true},
		{name: "stop for this cluster", policies: `{"prod": {"standaloneTasks": "stop"}}`, wantStaged: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, &bottlerocketHost{state: "Available", active: "1.19.5", new: "1.20.3"}, nil,
				cluster.Task{StartedBy: "", Group: "family:batch", LastStatus: "RUNNING", DesiredStatus: "RUNNING"})
			cfg, err := loadConfig(func(k string) string {
				return map[string]string{"ROLLWAVE_CLUSTER_POLICIES": tc.policies, "ROLLWAVE_CLUSTERS": "prod"}[k]
			})
			if err != nil {
				t.Fatal(err)
			}
			w.p.policies = cfg.Policies
			w.handle(t, handJob())
			if staged := w.host.state == "Ready"; staged != tc.wantStaged {
				t.Errorf("host state = %s (events %v), want staged %t", w.host.state, w.rec.events, tc.wantStaged)
			}
		})
	}
}

func TestSecondJobForAnInstanceIsADuplicate(t *testing.T) {
	w := newWorld(t, &bottlerocketHost{state: "Ready", active: "1.19.5", new: "1.20.3"},
		map[string]string{update.AttrJob: "j-first", update.AttrStage: "staged"})
	w.handle(t, handJob())
	if want := notify.InstanceUpdateSkipped + ": job-in-flight"; len(w.rec.events) != 1 || w.rec.events[0] != want {
		t.Errorf("events = %v, want [%s]", w.rec.events, want)
	}
	if a := w.attrs(t); a[update.AttrJob] != "j-first" {
		t.Errorf("attributes = %v, want the first job's marks kept", a)
	}
}

func rebootJob(w *world) update.Job {
	j := handJob()
	j.ID, j.Step, j.FromVersion, j.TargetVersion, j.StagedVersion = "j-1", update.StepReboot, "1.19.5", "1.20.3", "1.20.3"
	return j
}

func TestRebootIsSentOnceAndForwardedToTheVerifier(t *testing.T) {
	w := newWorld(t, &bottlerocketHost{state: "Ready", active: "1.19.5", new: "1.20.3"},
		map[string]string{update.AttrJob: "j-1", update.AttrStage: "draining"})
	if _, err := w.ecs.SetState(context.Background(), "prod", []string{w.arn}, "DRAINING"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ { // the second delivery is a redelivery after a crash
		if out := w.handle(t, rebootJob(w)); out != queue.Done() {
			t.Fatalf("handle() #%d = %+v, want Done", i+1, out)
		}
	}
	var reboots int
	for _, c := range w.ssm.Commands() {
		if c.Document == "rollwave-reboot" {
			reboots++
			if c.Comment != "rollwave job j-1" {
				t.Errorf("reboot comment = %q, want the job named", c.Comment)
			}
		}
	}
	if reboots != 1 {
		t.Errorf("reboots sent = %d, want exactly 1", reboots)
	}
	if len(w.rec.jobs) != 2 || w.rec.jobs[0].url != "verifier" || w.rec.jobs[0].job.Step != update.StepVerify {
		t.Errorf("forwarded = %+v, want the job to the verifier at step verify (twice: at-least-once)", w.rec.jobs)
	}
	if a := w.attrs(t); a[update.AttrStage] != "rebooting" {
		t.Errorf("stage = %q, want rebooting", a[update.AttrStage])
	}
	rebooted := notify.InstanceUpdateProgressed + ": " + notify.DecisionRebooted
	if diff := cmp.Diff([]string{rebooted, rebooted}, w.rec.events); diff != "" {
		t.Errorf("events (-want +got): the reboot sent, told at each forward:\n%s", diff)
	}
}

func TestRebootRefusesAnInstanceThatIsNotDrained(t *testing.T) {
	w := newWorld(t, &bottlerocketHost{state: "Ready", active: "1.19.5", new: "1.20.3"},
		map[string]string{update.AttrJob: "j-1", update.AttrStage: "draining"})
	w.handle(t, rebootJob(w)) // instance still ACTIVE: someone re-activated it
	for _, c := range w.ssm.Commands() {
		if c.Document == "rollwave-reboot" {
			t.Fatal("rebooted an instance that is not drained")
		}
	}
	if want := notify.InstanceUpdateFailed + ": reboot-failed"; len(w.rec.events) != 1 || w.rec.events[0] != want {
		t.Errorf("events = %v, want [%s]", w.rec.events, want)
	}
	if w.host.state != "Staged" {
		t.Errorf("host state = %s, want Staged: the staged update cancelled", w.host.state)
	}
}

func TestMalformedJobIsPoison(t *testing.T) {
	w := newWorld(t, &bottlerocketHost{state: "Idle", active: "1.20.3"}, nil)
	out := w.p.handle(context.Background(), queue.Message{ID: "m", Body: []byte(`{"schema":"rollwave.job/v1","cluster":"prod"}`)})
	if out == queue.Done() || !strings.Contains(fmt.Sprint(out), "instance") {
		t.Errorf("handle(no instance) = %+v, want Poison naming the missing field", out)
	}
}

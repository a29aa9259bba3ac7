package patch

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/policy"
	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/update"
)

// staged adds an instance of prod that another job staged ahead of the drains, filling the
// look-ahead of prod's default limit of 1.
func (w *world) staged(t *testing.T) cluster.Instance {
	t.Helper()
	return w.ecs.AddInstance("prod", cluster.Instance{EC2InstanceID: "i-0fedcba9876543210", Status: "ACTIVE", AgentConnected: true,
		Attributes: map[string]string{"bottlerocket.variant": "aws-ecs-2", update.AttrJob: "j-other", update.AttrStage: string(update.StageStaged)}})
}

func (w *world) stagedThis(t *testing.T) bool {
	t.Helper()
	return w.attrs(t)[update.AttrStage] == string(update.StageStaged) && w.host.state == "Ready"
}

// A new job whose cluster already has its limit of instances staged ahead of the drains is not
// staged: the patcher holds it, unmarked and in service, and after a recheck without a drain
// returns it to its queue for another recheck. A rollback and a job that already marked its
// instance never wait.
func TestStagingBeyondTheLookAheadWaits(t *testing.T) {
	for _, tc := range []struct {
		name      string
		job       func() update.Job
		attrs     map[string]string
		wantStage bool
	}{
		{name: "new job: held, then back to the queue", job: handJob},
		{name: "rollback: staged at once", wantStage: true, job: func() update.Job {
			j := handJob()
			j.TargetVersion, j.LockVersion = "1.20.3", true
			return j
		}},
		{name: "redelivery of a job that marked its instance: staged at once", wantStage: true,
			attrs: map[string]string{update.AttrJob: "msg-1", update.AttrStage: string(update.StageStaging)}, job: handJob},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWorld(t, &bottlerocketHost{state: "Available", active: "1.19.5", new: "1.20.3"}, tc.attrs,
					cluster.Task{StartedBy: "ecs-svc/1", Group: "service:web", LastStatus: "RUNNING", DesiredStatus: "RUNNING"})
				w.staged(t)
				start := time.Now()
				out := w.handle(t, tc.job())
				if tc.wantStage {
					if out != queue.Done() || !w.stagedThis(t) || len(w.rec.jobs) != 1 {
						t.Errorf("handle() = %v, stage %q, forwarded %d; want done, staged and forwarded", out, w.attrs(t)[update.AttrStage], len(w.rec.jobs))
					}
					return
				}
				want := queue.RetryAfter(DefaultStageRecheck, "")
				if !strings.HasPrefix(out.String(), strings.TrimSuffix(want.String(), " ")) || !strings.Contains(out.String(), "look-ahead is 1") {
					t.Errorf("handle() = %v, want %v<why: the look-ahead is 1>", out, want)
				}
				if held := time.Since(start); held != DefaultStageRecheck {
					t.Errorf("held the job %s, want one recheck (%s)", held, DefaultStageRecheck)
				}
				if a := w.attrs(t); a[update.AttrJob] != "" || len(w.ssm.Commands()) != 0 || len(w.rec.events) != 0 || len(w.rec.jobs) != 0 {
					t.Errorf("attributes %v, SSM commands %d, events %v, forwarded %d; want the instance untouched and nothing announced",
						a, len(w.ssm.Commands()), w.rec.events, len(w.rec.jobs))
				}
			})
		})
	}
}

// A held job stages as soon as the reboot lane handles a drained instance of its cluster, the
// staged one the drainer admitted: it does not wait for its recheck.
func TestHeldStagingIsWokenByADrainedInstance(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, &bottlerocketHost{state: "Available", active: "1.19.5", new: "1.20.3"}, nil,
			cluster.Task{StartedBy: "ecs-svc/1", Group: "service:web", LastStatus: "RUNNING", DesiredStatus: "RUNNING"})
		other := w.staged(t)
		start := time.Now()
		done := make(chan queue.Outcome)
		go func() { done <- w.handle(t, handJob()) }()
		synctest.Wait() // the job is held: durably blocked until woken or its recheck

		// The drainer admits and drains the other instance and forwards it to the reboot lane.
		if err := w.ecs.PutAttributes(context.Background(), "prod", other.ARN, map[string]string{update.AttrStage: string(update.StageDraining)}); err != nil {
			t.Fatal(err)
		}
		if _, err := w.ecs.SetState(context.Background(), "prod", []string{other.ARN}, "DRAINING"); err != nil {
			t.Fatal(err)
		}
		reboot := handJob()
		reboot.ID, reboot.Instance, reboot.Step, reboot.TargetVersion, reboot.StagedVersion = "j-other", other.EC2InstanceID, update.StepReboot, "1.20.3", "1.20.3"
		w.ssm.AddInstance(other.EC2InstanceID, true)
		if out := w.handleOn(t, w.p.handleReboot, reboot); out != queue.Done() {
			t.Fatalf("handleReboot() = %v, want done", out)
		}

		out := <-done
		if out != queue.Done() || !w.stagedThis(t) {
			t.Errorf("held handle() = %v, stage %q; want done and staged", out, w.attrs(t)[update.AttrStage])
		}
		if held := time.Since(start); held != 0 {
			t.Errorf("held the job %s, want it staged as soon as the drained instance was rebooted, not at its recheck", held)
		}
		var urls []string
		for _, s := range w.rec.jobs {
			urls = append(urls, fmt.Sprintf("%s %s", s.job.ID, s.url))
		}
		if diff := cmp.Diff([]string{"j-other verifier", "msg-1 drainer"}, urls); diff != "" {
			t.Errorf("forwarded (-want +got):\n%s", diff)
		}
		if want := []string{notify.InstanceUpdateProgressed + ": " + notify.DecisionRebooted, notify.InstanceUpdateStarted + ": ",
			notify.InstanceUpdateProgressed + ": " + notify.DecisionStaged}; !cmp.Equal(want, w.rec.events) {
			t.Errorf("events = %v, want %v", w.rec.events, want)
		}
	})
}

// The stage lane holds at most ROLLWAVE_STAGE_WAITING jobs beyond the look-ahead: one more goes
// back to its queue at once, for a recheck, so that held jobs never take the slots of the jobs
// that stage or come back to see their apply done (at 200 hosts they took them all, and the
// first drain waited two minutes behind them).
func TestTheStageLaneHoldsAtMostStageWaitingJobs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, &bottlerocketHost{state: "Available", active: "1.19.5", new: "1.20.3"}, nil,
			cluster.Task{StartedBy: "ecs-svc/1", Group: "service:web", LastStatus: "RUNNING", DesiredStatus: "RUNNING"})
		w.staged(t)
		w.p.ahead.held = make(chan struct{}, 1) // ROLLWAVE_STAGE_WAITING=1
		second := w.ecs.AddInstance("prod", cluster.Instance{EC2InstanceID: "i-0aaaaaaaaaaaaaaaa", Status: "ACTIVE", AgentConnected: true,
			Attributes: map[string]string{"bottlerocket.variant": "aws-ecs-2"}})
		start := time.Now()
		first := make(chan queue.Outcome)
		go func() { first <- w.handle(t, handJob()) }()
		synctest.Wait() // the first job is held

		job := handJob()
		job.ID, job.Instance = "msg-2", second.EC2InstanceID
		out := w.handle(t, job)
		if want := queue.RetryAfter(DefaultStageRecheck, ""); !strings.HasPrefix(out.String(), strings.TrimSuffix(want.String(), " ")) || !strings.Contains(out.String(), "wait already") {
			t.Errorf("handle(second job) = %v, want %v<why: the jobs the lane may hold wait already>", out, want)
		}
		if held := time.Since(start); held != 0 {
			t.Errorf("the second job was held %s, want it back in its queue at once", held)
		}
		if out := <-first; !strings.Contains(out.String(), "look-ahead is 1") || strings.Contains(out.String(), "wait already") {
			t.Errorf("handle(first job) = %v, want it held for a recheck", out)
		}
		if held := time.Since(start); held != DefaultStageRecheck {
			t.Errorf("held the first job %s, want one recheck (%s)", held, DefaultStageRecheck)
		}
		if len(w.ssm.Commands()) != 0 || len(w.rec.jobs) != 0 {
			t.Errorf("SSM commands %d, forwarded %d; want nothing staged", len(w.ssm.Commands()), len(w.rec.jobs))
		}
	})
}

// The reboot queue is the reboot lane: a job at any other step there is refused to its
// dead-letter queue, and a reboot is sent from it as from the intake.
func TestRebootQueueTakesRebootsOnly(t *testing.T) {
	w := newWorld(t, &bottlerocketHost{state: "Ready", active: "1.19.5", new: "1.20.3"},
		map[string]string{update.AttrJob: "j-1", update.AttrStage: "draining"})
	if out := w.handleOn(t, w.p.handleReboot, handJob()); !strings.Contains(out.String(), "poison") || !strings.Contains(out.String(), "step reboot only") {
		t.Errorf("handleReboot(job at step stage) = %v, want poison naming the step", out)
	}
	if len(w.ssm.Commands()) != 0 || len(w.rec.events) != 0 {
		t.Errorf("SSM commands %d, events %v; want nothing for a refused job", len(w.ssm.Commands()), w.rec.events)
	}
	if _, err := w.ecs.SetState(context.Background(), "prod", []string{w.arn}, "DRAINING"); err != nil {
		t.Fatal(err)
	}
	if out := w.handleOn(t, w.p.handleReboot, rebootJob(w)); out != queue.Done() {
		t.Fatalf("handleReboot(reboot job) = %v, want done", out)
	}
	if len(w.rec.jobs) != 1 || w.rec.jobs[0].url != "verifier" || w.attrs(t)[update.AttrStage] != "rebooting" {
		t.Errorf("forwarded %+v, stage %q; want the job to the verifier, the instance rebooting", w.rec.jobs, w.attrs(t)[update.AttrStage])
	}
}

// A host whose job waits for its wave (marked staging, with rollwave.waiting) stages nothing
// until the wave comes: it does not hold the look-ahead from a host whose update is offered.
func TestAHostWaitingForItsWaveDoesNotFillTheLookAhead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, &bottlerocketHost{state: "Available", active: "1.19.5", new: "1.20.3"}, nil,
			cluster.Task{StartedBy: "ecs-svc/1", Group: "service:web", LastStatus: "RUNNING", DesiredStatus: "RUNNING"})
		w.ecs.AddInstance("prod", cluster.Instance{EC2InstanceID: "i-0fedcba9876543210", Status: "ACTIVE", AgentConnected: true,
			Attributes: map[string]string{"bottlerocket.variant": "aws-ecs-2", update.AttrJob: "j-wave", update.AttrStage: string(update.StageStaging),
				update.AttrWaiting: "version-not-offered since 2026-11-25T11:00:00Z"}})
		start := time.Now()
		if out := w.handle(t, handJob()); out != queue.Done() || !w.stagedThis(t) {
			t.Errorf("handle() = %v, stage %q; want done and staged", out, w.attrs(t)[update.AttrStage])
		}
		if held := time.Since(start); held != 0 {
			t.Errorf("held the job %s, want it staged at once", held)
		}
	})
}

// sizeCounter is a stagedCounter of one cluster of size instances, none staged ahead, that counts
// the reads of its size.
type sizeCounter struct {
	size  int
	reads int
}

func (s *sizeCounter) CountInstances(context.Context, string, string) (int, error) { return 0, nil }
func (s *sizeCounter) Clusters(_ context.Context, names []string) ([]cluster.Cluster, error) {
	s.reads++
	return []cluster.Cluster{{Name: names[0], RegisteredInstances: s.size}}, nil
}

// A limit in percent needs the cluster's size: the look-ahead reads it once per sizeTTL, not at
// every look, and a size read again after that is used.
func TestLookAheadReadsAClustersSizeOncePerTTL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		limit, err := update.ParseLimit("20%")
		if err != nil {
			t.Fatal(err)
		}
		ecs := &sizeCounter{size: 10}
		l := newLookahead(ecs, policy.Set{Default: policy.Policy{MaxOutOfService: limit}}, DefaultStageRecheck, DefaultStageWaiting)
		job := handJob()
		look := func() update.Lookahead {
			t.Helper()
			d, err := l.look(t.Context(), job)
			if err != nil {
				t.Fatal(err)
			}
			return d
		}
		for range 5 {
			if d := look(); !d.Go || d.Room != 2 {
				t.Fatalf("look = %+v, want go with room 2 (20%% of 10)", d)
			}
		}
		if ecs.reads != 1 {
			t.Errorf("five looks within %s read the size %d times, want 1", sizeTTL, ecs.reads)
		}
		time.Sleep(sizeTTL)
		ecs.size = 20
		if d := look(); ecs.reads != 2 || d.Room != 4 {
			t.Errorf("a look after %s: %d reads, room %d; want the size read again (2 reads) and room 4 (20%% of 20)", sizeTTL, ecs.reads, d.Room)
		}
	})
}

// fullCounter counts the look-ahead's filtered reads of a cluster that has n instances staged
// ahead.
type fullCounter struct{ n, counts int }

func (f *fullCounter) CountInstances(_ context.Context, _, filter string) (int, error) {
	f.counts++
	if strings.Contains(filter, "== staged") {
		return f.n, nil
	}
	return 0, nil
}

func (f *fullCounter) Clusters(context.Context, []string) ([]cluster.Cluster, error) { return nil, nil }

// The jobs held in the queue come back every recheck and would each count the cluster's staged
// instances again to find the look-ahead still full: a look that found it full answers those that
// follow for a quarter of the recheck, until a drain here frees room, which is counted at once.
func TestAFullLookAheadIsCountedOncePerQuarterRecheck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ecs := &fullCounter{n: 1} // the default limit of 1, full
		l := newLookahead(ecs, policy.Set{Default: policy.Policy{MaxOutOfService: update.DefaultLimit}}, time.Minute, DefaultStageWaiting)
		look := func() update.Lookahead {
			t.Helper()
			d, err := l.look(t.Context(), handJob())
			if err != nil {
				t.Fatal(err)
			}
			return d
		}
		for range 5 {
			if d := look(); d.Go {
				t.Fatalf("look = %+v, want held: the look-ahead is full", d)
			}
		}
		if ecs.counts != 2 {
			t.Errorf("five looks at a full look-ahead made %d counts, want 2 (one look)", ecs.counts)
		}
		l.Drained("prod")
		ecs.n = 0
		if d := look(); !d.Go || ecs.counts != 4 {
			t.Errorf("look after a drain here = %+v after %d counts, want go after counting again (4)", d, ecs.counts)
		}
		ecs.n = 1
		look() // full again
		time.Sleep(15 * time.Second)
		ecs.n = 0 // another replica's drain, which this one does not hear of
		if d := look(); !d.Go || ecs.counts != 8 {
			t.Errorf("look a quarter recheck after the full one = %+v after %d counts, want go after counting again (8)", d, ecs.counts)
		}
	})
}

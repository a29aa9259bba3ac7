package patch

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/ssmcommand/ssmcommandtest"
	"github.com/rollwave/rollwave/shared/update"
)

// waveHost runs 1.19.5; its repository carries 1.20.3 (the rollout's version) and 1.21.0,
// released since. Under version-lock latest its update check chooses nothing until its wave came
// (waveCame), then the newest, 1.21.0; locked (by the version-lock document, which toggles the
// lock between the rollout's version and latest) it chooses 1.20.3.
type waveHost struct {
	mu                      sync.Mutex
	waveCame, locked, ready bool
}

func (h *waveHost) answer(doc, _ string) ssmcommandtest.Response {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch doc {
	case "rollwave-version-lock":
		h.locked = !h.locked
		return ssmcommandtest.Response{}
	case "rollwave-update-apply":
		if !h.locked {
			return ssmcommandtest.Response{ExitCode: 1, Stderr: "test host: apply without the lock would stage 1.21.0"}
		}
		h.ready = true
		return ssmcommandtest.Response{}
	case "rollwave-update-check":
		state, chosen, staging := "Idle", "null", "null"
		switch {
		case h.locked:
			state, chosen = "Available", `{"arch":"x86_64","version":"1.20.3","variant":"aws-ecs-2"}`
		case h.waveCame:
			state, chosen = "Available", `{"arch":"x86_64","version":"1.21.0","variant":"aws-ecs-2"}`
		}
		if h.ready {
			state = "Ready"
			staging = `{"image":{"arch":"x86_64","version":"1.20.3","variant":"aws-ecs-2"},"next_to_boot":true}`
		}
		return ssmcommandtest.Response{Stdout: fmt.Sprintf(`{"update_state":%q,"available_updates":["1.21.0","1.20.3","1.19.5"],
			"chosen_update":%s,"active_partition":{"image":{"arch":"x86_64","version":"1.19.5","variant":"aws-ecs-2"},"next_to_boot":%t},
			"staging_partition":%s}`, state, chosen, !h.ready, staging)}
	}
	return ssmcommandtest.Response{ExitCode: 1, Stderr: "test host: unexpected document " + doc}
}

// TestRolloutWaitsForTheWaveThenPinsTheTarget: a rollout's job whose host is not offered the
// target yet waits, visibly, without staging anything; once the host's wave came (and a newer
// version with it), the patcher pins the host to the target, stages exactly it, and sets the lock
// back to latest.
func TestRolloutWaitsForTheWaveThenPinsTheTarget(t *testing.T) {
	host := &waveHost{}
	w := newWorld(t, &bottlerocketHost{}, nil, cluster.Task{StartedBy: "ecs-svc/1", Group: "service:web", LastStatus: "RUNNING", DesiredStatus: "RUNNING"})
	w.ssm.Handler = host.answer
	job := handJob()
	job.TargetVersion, job.PinTarget = "1.20.3", true

	if out := w.handle(t, job); out != queue.Done() {
		t.Fatalf("handle() before the wave = %+v, want Done (the job sent back)", out)
	}
	if len(w.rec.jobs) != 1 || w.rec.jobs[0].url != "patcher" || w.rec.jobs[0].delay != 10*time.Minute {
		t.Fatalf("sent = %+v, want the job back on the patcher's queue in 10m", w.rec.jobs)
	}
	a := w.attrs(t)
	if a[update.AttrJob] != "msg-1" || a[update.AttrStage] != "staging" || !strings.HasPrefix(a[update.AttrWaiting], "version-not-offered since ") {
		t.Errorf("attributes while waiting = %v, want the instance held (rollwave.job, staging) and rollwave.waiting=version-not-offered since …", a)
	}
	for _, c := range w.ssm.Calls() {
		if c.Op == "Run" && (c.Args[0] == "rollwave-update-apply" || c.Args[0] == "rollwave-version-lock") {
			t.Errorf("SSM %v before the host's wave, want only update checks", c.Args)
		}
	}

	host.mu.Lock()
	host.waveCame = true
	host.mu.Unlock()
	waiting := w.rec.jobs[0].job
	if out := w.handle(t, waiting); out != queue.Done() {
		t.Fatalf("handle() after the wave = %+v, want Done", out)
	}
	if len(w.rec.jobs) != 2 || w.rec.jobs[1].url != "drainer" {
		t.Fatalf("sent = %+v, want the job forwarded to the drainer", w.rec.jobs)
	}
	if j := w.rec.jobs[1].job; j.StagedVersion != "1.20.3" || j.TargetVersion != "1.20.3" || j.FromVersion != "1.19.5" {
		t.Errorf("forwarded job = %+v, want 1.19.5 -> staged 1.20.3, not the newer 1.21.0", j)
	}
	var locks []string
	for _, c := range w.ssm.Calls() {
		if c.Op == "Run" && c.Args[0] == "rollwave-version-lock" {
			locks = append(locks, c.Args[len(c.Args)-1])
		}
	}
	if want := []string{"version=1.20.3", "version=latest"}; fmt.Sprint(locks) != fmt.Sprint(want) {
		t.Errorf("version-lock runs = %v, want %v: pinned to stage, then back to latest", locks, want)
	}
	a = w.attrs(t)
	if _, ok := a[update.AttrWaiting]; ok || a[update.AttrStage] != "staged" {
		t.Errorf("attributes after staging = %v, want staged and no rollwave.waiting", a)
	}
}

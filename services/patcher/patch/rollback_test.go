package patch

import (
	"testing"

	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/ssmcommand/ssmcommandtest"
)

// lockingHost is a host on 1.20.3 with nothing newer on offer: only the version-lock document
// makes it offer 1.19.5.
type lockingHost struct{ bottlerocketHost }

func (h *lockingHost) answer(doc, id string) ssmcommandtest.Response {
	if doc == "rollwave-version-lock" {
		h.mu.Lock()
		h.state, h.new = "Available", "1.19.5"
		h.mu.Unlock()
		return ssmcommandtest.Response{}
	}
	return h.bottlerocketHost.answer(doc, id)
}

func TestRollbackLocksTheVersionBeforeStaging(t *testing.T) {
	host := &lockingHost{bottlerocketHost{state: "Idle", active: "1.20.3"}}
	w := newWorld(t, &host.bottlerocketHost, nil, cluster.Task{StartedBy: "ecs-svc/1", Group: "service:web", LastStatus: "RUNNING", DesiredStatus: "RUNNING"})
	w.ssm.Handler = host.answer
	job := handJob()
	job.TargetVersion, job.LockVersion = "1.19.5", true
	if out := w.handle(t, job); out != queue.Done() {
		t.Fatalf("handle() = %+v, want Done", out)
	}
	var lock []string
	for _, c := range w.ssm.Calls() {
		if c.Op == "Run" && c.Args[0] == "rollwave-version-lock" {
			lock = c.Args
		}
	}
	if len(lock) == 0 || lock[len(lock)-1] != "version=1.19.5" {
		t.Fatalf("version-lock runs = %v, want one with version=1.19.5", lock)
	}
	if len(w.rec.jobs) != 1 {
		t.Fatalf("forwarded = %+v, want one job to the drainer", w.rec.jobs)
	}
	if j := w.rec.jobs[0].job; j.FromVersion != "1.20.3" || j.StagedVersion != "1.19.5" || !j.LockVersion {
		t.Errorf("forwarded job = %+v, want 1.20.3 -> staged 1.19.5 with lockVersion", j)
	}
}

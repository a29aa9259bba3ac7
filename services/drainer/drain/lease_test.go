package drain

import (
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rollwave/rollwave/shared/update"
)

// A job held outside its window keeps its instance: each look renews the lease once less than
// half of it is left, and no look is further apart than a quarter lease, however far the window.
func TestAJobWaitingForItsWindowKeepsItsLease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const lease = 20 * time.Minute
		w := newWorld(t, defaultPolicy())
		now := time.Now()
		w.d.lease.Duration = lease
		w.d.lease.Now = func() time.Time { return now }
		win, err := update.ParseWindow("Mon-Fri 09:00-17:00") // synctest starts on Saturday 2000-01-01
		if err != nil {
			t.Fatal(err)
		}
		w.d.policies.Default.Window = win
		in := w.instance(t, w.me.ARN)
		in.Attributes[update.AttrLease] = update.LeaseValue(now, 11*time.Minute) // more than half left
		w.ecs.SetInstance(in)

		look := func(wantLease string) {
			t.Helper()
			out := w.handle(t, w.job(t))
			if got, want := out.String(), "retry after 5m0s: cluster prod: outside the maintenance window"; !strings.HasPrefix(got, want) {
				t.Errorf("handle() = %s, want %s... (a quarter of the %s lease, not the 15m cap)", got, want, lease)
			}
			if got := w.instance(t, w.me.ARN).Attributes[update.AttrLease]; got != wantLease {
				t.Errorf("rollwave.lease = %s, want %s", got, wantLease)
			}
		}
		writes := func() int { // of the lease
			n := 0
			for _, c := range w.ecs.Calls() {
				if c.Op == "PutAttributes" && strings.Contains(strings.Join(c.Args, " "), update.AttrLease) {
					n++
				}
			}
			return n
		}

		look(update.LeaseValue(now, 11*time.Minute))
		if n := writes(); n != 0 {
			t.Errorf("a look with more than half the lease left wrote the lease %d times, want never", n)
		}
		now = now.Add(5 * time.Minute) // 6 of 20 minutes left: due
		look(update.LeaseValue(now, lease))
		if n := writes(); n != 1 {
			t.Errorf("a look with less than half the lease left wrote the lease %d times, want once", n)
		}
		now = now.Add(5 * time.Minute) // 15 of 20 left
		look(update.LeaseValue(now.Add(-5*time.Minute), lease))
		if n := writes(); n != 1 {
			t.Errorf("after the renewal, a look wrote the lease again (%d writes), want no more", n)
		}
	})
}

// A job that lost its instance to the reclaimer (rollwave.job gone, or another job's) never
// writes a lease on it.
func TestAJobWithoutItsMarkWritesNoLease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, defaultPolicy())
		in := w.instance(t, w.me.ARN)
		in.Attributes = map[string]string{"bottlerocket.variant": "aws-ecs-2", update.AttrJob: "job-2",
			update.AttrStage: string(update.StageStaged), update.AttrLease: "2000-01-01T00:00:00Z"}
		w.ecs.SetInstance(in)
		w.handle(t, w.job(t))
		if got := w.instance(t, w.me.ARN).Attributes[update.AttrLease]; got != "2000-01-01T00:00:00Z" {
			t.Errorf("rollwave.lease of another job's instance = %s, want it untouched", got)
		}
	})
}

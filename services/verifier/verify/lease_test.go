package verify

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/rollwave/rollwave/shared/update"
)

// A host that takes long to come back keeps its job's lease: the verifying mark writes a fresh
// one, and the looks while the host is down renew it once less than half is left, never on every
// look.
func TestAHostSlowToComeBackKeepsItsJobsLease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const lease = 20 * time.Minute
		w := newWorld(t, update.ParkFailed)
		w.v.lease.Duration = lease
		start := time.Now()
		wait := w.start(t, w.job(t))
		synctest.Wait()
		if got, want := w.instance().Attributes[update.AttrLease], update.LeaseValue(start, lease); got != want {
			t.Errorf("rollwave.lease after the verifying mark = %s, want %s", got, want)
		}
		w.goDown()
		time.Sleep(12 * time.Minute) // fake time: the host stays down, looked at every 30s
		synctest.Wait()
		exp, err := update.ParseLease(w.instance().Attributes[update.AttrLease])
		if err != nil {
			t.Fatal(err)
		}
		if left := time.Until(exp); left < lease/2 {
			t.Errorf("12m into the wait, %s of the %s lease left, want at least half (renewed)", left, lease)
		}
		leaseWrites := 0
		for _, c := range w.ecs.Calls() {
			if c.Op == "PutAttributes" && len(c.Args) == 2 && c.Args[1] == update.AttrLease {
				leaseWrites++
			}
		}
		if leaseWrites != 1 {
			t.Errorf("%d lease renewals in 12m of looks every 30s, want 1 (once less than half of 20m was left)", leaseWrites)
		}
		w.comeBack(newVersion, "Idle")
		if got := wait(); got.String() != "done" {
			t.Fatalf("handle = %s, want done", got)
		}
		if _, ok := w.instance().Attributes[update.AttrLease]; ok {
			t.Errorf("rollwave.lease left on the updated instance: %v", marks(w.instance()))
		}
	})
}

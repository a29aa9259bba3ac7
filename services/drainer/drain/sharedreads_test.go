package drain

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rollwave/rollwave/shared/cluster"
)

// slowCluster answers each whole-cluster read after a second (virtual time), with the read's
// number as the one instance's ARN, so a caller can tell which read it got; failing makes the
// reads fail.
type slowCluster struct {
	instances // only the methods below are called
	mu        sync.Mutex
	reads     int
	filtered  int
	failing   bool
}

func (s *slowCluster) ListInstances(_ context.Context, _, status, filter string) ([]cluster.Instance, error) {
	s.mu.Lock()
	if status != "" || filter != "" {
		s.filtered++
		s.mu.Unlock()
		return nil, nil
	}
	s.reads++
	n, failing := s.reads, s.failing
	s.mu.Unlock()
	time.Sleep(time.Second)
	if failing {
		return nil, fmt.Errorf("read %d: throttled", n)
	}
	return []cluster.Instance{{ARN: fmt.Sprint("read-", n)}}, nil
}

// Looks of a cluster that ask at the same time share a read, and none gets a read that began
// before it asked: the first caller's read, then one read for all who asked during it.
func TestSharedReadsShareOnlyReadsThatBeganAfterTheCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		slow := &slowCluster{}
		s := newSharedReads(slow)
		got := make([]string, 11)
		var wg sync.WaitGroup
		look := func(i int) {
			defer wg.Done()
			all, err := s.ListInstances(t.Context(), "prod", "", "")
			if err != nil {
				t.Errorf("look %d: %v", i, err)
				return
			}
			got[i] = all[0].ARN
		}
		wg.Add(1)
		go look(0)
		time.Sleep(500 * time.Millisecond) // the first read is under way
		for i := 1; i <= 10; i++ {
			wg.Add(1)
			go look(i)
		}
		wg.Wait()
		if slow.reads != 2 {
			t.Errorf("%d reads for 11 looks, want 2", slow.reads)
		}
		if got[0] != "read-1" {
			t.Errorf("the first look got %s, want read-1", got[0])
		}
		for i := 1; i <= 10; i++ {
			if got[i] != "read-2" {
				t.Errorf("look %d, which asked while read-1 was under way, got %s; want read-2", i, got[i])
			}
		}
		// Once no read is under way, a look reads again at once.
		all, err := s.ListInstances(t.Context(), "prod", "", "")
		if err != nil || all[0].ARN != "read-3" {
			t.Errorf("a later look got %v, %v; want read-3", all, err)
		}
		// Another cluster, or a filtered read, is not shared with these.
		if _, err := s.ListInstances(t.Context(), "prod", "DRAINING", ""); err != nil || slow.filtered != 1 {
			t.Errorf("filtered read: %v, %d filtered reads; want 1", err, slow.filtered)
		}
	})
}

// A look that gives up (its context ends) stops waiting with its context's error, and the read
// it waited for still runs. A failed read's error goes to the looks that shared it, and a later
// look reads again.
func TestSharedReadsCancelAndFail(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		slow := &slowCluster{failing: true}
		s := newSharedReads(slow)
		failed := make(chan error, 1)
		go func() {
			_, err := s.ListInstances(t.Context(), "prod", "", "")
			failed <- err
		}()
		time.Sleep(10 * time.Millisecond) // read 1 is under way
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		if _, err := s.ListInstances(ctx, "prod", "", ""); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("the look that gave up got %v, want %v", err, context.DeadlineExceeded)
		}
		if err := <-failed; err == nil || err.Error() != "read 1: throttled" {
			t.Errorf("the first look got %v, want read 1's error", err)
		}
		time.Sleep(2 * time.Second) // read 2, for the look that gave up, ran and failed
		slow.mu.Lock()
		reads := slow.reads
		slow.failing = false
		slow.mu.Unlock()
		if reads != 2 {
			t.Errorf("%d reads, want 2", reads)
		}
		all, err := s.ListInstances(t.Context(), "prod", "", "")
		if err != nil || all[0].ARN != "read-3" {
			t.Errorf("a later look got %v, %v; want read-3", all, err)
		}
	})
}

package jobs

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestLocksSerialiseTheSameKeyOnly(t *testing.T) {
	l := NewLocks()
	ctx := context.Background()
	unlockA, err := l.Lock(ctx, "prod/i-1")
	if err != nil {
		t.Fatal(err)
	}
	// Another key is free at once.
	unlockB, err := l.Lock(ctx, "prod/i-2")
	if err != nil {
		t.Fatalf("Lock(other key) = %v, want it free", err)
	}
	unlockB()

	got := make(chan struct{})
	go func() {
		unlock, err := l.Lock(ctx, "prod/i-1")
		if err == nil {
			close(got)
			unlock()
		}
	}()
	select {
	case <-got:
		t.Fatal("second Lock of a held key returned before Unlock")
	case <-time.After(20 * time.Millisecond): // a bound on how long we watch for a wrong early return
	}
	unlockA()
	select {
	case <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("second Lock did not return after Unlock")
	}
}

func TestLockHonoursTheContext(t *testing.T) {
	l := NewLocks()
	unlock, _ := l.Lock(context.Background(), "k")
	defer unlock()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Lock(ctx, "k"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Lock(cancelled ctx) = %v, want context.Canceled", err)
	}
}

func TestLocksUnderContention(t *testing.T) {
	l := NewLocks()
	var mu sync.Mutex
	inside, maxInside := 0, 0
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			unlock, err := l.Lock(context.Background(), "k")
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			inside++
			maxInside = max(maxInside, inside)
			mu.Unlock()
			mu.Lock()
			inside--
			mu.Unlock()
			unlock()
		}()
	}
	wg.Wait()
	if maxInside != 1 {
		t.Errorf("at most %d holders at once, want 1", maxInside)
	}
}

package drain

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/rs/zerolog"

	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/ecsevent"
	"github.com/rollwave/rollwave/shared/pause"
	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/update"
	"github.com/rollwave/rollwave/shared/wake"
)

// queued runs the drainer as a queue worker on w's fake SQS with a Room, and sends job-1 to its
// queue. It returns the room and a function that counts the handler's looks so far.
func queued(t *testing.T, w *world) (*wake.Room, func() int) {
	t.Helper()
	ctx := t.Context()
	dlq, err := w.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("rollwave-drainer-dlq")})
	if err != nil {
		t.Fatal(err)
	}
	q, err := w.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("rollwave-drainer")})
	if err != nil {
		t.Fatal(err)
	}
	room := wake.NewRoom(time.Now)
	w.d.room, w.d.visibility, w.d.queueURL = room, w.sqs, aws.ToString(q.QueueUrl)
	var mu sync.Mutex
	looks := 0
	handle := func(ctx context.Context, m queue.Message) queue.Outcome {
		mu.Lock()
		looks++
		mu.Unlock()
		return w.d.handle(ctx, m)
	}
	worker, err := queue.NewWorker(w.sqs, queue.Config{
		QueueURL: w.d.queueURL, DeadLetterURL: aws.ToString(dlq.QueueUrl), MaxReceiveCount: 100,
		VisibilityTimeout: 2 * time.Minute, WaitTime: 20 * time.Second, Concurrency: 4,
		ShutdownGrace: time.Second, Backoff: queue.Backoff{Initial: 5 * time.Second, Max: time.Minute},
	}, handle, zerolog.New(zerolog.NewTestWriter(t)))
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = worker.Run(runCtx) }()
	t.Cleanup(func() { cancel(); <-done })
	if _, err := queue.NewPublisher(w.sqs).Send(ctx, w.d.queueURL, w.job(t), 0, nil); err != nil {
		t.Fatal(err)
	}
	return room, func() int { mu.Lock(); defer mu.Unlock(); return looks }
}

// returned is the ECS event of in back in service: ACTIVE, agent connected, no rollwave stage.
func returned(in cluster.Instance) *ecsevent.ContainerInstanceStateChange {
	return &ecsevent.ContainerInstanceStateChange{ClusterARN: "arn:aws:ecs:us-east-1:123456789012:cluster/" + testCluster,
		ContainerInstanceARN: in.ARN, EC2InstanceID: in.EC2InstanceID, Status: cluster.StatusActive, AgentConnected: true}
}

// TestHeldJobIsWokenWhenAnInstanceOfItsClusterReturns: a job held by the cluster limit waits,
// hidden for the backstop (5m30s), without being looked at again; the ECS event of the draining
// instance's return wakes it at once, and it is admitted. An event of an instance that was never
// out of service wakes nothing.
func TestHeldJobIsWokenWhenAnInstanceOfItsClusterReturns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, defaultPolicy())
		w.mark(w.others[0], "job-2", update.StageDraining, cluster.StatusDraining)
		room, looks := queued(t, w)
		start := time.Now()
		synctest.Wait()
		if got := looks(); got != 1 {
			t.Fatalf("looks after the first receive = %d, want 1 (held)", got)
		}
		if got := room.Parked(wake.Key(testCluster)); got != 1 {
			t.Fatalf("jobs parked for the cluster = %d, want 1", got)
		}

		time.Sleep(time.Minute)
		room.Observe(t.Context(), returned(w.others[1])) // never out of service: not a return
		synctest.Wait()
		if got := looks(); got != 1 {
			t.Fatalf("looks after an event of an instance in service = %d, want 1 (still asleep)", got)
		}

		back := w.instance(t, w.others[0].ARN)
		back.Status = cluster.StatusActive
		delete(back.Attributes, update.AttrJob)
		delete(back.Attributes, update.AttrStage)
		w.ecs.SetInstance(back)
		room.Observe(t.Context(), returned(back))
		synctest.Wait()
		if got := looks(); got != 2 {
			t.Fatalf("looks after the return = %d, want 2 (woken)", got)
		}
		if in := w.instance(t, w.me.ARN); in.Status != cluster.StatusDraining {
			t.Errorf("after the wake: status %s, want DRAINING (admitted)", in.Status)
		}
		if waited := time.Since(start); waited >= 5*time.Minute {
			t.Errorf("admitted after %s, want at the event (1m), not the backstop", waited)
		}
	})
}

// TestPausedJobIsWokenWhenThePauseEnds: a job held by a pause waits for the backstop (5m30s)
// unless the pause ends: the watcher sees the resume within the pause refresh and wakes it.
func TestPausedJobIsWokenWhenThePauseEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, defaultPolicy())
		store := &tags{tags: map[string]string{"rollwave:paused:prod": "alice: CVE triage"}}
		w.d.pauses = pause.NewCache(store, "q", 5*time.Second)
		_, looks := queued(t, w)
		ctx, stop := context.WithCancel(t.Context())
		watched := make(chan struct{})
		go func() { defer close(watched); w.d.watchResumes(ctx, 5*time.Second) }()
		defer func() { stop(); <-watched }()
		start := time.Now()
		synctest.Wait()
		if got := looks(); got != 1 {
			t.Fatalf("looks while paused = %d, want 1", got)
		}
		time.Sleep(time.Minute)
		if got := looks(); got != 1 {
			t.Fatalf("looks a minute into the pause = %d, want 1 (asleep)", got)
		}
		store.set(nil, nil) // resumed
		time.Sleep(11 * time.Second)
		synctest.Wait()
		if in := w.instance(t, w.me.ARN); in.Status != cluster.StatusDraining || looks() != 2 {
			t.Errorf("after the resume: status %s after %d looks, want DRAINING after 2", in.Status, looks())
		}
		if waited := time.Since(start); waited >= 5*time.Minute {
			t.Errorf("admitted after %s, want within the pause refresh of the resume", waited)
		}
	})
}

package service

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"regexp"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/rs/zerolog"

	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/jobs"
	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/queue/queuetest"
	"github.com/rollwave/rollwave/shared/topology"
	"github.com/rollwave/rollwave/shared/update"
)

// urlSQS adds GetQueueUrl to the fake, answering for the queues created through it.
type urlSQS struct {
	*queuetest.SQS
	urls map[string]string
}

func (s urlSQS) GetQueueUrl(_ context.Context, in *sqs.GetQueueUrlInput, _ ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error) {
	url, ok := s.urls[*in.QueueName]
	if !ok {
		return nil, errors.New("no such queue " + *in.QueueName)
	}
	return &sqs.GetQueueUrlOutput{QueueUrl: &url}, nil
}

// oneInstance is the ECS adapter of one container instance, for jobs.Instance.
type oneInstance struct{ in cluster.Instance }

func (o oneInstance) Instance(context.Context, string, string) (cluster.Instance, error) {
	return o.in, nil
}

type noMarks struct{}

func (noMarks) PutAttributes(context.Context, string, string, map[string]string) error { return nil }
func (noMarks) DeleteAttributes(context.Context, string, string, ...string) error      { return nil }

type noEvents struct{}

func (noEvents) Publish(context.Context, string, any, ...string) error { return nil }

type everyCluster struct{}

func (everyCluster) Manages(context.Context, string) (bool, error) { return true, nil }

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// snakeCase is the form of every log key (docs/architecture.md, "Logs").
var snakeCase = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// keys returns the keys of one JSON log line in order, duplicates kept, which a decode into a
// map would hide.
func keys(t *testing.T, line string) []string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("log line %q is not a JSON object", line)
	}
	var out []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, tok.(string))
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
	}
	return out
}

// TestWorkerLogLinesSpeakTheVocabulary runs a job through a worker wired as the four are (the
// queue worker NewWorker makes, the shared bookkeeping of shared/jobs) and reads every line it
// logs: no key twice, every key snake_case, and the lines about the job name its instance by EC2
// ID under instance and by ARN under instance_arn.
func TestWorkerLogLinesSpeakTheVocabulary(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		fake := urlSQS{SQS: queuetest.NewSQS(), urls: map[string]string{}}
		topo := topology.Default("rw")
		q, _ := topo.Queue(topology.Drainer)
		for _, name := range []string{q.DeadLetter.Name, q.Name} {
			in := &sqs.CreateQueueInput{QueueName: &name}
			if name == q.Name {
				in.Attributes = map[string]string{"RedrivePolicy": `{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:123456789012:` + q.DeadLetter.Name + `","maxReceiveCount":5}`}
			}
			out, err := fake.CreateQueue(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			fake.urls[name] = *out.QueueUrl
		}

		var logs syncBuffer
		c := Common{Prefix: "rw", LogLevel: zerolog.DebugLevel, ShutdownGrace: time.Second}
		inst := cluster.Instance{ARN: "arn:aws:ecs:us-east-1:123456789012:container-instance/prod/abc", EC2InstanceID: "i-0123456789abcdef0"}
		ender := &jobs.Ender{Marks: noMarks{}, Events: noEvents{}, By: "drainer", Now: time.Now}
		var locks jobs.Locks
		handled := make(chan struct{})
		h := func(ctx context.Context, m queue.Message) queue.Outcome {
			defer close(handled)
			job, unlock, out, ok := jobs.Receive(ctx, &locks, everyCluster{}, m, false)
			if !ok {
				t.Errorf("Receive() = %v", out)
				return out
			}
			defer unlock()
			if _, err := jobs.Instance(ctx, oneInstance{inst}, &job); err != nil {
				return queue.Retry(err)
			}
			queue.Logger(ctx).Info().Msg("draining")
			if err := ender.End(ctx, &job, update.Skipped(update.CodeNoUpdate, "nothing to do"), jobs.LeaveMarks); err != nil {
				return queue.Retry(err)
			}
			return queue.Done()
		}
		w, err := c.NewWorker(ctx, fake, c.Queues(fake), topology.Drainer, 1, h, c.Logger(&logs, "drainer"))
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- w.Run(ctx) }()
		body := `{"schema":"rollwave.job/v1","id":"j-1","cluster":"prod","instance":"i-0123456789abcdef0","step":"drain","requestedBy":"test","reason":"test"}`
		if _, err := queue.NewPublisher(fake).Send(ctx, fake.urls[q.Name], []byte(body), 0, nil); err != nil {
			t.Fatal(err)
		}
		<-handled
		synctest.Wait()
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("Run() = %v", err)
		}

		lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
		about := 0
		for _, line := range lines {
			seen := map[string]bool{}
			for _, k := range keys(t, line) {
				if seen[k] {
					t.Errorf("log line has the key %q twice: %s", k, line)
				}
				seen[k] = true
				if !snakeCase.MatchString(k) {
					t.Errorf("log key %q is not snake_case: %s", k, line)
				}
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatal(err)
			}
			if m["queue"] != q.Name {
				t.Errorf("queue = %v, want %s: %s", m["queue"], q.Name, line)
			}
			if m["job"] == nil {
				continue
			}
			about++
			if m["instance"] != "i-0123456789abcdef0" {
				t.Errorf("instance = %v, want the EC2 ID i-0123456789abcdef0: %s", m["instance"], line)
			}
			if m["message"] != "job ended" && m["message"] != "draining" && m["message"] != "done" {
				continue
			}
			if m["instance_arn"] != inst.ARN {
				t.Errorf("instance_arn = %v, want %s: %s", m["instance_arn"], inst.ARN, line)
			}
		}
		if about < 3 {
			t.Errorf("%d log lines about the job, want at least 3 (the handler's, the ending, the outcome):\n%s", about, logs.String())
		}
	})
}

var _ io.Writer = (*syncBuffer)(nil)

package topology_test

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	"github.com/rollwave/rollwave/shared/topology"
)

// urlGetter answers GetQueueUrl for the queues it holds and counts the calls by queue name.
type urlGetter struct {
	mu     sync.Mutex
	queues map[string]bool
	calls  map[string]int
}

func (g *urlGetter) GetQueueUrl(_ context.Context, in *sqs.GetQueueUrlInput, _ ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	name := aws.ToString(in.QueueName)
	g.calls[name]++
	if !g.queues[name] {
		return nil, &smithy.GenericAPIError{Code: "AWS.SimpleQueueService.NonExistentQueue", Message: "no queue " + name}
	}
	return &sqs.GetQueueUrlOutput{QueueUrl: aws.String("https://sqs.test/1/" + name)}, nil
}

func deployed(t topology.Topology) *urlGetter {
	g := &urlGetter{queues: map[string]bool{}, calls: map[string]int{}}
	for _, q := range t.Queues {
		g.queues[q.Name], g.queues[q.DeadLetter.Name] = true, true
	}
	return g
}

// A worker resolves the queues it uses, each once for the life of the process.
func TestResolverAsksForEachQueueItUsesOnce(t *testing.T) {
	top := topology.Default("")
	g := deployed(top)
	r := topology.NewResolver(g, top)
	ctx := t.Context()
	for range 3 {
		q, err := r.Queue(ctx, topology.Drainer)
		if err != nil {
			t.Fatalf("Queue(drainer) = %v", err)
		}
		want := topology.ResolvedQueue{Name: "rollwave-drainer", URL: "https://sqs.test/1/rollwave-drainer",
			DeadLetterName: "rollwave-drainer-dlq", DeadLetterURL: "https://sqs.test/1/rollwave-drainer-dlq"}
		if diff := cmp.Diff(want, q); diff != "" {
			t.Errorf("Queue(drainer) (-want +got):\n%s", diff)
		}
		if url, err := r.URL(ctx, topology.Patcher); err != nil || url != "https://sqs.test/1/rollwave-patcher" {
			t.Errorf("URL(patcher) = %q, %v; want its URL", url, err)
		}
	}
	want := map[string]int{"rollwave-drainer": 1, "rollwave-drainer-dlq": 1, "rollwave-patcher": 1}
	if diff := cmp.Diff(want, g.calls); diff != "" {
		t.Errorf("GetQueueUrl calls by queue (-want +got):\n%s", diff)
	}
}

// A queue that is missing is named, with its dead-letter queue when both are; the failure is not
// remembered, so the queue is found once it exists.
func TestResolverNamesMissingQueuesAndTriesAgain(t *testing.T) {
	top := topology.Default("")
	g := deployed(top)
	delete(g.queues, "rollwave-verifier")
	delete(g.queues, "rollwave-verifier-dlq")
	r := topology.NewResolver(g, top)
	_, err := r.Queue(t.Context(), topology.Verifier)
	if err == nil || !strings.Contains(err.Error(), "url rollwave-verifier:") || !strings.Contains(err.Error(), "rollwave-verifier-dlq") {
		t.Errorf("Queue(verifier) error = %v, want one naming rollwave-verifier and rollwave-verifier-dlq", err)
	}
	if _, err := r.Queue(t.Context(), "nightly"); err == nil || !strings.Contains(err.Error(), `"nightly"`) {
		t.Errorf("Queue(nightly) error = %v, want one naming the unknown queue", err)
	}
	g.mu.Lock()
	g.queues["rollwave-verifier"], g.queues["rollwave-verifier-dlq"] = true, true
	g.mu.Unlock()
	if _, err := r.Queue(t.Context(), topology.Verifier); err != nil {
		t.Errorf("Queue(verifier) once created = %v, want it found", err)
	}
}

// failingGetter fails every GetQueueUrl with err.
type failingGetter struct{ err error }

func (g failingGetter) GetQueueUrl(context.Context, *sqs.GetQueueUrlInput, ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error) {
	return nil, g.err
}

// TestResolverSaysWhatToDo: the first call a worker makes to SQS is where a deployment that is
// not there, an endpoint that is wrong and missing credentials show; each gets one error that
// says what to do next.
func TestResolverSaysWhatToDo(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"no queue", &smithy.GenericAPIError{Code: "QueueDoesNotExist", Message: "nope"},
			"the queue does not exist: create the deployment (terraform apply; tools/bootstrap for a local stack), or check ROLLWAVE_PREFIX and AWS_REGION"},
		{"nothing listens", &smithy.OperationError{ServiceID: "SQS", OperationName: "GetQueueUrl",
			Err: &url.Error{Op: "Post", URL: "http://127.0.0.1:1/", Err: &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}}},
			"SQS cannot be reached: check AWS_ENDPOINT_URL or AWS_ENDPOINT_URL_SQS (unset for AWS itself), AWS_REGION and the network"},
		{"no credentials", &smithy.OperationError{ServiceID: "SQS", OperationName: "GetQueueUrl",
			Err: errors.New("get identity: get credentials: failed to refresh cached credentials, no EC2 IMDS role found")},
			"no AWS credentials: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give the task a role"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := topology.NewResolver(failingGetter{tt.err}, topology.Default("rw")).URL(t.Context(), topology.Patcher)
			if err == nil || !strings.Contains(err.Error(), "get queue url rw-patcher: "+tt.want+": ") || !errors.Is(err, tt.err) {
				t.Errorf("URL() = %v, want %q and the cause", err, tt.want)
			}
		})
	}
	other := &smithy.GenericAPIError{Code: "AccessDenied", Message: "not allowed"}
	if _, err := topology.NewResolver(failingGetter{other}, topology.Default("rw")).URL(t.Context(), topology.Patcher); err == nil || strings.Count(err.Error(), ": ") != 3 {
		t.Errorf("URL() with an error of another kind = %v, want it as it is", err)
	}
}

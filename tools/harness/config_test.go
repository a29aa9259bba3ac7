package harness

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/google/go-cmp/cmp"
)

// recorder is a server that counts the requests it gets, by X-Amz-Target or Action.
type recorder struct {
	*httptest.Server
	mu  sync.Mutex
	got []string
}

func newRecorder(t *testing.T) *recorder {
	r := &recorder{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.got = append(r.got, req.Header.Get("X-Amz-Target"))
		r.mu.Unlock()
		w.WriteHeader(http.StatusBadRequest) // the clients fail; only where they went matters
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *recorder) calls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Compact(slices.Clone(r.got)) // retries repeat a call
}

func TestAWSConfigRoutesServices(t *testing.T) {
	// What a developer's shell may hold must not redirect the clients.
	t.Setenv("AWS_ENDPOINT_URL_SQS", "http://127.0.0.1:1")
	t.Setenv("AWS_ENDPOINT_URL_ECS", "http://127.0.0.1:1")
	t.Setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")
	t.Setenv("AWS_PROFILE", "no-such-profile")

	emulator, fleetsim := newRecorder(t), newRecorder(t)
	s := &Stack{EmulatorURL: emulator.URL, FleetsimURL: fleetsim.URL, Region: Region, t: t, id: randomID()}
	ctx := t.Context()
	cfg := s.AWSConfig(ctx)
	cfg.RetryMaxAttempts = 1

	_, _ = ecs.NewFromConfig(cfg).ListClusters(ctx, &ecs.ListClustersInput{})
	_, _ = ssm.NewFromConfig(cfg).ListDocuments(ctx, &ssm.ListDocumentsInput{})
	_, _ = sqs.NewFromConfig(cfg).ListQueues(ctx, &sqs.ListQueuesInput{})
	_, _ = eventbridge.NewFromConfig(cfg).ListRules(ctx, &eventbridge.ListRulesInput{})

	if diff := cmp.Diff([]string{"AmazonEC2ContainerServiceV20141113.ListClusters", "AmazonSSM.ListDocuments"}, fleetsim.calls()); diff != "" {
		t.Errorf("fleetsim calls (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"AmazonSQS.ListQueues", "AWSEvents.ListRules"}, emulator.calls()); diff != "" {
		t.Errorf("emulator calls (-want +got):\n%s", diff)
	}
}

func TestEnv(t *testing.T) {
	s := &Stack{EmulatorURL: "http://127.0.0.1:5000", FleetsimURL: "http://127.0.0.1:6000", Region: Region}
	want := []string{
		"AWS_ENDPOINT_URL=http://127.0.0.1:5000",
		"AWS_REGION=us-east-1",
		"AWS_DEFAULT_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=test",
		"AWS_SECRET_ACCESS_KEY=test",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_ENDPOINT_URL_ECS=http://127.0.0.1:6000",
		"AWS_ENDPOINT_URL_SSM=http://127.0.0.1:6000",
		"AWS_ENDPOINT_URL_EC2=http://127.0.0.1:6000",
	}
	if diff := cmp.Diff(want, s.Env()); diff != "" {
		t.Errorf("Env() (-want +got):\n%s", diff)
	}
}

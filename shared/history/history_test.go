package history_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	logstypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/google/go-cmp/cmp"

	"github.com/rollwave/rollwave/shared/history"
)

const (
	started = `{"version":"0","source":"rollwave","detail-type":"Instance Update Started","time":"2025-06-02T09:00:02Z",` +
		`"detail":{"jobId":"j1","cluster":"prod","instance":"i-0123456789abcdef0","ec2InstanceId":"i-0123456789abcdef0","fromVersion":"1.19.5","toVersion":"1.20.3","requestedBy":"scanner","step":"stage","at":"2025-06-02T09:00:02Z"}}`
	failed = `{"version":"0","source":"rollwave","detail-type":"Instance Update Failed","time":"2025-06-02T09:31:41Z",` +
		`"detail":{"jobId":"j1","cluster":"prod","instance":"i-0123456789abcdef0","outcome":"failed","reason":"drain-timeout","message":"2 tasks left","step":"drain","at":"2025-06-02T09:31:41Z"}}`
	halted = `{"version":"0","source":"rollwave","detail-type":"Cluster Rollout Halted","time":"2025-06-02T09:31:42Z",` +
		`"detail":{"cluster":"prod","reason":"error-budget","jobIds":["j1"],"instances":["i-0123456789abcdef0"],"at":"2025-06-02T09:31:42Z"}}`
	admitted = `{"version":"0","source":"rollwave","detail-type":"Instance Update Progressed","time":"2025-06-02T09:05:00Z",` +
		`"detail":{"jobId":"j1","cluster":"prod","instance":"i-0123456789abcdef0","decision":"admitted","message":"cluster prod: 1 of at most 1","receives":3,"step":"drain","at":"2025-06-02T09:05:00Z"}}`
	other = `{"version":"0","source":"aws.ecs","detail-type":"ECS Container Instance State Change","time":"2025-06-02T09:00:00Z","detail":{}}`
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name    string
		message string
		want    history.Record
		wantErr bool
	}{
		{"a start is the patcher's", started, history.Record{
			At: at("2025-06-02T09:00:02Z"), Event: "Instance Update Started", Worker: "patcher",
			JobID: "j1", Cluster: "prod", Instance: "i-0123456789abcdef0", EC2InstanceID: "i-0123456789abcdef0",
			FromVersion: "1.19.5", ToVersion: "1.20.3", RequestedBy: "scanner", Step: "stage",
		}, false},
		{"a failure at drain is the drainer's", failed, history.Record{
			At: at("2025-06-02T09:31:41Z"), Event: "Instance Update Failed", Worker: "drainer",
			JobID: "j1", Cluster: "prod", Instance: "i-0123456789abcdef0",
			Outcome: "failed", Reason: "drain-timeout", Message: "2 tasks left", Step: "drain",
		}, false},
		{"a decision at drain is the drainer's, with the receives it took", admitted, history.Record{
			At: at("2025-06-02T09:05:00Z"), Event: "Instance Update Progressed", Worker: "drainer",
			JobID: "j1", Cluster: "prod", Instance: "i-0123456789abcdef0", Decision: "admitted", Receives: 3,
			Message: "cluster prod: 1 of at most 1", Step: "drain",
		}, false},
		{"a halt names its jobs", halted, history.Record{
			At: at("2025-06-02T09:31:42Z"), Event: "Cluster Rollout Halted", Cluster: "prod", Reason: "error-budget",
			JobIDs: []string{"j1"}, Instances: []string{"i-0123456789abcdef0"},
		}, false},
		{"an event without at takes the event's time", `{"source":"rollwave","detail-type":"Cluster Rollout Resumed","time":"2025-06-02T11:02:00Z","detail":{"cluster":"*","all":true}}`,
			history.Record{At: at("2025-06-02T11:02:00Z"), Event: "Cluster Rollout Resumed", Worker: "cli", Cluster: "*"}, false},
		{"an ECS event is not history", other, history.Record{}, true},
		{"not JSON", "START RequestId", history.Record{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := history.Decode(tt.message)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Decode() error = %v, want error %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Decode() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPublisher(t *testing.T) {
	tests := []struct{ detailType, step, want string }{
		{"Instance Update Started", "stage", "patcher"},
		{"Instance Update Waiting", "drain", "drainer"},
		{"Instance Update Waiting", "stage", "patcher"},
		{"Instance Update Progressed", "stage", "patcher"},
		{"Instance Update Progressed", "drain", "drainer"},
		{"Instance Update Progressed", "reboot", "patcher"},
		{"Instance Update Skipped", "stage", "patcher"},
		{"Instance Update Failed", "reboot", "patcher"},
		{"Instance Update Failed", "verify", "verifier"},
		{"Instance Update Succeeded", "verify", "verifier"},
		{"Instance Reclaimed", "", "scanner"},
		{"Cluster Rollout Paused", "", "cli"},
		{"Cluster Rollout Halted", "", ""},
	}
	for _, tt := range tests {
		if got := history.Publisher(tt.detailType, tt.step); got != tt.want {
			t.Errorf("Publisher(%q, %q) = %q, want %q", tt.detailType, tt.step, got, tt.want)
		}
	}
}

// fakeLogs serves log events in pages of two, and records the filter patterns asked for.
type fakeLogs struct {
	messages []string
	missing  bool
	patterns []string
}

func (f *fakeLogs) FilterLogEvents(_ context.Context, in *cloudwatchlogs.FilterLogEventsInput, _ ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.FilterLogEventsOutput, error) {
	if f.missing {
		return nil, &logstypes.ResourceNotFoundException{Message: aws.String("The specified log group does not exist.")}
	}
	f.patterns = append(f.patterns, aws.ToString(in.FilterPattern))
	start := 0
	if in.NextToken != nil {
		start = len(aws.ToString(in.NextToken))
	}
	end := min(start+2, len(f.messages))
	out := &cloudwatchlogs.FilterLogEventsOutput{}
	for _, m := range f.messages[start:end] {
		out.Events = append(out.Events, logstypes.FilteredLogEvent{Message: aws.String(m)})
	}
	if end < len(f.messages) {
		tok := string(make([]byte, end))
		out.NextToken = &tok
	}
	return out, nil
}

func TestReadPagesFiltersAndSorts(t *testing.T) {
	// Newest first on the server, an ECS event among them, and one of another instance.
	otherInstance := `{"source":"rollwave","detail-type":"Instance Update Started","time":"2025-06-02T09:10:00Z","detail":{"jobId":"j2","cluster":"prod","instance":"i-0fedcba9876543210","step":"stage","at":"2025-06-02T09:10:00Z"}}`
	logs := &fakeLogs{messages: []string{halted, failed, other, otherInstance, started}}
	r := history.NewReader(logs, "/aws/events/rollwave-history")

	got, err := r.Read(t.Context(), history.Query{About: "i-0123456789abcdef0"})
	if err != nil {
		t.Fatalf("Read() = %v", err)
	}
	var events []string
	for _, rec := range got {
		events = append(events, rec.Event)
	}
	want := []string{"Instance Update Started", "Instance Update Failed", "Cluster Rollout Halted"}
	if diff := cmp.Diff(want, events); diff != "" {
		t.Errorf("Read(About instance) events (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{`"i-0123456789abcdef0"`, `"i-0123456789abcdef0"`, `"i-0123456789abcdef0"`}, logs.patterns); diff != "" {
		t.Errorf("filter patterns of the three pages (-want +got):\n%s", diff)
	}

	got, err = r.Read(t.Context(), history.Query{Cluster: "prod"})
	if err != nil || len(got) != 4 {
		t.Errorf("Read(Cluster prod) = %d records, %v; want the 4 rollwave events", len(got), err)
	}
}

func TestReadWithoutTheLogGroup(t *testing.T) {
	r := history.NewReader(&fakeLogs{missing: true}, "/aws/events/nope-history")
	if _, err := r.Read(t.Context(), history.Query{}); !errors.Is(err, history.ErrNoHistory) {
		t.Errorf("Read() of a missing group = %v, want ErrNoHistory", err)
	}
}

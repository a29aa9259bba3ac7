package ecsevent

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const instanceEvent = `{"version":"0","id":"6a7e8feb-b491-4cf7-a9f1-bf3703467718","detail-type":"ECS Container Instance State Change","source":"aws.ecs",
 "account":"123456789012","time":"2025-01-01T00:00:00Z","region":"eu-west-1",
 "resources":["arn:aws:ecs:eu-west-1:123456789012:container-instance/prod/abc"],
 "detail":{"clusterArn":"arn:aws:ecs:eu-west-1:123456789012:cluster/prod",
   "containerInstanceArn":"arn:aws:ecs:eu-west-1:123456789012:container-instance/prod/abc",
   "ec2InstanceId":"i-0123456789abcdef0","status":"DRAINING","agentConnected":true,
   "runningTasksCount":0,"pendingTasksCount":0,
   "attributes":[{"name":"bottlerocket.variant","value":"aws-ecs-2"},{"name":"rollwave.stage","value":"draining"},{"name":"ecs.capability.secrets.asm.environment-variables"}],
   "versionInfo":{"agentVersion":"1.89.2","agentHash":"abc","dockerVersion":"25.0.6"},
   "registeredResources":[{"name":"CPU","type":"INTEGER","integerValue":2048}],
   "version":1234,"updatedAt":"2025-01-01T00:00:00.000Z"}}`

const taskEvent = `{"version":"0","id":"9bcdac79-b31f-4d3d-9410-fbd727c29fab","detail-type":"ECS Task State Change","source":"aws.ecs",
 "account":"123456789012","time":"2025-01-01T00:01:00Z","region":"eu-west-1",
 "resources":["arn:aws:ecs:eu-west-1:123456789012:task/prod/t1"],
 "detail":{"taskArn":"arn:aws:ecs:eu-west-1:123456789012:task/prod/t1",
   "clusterArn":"arn:aws:ecs:eu-west-1:123456789012:cluster/prod",
   "containerInstanceArn":"arn:aws:ecs:eu-west-1:123456789012:container-instance/prod/abc",
   "taskDefinitionArn":"arn:aws:ecs:eu-west-1:123456789012:task-definition/web:3",
   "group":"service:web","startedBy":"ecs-svc/123","launchType":"EC2",
   "lastStatus":"STOPPED","desiredStatus":"STOPPED","stoppedReason":"Scaling activity","stopCode":"ServiceSchedulerInitiated",
   "containers":[{"containerArn":"arn:aws:ecs:eu-west-1:123456789012:container/prod/t1/c1","name":"web","lastStatus":"STOPPED","exitCode":0}],
   "createdAt":"2025-01-01T00:00:00.000Z","stoppedAt":"2025-01-01T00:00:59.5Z","version":5}}`

func ptr[T any](v T) *T { return &v }

func TestParse(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	ci := "arn:aws:ecs:eu-west-1:123456789012:container-instance/prod/abc"
	tests := []struct {
		name       string
		json       string
		wantType   string
		wantDetail any
	}{
		{
			name:     "a container instance state change is decoded into its model",
			json:     instanceEvent,
			wantType: DetailContainerInstanceStateChange,
			wantDetail: &ContainerInstanceStateChange{
				ClusterARN: "arn:aws:ecs:eu-west-1:123456789012:cluster/prod", ContainerInstanceARN: ci,
				EC2InstanceID: "i-0123456789abcdef0", Status: "DRAINING", AgentConnected: true,
				Attributes: []Attribute{{Name: "bottlerocket.variant", Value: ptr("aws-ecs-2")},
					{Name: "rollwave.stage", Value: ptr("draining")}, {Name: "ecs.capability.secrets.asm.environment-variables"}},
				VersionInfo: &VersionInfo{AgentHash: "abc", AgentVersion: "1.89.2", DockerVersion: "25.0.6"},
				Version:     1234, UpdatedAt: t0,
			},
		},
		{
			name:     "a task state change is decoded into its model",
			json:     taskEvent,
			wantType: DetailTaskStateChange,
			wantDetail: &TaskStateChange{
				TaskARN: "arn:aws:ecs:eu-west-1:123456789012:task/prod/t1", ClusterARN: "arn:aws:ecs:eu-west-1:123456789012:cluster/prod",
				ContainerInstanceARN: ci, TaskDefinitionARN: "arn:aws:ecs:eu-west-1:123456789012:task-definition/web:3",
				Group: "service:web", StartedBy: "ecs-svc/123", LaunchType: "EC2", LastStatus: "STOPPED", DesiredStatus: "STOPPED",
				StoppedReason: "Scaling activity", StopCode: "ServiceSchedulerInitiated",
				Containers: []Container{{ContainerARN: "arn:aws:ecs:eu-west-1:123456789012:container/prod/t1/c1", Name: "web", LastStatus: "STOPPED", ExitCode: ptr(0)}},
				CreatedAt:  &t0, StoppedAt: ptr(t0.Add(59500 * time.Millisecond)), Version: 5,
			},
		},
		{
			name: "rollwave's end of a job is decoded into its model",
			json: `{"version":"0","id":"x","detail-type":"Instance Update Succeeded","source":"rollwave","resources":["` + ci + `"],` +
				`"detail":{"jobId":"j-1","cluster":"prod","instance":"i-1","containerInstanceArn":"` + ci + `","outcome":"updated","reason":"updated","step":"verify","at":"2025-01-01T00:00:00Z"}}`,
			wantType:   DetailInstanceUpdateSucceeded,
			wantDetail: &JobEnded{JobID: "j-1", Cluster: "prod", ContainerInstanceARN: ci, Outcome: "updated", Reason: "updated", Step: "verify"},
		},
		{
			name:       "rollwave's start of a job is ignored: it frees nothing",
			json:       `{"version":"0","id":"x","detail-type":"Instance Update Started","source":"rollwave","detail":{"jobId":"j-1","cluster":"prod"}}`,
			wantType:   "Instance Update Started",
			wantDetail: Ignored{Source: "rollwave", DetailType: "Instance Update Started"},
		},
		{
			name:       "an event type nobody registered is ignored, not an error",
			json:       `{"version":"0","id":"x","detail-type":"ECS Service Action","source":"aws.ecs","detail":{"eventName":"SERVICE_STEADY_STATE"}}`,
			wantType:   "ECS Service Action",
			wantDetail: Ignored{Source: "aws.ecs", DetailType: "ECS Service Action"},
		},
		{
			name:       "a known detail-type from another source is ignored",
			json:       `{"version":"0","id":"x","detail-type":"ECS Task State Change","source":"custom.test","detail":{}}`,
			wantType:   DetailTaskStateChange,
			wantDetail: Ignored{Source: "custom.test", DetailType: DetailTaskStateChange},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := Parse([]byte(tt.json))
			if err != nil {
				t.Fatalf("Parse() error: %v", err)
			}
			if ev.DetailType != tt.wantType {
				t.Errorf("Parse().DetailType = %q, want %q", ev.DetailType, tt.wantType)
			}
			if diff := cmp.Diff(tt.wantDetail, ev.Detail); diff != "" {
				t.Errorf("Parse().Detail mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseEnvelope(t *testing.T) {
	ev, err := Parse([]byte(instanceEvent))
	if err != nil {
		t.Fatal(err)
	}
	got := ev.Envelope
	got.Detail = nil
	want := Envelope{Version: "0", ID: "6a7e8feb-b491-4cf7-a9f1-bf3703467718", DetailType: DetailContainerInstanceStateChange,
		Source: "aws.ecs", Account: "123456789012", Time: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), Region: "eu-west-1",
		Resources: []string{"arn:aws:ecs:eu-west-1:123456789012:container-instance/prod/abc"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Parse().Envelope mismatch (-want +got):\n%s", diff)
	}
}

func TestParseRejectsMalformedEvents(t *testing.T) {
	tests := []struct {
		name    string
		json    string
		wantErr string
	}{
		{"empty", "", "not a JSON object"},
		{"not JSON", "hello", "not a JSON object"},
		{"truncated", `{"version":"0",`, "unexpected EOF"},
		{"two events", `{"source":"a","detail-type":"b","detail":{}} {}`, "data after the event"},
		{"no source nor detail-type nor detail", `{"version":"0","id":"x"}`, "source is missing\ndetail-type is missing\ndetail is not an object"},
		{"a detail that is not an object", `{"id":"x","source":"aws.ecs","detail-type":"Other","detail":"text"}`, "detail is not an object"},
		{"a known type whose detail has the wrong types",
			`{"id":"x","source":"aws.ecs","detail-type":"ECS Container Instance State Change","detail":{"containerInstanceArn":"a","runningTasksCount":"zero"}}`,
			"cannot unmarshal string"},
		{"a container instance event without its ARN",
			`{"id":"x","source":"aws.ecs","detail-type":"ECS Container Instance State Change","detail":{"status":"ACTIVE"}}`,
			"containerInstanceArn is missing"},
		{"a task event without its ARN",
			`{"id":"x","source":"aws.ecs","detail-type":"ECS Task State Change","detail":{"lastStatus":"STOPPED"}}`,
			"taskArn is missing"},
		{"the end of a job without its job or cluster",
			`{"id":"x","source":"rollwave","detail-type":"Instance Update Failed","detail":{"step":"drain"}}`,
			"jobId is missing\ncluster is missing"},
		{"a bad envelope time", `{"id":"x","source":"aws.ecs","detail-type":"Other","time":"yesterday","detail":{}}`, "cannot parse"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.json))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Parse(%q) error = %v, want one containing %q", tt.json, err, tt.wantErr)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("Parse(%q) error %v does not wrap ErrMalformed", tt.json, err)
			}
		})
	}
}

func TestContainerInstanceHelpers(t *testing.T) {
	ev, err := Parse([]byte(instanceEvent))
	if err != nil {
		t.Fatal(err)
	}
	ci := ev.Detail.(*ContainerInstanceStateChange)
	tests := []struct {
		name      string
		attr      string
		wantValue string
		wantOK    bool
	}{
		{"an attribute with a value", "rollwave.stage", "draining", true},
		{"a capability without a value is present and empty", "ecs.capability.secrets.asm.environment-variables", "", true},
		{"an absent attribute", "rollwave.job", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, ok := ci.Attribute(tt.attr)
			if v != tt.wantValue || ok != tt.wantOK {
				t.Errorf("Attribute(%q) = %q, %v, want %q, %v", tt.attr, v, ok, tt.wantValue, tt.wantOK)
			}
		})
	}
	drained := []struct {
		name string
		c    ContainerInstanceStateChange
		want bool
	}{
		{"draining with nothing running is drained", ContainerInstanceStateChange{Status: "DRAINING"}, true},
		{"draining with a task running is not", ContainerInstanceStateChange{Status: "DRAINING", RunningTasksCount: 1}, false},
		{"draining with a task pending is not", ContainerInstanceStateChange{Status: "DRAINING", PendingTasksCount: 1}, false},
		{"an empty active instance is not drained", ContainerInstanceStateChange{Status: "ACTIVE"}, false},
	}
	for _, tt := range drained {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.c.Drained(); got != tt.want {
				t.Errorf("Drained() = %v, want %v", got, tt.want)
			}
		})
	}
	var r Resource = ci
	if r.ResourceARN() != ci.ContainerInstanceARN || r.ResourceVersion() != 1234 {
		t.Errorf("Resource = %q@%d, want %q@1234", r.ResourceARN(), r.ResourceVersion(), ci.ContainerInstanceARN)
	}
}

func TestVersions(t *testing.T) {
	type obs struct {
		resource string
		version  int64
		want     bool
	}
	tests := []struct {
		name string
		seq  []obs
	}{
		{"the first event of a resource is new", []obs{{"a", 5, true}}},
		{"a higher version is newer", []obs{{"a", 5, true}, {"a", 6, true}}},
		{"a duplicate (same version) is not newer", []obs{{"a", 5, true}, {"a", 5, false}}},
		{"an event delivered after a newer one is stale", []obs{{"a", 7, true}, {"a", 6, false}, {"a", 8, true}}},
		{"a stale event does not lower the mark", []obs{{"a", 7, true}, {"a", 3, false}, {"a", 5, false}}},
		{"resources are ordered independently", []obs{{"a", 7, true}, {"b", 1, true}, {"a", 2, false}, {"b", 2, true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Versions{}
			for i, o := range tt.seq {
				if got := v.Newer(o.resource, o.version); got != o.want {
					t.Errorf("event %d: Newer(%q, %d) = %v, want %v", i, o.resource, o.version, got, o.want)
				}
				if got := v.Observe(o.resource, o.version); got != o.want {
					t.Errorf("event %d: Observe(%q, %d) = %v, want %v", i, o.resource, o.version, got, o.want)
				}
			}
		})
	}
}

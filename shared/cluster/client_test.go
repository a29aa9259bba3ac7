package cluster

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/google/go-cmp/cmp"

	"github.com/rollwave/rollwave/shared/update"
)

// stubECS answers the SDK operations from slices, enforcing ECS's page and batch limits, and
// counts calls. Operations the test does not need return an error.
type stubECS struct {
	ecsAPI    // nil: an unexpected operation panics the test, which is what we want here
	instances []string
	tasks     []string
	calls     map[string]int
	states    map[string]string
	puts      [][]string
	listedOn  []string // ListTasks' containerInstance, per call ("" for none)
}

func (s *stubECS) count(op string) {
	if s.calls == nil {
		s.calls = map[string]int{}
	}
	s.calls[op]++
}

func page(items []string, token *string, max *int32) ([]string, *string, error) {
	if max == nil || *max > 100 {
		return nil, nil, &smithy.GenericAPIError{Code: "InvalidParameterException", Message: "maxResults"}
	}
	start := 0
	if token != nil {
		start, _ = strconv.Atoi(*token)
	}
	end := min(start+int(*max), len(items))
	if end == len(items) {
		return items[start:end], nil, nil
	}
	return items[start:end], aws.String(strconv.Itoa(end)), nil
}

func (s *stubECS) ListContainerInstances(_ context.Context, in *ecs.ListContainerInstancesInput, _ ...func(*ecs.Options)) (*ecs.ListContainerInstancesOutput, error) {
	s.count("ListContainerInstances")
	items, next, err := page(s.instances, in.NextToken, in.MaxResults)
	return &ecs.ListContainerInstancesOutput{ContainerInstanceArns: items, NextToken: next}, err
}

func (s *stubECS) DescribeContainerInstances(_ context.Context, in *ecs.DescribeContainerInstancesInput, _ ...func(*ecs.Options)) (*ecs.DescribeContainerInstancesOutput, error) {
	s.count("DescribeContainerInstances")
	if len(in.ContainerInstances) > 100 {
		return nil, &smithy.GenericAPIError{Code: "InvalidParameterException", Message: "at most 100"}
	}
	out := &ecs.DescribeContainerInstancesOutput{}
	for _, arn := range in.ContainerInstances {
		if !slices.Contains(s.instances, arn) {
			out.Failures = append(out.Failures, types.Failure{Arn: aws.String(arn), Reason: aws.String("MISSING")})
			continue
		}
		out.ContainerInstances = append(out.ContainerInstances, types.ContainerInstance{
			ContainerInstanceArn: aws.String(arn),
			Ec2InstanceId:        aws.String("i-" + arn),
			Status:               aws.String("ACTIVE"),
			Attributes:           []types.Attribute{{Name: aws.String("ecs.availability-zone"), Value: aws.String("eu-west-1a")}, {Name: aws.String("bottlerocket.variant"), Value: aws.String("aws-ecs-2")}},
			RegisteredResources:  []types.Resource{{Name: aws.String("CPU"), IntegerValue: 2048}, {Name: aws.String("MEMORY"), IntegerValue: 3904}},
			RemainingResources:   []types.Resource{{Name: aws.String("CPU"), IntegerValue: 1024}, {Name: aws.String("MEMORY"), IntegerValue: 1000}},
			RunningTasksCount:    3,
		})
	}
	return out, nil
}

func (s *stubECS) UpdateContainerInstancesState(_ context.Context, in *ecs.UpdateContainerInstancesStateInput, _ ...func(*ecs.Options)) (*ecs.UpdateContainerInstancesStateOutput, error) {
	s.count("UpdateContainerInstancesState")
	if len(in.ContainerInstances) > 10 {
		return nil, &smithy.GenericAPIError{Code: "InvalidParameterException", Message: "at most 10 items"}
	}
	out := &ecs.UpdateContainerInstancesStateOutput{}
	for _, arn := range in.ContainerInstances {
		if !slices.Contains(s.instances, arn) {
			out.Failures = append(out.Failures, types.Failure{Arn: aws.String(arn), Reason: aws.String("INACTIVE")})
			continue
		}
		if s.states == nil {
			s.states = map[string]string{}
		}
		s.states[arn] = string(in.Status)
	}
	return out, nil
}

func (s *stubECS) PutAttributes(_ context.Context, in *ecs.PutAttributesInput, _ ...func(*ecs.Options)) (*ecs.PutAttributesOutput, error) {
	s.count("PutAttributes")
	if len(in.Attributes) > 10 {
		return nil, &smithy.GenericAPIError{Code: "InvalidParameterException", Message: "at most 10"}
	}
	var names []string
	for _, a := range in.Attributes {
		names = append(names, aws.ToString(a.Name)+"="+aws.ToString(a.Value))
	}
	s.puts = append(s.puts, names)
	if len(s.puts) > 1 {
		return nil, &types.AttributeLimitExceededException{Message: aws.String("limit")}
	}
	return &ecs.PutAttributesOutput{}, nil
}

func (s *stubECS) ListTasks(_ context.Context, in *ecs.ListTasksInput, _ ...func(*ecs.Options)) (*ecs.ListTasksOutput, error) {
	s.count("ListTasks")
	s.listedOn = append(s.listedOn, aws.ToString(in.ContainerInstance))
	items, next, err := page(s.tasks, in.NextToken, in.MaxResults)
	return &ecs.ListTasksOutput{TaskArns: items, NextToken: next}, err
}

func (s *stubECS) DescribeTasks(_ context.Context, in *ecs.DescribeTasksInput, _ ...func(*ecs.Options)) (*ecs.DescribeTasksOutput, error) {
	s.count("DescribeTasks")
	if len(in.Tasks) > 100 {
		return nil, &smithy.GenericAPIError{Code: "InvalidParameterException", Message: "at most 100"}
	}
	out := &ecs.DescribeTasksOutput{}
	for _, arn := range in.Tasks {
		out.Tasks = append(out.Tasks, types.Task{TaskArn: aws.String(arn), Group: aws.String("service:web"), StartedBy: aws.String("ecs-svc/1"), Cpu: aws.String("256"), Memory: aws.String("512"), StartedAt: aws.Time(taskStart)})
	}
	return out, nil
}

func names(prefix string, n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("%s%03d", prefix, i))
	}
	return out
}

func TestListInstancesReadsEveryPageAndDescribesInHundreds(t *testing.T) {
	s := &stubECS{instances: names("ci-", 250)}
	got, err := newClient(s).ListInstances(t.Context(), "prod", "", "attribute:bottlerocket.variant exists")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 250 {
		t.Errorf("ListInstances() returned %d instances, want 250", len(got))
	}
	want := map[string]int{"ListContainerInstances": 3, "DescribeContainerInstances": 3}
	if diff := cmp.Diff(want, s.calls); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	wantFirst := Instance{
		ARN: "ci-000", EC2InstanceID: "i-ci-000", Cluster: "prod", Status: "ACTIVE", RunningTasks: 3,
		Attributes:    map[string]string{"ecs.availability-zone": "eu-west-1a", "bottlerocket.variant": "aws-ecs-2"},
		RegisteredCPU: 2048, RegisteredMemory: 3904, RemainingCPU: 1024, RemainingMemory: 1000, AZ: "eu-west-1a",
	}
	if diff := cmp.Diff(wantFirst, got[0]); diff != "" {
		t.Errorf("ListInstances()[0] (-want +got):\n%s", diff)
	}
}

func TestInstanceByUnknownARNIsNotFound(t *testing.T) {
	s := &stubECS{instances: names("ci-", 1)}
	_, err := newClient(s).Instance(t.Context(), "prod", "arn:aws:ecs:eu-west-1:1:container-instance/prod/nope")
	if !errors.Is(err, ErrInstanceNotFound) {
		t.Errorf("Instance(unknown ARN) error = %v, want ErrInstanceNotFound", err)
	}
}

func TestSetStateBatchesByTenAndReportsFailures(t *testing.T) {
	s := &stubECS{instances: names("ci-", 24)}
	arns := append(names("ci-", 24), "gone")
	failures, err := newClient(s).SetState(t.Context(), "prod", arns, StatusDraining)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"gone": "INACTIVE"}, failures); diff != "" {
		t.Errorf("SetState() failures (-want +got):\n%s", diff)
	}
	if got := s.calls["UpdateContainerInstancesState"]; got != 3 {
		t.Errorf("UpdateContainerInstancesState calls = %d, want 3", got)
	}
	if len(s.states) != 24 {
		t.Errorf("%d instances changed state, want 24", len(s.states))
	}
}

func TestTasksReadsEveryPage(t *testing.T) {
	s := &stubECS{tasks: names("task-", 101)}
	got, err := newClient(s).Tasks(t.Context(), "prod", "ci-000")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 101 {
		t.Errorf("Tasks() returned %d tasks, want 101 (the original read only the first page)", len(got))
	}
	want := Task{ARN: "task-000", Group: "service:web", StartedBy: "ecs-svc/1", CPU: 256, Memory: 512, StartedAt: taskStart}
	if diff := cmp.Diff(want, got[0]); diff != "" {
		t.Errorf("Tasks()[0] (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"ci-000", "ci-000"}, s.listedOn); diff != "" {
		t.Errorf("ListTasks containerInstance (-want +got):\n%s", diff)
	}
}

// taskStart is when the stub's tasks started.
var taskStart = time.Date(2026, 6, 1, 9, 30, 0, 0, time.UTC)

func TestClusterTasksReadsTheWholeClusterInBatches(t *testing.T) {
	s := &stubECS{tasks: names("task-", 250)}
	got, err := newClient(s).ClusterTasks(t.Context(), "prod")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 250 {
		t.Errorf("ClusterTasks() returned %d tasks, want 250", len(got))
	}
	want := map[string]int{"ListTasks": 3, "DescribeTasks": 3}
	if diff := cmp.Diff(want, s.calls); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"", "", ""}, s.listedOn); diff != "" {
		t.Errorf("ListTasks containerInstance (-want +got):\n%s (want none: the whole cluster)", diff)
	}
}

func TestPutAttributesBatchesByTenInNameOrder(t *testing.T) {
	s := &stubECS{}
	attrs := map[string]string{}
	for _, n := range names("a", 12) {
		attrs[n] = "v"
	}
	err := newClient(s).PutAttributes(t.Context(), "prod", "ci-000", attrs)
	if !errors.Is(err, ErrAttributeLimit) {
		t.Errorf("PutAttributes(12) error = %v, want ErrAttributeLimit from the second batch", err)
	}
	if len(s.puts) != 2 || len(s.puts[0]) != 10 || s.puts[1][1] != "a011=v" {
		t.Errorf("PutAttributes batches = %v, want 10 then 2 in name order", s.puts)
	}
}

func TestClassify(t *testing.T) {
	serverErr := &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: 503}}, Err: errors.New("unavailable")}
	tests := []struct {
		name string
		err  error
		want []error
		not  []error
	}{
		{"cluster not found", &types.ClusterNotFoundException{}, []error{ErrClusterNotFound}, []error{ErrTransient}},
		{"throttling", &smithy.GenericAPIError{Code: "ThrottlingException"}, []error{ErrThrottled, ErrTransient}, []error{ErrInvalid}},
		{"server exception", &types.ServerException{}, []error{ErrTransient}, []error{ErrThrottled}},
		{"http 503", &awshttp.ResponseError{ResponseError: serverErr}, []error{ErrTransient}, []error{ErrInvalid}},
		{"invalid parameter", &types.InvalidParameterException{}, []error{ErrInvalid}, []error{ErrTransient}},
		{"client exception", &types.ClientException{}, []error{ErrInvalid}, []error{ErrTransient}},
		{"attribute limit", &types.AttributeLimitExceededException{}, []error{ErrAttributeLimit}, []error{ErrInvalid}},
		{"target not found", &types.TargetNotFoundException{}, []error{ErrInstanceNotFound}, nil},
		{"context canceled", fmt.Errorf("op: %w", context.Canceled), []error{context.Canceled}, []error{ErrTransient}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := classify(tt.err)
			if !errors.Is(got, tt.err) {
				t.Errorf("classify(%v) lost the original error", tt.err)
			}
			for _, w := range tt.want {
				if !errors.Is(got, w) {
					t.Errorf("classify(%v) = %v, want it to be %v", tt.err, got, w)
				}
			}
			for _, n := range tt.not {
				if errors.Is(got, n) {
					t.Errorf("classify(%v) = %v, want it not to be %v", tt.err, got, n)
				}
			}
		})
	}
}

// A cluster read whole counts every instance out of service as the limits do: not ACTIVE
// (registering and deregistering too), its agent disconnected, or claimed by rollwave.
func TestCensusOfAClusterReadWhole(t *testing.T) {
	in := func(name, status string, agent bool, stage update.Stage) Instance {
		attrs := map[string]string{}
		if stage != update.StageNone {
			attrs[update.AttrStage] = string(stage)
		}
		return Instance{ARN: name, Status: status, AgentConnected: agent, Attributes: attrs}
	}
	all := []Instance{
		in("serving", StatusActive, true, update.StageNone),
		in("staged", StatusActive, true, update.StageStaged),
		in("claimed", StatusActive, true, update.StageAdmitting),
		in("draining", StatusDraining, true, update.StageNone),
		in("registering", "REGISTERING", true, update.StageNone),
		in("deregistering", "DEREGISTERING", true, update.StageNone),
		in("disconnected", StatusActive, false, update.StageNone),
	}
	c := censusOf(all)
	var out []string
	for _, in := range c.Instances {
		out = append(out, in.ARN)
	}
	want := []string{"claimed", "draining", "registering", "deregistering", "disconnected"}
	if !slices.Equal(out, want) || c.Registered != len(all) || len(c.All) != len(all) {
		t.Errorf("censusOf = %d registered, %d in All, out of service %v; want %d, %d, %v", c.Registered, len(c.All), out, len(all), len(all), want)
	}
}

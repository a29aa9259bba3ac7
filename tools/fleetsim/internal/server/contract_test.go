package server

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return fmt.Sprint(err)
}

func (e *env) arns(cluster string) []string {
	e.t.Helper()
	var out []string
	p := ecs.NewListContainerInstancesPaginator(e.ecs, &ecs.ListContainerInstancesInput{Cluster: aws.String(cluster), MaxResults: aws.Int32(3)})
	for p.HasMorePages() {
		pg, err := p.NextPage(context.Background())
		if err != nil {
			e.t.Fatalf("ListContainerInstances: %v", err)
		}
		out = append(out, pg.ContainerInstanceArns...)
	}
	return out
}

func TestUpdateContainerInstancesStateLimitsAndTransitions(t *testing.T) {
	e := start(t, fleet(12, ""))
	ctx := context.Background()
	arns := e.arns("c")
	if len(arns) != 12 {
		t.Fatalf("paged ListContainerInstances = %d instances, want 12", len(arns))
	}
	_, err := e.ecs.UpdateContainerInstancesState(ctx, &ecs.UpdateContainerInstancesStateInput{Cluster: aws.String("c"), ContainerInstances: arns[:11], Status: types.ContainerInstanceStatusDraining})
	var inv *types.InvalidParameterException
	if !errors.As(err, &inv) {
		t.Fatalf("UpdateContainerInstancesState(11 instances) error = %v, want InvalidParameterException", err)
	}
	drain := func(status types.ContainerInstanceStatus) *ecs.UpdateContainerInstancesStateOutput {
		out, err := e.ecs.UpdateContainerInstancesState(ctx, &ecs.UpdateContainerInstancesStateInput{Cluster: aws.String("c"), ContainerInstances: arns[:1], Status: status})
		if err != nil {
			t.Fatalf("UpdateContainerInstancesState(%s): %v", status, err)
		}
		return out
	}
	if out := drain(types.ContainerInstanceStatusDraining); len(out.Failures) != 0 || aws.ToString(out.ContainerInstances[0].Status) != "DRAINING" {
		t.Errorf("ACTIVE -> DRAINING = %+v, want DRAINING and no failure", out)
	}
	if out := drain(types.ContainerInstanceStatusDraining); len(out.Failures) != 1 || len(out.ContainerInstances) != 0 {
		t.Errorf("DRAINING -> DRAINING = %d instances, %d failures, want a failure", len(out.ContainerInstances), len(out.Failures))
	}
	if out := drain(types.ContainerInstanceStatusActive); len(out.Failures) != 0 || aws.ToString(out.ContainerInstances[0].Status) != "ACTIVE" {
		t.Errorf("DRAINING -> ACTIVE = %+v, want ACTIVE", out)
	}
	out, err := e.ecs.UpdateContainerInstancesState(ctx, &ecs.UpdateContainerInstancesStateInput{Cluster: aws.String("c"), ContainerInstances: []string{"nope"}, Status: types.ContainerInstanceStatusDraining})
	if err != nil || len(out.Failures) != 1 || aws.ToString(out.Failures[0].Reason) != "MISSING" {
		t.Errorf("UpdateContainerInstancesState(unknown) = %+v, %v, want failure MISSING", out, err)
	}
	_, err = e.ecs.ListContainerInstances(ctx, &ecs.ListContainerInstancesInput{Cluster: aws.String("nope")})
	var cnf *types.ClusterNotFoundException
	if !errors.As(err, &cnf) {
		t.Errorf("ListContainerInstances(unknown cluster) error = %v, want ClusterNotFoundException", err)
	}
}

func TestAttributesLimitsAndNames(t *testing.T) {
	e := start(t, fleet(3, ""))
	ctx := context.Background()
	arn := e.arns("c")[0]
	put := func(name, value string) error {
		_, err := e.ecs.PutAttributes(ctx, &ecs.PutAttributesInput{Cluster: aws.String("c"), Attributes: []types.Attribute{{Name: aws.String(name), Value: aws.String(value), TargetId: aws.String(arn), TargetType: types.TargetTypeContainerInstance}}})
		return err
	}
	for i := 0; i < 10; i++ {
		if err := put(fmt.Sprintf("custom.a%d", i), "v"); err != nil {
			t.Fatalf("PutAttributes(custom %d): %v", i, err)
		}
	}
	if err := put("custom.a3", "updated"); err != nil {
		t.Errorf("PutAttributes(update existing) = %v, want nil", err)
	}
	var lim *types.AttributeLimitExceededException
	if err := put("custom.eleventh", "v"); !errors.As(err, &lim) {
		t.Errorf("PutAttributes(11th custom attribute) = %v, want AttributeLimitExceededException", err)
	}
	var inv *types.InvalidParameterException
	for _, bad := range [][2]string{{"bad name", "v"}, {"", "v"}, {"ok", " leading"}, {"ok", "semi;colon"}} {
		if err := put(bad[0], bad[1]); !errors.As(err, &inv) {
			t.Errorf("PutAttributes(%q=%q) = %v, want InvalidParameterException", bad[0], bad[1], err)
		}
	}
	if _, err := e.ecs.DeleteAttributes(ctx, &ecs.DeleteAttributesInput{Cluster: aws.String("c"), Attributes: []types.Attribute{{Name: aws.String("custom.a0"), TargetId: aws.String(arn)}}}); err != nil {
		t.Fatalf("DeleteAttributes: %v", err)
	}
	if err := put("custom.eleventh", "v"); err != nil {
		t.Errorf("PutAttributes after a delete = %v, want nil", err)
	}
	out, err := e.ecs.ListAttributes(ctx, &ecs.ListAttributesInput{Cluster: aws.String("c"), TargetType: types.TargetTypeContainerInstance, AttributeName: aws.String("custom.a3")})
	if err != nil || len(out.Attributes) != 1 || aws.ToString(out.Attributes[0].Value) != "updated" {
		t.Errorf("ListAttributes(custom.a3) = %+v, %v, want one with value updated", out, err)
	}
}

func TestFilterSelectsWhatAWSWould(t *testing.T) {
	e := start(t, fleet(6, ""))
	ctx := context.Background()
	arns := e.arns("c")
	st := e.state().Clusters[0].Instances
	if _, err := e.ecs.PutAttributes(ctx, &ecs.PutAttributesInput{Cluster: aws.String("c"), Attributes: []types.Attribute{{Name: aws.String("rollwave.job"), Value: aws.String("j1"), TargetId: aws.String(arns[0])}}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		filter string
		want   []string
	}{
		{"attribute:bottlerocket.variant exists", arns},
		{"attribute:rollwave.job !exists", arns[1:]},
		{"attribute:rollwave.job == j1", arns[:1]},
		{fmt.Sprintf("ec2InstanceId in [%s, %s]", st[2].EC2InstanceID, st[4].EC2InstanceID), []string{arns[2], arns[4]}},
		{"agentConnected == false", nil},
		{"attribute:bottlerocket.variant =~ aws-ecs-.* and not (attribute:rollwave.job exists)", arns[1:]},
		{"runningTasksCount >= 0 or attribute:x exists", arns},
	}
	for _, tt := range tests {
		out, err := e.ecs.ListContainerInstances(ctx, &ecs.ListContainerInstancesInput{Cluster: aws.String("c"), Filter: aws.String(tt.filter)})
		if err != nil {
			t.Errorf("ListContainerInstances(%q): %v", tt.filter, err)
			continue
		}
		if diff := cmp.Diff(tt.want, out.ContainerInstanceArns, cmpEmpty); diff != "" {
			t.Errorf("ListContainerInstances(%q) mismatch (-want +got):\n%s", tt.filter, diff)
		}
	}
	_, err := e.ecs.ListContainerInstances(ctx, &ecs.ListContainerInstancesInput{Cluster: aws.String("c"), Filter: aws.String("attribute:x = 1")})
	var inv *types.InvalidParameterException
	if !errors.As(err, &inv) {
		t.Errorf("ListContainerInstances(bad filter) = %v, want InvalidParameterException", err)
	}
	if _, err := e.ecs.ListContainerInstances(ctx, &ecs.ListContainerInstancesInput{Cluster: aws.String("c"), MaxResults: aws.Int32(101)}); !errors.As(err, &inv) {
		t.Errorf("ListContainerInstances(maxResults 101) = %v, want InvalidParameterException", err)
	}
}

var cmpEmpty = cmp.Transformer("empty", func(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
})

func TestTasksServicesAndClustersPaging(t *testing.T) {
	e := start(t, fleet(5, ""))
	ctx := context.Background()
	var tasks []string
	p := ecs.NewListTasksPaginator(e.ecs, &ecs.ListTasksInput{Cluster: aws.String("c"), MaxResults: aws.Int32(2)})
	for p.HasMorePages() {
		pg, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		tasks = append(tasks, pg.TaskArns...)
	}
	if len(tasks) != 5 { // 4 web + 1 standalone
		t.Fatalf("paged ListTasks = %d tasks, want 5", len(tasks))
	}
	d, err := e.ecs.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String("c"), Tasks: tasks})
	if err != nil {
		t.Fatal(err)
	}
	groups := map[string]int{}
	for _, task := range d.Tasks {
		groups[aws.ToString(task.Group)]++
		if aws.ToString(task.Group) == "service:web" && len(aws.ToString(task.StartedBy)) < len("ecs-svc/") {
			t.Errorf("service task startedBy = %q, want ecs-svc/...", aws.ToString(task.StartedBy))
		}
	}
	if diff := cmp.Diff(map[string]int{"service:web": 4, "family:batch": 1}, groups); diff != "" {
		t.Errorf("task groups mismatch (-want +got):\n%s", diff)
	}
	svc, err := e.ecs.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String("c"), ServiceName: aws.String("web")})
	if err != nil || len(svc.TaskArns) != 4 {
		t.Errorf("ListTasks(serviceName web) = %v, %v, want 4 tasks", svc, err)
	}
	ds, err := e.ecs.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String("c"), Services: []string{"web", "nope"}})
	if err != nil || len(ds.Services) != 1 || ds.Services[0].RunningCount != 4 || ds.Services[0].DesiredCount != 4 || len(ds.Failures) != 1 {
		t.Errorf("DescribeServices = %+v, %v, want web running 4 of 4 and one failure", ds, err)
	}
	dc, err := e.ecs.DescribeClusters(ctx, &ecs.DescribeClustersInput{Clusters: []string{"c"}, Include: []types.ClusterField{types.ClusterFieldTags}})
	if err != nil || len(dc.Clusters) != 1 || len(dc.Clusters[0].Tags) != 1 || aws.ToString(dc.Clusters[0].Tags[0].Value) != "test" {
		t.Errorf("DescribeClusters(TAGS) = %+v, %v, want tag env=test", dc, err)
	}
	if _, err := e.ecs.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String("c"), NextToken: aws.String("garbage")}); errorCode(err) != "InvalidParameterException" {
		t.Errorf("ListTasks(bad token) = %v, want InvalidParameterException", err)
	}
}

func TestSendCommandLimits(t *testing.T) {
	e := start(t, fleet(2, ""))
	ctx := context.Background()
	doc := e.document(60, "apiclient get os")
	ids := make([]string, 51)
	for i := range ids {
		ids[i] = e.state().Clusters[0].Instances[0].EC2InstanceID
	}
	_, err := e.ssm.SendCommand(ctx, &ssm.SendCommandInput{DocumentName: aws.String(doc), InstanceIds: ids})
	if errorCode(err) != "ValidationException" {
		t.Errorf("SendCommand(51 instances) = %v, want ValidationException", err)
	}
	_, err = e.ssm.SendCommand(ctx, &ssm.SendCommandInput{DocumentName: aws.String(doc), InstanceIds: []string{"i-0000000000000dead"}})
	if errorCode(err) != "InvalidInstanceId" {
		t.Errorf("SendCommand(unknown instance) = %v, want InvalidInstanceId", err)
	}
	_, err = e.ssm.GetCommandInvocation(ctx, &ssm.GetCommandInvocationInput{CommandId: aws.String("nope"), InstanceId: aws.String(ids[0])})
	if errorCode(err) != "InvocationDoesNotExist" {
		t.Errorf("GetCommandInvocation(unknown) = %v, want InvocationDoesNotExist", err)
	}
}

// TestDescribedInstancesFollowEveryChange: the world keeps each instance's description encoded
// between two changes of it; a describe after an attribute is put or deleted, after a status
// change (read alone: the tasks then move) answers what a fresh description (with TAGS, never
// kept) answers.
func TestDescribedInstancesFollowEveryChange(t *testing.T) {
	e := start(t, fleet(3, ""))
	ctx := context.Background()
	arns := e.arns("c")
	same := func(when string) {
		t.Helper()
		kept, err := e.ecs.DescribeContainerInstances(ctx, &ecs.DescribeContainerInstancesInput{Cluster: aws.String("c"), ContainerInstances: arns})
		if err != nil {
			t.Fatalf("%s: DescribeContainerInstances: %v", when, err)
		}
		fresh, err := e.ecs.DescribeContainerInstances(ctx, &ecs.DescribeContainerInstancesInput{Cluster: aws.String("c"), ContainerInstances: arns,
			Include: []types.ContainerInstanceField{types.ContainerInstanceFieldTags}})
		if err != nil {
			t.Fatalf("%s: DescribeContainerInstances(TAGS): %v", when, err)
		}
		for i := range fresh.ContainerInstances {
			fresh.ContainerInstances[i].Tags = nil
		}
		if diff := cmp.Diff(fresh.ContainerInstances, kept.ContainerInstances, cmpopts.IgnoreUnexported(types.ContainerInstance{}, types.Attribute{}, types.Resource{}, types.VersionInfo{})); diff != "" {
			t.Errorf("%s: the kept description differs from a fresh one (-fresh +kept):\n%s", when, diff)
		}
	}
	attr := func(value string) []types.Attribute {
		return []types.Attribute{{Name: aws.String("custom.kept"), Value: aws.String(value), TargetId: aws.String(arns[0]), TargetType: types.TargetTypeContainerInstance}}
	}
	same("at the start")
	same("described twice")
	if _, err := e.ecs.PutAttributes(ctx, &ecs.PutAttributesInput{Cluster: aws.String("c"), Attributes: attr("one")}); err != nil {
		t.Fatal(err)
	}
	same("after PutAttributes")
	if _, err := e.ecs.PutAttributes(ctx, &ecs.PutAttributesInput{Cluster: aws.String("c"), Attributes: attr("two")}); err != nil {
		t.Fatal(err)
	}
	same("after PutAttributes of a new value")
	if _, err := e.ecs.DeleteAttributes(ctx, &ecs.DeleteAttributesInput{Cluster: aws.String("c"), Attributes: attr("two")}); err != nil {
		t.Fatal(err)
	}
	same("after DeleteAttributes")
	if _, err := e.ecs.UpdateContainerInstancesState(ctx, &ecs.UpdateContainerInstancesStateInput{Cluster: aws.String("c"),
		ContainerInstances: arns[:1], Status: types.ContainerInstanceStatusDraining}); err != nil {
		t.Fatal(err)
	}
	// Its tasks now move on the world's clock: a second describe may see them move, so this one
	// is read alone.
	out, err := e.ecs.DescribeContainerInstances(ctx, &ecs.DescribeContainerInstancesInput{Cluster: aws.String("c"), ContainerInstances: arns[:1]})
	if err != nil || len(out.ContainerInstances) != 1 || aws.ToString(out.ContainerInstances[0].Status) != "DRAINING" {
		t.Fatalf("DescribeContainerInstances after DRAINING = %+v, %v; want the instance DRAINING", out, err)
	}
}

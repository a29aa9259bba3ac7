package server

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/google/go-cmp/cmp"

	"github.com/rollwave/rollwave/tools/fleetsim/admin"
)

// TestTaskDurationFromDraining runs two standalone tasks of 20 virtual minutes, one from the load
// and one from its instance's drain, drains that instance an hour in, and expects the first to end
// at 20 minutes and the second 20 minutes after the drain, whenever the drain began.
func TestTaskDurationFromDraining(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const scale = 100
		e := startInProcess(t, `
timeScale: 100
clusters:
  - name: c
    instances:
      - {ids: [i-0000000000000000a, i-0000000000000000b], version: 1.19.5}
    tasks:
      - {family: fixed, instance: i-0000000000000000a, duration: 20m}
      - {family: drain, instance: i-0000000000000000b, duration: 20m, durationFrom: draining}
`)
		sleep := func(d time.Duration) { time.Sleep(d / scale) }
		running := func(id string) bool {
			for _, in := range e.state().Clusters[0].Instances {
				if in.EC2InstanceID == id {
					return len(in.Tasks) > 0
				}
			}
			t.Fatalf("no instance %s", id)
			return false
		}
		sleep(21 * time.Minute)
		if running("i-0000000000000000a") || !running("i-0000000000000000b") {
			t.Fatalf("21 minutes in: the task from the load runs %t, the task from the drain %t; want false, true",
				running("i-0000000000000000a"), running("i-0000000000000000b"))
		}
		sleep(40 * time.Minute)
		if !running("i-0000000000000000b") {
			t.Fatal("the task from the drain ended before its instance was drained")
		}
		b := e.instance("c", 1)
		if _, err := e.ecs.UpdateContainerInstancesState(context.Background(), &ecs.UpdateContainerInstancesStateInput{Cluster: aws.String("c"),
			ContainerInstances: []string{b.ContainerInstanceArn}, Status: types.ContainerInstanceStatusDraining}); err != nil {
			t.Fatalf("drain: %v", err)
		}
		sleep(19 * time.Minute)
		if !running("i-0000000000000000b") {
			t.Fatal("the task from the drain ended 19 minutes into the drain, want 20")
		}
		sleep(2 * time.Minute)
		if running("i-0000000000000000b") {
			t.Fatal("the task from the drain still runs 21 minutes into the drain, want ended at 20")
		}
	})
}

// TestReportHasAttributesAndTheirChanges sets, overwrites and deletes custom attributes and
// expects the report to give the instance's attributes now and every change at its virtual time.
func TestReportHasAttributesAndTheirChanges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const scale = 100
		e := startInProcess(t, `
timeScale: 100
clusters:
  - name: c
    instances:
      - {ids: [i-0000000000000000a], version: 1.19.5, attributes: {team: blue}}
`)
		ctx := context.Background()
		arn := e.instance("c", 0).ContainerInstanceArn
		put := func(name, value string) {
			t.Helper()
			if _, err := e.ecs.PutAttributes(ctx, &ecs.PutAttributesInput{Cluster: aws.String("c"),
				Attributes: []types.Attribute{{Name: aws.String(name), Value: aws.String(value), TargetId: aws.String(arn)}}}); err != nil {
				t.Fatalf("put %s=%s: %v", name, value, err)
			}
		}
		start := e.state().Now
		put("rollwave.job", "j1")
		put("rollwave.stage", "staging")
		time.Sleep(10 * time.Second / scale)
		put("rollwave.stage", "staging") // unchanged: not a change
		put("rollwave.stage", "staged")
		time.Sleep(5 * time.Second / scale)
		if _, err := e.ecs.DeleteAttributes(ctx, &ecs.DeleteAttributesInput{Cluster: aws.String("c"),
			Attributes: []types.Attribute{{Name: aws.String("rollwave.job"), TargetId: aws.String(arn)}}}); err != nil {
			t.Fatalf("delete rollwave.job: %v", err)
		}

		got := e.report().Instances[0]
		if want := map[string]string{"team": "blue", "rollwave.stage": "staged"}; !cmp.Equal(got.Attributes, want) {
			t.Errorf("report attributes = %v, want %v", got.Attributes, want)
		}
		want := []admin.AttributeChange{
			{T: start, Name: "rollwave.job", Value: "j1"},
			{T: start, Name: "rollwave.stage", Value: "staging"},
			{T: start.Add(10 * time.Second), Name: "rollwave.stage", Value: "staged"},
			{T: start.Add(15 * time.Second), Name: "rollwave.job", Deleted: true},
		}
		if diff := cmp.Diff(want, got.AttributeChanges); diff != "" {
			t.Errorf("report attribute changes (-want +got):\n%s", diff)
		}
	})
}

package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/update"
)

// TestStatusShowsWhyAJobWaits: status reads rollwave.waiting from the instances, as the drainer
// leaves it on one whose job it holds, and shows the reason and since when; a value it cannot
// parse is shown as it is.
func TestStatusShowsWhyAJobWaits(t *testing.T) {
	t.Parallel()
	st := startStack(t)
	ctx := t.Context()
	ecsClient := cluster.New(ecs.NewFromConfig(st.s.AWSConfig(ctx)))
	since := time.Now().UTC().Add(-90 * time.Minute).Truncate(time.Second)
	marks := map[string]map[string]string{
		"i-0aaaaaaaaaaaaaaa1": {update.AttrJob: "j-1", update.AttrStage: "staged",
			update.AttrWaiting: update.Waiting{Reason: update.WaitWindow, Since: since, Warned: since.Add(time.Hour)}.String()},
		"i-0aaaaaaaaaaaaaaa2": {update.AttrJob: "j-2", update.AttrStage: "staged", update.AttrWaiting: "soon"},
	}
	for id, attrs := range marks {
		in, err := ecsClient.Instance(ctx, "ops-a", id)
		if err != nil {
			t.Fatal(err)
		}
		if err := ecsClient.PutAttributes(ctx, "ops-a", in.ARN, attrs); err != nil {
			t.Fatal(err)
		}
	}

	r := st.run("status", "--cluster", "ops-a", "-o", "json")
	var rep statusReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); r.code != 0 || err != nil || len(rep.Clusters) != 1 {
		t.Fatalf("status -o json: exit %d, %v, %d clusters", r.code, err, len(rep.Clusters))
	}
	type wait struct {
		Instance, Waiting string
		Since             time.Time
	}
	var got []wait
	for _, in := range rep.Clusters[0].Instances {
		got = append(got, wait{in.EC2InstanceID, in.Waiting, in.WaitingSince})
	}
	want := []wait{{"i-0aaaaaaaaaaaaaaa1", "window", since}, {"i-0aaaaaaaaaaaaaaa2", "soon", time.Time{}}, {"i-0aaaaaaaaaaaaaaa3", "", time.Time{}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("status -o json: waits (-want +got):\n%s", diff)
	}
	if n := strings.Count(r.stdout, `"waitingSince"`); n != 1 {
		t.Errorf("status -o json has %d waitingSince fields, want 1 (only the instance that waits with a start):\n%s", n, r.stdout)
	}

	r = st.run("status", "--cluster", "ops-a")
	lines := map[string]string{}
	for line := range strings.Lines(r.stdout) {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], "i-") {
			lines[f[0]] = line
		}
	}
	for id, want := range map[string]string{
		"i-0aaaaaaaaaaaaaaa1": "window for 1h30m", "i-0aaaaaaaaaaaaaaa2": "soon", "i-0aaaaaaaaaaaaaaa3": "-",
	} {
		if !strings.Contains(lines[id], want) {
			t.Errorf("status: the line of %s = %q, want it to say %q", id, lines[id], want)
		}
	}
	if !strings.Contains(lines["i-0aaaaaaaaaaaaaaa1"], "(since "+since.Format(time.RFC3339)+")") || !strings.Contains(r.stdout, "WAITING") {
		t.Errorf("status: want the WAITING column and the start %s:\n%s", since.Format(time.RFC3339), r.stdout)
	}
}

// TestStatusCountsAsTheLimitDoes: status's out-of-service count is the drainer's, so "at the
// limit" in rollwave status means what admission sees.
func TestStatusCountsAsTheLimitDoes(t *testing.T) {
	serving := update.InstanceView{Status: "ACTIVE", AgentConnected: true}
	tests := []struct {
		name string
		v    update.InstanceView
		want clusterStatus
	}{
		{"an instance that serves", serving,
			clusterStatus{Total: 1, InService: 1, Limit: 1}},
		{"a drain of rollwave", update.InstanceView{Status: "DRAINING", AgentConnected: true, Stage: update.StageDraining},
			clusterStatus{Total: 1, OutOfServiceByUs: 1, OutOfService: 1, Limit: 1}},
		{"a drain of a person", update.InstanceView{Status: "DRAINING", AgentConnected: true},
			clusterStatus{Total: 1, OutOfServiceOther: 1, OutOfService: 1, Limit: 1}},
		{"an instance parked after a failed update is failed and counts", update.InstanceView{Status: "DRAINING", AgentConnected: true, Stage: update.StageFailed},
			clusterStatus{Total: 1, Failed: 1, OutOfService: 1, Limit: 1, parked: 1}},
		{"a failed instance returned to service is failed and does not count", update.InstanceView{Status: "ACTIVE", AgentConnected: true, Stage: update.StageFailed},
			clusterStatus{Total: 1, Failed: 1, Limit: 1}},
		{"an ACTIVE instance whose agent is disconnected counts", update.InstanceView{Status: "ACTIVE"},
			clusterStatus{Total: 1, InService: 1, OutOfService: 1, Limit: 1}},
	}
	for _, tt := range tests {
		var got clusterStatus
		count(&got, []update.InstanceView{tt.v}, update.DefaultLimit)
		if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(clusterStatus{}), cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s: count(%+v) (-want +got):\n%s", tt.name, tt.v, diff)
		}
	}
}

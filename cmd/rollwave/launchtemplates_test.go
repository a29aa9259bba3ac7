package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"github.com/rollwave/rollwave/shared/launchtemplate"
	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/tools/harness"
)

// TestStatusShowsLaunchTemplateDrift: the scanner's "Launch Template Drift" findings, read back
// from the history, are lines of their cluster in rollwave status: the newest of each Auto
// Scaling group, with its outcome and reason; another cluster's are not.
func TestStatusShowsLaunchTemplateDrift(t *testing.T) {
	t.Parallel()
	st := startStack(t)
	ctx := t.Context()
	pub := notify.New(eventbridge.NewFromConfig(st.s.AWSConfig(ctx)), "", st.prefix)
	now := time.Now().UTC().Truncate(time.Second)
	for _, f := range []launchtemplate.Finding{
		{Cluster: "ops-a", AutoScalingGroup: "ops-a-asg", Version: "1.20.3", Outcome: launchtemplate.Drifted, Message: "an older finding", At: now.Add(-2 * time.Minute)},
		{Cluster: "ops-a", AutoScalingGroup: "ops-a-asg", Version: "1.20.3", Outcome: launchtemplate.LeftAlone, Reason: "pinned-version",
			Message: "the group launches version 3 of lt-0123, not its latest", At: now.Add(-time.Minute)},
		{Cluster: "ops-b", AutoScalingGroup: "ops-b-asg", Version: "1.20.3", Outcome: launchtemplate.Drifted, Message: "another cluster's", At: now},
	} {
		if err := pub.Publish(ctx, notify.LaunchTemplateDrift, f); err != nil {
			t.Fatalf("publish %s's finding: %v", f.AutoScalingGroup, err)
		}
	}
	var got []launchTemplateStatus
	harness.Eventually(t, 30*time.Second, func() (bool, string) {
		r := st.run("status", "--cluster", "ops-a", "-o", "json")
		var rep statusReport
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || len(rep.Clusters) != 1 {
			return false, fmt.Sprintf("status -o json: exit %d, %v: %s", r.code, err, r.stderr)
		}
		got = rep.Clusters[0].LaunchTemplates
		return len(got) == 1 && got[0].Outcome == string(launchtemplate.LeftAlone), fmt.Sprintf("launch templates %+v", got)
	})
	if got[0].AutoScalingGroup != "ops-a-asg" || got[0].Reason != "pinned-version" || !got[0].At.Equal(now.Add(-time.Minute)) {
		t.Errorf("launch templates of ops-a = %+v, want ops-a-asg's newest finding: left-alone, pinned-version", got)
	}
	r := st.run("status", "--cluster", "ops-a")
	for _, want := range []string{"launch template of ops-a-asg: left-alone (pinned-version) ", " ago: the group launches version 3 of lt-0123"} {
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("status --cluster ops-a: exit %d, want %q in:\n%s", r.code, want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "an older finding") || strings.Contains(r.stdout, "ops-b-asg") {
		t.Errorf("status --cluster ops-a shows an older finding or another cluster's:\n%s", r.stdout)
	}
}

package e2e_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/topology"
	"github.com/rollwave/rollwave/tools/harness"
)

// TestDuplicateJobMessage sends one job (same ID) twice to the patcher, as SQS's at-least-once
// delivery or a worker killed between forwarding and deleting does: the instance is updated once
// and the job ends once, updated.
func TestDuplicateJobMessage(t *testing.T) {
	t.Parallel()
	p := startPipeline(t, "testdata/duplicate.yaml")
	res := p.newResults()
	const host = "i-0d00000000000000a"
	job := fmt.Sprintf(`{"schema":"rollwave.job/v1","id":"dup-1","cluster":"duplicate","instance":%q,"targetVersion":%q,"requestedBy":"e2e","reason":"duplicate delivery"}`, host, targetVersion)
	p.send(topology.Patcher, job)
	p.send(topology.Patcher, job)

	harness.Eventually(t, 60*time.Second, func() (bool, string) {
		if err := res.poll(); err != nil {
			return false, err.Error()
		}
		st, err := p.fleet.State(t.Context())
		if err != nil {
			return false, err.Error()
		}
		in := st.Clusters[0].Instances[0]
		_, ended := res.byEC2[host]
		return ended && in.Status == "ACTIVE" && !marked(in), fmt.Sprintf("ended %t, host %s %s %v", ended, in.Status, in.Version, in.Attributes)
	})
	var endings []ended
	for _, e := range res.all {
		if e.JobID == "dup-1" && e.Outcome != "" { // an ending, not its start or its steps
			endings = append(endings, e)
		}
	}
	if len(endings) != 1 || endings[0].DetailType != notify.InstanceUpdateSucceeded {
		t.Errorf("job dup-1 ended %d times: %+v, want once, %q", len(endings), endings, notify.InstanceUpdateSucceeded)
	}
	for _, in := range p.report().Instances {
		if in.EC2InstanceID == host && (in.Reboots != 1 || in.Version != targetVersion) {
			t.Errorf("host %s rebooted %d times, on %s; want once, on %s", host, in.Reboots, in.Version, targetVersion)
		}
	}
	p.checkNoDeadLetters()
}

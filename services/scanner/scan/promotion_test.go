package scan

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/cluster/clustertest"
	"github.com/rollwave/rollwave/shared/managed"
	"github.com/rollwave/rollwave/shared/promotion"
	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/ssmcommand"
	"github.com/rollwave/rollwave/shared/ssmcommand/ssmcommandtest"
	"github.com/rollwave/rollwave/shared/update"
)

// TestScanOfAStagedPromotion: with stages, the rollout's version is the newest the first stage's
// hosts are offered (latest without a target), and every job carries its stage and the jobs the
// scan sent to each stage before it; a scan that names a later stage scans the earlier ones too.
func TestScanOfAStagedPromotion(t *testing.T) {
	repo := []string{"1.21.0", "1.20.3", "1.19.5"}
	hosts := map[string][]host{
		"staging": {
			{id: "i-0000000000000000a", state: "Available", active: "1.19.5", chosen: "1.20.3", available: repo},
			{id: "i-0000000000000000b", state: "Available", active: "1.19.5", chosen: "1.20.3", available: repo},
		},
		"prod-eu": {{id: "i-0000000000000000c", state: "Available", active: "1.19.5", chosen: "1.20.3", available: repo}},
		// Offered a newer version than the first stage: the promotion's version is the first stage's.
		"prod-us": {{id: "i-0000000000000000d", state: "Available", active: "1.19.5", chosen: "1.21.0", available: repo}},
	}
	plan, err := promotion.ParsePlan(`[{"name":"staging","clusters":["staging"],"bake":"30m"},{"name":"eu","clusters":["prod-eu"],"bake":"1h"},{"name":"us","clusters":["prod-us"]}]`)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for _, request := range []string{`{"schema":"rollwave.scan/v1"}`, `{"schema":"rollwave.scan/v1","clusters":["prod-us"]}`} {
		t.Run(request, func(t *testing.T) {
			ecs := clustertest.NewFake()
			ssm := ssmcommandtest.NewFake()
			for c, hs := range hosts {
				ecs.AddCluster(c, nil)
				for _, h := range hs {
					ecs.AddInstance(c, cluster.Instance{EC2InstanceID: h.id, Status: "ACTIVE", AgentConnected: true, Attributes: map[string]string{"bottlerocket.variant": "aws-ecs-2"}})
					ssm.AddInstance(h.id, true)
					ssm.Respond(h.id, checkDoc, ssmcommandtest.Response{Stdout: status(h.state, h.active, h.chosen, h.available...)})
				}
			}
			sent := &sentJobs{}
			opts := ssmcommand.Options{Wait: time.Minute, PollInterval: time.Millisecond}
			clock := func() time.Time { return now }
			s := &scanner{
				managed: managed.New(managed.Config{Clusters: []string{"staging", "prod-eu", "prod-us"}}, ecs), instances: ecs, commands: ssm, jobs: sent,
				reclaim:    &reclaimer{ecs: ecs, commands: ssm, events: &published{}, checkDoc: checkDoc, cancelDoc: cancelDoc, ssm: opts, lease: time.Hour, now: clock},
				patcherURL: "patcher", checkDoc: checkDoc, ssm: opts, now: clock, stages: plan,
			}
			if out := s.handle(context.Background(), queue.Message{ID: "m1", Body: []byte(request)}); out != queue.Done() {
				t.Fatalf("handle() = %+v, want Done", out)
			}
			got := map[string]string{}
			proms := map[string]*update.Promotion{}
			for _, j := range sent.jobs {
				got[j.Instance] = j.TargetVersion
				proms[j.Instance] = j.Promotion
			}
			want := map[string]string{"i-0000000000000000a": "1.20.3", "i-0000000000000000b": "1.20.3", "i-0000000000000000c": "1.20.3", "i-0000000000000000d": "1.20.3"}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("jobs' target versions (-want +got):\n%s", diff)
			}
			wantProm := map[string]*update.Promotion{
				"i-0000000000000000a": {Stage: "staging", Started: now},
				"i-0000000000000000b": {Stage: "staging", Started: now},
				"i-0000000000000000c": {Stage: "eu", Started: now, Earlier: []update.StageJobs{{Stage: "staging", Jobs: 2}}},
				"i-0000000000000000d": {Stage: "us", Started: now, Earlier: []update.StageJobs{{Stage: "staging", Jobs: 2}, {Stage: "eu", Jobs: 1}}},
			}
			if diff := cmp.Diff(wantProm, proms); diff != "" {
				t.Errorf("jobs' promotions (-want +got):\n%s", diff)
			}
		})
	}
}

func TestConfigReadsTheStages(t *testing.T) {
	env := map[string]string{"ROLLWAVE_CLUSTERS": "staging", "ROLLWAVE_STAGES": `[{"name":"staging","clusters":["staging"],"bake":"soon"},{"name":"prod","clusters":[]}]`}
	_, err := loadConfig(func(k string) string { return env[k] })
	if err == nil {
		t.Fatal("loadConfig accepted stages with two problems")
	}
	for _, want := range []string{`ROLLWAVE_STAGES`, `bake "soon"`, `stage "prod": no clusters`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("loadConfig() error = %v\nwant it to say %q", err, want)
		}
	}
	env["ROLLWAVE_STAGES"] = `[{"name":"staging","clusters":["staging"],"bake":"30m"}]`
	c, err := loadConfig(func(k string) string { return env[k] })
	if err != nil || len(c.Stages.Stages) != 1 || c.Stages.Stages[0].Bake != 30*time.Minute {
		t.Errorf("loadConfig() = %+v, %v, want the one stage", c.Stages, err)
	}
}

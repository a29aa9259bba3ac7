package drain

import (
	"context"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"

	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/cluster/clustertest"
	"github.com/rollwave/rollwave/shared/managed"
	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/update"
)

// halts records the halts of a failed health gate.
type halts struct {
	mu   sync.Mutex
	sent []notify.HaltedDetail
}

func (h *halts) Halt(_ context.Context, d notify.HaltedDetail, reason string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	d.Message = reason
	h.sent = append(h.sent, d)
	return nil
}

// tight gives the cluster a service "web" of three tasks at 100 %/200 %, two of 512 CPU on me, and leaves
// the other instances room for room CPU units each.
func tight(w *world, room int) {
	w.ecs.AddService(testCluster, cluster.Service{Name: "web", Status: "ACTIVE", Desired: 3, Running: 3, MinHealthyPercent: 100, MaxPercent: 200, Deployments: 1, Settled: true})
	w.ecs.AddTask(testCluster, cluster.Task{InstanceARN: w.me.ARN, StartedBy: "ecs-svc/1", Group: "service:web", CPU: 512, Memory: 512})
	for _, o := range w.others {
		o.RemainingCPU, o.RemainingMemory, o.RegisteredCPU, o.RegisteredMemory = room, 4096, 2048, 4096
		w.ecs.SetInstance(o)
	}
}

// parked marks o as an earlier job left it when its update failed after the reboot: stage failed
// with its reason, in status, its agent connected or not.
func parked(t *testing.T, w *world, arn, status string, agent bool) {
	o := w.instance(t, arn)
	o.Status, o.AgentConnected = status, agent
	o.Attributes[update.AttrJob] = "job-0"
	o.Attributes[update.AttrStage] = string(update.StageFailed)
	o.Attributes["rollwave.failure"] = string(update.CodeBootFailedRolledBack)
	w.ecs.SetInstance(o)
}

// updatedLast marks others[0] as verified by rollwave at at, coming from 1.19.5.
func updatedLast(w *world, at time.Time) {
	in := w.others[0]
	in.Attributes[update.AttrVerifiedAt] = at.UTC().Format(time.RFC3339)
	in.Attributes[update.AttrRollbackTo] = "1.19.5"
	w.ecs.SetInstance(in)
}

// TestPolicies runs the drainer's admission policies against the fakes: each row sets up the
// cluster and says what becomes of job-1 (the outcome, its instance) and of the cluster.
func TestPolicies(t *testing.T) {
	tests := []struct {
		rule      string
		setup     func(t *testing.T, w *world)
		want      string // outcome prefix
		wantStage update.Stage
		// wantHalt is a part of the halt's reason, "" for no halt; wantRollback the version of
		// the rollback job sent to the patcher, "" for none.
		wantHalt, wantRollback string
		check                  func(t *testing.T, w *world)
	}{
		{
			rule: "outside the maintenance window: wait until it opens (at most 15m), no claim",
			setup: func(t *testing.T, w *world) {
				win, err := update.ParseWindow("Mon-Fri 09:00-17:00") // synctest starts on Saturday 2000-01-01
				if err != nil {
					t.Fatal(err)
				}
				w.d.policies.Default.Window = win
			},
			want: "retry after 15m0s: cluster prod: outside the maintenance window", wantStage: update.StageStaged,
		},
		{
			rule:  "capacity: the other instances cannot host the replacement: wait and say why",
			setup: func(t *testing.T, w *world) { tight(w, 0) },
			want:  "retry after 5m30s: cluster prod: capacity:", wantStage: update.StageStaged,
		},
		{
			rule:  "capacity: room for the replacement: admitted",
			setup: func(t *testing.T, w *world) { tight(w, 1024) },
			want:  "retry: context deadline exceeded", wantStage: update.StageDraining,
		},
		{
			rule: "capacity check switched off for the cluster: admitted without room",
			setup: func(t *testing.T, w *world) {
				tight(w, 0)
				w.d.policies.Default.CheckCapacity = false
			},
			want: "retry: context deadline exceeded", wantStage: update.StageDraining,
		},
		{
			rule: "cluster limit: an instance parked DRAINING after a failed update holds the only slot: back off, no claim",
			setup: func(t *testing.T, w *world) {
				parked(t, w, w.others[0].ARN, cluster.StatusDraining, true)
			},
			want: "retry after 5m30s: cluster prod: 2 of at most 1 instances out of service with this claim, over the limit 1 (i-", wantStage: update.StageStaged,
		},
		{
			rule: "cluster limit: an instance parked after it never came back (agent disconnected) holds the only slot: back off",
			setup: func(t *testing.T, w *world) {
				parked(t, w, w.others[0].ARN, cluster.StatusDraining, false)
			},
			want: "retry after 5m30s: cluster prod: 2 of at most 1 instances out of service with this claim, over the limit 1 (i-", wantStage: update.StageStaged,
		},
		{
			rule: "cluster limit: an ACTIVE instance whose ECS agent is disconnected holds the only slot: back off",
			setup: func(t *testing.T, w *world) {
				o := w.others[0]
				o.AgentConnected = false
				w.ecs.SetInstance(o)
			},
			want: "retry after 5m30s: cluster prod: 2 of at most 1 instances out of service with this claim, over the limit 1 (i-", wantStage: update.StageStaged,
		},
		{
			rule: "cluster limit: a failed instance returned to service (ACTIVE) serves and hosts the replacement: admitted",
			setup: func(t *testing.T, w *world) {
				tight(w, 0)
				parked(t, w, w.others[0].ARN, cluster.StatusActive, true)
				o := w.instance(t, w.others[0].ARN)
				o.RemainingCPU = 1024
				w.ecs.SetInstance(o)
			},
			want: "retry: context deadline exceeded", wantStage: update.StageDraining,
		},
		{
			rule: "capacity: an instance parked after a failed update takes no replacement: wait and say why",
			setup: func(t *testing.T, w *world) {
				two, err := update.ParseLimit("2") // the limit admits: capacity alone holds the job
				if err != nil {
					t.Fatal(err)
				}
				w.d.policies.Default.MaxOutOfService = two
				tight(w, 0)
				parked(t, w, w.others[0].ARN, cluster.StatusDraining, true)
				o := w.instance(t, w.others[0].ARN)
				o.RemainingCPU = 1024
				w.ecs.SetInstance(o)
			},
			want: "retry after 5m30s: cluster prod: capacity:", wantStage: update.StageStaged,
		},
		{
			rule: "global limit counts an instance parked after a failed update in another cluster: back off, claim withdrawn",
			setup: func(t *testing.T, w *world) {
				w.d.policies.Default.MaxOutOfService = update.Limit{}
				w.d.policies.GlobalMaxOutOfService = 1
				w.d.managed = managed.New(managed.Config{Clusters: []string{testCluster, "batch"}}, w.ecs)
				w.ecs.AddInstance("batch", cluster.Instance{Status: cluster.StatusDraining, AgentConnected: true,
					Attributes: map[string]string{update.AttrJob: "job-9", update.AttrStage: string(update.StageFailed)}})
			},
			want: "retry after 5m30s: all clusters: 2 instances out of service with this claim, over the global limit 1", wantStage: update.StageStaged,
		},
		{
			rule: "global limit counts an instance a person drained in another cluster: back off, claim withdrawn",
			setup: func(t *testing.T, w *world) {
				w.d.policies.GlobalMaxOutOfService = 1
				w.d.managed = managed.New(managed.Config{Clusters: []string{testCluster, "batch"}}, w.ecs)
				w.ecs.AddInstance("batch", cluster.Instance{Status: cluster.StatusDraining, AgentConnected: true})
			},
			want: "retry after 5m30s: all clusters: 2 instances out of service with this claim, over the global limit 1", wantStage: update.StageStaged,
		},
		{
			rule: "global limit reached by another cluster: back off, claim withdrawn",
			setup: func(t *testing.T, w *world) {
				w.d.policies.GlobalMaxOutOfService = 1
				w.d.managed = managed.New(managed.Config{Clusters: []string{testCluster, "batch"}}, w.ecs)
				w.ecs.AddInstance("batch", cluster.Instance{Status: cluster.StatusDraining, AgentConnected: true,
					Attributes: map[string]string{update.AttrJob: "job-9", update.AttrStage: string(update.StageDraining)}})
			},
			want: "retry after 5m30s: all clusters: 2 instances out of service with this claim, over the global limit 1", wantStage: update.StageStaged,
		},
		{
			rule: "global limit counts the clusters selected by ROLLWAVE_CLUSTER_TAG: back off, claim withdrawn",
			setup: func(t *testing.T, w *world) {
				w.d.policies.GlobalMaxOutOfService = 1
				w.d.managed = managed.New(managed.Config{Clusters: []string{testCluster}, Tag: &cluster.TagSelector{Key: "rollwave", Value: "on"}}, w.ecs)
				w.ecs.AddCluster("batch", map[string]string{"rollwave": "on"})
				w.ecs.AddInstance("batch", cluster.Instance{Status: cluster.StatusDraining, AgentConnected: true,
					Attributes: map[string]string{update.AttrJob: "job-9", update.AttrStage: string(update.StageDraining)}})
			},
			want: "retry after 5m30s: all clusters: 2 instances out of service with this claim, over the global limit 1", wantStage: update.StageStaged,
		},
		{
			rule: "global limit ignores a cluster without the tag: admitted",
			setup: func(t *testing.T, w *world) {
				w.d.policies.GlobalMaxOutOfService = 1
				w.d.managed = managed.New(managed.Config{Clusters: []string{testCluster}, Tag: &cluster.TagSelector{Key: "rollwave", Value: "on"}}, w.ecs)
				w.ecs.AddCluster("batch", map[string]string{"rollwave": "off"})
				w.ecs.AddInstance("batch", cluster.Instance{Status: cluster.StatusDraining, AgentConnected: true,
					Attributes: map[string]string{update.AttrJob: "job-9", update.AttrStage: string(update.StageDraining)}})
			},
			want: "retry: context deadline exceeded", wantStage: update.StageDraining,
		},
		{
			rule: "global limit counts the job's own cluster once when the deployment names it by ARN: admitted",
			setup: func(t *testing.T, w *world) {
				w.d.policies.GlobalMaxOutOfService = 1
				w.d.managed = managed.New(managed.Config{Clusters: []string{clustertest.ClusterARN(testCluster)}}, w.ecs)
			},
			want: "retry: context deadline exceeded", wantStage: update.StageDraining,
		},
		{
			rule: "global limit does not count a cluster the deployment does not manage: admitted",
			setup: func(t *testing.T, w *world) {
				w.d.policies.GlobalMaxOutOfService = 1
				w.ecs.AddInstance("unmanaged", cluster.Instance{Status: cluster.StatusDraining, AgentConnected: true,
					Attributes: map[string]string{update.AttrJob: "job-9", update.AttrStage: string(update.StageDraining)}})
			},
			want: "retry: context deadline exceeded", wantStage: update.StageDraining,
		},
		{
			rule: "global limit with room: admitted",
			setup: func(t *testing.T, w *world) {
				w.d.policies.GlobalMaxOutOfService = 2
				w.d.managed = managed.New(managed.Config{Clusters: []string{testCluster, "batch"}}, w.ecs)
				w.ecs.AddInstance("batch", cluster.Instance{Status: cluster.StatusDraining, AgentConnected: true,
					Attributes: map[string]string{update.AttrJob: "job-9", update.AttrStage: string(update.StageDraining)}})
			},
			want: "retry: context deadline exceeded", wantStage: update.StageDraining,
		},
		{
			rule: "health gate: the instance updated last has a task that does not start: wait",
			setup: func(t *testing.T, w *world) {
				updatedLast(w, time.Now().Add(-time.Minute))
				w.ecs.AddTask(testCluster, cluster.Task{InstanceARN: w.others[0].ARN, StartedBy: "ecs-svc/1", Group: "service:web", LastStatus: "PENDING"})
			},
			want: "retry after 33s: cluster prod: health gate: i-", wantStage: update.StageStaged,
			check: func(t *testing.T, w *world) {
				if _, ok := w.instance(t, w.others[0].ARN).Attributes[update.AttrVerifiedAt]; !ok {
					t.Errorf("verified-at removed while the gate waits, want it kept")
				}
			},
		},
		{
			rule: "health gate: the instance updated last runs again: admitted, verified-at cleared",
			setup: func(t *testing.T, w *world) {
				updatedLast(w, time.Now().Add(-time.Minute))
				w.ecs.AddTask(testCluster, cluster.Task{InstanceARN: w.others[0].ARN, StartedBy: "ecs-svc/1", Group: "service:web"})
			},
			want: "retry: context deadline exceeded", wantStage: update.StageDraining,
			check: func(t *testing.T, w *world) {
				if got := marks(w.instance(t, w.others[0].ARN)); len(got) != 0 {
					t.Errorf("marks of the instance updated last = %v, want none (the gate passed)", got)
				}
			},
		},
		{
			rule: "health gate failed past its timeout, rollback off: the cluster halts, nothing rolled back",
			setup: func(t *testing.T, w *world) {
				updatedLast(w, time.Now().Add(-16*time.Minute))
				w.ecs.AddTask(testCluster, cluster.Task{InstanceARN: w.others[0].ARN, StartedBy: "ecs-svc/1", Group: "service:web", LastStatus: "PENDING"})
			},
			want: "retry after 5m30s: cluster prod: halted: health gate: not healthy 15m0s after i-", wantStage: update.StageStaged,
			wantHalt: "health gate: not healthy 15m0s",
		},
		{
			rule: "health gate failed past its timeout, rollback on: the instance is rolled back, the cluster halts",
			setup: func(t *testing.T, w *world) {
				w.d.policies.Default.Rollback = true
				updatedLast(w, time.Now().Add(-16*time.Minute))
				w.ecs.AddTask(testCluster, cluster.Task{InstanceARN: w.others[0].ARN, StartedBy: "ecs-svc/1", Group: "service:web", LastStatus: "PENDING"})
			},
			want: "retry after 5m30s: cluster prod: halted: health gate:", wantStage: update.StageStaged,
			wantHalt: "rolling back i-", wantRollback: "1.19.5",
			check: func(t *testing.T, w *world) {
				if got := marks(w.instance(t, w.others[0].ARN)); len(got) != 0 {
					t.Errorf("marks of the rolled-back instance = %v, want none (the gate acted)", got)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWorld(t, defaultPolicy())
				w.d.policies.Default.HealthGateTimeout = 15 * time.Minute
				h := &halts{}
				w.d.halts = h
				tt.setup(t, w)
				ctx, cancel := context.WithTimeout(t.Context(), 33*time.Second) // bounds the drain in the proceed case
				defer cancel()
				got := w.d.handle(queue.WithLogger(ctx, zerolog.New(zerolog.NewTestWriter(t))), queue.Message{ID: "m-1", Body: w.job(t), ReceiveCount: 1})
				if !strings.HasPrefix(got.String(), tt.want) {
					t.Errorf("handle = %s, want %s...", got, tt.want)
				}
				if in := w.instance(t, w.me.ARN); update.Stage(in.Attributes[update.AttrStage]) != tt.wantStage {
					t.Errorf("stage of job-1's instance = %q, want %q", in.Attributes[update.AttrStage], tt.wantStage)
				}
				switch {
				case tt.wantHalt == "" && len(h.sent) > 0:
					t.Errorf("halts = %+v, want none", h.sent)
				case tt.wantHalt != "" && (len(h.sent) != 1 || !strings.Contains(h.sent[0].Message, tt.wantHalt) || h.sent[0].Reason != GateHaltReason):
					t.Errorf("halts = %+v, want one %s halt saying %q", h.sent, GateHaltReason, tt.wantHalt)
				}
				var rollbacks []update.Job
				for _, j := range w.forwarded(t) {
					if j.LockVersion {
						rollbacks = append(rollbacks, j)
					}
				}
				switch {
				case tt.wantRollback == "" && len(rollbacks) > 0:
					t.Errorf("rollback jobs = %+v, want none", rollbacks)
				case tt.wantRollback != "" && (len(rollbacks) != 1 || rollbacks[0].TargetVersion != tt.wantRollback ||
					rollbacks[0].Instance != w.others[0].EC2InstanceID || rollbacks[0].Step != update.StepStage):
					t.Errorf("rollback jobs = %+v, want one for %s to %s at step stage", rollbacks, w.others[0].EC2InstanceID, tt.wantRollback)
				}
				if tt.check != nil {
					tt.check(t, w)
				}
			})
		})
	}
}

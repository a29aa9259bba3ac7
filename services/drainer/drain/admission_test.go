package drain

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/managed"
	"github.com/rollwave/rollwave/shared/pause"
	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/update"
)

// answer is a verdict as a gate's table compares it: "admit", "hold <reason> <wake>" or
// "refuse <code>", and the start of its why.
type answer struct {
	Verdict string
	Why     string
}

func answerOf(v verdict) answer {
	wakes := map[wakeOn]string{wakeNever: "retry", wakeAt: "at", wakeReturn: "on-return", wakeResume: "on-resume", wakeSettle: "on-settle"}
	switch {
	case v.refuse != nil:
		return answer{Verdict: "refuse " + string(v.refuse.Code), Why: v.why}
	case v.hold != "":
		return answer{Verdict: "hold " + string(v.hold) + " " + wakes[v.wake], Why: v.why}
	}
	return answer{Verdict: "admit", Why: v.why}
}

// gateRow is one rule of one gate: the world it sets up and the answer the gate gives.
type gateRow struct {
	rule     string
	setup    func(t *testing.T, w *world)
	rollback bool // the job is a rollback (lockVersion)
	want     string
	wantWhy  string // the start of the verdict's why, "" for any
}

// testGate asks gate g about job-1 in the world of each row.
func testGate(t *testing.T, g func(d *drainer) gate, rows []gateRow) {
	t.Helper()
	for _, tt := range rows {
		t.Run(tt.rule, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWorld(t, defaultPolicy())
				w.d.policies.Default.HealthGateTimeout = 15 * time.Minute
				w.d.halts = &halts{}
				if tt.setup != nil {
					tt.setup(t, w)
				}
				job, err := update.Decode(w.job(t))
				if err != nil {
					t.Fatal(err)
				}
				job.LockVersion = tt.rollback
				v, err := g(w.d).check(t.Context(), w.d.newLook(&job, w.instance(t, w.me.ARN), false))
				if err != nil {
					t.Fatalf("check: %v", err)
				}
				got := answerOf(v)
				if got.Verdict != tt.want || !strings.HasPrefix(got.Why, tt.wantWhy) {
					t.Errorf("%s = %+v, want %s %q...", g(w.d).name, got, tt.want, tt.wantWhy)
				}
			})
		})
	}
}

// named returns the gate of d called name.
func named(name string) func(d *drainer) gate {
	return func(d *drainer) gate {
		for _, g := range d.gates() {
			if g.name == name {
				return g
			}
		}
		panic("no gate " + name)
	}
}

func TestGateOrderIsCheapestFirst(t *testing.T) {
	w := newWorld(t, defaultPolicy())
	var got []string
	for _, g := range w.d.gates() {
		got = append(got, g.name)
	}
	want := []string{"pause", "window", "promotion", "cluster-limit", "global-limit", "eligibility", "health-gate", "capacity"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("gates (-want +got):\n%s", diff)
	}
	w.d.extraGates = []gate{{name: "alarm"}}
	got = nil
	for _, g := range w.d.gates() {
		got = append(got, g.name)
	}
	want = []string{"pause", "window", "promotion", "cluster-limit", "global-limit", "alarm", "eligibility", "health-gate", "capacity"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("gates with an extra gate (-want +got):\n%s", diff)
	}
}

func TestPauseGate(t *testing.T) {
	paused := func(set map[string]string, err error) func(t *testing.T, w *world) {
		return func(t *testing.T, w *world) {
			w.d.pauses = pause.NewCache(&tags{tags: set, err: err}, "q", time.Second)
		}
	}
	testGate(t, named("pause"), []gateRow{
		{rule: "no pause store: admit", want: "admit"},
		{rule: "not paused: admit", setup: paused(map[string]string{"rollwave:paused:dev": "carol: other"}, nil), want: "admit"},
		{rule: "cluster paused by a person: hold until resumed", setup: paused(map[string]string{"rollwave:paused:prod": "alice: CVE triage"}, nil),
			want: "hold paused on-resume", wantWhy: "cluster prod paused by alice: CVE triage"},
		{rule: "every cluster paused: hold until resumed", setup: paused(map[string]string{"rollwave:paused": "bob: freeze"}, nil),
			want: "hold paused on-resume", wantWhy: "every cluster paused by bob: freeze"},
		{rule: "halted by the health gate: hold as halted", setup: paused(map[string]string{"rollwave:paused:prod": gateHaltedBy + ": health gate"}, nil),
			want: "hold halted on-resume"},
		{rule: "pause state unreadable: hold, looking again after the retry", setup: paused(nil, errors.New("AccessDenied")),
			want: "hold pause-unknown retry", wantWhy: "pause state unknown"},
		{rule: "a rollback is not held by a pause", setup: paused(map[string]string{"rollwave:paused:prod": "alice: x"}, nil), rollback: true, want: "admit"},
	})
}

func TestWindowGate(t *testing.T) {
	window := func(s string) func(t *testing.T, w *world) {
		return func(t *testing.T, w *world) {
			win, err := update.ParseWindow(s)
			if err != nil {
				t.Fatal(err)
			}
			w.d.policies.Default.Window = win
		}
	}
	// synctest's clock starts at 2000-01-01 00:00 UTC, a Saturday.
	testGate(t, named("window"), []gateRow{
		{rule: "no window: admit", want: "admit"},
		{rule: "inside the window: admit", setup: window("Sat 00:00-06:00 UTC"), want: "admit"},
		{rule: "outside the window: hold until it opens", setup: window("Mon-Fri 09:00-17:00 UTC"),
			want: "hold window at", wantWhy: `cluster prod: outside the maintenance window "Mon-Fri 09:00-17:00 UTC"; it opens at 2000-01-03T09:00:00Z`},
		{rule: "a rollback does not wait for the window", setup: window("Mon-Fri 09:00-17:00 UTC"), rollback: true, want: "admit"},
	})
}

func TestClusterLimitGate(t *testing.T) {
	limit := func(s string) func(t *testing.T, w *world) {
		return func(t *testing.T, w *world) {
			l, err := update.ParseLimit(s)
			if err != nil {
				t.Fatal(err)
			}
			w.d.policies.Default.MaxOutOfService = l
		}
	}
	testGate(t, named("cluster-limit"), []gateRow{
		{rule: "room for the claim: admit", want: "admit", wantWhy: "cluster prod: 1 of at most 1 instances out of service with this claim"},
		{rule: "another instance draining: hold until one returns", setup: func(t *testing.T, w *world) {
			w.mark(w.others[0], "job-2", update.StageDraining, cluster.StatusDraining)
		}, want: "hold cluster-limit on-return", wantWhy: "cluster prod: 2 of at most 1 instances out of service with this claim, over the limit 1"},
		{rule: "another job's claim counts: hold", setup: func(t *testing.T, w *world) {
			w.mark(w.others[0], "job-2", update.StageAdmitting, cluster.StatusActive)
		}, want: "hold cluster-limit on-return"},
		{rule: "an agent disconnected counts: hold", setup: func(t *testing.T, w *world) {
			parked(t, w, w.others[0].ARN, cluster.StatusActive, false)
		}, want: "hold cluster-limit on-return"},
		{rule: "limit 2 admits beside one draining", setup: func(t *testing.T, w *world) {
			limit("2")(t, w)
			w.mark(w.others[0], "job-2", update.StageDraining, cluster.StatusDraining)
		}, want: "admit"},
		{rule: "the job's own instance drained by a person: refuse", setup: func(t *testing.T, w *world) {
			w.mark(w.me, jobID, update.StageStaged, cluster.StatusDraining)
		}, want: "refuse " + string(update.CodeDrainedByOther)},
	})
}

func TestGlobalLimitGate(t *testing.T) {
	global := func(n int, batch ...cluster.Instance) func(t *testing.T, w *world) {
		return func(t *testing.T, w *world) {
			w.d.policies.GlobalMaxOutOfService = n
			w.d.managed = managed.New(managed.Config{Clusters: []string{testCluster, "batch"}}, w.ecs)
			w.ecs.AddCluster("batch", nil)
			for _, in := range batch {
				w.ecs.AddInstance("batch", in)
			}
		}
	}
	draining := cluster.Instance{Status: cluster.StatusDraining, AgentConnected: true}
	testGate(t, named("global-limit"), []gateRow{
		{rule: "no global limit: admit", want: "admit"},
		{rule: "room across the clusters: admit", setup: global(2, draining), want: "admit"},
		{rule: "another cluster holds the only slot: hold until one returns", setup: global(1, draining),
			want: "hold global-limit on-return", wantWhy: "all clusters: 2 instances out of service with this claim, over the global limit 1"},
		{rule: "this cluster's own out of service count: hold", setup: func(t *testing.T, w *world) {
			global(1)(t, w)
			w.mark(w.others[0], "job-2", update.StageDraining, cluster.StatusDraining)
		}, want: "hold global-limit on-return"},
	})
}

func TestEligibilityGate(t *testing.T) {
	standalone := func(p update.StandalonePolicy) func(t *testing.T, w *world) {
		return func(t *testing.T, w *world) {
			w.d.policies.Default.Standalone = p
			w.ecs.AddTask(testCluster, cluster.Task{InstanceARN: w.me.ARN, StartedBy: "alice", Group: "family:batch"})
		}
	}
	testGate(t, named("eligibility"), []gateRow{
		{rule: "only service tasks: admit", want: "admit"},
		{rule: "a standalone task under skip: refuse", setup: standalone(update.StandaloneSkip), want: "refuse " + string(update.CodeStandaloneTask)},
		{rule: "a standalone task under wait: admit (the drain waits for it)", setup: standalone(update.StandaloneWait), want: "admit"},
		{rule: "a standalone task under stop: admit (the drain stops it)", setup: standalone(update.StandaloneStop), want: "admit"},
	})
}

func TestHealthGate(t *testing.T) {
	pending := func(t *testing.T, w *world, verified time.Duration) {
		updatedLast(w, time.Now().Add(-verified))
		w.ecs.AddTask(testCluster, cluster.Task{InstanceARN: w.others[0].ARN, StartedBy: "ecs-svc/1", Group: "service:web", LastStatus: "PENDING"})
	}
	testGate(t, named("health-gate"), []gateRow{
		{rule: "nothing updated, services steady: admit", want: "admit"},
		{rule: "gate off: admit", setup: func(t *testing.T, w *world) {
			w.d.policies.Default.HealthGate = false
			pending(t, w, time.Minute)
		}, want: "admit"},
		{rule: "the instance updated last runs again: admit", setup: func(t *testing.T, w *world) {
			updatedLast(w, time.Now().Add(-time.Minute))
			w.ecs.AddTask(testCluster, cluster.Task{InstanceARN: w.others[0].ARN, StartedBy: "ecs-svc/1", Group: "service:web"})
		}, want: "admit"},
		{rule: "a task of the instance updated last does not start: hold until a task starts in the cluster",
			setup: func(t *testing.T, w *world) { pending(t, w, time.Minute) },
			want:  "hold health-gate on-settle", wantWhy: "cluster prod: health gate: i-"},
		{rule: "still not started past the gate's timeout: halted, held until resumed",
			setup: func(t *testing.T, w *world) { pending(t, w, 16*time.Minute) },
			want:  "hold halted on-resume", wantWhy: "cluster prod: halted: health gate: not healthy 15m0s"},
		{rule: "a rollback does not wait for the gate it answers", setup: func(t *testing.T, w *world) { pending(t, w, time.Minute) },
			rollback: true, want: "admit"},
		{rule: "in a cluster of more than a page, the instances updated are read by their mark: hold",
			setup: func(t *testing.T, w *world) {
				large(w)
				pending(t, w, time.Minute)
			},
			want: "hold health-gate on-settle", wantWhy: "cluster prod: health gate: i-"},
	})
}

// large makes the test cluster larger than one page of instances (100): the census no longer
// reads it whole, and the gates read what they look at.
func large(w *world) {
	for range 100 {
		w.ecs.AddInstance(testCluster, cluster.Instance{AgentConnected: true, Status: cluster.StatusActive})
	}
}

func TestCapacityGate(t *testing.T) {
	testGate(t, named("capacity"), []gateRow{
		{rule: "room for the replacement: admit", setup: func(t *testing.T, w *world) { tight(w, 1024) }, want: "admit"},
		{rule: "no room: hold until an instance returns", setup: func(t *testing.T, w *world) { tight(w, 0) },
			want: "hold capacity on-return", wantWhy: "cluster prod: capacity: service web: no room"},
		{rule: "in a cluster of more than a page, room on the instances in service: admit", setup: func(t *testing.T, w *world) {
			large(w)
			tight(w, 1024)
		}, want: "admit"},
		{rule: "check off: admit without room", setup: func(t *testing.T, w *world) {
			tight(w, 0)
			w.d.policies.Default.CheckCapacity = false
		}, want: "admit"},
	})
}

// TestHeldByTheLimitReadsOnlyTheCensus: a job that the cluster limit holds costs one census of
// its cluster (two calls up to 100 instances, eight beyond); its tasks, the instances the health
// gate and capacity look at and the cluster's services are read only for a job within the
// limit, and the claim reads the census again.
func TestHeldByTheLimitReadsOnlyTheCensus(t *testing.T) {
	for _, tc := range []struct {
		name  string
		full  bool
		large bool // more than one page of instances: the census reads only those out of service
		reads []string
	}{
		// Clusters resolves the managed clusters (once per process); Instance reads the job's own.
		{name: "cluster full", full: true, reads: []string{"Clusters", "Instance", "Census"}},
		// Within the limit: the instance's tasks (eligibility), the services (health gate,
		// capacity), then the claim's census. A cluster of one page was read whole by the census.
		{name: "room", reads: []string{"Clusters", "Instance", "Census", "Tasks", "Services", "Census"}},
		// A larger one: the instances updated and not yet proven (health gate), and those that
		// may take the tasks (capacity), are read besides.
		{name: "room in a large cluster", large: true, reads: []string{"Clusters", "Instance", "Census", "Tasks", "ListInstances", "Services", "ListInstances", "Census"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWorld(t, defaultPolicy())
				tight(w, 1024)
				if tc.large {
					large(w)
				}
				if tc.full {
					w.mark(w.others[0], "job-2", update.StageDraining, cluster.StatusDraining)
				}
				ctx, cancel := context.WithTimeout(t.Context(), time.Second) // bounds the drain after an admission
				defer cancel()
				w.d.handle(queue.WithLogger(ctx, zerolog.New(zerolog.NewTestWriter(t))), queue.Message{ID: "m-1", Body: w.job(t), ReceiveCount: 1})
				var reads []string
				for _, c := range w.ecs.Calls() {
					switch c.Op {
					case "PutAttributes", "DeleteAttributes", "SetState":
						continue
					}
					reads = append(reads, c.Op)
				}
				if !tc.full && len(reads) > len(tc.reads) {
					reads = reads[:len(tc.reads)] // the drain's own looks follow an admission
				}
				if diff := cmp.Diff(tc.reads, reads); diff != "" {
					t.Errorf("ECS reads of one look (-want +got):\n%s", diff)
				}
			})
		})
	}
}

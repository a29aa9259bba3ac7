package drain

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rollwave/rollwave/shared/alarm"
	"github.com/rollwave/rollwave/shared/metrics"
	"github.com/rollwave/rollwave/shared/metrics/metricstest"
	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/promotion"
	"github.com/rollwave/rollwave/shared/update"
)

// stages is a promotionState: the plan staging > testCluster, the earlier stage as told, and the
// halts recorded.
type stages struct {
	earlier []promotion.Earlier
	err     error
	halts   []promotion.Halt
}

func (s *stages) Plan() promotion.Plan {
	return promotion.Plan{Stages: []promotion.Stage{
		{Name: "staging", Clusters: []string{"staging"}, Bake: 30 * time.Minute},
		{Name: "prod", Clusters: []string{testCluster}},
	}}
}

func (s *stages) Earlier(context.Context, int, update.Promotion) ([]promotion.Earlier, error) {
	return s.earlier, s.err
}

func (s *stages) RecordHalt(_ context.Context, h promotion.Halt) (bool, error) {
	for _, old := range s.halts {
		if old.Stage == h.Stage && old.Version == h.Version {
			return false, nil
		}
	}
	s.halts = append(s.halts, h)
	return true, nil
}

// withStages gives w's drainer the promotion gate over st, and its job a place in the promotion
// (started an hour ago, two jobs sent to staging).
func withStages(w *world, st *stages) *published {
	ev := &published{}
	w.d.promotion, w.d.promotionEvents = st, ev
	return ev
}

// promotionOf is the promotion of the world's job.
func promotionOf(now time.Time) *update.Promotion {
	return &update.Promotion{Stage: "prod", Started: now.Add(-time.Hour), Earlier: []update.StageJobs{{Stage: "staging", Jobs: 2}}}
}

func TestPromotionGate(t *testing.T) {
	staging := promotion.Stage{Name: "staging", Clusters: []string{"staging"}, Bake: 30 * time.Minute}
	rows := []struct {
		rule     string
		st       *stages
		noProm   bool
		rollback bool
		want     string
		wantWhy  string
	}{
		{rule: "the stage before still updating holds the job",
			st:   &stages{earlier: []promotion.Earlier{{Stage: staging, Jobs: 2, Marked: []string{"i-s2"}}}},
			want: "hold promotion retry", wantWhy: "stage staging is still taking 1.20.3: 1 instances with a job (i-s2)"},
		{rule: "the stage before baking holds the job until the bake ends",
			st:   &stages{earlier: []promotion.Earlier{{Stage: staging, Jobs: 2, LastVerified: time.Now().Add(-5 * time.Minute)}}},
			want: "hold promotion at", wantWhy: "stage staging is baking 1.20.3 until"},
		{rule: "baked: the job may go",
			st:   &stages{earlier: []promotion.Earlier{{Stage: staging, Jobs: 2, LastVerified: time.Now().Add(-31 * time.Minute)}}},
			want: "admit", wantWhy: "stages staging baked on 1.20.3"},
		{rule: "a state that cannot be read holds the job",
			st:   &stages{err: errors.New("throttled")},
			want: "hold promotion retry", wantWhy: "promotion state unknown: throttled"},
		{rule: "a job without a promotion (written by hand) passes",
			st: &stages{earlier: []promotion.Earlier{{Stage: staging, Jobs: 2, Marked: []string{"i-s2"}}}}, noProm: true, want: "admit"},
		{rule: "a rollback passes",
			st: &stages{earlier: []promotion.Earlier{{Stage: staging, Jobs: 2, Marked: []string{"i-s2"}}}}, rollback: true, want: "admit"},
	}
	for _, tt := range rows {
		t.Run(tt.rule, func(t *testing.T) {
			w := newWorld(t, defaultPolicy())
			withStages(w, tt.st)
			job, err := update.Decode(w.job(t))
			if err != nil {
				t.Fatal(err)
			}
			if !tt.noProm {
				job.Promotion = promotionOf(w.d.now())
			}
			job.LockVersion = tt.rollback
			v, err := named("promotion")(w.d).check(t.Context(), w.d.newLook(&job, w.instance(t, w.me.ARN), false))
			if err != nil {
				t.Fatalf("check: %v", err)
			}
			got := answerOf(v)
			if got.Verdict != tt.want || len(got.Why) < len(tt.wantWhy) || got.Why[:len(tt.wantWhy)] != tt.wantWhy {
				t.Errorf("promotion = %+v, want %s %q...", got, tt.want, tt.wantWhy)
			}
		})
	}
}

// TestPromotionHaltsOnceAtAFailure: a failed job in the stage before halts the promotion there:
// the halt is recorded, announced once ("Promotion Halted", PromotionsHalted), and holds the job;
// a dry run records nothing.
func TestPromotionHaltsOnceAtAFailure(t *testing.T) {
	staging := promotion.Stage{Name: "staging", Clusters: []string{"staging"}, Bake: 30 * time.Minute}
	w := newWorld(t, defaultPolicy())
	now := w.d.now()
	st := &stages{earlier: []promotion.Earlier{{Stage: staging, Jobs: 2, Failures: []promotion.Failure{
		{Cluster: "staging", Instance: "i-s2", Code: string(update.CodeStagingFailed), At: now.Add(-time.Minute)}}}}}
	ev := withStages(w, st)
	rec := &metricstest.Recorder{}
	w.d.metrics = rec
	job, err := update.Decode(w.job(t))
	if err != nil {
		t.Fatal(err)
	}
	job.Promotion = promotionOf(now)
	if v, _ := w.d.promotionGate(t.Context(), w.d.newLook(&job, w.instance(t, w.me.ARN), true)); v.hold != update.WaitPromotion || len(st.halts) != 0 {
		t.Fatalf("dry run = %+v, halts %v, want a hold and nothing recorded", v, st.halts)
	}
	for range 2 {
		v, err := w.d.promotionGate(t.Context(), w.d.newLook(&job, w.instance(t, w.me.ARN), false))
		if err != nil || v.hold != update.WaitPromotion {
			t.Fatalf("look = %+v, %v, want a hold for the promotion", v, err)
		}
	}
	if len(st.halts) != 1 || st.halts[0].Stage != "staging" || st.halts[0].Reason != promotion.ReasonFailed || st.halts[0].Cluster != "staging" {
		t.Errorf("halts = %+v, want one of stage staging, reason failed, cluster staging", st.halts)
	}
	if len(ev.types) != 1 || ev.types[0] != notify.PromotionHalted {
		t.Errorf("events = %v, want one %q", ev.types, notify.PromotionHalted)
	}
	if n := rec.Sum(metrics.PromotionsHalted, map[string]string{metrics.Stage: "staging", metrics.Reason: promotion.ReasonFailed}); n != 1 {
		t.Errorf("PromotionsHalted = %v, want 1 for stage staging, reason failed", n)
	}
}

// TestPromotionHaltsAtAnEarlierStagesOwnAlarm: an alarm of the baking stage's cluster's own
// (alarmNames in its policy) in ALARM halts the promotion there, as the deployment's alarms do;
// an alarm of the held job's own cluster is not the earlier stage's, and halts nothing.
func TestPromotionHaltsAtAnEarlierStagesOwnAlarm(t *testing.T) {
	staging := promotion.Stage{Name: "staging", Clusters: []string{"staging"}, Bake: 30 * time.Minute}
	for _, tt := range []struct {
		rule   string
		firing string
		halts  int
	}{
		{"the baking stage's alarm halts the promotion", "staging-5xx", 1},
		{"the held cluster's own alarm is not the earlier stage's", "prod-5xx", 0},
	} {
		t.Run(tt.rule, func(t *testing.T) {
			w := newWorld(t, defaultPolicy())
			now := w.d.now()
			st := &stages{earlier: []promotion.Earlier{{Stage: staging, Jobs: 2, LastVerified: now.Add(-5 * time.Minute)}}}
			withStages(w, st)
			w.d.metrics = &metricstest.Recorder{}
			withOwnAlarms(w, alarm.Selector{}, map[string]alarm.Selector{"staging": {Names: []string{"staging-5xx"}}, testCluster: {Names: []string{"prod-5xx"}}}, tt.firing)
			job, err := update.Decode(w.job(t))
			if err != nil {
				t.Fatal(err)
			}
			job.Promotion = promotionOf(now)
			v, err := w.d.promotionGate(t.Context(), w.d.newLook(&job, w.instance(t, w.me.ARN), false))
			if err != nil || v.hold != update.WaitPromotion {
				t.Fatalf("look = %+v, %v, want a hold for the promotion (staging bakes)", v, err)
			}
			if len(st.halts) != tt.halts || (tt.halts == 1 && st.halts[0].Reason != promotion.ReasonAlarm) {
				t.Errorf("halts = %+v, want %d with reason %s", st.halts, tt.halts, promotion.ReasonAlarm)
			}
		})
	}
}

package e2e_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/promotion"
	"github.com/rollwave/rollwave/shared/topology"
	"github.com/rollwave/rollwave/shared/update"
	"github.com/rollwave/rollwave/tools/fleetsim/admin"
	"github.com/rollwave/rollwave/tools/harness"
)

// bake is each stage's bake time in the promotion tests, in the workers' (real) time: at the
// tests' time scale, timeScale times as long in fleetsim's.
const bake = 3 * time.Second

// stageTimes returns, over the instances of ids, the first time (fleetsim's) one of them was
// marked draining and the last time one of them was marked verified (rollwave.verified-at set).
func stageTimes(r admin.Report, ids []string) (firstDrain, lastVerified time.Time) {
	for _, id := range ids {
		if t, ok := attributeSet(r, id, update.AttrStage, string(update.StageDraining)); ok && (firstDrain.IsZero() || t.Before(firstDrain)) {
			firstDrain = t
		}
		if t, ok := attributeSet(r, id, update.AttrVerifiedAt, ""); ok && t.After(lastVerified) {
			lastVerified = t
		}
	}
	return firstDrain, lastVerified
}

// TestStagedPromotionBakes: a three-stage promotion (ROLLWAVE_STAGES) from one scan: the second
// stage's first drain starts only once every host of the first was verified and its bake passed,
// and the third's only once the second has baked; every host ends on the one version.
func TestStagedPromotionBakes(t *testing.T) {
	t.Parallel()
	p := startPipeline(t, "testdata/stages.yaml", "ROLLWAVE_WAITING_THRESHOLD=1s",
		`ROLLWAVE_STAGES=[{"name":"staging","clusters":["promo-staging"],"bake":"`+bake.String()+`"},`+
			`{"name":"eu","clusters":["promo-eu"],"bake":"`+bake.String()+`"},{"name":"us","clusters":["promo-us"]}]`)
	res := p.newResults()
	p.scan()
	fleet := p.instances()
	stages := [][]string{sortedIDs(fleet["promo-staging"]), sortedIDs(fleet["promo-eu"]), sortedIDs(fleet["promo-us"])}
	all := slices.Concat(stages...)
	ended := res.waitEnded(240*time.Second, all)
	p.checkAllOn(ended, all, targetVersion)

	r := p.report()
	// The gate measures the bake on the workers' clock; fleetsim's runs timeScale times as fast,
	// so the bake is at least bake × timeScale there, less the latency of the verifier's write of
	// rollwave.verified-at (its value is taken before the write reaches fleetsim), which half the
	// bake covers however busy the machine.
	atLeast := bake * timeScale / 2
	for i := 1; i < len(stages); i++ {
		_, verified := stageTimes(r, stages[i-1])
		drained, _ := stageTimes(r, stages[i])
		t.Logf("stage %d: last host verified at %s, stage %d's first drain %s later (fleetsim time)", i, verified.Format(time.TimeOnly), i+1, drained.Sub(verified))
		if verified.IsZero() || drained.IsZero() || drained.Sub(verified) < atLeast {
			t.Errorf("stage %d's first drain at %s, %s after stage %d's last host was verified (%s), want at least %s: the stage has not baked",
				i+1, drained, drained.Sub(verified), i, verified, atLeast)
		}
	}
	var waited bool
	for _, e := range res.all {
		waited = waited || e.DetailType == notify.InstanceUpdateWaiting && e.Reason == string(update.WaitPromotion)
	}
	if !waited {
		t.Errorf("no Instance Update Waiting event with reason %s: the later stages' waits were not visible", update.WaitPromotion)
	}
	p.checkNoDeadLetters()
}

// TestStagedPromotionHaltsAtAFailure: a job of the first stage fails (staging-failed): the
// promotion of the version halts at that stage ("Promotion Halted" once, reason failed, naming the
// cluster) and the second stage's hosts wait (reason promotion) without being drained, well past
// when the first stage would have baked; resumed (what rollwave resume --all does), they are
// updated.
func TestStagedPromotionHaltsAtAFailure(t *testing.T) {
	t.Parallel()
	p := startPipeline(t, "testdata/stages-failure.yaml", "ROLLWAVE_WAITING_THRESHOLD=1s",
		`ROLLWAVE_STAGES=[{"name":"staging","clusters":["halt-staging"],"bake":"1s"},{"name":"prod","clusters":["halt-prod"]}]`)
	res := p.newResults()
	p.scan()
	fleet := p.instances()
	staging, prod := sortedIDs(fleet["halt-staging"]), sortedIDs(fleet["halt-prod"])
	ended := res.waitEnded(240*time.Second, staging)
	if e := ended[staging[0]]; e.DetailType != notify.InstanceUpdateSucceeded {
		t.Errorf("%s ended %s (%s), want updated", staging[0], e.DetailType, e.Message)
	}
	if e := ended[staging[1]]; e.DetailType != notify.InstanceUpdateFailed || e.Reason != string(update.CodeStagingFailed) {
		t.Errorf("%s ended %s (%s: %s), want failed with %s", staging[1], e.DetailType, e.Reason, e.Message, update.CodeStagingFailed)
	}

	var haltAt time.Time
	harness.Eventually(t, 120*time.Second, func() (bool, string) {
		if err := res.poll(); err != nil {
			return false, err.Error()
		}
		for _, e := range res.all {
			if e.DetailType == notify.PromotionHalted && e.Reason == promotion.ReasonFailed && e.Cluster == "halt-staging" && haltAt.IsZero() {
				haltAt = e.At
			}
		}
		return !haltAt.IsZero(), "no Promotion Halted event (reason failed, cluster halt-staging) yet"
	})
	// Without the halt the first stage would have baked a second after its good host was
	// verified. Each prod job at the drainer warns about its wait every
	// ROLLWAVE_WAITING_THRESHOLD (rollwave.waiting records when): once each has warned well after
	// the bake would have ended, it was held. Staging is just in time: the look-ahead's prod hosts
	// (the limit's) are staged and held there; the others wait unmarked at the patcher.
	heldUntil := haltAt.Add(3 * time.Second)
	harness.Eventually(t, 120*time.Second, func() (bool, string) {
		held := 0
		for _, in := range p.instances()["halt-prod"] {
			if in.Attributes[update.AttrStage] == "" {
				continue // beyond the look-ahead: never staged
			}
			held++
			w, err := update.ParseWaiting(in.Attributes[update.AttrWaiting])
			if err != nil || w.Reason != update.WaitPromotion || !w.Warned.After(heldUntil) {
				return false, fmt.Sprintf("%s waits %q, want a wait for the promotion that warned after %s", in.EC2InstanceID, in.Attributes[update.AttrWaiting], heldUntil.Format(time.RFC3339))
			}
		}
		return held > 0, "no prod host staged and held by the promotion yet"
	})
	r := p.report()
	for _, id := range prod {
		if at, ok := attributeSet(r, id, update.AttrStage, string(update.StageDraining)); ok {
			t.Errorf("%s (stage prod) drained at %s although the promotion halted at staging", id, at)
		}
	}
	if err := res.poll(); err != nil {
		t.Fatal(err)
	}
	var halts int
	for _, e := range res.all {
		if e.DetailType == notify.PromotionHalted {
			halts++
		}
	}
	if halts != 1 {
		t.Errorf("%d Promotion Halted events, want 1: a halt is announced once", halts)
	}

	// rollwave resume --all lifts the halt (and the failed cluster's count): the second stage goes on.
	q, err := p.topo.Queue(topology.Drainer)
	if err != nil {
		t.Fatal(err)
	}
	if cleared, err := promotion.ClearHalts(t.Context(), p.sqs, q.URL, ""); err != nil || len(cleared) != 1 {
		t.Fatalf("ClearHalts = %+v, %v, want the one halt lifted", cleared, err)
	}
	ended = res.waitEnded(240*time.Second, prod)
	for _, id := range prod {
		if e := ended[id]; e.DetailType != notify.InstanceUpdateSucceeded || e.ToVersion != targetVersion {
			t.Errorf("%s ended %s (%s) once resumed, want updated to %s", id, e.DetailType, e.Message, targetVersion)
		}
	}
	p.checkNoDeadLetters()
}

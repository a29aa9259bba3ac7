package update

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestStepNext(t *testing.T) {
	tests := []struct {
		step   Step
		want   Step
		wantOK bool
	}{
		{StepStage, StepDrain, true},
		{StepDrain, StepReboot, true},
		{StepReboot, StepVerify, true},
		{StepVerify, "", false},
		{Step("apply"), "", false},
	}
	for _, tt := range tests {
		got, ok := tt.step.Next()
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("Step(%q).Next() = %q, %v, want %q, %v", tt.step, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestParseStage(t *testing.T) {
	for _, s := range stages {
		got, err := ParseStage(string(s))
		if err != nil || got != s {
			t.Errorf("ParseStage(%q) = %q, %v, want %q, nil", s, got, err, s)
		}
	}
	if got, err := ParseStage(""); err != nil || got != StageNone {
		t.Errorf(`ParseStage("") = %q, %v, want StageNone, nil`, got, err)
	}
	if _, err := ParseStage("Draining"); err == nil {
		t.Error(`ParseStage("Draining") error = nil, want an error (values are lowercase)`)
	}
}

func TestStageRules(t *testing.T) {
	tests := []struct {
		stage             Stage
		takenOutOfService bool
		drainedByRollwave bool
		mayUnmark         bool
	}{
		{StageNone, false, false, true},
		{StageStaging, false, false, true},
		{StageStaged, false, false, true},
		{StageAdmitting, true, false, true}, // a claim counts, but nothing is drained yet
		{StageDraining, true, true, true},   // stage written before DRAINING
		{StageRebooting, true, true, true},
		{StageVerifying, true, true, true},
		{StageFailed, false, false, false}, // left for a person; counted by its status if still DRAINING
	}
	for _, tt := range tests {
		t.Run(string(tt.stage), func(t *testing.T) {
			if got := tt.stage.TakenOutOfService(); got != tt.takenOutOfService {
				t.Errorf("Stage(%q).TakenOutOfService() = %v, want %v", tt.stage, got, tt.takenOutOfService)
			}
			if got := tt.stage.DrainedByRollwave(); got != tt.drainedByRollwave {
				t.Errorf("Stage(%q).DrainedByRollwave() = %v, want %v", tt.stage, got, tt.drainedByRollwave)
			}
			if got := tt.stage.MayUnmark(); got != tt.mayUnmark {
				t.Errorf("Stage(%q).MayUnmark() = %v, want %v", tt.stage, got, tt.mayUnmark)
			}
		})
	}
}

func TestCanFollow(t *testing.T) {
	tests := []struct {
		name     string
		from, to Stage
		want     bool
	}{
		{"the patcher marks an unowned instance as staging", StageNone, StageStaging, true},
		{"an unowned instance cannot jump to draining", StageNone, StageDraining, false},
		{"an unowned instance cannot be marked failed", StageNone, StageFailed, false},
		{"a successful apply makes it staged", StageStaging, StageStaged, true},
		{"the drainer claims a staged instance", StageStaged, StageAdmitting, true},
		{"a staged instance cannot be drained without a claim", StageStaged, StageDraining, false},
		{"an admitted claim becomes draining", StageAdmitting, StageDraining, true},
		{"a claim that backs off returns to staged", StageAdmitting, StageStaged, true},
		{"draining leads to rebooting", StageDraining, StageRebooting, true},
		{"draining cannot skip the reboot", StageDraining, StageVerifying, false},
		{"a drained instance cannot be un-drained back to staged", StageDraining, StageStaged, false},
		{"rebooting leads to verifying", StageRebooting, StageVerifying, true},
		{"rebooting never goes back to draining", StageRebooting, StageDraining, false},
		{"a verified instance is unmarked", StageVerifying, StageNone, true},
		{"a failure while staging is undone and unmarked", StageStaging, StageNone, true},
		{"a failure after the reboot may leave the instance failed", StageVerifying, StageFailed, true},
		{"a failure while draining may be marked failed", StageDraining, StageFailed, true},
		{"only a person clears failed", StageFailed, StageNone, true},
		{"failed never resumes the pipeline", StageFailed, StageStaging, false},
		{"writing the same stage again is allowed (redelivery)", StageDraining, StageDraining, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CanFollow(tt.from, tt.to); got != tt.want {
				t.Errorf("CanFollow(%q, %q) = %v, want %v", tt.from, tt.to, got, tt.want)
			}
		})
	}
}

func TestUndoAt(t *testing.T) {
	tests := []struct {
		name  string
		stage Stage
		want  Undo
	}{
		{"nothing owned: nothing to undo", StageNone, Undo{}},
		{"staging failed: cancel whatever got activated, nothing was drained", StageStaging, Undo{CancelUpdate: true}},
		{"staged: cancel so the host does not boot into it by surprise", StageStaged, Undo{CancelUpdate: true}},
		{"claimed but not drained: cancel, and never re-activate", StageAdmitting, Undo{CancelUpdate: true}},
		{"draining: cancel and re-activate what rollwave drained", StageDraining, Undo{CancelUpdate: true, Reactivate: true}},
		{"rebooting: the reboot may have happened, only re-activate", StageRebooting, Undo{Reactivate: true}},
		{"verifying: only re-activate", StageVerifying, Undo{Reactivate: true}},
		{"failed: a person owns it now", StageFailed, Undo{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, UndoAt(tt.stage)); diff != "" {
				t.Errorf("UndoAt(%q) mismatch (-want +got):\n%s", tt.stage, diff)
			}
		})
	}
}

// TestUndoReactivatesOnlyWhatRollwaveDrained ties the two rules together for every stage.
func TestUndoReactivatesOnlyWhatRollwaveDrained(t *testing.T) {
	for _, s := range append([]Stage{StageNone}, stages...) {
		if got, want := UndoAt(s).Reactivate, s.DrainedByRollwave(); got != want {
			t.Errorf("UndoAt(%q).Reactivate = %v, want DrainedByRollwave() = %v", s, got, want)
		}
	}
}

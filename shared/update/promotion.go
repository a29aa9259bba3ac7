package update

import (
	"errors"
	"fmt"
	"time"
)

// Promotion is a job's place in a staged promotion: clusters grouped into ordered stages, each of
// which starts on a version only once the stages before it have taken that version and baked.
// The scan that sends a rollout's jobs writes it into each of them: the job's stage, when the
// rollout started (the scan), and how many jobs the same scan sent to each stage before the job's.
// That count is what tells an earlier stage whose jobs have all ended from one whose jobs no
// worker has taken yet (neither leaves a mark on an instance), without a store of its own: the
// job message carries it.
type Promotion struct {
	// Stage is the name of the job's stage.
	Stage string `json:"stage"`
	// Started is when the rollout's scan sent the job.
	Started time.Time `json:"started"`
	// Earlier are the stages before the job's, first stage first, with the jobs the scan sent
	// to each.
	Earlier []StageJobs `json:"earlier,omitempty"`
}

// StageJobs is how many jobs a rollout's scan sent to one stage.
type StageJobs struct {
	Stage string `json:"stage"`
	Jobs  int    `json:"jobs"`
}

// validate reports a promotion that cannot be decided by: no stage, no start, a negative count,
// or no target version (a promotion promotes one version).
func (p Promotion) validate(target string) error {
	var errs []error
	if p.Stage == "" {
		errs = append(errs, errors.New("stage: missing"))
	}
	if p.Started.IsZero() {
		errs = append(errs, errors.New("started: missing"))
	}
	for i, e := range p.Earlier {
		if e.Stage == "" || e.Jobs < 0 {
			errs = append(errs, fmt.Errorf("earlier[%d]: want a stage and a count of at least 0", i))
		}
	}
	if target == "" {
		errs = append(errs, errors.New("needs targetVersion: the version the stages are promoted to"))
	}
	return errors.Join(errs...)
}

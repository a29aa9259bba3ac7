package scan

import (
	"fmt"
	"time"

	"github.com/rollwave/rollwave/shared/envconfig"
	"github.com/rollwave/rollwave/shared/launchtemplate"
	"github.com/rollwave/rollwave/shared/promotion"
	"github.com/rollwave/rollwave/shared/service"
	"github.com/rollwave/rollwave/shared/update"
)

// config is the scanner's configuration, read from the environment:
//
//	ROLLWAVE_SSM_TIMEOUT     how long one scan waits for the update checks (default 5m)
//	ROLLWAVE_TARGET_VERSION  the version a scan's rollout targets (update.ParseTarget): latest,
//	                         a minor version such as 1.20 (its newest patch) or a version such as
//	                         1.20.3; empty (the default): each host goes to whatever its update
//	                         check chooses. A scan request's targetVersion overrides it.
//	ROLLWAVE_LAUNCH_TEMPLATES what a scan that finds a cluster's rollout complete does about the
//	                         launch templates of its Auto Scaling groups (launchtemplate.Mode):
//	                         report (the default) the drift, update it too, or off
//
// ROLLWAVE_LEASE (service.Common) is the lease the workers write; the scanner reclaims an
// instance whose lease expired half a lease ago.
//
// plus the settings every worker shares (service.Common), among them the managed clusters
// (ROLLWAVE_CLUSTERS, ROLLWAVE_CLUSTER_TAG): a scan request without clusters scans all of them,
// the clusters carrying the tag looked up at each scan.
type config struct {
	service.Common
	SSMTimeout      time.Duration
	Target          update.Target
	Stages          promotion.Plan
	LaunchTemplates launchtemplate.Mode
}

func loadConfig(getenv func(string) string) (config, error) {
	r := envconfig.New(getenv)
	c := config{
		Common:     service.LoadCommon(r),
		SSMTimeout: r.Duration("ROLLWAVE_SSM_TIMEOUT", 5*time.Minute),
	}
	c.CheckSSMExpected(r, "ROLLWAVE_SSM_TIMEOUT", c.SSMTimeout)
	if t, err := update.ParseTarget(r.String("ROLLWAVE_TARGET_VERSION", "")); err != nil {
		r.Fail("ROLLWAVE_TARGET_VERSION", "%v", err)
	} else {
		c.Target = t
	}
	if p, err := promotion.ParsePlan(r.String(promotion.Env, "")); err != nil {
		r.Fail(promotion.Env, "%v", err)
	} else {
		c.Stages = p
	}
	if m, err := launchtemplate.ParseMode(r.String("ROLLWAVE_LAUNCH_TEMPLATES", string(launchtemplate.ModeReport))); err != nil {
		r.Fail("ROLLWAVE_LAUNCH_TEMPLATES", "%v", err)
	} else {
		c.LaunchTemplates = m
	}
	if err := r.Err(); err != nil {
		return config{}, fmt.Errorf("invalid configuration:\n%w", err)
	}
	return c, nil
}

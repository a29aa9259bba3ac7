package scan

import (
	"context"
	"slices"

	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/jobs"
	"github.com/rollwave/rollwave/shared/launchtemplate"
	"github.com/rollwave/rollwave/shared/metrics"
	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/update"
)

// hostsFilter selects every Bottlerocket instance of a cluster that rollwave may update: a
// cluster's rollout is complete only when each of them was checked and runs the same version.
const hostsFilter = "attribute:bottlerocket.variant exists and attribute:" + update.AttrOptOut + " !exists"

// launchTemplates follows a completed rollout into the launch templates (*launchtemplate.Follower).
type launchTemplates interface {
	Follow(ctx context.Context, req launchtemplate.Request) ([]launchtemplate.Finding, error)
}

// launchFollower is the scanner's part in following rollouts into the launch templates. The
// scanner is the one worker that sees every host of a cluster and its version (the update check),
// so it is the one that can tell a rollout is complete: a scan that sends a cluster no job, having
// checked every Bottlerocket instance of it (none with a job, none out of service, none whose check
// failed), all on one version.
type launchFollower struct {
	mode      launchtemplate.Mode // ROLLWAVE_LAUNCH_TEMPLATES
	templates launchTemplates
	instances instanceLister
	events    jobs.Publisher
	metrics   metrics.Recorder
}

// follow looks at the launch templates behind a cluster whose scan sent no job, when its rollout
// is complete, and publishes "Launch Template Drift" and counts LaunchTemplatesDrifted for each
// group that drifted. Failures are logged and left for the next scan: they never fail the scan.
func (l *launchFollower) follow(ctx context.Context, clusterName string, checked []candidate, dryRun bool) {
	if l == nil || l.mode == launchtemplate.ModeOff || len(checked) == 0 {
		return
	}
	log := queue.Logger(ctx).With().Str("cluster", clusterName).Logger()
	version := checked[0].status.ActiveVersion()
	for _, c := range checked {
		if c.status.ActiveVersion() != version {
			log.Debug().Msg("launch templates not followed: the hosts run several versions")
			return
		}
	}
	all, err := l.instances.ListInstances(ctx, clusterName, "", hostsFilter)
	if err != nil {
		log.Warn().Err(err).Msg("launch templates not followed: list the hosts")
		return
	}
	seen := map[string]bool{}
	hosts := make([]launchtemplate.Host, 0, len(checked))
	for _, c := range checked {
		seen[c.inst.ARN] = true
		hosts = append(hosts, launchtemplate.Host{EC2InstanceID: c.inst.EC2InstanceID,
			Variant: c.inst.Attributes["bottlerocket.variant"], Arch: c.inst.Attributes["ecs.cpu-architecture"]})
	}
	if i := slices.IndexFunc(all, func(in cluster.Instance) bool { return !seen[in.ARN] }); i >= 0 {
		log.Debug().Str("instance", all[i].EC2InstanceID).Msg("launch templates not followed: a host was not checked (a job, out of service, or its check failed)")
		return
	}
	findings, err := l.templates.Follow(ctx, launchtemplate.Request{Cluster: clusterName, Version: version, Hosts: hosts, Mode: l.mode, DryRun: dryRun})
	if err != nil {
		log.Warn().Err(err).Msg("follow the rollout into the launch templates")
	}
	for _, f := range findings {
		ev := log.Info()
		if f.Drift() {
			ev = log.Warn()
		}
		ev.Str("group", f.AutoScalingGroup).Str("outcome", string(f.Outcome)).Str("reason", f.Reason).Str("detail", f.Message).Msg("launch template checked")
		if !f.Drift() {
			continue
		}
		l.metrics.Record(metrics.Counted(metrics.LaunchTemplatesDrifted, f.At, map[string]string{metrics.Cluster: clusterName, metrics.Outcome: string(f.Outcome)}))
		if err := l.events.Publish(ctx, notify.LaunchTemplateDrift, f); err != nil {
			log.Warn().Err(err).Str("group", f.AutoScalingGroup).Msg("publish launch template drift")
		}
	}
}

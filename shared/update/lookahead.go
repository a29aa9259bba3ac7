package update

import "fmt"

// Staging just in time. Staging (apiclient update apply) takes minutes and leaves the instance in
// service, so the patcher could stage a whole cluster long before the drainer may take its
// instances; but an instance staged long before its drain costs patcher time now and, staged too
// early, waits at staged while the reboots it should make way for queue up. So the patcher stages
// a bounded look-ahead per cluster: as many instances staged ahead of the drains as the drainer
// may admit at once (the cluster's Limit), so that when one wave is admitted the next is ready.

// StagedAheadFilters are the ECS cluster queries whose matches, added up, are the instances
// staged ahead of the drains: those a job marked but the drainer has not admitted yet, staged
// (waiting for admission or not) or being staged. An instance at staging that carries
// rollwave.waiting is not among them: its job waits for the host's wave (WaitVersionNotOffered)
// and stages nothing until it comes, so it must not hold the look-ahead from hosts whose wave
// came. The count lives in ECS, so that every patcher replica sees the same one, and a crash
// loses nothing.
func StagedAheadFilters() []string {
	return []string{
		fmt.Sprintf("attribute:%s == %s", AttrStage, StageStaged),
		fmt.Sprintf("attribute:%s == %s and attribute:%s !exists", AttrStage, StageStaging, AttrWaiting),
	}
}

// Lookahead is the decision of MayStage.
type Lookahead struct {
	// Go says the job may stage its instance now.
	Go bool
	// Room is how many more instances of the cluster may stage now, this one included (0 when
	// Go is false; unbounded rollbacks report 1).
	Room int
	// Reason says why, for logs and the waiting job's note.
	Reason string
}

// MayStage decides whether job may stage its instance now, in a cluster of total instances whose
// limit is limit, where ahead instances are staged ahead of the drains already
// (StagedAheadFilters; the job's own instance is not among them: it is not marked yet). The
// look-ahead is limit.Max(total): a job beyond it waits, in service and unmarked, until a staged
// instance has been drained.
// A rollback (LockVersion) never waits: the drainer sends it when a health gate failed, and the
// instances staged ahead may wait on the halt that rollback is meant to end.
func MayStage(job Job, limit Limit, total, ahead int) Lookahead {
	bound := limit.Max(total)
	of := limit.String()
	if limit.IsPercentage() {
		of = fmt.Sprintf("%s of %d", limit, total)
	}
	switch {
	case job.LockVersion:
		return Lookahead{Go: true, Room: 1, Reason: "a rollback is staged at once"}
	case ahead < bound:
		return Lookahead{Go: true, Room: bound - ahead,
			Reason: fmt.Sprintf("cluster %s: %d of at most %d instances staged ahead of the drains (limit %s)", job.Cluster, ahead, bound, of)}
	default:
		return Lookahead{Reason: fmt.Sprintf("cluster %s: %d instances staged ahead of the drains, the look-ahead is %d (limit %s): staging when one is drained",
			job.Cluster, ahead, bound, of)}
	}
}

// IsPercentage says that l is a percentage of the cluster's instances: its Max depends on the
// cluster's size.
func (l Limit) IsPercentage() bool { return l.percent }

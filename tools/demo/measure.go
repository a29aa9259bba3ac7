package main

import (
	"math"
	"slices"
	"time"

	"github.com/rollwave/rollwave/shared/update"
	"github.com/rollwave/rollwave/tools/fleetsim/admin"
)

// percentile returns the p-th percentile (0 < p ≤ 100) of ds by the nearest-rank method: the
// smallest value that at least p % of ds are no greater than. Zero for no values.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	return s[min(max(rank, 1), len(s))-1]
}

// lowerBound is the least time the rollout of updated could take under limit, counting only the
// drains and reboots themselves: per cluster, ⌈N / limit⌉ waves of the cluster's mean
// (drain + reboot) over its N updated instances, where limit is the limit of the cluster's
// clusterSize instances; clusters roll in parallel, so the fleet's bound is the largest.
func lowerBound(updated []admin.InstanceReport, clusterSize map[string]int, limit update.Limit) time.Duration {
	n := map[string]int{}
	sum := map[string]time.Duration{}
	for _, in := range updated {
		n[in.Cluster]++
		sum[in.Cluster] += in.Drain.D() + in.Reboot.D()
	}
	var bound time.Duration
	for c, count := range n {
		per := max(limit.Max(clusterSize[c]), 1)
		waves := (count + per - 1) / per
		bound = max(bound, time.Duration(waves)*(sum[c]/time.Duration(count)))
	}
	return bound
}

// outOfServiceSpan returns when the first of updated went out of service (DRAINING) and when the
// last came back (ACTIVE again), in simulated time; ok is false when no timeline shows both.
func outOfServiceSpan(updated []admin.InstanceReport) (first, last time.Time, ok bool) {
	for _, in := range updated {
		for _, ev := range in.Timeline {
			switch ev.Event {
			case admin.EventDraining:
				if first.IsZero() || ev.T.Before(first) {
					first = ev.T
				}
			case admin.EventActive:
				if ev.T.After(last) {
					last = ev.T
				}
			}
		}
	}
	return first, last, !first.IsZero() && last.After(first)
}

package main

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rollwave/rollwave/shared/history"
)

// TestProgress counts a cluster's rollout as status shows it: an instance counts once, by its
// job now or else by how its last job ended; a skipped one is not updated; the ETA is the
// remaining rounds of the limit times the mean measured update.
func TestProgress(t *testing.T) {
	now := time.Date(2025, 6, 2, 10, 0, 0, 0, time.UTC)
	at := func(m int) time.Time { return now.Add(time.Duration(m) * time.Minute) }
	ended := func(job, instance, outcome, reason string, m int) history.Record {
		return history.Record{Event: "Instance Update " + outcome, JobID: job, Cluster: "prod", EC2InstanceID: instance, Outcome: outcome, Reason: reason, At: at(m)}
	}
	started := func(job, instance string, m int) history.Record {
		return history.Record{Event: "Instance Update Started", JobID: job, Cluster: "prod", EC2InstanceID: instance, At: at(m)}
	}
	cs := clusterStatus{Cluster: "prod", Total: 7, Limit: 2, Instances: []instanceStatus{
		{EC2InstanceID: "i-1"},                               // updated by j1
		{EC2InstanceID: "i-2"},                               // updated by j2
		{EC2InstanceID: "i-3"},                               // skipped: no update
		{EC2InstanceID: "i-4", Job: "j4", Stage: "draining"}, // in flight
		{EC2InstanceID: "i-5", Job: "j5", Stage: "staged", Waiting: "window", WaitingSince: at(-30)},
		{EC2InstanceID: "i-6", Job: "j6", Stage: "failed", Failure: "never-came-back"},
		{EC2InstanceID: "i-7", UpdateState: "Idle"}, // up to date, no job
	}}
	records := []history.Record{
		started("j1", "i-1", -60), ended("j1", "i-1", "updated", "updated", -50),
		started("j2", "i-2", -40), ended("j2", "i-2", "updated", "updated", -10),
		ended("j3", "i-3", "skipped", "no-update", -45),
		{Event: "Instance Update Waiting", JobID: "j5", Cluster: "prod", Reason: "window", Message: "it opens at 22:00", At: at(-15)},
		ended("other", "i-9", "updated", "updated", -5), // an instance no longer in the cluster, never started here
		{Event: "Instance Update Succeeded", JobID: "x", Cluster: "staging", EC2InstanceID: "i-1", Outcome: "failed", At: at(-1)},
	}
	got := progress(cs, records, 1, now)
	want := rolloutProgress{
		Updated: 2, Total: 7, Percent: 28, InFlight: 1,
		Waiting:      []waitingJob{{Instance: "i-5", Job: "j5", Reason: "window", Since: at(-30), Detail: "it opens at 22:00"}},
		Failed:       1,
		Skipped:      []skippedInstance{{Instance: "i-3", Reason: "no-update"}},
		DeadLettered: 1, UpToDate: 1, Remaining: 2,
		MeanSeconds: (20 * time.Minute).Seconds(), Measured: 2, // (10m + 30m) / 2
		ETA: now.Add(20 * time.Minute), // ⌈2 / 2⌉ rounds
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("progress() (-want +got):\n%s", diff)
	}
	if line := progressLine(clusterStatus{Cluster: "prod", Limit: 2, Progress: got}, now); line !=
		"prod: 2/7 updated (28%), 1 in flight, 1 waiting, 1 failed, 1 skipped, 1 dead-lettered, 1 already up to date; ETA 20m (2 left, 20m0s per instance measured over 2, limit 2)" {
		t.Errorf("progressLine() = %q", line)
	}
}

package main

import (
	"testing"
	"time"

	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/update"
	"github.com/rollwave/rollwave/tools/fleetsim/admin"
)

func TestProgress(t *testing.T) {
	inst := func(id, status string, hostUp bool) admin.InstanceState {
		return admin.InstanceState{EC2InstanceID: id, Status: status, AgentConnected: hostUp, HostUp: hostUp}
	}
	o := newObserver()
	o.Observe(admin.State{Clusters: []admin.ClusterState{
		{Name: "prod", Instances: []admin.InstanceState{inst("i-1", "ACTIVE", true), inst("i-2", "DRAINING", true), inst("i-3", "ACTIVE", true)}},
		{Name: "staging", Instances: []admin.InstanceState{inst("i-4", "DRAINING", false)}},
	}})
	ended := func(kinds ...string) map[string]Ended {
		m := map[string]Ended{}
		for i, k := range kinds {
			m[[]string{"i-1", "i-3", "i-2", "i-4"}[i]] = Ended{DetailType: k}
		}
		return m
	}
	one, half := update.DefaultLimit, mustLimit(t, "50%")
	tests := []struct {
		name    string
		ended   map[string]Ended
		elapsed time.Duration
		limit   update.Limit
		want    string
	}{
		{"before any job ended there is no estimate", ended(), 5 * time.Second, one,
			"updated 0/4, skipped 0, failed 0 · out of service (limit 1): prod 1/1, staging 1/1 · time left: estimated once a job has ended"},
		{"two of four ended in 20s: about 20s left", ended(notify.InstanceUpdateSucceeded, notify.InstanceUpdateSkipped), 20 * time.Second, one,
			"updated 1/4, skipped 1, failed 0 · out of service (limit 1): prod 1/1, staging 1/1 · about 20s left"},
		{"the limit of a percentage is per cluster", ended(notify.InstanceUpdateFailed), 9 * time.Second, half,
			"updated 0/4, skipped 0, failed 1 · out of service (limit 50%): prod 1/1, staging 1/1 · about 27s left"},
		{"every instance ended", ended(notify.InstanceUpdateSucceeded, notify.InstanceUpdateSucceeded, notify.InstanceUpdateSucceeded, notify.InstanceUpdateSkipped), time.Minute, one,
			"updated 3/4, skipped 1, failed 0 · out of service (limit 1): prod 1/1, staging 1/1 · every instance has ended"},
	}
	for _, tt := range tests {
		if got := progress(o, tt.ended, tt.elapsed, tt.limit); got != tt.want {
			t.Errorf("%s: progress = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func mustLimit(t *testing.T, s string) update.Limit {
	t.Helper()
	l, err := update.ParseLimit(s)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestRowsSayWhyAJobEndedInWords(t *testing.T) {
	o := newObserver()
	o.Observe(admin.State{Clusters: []admin.ClusterState{{Name: "prod", Instances: []admin.InstanceState{
		{EC2InstanceID: "i-1", Status: "ACTIVE", AgentConnected: true, HostUp: true},
		{EC2InstanceID: "i-2", Status: "ACTIVE", AgentConnected: true, HostUp: true},
	}}}})
	rows := o.rows(map[string]Ended{
		"i-1": {DetailType: notify.InstanceUpdateSkipped, Detail: notify.JobDetail{Reason: "standalone-task"}},
		"i-2": {DetailType: notify.InstanceUpdateSucceeded, Detail: notify.JobDetail{Reason: "updated"}},
	})
	got := []string{rows[0].ended, rows[1].ended}
	want := []string{"Skipped: a task that no service started runs there (standalone-task)", "Succeeded"}
	if got[0] != want[0] || got[1] != want[1] {
		t.Errorf("rows' job column = %q, want %q", got, want)
	}
}

package update

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestSteady(t *testing.T) {
	tests := []struct {
		rule     string
		services []ServiceHealth
		ok       bool
		why      string
	}{
		{"no services: steady", nil, true, ""},
		{"running equals desired, one deployment: steady", []ServiceHealth{{Name: "web", Desired: 4, Running: 4, Deployments: 1}}, true, ""},
		{"a task still missing: wait", []ServiceHealth{{Name: "web", Desired: 4, Running: 3, Deployments: 1}}, false, "web running 3 of 4"},
		{"a task pending beside a whole set (a drain's replacement starting): steady", []ServiceHealth{{Name: "web", Desired: 4, Running: 4, Pending: 1, Deployments: 1}}, true, ""},
		{"a task pending in place of a missing one: wait", []ServiceHealth{{Name: "web", Desired: 4, Running: 3, Pending: 1, Deployments: 1}}, false, "web running 3 of 4, 1 pending"},
		{"a deployment in progress: wait", []ServiceHealth{{Name: "web", Desired: 4, Running: 4, Deployments: 2}}, false, "2 deployments"},
		{"more running than desired (the drained task not yet stopped): steady", []ServiceHealth{{Name: "web", Desired: 4, Running: 5, Deployments: 1}}, true, ""},
		{"one unsettled service among steady ones: wait", []ServiceHealth{{Name: "web", Desired: 2, Running: 2, Deployments: 1}, {Name: "api", Desired: 2, Running: 1, Deployments: 1}}, false, "api"},
	}
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			ok, why := Steady(tt.services)
			if ok != tt.ok || !strings.Contains(why, tt.why) {
				t.Errorf("Steady(%+v) = %t, %q; want %t with %q", tt.services, ok, why, tt.ok, tt.why)
			}
		})
	}
}

func TestGate(t *testing.T) {
	verified := time.Date(2025, 6, 2, 9, 0, 0, 0, time.UTC)
	timeout := 15 * time.Minute
	steady := []ServiceHealth{{Name: "web", Desired: 2, Running: 2, Deployments: 1}}
	unsettled := []ServiceHealth{{Name: "web", Desired: 2, Running: 1, Pending: 1, Deployments: 1}}
	back := UpdatedInstance{Name: "i-a", VerifiedAt: verified, Status: "ACTIVE", AgentConnected: true, Running: 1}
	stuck := UpdatedInstance{Name: "i-a", VerifiedAt: verified, Status: "ACTIVE", AgentConnected: true, Pending: 1}
	gone := UpdatedInstance{Name: "i-b", VerifiedAt: verified.Add(-time.Minute), Status: "ACTIVE"}
	tests := []struct {
		rule     string
		services []ServiceHealth
		updated  []UpdatedInstance
		now      time.Time
		open     bool
		expired  bool
		suspects []string
		why      string
	}{
		{"nothing updated, services steady: open", steady, nil, verified, true, false, nil, ""},
		{"nothing updated, services unsettled: wait without deadline", unsettled, nil, verified.Add(time.Hour), false, false, nil, "web running 1 of 2"},
		{"updated instance back, services steady: open", steady, []UpdatedInstance{back}, verified.Add(time.Minute), true, false, nil, ""},
		{"updated instance with a task that does not start: wait", unsettled, []UpdatedInstance{stuck}, verified.Add(time.Minute), false, false, nil, "i-a (updated last) has 1 tasks that do not start"},
		{"the same past the deadline: expired, the instance a suspect", unsettled, []UpdatedInstance{stuck}, verified.Add(timeout), false, true, []string{"i-a"}, "not healthy 15m0s after i-a was verified"},
		{"only services unsettled past the deadline: the instance updated last is the suspect", unsettled, []UpdatedInstance{back, gone}, verified.Add(time.Hour), false, true, []string{"i-b"}, "agent disconnected"},
		{"services unsettled, instance back, before the deadline: wait", unsettled, []UpdatedInstance{back}, verified.Add(timeout - time.Second), false, false, nil, "web running 1 of 2"},
		{"services unsettled past the deadline, instance back: the newest is the suspect", unsettled, []UpdatedInstance{back}, verified.Add(timeout), false, true, []string{"i-a"}, "web"},
	}
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			v := Gate(tt.services, tt.updated, timeout, tt.now)
			var suspects []string
			for _, s := range v.Suspects {
				suspects = append(suspects, s.Name)
			}
			if v.Open != tt.open || v.Expired != tt.expired || !strings.Contains(v.Why, tt.why) {
				t.Errorf("Gate() = open %t, expired %t, %q; want %t, %t with %q", v.Open, v.Expired, v.Why, tt.open, tt.expired, tt.why)
			}
			if diff := cmp.Diff(tt.suspects, suspects); diff != "" {
				t.Errorf("Gate() suspects (-want +got):\n%s", diff)
			}
		})
	}
}

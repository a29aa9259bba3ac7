package update

import (
	"strings"
	"testing"
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
		{"a task pending: wait", []ServiceHealth{{Name: "web", Desired: 4, Running: 4, Pending: 1, Deployments: 1}}, false, "1 pending"},
		{"a deployment in progress: wait", []ServiceHealth{{Name: "web", Desired: 4, Running: 4, Deployments: 2}}, false, "2 deployments"},
		{"more running than desired (a replacement not yet stopped): wait", []ServiceHealth{{Name: "web", Desired: 4, Running: 5, Deployments: 1}}, false, "running 5 of 4"},
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

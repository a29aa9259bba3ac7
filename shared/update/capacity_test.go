package update

import (
	"strings"
	"testing"
)

func TestCanHost(t *testing.T) {
	web := func(desired, running, minPct, maxPct, here int) ServiceLoad {
		return ServiceLoad{Name: "web", Desired: desired, Running: running, MinHealthyPercent: minPct, MaxPercent: maxPct,
			OnInstance: here, TaskCPU: 256, TaskMemory: 512}
	}
	roomy := []Host{{Name: "i-a", CPU: 1024, Memory: 2048}}
	tests := []struct {
		rule     string
		services []ServiceLoad
		hosts    []Host
		ok       bool
		why      string // a part of the reason
	}{
		{"no service task moves: any cluster can host nothing", nil, nil, true, ""},
		{"min 100%: the replacements need room first, and there is", []ServiceLoad{web(4, 4, 100, 200, 2)}, roomy, true, ""},
		{"min 100%: no room elsewhere, wait", []ServiceLoad{web(4, 4, 100, 200, 2)}, []Host{{Name: "i-a", CPU: 256, Memory: 512}}, false, "service web: no room"},
		{"min 50%: tasks may stop first down to the floor, no room needed", []ServiceLoad{web(4, 4, 50, 200, 2)}, nil, true, ""},
		{"min 50%: beyond the floor the rest needs room", []ServiceLoad{web(4, 4, 50, 200, 3)}, nil, false, "free on the other ACTIVE instances: none"},
		{"min 50%: one task beyond the floor fits", []ServiceLoad{web(4, 4, 50, 200, 3)}, []Host{{Name: "i-a", CPU: 256, Memory: 512}}, true, ""},
		{"a service already below desired has less to spare", []ServiceLoad{web(4, 3, 50, 200, 2)}, nil, false, "no room"},
		{"min 100% and max 100%: no replacement can start, wait", []ServiceLoad{web(4, 4, 100, 100, 1)}, roomy, false, "lets no replacement start"},
		{"memory counts, not only CPU", []ServiceLoad{web(2, 2, 100, 200, 1)}, []Host{{Name: "i-a", CPU: 4096, Memory: 256}}, false, "no room"},
		{"two services share the room", []ServiceLoad{web(2, 2, 100, 200, 1), {Name: "api", Desired: 2, Running: 2, MinHealthyPercent: 100, MaxPercent: 200, OnInstance: 1, TaskCPU: 256, TaskMemory: 512}},
			[]Host{{Name: "i-a", CPU: 256, Memory: 512}}, false, "no room"},
		{"the replacements spread over several hosts", []ServiceLoad{web(4, 4, 100, 200, 2)},
			[]Host{{Name: "i-a", CPU: 256, Memory: 512}, {Name: "i-b", CPU: 256, Memory: 512}}, true, ""},
		{"unknown reservations count as none", []ServiceLoad{{Name: "x", Desired: 1, Running: 1, MinHealthyPercent: 100, MaxPercent: 200, OnInstance: 1}},
			[]Host{{Name: "i-a"}}, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			ok, why := CanHost(tt.services, tt.hosts)
			if ok != tt.ok || !strings.Contains(why, tt.why) || (ok && why != "") {
				t.Errorf("CanHost(%+v, %+v) = %t, %q; want %t with %q", tt.services, tt.hosts, ok, why, tt.ok, tt.why)
			}
		})
	}
}

func TestGlobalAdmit(t *testing.T) {
	tests := []struct {
		rule  string
		limit int
		out   int // rollwave's instances out of service in every cluster, this claim included
		ok    bool
	}{
		{"no global limit", 0, 50, true},
		{"within the limit", 2, 2, true},
		{"over the limit: back off", 2, 3, false},
	}
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			if ok, _ := WithinGlobalLimit(tt.limit, tt.out); ok != tt.ok {
				t.Errorf("WithinGlobalLimit(%d, %d) = %t, want %t", tt.limit, tt.out, ok, tt.ok)
			}
		})
	}
}

package update

import (
	"fmt"
	"slices"
	"testing"
)

func TestParseLimit(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{"1", "1", false},
		{"2", "2", false},
		{"20%", "20%", false},
		{"100%", "100%", false},
		{" 3 ", "3", false},
		{"0", "", true},
		{"-1", "", true},
		{"0%", "", true},
		{"101%", "", true},
		{"", "", true},
		{"one", "", true},
		{"20 %", "", true},
		{"1.5", "", true},
	}
	for _, tt := range tests {
		got, err := ParseLimit(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseLimit(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if err == nil && got.String() != tt.want {
			t.Errorf("ParseLimit(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestLimitMax(t *testing.T) {
	tests := []struct {
		name  string
		limit string
		total int
		want  int
	}{
		{"a count is the count", "2", 10, 2},
		{"a count does not depend on the cluster size", "2", 1, 2},
		{"a percentage of the instances", "20%", 10, 2},
		{"a percentage rounds down", "20%", 14, 2},
		{"a percentage is at least one instance", "20%", 3, 1},
		{"a percentage of an empty cluster is still one", "20%", 0, 1},
		{"100% is every instance", "100%", 7, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := ParseLimit(tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if got := l.Max(tt.total); got != tt.want {
				t.Errorf("ParseLimit(%q).Max(%d) = %d, want %d", tt.limit, tt.total, got, tt.want)
			}
		})
	}
	if got := DefaultLimit.Max(50); got != 1 {
		t.Errorf("DefaultLimit.Max(50) = %d, want 1", got)
	}
}

// instance builders for the admission tables
func serving(id string) InstanceView {
	return InstanceView{ARN: "arn:aws:ecs:eu-west-1:123456789012:container-instance/prod/" + id, EC2InstanceID: id, Status: "ACTIVE", AgentConnected: true}
}
func owned(id, job string, s Stage) InstanceView {
	v := serving(id)
	v.Job, v.Stage = job, s
	return v
}
func withStatus(v InstanceView, status string) InstanceView { v.Status = status; return v }
func disconnected(v InstanceView) InstanceView              { v.AgentConnected = false; return v }

func TestCanClaim(t *testing.T) {
	one, two := DefaultLimit, Limit{n: 2}
	tests := []struct {
		name       string
		limit      Limit
		instances  []InstanceView
		wantAction Action
		wantReason string
	}{
		{"an idle cluster has room for the claim", one,
			[]InstanceView{owned("i-me", "me", StageStaged), serving("i-b")},
			Proceed, "cluster prod: 1 of at most 1 instances out of service with this claim, limit 1"},
		{"another job draining fills a limit of one", one,
			[]InstanceView{owned("i-me", "me", StageStaged), owned("i-abc", "other", StageDraining)},
			BackOff, "cluster prod: 2 of at most 1 instances out of service with this claim, over the limit 1 (i-abc draining)"},
		{"another job's claim counts as out of service", one,
			[]InstanceView{owned("i-me", "me", StageStaged), owned("i-abc", "other", StageAdmitting)},
			BackOff, "cluster prod: 2 of at most 1 instances out of service with this claim, over the limit 1 (i-abc admitting)"},
		{"an instance a person drained counts", one,
			[]InstanceView{owned("i-me", "me", StageStaged), withStatus(serving("i-abc"), "DRAINING")},
			BackOff, "cluster prod: 2 of at most 1 instances out of service with this claim, over the limit 1 (i-abc draining, not by rollwave)"},
		{"a failed instance parked draining for a person counts: the cluster waits for the person", one,
			[]InstanceView{owned("i-me", "me", StageStaged), withStatus(owned("i-abc", "old", StageFailed), "DRAINING")},
			BackOff, "cluster prod: 2 of at most 1 instances out of service with this claim, over the limit 1 (i-abc failed, draining)"},
		{"a failed instance whose host never came back counts by its agent too", one,
			[]InstanceView{owned("i-me", "me", StageStaged), disconnected(withStatus(owned("i-abc", "old", StageFailed), "DRAINING"))},
			BackOff, "cluster prod: 2 of at most 1 instances out of service with this claim, over the limit 1 (i-abc failed, draining, agent disconnected)"},
		{"a failed instance returned to service does not count: it serves", one,
			[]InstanceView{owned("i-me", "me", StageStaged), owned("i-abc", "old", StageFailed)},
			Proceed, "cluster prod: 1 of at most 1 instances out of service with this claim, limit 1"},
		{"a staged instance of another job still serves", one,
			[]InstanceView{owned("i-me", "me", StageStaged), owned("i-abc", "other", StageStaged)},
			Proceed, "cluster prod: 1 of at most 1 instances out of service with this claim, limit 1"},
		{"an ACTIVE instance whose agent is disconnected counts: ECS places nothing on it", one,
			[]InstanceView{owned("i-me", "me", StageStaged), disconnected(serving("i-abc"))},
			BackOff, "cluster prod: 2 of at most 1 instances out of service with this claim, over the limit 1 (i-abc agent disconnected)"},
		{"a parked failed instance and a drain of another job fill a limit of two", two,
			[]InstanceView{owned("i-me", "me", StageStaged), withStatus(owned("i-abc", "old", StageFailed), "DRAINING"), owned("i-def", "other", StageRebooting)},
			BackOff, "cluster prod: 3 of at most 2 instances out of service with this claim, over the limit 2 (i-abc failed, draining, i-def rebooting)"},
		{"a limit of two leaves room beside one parked failed instance", two,
			[]InstanceView{owned("i-me", "me", StageStaged), withStatus(owned("i-abc", "old", StageFailed), "DRAINING"), serving("i-c")},
			Proceed, "cluster prod: 2 of at most 2 instances out of service with this claim, limit 2 (i-abc failed, draining)"},
		{"a limit of two leaves room beside one drain", two,
			[]InstanceView{owned("i-me", "me", StageStaged), owned("i-abc", "other", StageRebooting)},
			Proceed, "cluster prod: 2 of at most 2 instances out of service with this claim, limit 2 (i-abc rebooting)"},
		{"a redelivered claim is not counted twice", one,
			[]InstanceView{owned("i-me", "me", StageAdmitting), serving("i-b")},
			Proceed, "cluster prod: 1 of at most 1 instances out of service with this claim, limit 1"},
		{"an instance already draining for this job was admitted before (redelivery)", one,
			[]InstanceView{withStatus(owned("i-me", "me", StageDraining), "DRAINING"), owned("i-abc", "other", StageRebooting)},
			Proceed, "cluster prod: i-me was admitted before (stage draining)"},
		{"an instance a person drained before the claim is refused, never taken over", one,
			[]InstanceView{withStatus(owned("i-me", "me", StageStaged), "DRAINING")},
			Refuse, "cluster prod: i-me is DRAINING and rollwave did not drain it; it is left as it is"},
		{"an instance that no longer carries the job is refused", one,
			[]InstanceView{serving("i-b")},
			Refuse, "cluster prod: no instance of the cluster carries rollwave.job=me"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := CanClaim("prod", tt.limit, everyone(tt.instances), "me")
			if d.Action != tt.wantAction || d.Reason != tt.wantReason {
				t.Errorf("CanClaim() = %s %q, want %s %q", d.Action, d.Reason, tt.wantAction, tt.wantReason)
			}
		})
	}
}

func TestAdmit(t *testing.T) {
	one, two := DefaultLimit, Limit{n: 2}
	tests := []struct {
		name        string
		limit       Limit
		instances   []InstanceView
		wantAction  Action
		wantReason  string
		wantOutcome Code
	}{
		{"our claim alone fits a limit of one", one,
			[]InstanceView{owned("i-me", "me", StageAdmitting), serving("i-b")},
			Proceed, "cluster prod: 1 of at most 1 instances out of service with this admit, limit 1", ""},
		{"our claim beside another job's claim exceeds a limit of one: back off", one,
			[]InstanceView{owned("i-me", "me", StageAdmitting), owned("i-abc", "other", StageAdmitting)},
			BackOff, "cluster prod: 2 of at most 1 instances out of service with this admit, over the limit 1 (i-abc admitting)", ""},
		{"our claim beside a drain in progress exceeds a limit of one", one,
			[]InstanceView{owned("i-me", "me", StageAdmitting), owned("i-abc", "other", StageDraining)},
			BackOff, "cluster prod: 2 of at most 1 instances out of service with this admit, over the limit 1 (i-abc draining)", ""},
		{"two claims fit a limit of two", two,
			[]InstanceView{owned("i-me", "me", StageAdmitting), owned("i-abc", "other", StageAdmitting), serving("i-c")},
			Proceed, "cluster prod: 2 of at most 2 instances out of service with this admit, limit 2 (i-abc admitting)", ""},
		{"a percentage limit is taken of the cluster size", Limit{n: 50, percent: true},
			[]InstanceView{owned("i-me", "me", StageAdmitting), owned("i-abc", "other", StageVerifying), serving("i-c"), serving("i-d")},
			Proceed, "cluster prod: 2 of at most 2 instances out of service with this admit, limit 50% (i-abc verifying)", ""},
		{"an instance already past admitting was admitted before (redelivery)", one,
			[]InstanceView{withStatus(owned("i-me", "me", StageDraining), "DRAINING"), owned("i-abc", "other", StageAdmitting)},
			Proceed, "cluster prod: i-me was admitted before (stage draining)", ""},
		{"a claim someone else drained meanwhile is refused, never re-activated later", one,
			[]InstanceView{withStatus(owned("i-me", "me", StageAdmitting), "DRAINING")},
			Refuse, "cluster prod: i-me is DRAINING and rollwave did not drain it; it is left as it is", CodeDrainedByOther},
		{"without a claim there is nothing to admit", one,
			[]InstanceView{owned("i-me", "me", StageStaged)},
			Refuse, `cluster prod: i-me has no claim to admit (stage "staged")`, CodeDrainFailed},
		{"our claim beside an instance parked after a failed update exceeds a limit of one", one,
			[]InstanceView{owned("i-me", "me", StageAdmitting), withStatus(owned("i-abc", "old", StageFailed), "DRAINING")},
			BackOff, "cluster prod: 2 of at most 1 instances out of service with this admit, over the limit 1 (i-abc failed, draining)", ""},
		{"our claim beside an instance a person drained exceeds a limit of one", one,
			[]InstanceView{owned("i-me", "me", StageAdmitting), withStatus(serving("i-abc"), "DRAINING")},
			BackOff, "cluster prod: 2 of at most 1 instances out of service with this admit, over the limit 1 (i-abc draining, not by rollwave)", ""},
		{"our claim beside an instance whose agent is disconnected exceeds a limit of one", one,
			[]InstanceView{owned("i-me", "me", StageAdmitting), disconnected(serving("i-abc"))},
			BackOff, "cluster prod: 2 of at most 1 instances out of service with this admit, over the limit 1 (i-abc agent disconnected)", ""},
		{"our claim beside a failed instance returned to service fits a limit of one", one,
			[]InstanceView{owned("i-me", "me", StageAdmitting), owned("i-abc", "old", StageFailed)},
			Proceed, "cluster prod: 1 of at most 1 instances out of service with this admit, limit 1", ""},
		{"a vanished instance is refused", one,
			[]InstanceView{serving("i-b")},
			Refuse, "cluster prod: no instance of the cluster carries rollwave.job=me", CodeInstanceGone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Admit("prod", tt.limit, everyone(tt.instances), "me")
			if d.Action != tt.wantAction || d.Reason != tt.wantReason || d.Outcome.Code != tt.wantOutcome {
				t.Errorf("Admit() = %s %q (outcome %q), want %s %q (outcome %q)",
					d.Action, d.Reason, d.Outcome.Code, tt.wantAction, tt.wantReason, tt.wantOutcome)
			}
			if d.Proceed() != (tt.wantAction == Proceed) {
				t.Errorf("Admit().Proceed() = %v, want %v", d.Proceed(), tt.wantAction == Proceed)
			}
		})
	}
}

// TestRacingClaimsNeverExceedTheLimit plays every interleaving of N drainers, each doing
// claim -> re-read -> Admit (and withdrawing its claim when it does not proceed), against
// clusters with some instances already out of service, and checks the invariant: the instances
// allowed to proceed, plus those already out of service, never exceed the limit.
func TestRacingClaimsNeverExceedTheLimit(t *testing.T) {
	tests := []struct {
		limit    Limit
		size     int
		racers   int
		outAlrdy int
	}{
		{DefaultLimit, 4, 2, 0},
		{DefaultLimit, 4, 3, 0},
		{DefaultLimit, 4, 2, 1},
		{Limit{n: 2}, 5, 3, 0},
		{Limit{n: 2}, 5, 3, 1},
		{Limit{n: 50, percent: true}, 6, 4, 1},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("limit %s, %d instances, %d racers, %d out already", tt.limit, tt.size, tt.racers, tt.outAlrdy), func(t *testing.T) {
			// Each racer performs two events: 0 = write claim, 1 = read + decide.
			var play func(order []int, counts []int)
			play = func(order []int, counts []int) {
				if len(order) == 2*tt.racers {
					checkInterleaving(t, tt.limit, tt.size, tt.racers, tt.outAlrdy, order)
					return
				}
				for r := 0; r < tt.racers; r++ {
					if counts[r] < 2 {
						counts[r]++
						play(append(order, r), counts)
						counts[r]--
					}
				}
			}
			play(nil, make([]int, tt.racers))
		})
	}
}

func checkInterleaving(t *testing.T, limit Limit, size, racers, outAlready int, order []int) {
	t.Helper()
	cluster := make([]InstanceView, size)
	for i := range cluster {
		cluster[i] = serving(fmt.Sprintf("i-%d", i))
	}
	for i := 0; i < outAlready; i++ {
		cluster[size-1-i] = withStatus(owned(fmt.Sprintf("i-%d", size-1-i), fmt.Sprintf("old-%d", i), StageVerifying), "DRAINING")
	}
	for r := 0; r < racers; r++ {
		cluster[r] = owned(fmt.Sprintf("i-%d", r), fmt.Sprintf("job-%d", r), StageStaged)
	}
	step := make([]int, racers)
	proceeded := 0
	for _, r := range order {
		job := fmt.Sprintf("job-%d", r)
		if step[r] == 0 {
			cluster[r].Stage = StageAdmitting
		} else {
			d := Admit("prod", limit, everyone(append([]InstanceView(nil), cluster...)), job)
			if d.Proceed() {
				cluster[r].Stage = StageDraining
				proceeded++
			} else {
				cluster[r].Stage = StageStaged // withdraw the claim
			}
		}
		step[r]++
	}
	if max := limit.Max(size); proceeded+outAlready > max {
		t.Errorf("interleaving %v: %d proceeded with %d already out of service, over the limit %d", order, proceeded, outAlready, max)
	}
}

// TestOutOfService is the counting rule of the limit: every instance that does not serve counts,
// whoever or whatever took it out.
func TestOutOfService(t *testing.T) {
	tests := []struct {
		name string
		v    InstanceView
		want bool
	}{
		{"an ACTIVE instance with its agent connected serves", InstanceView{Status: "ACTIVE", AgentConnected: true}, false},
		{"a staged instance still serves", InstanceView{Status: "ACTIVE", AgentConnected: true, Stage: StageStaged}, false},
		{"an instance a person drained is out", InstanceView{Status: "DRAINING", AgentConnected: true}, true},
		{"an instance in any other status than ACTIVE is out", InstanceView{Status: "REGISTERING", AgentConnected: true}, true},
		{"an ACTIVE instance whose agent is disconnected is out: ECS places nothing on it", InstanceView{Status: "ACTIVE", AgentConnected: false}, true},
		{"rollwave's claim counts before DRAINING is set", InstanceView{Status: "ACTIVE", AgentConnected: true, Stage: StageAdmitting}, true},
		{"a draining instance of rollwave is out", InstanceView{Status: "DRAINING", AgentConnected: true, Stage: StageDraining}, true},
		{"a rebooting instance is out", InstanceView{Status: "DRAINING", AgentConnected: false, Stage: StageRebooting}, true},
		{"a verifying instance is out until it is ACTIVE and unmarked", InstanceView{Status: "DRAINING", AgentConnected: true, Stage: StageVerifying}, true},
		{"an instance parked DRAINING after a failed update is out", InstanceView{Status: "DRAINING", AgentConnected: true, Stage: StageFailed}, true},
		{"an instance parked after it never came back is out", InstanceView{Status: "DRAINING", AgentConnected: false, Stage: StageFailed}, true},
		{"a failed instance returned to service serves", InstanceView{Status: "ACTIVE", AgentConnected: true, Stage: StageFailed}, false},
		{"a failed instance returned to service whose agent went away is out", InstanceView{Status: "ACTIVE", AgentConnected: false, Stage: StageFailed}, true},
	}
	for _, tt := range tests {
		if got := tt.v.OutOfService(); got != tt.want {
			t.Errorf("%s: OutOfService(%+v) = %v, want %v", tt.name, tt.v, got, tt.want)
		}
	}
}

func TestCountOutOfService(t *testing.T) {
	serving := InstanceView{Status: "ACTIVE", AgentConnected: true}
	tests := []struct {
		name string
		in   []InstanceView
		want int
	}{
		{name: "none", want: 0},
		{name: "every instance serves", in: []InstanceView{serving, serving}, want: 0},
		{name: "drained, agent gone, claimed: each counts once", in: []InstanceView{
			serving,
			{Status: "DRAINING", AgentConnected: true},
			{Status: "ACTIVE"},
			{Status: "ACTIVE", AgentConnected: true, Job: "j-1", Stage: StageAdmitting},
			{Status: "DRAINING", Job: "j-2", Stage: StageDraining},
		}, want: 4},
		{name: "a failed instance returned to service serves", in: []InstanceView{
			{Status: "ACTIVE", AgentConnected: true, Stage: StageFailed},
		}, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CountOutOfService(tt.in); got != tt.want {
				t.Errorf("CountOutOfService() = %d, want %d", got, tt.want)
			}
		})
	}
}

// TestAdmitOnACensus: admission decides the same on a census (the cluster's size, and only the
// instances that may be out of service) as on the whole cluster: the instances in service count
// only in the size that a percentage is taken of.
func TestAdmitOnACensus(t *testing.T) {
	whole := []InstanceView{owned("i-me", "me", StageAdmitting), owned("i-abc", "other", StageDraining), serving("i-c"), serving("i-d"),
		withStatus(serving("i-e"), "DRAINING"), disconnected(serving("i-f")), owned("i-g", "next", StageStaged), serving("i-h")}
	var census Census
	census.Total = len(whole)
	for _, v := range whole {
		if v.OutOfService() || v.Job == "me" {
			census.Instances = append(census.Instances, v)
		}
	}
	for _, limit := range []Limit{{n: 3}, {n: 4}, {n: 50, percent: true}, {n: 40, percent: true}} {
		if got, want := Admit("prod", limit, census, "me"), Admit("prod", limit, everyone(whole), "me"); got != want {
			t.Errorf("limit %s: Admit on the census = %+v, on the whole cluster = %+v", limit, got, want)
		}
	}
	mine := census
	mine.Instances = slices.Clone(census.Instances)
	mine.Instances[0].Stage = StageStaged
	wholeStaged := slices.Clone(whole)
	wholeStaged[0].Stage = StageStaged
	for _, limit := range []Limit{{n: 4}, {n: 5}, {n: 50, percent: true}} {
		if got, want := CanClaim("prod", limit, mine, "me"), CanClaim("prod", limit, everyone(wholeStaged), "me"); got != want {
			t.Errorf("limit %s: CanClaim on the census = %+v, on the whole cluster = %+v", limit, got, want)
		}
	}
}

func TestOutOfServiceFilterNamesTheStagesTakenOutOfService(t *testing.T) {
	want := "agentConnected == false or attribute:rollwave.stage in [admitting, draining, rebooting, verifying]"
	if got := OutOfServiceFilter(); got != want {
		t.Errorf("OutOfServiceFilter() = %q, want %q", got, want)
	}
}

// everyone is the census of a cluster read whole: every instance counted and seen.
func everyone(instances []InstanceView) Census {
	return Census{Total: len(instances), Instances: instances}
}

package update

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestRenewLeaseOnlyWhenLessThanHalfRemains(t *testing.T) {
	now := time.Date(2025, 6, 2, 9, 0, 0, 0, time.UTC)
	const d = time.Hour
	fresh := "2025-06-02T10:00:00Z"
	tests := []struct {
		name      string
		current   string
		wantRenew bool
	}{
		{"a lease taken just now is kept", fresh, false},
		{"exactly half left is kept", "2025-06-02T09:30:00Z", false},
		{"less than half left is renewed", "2025-06-02T09:29:59Z", true},
		{"an expired lease is renewed", "2025-06-02T08:00:00Z", true},
		{"no lease (marked by an older version) gets one", "", true},
		{"an unreadable lease is rewritten", "tomorrow", true},
		{"a lease in another zone's notation is read as the same instant", "2025-06-02T12:00:00+02:00", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, renew := RenewLease(tt.current, now, d)
			if renew != tt.wantRenew {
				t.Fatalf("RenewLease(%q) renew = %t, want %t", tt.current, renew, tt.wantRenew)
			}
			if renew && got != fresh {
				t.Errorf("RenewLease(%q) = %q, want %q (now + the lease, UTC)", tt.current, got, fresh)
			}
		})
	}
}

func TestLeaseValueIsAnAttributeValueECSAccepts(t *testing.T) {
	// ECS attribute values: letters, digits, - _ . @ / \ : and inner spaces, at most 128.
	v := LeaseValue(time.Date(2025, 6, 2, 9, 0, 0, 500, time.FixedZone("CEST", 2*3600)), 90*time.Second)
	if v != "2025-06-02T07:01:30Z" {
		t.Errorf("LeaseValue() = %q, want 2025-06-02T07:01:30Z", v)
	}
	if exp, err := ParseLease(v); err != nil || !exp.Equal(time.Date(2025, 6, 2, 7, 1, 30, 0, time.UTC)) {
		t.Errorf("ParseLease(%q) = %v, %v", v, exp, err)
	}
}

// A worker that looks at its job at least every MaxLeaseGap never lets the lease expire, and the
// reclaimer never takes the instance from it: simulated over many looks with the worst gap.
func TestLooksEveryMaxGapKeepTheLeaseAlive(t *testing.T) {
	const d = 20 * time.Minute
	now := time.Date(2025, 6, 2, 9, 0, 0, 0, time.UTC)
	lease := LeaseValue(now, d)
	writes := 0
	for look := 0; look < 1000; look++ {
		now = now.Add(MaxLeaseGap(d))
		if got := Reclaimable(Claim{Job: "j-1", Stage: "staged", Lease: lease, Status: "ACTIVE"}, now, d); got.Action != Keep {
			t.Fatalf("look %d at %s: Reclaimable() = %s (%s), want keep", look, now, got.Action, got.Reason)
		}
		exp, _ := ParseLease(lease)
		if !now.Before(exp) {
			t.Fatalf("look %d at %s: the lease expired at %s", look, now, exp)
		}
		if v, renew := RenewLease(lease, now, d); renew {
			lease = v
			writes++
		}
	}
	// Renewed once per half lease at most: every other look at the longest gap.
	if writes > 500 {
		t.Errorf("%d lease writes over 1000 looks, want at most 500", writes)
	}
}

func TestReclaimable(t *testing.T) {
	now := time.Date(2025, 6, 2, 12, 0, 0, 0, time.UTC)
	const d = time.Hour // grace: 30m
	longAgo := "2025-06-02T11:00:00Z"
	recently := "2025-06-02T11:45:00Z"
	ahead := "2025-06-02T12:30:00Z"
	tests := []struct {
		name  string
		claim Claim
		want  ReclaimDecision
	}{
		{name: "no job: nothing to reclaim",
			claim: Claim{Status: "ACTIVE"},
			want:  ReclaimDecision{Action: Keep}},
		{name: "a live job's lease ahead: kept",
			claim: Claim{Job: "j", Stage: "draining", Lease: ahead, Status: "DRAINING"},
			want:  ReclaimDecision{Action: Keep}},
		{name: "expired, but within the grace (a slow worker): kept",
			claim: Claim{Job: "j", Stage: "draining", Lease: recently, Status: "DRAINING"},
			want:  ReclaimDecision{Action: Keep}},
		{name: "parked failed, long expired: kept for a person",
			claim: Claim{Job: "j", Stage: "failed", Lease: longAgo, Status: "DRAINING"},
			want:  ReclaimDecision{Action: Keep}},
		{name: "parked failed without a lease: kept, not adopted",
			claim: Claim{Job: "j", Stage: "failed", Status: "DRAINING"},
			want:  ReclaimDecision{Action: Keep}},
		{name: "marked without a lease (older version): adopted",
			claim: Claim{Job: "j", Stage: "draining", Status: "DRAINING"},
			want:  ReclaimDecision{Action: Adopt}},
		{name: "an unreadable lease: adopted",
			claim: Claim{Job: "j", Stage: "staged", Lease: "soon", Status: "ACTIVE"},
			want:  ReclaimDecision{Action: Adopt}},
		{name: "staging, expired: reclaimed, update cancelled, not re-activated",
			claim: Claim{Job: "j", Stage: "staging", Lease: longAgo, Status: "ACTIVE"},
			want:  ReclaimDecision{Action: Reclaim, Undo: Undo{CancelUpdate: true}}},
		{name: "staged, expired: reclaimed, update cancelled",
			claim: Claim{Job: "j", Stage: "staged", Lease: longAgo, Status: "ACTIVE"},
			want:  ReclaimDecision{Action: Reclaim, Undo: Undo{CancelUpdate: true}}},
		{name: "admitting and DRAINING: a person drained it, never re-activated",
			claim: Claim{Job: "j", Stage: "admitting", Lease: longAgo, Status: "DRAINING"},
			want:  ReclaimDecision{Action: Reclaim, Undo: Undo{CancelUpdate: true}}},
		{name: "draining and DRAINING: rollwave drained it, re-activated",
			claim: Claim{Job: "j", Stage: "draining", Lease: longAgo, Status: "DRAINING"},
			want:  ReclaimDecision{Action: Reclaim, Undo: Undo{CancelUpdate: true, Reactivate: true}}},
		{name: "rebooting and DRAINING: re-activated",
			claim: Claim{Job: "j", Stage: "rebooting", Lease: longAgo, Status: "DRAINING"},
			want:  ReclaimDecision{Action: Reclaim, Undo: Undo{CancelUpdate: true, Reactivate: true}}},
		{name: "verifying and DRAINING: re-activated",
			claim: Claim{Job: "j", Stage: "verifying", Lease: longAgo, Status: "DRAINING"},
			want:  ReclaimDecision{Action: Reclaim, Undo: Undo{CancelUpdate: true, Reactivate: true}}},
		{name: "verifying but ACTIVE already: nothing to re-activate",
			claim: Claim{Job: "j", Stage: "verifying", Lease: longAgo, Status: "ACTIVE"},
			want:  ReclaimDecision{Action: Reclaim, Undo: Undo{CancelUpdate: true}}},
		{name: "an unknown stage: reclaimed, never re-activated",
			claim: Claim{Job: "j", Stage: "sideways", Lease: longAgo, Status: "DRAINING"},
			want:  ReclaimDecision{Action: Reclaim, Undo: Undo{CancelUpdate: true}}},
		{name: "a job mark without a stage: reclaimed",
			claim: Claim{Job: "j", Lease: longAgo, Status: "ACTIVE"},
			want:  ReclaimDecision{Action: Reclaim, Undo: Undo{CancelUpdate: true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Reclaimable(tt.claim, now, d)
			if got.Reason == "" {
				t.Errorf("Reclaimable(%+v) gave no reason", tt.claim)
			}
			got.Reason, got.Expired = "", time.Time{}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Reclaimable(%+v) (-want +got):\n%s", tt.claim, diff)
			}
		})
	}
}

func TestReclaimReasonSaysWhenTheLeaseExpired(t *testing.T) {
	now := time.Date(2025, 6, 2, 12, 0, 0, 0, time.UTC)
	got := Reclaimable(Claim{Job: "j-1", Stage: "draining", Lease: "2025-06-02T11:00:00Z", Status: "DRAINING"}, now, time.Hour)
	want := "the lease of job j-1 (stage draining) expired at 2025-06-02T11:00:00Z, 1h0m0s ago: no worker holds the job any more"
	if got.Reason != want || !got.Expired.Equal(now.Add(-time.Hour)) {
		t.Errorf("Reclaimable() = %q, expired %s; want %q, expired 11:00", got.Reason, got.Expired, want)
	}
}

package scan

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rollwave/rollwave/shared/bottlerocket"
	"github.com/rollwave/rollwave/shared/cluster"
)

// cand is a candidate on version v in zone az: "id@az/v".
func cand(id, az, v string) candidate {
	st := bottlerocket.Status{ActivePartition: &bottlerocket.Partition{Image: bottlerocket.Image{Version: v}}}
	return candidate{inst: cluster.Instance{EC2InstanceID: id, AZ: az}, status: st}
}

func ordered(cs []candidate) []string {
	var out []string
	for _, c := range order(cs) {
		out = append(out, fmt.Sprintf("%s@%s/%s", c.inst.EC2InstanceID, c.inst.AZ, c.status.ActiveVersion()))
	}
	return out
}

func TestOrder(t *testing.T) {
	tests := []struct {
		name string
		in   []candidate
		want []string
	}{
		{"nothing", nil, nil},
		{"oldest version first, then by instance ID",
			[]candidate{cand("i-3", "a", "1.19.5"), cand("i-2", "a", "1.18.0"), cand("i-1", "a", "1.19.5")},
			[]string{"i-2@a/1.18.0", "i-1@a/1.19.5", "i-3@a/1.19.5"}},
		{"zones interleaved, so consecutive jobs hit different zones",
			[]candidate{cand("i-1", "a", "1.19.5"), cand("i-2", "a", "1.19.5"), cand("i-3", "a", "1.19.5"),
				cand("i-4", "b", "1.19.5"), cand("i-5", "b", "1.19.5"), cand("i-6", "c", "1.19.5")},
			[]string{"i-1@a/1.19.5", "i-4@b/1.19.5", "i-2@a/1.19.5", "i-5@b/1.19.5", "i-3@a/1.19.5", "i-6@c/1.19.5"}},
		{"the zone with most left goes next, so the last ones are not all in one zone",
			[]candidate{cand("i-1", "a", "1.19.5"), cand("i-2", "b", "1.19.5"), cand("i-3", "b", "1.19.5"), cand("i-4", "b", "1.19.5")},
			[]string{"i-2@b/1.19.5", "i-1@a/1.19.5", "i-3@b/1.19.5", "i-4@b/1.19.5"}},
		{"version beats zone; the next version does not start in the zone just used",
			[]candidate{cand("i-1", "a", "1.18.0"), cand("i-2", "a", "1.19.5"), cand("i-3", "b", "1.19.5")},
			[]string{"i-1@a/1.18.0", "i-3@b/1.19.5", "i-2@a/1.19.5"}},
		{"instances without a zone are a zone of their own",
			[]candidate{cand("i-1", "", "1.19.5"), cand("i-2", "", "1.19.5"), cand("i-3", "a", "1.19.5")},
			[]string{"i-1@/1.19.5", "i-3@a/1.19.5", "i-2@/1.19.5"}},
		{"the input order does not matter",
			[]candidate{cand("i-6", "c", "1.19.5"), cand("i-5", "b", "1.19.5"), cand("i-4", "b", "1.19.5"),
				cand("i-3", "a", "1.19.5"), cand("i-2", "a", "1.19.5"), cand("i-1", "a", "1.19.5")},
			[]string{"i-1@a/1.19.5", "i-4@b/1.19.5", "i-2@a/1.19.5", "i-5@b/1.19.5", "i-3@a/1.19.5", "i-6@c/1.19.5"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, ordered(tt.in)); diff != "" {
				t.Errorf("order() (-want +got):\n%s", diff)
			}
		})
	}
}

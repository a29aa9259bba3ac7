package update

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDecodeScan(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    ScanRequest
		wantErr bool
	}{
		{"an empty body scans every configured cluster", "", ScanRequest{}, false},
		{"an empty object does too", "{}", ScanRequest{}, false},
		{"a request names clusters and who asked", `{"schema":"rollwave.scan/v1","clusters":["prod"],"requestedBy":"alice","reason":"CVE"}`,
			ScanRequest{Schema: ScanSchema, Clusters: []string{"prod"}, RequestedBy: "alice", Reason: "CVE"}, false},
		{"a typo is refused", `{"cluster":["prod"]}`, ScanRequest{}, true},
		{"another schema is refused", `{"schema":"rollwave.scan/v2"}`, ScanRequest{}, true},
		{"an empty cluster name is refused", `{"clusters":[" "]}`, ScanRequest{}, true},
		{"not JSON is refused", `scan please`, ScanRequest{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeScan([]byte(tt.body))
			if tt.wantErr {
				var inv *InvalidJobError
				if !errors.As(err, &inv) {
					t.Fatalf("DecodeScan(%q) error = %v, want an *InvalidJobError", tt.body, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("DecodeScan(%q) = %v", tt.body, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("DecodeScan(%q) (-want +got):\n%s", tt.body, diff)
			}
		})
	}
}

package update

import (
	"errors"
	"strings"
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
		{"the schema alone scans every managed cluster", `{"schema":"rollwave.scan/v1"}`, ScanRequest{Schema: ScanSchema}, false},
		{"a request names clusters and who asked", `{"schema":"rollwave.scan/v1","clusters":["prod"],"requestedBy":"alice","reason":"CVE"}`,
			ScanRequest{Schema: ScanSchema, Clusters: []string{"prod"}, RequestedBy: "alice", Reason: "CVE"}, false},
		{"a cluster may be an ARN", `{"schema":"rollwave.scan/v1","clusters":["arn:aws:ecs:eu-west-1:123456789012:cluster/prod"]}`,
			ScanRequest{Schema: ScanSchema, Clusters: []string{"arn:aws:ecs:eu-west-1:123456789012:cluster/prod"}}, false},
		{"an empty body is refused, not read as every cluster", "", ScanRequest{}, true},
		{"a blank body is refused", " \n\t ", ScanRequest{}, true},
		{"an empty object is refused: the schema says it is a scan request", "{}", ScanRequest{}, true},
		{"an empty clusters list is refused", `{"schema":"rollwave.scan/v1","clusters":[]}`, ScanRequest{}, true},
		{"a typo is refused", `{"schema":"rollwave.scan/v1","cluster":["prod"]}`, ScanRequest{}, true},
		{"another schema is refused", `{"schema":"rollwave.scan/v2"}`, ScanRequest{}, true},
		{"an empty cluster name is refused", `{"schema":"rollwave.scan/v1","clusters":[" "]}`, ScanRequest{}, true},
		{"a cluster name ECS would refuse is refused", `{"schema":"rollwave.scan/v1","clusters":["my prod"]}`, ScanRequest{}, true},
		{"a cluster name over 255 characters is refused", `{"schema":"rollwave.scan/v1","clusters":["` + strings.Repeat("c", 256) + `"]}`, ScanRequest{}, true},
		{"a requestedBy too long for the jobs' is refused", `{"schema":"rollwave.scan/v1","requestedBy":"` + strings.Repeat("a", MaxTextLength) + `"}`, ScanRequest{}, true},
		{"data after the request is refused", `{"schema":"rollwave.scan/v1"} {}`, ScanRequest{}, true},
		{"a body over the size limit is refused", `{"schema":"rollwave.scan/v1","reason":"` + strings.Repeat("r", MaxJobBytes) + `"}`, ScanRequest{}, true},
		{"not JSON is refused", `scan please`, ScanRequest{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeScan([]byte(tt.body))
			if tt.wantErr {
				var inv *InvalidJobError
				if !errors.As(err, &inv) || !strings.HasPrefix(err.Error(), "invalid scan request: ") {
					t.Fatalf("DecodeScan(%q) error = %v, want an *InvalidJobError saying \"invalid scan request: ...\"", tt.body, err)
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

func TestRequester(t *testing.T) {
	tests := []struct {
		name            string
		req             ScanRequest
		wantBy, wantWhy string
	}{
		{"the schedule's request", ScanRequest{Schema: ScanSchema}, "scanner", "scheduled scan"},
		{"a person's", ScanRequest{Schema: ScanSchema, RequestedBy: "alice", Reason: "CVE"}, "scanner for alice", "CVE"},
		{"blank fields count as absent", ScanRequest{Schema: ScanSchema, RequestedBy: " ", Reason: "\t"}, "scanner", "scheduled scan"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			by, why := tt.req.Requester()
			if by != tt.wantBy || why != tt.wantWhy {
				t.Errorf("%+v.Requester() = %q, %q, want %q, %q", tt.req, by, why, tt.wantBy, tt.wantWhy)
			}
		})
	}
}

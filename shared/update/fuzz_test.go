package update

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/rollwave/rollwave/shared/bottlerocket"
)

// The fuzz targets below hold Decode and DecodeScan to the rules of the APIs downstream of each
// field, written out here independently of the validation code: whatever they accept, a later
// step can carry out. Seeds are in testdata/fuzz/FuzzDecodeJob and testdata/fuzz/FuzzDecodeScan
// (the docs' examples, the refusals of the tests, and the inputs earlier fuzzing found).
//
// Run once each, with the limits of this file's commit, on 2 cores shared with other builds:
//
//	go test -run '^$' -fuzz '^FuzzDecodeJob$' -fuzztime 1000000x -parallel 1 ./update
//	go test -run '^$' -fuzz '^FuzzDecodeScan$' -fuzztime 1000000x -parallel 1 ./update
//
// FuzzDecodeJob: 1,000,000 execs in 2m10s, no failure (113 new interesting inputs). An earlier
// run failed after about 70,000 execs on "history":[] (decoded as empty, encoded as absent), now
// equal by cmpopts.EquateEmpty; its input is testdata/fuzz/FuzzDecodeJob/empty-history.
// FuzzDecodeScan: 1,000,000 execs in 4m24s, no failure (240 new interesting inputs).

// sqsMaxBytes is the smallest maximum message size an SQS queue has had (256 KiB, the old
// ceiling): every job must fit it with room to spare.
const sqsMaxBytes = 256 << 10

func FuzzDecodeJob(f *testing.F) {
	f.Add([]byte(minimal))
	f.Add([]byte(withField("id", `"`+strings.Repeat("j", MaxIDLength)+`"`)))
	f.Fuzz(func(t *testing.T, data []byte) {
		j, err := Decode(data)
		if err != nil {
			var inv *InvalidJobError
			if !errors.As(err, &inv) {
				t.Fatalf("Decode(%q) error %T %v, want an *InvalidJobError", data, err, err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("Decode(%q) error %q spans lines", data, err)
			}
			return
		}
		checkDownstream(t, j)
		body, err := Encode(j)
		if err != nil {
			t.Fatalf("Encode(Decode(%q)) = %v; an accepted job must encode", data, err)
		}
		if len(body) > sqsMaxBytes {
			t.Fatalf("Encode(Decode(%q)) is %d bytes, above SQS's %d", data, len(body), sqsMaxBytes)
		}
		if bad, ok := sqsBody(string(body)); !ok {
			t.Fatalf("Encode(Decode(%q)) holds %U, which SQS refuses in a message body", data, bad)
		}
		again, err := Decode(body)
		if err != nil {
			t.Fatalf("Decode(Encode(Decode(%q))) = %v; the job does not round-trip", data, err)
		}
		// An empty history encodes as none: the same job.
		if diff := cmp.Diff(j, again, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("Decode(Encode(j)) differs from j for %q (-j +again):\n%s", data, diff)
		}
	})
}

func FuzzDecodeScan(f *testing.F) {
	f.Add([]byte(`{"schema":"rollwave.scan/v1"}`))
	f.Add([]byte(`{"schema":"rollwave.scan/v1","clusters":["prod","arn:aws:ecs:eu-west-1:123456789012:cluster/b"],"requestedBy":"alice","reason":"CVE"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeScan(data)
		if err != nil {
			var inv *InvalidJobError
			if !errors.As(err, &inv) {
				t.Fatalf("DecodeScan(%q) error %T %v, want an *InvalidJobError", data, err, err)
			}
			return
		}
		if strings.TrimSpace(string(data)) == "" || r.Schema != ScanSchema {
			t.Fatalf("DecodeScan(%q) accepted a request without the schema: %+v", data, r)
		}
		if r.Clusters != nil && len(r.Clusters) == 0 {
			t.Fatalf("DecodeScan(%q) accepted an empty clusters list", data)
		}
		// Every job the scanner would send for the request must be valid.
		by, reason := r.Requester()
		clusters := r.Clusters
		if len(clusters) == 0 {
			clusters = []string{"configured"}
		}
		for _, c := range clusters {
			if !ecsClusterName(c) && !ecsClusterARN(c) {
				t.Fatalf("DecodeScan(%q) accepted cluster %q, which ECS refuses", data, c)
			}
			j := Job{Schema: Schema, ID: "j-0123456789abcdef0123", Cluster: c, Instance: "i-0123456789abcdef0",
				RequestedBy: by, Reason: reason, Step: StepStage}
			if err := j.Validate(); err != nil {
				t.Fatalf("DecodeScan(%q) accepted a request whose job for %q is invalid: %v", data, c, err)
			}
			checkDownstream(t, j)
		}
	})
}

// checkDownstream fails t unless every field of j is one its downstream API accepts.
func checkDownstream(t *testing.T, j Job) {
	t.Helper()
	if j.ID != "" {
		if c := CommandComment(j.ID); utf8.RuneCountInString(c) > 100 {
			t.Fatalf("job ID %q: the reboot comment %q is %d characters, SSM takes 100", j.ID, c, utf8.RuneCountInString(c))
		}
		if !ecsAttributeValue(j.ID) {
			t.Fatalf("job ID %q is not an ECS attribute value", j.ID)
		}
	}
	if !ecsClusterName(j.Cluster) && !ecsClusterARN(j.Cluster) {
		t.Fatalf("cluster %q is neither an ECS cluster name nor a cluster ARN", j.Cluster)
	}
	for _, in := range []string{j.Instance, j.EC2InstanceID, j.ContainerInstanceARN} {
		if in != "" && !ec2InstanceID(in) && !containerInstanceARN(in) {
			t.Fatalf("instance %q is neither an EC2 instance ID nor a container instance ARN", in)
		}
	}
	if j.EC2InstanceID != "" && !ec2InstanceID(j.EC2InstanceID) {
		t.Fatalf("ec2InstanceId %q is not an EC2 instance ID", j.EC2InstanceID)
	}
	if j.ContainerInstanceARN != "" && !containerInstanceARN(j.ContainerInstanceARN) {
		t.Fatalf("containerInstanceArn %q is not a container instance ARN", j.ContainerInstanceARN)
	}
	for _, v := range []string{j.TargetVersion, j.FromVersion, j.StagedVersion} {
		if v == "" {
			continue
		}
		// The target becomes the version-lock document's parameter (apiclient set
		// updates.version-lock=<v>): only the characters of a version may reach the shell.
		if _, err := bottlerocket.ParseVersion(v); err != nil || len(v) > 64 || strings.Trim(v, "0123456789.-+abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
			t.Fatalf("version %q is not a Bottlerocket version", v)
		}
	}
	if j.LockVersion && j.TargetVersion == "" {
		t.Fatalf("lockVersion without targetVersion")
	}
	if j.PinTarget && (j.TargetVersion == "" || j.LockVersion) {
		t.Fatalf("pinTarget without targetVersion or with lockVersion")
	}
	if strings.TrimSpace(j.RequestedBy) == "" || strings.TrimSpace(j.Reason) == "" {
		t.Fatalf("requestedBy %q or reason %q is blank", j.RequestedBy, j.Reason)
	}
	if j.Outcome != nil && !ecsAttributeValue(string(j.Outcome.Code)) {
		// A failed job's code becomes the rollwave.failure attribute.
		t.Fatalf("outcome code %q is not an ECS attribute value", j.Outcome.Code)
	}
}

// ecsAttributeValue: 1-128 letters, digits, hyphens, underscores, periods, at signs, slashes,
// backslashes, colons or spaces, not beginning or ending with a space (PutAttributes).
func ecsAttributeValue(s string) bool {
	if s == "" || len(s) > 128 || s[0] == ' ' || s[len(s)-1] == ' ' {
		return false
	}
	for _, r := range s {
		if !alnum(r) && !strings.ContainsRune(`-_.@/\: `, r) {
			return false
		}
	}
	return true
}

// ecsClusterName: up to 255 letters, digits, hyphens and underscores (CreateCluster).
func ecsClusterName(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for _, r := range s {
		if !alnum(r) && r != '-' && r != '_' {
			return false
		}
	}
	return true
}

// ecsClusterARN: arn:<partition>:ecs:<region>:<account>:cluster/<name>.
func ecsClusterARN(s string) bool {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || !arnPrefix(parts) {
		return false
	}
	name, ok := strings.CutPrefix(parts[5], "cluster/")
	return ok && ecsClusterName(name)
}

// containerInstanceARN: arn:<partition>:ecs:<region>:<account>:container-instance/[<cluster>/]<id>.
func containerInstanceARN(s string) bool {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || !arnPrefix(parts) {
		return false
	}
	rest, ok := strings.CutPrefix(parts[5], "container-instance/")
	if !ok {
		return false
	}
	if c, id, found := strings.Cut(rest, "/"); found {
		if !ecsClusterName(c) {
			return false
		}
		rest = id
	}
	if rest == "" || len(rest) > 64 {
		return false
	}
	for _, r := range rest {
		if !alnum(r) && r != '-' {
			return false
		}
	}
	return true
}

func arnPrefix(parts []string) bool {
	if parts[0] != "arn" || !strings.HasPrefix(parts[1], "aws") || parts[2] != "ecs" || parts[3] == "" || len(parts[4]) != 12 {
		return false
	}
	for _, r := range parts[3] {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	for _, r := range parts[4] {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// ec2InstanceID: i- and 8 or 17 lowercase hex digits.
func ec2InstanceID(s string) bool {
	hex, ok := strings.CutPrefix(s, "i-")
	if !ok || len(hex) != 8 && len(hex) != 17 {
		return false
	}
	for _, r := range hex {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}

func alnum(r rune) bool { return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' }

// sqsBody reports whether every character of s is one SQS accepts in a message body (#x9, #xA,
// #xD, #x20-#xD7FF, #xE000-#xFFFD, #x10000-#x10FFFF), and the first one it does not.
func sqsBody(s string) (rune, bool) {
	for _, r := range s {
		switch {
		case r == 0x9 || r == 0xA || r == 0xD:
		case r >= 0x20 && r <= 0xD7FF, r >= 0xE000 && r <= 0xFFFD, r >= 0x10000 && r <= 0x10FFFF:
		default:
			return r, false
		}
	}
	return 0, true
}

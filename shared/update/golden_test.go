package update

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var updateGolden = flag.Bool("update", false, "rewrite the canonical golden files in testdata from the Go values")

const (
	ciARN = "arn:aws:ecs:eu-west-1:123456789012:container-instance/prod/0f1e2d3c4b5a69788796a5b4c3d2e1f0"
	ec2ID = "i-0123456789abcdef0"
)

func at(hhmmss string) time.Time {
	t, err := time.Parse(time.DateTime, "2025-06-02 "+hhmmss)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// goldens are the examples of docs/job.md. A canonical file is exactly what Encode writes for
// the value (go test -update rewrites it); a hand-written one decodes to the value but leaves out
// what Decode fills in.
var goldens = []struct {
	file      string
	canonical bool
	want      Job
}{
	{
		file: "hand-written.json",
		want: Job{Schema: Schema, Cluster: "prod", Instance: ec2ID, TargetVersion: "1.20.3",
			RequestedBy: "alice@example.com", Reason: "CVE fix in 1.20.3, ticket OPS-1234", Step: StepStage},
	},
	{
		file: "rollback.json",
		want: Job{Schema: Schema, Cluster: "prod", Instance: ec2ID, TargetVersion: "1.19.5", LockVersion: true,
			RequestedBy: "rollwave-drainer", Reason: "health gate failed: roll back to 1.19.5", Step: StepStage},
	},
	{
		file: "rollout.json",
		want: Job{Schema: Schema, Cluster: "prod", Instance: ec2ID, TargetVersion: "1.20.3", PinTarget: true,
			RequestedBy: "rollwave-scanner", Reason: "rollout to 1.20.3", Step: StepStage},
	},
	{
		file:      "from-scanner.json",
		canonical: true,
		want: Job{Schema: Schema, ID: "j-4f3a9c0e7d21b85a6c13", Cluster: "prod", Instance: ciARN,
			TargetVersion: "1.20.3", RequestedBy: "rollwave-scanner", Reason: "update available: 1.19.5 -> 1.20.3",
			Step: StepStage, ContainerInstanceARN: ciARN, EC2InstanceID: ec2ID, FromVersion: "1.19.5",
			CreatedAt: at("09:00:00"),
			History:   []Entry{{Step: StepStage, At: at("09:00:00"), By: "scanner", Note: "update check: Available"}}},
	},
	{
		file:      "at-verify.json",
		canonical: true,
		want: Job{Schema: Schema, ID: "5f0c7a52-3c1e-4a8e-9b1d-2f6d8e4c7a10", Cluster: "prod", Instance: ec2ID,
			TargetVersion: "1.20.3", RequestedBy: "alice@example.com", Reason: "CVE fix in 1.20.3, ticket OPS-1234",
			Step: StepVerify, ContainerInstanceARN: ciARN, EC2InstanceID: ec2ID, FromVersion: "1.19.5",
			StagedVersion: "1.20.3", CreatedAt: at("09:00:02"),
			History: []Entry{
				{Step: StepStage, At: at("09:00:02"), By: "patcher", Note: "accepted; rollwave.job set"},
				{Step: StepDrain, At: at("09:03:41"), By: "patcher", Note: "staged 1.20.3 (update state Ready)"},
				{Step: StepReboot, At: at("09:06:15"), By: "drainer", Note: "cluster prod: 1 of at most 1 instances out of service with this admit, limit 1; drained"},
				{Step: StepVerify, At: at("09:06:18"), By: "patcher", Note: "reboot sent"},
			}},
	},
	{
		file:      "ended-failed.json",
		canonical: true,
		want: Job{Schema: Schema, ID: "5f0c7a52-3c1e-4a8e-9b1d-2f6d8e4c7a10", Cluster: "prod", Instance: ec2ID,
			TargetVersion: "1.20.3", RequestedBy: "alice@example.com", Reason: "CVE fix in 1.20.3, ticket OPS-1234",
			Step: StepVerify, ContainerInstanceARN: ciARN, EC2InstanceID: ec2ID, FromVersion: "1.19.5",
			StagedVersion: "1.20.3", CreatedAt: at("09:00:02"),
			History: []Entry{
				{Step: StepStage, At: at("09:00:02"), By: "patcher", Note: "accepted; rollwave.job set"},
				{Step: StepDrain, At: at("09:03:41"), By: "patcher", Note: "staged 1.20.3 (update state Ready)"},
				{Step: StepReboot, At: at("09:06:15"), By: "drainer", Note: "cluster prod: 1 of at most 1 instances out of service with this admit, limit 1; drained"},
				{Step: StepVerify, At: at("09:06:18"), By: "patcher", Note: "reboot sent"},
				{Step: StepVerify, At: at("09:08:52"), By: "verifier", Note: "failed (boot-failed-rolled-back): booted 1.19.5 again (update state Available): the new version did not boot and Bottlerocket rolled back"},
			},
			Outcome: &Outcome{Result: ResultFailed, Code: CodeBootFailedRolledBack,
				Message: "booted 1.19.5 again (update state Available): the new version did not boot and Bottlerocket rolled back"}},
	},
}

func TestGoldenJobs(t *testing.T) {
	for _, g := range goldens {
		t.Run(g.file, func(t *testing.T) {
			path := filepath.Join("testdata", g.file)
			if *updateGolden && g.canonical {
				b, err := Encode(g.want)
				if err != nil {
					t.Fatalf("Encode(%s) error: %v", g.file, err)
				}
				if err := os.WriteFile(path, b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decode(data)
			if err != nil {
				t.Fatalf("Decode(%s) error: %v", g.file, err)
			}
			if diff := cmp.Diff(g.want, got); diff != "" {
				t.Errorf("Decode(%s) mismatch (-want +got):\n%s", g.file, diff)
			}
			enc, err := Encode(got)
			if err != nil {
				t.Fatalf("Encode(Decode(%s)) error: %v", g.file, err)
			}
			if g.canonical && !bytes.Equal(enc, data) {
				t.Errorf("Encode(Decode(%s)) =\n%s\nwant the file unchanged:\n%s\n(run go test -update if the Go value is right)", g.file, enc, data)
			}
			again, err := Decode(enc)
			if err != nil {
				t.Fatalf("Decode(Encode(Decode(%s))) error: %v", g.file, err)
			}
			if diff := cmp.Diff(got, again); diff != "" {
				t.Errorf("Decode(Encode(job)) changed the job (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDocEmbedsGoldenJobs keeps docs/job.md honest: every golden file appears in it verbatim.
func TestDocEmbedsGoldenJobs(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "job.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range goldens {
		data, err := os.ReadFile(filepath.Join("testdata", g.file))
		if err != nil {
			t.Fatal(err)
		}
		block := "```json\n" + string(data) + "```\n"
		if !strings.Contains(string(doc), block) {
			t.Errorf("docs/job.md does not embed testdata/%s verbatim as a ```json block; paste it:\n%s", g.file, block)
		}
	}
}

package update

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const minimal = `{"schema":"rollwave.job/v1","cluster":"prod","instance":"i-0123456789abcdef0","requestedBy":"alice","reason":"test"}`

// withField returns the minimal job with one more "name": value pair (value is raw JSON).
func withField(name, value string) string {
	return strings.TrimSuffix(minimal, "}") + `,"` + name + `":` + value + "}"
}

func TestDecodeAcceptsValidJobs(t *testing.T) {
	base := Job{Schema: Schema, Cluster: "prod", Instance: ec2ID, RequestedBy: "alice", Reason: "test", Step: StepStage}
	tests := []struct {
		name string
		json string
		want func(Job) Job
	}{
		{"the five hand-written fields are enough, and the step defaults to stage", minimal, func(j Job) Job { return j }},
		{"the instance may be a container instance ARN", strings.Replace(minimal, ec2ID, ciARN, 1),
			func(j Job) Job { j.Instance = ciARN; return j }},
		{"an old-style container instance ARN without the cluster is accepted",
			strings.Replace(minimal, ec2ID, "arn:aws:ecs:us-east-1:123456789012:container-instance/0f1e2d3c", 1),
			func(j Job) Job {
				j.Instance = "arn:aws:ecs:us-east-1:123456789012:container-instance/0f1e2d3c"
				return j
			}},
		{"a short 8-digit EC2 instance ID is accepted", strings.Replace(minimal, ec2ID, "i-0123abcd", 1),
			func(j Job) Job { j.Instance = "i-0123abcd"; return j }},
		{"the cluster may be an ARN", strings.Replace(minimal, `"prod"`, `"arn:aws:ecs:eu-west-1:123456789012:cluster/prod"`, 1),
			func(j Job) Job { j.Cluster = "arn:aws:ecs:eu-west-1:123456789012:cluster/prod"; return j }},
		{"an explicit step is kept", withField("step", `"reboot"`), func(j Job) Job { j.Step = StepReboot; return j }},
		{"dryRun is read", withField("dryRun", "true"), func(j Job) Job { j.DryRun = true; return j }},
		{"an apply under way is read", withField("applying", `{"command":"0f1e2d3c-aaaa-4bbb-8ccc-123456789012","since":"2026-12-06T07:00:00Z"}`),
			func(j Job) Job {
				j.Applying = &Applying{Command: "0f1e2d3c-aaaa-4bbb-8ccc-123456789012", Since: time.Date(2026, 12, 6, 7, 0, 0, 0, time.UTC)}
				return j
			}},
		{"a target version is read", withField("targetVersion", `"1.21.0-rc.1"`), func(j Job) Job { j.TargetVersion = "1.21.0-rc.1"; return j }},
		{"an id as long as the SSM comment of its commands allows is accepted", withField("id", `"`+strings.Repeat("j", MaxIDLength)+`"`),
			func(j Job) Job { j.ID = strings.Repeat("j", MaxIDLength); return j }},
		{"a cluster name of 255 characters is accepted", strings.Replace(minimal, `"prod"`, `"`+strings.Repeat("c", 255)+`"`, 1),
			func(j Job) Job { j.Cluster = strings.Repeat("c", 255); return j }},
		{"an id that is an SQS message ID is accepted", withField("id", `"5f0c7a52-3c1e-4a8e-9b1d-2f6d8e4c7a10"`),
			func(j Job) Job { j.ID = "5f0c7a52-3c1e-4a8e-9b1d-2f6d8e4c7a10"; return j }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode([]byte(tt.json))
			if err != nil {
				t.Fatalf("Decode(%s) error: %v", tt.json, err)
			}
			if diff := cmp.Diff(tt.want(base), got); diff != "" {
				t.Errorf("Decode(%s) mismatch (-want +got):\n%s", tt.json, diff)
			}
		})
	}
}

func TestDecodeRejectsInvalidJobs(t *testing.T) {
	tests := []struct {
		name     string
		json     string
		wantErrs []string // each must appear in the error
	}{
		{"not JSON", `schema: rollwave.job/v1`, []string{"not one JSON object"}},
		{"a JSON array", `[]`, []string{"not one JSON object"}},
		{"a misspelt field is an error, not ignored", withField("targetVerison", `"1.20.3"`),
			[]string{"targetVerison: unknown field"}},
		{"a field of the wrong type names the field", withField("dryRun", `"yes"`), []string{"dryRun: want a bool, got a JSON string"}},
		{"a second object after the job", minimal + ` {}`, []string{"not one JSON object: invalid character"}},
		{"a newer major schema says to upgrade, even with fields this version does not know",
			`{"schema":"rollwave.job/v2","cluster":"prod","newField":1}`,
			[]string{`schema: newer job schema: "rollwave.job/v2" is newer than "rollwave.job/v1", which this worker understands; upgrade the worker`}},
		{"a schema that is not ours", strings.Replace(minimal, "rollwave.job/v1", "other/v1", 1),
			[]string{`schema: "other/v1" is not a rollwave job schema`}},
		{"an old major schema", strings.Replace(minimal, "rollwave.job/v1", "rollwave.job/v0", 1),
			[]string{`schema: "rollwave.job/v0" is not a rollwave job schema`}},
		{"the schema missing", strings.Replace(minimal, `"schema":"rollwave.job/v1",`, "", 1), []string{"schema: missing"}},
		{"every missing field is reported at once", `{"schema":"rollwave.job/v1"}`,
			[]string{"cluster: missing", "instance: missing", "requestedBy: missing", "reason: missing"}},
		{"an instance that is neither an instance ID nor an ARN", strings.Replace(minimal, ec2ID, "web-1", 1),
			[]string{`instance: "web-1" is neither an EC2 instance ID`}},
		{"an instance ID of the wrong length", strings.Replace(minimal, ec2ID, "i-0123", 1), []string{`instance: "i-0123"`}},
		{"a target version with a leading v", withField("targetVersion", `"v1.20.3"`),
			[]string{`targetVersion: "v1.20.3" is not a version like 1.20.3 (no leading v)`}},
		{"pinTarget without a target", withField("pinTarget", "true"), []string{"pinTarget: needs targetVersion"}},
		{"pinTarget with lockVersion", withField("pinTarget", `true,"lockVersion":true,"targetVersion":"1.20.3"`),
			[]string{"pinTarget: not with lockVersion"}},
		{"an apply without its command or time", withField("applying", `{"command":""}`), []string{`applying.command: "" is not an SSM command ID`}},
		{"an apply without its time", withField("applying", `{"command":"c-1"}`), []string{"applying.since: missing"}},
		{"an apply beyond the stage step", withField("applying", `{"command":"c-1","since":"2026-12-06T07:00:00Z"},"step":"drain"`),
			[]string{`applying: only at step stage, not "drain"`}},
		{"an unknown step", withField("step", `"apply"`), []string{`step: "apply" is not one of "stage", "drain", "reboot", "verify"`}},
		{"an id that cannot be an ECS attribute value", withField("id", `"job#1"`), []string{`id: "job#1" cannot be an ECS attribute value`}},
		{"an id with a trailing space", withField("id", `"job-1 "`), []string{`id: "job-1 " cannot be an ECS attribute value`}},
		{"a cluster name with spaces", strings.Replace(minimal, `"prod"`, `"my prod"`, 1), []string{`cluster: "my prod" is neither`}},
		{"learned fields are checked too", withField("ec2InstanceId", `"web-1"`), []string{`ec2InstanceId: "web-1" is not an EC2 instance ID`}},
		{"a history entry without a worker or time", withField("history", `[{"step":"stage"}]`),
			[]string{"history[0].at: missing", "history[0].by: missing"}},
		{"an outcome without a code", withField("outcome", `{"result":"failed","message":"x"}`), []string{"outcome: code missing"}},
		{"an id too long for the SSM comment of its commands", withField("id", `"`+strings.Repeat("j", MaxIDLength+1)+`"`),
			[]string{"id: \"jjjj", "is 88 characters, at most 87 (the SSM comment \"rollwave job <id>\" of its commands takes at most 100)"}},
		{"a cluster name over 255 characters", strings.Replace(minimal, `"prod"`, `"`+strings.Repeat("c", 256)+`"`, 1),
			[]string{"cluster: ", " is neither a cluster name"}},
		{"a huge value is named by its first 256 bytes and its size", strings.Replace(minimal, `"prod"`, `"`+strings.Repeat("c", 5000)+`"`, 1),
			[]string{`cluster: "` + strings.Repeat("c", 256) + `"… (5000 bytes) is neither`}},
		{"a cluster ARN of another service", strings.Replace(minimal, `"prod"`, `"arn:aws:eks:eu-west-1:123456789012:cluster/prod"`, 1),
			[]string{"cluster: \"arn:aws:eks:"}},
		{"a container instance ARN whose cluster ECS would refuse", strings.Replace(minimal, ec2ID, "arn:aws:ecs:eu-west-1:123456789012:container-instance/my prod/0f1e", 1),
			[]string{"instance: \"arn:aws:ecs:eu-west-1:123456789012:container-instance/my prod/0f1e\" is neither"}},
		{"a version too long", withField("targetVersion", `"1.20.3-`+strings.Repeat("a", 64)+`"`), []string{"targetVersion: "}},
		{"a reason longer than the limit", strings.Replace(minimal, `"test"`, `"`+strings.Repeat("r", MaxTextLength+1)+`"`, 1),
			[]string{"reason: 1025 bytes, at most 1024"}},
		{"a noncharacter SQS cannot carry", strings.Replace(minimal, `"test"`, `"te\uffffst"`, 1),
			[]string{"requestedBy/reason: holds U+FFFE or U+FFFF"}},
		{"an outcome code that cannot be an attribute value", withField("outcome", `{"result":"failed","code":"Bad Code","message":"x"}`),
			[]string{"outcome: code \"Bad Code\" is not lowercase words"}},
		{"a message far larger than any job", withField("history", `[`+strings.Repeat(`{"step":"stage","at":"2025-06-02T09:00:00Z","by":"x"},`, 2000)+`{}]`),
			[]string{"the message is", "a job at most 65536"}},
		{"blank who and why", strings.NewReplacer(`"alice"`, `" "`, `"test"`, `""`).Replace(minimal),
			[]string{"requestedBy: missing", "reason: missing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode([]byte(tt.json))
			if err == nil {
				t.Fatalf("Decode(%s) error = nil, want %q", tt.json, tt.wantErrs)
			}
			var invalid *InvalidJobError
			if !errors.As(err, &invalid) || !invalid.Permanent() {
				t.Errorf("Decode(%s) error %T is not a permanent *InvalidJobError", tt.json, err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("Decode(%s) error %q spans lines; a dead-letter reason must be one line", tt.json, err)
			}
			for _, want := range tt.wantErrs {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Decode(%s) error = %q, want it to contain %q", tt.json, err, want)
				}
			}
		})
	}
}

func TestDecodeNewerSchemaIsDetectable(t *testing.T) {
	_, err := Decode([]byte(`{"schema":"rollwave.job/v3"}`))
	if !errors.Is(err, ErrNewerSchema) {
		t.Errorf("Decode(v3 job) error = %v, want one wrapping ErrNewerSchema", err)
	}
}

func TestEncodeRefusesInvalidJobs(t *testing.T) {
	_, err := Encode(Job{Schema: Schema, Cluster: "prod"})
	var invalid *InvalidJobError
	if !errors.As(err, &invalid) {
		t.Fatalf("Encode(job without instance) error = %v, want *InvalidJobError", err)
	}
}

func TestEnsureID(t *testing.T) {
	tests := []struct {
		name     string
		id       string
		fallback string
		want     string
	}{
		{"a job without an ID takes the message ID", "", "msg-1", "msg-1"},
		{"a job with an ID keeps it", "job-1", "msg-1", "job-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := Job{ID: tt.id}
			j.EnsureID(tt.fallback)
			if j.ID != tt.want {
				t.Errorf("Job{ID: %q}.EnsureID(%q) gives ID %q, want %q", tt.id, tt.fallback, j.ID, tt.want)
			}
		})
	}
}

func TestAdvance(t *testing.T) {
	t0 := at("09:00:00")
	t1 := at("09:05:00")
	stageEntry := Entry{Step: StepStage, At: t0, By: "patcher"}
	tests := []struct {
		name        string
		job         Job
		next        Step
		wantErr     bool
		wantStep    Step
		wantHistory []Entry
		wantCreated time.Time
	}{
		{"accepting a hand-written job records the stage step and the creation time",
			Job{Step: StepStage}, StepStage, false, StepStage,
			[]Entry{{Step: StepStage, At: t1, By: "patcher", Note: "n"}}, t1},
		{"a job moves to the next step",
			Job{Step: StepStage, CreatedAt: t0, History: []Entry{stageEntry}}, StepDrain, false, StepDrain,
			[]Entry{stageEntry, {Step: StepDrain, At: t1, By: "patcher", Note: "n"}}, t0},
		{"an empty step counts as stage",
			Job{CreatedAt: t0}, StepDrain, false, StepDrain,
			[]Entry{{Step: StepDrain, At: t1, By: "patcher", Note: "n"}}, t0},
		{"repeating the step just recorded changes nothing (redelivery)",
			Job{Step: StepStage, CreatedAt: t0, History: []Entry{stageEntry}}, StepStage, false, StepStage,
			[]Entry{stageEntry}, t0},
		{"a step cannot be skipped",
			Job{Step: StepStage, CreatedAt: t0, History: []Entry{stageEntry}}, StepReboot, true, StepStage,
			[]Entry{stageEntry}, t0},
		{"a step cannot go back",
			Job{Step: StepDrain, CreatedAt: t0}, StepStage, true, StepDrain, nil, t0},
		{"verify is the last step",
			Job{Step: StepVerify, CreatedAt: t0}, Step("done"), true, StepVerify, nil, t0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := tt.job
			err := j.Advance(tt.next, "patcher", "n", t1)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Advance(%q) error = %v, want error %v", tt.next, err, tt.wantErr)
			}
			got := struct {
				Step    Step
				History []Entry
				Created time.Time
			}{j.Step, j.History, j.CreatedAt}
			want := struct {
				Step    Step
				History []Entry
				Created time.Time
			}{tt.wantStep, tt.wantHistory, tt.wantCreated}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Advance(%q) mismatch (-want +got):\n%s", tt.next, diff)
			}
		})
	}
}

func TestFinishKeepsTheFirstOutcome(t *testing.T) {
	now := at("10:00:00")
	j := Job{Step: StepVerify}
	if !j.Finish(Updated("1.19.5", "1.20.3"), "verifier", now) {
		t.Fatal("first Finish() = false, want true")
	}
	if j.Finish(Failed(CodeNeverCameBack, "late"), "verifier", now) {
		t.Error("second Finish() = true, want false")
	}
	want := Job{Step: StepVerify, Outcome: &Outcome{Result: ResultUpdated, Code: CodeUpdated, Message: "updated from 1.19.5 to 1.20.3"},
		History: []Entry{{Step: StepVerify, At: now, By: "verifier", Note: "updated (updated): updated from 1.19.5 to 1.20.3"}}}
	if diff := cmp.Diff(want, j); diff != "" {
		t.Errorf("Finish twice mismatch (-want +got):\n%s", diff)
	}
}

func TestOverdue(t *testing.T) {
	entered := at("09:00:00")
	j := Job{Step: StepDrain, History: []Entry{
		{Step: StepStage, At: at("08:00:00"), By: "patcher"},
		{Step: StepDrain, At: entered, By: "patcher"},
	}}
	tests := []struct {
		name string
		job  Job
		now  time.Time
		want bool
	}{
		{"within the timeout of the current step", j, entered.Add(25 * time.Minute), false},
		{"exactly at the timeout is not yet overdue", j, entered.Add(30 * time.Minute), false},
		{"past the timeout of the current step", j, entered.Add(31 * time.Minute), true},
		{"the clock runs from the current step, not the job's start", j, at("09:29:00"), false},
		{"a step never recorded is not overdue", Job{Step: StepVerify}, entered.Add(24 * time.Hour), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.job.Overdue(30*time.Minute, tt.now); got != tt.want {
				t.Errorf("Overdue(30m, %v) = %v, want %v", tt.now, got, tt.want)
			}
		})
	}
}

func TestJobIDFor(t *testing.T) {
	a, b := JobIDFor("scan-1/arn:aws:ecs:us-east-1:1:container-instance/prod/1"), JobIDFor("scan-1/arn:aws:ecs:us-east-1:1:container-instance/prod/2")
	if again := JobIDFor("scan-1/arn:aws:ecs:us-east-1:1:container-instance/prod/1"); again != a {
		t.Errorf("JobIDFor(same seed) = %q then %q, want the same ID", a, again)
	}
	if a == b {
		t.Errorf("JobIDFor of two instances = %q both, want different IDs", a)
	}
	form := regexp.MustCompile(`^j-[0-9a-f]{20}$`)
	for _, id := range []string{a, b} {
		if !form.MatchString(id) {
			t.Errorf("JobIDFor = %q, want j- and 20 hex digits", id)
		}
		j := Job{Schema: Schema, ID: id, Cluster: "prod", Instance: ec2ID, RequestedBy: "alice", Reason: "test", Step: StepStage}
		if _, err := Encode(j); err != nil {
			t.Errorf("a job with ID %q does not encode: %v", id, err)
		}
	}
}

package update

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestEligible(t *testing.T) {
	svc := func(id string) TaskView {
		return TaskView{ARN: "arn:aws:ecs:eu-west-1:123456789012:task/prod/" + id, StartedBy: "ecs-svc/123", Group: "service:web", LastStatus: "RUNNING"}
	}
	standalone := func(id, startedBy string) TaskView {
		return TaskView{ARN: "arn:aws:ecs:eu-west-1:123456789012:task/prod/" + id, StartedBy: startedBy, Group: "family:batch", LastStatus: "RUNNING"}
	}
	stopped := func(t TaskView) TaskView { t.LastStatus = "STOPPED"; return t }
	many := []TaskView{}
	for _, id := range []string{"t1", "t2", "t3", "t4", "t5", "t6", "t7"} {
		many = append(many, standalone(id, ""))
	}
	tests := []struct {
		name   string
		tasks  []TaskView
		policy StandalonePolicy
		wantOK bool
		want   Outcome
	}{
		{"an empty instance is eligible", nil, StandaloneSkip, true, Outcome{}},
		{"service tasks only are eligible (a drain replaces them)", []TaskView{svc("a"), svc("b")}, StandaloneSkip, true, Outcome{}},
		{"daemon service tasks are service tasks too",
			[]TaskView{{ARN: "task/prod/d", StartedBy: "ecs-svc/999", Group: "service:log-daemon", LastStatus: "RUNNING"}}, StandaloneSkip, true, Outcome{}},
		{"a task started by RunTask skips the instance, naming it", []TaskView{svc("a"), standalone("b1", "alice")}, StandaloneSkip, false,
			Skipped(CodeStandaloneTask, "runs 1 task not started by a service, which a drain would not stop: b1 (family:batch, started by alice)")},
		{"a task with an empty startedBy is standalone", []TaskView{standalone("b1", "")}, StandaloneSkip, false,
			Skipped(CodeStandaloneTask, "runs 1 task not started by a service, which a drain would not stop: b1 (family:batch, started by nobody)")},
		{"a scheduled task is standalone", []TaskView{standalone("b1", "events-rule/nightly")}, StandaloneSkip, false,
			Skipped(CodeStandaloneTask, "runs 1 task not started by a service, which a drain would not stop: b1 (family:batch, started by events-rule/nightly)")},
		{"ecs-svc must be a prefix, not a substring", []TaskView{standalone("b1", "my-ecs-svc/1")}, StandaloneSkip, false,
			Skipped(CodeStandaloneTask, "runs 1 task not started by a service, which a drain would not stop: b1 (family:batch, started by my-ecs-svc/1)")},
		{"a stopped standalone task does not count", []TaskView{stopped(standalone("b1", ""))}, StandaloneSkip, true, Outcome{}},
		{"the zero policy skips, like the original updater", []TaskView{standalone("b1", "")}, "", false,
			Skipped(CodeStandaloneTask, "runs 1 task not started by a service, which a drain would not stop: b1 (family:batch, started by nobody)")},
		{"a long list names five tasks and counts the rest", many, StandaloneSkip, false,
			Skipped(CodeStandaloneTask, "runs 7 tasks not started by a service, which a drain would not stop: "+
				"t1 (family:batch, started by nobody), t2 (family:batch, started by nobody), t3 (family:batch, started by nobody), "+
				"t4 (family:batch, started by nobody), t5 (family:batch, started by nobody), and 2 more")},
		{"the wait policy drains anyway and lets the drain deadline decide", []TaskView{standalone("b1", "")}, StandaloneWait, true, Outcome{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, got := Eligible(tt.tasks, tt.policy)
			if ok != tt.wantOK {
				t.Errorf("Eligible() ok = %v, want %v", ok, tt.wantOK)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Eligible() outcome mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseStandalonePolicy(t *testing.T) {
	tests := []struct {
		in      string
		want    StandalonePolicy
		wantErr bool
	}{
		{"", StandaloneSkip, false},
		{"skip", StandaloneSkip, false},
		{"wait", StandaloneWait, false},
		{"drain", "", true},
	}
	for _, tt := range tests {
		got, err := ParseStandalonePolicy(tt.in)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("ParseStandalonePolicy(%q) = %q, %v, want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestStandalone(t *testing.T) {
	task := func(id, startedBy, status string) TaskView {
		return TaskView{ARN: "task/" + id, StartedBy: startedBy, Group: "family:" + id, LastStatus: status}
	}
	tests := []struct {
		name  string
		tasks []TaskView
		want  []TaskView
	}{
		{name: "a service's task is not standalone", tasks: []TaskView{task("web", "ecs-svc/1", "RUNNING")}},
		{name: "a task a person started is, running or pending",
			tasks: []TaskView{task("batch", "person", "RUNNING"), task("cron", "", "PENDING"), task("web", "ecs-svc/1", "RUNNING")},
			want:  []TaskView{task("batch", "person", "RUNNING"), task("cron", "", "PENDING")}},
		{name: "a stopped task is not, whoever started it", tasks: []TaskView{task("batch", "person", "STOPPED")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, Standalone(tt.tasks)); diff != "" {
				t.Errorf("Standalone() (-want +got):\n%s", diff)
			}
		})
	}
}

package jobs_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/cluster/clustertest"
	"github.com/rollwave/rollwave/shared/jobs"
	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/ssmcommand"
	"github.com/rollwave/rollwave/shared/ssmcommand/ssmcommandtest"
	"github.com/rollwave/rollwave/shared/update"
)

const (
	checkDoc  = "rw-update-check"
	cancelDoc = "rw-update-cancel"
)

// updateStatus is the update check's output for a host whose update is in state.
func updateStatus(state string) string {
	staging := "null"
	if state == "Ready" {
		staging = `{"image":{"arch":"x86_64","version":"1.20.3","variant":"aws-ecs-2"},"next_to_boot":true}`
	}
	return `{"update_state":"` + state + `","chosen_update":{"arch":"x86_64","version":"1.20.3","variant":"aws-ecs-2"},
		"active_partition":{"image":{"arch":"x86_64","version":"1.19.5","variant":"aws-ecs-2"},"next_to_boot":` + map[bool]string{true: "false", false: "true"}[state == "Ready"] + `},
		"staging_partition":` + staging + `}`
}

func TestAbortNeverDependsOnTheCancel(t *testing.T) {
	noAnswer := ssmcommandtest.Response{Latency: 24 * time.Hour}
	locked := ssmcommandtest.Response{ExitCode: 1, Stderr: "got code '423 Locked': Update lock held"}
	tests := []struct {
		name          string
		stage         update.Stage
		check, cancel ssmcommandtest.Response
		wantDocs      []string
		wantMessage   string // what the undo adds to the outcome's message
		wantActive    bool
	}{
		{"no staged update: nothing to cancel", update.StageStaging,
			ssmcommandtest.Response{Stdout: updateStatus("Available")}, ssmcommandtest.Response{},
			[]string{checkDoc}, "", false},
		{"a staged update is cancelled", update.StageStaging,
			ssmcommandtest.Response{Stdout: updateStatus("Ready")}, ssmcommandtest.Response{},
			[]string{checkDoc, cancelDoc}, "", false},
		{"a cancel that fails after a Ready check is said", update.StageStaging,
			ssmcommandtest.Response{Stdout: updateStatus("Ready")}, locked,
			[]string{checkDoc, cancelDoc}, "; undo: cancel of the staged update failed (", false},
		{"a check that cannot run: the cancel is sent anyway", update.StageStaging,
			locked, ssmcommandtest.Response{},
			[]string{checkDoc, cancelDoc}, "; undo: update state unknown (update check: Failed (exit 1): got code '423 Locked': Update lock held); cancel sent anyway, succeeded", false},
		{"agent offline while draining: re-activated and unmarked all the same", update.StageDraining,
			noAnswer, noAnswer,
			[]string{checkDoc, cancelDoc}, "; undo: update state unknown (", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ecs := clustertest.NewFake()
				ecs.AddCluster("prod", nil)
				status := cluster.StatusActive
				if tt.stage == update.StageDraining {
					status = cluster.StatusDraining
				}
				in := ecs.AddInstance("prod", cluster.Instance{Status: status, AgentConnected: true, Attributes: map[string]string{
					update.AttrJob: "j-1", update.AttrStage: string(tt.stage)}})
				ssm := ssmcommandtest.NewFake()
				ssm.AddInstance(in.EC2InstanceID, true)
				ssm.Respond(in.EC2InstanceID, checkDoc, tt.check)
				ssm.Respond(in.EC2InstanceID, cancelDoc, tt.cancel)
				ev := &events{}
				ender := &jobs.Ender{Marks: ecs, Events: ev, By: "drainer", Now: time.Now}
				u := &jobs.Undoer{State: ecs, Commands: ssm, CheckDoc: checkDoc, CancelDoc: cancelDoc,
					SSM: ssmcommand.Options{Wait: time.Minute}, Ender: ender}
				job := update.Job{ID: "j-1", Cluster: "prod", Instance: in.EC2InstanceID, EC2InstanceID: in.EC2InstanceID, ContainerInstanceARN: in.ARN}

				if err := u.Abort(t.Context(), &job, tt.stage, update.Failed(update.CodeDrainTimeout, "tasks left")); err != nil {
					t.Fatalf("Abort() = %v, want nil: the undo must end the job", err)
				}
				var docs []string
				for _, c := range ssm.Commands() {
					docs = append(docs, c.Document)
				}
				if diff := cmp.Diff(tt.wantDocs, docs); diff != "" {
					t.Errorf("SSM documents sent (-want +got):\n%s", diff)
				}
				msg := job.Outcome.Message
				if rest := strings.TrimPrefix(msg, "tasks left"); tt.wantMessage == "" && rest != "" || !strings.HasPrefix(rest, tt.wantMessage) {
					t.Errorf("outcome message = %q, want %q followed by %q", msg, "tasks left", tt.wantMessage)
				}
				got, err := ecs.Instance(t.Context(), "prod", in.ARN)
				if err != nil {
					t.Fatal(err)
				}
				if got.Attributes[update.AttrJob] != "" || got.Attributes[update.AttrStage] != "" {
					t.Errorf("attributes = %v, want the marks removed", got.Attributes)
				}
				if active := got.Status == cluster.StatusActive; tt.wantActive && !active {
					t.Errorf("status = %s, want ACTIVE again", got.Status)
				}
				if diff := cmp.Diff([]string{"Instance Update Failed"}, ev.types); diff != "" {
					t.Errorf("events (-want +got):\n%s", diff)
				}
			})
		})
	}
}

func TestAbortReturnsWhenItsContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ecs := clustertest.NewFake()
		ecs.AddCluster("prod", nil)
		in := ecs.AddInstance("prod", cluster.Instance{Status: cluster.StatusActive, Attributes: map[string]string{update.AttrJob: "j-1", update.AttrStage: "staging"}})
		ssm := ssmcommandtest.NewFake()
		ssm.AddInstance(in.EC2InstanceID, true)
		ssm.Respond(in.EC2InstanceID, "", ssmcommandtest.Response{Latency: 24 * time.Hour})
		ev := &events{}
		u := &jobs.Undoer{State: ecs, Commands: ssm, CheckDoc: checkDoc, CancelDoc: cancelDoc,
			Ender: &jobs.Ender{Marks: ecs, Events: ev, By: "patcher", Now: time.Now}}
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		job := update.Job{ID: "j-1", Cluster: "prod", EC2InstanceID: in.EC2InstanceID, ContainerInstanceARN: in.ARN}
		err := u.Abort(ctx, &job, update.StageStaging, update.Failed(update.CodeStagingFailed, "x"))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Abort() with its context ended = %v, want the context's error (the message is retried)", err)
		}
		if len(ev.types) != 0 {
			t.Errorf("events = %v, want none: a shutdown is not an ending", ev.types)
		}
	})
}

func TestAborted(t *testing.T) {
	transient := errors.Join(errors.New("throttled"), cluster.ErrTransient)
	gone := errors.Join(errors.New("no such instance"), cluster.ErrInstanceNotFound)
	tests := []struct {
		name        string
		setStateErr error // what re-activating the drained instance returns
		wantErr     error
		wantDone    bool
		wantResult  update.Result
		wantCode    update.Code
	}{
		{name: "undone: the job ends with the outcome, the message is done",
			wantDone: true, wantResult: update.ResultFailed, wantCode: update.CodeDrainTimeout},
		{name: "the undo fails for the moment: the error is returned for a retry",
			setStateErr: transient, wantErr: cluster.ErrTransient},
		{name: "the instance is gone: the job ends skipped, the message is done",
			setStateErr: gone, wantDone: true, wantResult: update.ResultSkipped, wantCode: update.CodeInstanceGone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ecs := clustertest.NewFake()
				ecs.AddCluster("prod", nil)
				in := ecs.AddInstance("prod", cluster.Instance{Status: cluster.StatusDraining, AgentConnected: true, Attributes: map[string]string{
					update.AttrJob: "j-1", update.AttrStage: string(update.StageDraining)}})
				ssm := ssmcommandtest.NewFake()
				ssm.AddInstance(in.EC2InstanceID, true)
				ssm.Respond(in.EC2InstanceID, checkDoc, ssmcommandtest.Response{Stdout: updateStatus("Available")})
				if tt.setStateErr != nil {
					ecs.FailNext("SetState", tt.setStateErr)
				}
				ender := &jobs.Ender{Marks: ecs, Events: &events{}, By: "drainer", Now: time.Now}
				u := &jobs.Undoer{State: ecs, Commands: ssm, CheckDoc: checkDoc, CancelDoc: cancelDoc,
					SSM: ssmcommand.Options{Wait: time.Minute}, Ender: ender}
				job := update.Job{ID: "j-1", Cluster: "prod", Instance: in.EC2InstanceID, EC2InstanceID: in.EC2InstanceID, ContainerInstanceARN: in.ARN}

				out, err := u.Aborted(t.Context(), &job, update.StageDraining, update.Failed(update.CodeDrainTimeout, "tasks left"))
				if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
					t.Fatalf("Aborted() error = %v, want %v", err, tt.wantErr)
				}
				if done := err == nil && out == queue.Done(); done != tt.wantDone {
					t.Errorf("Aborted() = %+v, done %t, want done %t", out, done, tt.wantDone)
				}
				var got update.Outcome
				if job.Outcome != nil {
					got = *job.Outcome
				}
				if got.Result != tt.wantResult || got.Code != tt.wantCode {
					t.Errorf("job outcome = %s/%s, want %s/%s", got.Result, got.Code, tt.wantResult, tt.wantCode)
				}
			})
		})
	}
}

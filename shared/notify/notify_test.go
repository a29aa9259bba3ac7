package notify

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/google/go-cmp/cmp"
)

type recorder struct {
	got  []types.PutEventsRequestEntry
	fail *eventbridge.PutEventsOutput
	err  error
}

func (r *recorder) PutEvents(_ context.Context, in *eventbridge.PutEventsInput, _ ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	r.got = append(r.got, in.Entries...)
	if r.err != nil {
		return nil, r.err
	}
	if r.fail != nil {
		return r.fail, nil
	}
	return &eventbridge.PutEventsOutput{}, nil
}

func TestPublishSendsOneEventWithDetailAndResources(t *testing.T) {
	rec := &recorder{}
	p := New(rec, "", "rw-test")
	at := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	d := JobDetail{JobID: "j1", Cluster: "prod", Instance: "i-1", Outcome: "failed", Reason: "boot-failed-rolled-back", At: at}
	if err := p.Publish(context.Background(), InstanceUpdateFailed, d, "arn:ci"); err != nil {
		t.Fatalf("Publish() = %v, want nil", err)
	}
	if len(rec.got) != 1 {
		t.Fatalf("PutEvents entries = %d, want 1", len(rec.got))
	}
	e := rec.got[0]
	if aws.ToString(e.Source) != Source || aws.ToString(e.DetailType) != InstanceUpdateFailed || aws.ToString(e.EventBusName) != "default" {
		t.Errorf("entry = source %q type %q bus %q, want %q %q default", aws.ToString(e.Source), aws.ToString(e.DetailType), aws.ToString(e.EventBusName), Source, InstanceUpdateFailed)
	}
	var back JobDetail
	if err := json.Unmarshal([]byte(aws.ToString(e.Detail)), &back); err != nil {
		t.Fatalf("detail is not JSON: %v", err)
	}
	var deployment struct{ Deployment string }
	_ = json.Unmarshal([]byte(aws.ToString(e.Detail)), &deployment)
	if deployment.Deployment != "rw-test" {
		t.Errorf("detail %s: deployment %q, want the publisher's rw-test", aws.ToString(e.Detail), deployment.Deployment)
	}
	if diff := cmp.Diff(d, back); diff != "" {
		t.Errorf("detail round trip (-sent +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"arn:ci"}, e.Resources); diff != "" {
		t.Errorf("resources (-want +got):\n%s", diff)
	}
}

func TestPublishReportsFailedEntries(t *testing.T) {
	rec := &recorder{fail: &eventbridge.PutEventsOutput{FailedEntryCount: 1, Entries: []types.PutEventsResultEntry{{ErrorCode: aws.String("InternalFailure"), ErrorMessage: aws.String("boom")}}}}
	err := New(rec, "bus", "rw-test").Publish(context.Background(), InstanceUpdateSucceeded, JobDetail{})
	if err == nil {
		t.Fatal("Publish() = nil, want the failed entry as an error")
	}
}

func TestPublishWrapsTransportErrors(t *testing.T) {
	cause := errors.New("connection refused")
	err := New(&recorder{err: cause}, "bus", "rw-test").Publish(context.Background(), InstanceUpdateSucceeded, JobDetail{})
	if !errors.Is(err, cause) {
		t.Fatalf("Publish() = %v, want it to wrap %v", err, cause)
	}
}

// TestPublishRefusesADetailThatIsNotAnObject: the deployment goes into the detail, so a detail
// must be a JSON object, and must not have a deployment of its own.
func TestPublishRefusesADetailThatIsNotAnObject(t *testing.T) {
	for _, detail := range []any{"text", []int{1}, map[string]string{DeploymentField: "other"}} {
		rec := &recorder{}
		if err := New(rec, "", "rw-test").Publish(context.Background(), InstanceUpdateFailed, detail); err == nil || len(rec.got) != 0 {
			t.Errorf("Publish(%v) = %v with %d events sent, want an error and none sent", detail, err, len(rec.got))
		}
	}
}

package server

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

type checkOutput struct {
	UpdateState      string   `json:"update_state"`
	AvailableUpdates []string `json:"available_updates"`
	ChosenUpdate     *struct {
		Version string `json:"version"`
	} `json:"chosen_update"`
	ActivePartition struct {
		Image struct {
			Version string `json:"version"`
		} `json:"image"`
	} `json:"active_partition"`
}

func (e *env) check(instance string) checkOutput {
	e.t.Helper()
	out := e.run(instance, "apiclient update check")
	if out.Status != ssmtypes.CommandInvocationStatusSuccess {
		e.t.Fatalf("update check = %s %q, want Success", out.Status, aws.ToString(out.StandardErrorContent))
	}
	var c checkOutput
	if err := json.Unmarshal([]byte(aws.ToString(out.StandardOutputContent)), &c); err != nil {
		e.t.Fatalf("update check output %q: %v", aws.ToString(out.StandardOutputContent), err)
	}
	return c
}

func (e *env) ec2Status(instance string) ec2types.SummaryStatus {
	e.t.Helper()
	out, err := e.ec2.DescribeInstanceStatus(context.Background(), &ec2.DescribeInstanceStatusInput{InstanceIds: []string{instance}})
	if err != nil || len(out.InstanceStatuses) != 1 {
		e.t.Fatalf("DescribeInstanceStatus(%s) = %+v, %v", instance, out, err)
	}
	s := out.InstanceStatuses[0]
	if s.InstanceState.Name != ec2types.InstanceStateNameRunning {
		e.t.Errorf("instance state = %s, want running", s.InstanceState.Name)
	}
	return s.InstanceStatus.Status
}

// TestUpdateByHandThroughSSM checks, applies and reboots one host: its version changes after
// the reboot, the agent disconnects and reconnects under the same ARN, and the instance events
// carry a growing version.
func TestUpdateByHandThroughSSM(t *testing.T) {
	e := start(t, fleet(3, ""))
	in := e.instance("c", 0)
	id := in.EC2InstanceID
	if c := e.check(id); c.UpdateState != "Available" || c.ActivePartition.Image.Version != "1.19.5" {
		t.Fatalf("update check = %+v, want Available on 1.19.5", c)
	}
	if out := e.run(id, "apiclient update apply"); out.Status != ssmtypes.CommandInvocationStatusSuccess {
		t.Fatalf("update apply = %s %q, want Success", out.Status, aws.ToString(out.StandardErrorContent))
	}
	if c := e.check(id); c.UpdateState != "Ready" {
		t.Fatalf("update check after apply = %+v, want Ready", c)
	}
	if s := e.ec2Status(id); s != ec2types.SummaryStatusOk {
		t.Errorf("status before reboot = %s, want ok", s)
	}
	reboot := e.send(e.document(120, "apiclient reboot"), id)
	e.waitFor("host down", 10*time.Second, func() bool { return !e.instance("c", 0).HostUp })
	if p := e.pingStatus(id); p != ssmtypes.PingStatusConnectionLost {
		t.Errorf("PingStatus while rebooting = %s, want ConnectionLost", p)
	}
	if s := e.ec2Status(id); s != ec2types.SummaryStatusInitializing {
		t.Errorf("status while rebooting = %s, want initializing", s)
	}
	e.waitFor("agent reconnected", 10*time.Second, func() bool { i := e.instance("c", 0); return i.HostUp && i.AgentConnected })
	after := e.instance("c", 0)
	if after.Version != "1.20.3" || after.ContainerInstanceArn != in.ContainerInstanceArn || after.Reboots != 1 {
		t.Errorf("after reboot = version %s, arn %s, reboots %d; want 1.20.3, same ARN, 1", after.Version, after.ContainerInstanceArn, after.Reboots)
	}
	if p := e.pingStatus(id); p != ssmtypes.PingStatusOnline {
		t.Errorf("PingStatus after reboot = %s, want Online", p)
	}
	// apiclient reboot answers before the host goes down: the invocation reports Success.
	if out := e.finish(reboot, id); out.Status != ssmtypes.CommandInvocationStatusSuccess || aws.ToString(out.StandardErrorContent) == "" {
		t.Errorf("reboot command = %s %q, want Success with Rebooting on stderr", out.Status, aws.ToString(out.StandardErrorContent))
	}
	if c := e.check(id); c.ActivePartition.Image.Version != "1.20.3" || c.UpdateState != "Idle" {
		t.Errorf("update check after reboot = %+v, want Idle on 1.20.3", c)
	}
	var connected []bool
	var last int64
	for _, ev := range e.eventsFor(in.ContainerInstanceArn) {
		d := ev.Detail.(interface{ GetVersion() int64 })
		if d.GetVersion() <= last {
			t.Errorf("instance event version %d after %d, want growing", d.GetVersion(), last)
		}
		last = d.GetVersion()
		connected = append(connected, ev.Detail.(interface{ GetAgentConnected() bool }).GetAgentConnected())
	}
	if len(connected) < 2 || connected[len(connected)-1] != true || !contains(connected, false) {
		t.Errorf("agentConnected over the instance events = %v, want a disconnect then a reconnect", connected)
	}
	list, err := e.ssm.ListCommands(context.Background(), &ssm.ListCommandsInput{InstanceId: aws.String(id)})
	if err != nil || len(list.Commands) != 5 || aws.ToString(list.Commands[0].Comment) == "" {
		t.Errorf("ListCommands(instance) = %d commands, %v, want 5 with comments", len(list.Commands), err)
	}
	invs, err := e.ssm.ListCommandInvocations(context.Background(), &ssm.ListCommandInvocationsInput{CommandId: aws.String(reboot), Details: true})
	if err != nil || len(invs.CommandInvocations) != 1 || len(invs.CommandInvocations[0].CommandPlugins) != 1 {
		t.Errorf("ListCommandInvocations(details) = %+v, %v, want one invocation with its plugin", invs, err)
	}
}

func contains[T comparable](xs []T, x T) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// TestCommandToDownHostWaitsForIt: a command sent while the host reboots stays Pending and runs
// once the host is back; past the delivery timeout it ends DeliveryTimedOut.
func TestCommandToDownHostWaitsForIt(t *testing.T) {
	e := start(t, fleet(2, "faults:\n  hosts:\n    - instance: \"*\"\n      faults: {}\n"))
	id := e.instance("c", 0).EC2InstanceID
	e.send(e.document(60, "apiclient reboot"), id)
	e.waitFor("host down", 10*time.Second, func() bool { return !e.instance("c", 0).HostUp })
	cmd := e.send(e.document(60, "apiclient get os"), id)
	if out := e.invocation(cmd, id); out.Status != ssmtypes.CommandInvocationStatusPending {
		t.Errorf("command to a down host = %s, want Pending", out.Status)
	}
	if out := e.finish(cmd, id); out.Status != ssmtypes.CommandInvocationStatusSuccess {
		t.Errorf("command after the host came back = %s, want Success", out.Status)
	}
}

func TestNonApiclientLinesFail(t *testing.T) {
	e := start(t, fleet(1, ""))
	id := e.instance("c", 0).EC2InstanceID
	out := e.run(id, "rm -rf /")
	if out.Status != ssmtypes.CommandInvocationStatusFailed || out.ResponseCode != 127 {
		t.Errorf("non-apiclient line = %s exit %d, want Failed exit 127", out.Status, out.ResponseCode)
	}
}

func TestCancelCommand(t *testing.T) {
	e := start(t, fleet(1, "faults:\n  hosts:\n    - faults: {applyHangs: true}\n"))
	id := e.instance("c", 0).EC2InstanceID
	e.check(id)
	cmd := e.send(e.document(3600, "apiclient update apply"), id)
	e.waitFor("apply in progress", 10*time.Second, func() bool { return e.invocation(cmd, id).Status == ssmtypes.CommandInvocationStatusInProgress })
	if _, err := e.ssm.CancelCommand(context.Background(), &ssm.CancelCommandInput{CommandId: aws.String(cmd)}); err != nil {
		t.Fatal(err)
	}
	if out := e.finish(cmd, id); out.Status != ssmtypes.CommandInvocationStatusCancelled {
		t.Errorf("cancelled command = %s, want Cancelled", out.Status)
	}
}

// TestCommandInterruptedByReboot: a script still running when its host goes down never reports
// back; the invocation stays InProgress after the host is back and ends TimedOut at its
// execution timeout.
func TestCommandInterruptedByReboot(t *testing.T) {
	e := start(t, fleet(2, ""))
	id := e.instance("c", 1).EC2InstanceID
	cut := e.send(e.document(120, "apiclient update check", "apiclient reboot", "apiclient update apply"), id)
	e.waitFor("host down", 10*time.Second, func() bool { return !e.instance("c", 1).HostUp })
	e.waitFor("host up", 10*time.Second, func() bool { return e.instance("c", 1).HostUp })
	if out := e.invocation(cut, id); out.Status != ssmtypes.CommandInvocationStatusInProgress {
		t.Errorf("interrupted command after the reboot = %s %q, want InProgress", out.Status, aws.ToString(out.StandardErrorContent))
	}
	if out := e.finish(cut, id); out.Status != ssmtypes.CommandInvocationStatusTimedOut || aws.ToString(out.StatusDetails) != "ExecutionTimedOut" {
		t.Errorf("interrupted command = %s/%s, want TimedOut/ExecutionTimedOut", out.Status, aws.ToString(out.StatusDetails))
	}
}

// TestDocumentParametersAreSubstitutedInLine runs a document whose shell line names a parameter,
// as rollwave's version-lock document does: SSM substitutes {{ version }} within the line.
func TestDocumentParametersAreSubstitutedInLine(t *testing.T) {
	e := start(t, fleet(1, ""))
	id := e.instance("c", 0).EC2InstanceID
	if got := e.instance("c", 0).VersionLock; got != "latest" {
		t.Errorf("the state's versionLock of a new host = %q, want latest", got)
	}
	content := `{"schemaVersion":"2.2","description":"lock","parameters":{"version":{"type":"String","allowedPattern":"^v?[0-9.]+$"}},` +
		`"mainSteps":[{"action":"aws:runShellScript","name":"lock","inputs":{"runCommand":["apiclient set updates.version-lock={{ version }}"]}}]}`
	if _, err := e.ssm.CreateDocument(context.Background(), &ssm.CreateDocumentInput{Name: aws.String("lock"), Content: aws.String(content),
		DocumentType: ssmtypes.DocumentTypeCommand, DocumentFormat: ssmtypes.DocumentFormatJson}); err != nil {
		t.Fatalf("CreateDocument: %v", err)
	}
	out, err := e.ssm.SendCommand(context.Background(), &ssm.SendCommandInput{DocumentName: aws.String("lock"),
		InstanceIds: []string{id}, Parameters: map[string][]string{"version": {"1.19.5"}}})
	if err != nil {
		t.Fatalf("SendCommand: %v", err)
	}
	if got := e.finish(*out.Command.CommandId, id); got.Status != ssmtypes.CommandInvocationStatusSuccess {
		t.Fatalf("lock = %s %q, want Success", got.Status, aws.ToString(got.StandardErrorContent))
	}
	got := e.run(id, "apiclient get settings.updates.version-lock")
	if s := aws.ToString(got.StandardOutputContent); !strings.Contains(s, `"version-lock": "1.19.5"`) {
		t.Errorf("version-lock after the document = %s, want 1.19.5", s)
	}
	if got := e.instance("c", 0).VersionLock; got != "1.19.5" {
		t.Errorf("the state's versionLock after the document = %q, want 1.19.5", got)
	}
}

// TestDocumentLifecycleAsTerraformDrivesIt creates, reads, tags and deletes a document with the
// calls the Terraform AWS provider makes for an aws_ssm_document, so that the LocalStack example
// can register rollwave's documents where the workers look for them.
func TestDocumentLifecycleAsTerraformDrivesIt(t *testing.T) {
	e := start(t, fleet(1, ""))
	ctx := context.Background()
	content := `{"schemaVersion":"2.2","description":"check","mainSteps":[{"action":"aws:runShellScript","name":"check","inputs":{"runCommand":["apiclient update check"]}}]}`
	if _, err := e.ssm.CreateDocument(ctx, &ssm.CreateDocumentInput{Name: aws.String("rollwave-update-check"), Content: aws.String(content),
		DocumentType: ssmtypes.DocumentTypeCommand, DocumentFormat: ssmtypes.DocumentFormatJson,
		Tags: []ssmtypes.Tag{{Key: aws.String("rollwave:prefix"), Value: aws.String("rollwave")}}}); err != nil {
		t.Fatalf("CreateDocument: %v", err)
	}
	perm, err := e.ssm.DescribeDocumentPermission(ctx, &ssm.DescribeDocumentPermissionInput{Name: aws.String("rollwave-update-check"), PermissionType: ssmtypes.DocumentPermissionTypeShare})
	if err != nil || len(perm.AccountIds) != 0 {
		t.Errorf("DescribeDocumentPermission = %+v, %v; want no account", perm, err)
	}
	tags := func() map[string]string {
		t.Helper()
		out, err := e.ssm.ListTagsForResource(ctx, &ssm.ListTagsForResourceInput{ResourceType: ssmtypes.ResourceTypeForTaggingDocument, ResourceId: aws.String("rollwave-update-check")})
		if err != nil {
			t.Fatalf("ListTagsForResource: %v", err)
		}
		m := map[string]string{}
		for _, tag := range out.TagList {
			m[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
		}
		return m
	}
	if got := tags(); len(got) != 1 || got["rollwave:prefix"] != "rollwave" {
		t.Errorf("tags after CreateDocument = %v, want rollwave:prefix=rollwave", got)
	}
	if _, err := e.ssm.AddTagsToResource(ctx, &ssm.AddTagsToResourceInput{ResourceType: ssmtypes.ResourceTypeForTaggingDocument, ResourceId: aws.String("rollwave-update-check"),
		Tags: []ssmtypes.Tag{{Key: aws.String("team"), Value: aws.String("platform")}}}); err != nil {
		t.Fatalf("AddTagsToResource: %v", err)
	}
	if _, err := e.ssm.RemoveTagsFromResource(ctx, &ssm.RemoveTagsFromResourceInput{ResourceType: ssmtypes.ResourceTypeForTaggingDocument, ResourceId: aws.String("rollwave-update-check"),
		TagKeys: []string{"rollwave:prefix"}}); err != nil {
		t.Fatalf("RemoveTagsFromResource: %v", err)
	}
	if got := tags(); len(got) != 1 || got["team"] != "platform" {
		t.Errorf("tags after adding team and removing rollwave:prefix = %v, want team=platform", got)
	}
	if _, err := e.ssm.ListTagsForResource(ctx, &ssm.ListTagsForResourceInput{ResourceType: ssmtypes.ResourceTypeForTaggingManagedInstance, ResourceId: aws.String("mi-1")}); err == nil {
		t.Error("ListTagsForResource of a managed instance succeeded, want an error (fleetsim tags only documents)")
	}
	if _, err := e.ssm.DeleteDocument(ctx, &ssm.DeleteDocumentInput{Name: aws.String("rollwave-update-check")}); err != nil {
		t.Fatalf("DeleteDocument: %v", err)
	}
	var invalid *ssmtypes.InvalidDocument
	if _, err := e.ssm.DescribeDocument(ctx, &ssm.DescribeDocumentInput{Name: aws.String("rollwave-update-check")}); !errors.As(err, &invalid) {
		t.Errorf("DescribeDocument after DeleteDocument = %v, want InvalidDocument", err)
	}
}

// TestScenarioReloadKeepsCreatedDocuments loads a new scenario (PUT /fleetsim/scenario) after a
// document was created, as the bootstrap creates rollwave's: the document belongs to the account,
// not the fleet, so it is still there and runs on the new fleet's hosts.
func TestScenarioReloadKeepsCreatedDocuments(t *testing.T) {
	e := start(t, fleet(1, ""))
	doc := e.document(3600, "apiclient update check")
	if _, err := e.admin.LoadScenario(context.Background(), []byte(fleet(2, ""))); err != nil {
		t.Fatalf("LoadScenario: %v", err)
	}
	if _, err := e.ssm.DescribeDocument(context.Background(), &ssm.DescribeDocumentInput{Name: aws.String(doc)}); err != nil {
		t.Fatalf("DescribeDocument(%s) after a new scenario: %v, want the document kept", doc, err)
	}
	host := e.instance("c", 1).EC2InstanceID
	if out := e.finish(e.send(doc, host), host); out.Status != ssmtypes.CommandInvocationStatusSuccess {
		t.Errorf("%s on %s of the new scenario ended %s, want Success", doc, host, out.Status)
	}
	if _, err := e.ssm.DescribeDocument(context.Background(), &ssm.DescribeDocumentInput{Name: aws.String("AWS-RunShellScript")}); err != nil {
		t.Errorf("DescribeDocument(AWS-RunShellScript) after a new scenario: %v, want the built-in document", err)
	}
}

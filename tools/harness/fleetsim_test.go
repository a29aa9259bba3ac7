package harness_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"

	"github.com/rollwave/rollwave/tools/harness"
)

const (
	hostID     = "i-0aaaaaaaaaaaaaaa1" // testdata/one-host.yaml
	oldVersion = "1.19.5"
	newVersion = "1.20.3"
)

// createDocument registers a Command document that runs one apiclient line on the host.
func createDocument(t *testing.T, ctx context.Context, client *ssm.Client, name, line string) {
	t.Helper()
	content := fmt.Sprintf(`{"schemaVersion":"2.2","description":"Run %s.","mainSteps":[`+
		`{"action":"aws:runShellScript","name":"apiclient","inputs":{"runCommand":[%q]}}]}`, line, line)
	if _, err := client.CreateDocument(ctx, &ssm.CreateDocumentInput{
		Name:           aws.String(name),
		Content:        aws.String(content),
		DocumentType:   ssmtypes.DocumentTypeCommand,
		DocumentFormat: ssmtypes.DocumentFormatJson,
	}); err != nil {
		t.Fatalf("CreateDocument(%s): %v", name, err)
	}
}

// sendCommand runs the document on the host and returns the command ID.
func sendCommand(t *testing.T, ctx context.Context, client *ssm.Client, document string) string {
	t.Helper()
	out, err := client.SendCommand(ctx, &ssm.SendCommandInput{
		DocumentName: aws.String(document),
		InstanceIds:  []string{hostID},
	})
	if err != nil {
		t.Fatalf("SendCommand(%s): %v", document, err)
	}
	return aws.ToString(out.Command.CommandId)
}

// waitCommand waits until the command's invocation on the host succeeded and returns its output.
func waitCommand(t *testing.T, ctx context.Context, client *ssm.Client, commandID string) string {
	t.Helper()
	var output string
	harness.Eventually(t, 60*time.Second, func() (bool, string) {
		out, err := client.GetCommandInvocation(ctx, &ssm.GetCommandInvocationInput{
			CommandId: aws.String(commandID), InstanceId: aws.String(hostID),
		})
		var apiErr smithy.APIError
		if errors.As(err, &apiErr) && apiErr.ErrorCode() == "InvocationDoesNotExist" {
			return false, "invocation not created yet"
		}
		if err != nil {
			return false, fmt.Sprintf("GetCommandInvocation: %v", err)
		}
		switch out.Status {
		case ssmtypes.CommandInvocationStatusSuccess:
			output = aws.ToString(out.StandardOutputContent)
			return true, ""
		case ssmtypes.CommandInvocationStatusPending, ssmtypes.CommandInvocationStatusInProgress, ssmtypes.CommandInvocationStatusDelayed:
			return false, "status " + string(out.Status)
		default:
			t.Fatalf("command %s ended %s: %s", commandID, out.Status, aws.ToString(out.StandardErrorContent))
			return false, ""
		}
	})
	return output
}

// hostState is the part of GET /fleetsim/state the test looks at.
type hostState struct {
	EC2InstanceID  string `json:"ec2InstanceId"`
	AgentConnected bool   `json:"agentConnected"`
	Version        string `json:"version"`
	Reboots        int    `json:"reboots"`
}

func fleetsimHost(ctx context.Context, s *harness.Stack) (hostState, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.FleetsimURL+"/fleetsim/state", nil)
	if err != nil {
		return hostState{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return hostState{}, err
	}
	defer resp.Body.Close()
	var state struct {
		Clusters []struct {
			Instances []hostState `json:"instances"`
		} `json:"clusters"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&state); err != nil {
		return hostState{}, fmt.Errorf("decode state: %w", err)
	}
	for _, c := range state.Clusters {
		for _, h := range c.Instances {
			if h.EC2InstanceID == hostID {
				return h, nil
			}
		}
	}
	return hostState{}, fmt.Errorf("host %s not in the state", hostID)
}

// instanceDetail is the part of an ECS Container Instance State Change event's detail the
// test looks at.
type instanceDetail struct {
	EC2InstanceID  string `json:"ec2InstanceId"`
	AgentConnected bool   `json:"agentConnected"`
	Status         string `json:"status"`
	Version        int64  `json:"version"`
}

func TestFleetsimHostUpdatedBySSMEmitsOrderedEvents(t *testing.T) {
	s := harness.Start(t, harness.WithScenario("testdata/one-host.yaml"), harness.WithTimeScale(20))
	ctx := t.Context()
	cfg := s.AWSConfig(ctx)
	queueURL := routeECSEvents(t, ctx, s, cfg)
	ssmClient := ssm.NewFromConfig(cfg)

	docs := map[string]string{"check": "apiclient update check", "apply": "apiclient update apply", "reboot": "apiclient reboot"}
	for step, line := range docs {
		createDocument(t, ctx, ssmClient, s.Name(step), line)
	}

	if out := waitCommand(t, ctx, ssmClient, sendCommand(t, ctx, ssmClient, s.Name("check"))); !strings.Contains(out, newVersion) {
		t.Fatalf("apiclient update check printed %q, want it to offer %s", out, newVersion)
	}
	waitCommand(t, ctx, ssmClient, sendCommand(t, ctx, ssmClient, s.Name("apply")))
	if h, err := fleetsimHost(ctx, s); err != nil || h.Version != oldVersion {
		t.Fatalf("host after apply = %+v, %v; want still on %s until the reboot", h, err, oldVersion)
	}
	sendCommand(t, ctx, ssmClient, s.Name("reboot"))

	harness.Eventually(t, 60*time.Second, func() (bool, string) {
		h, err := fleetsimHost(ctx, s)
		if err != nil {
			return false, err.Error()
		}
		return h.Version == newVersion && h.AgentConnected && h.Reboots == 1, fmt.Sprintf("host %+v", h)
	})

	// The reboot disconnects the ECS agent and reconnects it: both events must have reached the
	// queue, in the order of their detail.version.
	var details []instanceDetail
	receiveEvents(t, ctx, sqs.NewFromConfig(cfg), queueURL, 30*time.Second, func(es []event) bool {
		details = details[:0]
		for _, e := range es {
			var d instanceDetail
			if err := json.Unmarshal(e.Detail, &d); err != nil {
				t.Fatalf("decode detail %s: %v", e.Detail, err)
			}
			if d.EC2InstanceID == hostID {
				details = append(details, d)
			}
		}
		disconnected := false
		for _, d := range details {
			if !d.AgentConnected {
				disconnected = true
			} else if disconnected {
				return true
			}
		}
		return false
	})
	t.Logf("ECS Container Instance State Change events for %s: %+v", hostID, details)
	for i := 1; i < len(details); i++ {
		if details[i].Version <= details[i-1].Version {
			t.Errorf("event %d has detail.version %d after %d: events out of order: %+v", i, details[i].Version, details[i-1].Version, details)
		}
	}
	if last := details[len(details)-1]; !last.AgentConnected || last.Status != "ACTIVE" {
		t.Errorf("last event = %+v, want the agent reconnected and the instance ACTIVE", last)
	}
}

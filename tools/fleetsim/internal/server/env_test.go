package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/rs/zerolog"

	"github.com/rollwave/rollwave/tools/fleetsim/admin"
	"github.com/rollwave/rollwave/tools/fleetsim/internal/sim"
)

// env is fleetsim behind an httptest server with real SDK clients pointed at it.
type env struct {
	t     *testing.T
	world *sim.World
	url   string
	ecs   *ecs.Client
	ssm   *ssm.Client
	ec2   *ec2.Client
	admin *admin.Client

	mu     sync.Mutex
	events []sim.Event
}

func start(t *testing.T, scenarioYAML string) *env {
	t.Helper()
	e := &env{t: t}
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)
	e.world = sim.New(sim.Options{Log: log, Emit: func(ev sim.Event) {
		e.mu.Lock()
		e.events = append(e.events, ev)
		e.mu.Unlock()
	}})
	srv := httptest.NewServer(New(e.world, &sim.EventCounters{}, log, nil))
	t.Cleanup(func() {
		srv.Close()
		e.world.Close()
	})
	e.url = srv.URL
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		RetryMaxAttempts: 1}
	e.ecs = ecs.NewFromConfig(cfg, func(o *ecs.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	e.ssm = ssm.NewFromConfig(cfg, func(o *ssm.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	e.ec2 = ec2.NewFromConfig(cfg, func(o *ec2.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	e.admin = admin.New(srv.URL)
	if _, err := e.admin.LoadScenario(context.Background(), []byte(scenarioYAML)); err != nil {
		t.Fatalf("LoadScenario: %v", err)
	}
	return e
}

// waitFor polls cond until it holds or the deadline passes.
func (e *env) waitFor(what string, timeout time.Duration, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		<-tick.C
	}
}

func (e *env) state() admin.State {
	e.t.Helper()
	st, err := e.admin.State(context.Background())
	if err != nil {
		e.t.Fatalf("State: %v", err)
	}
	return st
}

func (e *env) instance(cluster string, i int) admin.InstanceState {
	e.t.Helper()
	for _, c := range e.state().Clusters {
		if c.Name == cluster {
			return c.Instances[i]
		}
	}
	e.t.Fatalf("no cluster %s", cluster)
	return admin.InstanceState{}
}

func (e *env) report() admin.Report {
	e.t.Helper()
	r, err := e.admin.Report(context.Background())
	if err != nil {
		e.t.Fatalf("Report: %v", err)
	}
	return r
}

var docSeq int

// document registers a one-step aws:runShellScript document running lines.
func (e *env) document(timeoutSeconds int, lines ...string) string {
	e.t.Helper()
	docSeq++
	name := fmt.Sprintf("fleetsim-test-%d", docSeq)
	content, _ := json.Marshal(map[string]any{
		"schemaVersion": "2.2", "description": "test",
		"mainSteps": []any{map[string]any{"action": "aws:runShellScript", "name": "run",
			"inputs": map[string]any{"timeoutSeconds": fmt.Sprint(timeoutSeconds), "runCommand": lines}}},
	})
	_, err := e.ssm.CreateDocument(context.Background(), &ssm.CreateDocumentInput{Name: aws.String(name), Content: aws.String(string(content)),
		DocumentType: ssmtypes.DocumentTypeCommand, DocumentFormat: ssmtypes.DocumentFormatJson})
	if err != nil {
		e.t.Fatalf("CreateDocument: %v", err)
	}
	return name
}

// send sends doc to one instance and returns the command ID.
func (e *env) send(doc, instance string) string {
	e.t.Helper()
	out, err := e.ssm.SendCommand(context.Background(), &ssm.SendCommandInput{DocumentName: aws.String(doc),
		InstanceIds: []string{instance}, TimeoutSeconds: aws.Int32(600), Comment: aws.String("test " + doc)})
	if err != nil {
		e.t.Fatalf("SendCommand: %v", err)
	}
	return *out.Command.CommandId
}

func (e *env) invocation(cmd, instance string) *ssm.GetCommandInvocationOutput {
	e.t.Helper()
	out, err := e.ssm.GetCommandInvocation(context.Background(), &ssm.GetCommandInvocationInput{CommandId: aws.String(cmd), InstanceId: aws.String(instance)})
	if err != nil {
		e.t.Fatalf("GetCommandInvocation: %v", err)
	}
	return out
}

// finish waits until the invocation is no longer Pending or InProgress and returns it.
func (e *env) finish(cmd, instance string) *ssm.GetCommandInvocationOutput {
	e.t.Helper()
	var out *ssm.GetCommandInvocationOutput
	e.waitFor("command "+cmd+" to end", 20*time.Second, func() bool {
		out = e.invocation(cmd, instance)
		return out.Status != ssmtypes.CommandInvocationStatusPending && out.Status != ssmtypes.CommandInvocationStatusInProgress
	})
	return out
}

// run sends lines to instance and waits for the end of the command.
func (e *env) run(instance string, lines ...string) *ssm.GetCommandInvocationOutput {
	e.t.Helper()
	return e.finish(e.send(e.document(3600, lines...), instance), instance)
}

func (e *env) pingStatus(instance string) ssmtypes.PingStatus {
	e.t.Helper()
	out, err := e.ssm.DescribeInstanceInformation(context.Background(), &ssm.DescribeInstanceInformationInput{
		Filters: []ssmtypes.InstanceInformationStringFilter{{Key: aws.String("InstanceIds"), Values: []string{instance}}}})
	if err != nil || len(out.InstanceInformationList) != 1 {
		e.t.Fatalf("DescribeInstanceInformation(%s) = %v, %v", instance, out, err)
	}
	return out.InstanceInformationList[0].PingStatus
}

func (e *env) eventsFor(resource string) []sim.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []sim.Event
	for _, ev := range e.events {
		if len(ev.Resources) == 1 && ev.Resources[0] == resource {
			out = append(out, ev)
		}
	}
	return out
}

// fleet is a scenario of n instances in one cluster "c" with a service and a standalone task.
func fleet(n int, extra string) string {
	return strings.ReplaceAll(fmt.Sprintf(`
timeScale: 400
seed: 7
repository:
  aws-ecs-2: ["1.20.3", "1.19.5"]
clusters:
  - name: c
    tags: {env: test}
    instances:
      - count: %d
        version: 1.19.5
    services:
      - {name: web, desired: 4, minimumHealthyPercent: 50, maximumPercent: 200}
    tasks:
      - {family: batch, instance: "1"}
%s`, n, extra), "\t", "  ")
}

package server

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"github.com/rollwave/rollwave/tools/fleetsim/admin"
	"github.com/rollwave/rollwave/tools/fleetsim/internal/sim"
)

const launchScenario = `
clusters:
  - name: prod
    instances:
      - ids: [i-0aaa0000000000001]
        version: 1.19.5
        autoScalingGroup: prod-asg
        arch: aarch64
      - ids: [i-0aaa0000000000002]
        version: 1.19.5
repository:
  aws-ecs-2: [1.19.5, 1.20.3]
parameters:
  /aws/service/bottlerocket/aws-ecs-2/arm64/1.20.3/image_id: ami-0new
`

// emulator stands in for moto behind -ec2-forward: it records the actions it is sent.
type emulator struct {
	mu      sync.Mutex
	actions []string
}

func (e *emulator) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	form, _ := url.ParseQuery(string(body))
	e.mu.Lock()
	e.actions = append(e.actions, form.Get("Action"))
	e.mu.Unlock()
	rw.Header().Set("Content-Type", "text/xml")
	_, _ = io.WriteString(rw, `<CreateLaunchTemplateVersionResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><launchTemplateVersion><versionNumber>2</versionNumber></launchTemplateVersion></CreateLaunchTemplateVersionResponse>`)
}

// startForwarding is fleetsim with the scenario, forwarding what it does not simulate of EC2 to
// forward when it is set.
func startForwarding(t *testing.T, forward *url.URL) (*ec2.Client, *ssm.Client) {
	t.Helper()
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)
	world := sim.New(sim.Options{Log: log})
	srv := httptest.NewServer(New(world, &sim.EventCounters{}, log, forward))
	t.Cleanup(func() {
		srv.Close()
		world.Close()
	})
	if _, err := admin.New(srv.URL).LoadScenario(t.Context(), []byte(launchScenario)); err != nil {
		t.Fatalf("LoadScenario: %v", err)
	}
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""), RetryMaxAttempts: 1}
	return ec2.NewFromConfig(cfg, func(o *ec2.Options) { o.BaseEndpoint = aws.String(srv.URL) }),
		ssm.NewFromConfig(cfg, func(o *ssm.Options) { o.BaseEndpoint = aws.String(srv.URL) })
}

func TestDescribeInstancesShowsTheGroupTagAndArchitecture(t *testing.T) {
	ec2c, _ := startForwarding(t, nil)
	out, err := ec2c.DescribeInstances(t.Context(), &ec2.DescribeInstancesInput{InstanceIds: []string{"i-0aaa0000000000001", "i-0aaa0000000000002"}})
	if err != nil {
		t.Fatalf("DescribeInstances: %v", err)
	}
	type view struct {
		ID, Arch string
		Tags     map[string]string
	}
	var got []view
	for _, r := range out.Reservations {
		for _, in := range r.Instances {
			v := view{ID: aws.ToString(in.InstanceId), Arch: string(in.Architecture), Tags: map[string]string{}}
			for _, tg := range in.Tags {
				v.Tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
			}
			got = append(got, v)
		}
	}
	want := []view{
		{ID: "i-0aaa0000000000001", Arch: "arm64", Tags: map[string]string{"aws:autoscaling:groupName": "prod-asg"}},
		{ID: "i-0aaa0000000000002", Arch: "x86_64", Tags: map[string]string{}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("DescribeInstances = (-want +got):\n%s", diff)
	}
}

func TestGetParameterAnswersTheScenarioParameters(t *testing.T) {
	_, ssmc := startForwarding(t, nil)
	out, err := ssmc.GetParameter(t.Context(), &ssm.GetParameterInput{Name: aws.String("/aws/service/bottlerocket/aws-ecs-2/arm64/1.20.3/image_id")})
	if err != nil {
		t.Fatalf("GetParameter: %v", err)
	}
	if got := aws.ToString(out.Parameter.Value); got != "ami-0new" {
		t.Errorf("GetParameter(arm64 1.20.3) = %q, want ami-0new", got)
	}
	_, err = ssmc.GetParameter(t.Context(), &ssm.GetParameterInput{Name: aws.String("/aws/service/bottlerocket/aws-ecs-2/x86_64/1.20.3/image_id")})
	var nf *ssmtypes.ParameterNotFound
	if !errors.As(err, &nf) {
		t.Errorf("GetParameter(unknown) = %v, want ParameterNotFound", err)
	}
}

func TestUnsimulatedEC2ActionsGoToTheForwardEndpoint(t *testing.T) {
	emu := &emulator{}
	es := httptest.NewServer(emu)
	t.Cleanup(es.Close)
	u, _ := url.Parse(es.URL)
	ec2c, _ := startForwarding(t, u)
	create := func(ctx context.Context, c *ec2.Client) (*ec2.CreateLaunchTemplateVersionOutput, error) {
		return c.CreateLaunchTemplateVersion(ctx, &ec2.CreateLaunchTemplateVersionInput{
			LaunchTemplateId: aws.String("lt-1"), SourceVersion: aws.String("1"),
			LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String("ami-0new")},
		})
	}
	out, err := create(t.Context(), ec2c)
	if err != nil {
		t.Fatalf("CreateLaunchTemplateVersion through fleetsim: %v", err)
	}
	if got := aws.ToInt64(out.LaunchTemplateVersion.VersionNumber); got != 2 {
		t.Errorf("CreateLaunchTemplateVersion = version %d, want the emulator's 2", got)
	}
	if _, err := ec2c.DescribeInstanceStatus(t.Context(), &ec2.DescribeInstanceStatusInput{InstanceIds: []string{"i-0aaa0000000000001"}}); err != nil {
		t.Fatalf("DescribeInstanceStatus: %v", err)
	}
	emu.mu.Lock()
	got := emu.actions
	emu.mu.Unlock()
	if diff := cmp.Diff([]string{"CreateLaunchTemplateVersion"}, got); diff != "" {
		t.Errorf("actions forwarded = (-want +got):\n%s", diff)
	}

	alone, _ := startForwarding(t, nil)
	if _, err := create(t.Context(), alone); err == nil {
		t.Errorf("CreateLaunchTemplateVersion without -ec2-forward succeeded, want InvalidAction")
	}
}

package e2e_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/google/go-cmp/cmp"

	"github.com/rollwave/rollwave/shared/launchtemplate"
	"github.com/rollwave/rollwave/shared/metrics"
	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/topology"
	"github.com/rollwave/rollwave/tools/harness"
)

// The images of testdata/launch.yaml: the one the templates were written with, and 1.20.3's.
const (
	oldImage = "ami-0b0770c9f00001195"
	newImage = "ami-0b0770c9f00001203"
)

// TestRolloutFollowedIntoLaunchTemplates updates three hosts, each in an Auto Scaling group of
// its own, with ROLLWAVE_LAUNCH_TEMPLATES=update. Once the rollout is complete, a dry-run scan
// reports what it would change and changes nothing; the next scan creates a version of the
// $Default template with only 1.20.3's image and makes it the default, and leaves alone, with
// their reasons, the template whose image is a resolve:ssm: parameter and the one the group pins
// to version 1. Each is a "Launch Template Drift" event, and the fix a LaunchTemplatesDrifted
// metric in the emulator's CloudWatch.
func TestRolloutFollowedIntoLaunchTemplates(t *testing.T) {
	t.Parallel()
	p := startPipeline(t, "testdata/launch.yaml", "ROLLWAVE_LAUNCH_TEMPLATES=update", "ROLLWAVE_MAX_OUT_OF_SERVICE=3", "ROLLWAVE_METRICS_INTERVAL=1s")
	ctx := t.Context()
	cfg := p.stack.AWSConfig(ctx)
	ec2c, asc := ec2.NewFromConfig(cfg), autoscaling.NewFromConfig(cfg)
	templates := map[string]string{} // group -> launch template ID
	for _, g := range []struct{ group, image, version string }{
		{"rw-launch-fixed", oldImage, "$Default"},
		{"rw-launch-ssm", "resolve:ssm:/aws/service/bottlerocket/aws-ecs-2/x86_64/latest/image_id", "$Latest"},
		{"rw-launch-pinned", oldImage, "1"},
	} {
		lt, err := ec2c.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{
			LaunchTemplateName: aws.String(p.prefix + "-" + g.group),
			LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String(g.image), InstanceType: ec2types.InstanceTypeM5Large},
		})
		if err != nil {
			t.Fatalf("create launch template of %s: %v", g.group, err)
		}
		id := aws.ToString(lt.LaunchTemplate.LaunchTemplateId)
		templates[g.group] = id
		if _, err := asc.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
			AutoScalingGroupName: aws.String(g.group), MinSize: aws.Int32(0), MaxSize: aws.Int32(1), DesiredCapacity: aws.Int32(0),
			AvailabilityZones: []string{p.stack.Region + "a"},
			LaunchTemplate:    &astypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String(id), Version: aws.String(g.version)},
		}); err != nil {
			t.Fatalf("create auto scaling group %s: %v", g.group, err)
		}
		t.Cleanup(func() {
			_, _ = asc.DeleteAutoScalingGroup(ctx, &autoscaling.DeleteAutoScalingGroupInput{AutoScalingGroupName: aws.String(g.group), ForceDelete: aws.Bool(true)})
		})
	}
	drift := p.routeToQueue(ctx, eventbridge.NewFromConfig(cfg), p.prefix, p.prefix+"-drift",
		`{"source":["`+notify.Source+`"],"detail-type":["`+notify.LaunchTemplateDrift+`"]}`)

	res := p.newResults()
	p.scan()
	hosts := []string{"i-0f10000000000000a", "i-0f10000000000000b", "i-0f10000000000000c"}
	p.checkAllOn(res.waitEnded(90*time.Second, hosts), hosts, targetVersion)
	// Complete: no host still carries its job's marks.
	harness.Eventually(t, 30*time.Second, func() (bool, string) {
		for _, in := range p.instances()["launch"] {
			if marked(in) {
				return false, in.EC2InstanceID + " is still marked"
			}
		}
		return true, ""
	})

	type seen struct {
		Group, Outcome, Reason string
		NewVersion             int64
	}
	leftAlone := []seen{
		{"rw-launch-pinned", "left-alone", launchtemplate.ReasonPinnedVersion, 0},
		{"rw-launch-ssm", "left-alone", launchtemplate.ReasonResolveSSM, 0},
	}
	findings := func() []seen {
		t.Helper()
		var got []launchtemplate.Finding
		harness.Eventually(t, 30*time.Second, func() (bool, string) {
			got = append(got, receiveDetails[launchtemplate.Finding](p, drift, "drift")...)
			return len(got) >= 3, fmt.Sprintf("%d of 3 Launch Template Drift events", len(got))
		})
		var out []seen
		for _, f := range got {
			if f.Cluster != "launch" || f.Version != targetVersion || f.Message == "" {
				t.Errorf("finding %+v: want cluster launch, version %s, a message", f, targetVersion)
			}
			if f.Outcome != launchtemplate.LeftAlone && f.WantImageID != newImage {
				t.Errorf("finding %+v: want image %s", f, newImage)
			}
			out = append(out, seen{f.AutoScalingGroup, string(f.Outcome), f.Reason, f.NewTemplateVersion})
		}
		slices.SortFunc(out, func(a, b seen) int { return strings.Compare(a.Group, b.Group) })
		return out
	}

	p.send(topology.Scanner, `{"schema":"rollwave.scan/v1","requestedBy":"e2e","reason":"dry run","dryRun":true}`)
	want := append([]seen{{"rw-launch-fixed", "would-update", "", 0}}, leftAlone...)
	if diff := cmp.Diff(want, findings()); diff != "" {
		t.Fatalf("dry run: Launch Template Drift (-want +got):\n%s", diff)
	}
	for group, id := range templates {
		if got := p.templateVersions(ec2c, id); len(got) != 1 {
			t.Errorf("after a dry run, template of %s has versions %v, want its one", group, got)
		}
	}

	p.scan()
	want = append([]seen{{"rw-launch-fixed", "updated", "", 2}}, leftAlone...)
	if diff := cmp.Diff(want, findings()); diff != "" {
		t.Fatalf("Launch Template Drift (-want +got):\n%s", diff)
	}
	for group, wantImages := range map[string][]string{
		"rw-launch-fixed":  {oldImage, newImage},
		"rw-launch-ssm":    {"resolve:ssm:/aws/service/bottlerocket/aws-ecs-2/x86_64/latest/image_id"},
		"rw-launch-pinned": {oldImage},
	} {
		if diff := cmp.Diff(wantImages, p.templateVersions(ec2c, templates[group])); diff != "" {
			t.Errorf("images of the versions of %s's template (-want +got):\n%s", group, diff)
		}
	}
	def, err := ec2c.DescribeLaunchTemplateVersions(ctx, &ec2.DescribeLaunchTemplateVersionsInput{
		LaunchTemplateId: aws.String(templates["rw-launch-fixed"]), Versions: []string{"$Default"},
	})
	if err != nil || len(def.LaunchTemplateVersions) != 1 {
		t.Fatalf("describe the default version: %v", err)
	}
	if v := def.LaunchTemplateVersions[0]; aws.ToInt64(v.VersionNumber) != 2 || aws.ToString(v.LaunchTemplateData.ImageId) != newImage {
		t.Errorf("default version of rw-launch-fixed's template = %d with %s, want 2 with %s", aws.ToInt64(v.VersionNumber), aws.ToString(v.LaunchTemplateData.ImageId), newImage)
	}

	cw := metrics.NewClient(cfg)
	harness.Eventually(t, 30*time.Second, func() (bool, string) {
		now := time.Now()
		out, err := cw.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{
			Namespace: aws.String(metrics.Namespace), MetricName: aws.String(metrics.LaunchTemplatesDrifted),
			Dimensions: []cwtypes.Dimension{
				{Name: aws.String(metrics.Cluster), Value: aws.String("launch")},
				{Name: aws.String(metrics.Outcome), Value: aws.String(string(launchtemplate.Updated))},
			},
			StartTime: aws.Time(now.Add(-time.Hour)), EndTime: aws.Time(now.Add(time.Hour)), Period: aws.Int32(7200),
			Statistics: []cwtypes.Statistic{cwtypes.StatisticSum},
		})
		if err != nil {
			return false, err.Error()
		}
		var sum float64
		for _, d := range out.Datapoints {
			sum += aws.ToFloat64(d.Sum)
		}
		return sum == 1, fmt.Sprintf("LaunchTemplatesDrifted{launch, updated} = %v, want 1", sum)
	})
	p.checkNoDeadLetters()
}

// templateVersions returns the image of each version of the launch template, in order.
func (p *pipeline) templateVersions(c *ec2.Client, id string) []string {
	p.t.Helper()
	out, err := c.DescribeLaunchTemplateVersions(p.t.Context(), &ec2.DescribeLaunchTemplateVersionsInput{LaunchTemplateId: aws.String(id)})
	if err != nil {
		p.t.Fatalf("describe the versions of launch template %s: %v", id, err)
	}
	vs := out.LaunchTemplateVersions
	slices.SortFunc(vs, func(a, b ec2types.LaunchTemplateVersion) int {
		return int(aws.ToInt64(a.VersionNumber) - aws.ToInt64(b.VersionNumber))
	})
	var images []string
	for _, v := range vs {
		images = append(images, aws.ToString(v.LaunchTemplateData.ImageId))
	}
	return images
}

// receiveDetails receives the pipeline events waiting in the queue url now, deletes them, and
// returns their details decoded as T; what names them in a failure.
func receiveDetails[T any](p *pipeline, url, what string) []T {
	t := p.t
	t.Helper()
	out, err := p.sqs.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10})
	if err != nil {
		t.Fatalf("receive %s events: %v", what, err)
	}
	var got []T
	for _, m := range out.Messages {
		var ev struct {
			Detail T `json:"detail"`
		}
		if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &ev); err != nil {
			t.Fatalf("decode %s event %s: %v", what, aws.ToString(m.Body), err)
		}
		got = append(got, ev.Detail)
		if _, err := p.sqs.DeleteMessage(t.Context(), &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
			t.Fatalf("delete %s event: %v", what, err)
		}
	}
	return got
}

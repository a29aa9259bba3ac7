package launchtemplate

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// account is an in-memory account: hosts with their group tags, groups, launch templates (each a
// list of images, version n at index n-1, and a default) and public parameters.
type account struct {
	hostGroup map[string]string
	groups    map[string]astypes.AutoScalingGroup
	templates map[string]*template
	params    map[string]string
	calls     []string
}

type template struct {
	images []string
	def    int64
}

func (a *account) DescribeInstances(_ context.Context, in *ec2.DescribeInstancesInput, _ ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error) {
	a.calls = append(a.calls, "DescribeInstances")
	var r ec2types.Reservation
	for _, id := range in.InstanceIds {
		inst := ec2types.Instance{InstanceId: aws.String(id)}
		if g := a.hostGroup[id]; g != "" {
			inst.Tags = []ec2types.Tag{{Key: aws.String(GroupTag), Value: aws.String(g)}}
		}
		r.Instances = append(r.Instances, inst)
	}
	return &ec2.DescribeInstancesOutput{Reservations: []ec2types.Reservation{r}}, nil
}

func (a *account) DescribeAutoScalingGroups(_ context.Context, in *autoscaling.DescribeAutoScalingGroupsInput, _ ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error) {
	a.calls = append(a.calls, "DescribeAutoScalingGroups")
	out := &autoscaling.DescribeAutoScalingGroupsOutput{}
	for _, n := range in.AutoScalingGroupNames {
		if g, ok := a.groups[n]; ok {
			out.AutoScalingGroups = append(out.AutoScalingGroups, g)
		}
	}
	return out, nil
}

func (a *account) GetParameter(_ context.Context, in *ssm.GetParameterInput, _ ...func(*ssm.Options)) (*ssm.GetParameterOutput, error) {
	a.calls = append(a.calls, "GetParameter")
	v, ok := a.params[aws.ToString(in.Name)]
	if !ok {
		return nil, &ssmtypes.ParameterNotFound{Message: aws.String("not found")}
	}
	return &ssm.GetParameterOutput{Parameter: &ssmtypes.Parameter{Value: aws.String(v)}}, nil
}

func (a *account) DescribeLaunchTemplateVersions(_ context.Context, in *ec2.DescribeLaunchTemplateVersionsInput, _ ...func(*ec2.Options)) (*ec2.DescribeLaunchTemplateVersionsOutput, error) {
	a.calls = append(a.calls, "DescribeLaunchTemplateVersions")
	id := aws.ToString(in.LaunchTemplateId)
	t := a.templates[id]
	if t == nil {
		return nil, fmt.Errorf("no template %s", id)
	}
	n := t.def
	switch ref := in.Versions[0]; ref {
	case "$Latest":
		n = int64(len(t.images))
	case "$Default":
	default:
		n, _ = strconv.ParseInt(ref, 10, 64)
	}
	return &ec2.DescribeLaunchTemplateVersionsOutput{LaunchTemplateVersions: []ec2types.LaunchTemplateVersion{{
		LaunchTemplateId: aws.String(id), LaunchTemplateName: aws.String(id + "-name"), VersionNumber: aws.Int64(n),
		LaunchTemplateData: &ec2types.ResponseLaunchTemplateData{ImageId: aws.String(t.images[n-1])},
	}}}, nil
}

func (a *account) CreateLaunchTemplateVersion(_ context.Context, in *ec2.CreateLaunchTemplateVersionInput, _ ...func(*ec2.Options)) (*ec2.CreateLaunchTemplateVersionOutput, error) {
	a.calls = append(a.calls, "CreateLaunchTemplateVersion")
	t := a.templates[aws.ToString(in.LaunchTemplateId)]
	t.images = append(t.images, aws.ToString(in.LaunchTemplateData.ImageId))
	return &ec2.CreateLaunchTemplateVersionOutput{LaunchTemplateVersion: &ec2types.LaunchTemplateVersion{VersionNumber: aws.Int64(int64(len(t.images)))}}, nil
}

func (a *account) ModifyLaunchTemplate(_ context.Context, in *ec2.ModifyLaunchTemplateInput, _ ...func(*ec2.Options)) (*ec2.ModifyLaunchTemplateOutput, error) {
	a.calls = append(a.calls, "ModifyLaunchTemplate")
	n, _ := strconv.ParseInt(aws.ToString(in.DefaultVersion), 10, 64)
	a.templates[aws.ToString(in.LaunchTemplateId)].def = n
	return &ec2.ModifyLaunchTemplateOutput{}, nil
}

const (
	oldImage = "ami-0old"
	newImage = "ami-0new"
	param    = "/aws/service/bottlerocket/aws-ecs-2/x86_64/1.20.3/image_id"
)

// oneGroup is an account with one group asg of two x86_64 hosts, launching version ref of
// template lt-1, whose versions launch images (default version 1).
func oneGroup(ref string, images ...string) *account {
	spec := &astypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String("lt-1")}
	if ref != "" {
		spec.Version = aws.String(ref)
	}
	return &account{
		hostGroup: map[string]string{"i-1": "asg", "i-2": "asg"},
		groups:    map[string]astypes.AutoScalingGroup{"asg": {AutoScalingGroupName: aws.String("asg"), LaunchTemplate: spec}},
		templates: map[string]*template{"lt-1": {images: images, def: 1}},
		params:    map[string]string{param: newImage},
	}
}

func hosts(arch ...string) []Host {
	var out []Host
	for i, a := range arch {
		out = append(out, Host{EC2InstanceID: fmt.Sprintf("i-%d", i+1), Variant: "aws-ecs-2", Arch: a})
	}
	return out
}

func TestFollowFixesWhatItMayAndReportsTheRest(t *testing.T) {
	tests := []struct {
		name    string
		acct    *account
		hosts   []Host
		mode    Mode
		dryRun  bool
		want    Finding
		images  []string // the template's versions after Follow
		def     int64    // and its default
		changed bool     // whether Follow wrote anything
	}{
		{
			name: "$Latest drifted: a new version, which the group launches as latest",
			acct: oneGroup("$Latest", oldImage), hosts: hosts("x86_64", "x86_64"), mode: ModeUpdate,
			want:   Finding{GroupVersion: "$Latest", TemplateVersion: 1, ImageID: oldImage, Outcome: Updated, NewTemplateVersion: 2},
			images: []string{oldImage, newImage}, def: 1, changed: true,
		},
		{
			name: "$Default drifted: a new version from the default, made the default",
			acct: oneGroup("$Default", oldImage, "ami-0other"), hosts: hosts("x86_64"), mode: ModeUpdate,
			want:   Finding{GroupVersion: "$Default", TemplateVersion: 1, ImageID: oldImage, Outcome: Updated, NewTemplateVersion: 3},
			images: []string{oldImage, "ami-0other", newImage}, def: 3, changed: true,
		},
		{
			name: "no version on the group is $Default",
			acct: oneGroup("", oldImage), hosts: hosts("x86_64"), mode: ModeUpdate,
			want:   Finding{GroupVersion: "$Default", TemplateVersion: 1, ImageID: oldImage, Outcome: Updated, NewTemplateVersion: 2},
			images: []string{oldImage, newImage}, def: 2, changed: true,
		},
		{
			name: "pinned to a number: left alone",
			acct: oneGroup("1", oldImage), hosts: hosts("x86_64"), mode: ModeUpdate,
			want:   Finding{GroupVersion: "1", TemplateVersion: 1, ImageID: oldImage, Outcome: LeftAlone, Reason: ReasonPinnedVersion},
			images: []string{oldImage}, def: 1,
		},
		{
			name: "pinned to a number that is current: nothing to say",
			acct: oneGroup("1", newImage), hosts: hosts("x86_64"), mode: ModeUpdate,
			want:   Finding{GroupVersion: "1", TemplateVersion: 1, ImageID: newImage, Outcome: Current},
			images: []string{newImage}, def: 1,
		},
		{
			name: "resolve:ssm: left alone",
			acct: oneGroup("$Latest", "resolve:ssm:/my/image"), hosts: hosts("x86_64"), mode: ModeUpdate,
			want:   Finding{GroupVersion: "$Latest", TemplateVersion: 1, ImageID: "resolve:ssm:/my/image", Outcome: LeftAlone, Reason: ReasonResolveSSM},
			images: []string{"resolve:ssm:/my/image"}, def: 1,
		},
		{
			name: "report only",
			acct: oneGroup("$Latest", oldImage), hosts: hosts("x86_64"), mode: ModeReport,
			want:   Finding{GroupVersion: "$Latest", TemplateVersion: 1, ImageID: oldImage, Outcome: Drifted},
			images: []string{oldImage}, def: 1,
		},
		{
			name: "dry run changes nothing",
			acct: oneGroup("$Default", oldImage), hosts: hosts("x86_64"), mode: ModeUpdate, dryRun: true,
			want:   Finding{GroupVersion: "$Default", TemplateVersion: 1, ImageID: oldImage, Outcome: WouldUpdate, DryRun: true},
			images: []string{oldImage}, def: 1,
		},
		{
			name: "current",
			acct: oneGroup("$Latest", newImage), hosts: hosts("x86_64"), mode: ModeUpdate,
			want:   Finding{GroupVersion: "$Latest", TemplateVersion: 1, ImageID: newImage, Outcome: Current},
			images: []string{newImage}, def: 1,
		},
		{
			name: "hosts of two architectures",
			acct: oneGroup("$Latest", oldImage), hosts: hosts("x86_64", "arm64"), mode: ModeUpdate,
			want:   Finding{GroupVersion: "$Latest", Outcome: LeftAlone, Reason: ReasonMixedHosts, Variant: "-", Arch: "-", WantImageID: "-", TemplateVersion: -1},
			images: []string{oldImage}, def: 1,
		},
		{
			name: "no image published for the architecture",
			acct: oneGroup("$Latest", oldImage), hosts: hosts("arm64"), mode: ModeUpdate,
			want:   Finding{GroupVersion: "$Latest", Outcome: LeftAlone, Reason: ReasonImageNotPublished, Arch: "arm64", WantImageID: "-", TemplateVersion: -1},
			images: []string{oldImage}, def: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
			f := &Follower{instances: tt.acct, templates: tt.acct, groups: tt.acct, parameters: tt.acct, now: func() time.Time { return now }}
			got, err := f.Follow(t.Context(), Request{Cluster: "prod", Version: "1.20.3", Hosts: tt.hosts, Mode: tt.mode, DryRun: tt.dryRun})
			if err != nil {
				t.Fatalf("Follow: %v", err)
			}
			want := tt.want
			want.Cluster, want.AutoScalingGroup, want.Version, want.At = "prod", "asg", "1.20.3", now
			want.LaunchTemplateID = "lt-1"
			if want.TemplateVersion > 0 {
				want.LaunchTemplateName = "lt-1-name"
			} else {
				want.TemplateVersion = 0
			}
			want.Variant = defaultTo(want.Variant, "aws-ecs-2")
			want.Arch = defaultTo(want.Arch, "x86_64")
			want.WantImageID = defaultTo(want.WantImageID, newImage)
			if diff := cmp.Diff([]Finding{want}, got, cmpopts.IgnoreFields(Finding{}, "Message")); diff != "" {
				t.Errorf("Follow = (-want +got):\n%s", diff)
			}
			if got[0].Message == "" {
				t.Errorf("Follow's finding has no message")
			}
			tmpl := tt.acct.templates["lt-1"]
			if diff := cmp.Diff(tt.images, tmpl.images); diff != "" {
				t.Errorf("template versions after Follow = (-want +got):\n%s", diff)
			}
			if tmpl.def != tt.def {
				t.Errorf("default version after Follow = %d, want %d", tmpl.def, tt.def)
			}
		})
	}
}

// defaultTo returns v, or def when v is empty, or "" when v is "-" (the field is not set).
func defaultTo(v, def string) string {
	switch v {
	case "":
		return def
	case "-":
		return ""
	}
	return v
}

func TestFollowPassesOverHostsOfNoGroupAndNamesUnknownGroups(t *testing.T) {
	a := oneGroup("$Latest", oldImage)
	a.hostGroup = map[string]string{"i-1": "gone"}
	f := &Follower{instances: a, templates: a, groups: a, parameters: a, now: time.Now}
	got, err := f.Follow(t.Context(), Request{Cluster: "prod", Version: "1.20.3", Hosts: hosts("x86_64", "x86_64"), Mode: ModeUpdate})
	if err != nil {
		t.Fatalf("Follow: %v", err)
	}
	want := []Finding{{Cluster: "prod", AutoScalingGroup: "gone", Version: "1.20.3", Outcome: LeftAlone, Reason: ReasonGroupNotFound}}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(Finding{}, "Message", "At")); diff != "" {
		t.Errorf("Follow = (-want +got):\n%s", diff)
	}
}

func TestParseMode(t *testing.T) {
	for in, want := range map[string]Mode{"": ModeReport, "off": ModeOff, "report": ModeReport, "update": ModeUpdate} {
		if got, err := ParseMode(in); err != nil || got != want {
			t.Errorf("ParseMode(%q) = %q, %v, want %q", in, got, err, want)
		}
	}
	if _, err := ParseMode("fix"); err == nil {
		t.Errorf("ParseMode(fix) = nil error, want one")
	}
}

package launchtemplate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/rollwave/rollwave/shared/clock"
)

// instancesAPI is what Follower reads of the hosts, with the SDK's signature (*ec2.Client).
type instancesAPI interface {
	DescribeInstances(ctx context.Context, params *ec2.DescribeInstancesInput, optFns ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error)
}

// templatesAPI is what Follower reads and writes of the launch templates (*ec2.Client).
type templatesAPI interface {
	DescribeLaunchTemplateVersions(ctx context.Context, params *ec2.DescribeLaunchTemplateVersionsInput, optFns ...func(*ec2.Options)) (*ec2.DescribeLaunchTemplateVersionsOutput, error)
	CreateLaunchTemplateVersion(ctx context.Context, params *ec2.CreateLaunchTemplateVersionInput, optFns ...func(*ec2.Options)) (*ec2.CreateLaunchTemplateVersionOutput, error)
	ModifyLaunchTemplate(ctx context.Context, params *ec2.ModifyLaunchTemplateInput, optFns ...func(*ec2.Options)) (*ec2.ModifyLaunchTemplateOutput, error)
}

// groupsAPI is what Follower reads of the Auto Scaling groups (*autoscaling.Client).
type groupsAPI interface {
	DescribeAutoScalingGroups(ctx context.Context, params *autoscaling.DescribeAutoScalingGroupsInput, optFns ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error)
}

// parametersAPI reads the public image parameters (*ssm.Client).
type parametersAPI interface {
	GetParameter(ctx context.Context, params *ssm.GetParameterInput, optFns ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
}

var (
	_ instancesAPI  = (*ec2.Client)(nil)
	_ templatesAPI  = (*ec2.Client)(nil)
	_ groupsAPI     = (*autoscaling.Client)(nil)
	_ parametersAPI = (*ssm.Client)(nil)
)

// Batch limits of the APIs Follower pages by.
const (
	instancesBatch = 200 // DescribeInstances by instance IDs, kept well under the request's size
	groupsBatch    = 100 // DescribeAutoScalingGroups names per call (MaxRecords)
)

// Follower checks and fixes the launch templates behind a cluster. It is safe for concurrent use.
type Follower struct {
	// Clock stamps the fixes the Follower reports; nil is clock.Real. Set it before use.
	Clock clock.Clock

	instances  instancesAPI
	templates  templatesAPI
	groups     groupsAPI
	parameters parametersAPI
	now        func() time.Time // when set (tests), the time instead of Clock's
}

// New returns a Follower over the EC2, Auto Scaling and SSM clients.
func New(ec2c *ec2.Client, asc *autoscaling.Client, ssmc *ssm.Client) *Follower {
	return &Follower{instances: ec2c, templates: ec2c, groups: asc, parameters: ssmc}
}

// at is when a fix is reported: now's time, or Clock's.
func (f *Follower) at() time.Time {
	if f.now != nil {
		return f.now()
	}
	return clock.OrReal(f.Clock).Now()
}

// Request is one cluster whose every host runs Version.
type Request struct {
	Cluster string
	Version string
	Hosts   []Host
	Mode    Mode
	// DryRun changes nothing: what ModeUpdate would fix is WouldUpdate.
	DryRun bool
}

// Follow returns one Finding per Auto Scaling group behind req.Hosts (hosts without the group tag
// belong to none and are passed over), sorted by group, and with ModeUpdate fixes the drifted
// templates it may (package comment). An error is returned only when the hosts' groups cannot be
// read at all; a group whose template could not be read or fixed is left out of the findings and
// its error joined into the error returned with the others' findings, for the next scan to retry.
func (f *Follower) Follow(ctx context.Context, req Request) ([]Finding, error) {
	byGroup, err := f.groupsOf(ctx, req.Hosts)
	if err != nil {
		return nil, err
	}
	names := slices.Sorted(maps.Keys(byGroup))
	groups, err := f.describeGroups(ctx, names)
	if err != nil {
		return nil, err
	}
	images := map[string]string{} // parameter -> image ID, "" when not published
	var out []Finding
	var errs []error
	for _, name := range names {
		fd, err := f.follow(ctx, req, name, byGroup[name], groups[name], images)
		if err != nil {
			errs = append(errs, fmt.Errorf("group %s: %w", name, err))
			continue
		}
		fd.At = f.at()
		if fd.Message == "" {
			fd.Message = fd.describe()
		}
		out = append(out, fd)
	}
	return out, errors.Join(errs...)
}

// follow decides (and with ModeUpdate does) what becomes of one group's template.
func (f *Follower) follow(ctx context.Context, req Request, name string, hosts []Host, g *astypes.AutoScalingGroup, images map[string]string) (Finding, error) {
	fd := Finding{Cluster: req.Cluster, AutoScalingGroup: name, Version: req.Version, DryRun: req.DryRun}
	if g == nil {
		fd.Outcome, fd.Reason = LeftAlone, ReasonGroupNotFound
		fd.Message = fmt.Sprintf("group %s: its hosts carry its tag, and Auto Scaling does not know it", name)
		return fd, nil
	}
	spec := g.LaunchTemplate
	if spec == nil {
		fd.Outcome, fd.Reason = LeftAlone, ReasonNoLaunchTemplate
		fd.Message = fmt.Sprintf("group %s launches from a launch configuration or a mixed instances policy, which rollwave does not edit", name)
		return fd, nil
	}
	fd.LaunchTemplateID, fd.LaunchTemplateName = aws.ToString(spec.LaunchTemplateId), aws.ToString(spec.LaunchTemplateName)
	fd.GroupVersion = cmp.Or(aws.ToString(spec.Version), "$Default")
	kinds := map[Host]bool{}
	for _, h := range hosts {
		kinds[Host{Variant: h.Variant, Arch: h.Arch}] = true
	}
	if len(kinds) > 1 {
		fd.Outcome, fd.Reason = LeftAlone, ReasonMixedHosts
		fd.Message = fmt.Sprintf("group %s: its hosts are of %d variants or architectures, and its launch template holds one image", name, len(kinds))
		return fd, nil
	}
	fd.Variant, fd.Arch = hosts[0].Variant, hosts[0].Arch
	param := ImageParameter(fd.Variant, fd.Arch, req.Version)
	want, known := images[param]
	if !known {
		var err error
		if want, err = f.image(ctx, param); err != nil {
			return Finding{}, err
		}
		images[param] = want
	}
	if want == "" {
		fd.Outcome, fd.Reason = LeftAlone, ReasonImageNotPublished
		fd.Message = fmt.Sprintf("group %s: no image of Bottlerocket %s for %s on %s (no parameter %s)", name, req.Version, fd.Variant, fd.Arch, param)
		return fd, nil
	}
	fd.WantImageID = want
	v, err := f.templateVersion(ctx, spec, fd.GroupVersion)
	if err != nil {
		return Finding{}, err
	}
	fd.LaunchTemplateID, fd.LaunchTemplateName = aws.ToString(v.LaunchTemplateId), aws.ToString(v.LaunchTemplateName)
	fd.TemplateVersion = aws.ToInt64(v.VersionNumber)
	if v.LaunchTemplateData != nil {
		fd.ImageID = aws.ToString(v.LaunchTemplateData.ImageId)
	}
	fd.Outcome, fd.Reason = decide(fd.GroupVersion, fd.ImageID, want, req.Mode, req.DryRun)
	if fd.Outcome != Updated {
		return fd, nil
	}
	n, err := f.fix(ctx, fd)
	if err != nil {
		return Finding{}, err
	}
	fd.NewTemplateVersion = n
	return fd, nil
}

// fix creates the template version with only the image changed and, when the group launches
// $Default, makes it the default. It returns the new version's number.
func (f *Follower) fix(ctx context.Context, fd Finding) (int64, error) {
	out, err := f.templates.CreateLaunchTemplateVersion(ctx, &ec2.CreateLaunchTemplateVersionInput{
		LaunchTemplateId:   aws.String(fd.LaunchTemplateID),
		SourceVersion:      aws.String(strconv.FormatInt(fd.TemplateVersion, 10)),
		VersionDescription: aws.String("rollwave: Bottlerocket " + fd.Version),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String(fd.WantImageID)},
	})
	if err != nil {
		return 0, fmt.Errorf("create version of launch template %s: %w", fd.LaunchTemplateID, err)
	}
	n := aws.ToInt64(out.LaunchTemplateVersion.VersionNumber)
	if fd.GroupVersion != "$Default" {
		return n, nil
	}
	if _, err := f.templates.ModifyLaunchTemplate(ctx, &ec2.ModifyLaunchTemplateInput{
		LaunchTemplateId: aws.String(fd.LaunchTemplateID), DefaultVersion: aws.String(strconv.FormatInt(n, 10)),
	}); err != nil {
		return 0, fmt.Errorf("make version %d the default of launch template %s: %w", n, fd.LaunchTemplateID, err)
	}
	return n, nil
}

// groupsOf returns the hosts by the Auto Scaling group their EC2 tag names.
func (f *Follower) groupsOf(ctx context.Context, hosts []Host) (map[string][]Host, error) {
	byID := map[string]Host{}
	ids := make([]string, 0, len(hosts))
	for _, h := range hosts {
		byID[h.EC2InstanceID] = h
		ids = append(ids, h.EC2InstanceID)
	}
	out := map[string][]Host{}
	for batch := range slices.Chunk(ids, instancesBatch) {
		resp, err := f.instances.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: batch})
		if err != nil {
			return nil, fmt.Errorf("describe instances: %w", err)
		}
		for _, r := range resp.Reservations {
			for _, in := range r.Instances {
				for _, t := range in.Tags {
					if aws.ToString(t.Key) == GroupTag {
						g := aws.ToString(t.Value)
						out[g] = append(out[g], byID[aws.ToString(in.InstanceId)])
					}
				}
			}
		}
	}
	return out, nil
}

// describeGroups returns the named groups Auto Scaling knows, by name.
func (f *Follower) describeGroups(ctx context.Context, names []string) (map[string]*astypes.AutoScalingGroup, error) {
	out := map[string]*astypes.AutoScalingGroup{}
	for batch := range slices.Chunk(names, groupsBatch) {
		in := &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: batch, MaxRecords: aws.Int32(groupsBatch)}
		for {
			page, err := f.groups.DescribeAutoScalingGroups(ctx, in)
			if err != nil {
				return nil, fmt.Errorf("describe auto scaling groups: %w", err)
			}
			for i := range page.AutoScalingGroups {
				g := &page.AutoScalingGroups[i]
				out[aws.ToString(g.AutoScalingGroupName)] = g
			}
			if aws.ToString(page.NextToken) == "" {
				break
			}
			in.NextToken = page.NextToken
		}
	}
	return out, nil
}

// image returns the image ID of the public parameter, "" when it does not exist.
func (f *Follower) image(ctx context.Context, param string) (string, error) {
	out, err := f.parameters.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(param)})
	var nf *ssmtypes.ParameterNotFound
	switch {
	case errors.As(err, &nf):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("get parameter %s: %w", param, err)
	}
	return aws.ToString(out.Parameter.Value), nil
}

// templateVersion returns the version of the group's template that ref ($Latest, $Default, a
// number) names.
func (f *Follower) templateVersion(ctx context.Context, spec *astypes.LaunchTemplateSpecification, ref string) (ec2types.LaunchTemplateVersion, error) {
	in := &ec2.DescribeLaunchTemplateVersionsInput{Versions: []string{ref}}
	if spec.LaunchTemplateId != nil {
		in.LaunchTemplateId = spec.LaunchTemplateId
	} else {
		in.LaunchTemplateName = spec.LaunchTemplateName
	}
	name := cmp.Or(aws.ToString(spec.LaunchTemplateId), aws.ToString(spec.LaunchTemplateName))
	out, err := f.templates.DescribeLaunchTemplateVersions(ctx, in)
	if err != nil {
		return ec2types.LaunchTemplateVersion{}, fmt.Errorf("describe version %s of launch template %s: %w", ref, name, err)
	}
	if len(out.LaunchTemplateVersions) != 1 {
		return ec2types.LaunchTemplateVersion{}, fmt.Errorf("describe version %s of launch template %s: %d versions answered, want 1", ref, name, len(out.LaunchTemplateVersions))
	}
	return out.LaunchTemplateVersions[0], nil
}

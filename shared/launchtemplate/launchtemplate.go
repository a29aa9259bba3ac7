// Package launchtemplate follows a cluster's completed in-place rollout into the launch templates
// of the Auto Scaling groups behind it, so that the instances they launch start on the version the
// fleet was updated to, not on the image the template was written with.
//
// When every host of a cluster runs one Bottlerocket version, Follower finds each host's group
// (its EC2 tag aws:autoscaling:groupName), the launch template and version the group launches
// from, and the image of that version for the hosts' variant and architecture (the public SSM
// parameter /aws/service/bottlerocket/<variant>/<arch>/<version>/image_id). A template that
// launches another image has drifted. With the opt-in (ModeUpdate) it is fixed: a new template
// version with only the image changed (CreateLaunchTemplateVersion with SourceVersion), made the
// template's default when the group launches $Default; a group that launches $Latest takes the
// new version by itself. Two kinds of template are reported and left alone: one whose image is a
// resolve:ssm: parameter (the parameter, not rollwave, chooses the image), and one the group pins
// to a version number (the pin is a person's decision). Nothing here starts an instance refresh:
// the running instances are already current, and the new version only changes what is launched.
package launchtemplate

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// GroupTag is the EC2 tag Auto Scaling puts on the instances of a group, naming it.
const GroupTag = "aws:autoscaling:groupName"

// ImageParameter returns the public SSM parameter that holds the AMI ID of Bottlerocket version
// for variant and arch (an ECS cpu-architecture: x86_64 or arm64).
func ImageParameter(variant, arch, version string) string {
	return "/aws/service/bottlerocket/" + variant + "/" + arch + "/" + strings.TrimPrefix(version, "v") + "/image_id"
}

// Mode is what rollwave does about a drifted launch template (ROLLWAVE_LAUNCH_TEMPLATES).
type Mode string

const (
	// ModeOff: the launch templates are not looked at.
	ModeOff Mode = "off"
	// ModeReport: drift is reported (an event, a metric), nothing is changed. The default.
	ModeReport Mode = "report"
	// ModeUpdate: drift is reported and fixed, except where the template or the group says a
	// person chooses the image (resolve:ssm:, a pinned version).
	ModeUpdate Mode = "update"
)

// ParseMode parses a Mode; "" is ModeReport.
func ParseMode(s string) (Mode, error) {
	switch Mode(s) {
	case "":
		return ModeReport, nil
	case ModeOff, ModeReport, ModeUpdate:
		return Mode(s), nil
	}
	return "", fmt.Errorf("%q is not off, report or update", s)
}

// Host is one host of the cluster, all of whose hosts run the rollout's version.
type Host struct {
	EC2InstanceID string
	// Variant is the Bottlerocket variant (the ECS attribute bottlerocket.variant), Arch the
	// architecture as the public parameters spell it (ecs.cpu-architecture: x86_64, arm64).
	Variant, Arch string
}

// Outcome is what became of one group's launch template.
type Outcome string

const (
	// Current: the template launches the version's image. No event.
	Current Outcome = "current"
	// Drifted: it launches another image; ModeReport changes nothing.
	Drifted Outcome = "drifted"
	// Updated: a new template version with the version's image was created and is what the
	// group launches now.
	Updated Outcome = "updated"
	// WouldUpdate: Updated, in a dry run: nothing was changed.
	WouldUpdate Outcome = "would-update"
	// LeftAlone: drift that rollwave does not fix, for Reason.
	LeftAlone Outcome = "left-alone"
)

// Reasons a drifted (or unknowable) template is left alone.
const (
	// ReasonResolveSSM: the template's image is resolve:ssm:<parameter>, resolved at each launch.
	ReasonResolveSSM = "resolve-ssm"
	// ReasonPinnedVersion: the group launches a numbered template version, not $Latest or $Default.
	ReasonPinnedVersion = "pinned-version"
	// ReasonNoLaunchTemplate: the group launches from a launch configuration or a mixed
	// instances policy, which rollwave does not edit.
	ReasonNoLaunchTemplate = "no-launch-template"
	// ReasonMixedHosts: the group's hosts are of several variants or architectures, and one
	// template holds one image.
	ReasonMixedHosts = "mixed-hosts"
	// ReasonImageNotPublished: no public parameter names an image of the version for the
	// variant and architecture.
	ReasonImageNotPublished = "image-not-published"
	// ReasonGroupNotFound: the hosts' group tag names a group Auto Scaling does not know.
	ReasonGroupNotFound = "group-not-found"
)

// Finding is what Follow found of one Auto Scaling group's launch template, and what it did. It is
// the detail of the event "Launch Template Drift" (docs/events.md).
type Finding struct {
	Cluster          string `json:"cluster"`
	AutoScalingGroup string `json:"autoScalingGroup"`
	// LaunchTemplateID and LaunchTemplateName name the template the group launches from.
	LaunchTemplateID   string `json:"launchTemplateId,omitempty"`
	LaunchTemplateName string `json:"launchTemplateName,omitempty"`
	// GroupVersion is the template version as the group references it: $Latest, $Default or a
	// number; TemplateVersion the version number it resolved to.
	GroupVersion    string `json:"groupVersion,omitempty"`
	TemplateVersion int64  `json:"templateVersion,omitempty"`
	// Version is the Bottlerocket version every host of the cluster runs, for Variant and Arch.
	Version string `json:"version"`
	Variant string `json:"variant,omitempty"`
	Arch    string `json:"arch,omitempty"`
	// ImageID is the image the template launches (a resolve:ssm: reference as written);
	// WantImageID the version's image.
	ImageID     string  `json:"imageId,omitempty"`
	WantImageID string  `json:"wantImageId,omitempty"`
	Outcome     Outcome `json:"outcome"`
	Reason      string  `json:"reason,omitempty"`
	// NewTemplateVersion is the version created (Updated).
	NewTemplateVersion int64     `json:"newTemplateVersion,omitempty"`
	DryRun             bool      `json:"dryRun,omitempty"`
	Message            string    `json:"message"`
	At                 time.Time `json:"at"`
}

// Drift reports whether the finding is worth an event: anything but Current.
func (f Finding) Drift() bool { return f.Outcome != Current }

// decide is what to do about a template version that launches image, referenced by the group as
// ref, when the version's image is want.
func decide(ref, image, want string, mode Mode, dryRun bool) (Outcome, string) {
	switch {
	case strings.HasPrefix(image, "resolve:ssm:"):
		return LeftAlone, ReasonResolveSSM
	case image == want:
		return Current, ""
	case isNumber(ref):
		return LeftAlone, ReasonPinnedVersion
	case mode != ModeUpdate:
		return Drifted, ""
	case dryRun:
		return WouldUpdate, ""
	}
	return Updated, ""
}

// isNumber reports whether a group's template version is a version number (a pin).
func isNumber(ref string) bool {
	_, err := strconv.ParseInt(ref, 10, 64)
	return err == nil
}

// describe is the finding's message for people.
func (f Finding) describe() string {
	tmpl := f.LaunchTemplateName
	if tmpl == "" {
		tmpl = f.LaunchTemplateID
	}
	head := fmt.Sprintf("group %s: launch template %s (%s, version %d) launches %s, Bottlerocket %s (%s, %s) is %s",
		f.AutoScalingGroup, tmpl, f.GroupVersion, f.TemplateVersion, f.ImageID, f.Version, f.Variant, f.Arch, f.WantImageID)
	switch f.Outcome {
	case Current:
		return head
	case Drifted:
		return head + "; left as it is (launch templates: report)"
	case WouldUpdate:
		return head + "; dry run: would create a version with only the image changed" + defaultNote(f.GroupVersion)
	case Updated:
		return head + fmt.Sprintf("; created version %d with only the image changed", f.NewTemplateVersion) + defaultNote(f.GroupVersion)
	}
	switch f.Reason {
	case ReasonResolveSSM:
		return head + "; left alone: the image is resolved from an SSM parameter at each launch"
	case ReasonPinnedVersion:
		return head + "; left alone: the group is pinned to version " + f.GroupVersion + ", a person's choice"
	}
	return f.Message
}

// defaultNote says how the group gets the new version.
func defaultNote(ref string) string {
	if ref == "$Latest" {
		return ", which the group launches as $Latest"
	}
	return ", made the template's default, which the group launches"
}

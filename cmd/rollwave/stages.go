package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/history"
	"github.com/rollwave/rollwave/shared/policy"
	"github.com/rollwave/rollwave/shared/promotion"
	"github.com/rollwave/rollwave/shared/update"
)

// stageStatus is one stage of a staged promotion (ROLLWAVE_STAGES) as status shows it.
type stageStatus struct {
	Stage    string   `json:"stage"`
	Clusters []string `json:"clusters"`
	Bake     string   `json:"bake"`
	// Version is the version the stage's newest job went to, from the history; "" when none.
	Version string `json:"version,omitempty"`
	// State is halted, updating (an instance has a job), baking, baked, or idle (nothing
	// verified there yet).
	State string `json:"state"`
	// WithJob counts the stage's instances that carry rollwave.job.
	WithJob int `json:"instancesWithJob"`
	// HeldByPromotion counts its instances whose job waits for the promotion gate.
	HeldByPromotion int       `json:"heldByPromotion"`
	LastVerified    time.Time `json:"lastVerified,omitzero"`
	// BakeRemaining is how long the stage still bakes, while it bakes.
	BakeRemaining string          `json:"bakeRemaining,omitempty"`
	Halt          *promotion.Halt `json:"halt,omitempty"`
	// Gates says what a job of the stage waits for before it drains.
	Gates []string `json:"gates"`
}

// stages reads the promotion of plan: each stage's instances (their jobs, waits and
// verifications), the halts on the drainer queue's tags at drainer, and the version from the
// history's records.
func (a *app) stages(ctx context.Context, cl *clients, plan promotion.Plan, drainer string, records []history.Record, now time.Time) ([]stageStatus, error) {
	tags, err := cl.sqs.ListQueueTags(ctx, &sqs.ListQueueTagsInput{QueueUrl: &drainer})
	if err != nil {
		return nil, fmt.Errorf("list tags of queue %s: %w", drainer, err)
	}
	halts := map[string]promotion.Halt{}
	for _, h := range promotion.ParseHalts(tags.Tags) {
		halts[h.Stage] = h
	}
	// The deployment's gate alarms, as this shell's environment names them (the drainer's, when
	// the operator has them at hand), and each cluster's own (ROLLWAVE_CLUSTER_POLICIES; none
	// when the policies do not load: status reports them elsewhere).
	var deployment []string
	if names := strings.TrimSpace(a.getenv("ROLLWAVE_ALARM_NAMES")); names != "" {
		deployment = append(deployment, names)
	}
	if p := strings.TrimSpace(a.getenv("ROLLWAVE_ALARM_PREFIX")); p != "" {
		deployment = append(deployment, p+"*")
	}
	policies, _ := policy.Load(a.getenv)
	var out []stageStatus
	for i, st := range plan.Stages {
		s := stageStatus{Stage: st.Name, Clusters: st.Clusters, Bake: st.Bake.String(), Gates: []string{}}
		var newest time.Time
		for _, r := range records {
			if r.ToVersion != "" && contains(st.Clusters, r.Cluster) && !r.At.Before(newest) {
				newest, s.Version = r.At, r.ToVersion
			}
		}
		for _, c := range st.Clusters {
			ins, err := cl.ecs.ListInstances(ctx, c, "", "")
			if errors.Is(err, cluster.ErrClusterNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			for _, in := range ins {
				if in.Attributes[update.AttrJob] != "" {
					s.WithJob++
				}
				if w, err := update.ParseWaiting(in.Attributes[update.AttrWaiting]); err == nil && w.Reason == update.WaitPromotion {
					s.HeldByPromotion++
				}
				if at, err := time.Parse(time.RFC3339, in.Attributes[update.AttrVerifiedAt]); err == nil && at.After(s.LastVerified) {
					s.LastVerified = at
				}
			}
		}
		if h, ok := halts[st.Name]; ok {
			s.Halt = &h
		}
		switch end := s.LastVerified.Add(st.Bake); {
		case s.Halt != nil:
			s.State = "halted"
		case s.WithJob > 0:
			s.State = "updating"
		case s.LastVerified.IsZero():
			s.State = "idle"
		case now.Before(end):
			s.State, s.BakeRemaining = "baking", end.Sub(now).Round(time.Second).String()
		default:
			s.State = "baked"
		}
		if i > 0 {
			s.Gates = append(s.Gates, fmt.Sprintf("starts on a version once stage %s has taken it and baked", plan.Stages[i-1].Name))
			for _, prev := range plan.Stages[:i] {
				if h, ok := halts[prev.Name]; ok {
					s.Gates = append(s.Gates, fmt.Sprintf("held: promotion of %s halted at stage %s (%s); rollwave resume lifts it", h.Version, prev.Name, h.Summary()))
				}
			}
		}
		if alarms := append(slices.Clone(deployment), ownAlarms(policies, st.Clusters)...); len(alarms) > 0 && st.Bake > 0 && i < len(plan.Stages)-1 {
			s.Gates = append(s.Gates, "gate alarms ("+strings.Join(alarms, ", ")+") in ALARM during its bake halt the promotion")
		}
		out = append(out, s)
	}
	return out, nil
}

// printStages writes the stages section of status.
func printStages(w io.Writer, stages []stageStatus) {
	if len(stages) == 0 {
		return
	}
	fmt.Fprintln(w, "\nStages (ROLLWAVE_STAGES), in order:")
	for _, s := range stages {
		line := fmt.Sprintf("  %s (%s; bake %s): %s", s.Stage, strings.Join(s.Clusters, ", "), s.Bake, s.State)
		if s.Version != "" {
			line += ", version " + s.Version
		}
		switch {
		case s.BakeRemaining != "":
			line += ", " + s.BakeRemaining + " of bake left"
		case s.WithJob > 0:
			line += fmt.Sprintf(", %d instances with a job", s.WithJob)
		}
		if s.HeldByPromotion > 0 {
			line += fmt.Sprintf(", %d held by the promotion", s.HeldByPromotion)
		}
		fmt.Fprintln(w, line)
		if s.Halt != nil {
			fmt.Fprintf(w, "    HALTED: promotion of %s: %s\n", s.Halt.Version, s.Halt.Summary())
		}
		for _, g := range s.Gates {
			fmt.Fprintf(w, "    gate: %s\n", g)
		}
	}
}

// ownAlarms are the gate alarms of the clusters' own in policies (alarmNames, alarmPrefix as
// "p*").
func ownAlarms(policies policy.Set, clusters []string) []string {
	var out []string
	for _, c := range clusters {
		p := policies.Clusters[update.ClusterName(c)]
		out = append(out, p.AlarmNames...)
		if p.AlarmPrefix != "" {
			out = append(out, p.AlarmPrefix+"*")
		}
	}
	return out
}

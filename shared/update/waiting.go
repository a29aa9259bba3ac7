package update

import (
	"fmt"
	"strings"
	"time"
)

// AttrWaiting records, on an instance whose job the drainer holds before admission, why the job
// waits, since when, and when the drainer last warned about it: "paused since
// 2025-06-02T09:00:02Z", later "paused since 2025-06-02T09:00:02Z warned 2025-06-02T09:15:04Z"
// (Waiting.String). It is one attribute, not three, because ECS allows 10 custom attributes per
// instance and every fact of the wait changes in the same write. The drainer writes it only when
// the wait begins, its reason changes or a warning is due, never on every look, and removes it
// when it admits the job; ending the job removes it with the other marks. `rollwave status` reads
// it, so that a person sees why an instance waits without reading queues.
const AttrWaiting = "rollwave.waiting"

// WaitReason says why a job is held before its drain (by the patcher before staging for
// version-not-offered, by the drainer before admission for the others): a short, stable code for logs
// (field reason), the JobsWaiting metric's Reason dimension, the "Instance Update Waiting" event
// and the rollwave.waiting attribute.
type WaitReason string

// The reasons a job waits, in the order they are asked (docs/job.md).
const (
	WaitVersionNotOffered WaitReason = "version-not-offered" // the host's update check does not offer the rollout's version yet (its wave)
	WaitPaused            WaitReason = "paused"              // a person paused the cluster or every cluster
	WaitHalted            WaitReason = "halted"              // rollwave halted the cluster (error budget, failed health gate)
	WaitPauseUnknown      WaitReason = "pause-unknown"       // the pause state could not be read, which is not "go"
	WaitAlarm             WaitReason = "alarm"               // a gate alarm is in ALARM, or its state could not be read
	WaitWindow            WaitReason = "window"              // outside the cluster's maintenance window
	WaitPromotion         WaitReason = "promotion"           // an earlier stage has not taken the job's version and baked yet, or its promotion halted
	WaitHealthGate        WaitReason = "health-gate"         // the last updates have not proven healthy yet
	WaitCapacity          WaitReason = "capacity"            // the other instances cannot host the tasks
	WaitClusterLimit      WaitReason = "cluster-limit"       // the cluster has as many instances out of service as allowed
	WaitGlobalLimit       WaitReason = "global-limit"        // every cluster together has as many out of service as allowed
)

// WaitReasons are the reasons above, in order.
var WaitReasons = []WaitReason{WaitVersionNotOffered, WaitPaused, WaitHalted, WaitPauseUnknown, WaitAlarm, WaitWindow, WaitPromotion, WaitHealthGate, WaitCapacity, WaitClusterLimit, WaitGlobalLimit}

// Waiting is a job's wait before admission as rollwave.waiting records it. The zero Waiting is
// "not waiting".
type Waiting struct {
	Reason WaitReason
	// Since is when the job began to wait, for whatever reason: a change of reason keeps it, so
	// that a job bouncing between the cluster limit and capacity still warns.
	Since time.Time
	// Warned is when the drainer last warned about the wait; zero before the first warning, which
	// is the one that publishes "Instance Update Waiting".
	Warned time.Time
}

// String is the attribute's value: "<reason> since <RFC 3339>" and " warned <RFC 3339>" once
// warned, in UTC to the second (ECS allows letters, digits, '-', ':' and spaces in a value).
func (w Waiting) String() string {
	s := fmt.Sprintf("%s since %s", w.Reason, w.Since.UTC().Format(time.RFC3339))
	if !w.Warned.IsZero() {
		s += " warned " + w.Warned.UTC().Format(time.RFC3339)
	}
	return s
}

// ParseWaiting reads a rollwave.waiting value written by Waiting.String.
func ParseWaiting(s string) (Waiting, error) {
	f := strings.Fields(s)
	if (len(f) != 3 && len(f) != 5) || f[1] != "since" || (len(f) == 5 && f[3] != "warned") {
		return Waiting{}, fmt.Errorf("parse %s %q: want \"<reason> since <time>\", optionally followed by \"warned <time>\"", AttrWaiting, s)
	}
	w := Waiting{Reason: WaitReason(f[0])}
	var err error
	if w.Since, err = time.Parse(time.RFC3339, f[2]); err != nil {
		return Waiting{}, fmt.Errorf("parse %s %q: %w", AttrWaiting, s, err)
	}
	if len(f) == 5 {
		if w.Warned, err = time.Parse(time.RFC3339, f[4]); err != nil {
			return Waiting{}, fmt.Errorf("parse %s %q: %w", AttrWaiting, s, err)
		}
	}
	return w, nil
}

// WaitLook is what one look at a held job decides about its wait.
type WaitLook struct {
	// Waiting is the wait as it stands after this look.
	Waiting Waiting
	// Changed says that Waiting differs from what the instance records: write rollwave.waiting.
	Changed bool
	// Warn says that the job has waited for the threshold and no warning was given within the
	// last threshold: log a warning and count the job in JobsWaiting.
	Warn bool
	// Announce says that this warning is the wait's first: publish "Instance Update Waiting".
	Announce bool
	// NextWarning is when the next warning is due, so that the job looks again by then.
	NextWarning time.Time
}

// Look decides, at now, about a job that must wait for reason, whose instance records prev (the
// zero Waiting when it records none, or a value that did not parse). The wait begins at its first
// look; it warns once it has lasted threshold, then again every threshold while it lasts, each
// warning given once whichever drainer looks and however often (the instance records the last
// one); the first warning is announced.
func (prev Waiting) Look(reason WaitReason, now time.Time, threshold time.Duration) WaitLook {
	now = now.UTC().Truncate(time.Second) // the attribute's precision: a re-read must decide the same
	w := prev
	if w.Since.IsZero() {
		w = Waiting{Since: now}
	}
	w.Reason = reason
	l := WaitLook{}
	due := w.Since.Add(threshold)
	if !w.Warned.IsZero() {
		due = w.Warned.Add(threshold)
	}
	if !now.Before(due) {
		l.Warn, l.Announce = true, w.Warned.IsZero()
		w.Warned = now
		due = now.Add(threshold)
	}
	l.Waiting, l.NextWarning = w, due
	l.Changed = w.Reason != prev.Reason || !w.Since.Equal(prev.Since) || !w.Warned.Equal(prev.Warned)
	return l
}

// Waited is how long the job has waited at now.
func (w Waiting) Waited(now time.Time) time.Duration {
	return max(now.Sub(w.Since), 0)
}

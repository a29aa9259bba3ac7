package patch

import (
	"testing"

	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/update"
)

func TestOptedOutInstanceIsSkippedUntouched(t *testing.T) {
	for _, tc := range []struct {
		name  string
		value string
		dry   bool
	}{
		{"any value", "true", false},
		{"an empty value", "", false},
		{"a dry run", "yes", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, &bottlerocketHost{state: "Available", active: "1.19.5", new: "1.20.3"}, map[string]string{update.AttrOptOut: tc.value})
			job := handJob()
			job.DryRun = tc.dry
			w.handle(t, job)
			last := ""
			if n := len(w.rec.events); n > 0 {
				last = w.rec.events[n-1]
			}
			want := notify.InstanceUpdateSkipped + ": opted-out"
			if tc.dry {
				want = notify.InstanceUpdateSkipped + ": dry-run"
			}
			if last != want {
				t.Errorf("events = %v, want the job to end %q", w.rec.events, want)
			}
			if a := w.attrs(t); a[update.AttrJob] != "" || a[update.AttrStage] != "" {
				t.Errorf("attributes = %v, want no marks", a)
			}
			if w.host.state != "Available" || len(w.ssm.Commands()) != 0 || w.drained(t) {
				t.Errorf("host state %s, %d commands, drained %t: want nothing sent to an opted-out instance", w.host.state, len(w.ssm.Commands()), w.drained(t))
			}
			if len(w.rec.jobs) != 0 {
				t.Errorf("forwarded %d jobs, want none", len(w.rec.jobs))
			}
		})
	}
}

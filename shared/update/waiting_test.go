package update

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestWaitingAttributeRoundTrips(t *testing.T) {
	since := time.Date(2025, 6, 2, 9, 0, 2, 0, time.UTC)
	for _, tc := range []struct {
		w    Waiting
		want string
	}{
		{Waiting{Reason: WaitPaused, Since: since}, "paused since 2025-06-02T09:00:02Z"},
		{Waiting{Reason: WaitClusterLimit, Since: since, Warned: since.Add(15 * time.Minute)}, "cluster-limit since 2025-06-02T09:00:02Z warned 2025-06-02T09:15:02Z"},
		{Waiting{Reason: WaitWindow, Since: since.In(time.FixedZone("CEST", 2*3600))}, "window since 2025-06-02T09:00:02Z"},
	} {
		if got := tc.w.String(); got != tc.want {
			t.Errorf("%+v.String() = %q, want %q", tc.w, got, tc.want)
		}
		back, err := ParseWaiting(tc.want)
		if err != nil {
			t.Fatalf("ParseWaiting(%q): %v", tc.want, err)
		}
		if back.Reason != tc.w.Reason || !back.Since.Equal(tc.w.Since) || !back.Warned.Equal(tc.w.Warned) {
			t.Errorf("ParseWaiting(%q) = %+v, want %+v", tc.want, back, tc.w)
		}
		if len(tc.want) > 128 {
			t.Errorf("%q is longer than the 128 characters of an ECS attribute value", tc.want)
		}
	}
}

func TestParseWaitingRefusesWhatItDidNotWrite(t *testing.T) {
	for _, s := range []string{
		"", "paused", "paused since", "paused since yesterday", "paused at 2025-06-02T09:00:02Z",
		"paused since 2025-06-02T09:00:02Z warned", "paused since 2025-06-02T09:00:02Z warned never",
		"paused since 2025-06-02T09:00:02Z told 2025-06-02T09:00:02Z",
	} {
		if w, err := ParseWaiting(s); err == nil {
			t.Errorf("ParseWaiting(%q) = %+v, want an error", s, w)
		}
	}
}

// TestWaitLook reads like the rule: a wait begins at its first look, warns once it has lasted the
// threshold and again every threshold after, announces only its first warning, and keeps its start
// when its reason changes.
func TestWaitLook(t *testing.T) {
	const threshold = 15 * time.Minute
	t0 := time.Date(2025, 6, 2, 9, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	for _, tc := range []struct {
		name   string
		prev   Waiting
		reason WaitReason
		now    time.Time
		want   WaitLook
	}{
		{
			name: "first look begins the wait", reason: WaitPaused, now: at(0),
			want: WaitLook{Waiting: Waiting{Reason: WaitPaused, Since: t0}, Changed: true, NextWarning: at(threshold)},
		},
		{
			name: "sub-second time is cut to the attribute's precision", reason: WaitPaused, now: at(700 * time.Millisecond),
			want: WaitLook{Waiting: Waiting{Reason: WaitPaused, Since: t0}, Changed: true, NextWarning: at(threshold)},
		},
		{
			name: "a look before the threshold changes nothing", prev: Waiting{Reason: WaitPaused, Since: t0}, reason: WaitPaused, now: at(threshold - time.Second),
			want: WaitLook{Waiting: Waiting{Reason: WaitPaused, Since: t0}, NextWarning: at(threshold)},
		},
		{
			name: "the look at the threshold warns and announces", prev: Waiting{Reason: WaitPaused, Since: t0}, reason: WaitPaused, now: at(threshold),
			want: WaitLook{Waiting: Waiting{Reason: WaitPaused, Since: t0, Warned: at(threshold)}, Changed: true, Warn: true, Announce: true, NextWarning: at(2 * threshold)},
		},
		{
			name: "a look long after the threshold warns from now on", prev: Waiting{Reason: WaitWindow, Since: t0}, reason: WaitWindow, now: at(3 * time.Hour),
			want: WaitLook{Waiting: Waiting{Reason: WaitWindow, Since: t0, Warned: at(3 * time.Hour)}, Changed: true, Warn: true, Announce: true, NextWarning: at(3*time.Hour + threshold)},
		},
		{
			name: "within a threshold of the last warning: quiet", prev: Waiting{Reason: WaitPaused, Since: t0, Warned: at(threshold)}, reason: WaitPaused, now: at(2*threshold - time.Second),
			want: WaitLook{Waiting: Waiting{Reason: WaitPaused, Since: t0, Warned: at(threshold)}, NextWarning: at(2 * threshold)},
		},
		{
			name: "a threshold after the last warning: warns again, not announced", prev: Waiting{Reason: WaitPaused, Since: t0, Warned: at(threshold)}, reason: WaitPaused, now: at(2 * threshold),
			want: WaitLook{Waiting: Waiting{Reason: WaitPaused, Since: t0, Warned: at(2 * threshold)}, Changed: true, Warn: true, NextWarning: at(3 * threshold)},
		},
		{
			name: "a new reason keeps the start", prev: Waiting{Reason: WaitCapacity, Since: t0}, reason: WaitClusterLimit, now: at(time.Minute),
			want: WaitLook{Waiting: Waiting{Reason: WaitClusterLimit, Since: t0}, Changed: true, NextWarning: at(threshold)},
		},
		{
			name: "a new reason past the threshold warns with it", prev: Waiting{Reason: WaitCapacity, Since: t0}, reason: WaitClusterLimit, now: at(threshold),
			want: WaitLook{Waiting: Waiting{Reason: WaitClusterLimit, Since: t0, Warned: at(threshold)}, Changed: true, Warn: true, Announce: true, NextWarning: at(2 * threshold)},
		},
		{
			name: "a new reason after the announcement is not announced again", prev: Waiting{Reason: WaitPaused, Since: t0, Warned: at(threshold)}, reason: WaitWindow, now: at(threshold + time.Minute),
			want: WaitLook{Waiting: Waiting{Reason: WaitWindow, Since: t0, Warned: at(threshold)}, Changed: true, NextWarning: at(2 * threshold)},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.prev.Look(tc.reason, tc.now, threshold)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%+v.Look(%s, %s) (-want +got):\n%s", tc.prev, tc.reason, tc.now.Format(time.TimeOnly), diff)
			}
		})
	}
}

// TestDocListsEveryWaitReason keeps docs/job.md honest: every reason is in its table, and every
// rollwave.waiting value it shows is one ParseWaiting reads.
func TestDocListsEveryWaitReason(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "job.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range WaitReasons {
		if !strings.Contains(string(doc), "| `"+string(r)+"` |") {
			t.Errorf("wait reason %q is not in the table of docs/job.md", r)
		}
	}
	_, section, _ := strings.Cut(string(doc), "## Waiting for admission")
	_, block, _ := strings.Cut(section, "```\n")
	block, _, _ = strings.Cut(block, "```")
	if strings.TrimSpace(block) == "" {
		t.Fatal("docs/job.md shows no rollwave.waiting value")
	}
	for line := range strings.Lines(block) {
		if _, err := ParseWaiting(line); err != nil {
			t.Errorf("docs/job.md shows %q: %v", strings.TrimSpace(line), err)
		}
	}
}

package main

import (
	"encoding/json"
	"image/color"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rollwave/rollwave/shared/report"
	"github.com/rollwave/rollwave/tools/harness"
)

// loadOutcome reads an outcome.json that make demo wrote.
func loadOutcome(t *testing.T, path string) Outcome {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var o Outcome
	if err := json.Unmarshal(b, &o); err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	return o
}

// testdata/rollout.json is the outcome of a make demo of the default scenario at ×60, limit 1:
// seven instances updated one cluster-slot at a time, i-00f00000000000001 skipped for its
// standalone task.
func TestOutcomeRollout(t *testing.T) {
	o := loadOutcome(t, "testdata/rollout.json")
	r := o.Rollout()
	if !r.Start.Equal(o.ScanRequested) {
		t.Errorf("Rollout().Start = %s, want the scan request's %s", r.Start, o.ScanRequested)
	}
	got := map[string]string{}
	for _, in := range r.Instances {
		got[in.ID] = string(in.Outcome) + ": " + in.Detail
	}
	want := map[string]string{
		"i-00f00000000000001": "skipped: a task that no service started runs there (standalone-task)",
		"i-00f00000000000002": "updated: 1.19.5 → 1.20.3",
		"i-00f00000000000003": "updated: 1.19.5 → 1.20.3",
		"i-00f00000000000004": "updated: 1.19.5 → 1.20.3",
		"i-00f00000000000005": "updated: 1.19.5 → 1.20.3",
		"i-00f00000000000006": "updated: 1.19.5 → 1.20.3",
		"i-00f00000000000007": "updated: 1.19.5 → 1.20.3",
		"i-00f00000000000008": "updated: 1.19.5 → 1.20.3",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Rollout() outcomes mismatch (-want +got):\n%s", diff)
	}
	var limits []string
	for _, c := range r.Clusters {
		limits = append(limits, c.Name+" "+strconv.Itoa(c.Limit))
	}
	if diff := cmp.Diff([]string{"prod 1", "staging 1"}, limits); diff != "" {
		t.Errorf("Rollout() limits mismatch (-want +got):\n%s", diff)
	}
}

// TestRolloutPageInChromium draws make demo's page of testdata/rollout.json, opens it in headless
// Chromium and counts what it shows: one drain bar and one reboot bar in the row of each updated
// instance, none in the skipped one's, and as many drain bars in the screenshot as instances
// updated.
func TestRolloutPageInChromium(t *testing.T) {
	o := loadOutcome(t, "testdata/rollout.json")
	path := filepath.Join(t.TempDir(), "rollout.html")
	if err := writeRolloutPage(path, o); err != nil {
		t.Fatalf("writeRolloutPage: %v", err)
	}
	page := harness.RenderPage(t, path, 1700, 1000)

	rowRe := regexp.MustCompile(`(?s)<g class="row" data-instance="([^"]+)"[^>]*>(.*?)</g>`)
	got := map[string]string{}
	for _, m := range rowRe.FindAllStringSubmatch(page.DOM, -1) {
		got[m[1]] = strconv.Itoa(strings.Count(m[2], `class="bar drain"`)) + " drain, " +
			strconv.Itoa(strings.Count(m[2], `class="bar reboot"`)) + " reboot"
	}
	want := map[string]string{"i-00f00000000000001": "0 drain, 0 reboot"}
	for i := 2; i <= 8; i++ {
		want["i-00f0000000000000"+strconv.Itoa(i)] = "1 drain, 1 reboot"
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("bars per row in Chromium's DOM mismatch (-want +got):\n%s", diff)
	}
	if !strings.Contains(page.DOM, "skipped: a task that no service started runs there (standalone-task)") {
		t.Error("the page does not say in words why i-00f00000000000001 was skipped")
	}

	v, _ := strconv.ParseUint(strings.TrimPrefix(report.Colors[report.Drain], "#"), 16, 32)
	drain := color.NRGBA{R: uint8(v >> 16), G: uint8(v >> 8), B: uint8(v), A: 255}
	bars := 0
	for _, b := range harness.Blobs(page.Screenshot, drain, 3) {
		if b.Dy() == report.BarHeight {
			bars++
		}
	}
	if bars != 7 {
		t.Errorf("the screenshot shows %d drain bars, want 7, one per updated instance", bars)
	}
}

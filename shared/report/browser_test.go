package report

import (
	"image"
	"image/color"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rollwave/rollwave/tools/harness"
)

// rowRe finds each instance's row in the DOM Chromium built; barRe each bar in a row.
var (
	rowRe  = regexp.MustCompile(`(?s)<g class="row" data-instance="([^"]+)"[^>]*>(.*?)</g>`)
	barRe  = regexp.MustCompile(`<rect class="bar ([a-z]+)"`)
	tickRe = regexp.MustCompile(`<text class="tick" [^>]*>([^<]+)</text>`)
	textRe = regexp.MustCompile(`<text class="outcome[^"]*"[^>]*>([^<]*)</text>`)
)

// TestPageInChromium draws the sample rollout, opens the page in headless Chromium and checks
// what it shows: one drain bar and one reboot bar per updated instance and none for the skipped
// one, the skipped instance's reason in words, the time axis's labels, each cluster's limit,
// and, in the screenshot, as many orange drain bars and red reboot bars as instances updated.
func TestPageInChromium(t *testing.T) {
	r := sample()
	path := filepath.Join(t.TempDir(), "rollout.html")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteHTML(f, r); err != nil {
		t.Fatalf("WriteHTML: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	page := harness.RenderPage(t, path, 1700, 900)

	bars := map[string][]string{}
	outcome := map[string]string{}
	for _, m := range rowRe.FindAllStringSubmatch(page.DOM, -1) {
		bars[m[1]] = []string{}
		for _, b := range barRe.FindAllStringSubmatch(m[2], -1) {
			bars[m[1]] = append(bars[m[1]], b[1])
		}
		if o := textRe.FindStringSubmatch(m[2]); o != nil {
			outcome[m[1]] = o[1]
		}
	}
	update := []string{"staging", "waiting", "drain", "waiting", "reboot", "verify"}
	wantBars := map[string][]string{
		"i-0000000000000001": update,
		"i-0000000000000002": update,
		"i-0000000000000003": {},
		"i-0000000000000004": update,
	}
	if diff := cmp.Diff(wantBars, bars); diff != "" {
		t.Errorf("bars per instance row in Chromium's DOM mismatch (-want +got):\n%s", diff)
	}
	if got, want := outcome["i-0000000000000003"], "skipped: a task that no service started runs there (standalone-task)"; got != want {
		t.Errorf("the skipped instance's row says %q, want %q", got, want)
	}

	var labels []string
	for _, m := range tickRe.FindAllStringSubmatch(page.DOM, -1) {
		labels = append(labels, m[1])
	}
	axis := []string{"0s", "30s", "1m", "1m30s", "2m", "2m30s", "3m", "3m30s", "4m", "4m30s", "5m"}
	// The rows' axis, then each cluster chart's own.
	if want := slices.Concat(axis, axis, axis); !cmp.Equal(want, labels) {
		t.Errorf("axis labels = %q, want %q three times (rows, prod, staging)", labels, axis)
	}
	for _, want := range []string{
		`<h2>prod: instances out of service (most at once: 1, limit 1)</h2>`,
		`<h2>staging: instances out of service (most at once: 1, limit 1)</h2>`,
		`<b>3</b> updated`, `<b>1</b> skipped`, `<b>0</b> failed`,
	} {
		if !strings.Contains(page.DOM, want) {
			t.Errorf("Chromium's DOM does not show %s", want)
		}
	}

	// The screenshot: each drain and reboot bar is a separate area of its color, as tall as a
	// bar (the legend's swatch is smaller), in rows from top to bottom, later ones further right.
	for _, k := range []Kind{Drain, Reboot} {
		var drawn []image.Rectangle
		for _, b := range Blobs(t, page.Screenshot, Colors[k]) {
			if b.Dy() == BarHeight {
				drawn = append(drawn, b)
			}
		}
		if got, want := len(drawn), 3; got != want {
			t.Fatalf("the screenshot shows %d bars of the %s color %s, want %d, one per updated instance: %v", got, k, Colors[k], want, drawn)
		}
		for i := 1; i < len(drawn); i++ {
			if drawn[i].Min.Y-drawn[i-1].Min.Y != RowHeight && drawn[i].Min.Y-drawn[i-1].Min.Y != 2*RowHeight {
				t.Errorf("%s bars %v and %v are not in the rows of their instances", k, drawn[i-1], drawn[i])
			}
			if drawn[i].Min.X <= drawn[i-1].Min.X {
				t.Errorf("%s bar %v of a later drain is not right of %v", k, drawn[i], drawn[i-1])
			}
		}
	}
}

// Blobs returns the areas of color hex (#rrggbb) in img.
func Blobs(t *testing.T, img image.Image, hex string) []image.Rectangle {
	t.Helper()
	v, err := strconv.ParseUint(strings.TrimPrefix(hex, "#"), 16, 32)
	if err != nil {
		t.Fatalf("color %q: %v", hex, err)
	}
	c := color.NRGBA{R: uint8(v >> 16), G: uint8(v >> 8), B: uint8(v), A: 255}
	return harness.Blobs(img, c, 3)
}

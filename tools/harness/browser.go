package harness

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// chromiumPath is where Debian's chromium package installs the browser (make deps installs it).
const chromiumPath = "/usr/bin/chromium"

// browserTimeout bounds one headless Chromium run: it is a bound on a hung browser, not a wait.
const browserTimeout = 2 * time.Minute

// Page is an HTML file as headless Chromium showed it.
type Page struct {
	// DOM is the document after it loaded (and its scripts ran), serialized (--dump-dom).
	DOM string
	// Screenshot is the page drawn in a window of the size asked for.
	Screenshot image.Image
}

// RenderPage opens the HTML file at path in headless Chromium, in a window of width × height
// CSS pixels, and returns its DOM and a screenshot. It fails the test when Chromium is missing
// (make deps installs Debian's chromium package) or cannot draw the page.
func RenderPage(t testing.TB, path string, width, height int) Page {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("%s is missing: make deps installs it (apt-get install chromium)", chromiumPath)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	shot := filepath.Join(dir, "screenshot.png")
	url := "file://" + abs
	common := []string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
		"--force-device-scale-factor=1", "--user-data-dir=" + filepath.Join(dir, "profile"),
		fmt.Sprintf("--window-size=%d,%d", width, height)}
	dom := chromium(t, append(common, "--dump-dom", url)...)
	chromium(t, append(common, "--screenshot="+shot, url)...)
	b, err := os.ReadFile(shot)
	if err != nil {
		t.Fatalf("read chromium's screenshot: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("decode chromium's screenshot: %v", err)
	}
	return Page{DOM: string(dom), Screenshot: img}
}

func chromium(t testing.TB, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), browserTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromiumPath, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
	}
	return stdout.Bytes()
}

// Blobs returns the bounding boxes of the connected areas (4-neighbours) of img whose pixels
// are c, within tolerance per channel (0–255): the shapes drawn in that color, one per box.
func Blobs(img image.Image, c color.Color, tolerance int) []image.Rectangle {
	b := img.Bounds()
	want := color.NRGBAModel.Convert(c).(color.NRGBA)
	near := func(x, y int) bool {
		got := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
		d := func(a, b uint8) int { return max(int(a)-int(b), int(b)-int(a)) }
		return d(got.R, want.R) <= tolerance && d(got.G, want.G) <= tolerance && d(got.B, want.B) <= tolerance
	}
	seen := make([]bool, b.Dx()*b.Dy())
	idx := func(x, y int) int { return (y-b.Min.Y)*b.Dx() + (x - b.Min.X) }
	var blobs []image.Rectangle
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if seen[idx(x, y)] || !near(x, y) {
				continue
			}
			box := image.Rect(x, y, x+1, y+1)
			stack := []image.Point{{x, y}}
			seen[idx(x, y)] = true
			for len(stack) > 0 {
				p := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				box = box.Union(image.Rect(p.X, p.Y, p.X+1, p.Y+1))
				for _, n := range []image.Point{{p.X + 1, p.Y}, {p.X - 1, p.Y}, {p.X, p.Y + 1}, {p.X, p.Y - 1}} {
					if n.In(b) && !seen[idx(n.X, n.Y)] && near(n.X, n.Y) {
						seen[idx(n.X, n.Y)] = true
						stack = append(stack, n)
					}
				}
			}
			blobs = append(blobs, box)
		}
	}
	return blobs
}

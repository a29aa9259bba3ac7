package report

import (
	"fmt"
	"html"
	"io"
	"slices"
	"strings"
	"time"
)

// The page's geometry, in CSS pixels. Tests that look at a screenshot tell a bar from the
// legend's swatch by its height.
const (
	labelWidth  = 260 // the instance column, left of the axis
	chartWidth  = 900 // the time axis
	detailGap   = 12  // between the axis and the outcome column
	detailWidth = 420 // the outcome column
	RowHeight   = 20  // one instance's row
	BarHeight   = 12  // a bar, within its row; the legend's swatches are smaller
	axisHeight  = 28  // the tick labels above the rows
	chartHeight = 90  // one cluster's out-of-service chart
)

// Colors of the bars, by kind; the legend shows them. Tests read them back from a screenshot.
var Colors = map[Kind]string{
	Staging: "#7fb3e6",
	Waiting: "#c8c8c8",
	Drain:   "#f0a020",
	Reboot:  "#d03030",
	Verify:  "#40a060",
	Job:     "#9080c0",
}

// layout is where the rows' SVG draws things: a time t of row i at x(t), y(i).
type layout struct {
	start, end time.Time
}

// X is the horizontal position of t within an SVG of the page.
func (l layout) X(t time.Time) float64 {
	span := l.end.Sub(l.start).Seconds()
	return labelWidth + chartWidth*t.Sub(l.start).Seconds()/span
}

// Y is the vertical centre of row i's bars within the rows' SVG.
func (l layout) Y(i int) float64 {
	return axisHeight + float64(i)*RowHeight + RowHeight/2
}

// WriteHTML writes r as a self-contained HTML page: no script, no external resource. It refuses
// a rollout that does not validate.
func WriteHTML(w io.Writer, r Rollout) error {
	if err := r.Validate(); err != nil {
		return fmt.Errorf("draw rollout: %w", err)
	}
	var b strings.Builder
	start, end := r.bounds()
	p := &page{b: &b, r: r, l: layout{start: start, end: end}}
	p.write()
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

type page struct {
	b *strings.Builder
	r Rollout
	l layout
}

func (p *page) f(format string, a ...any) { fmt.Fprintf(p.b, format, a...) }

const css = `
body { font: 13px/1.35 system-ui, sans-serif; margin: 16px; color: #222; background: #fff; }
h1 { font-size: 18px; margin: 0 0 4px; }
h2 { font-size: 15px; margin: 18px 0 6px; }
p.meta { margin: 0 0 8px; color: #555; }
p.forecast { background: #fff4cc; border: 1px solid #e0c060; padding: 6px 10px; display: inline-block; }
.tally span { margin-right: 16px; }
.legend span { display: inline-block; margin-right: 14px; }
.legend i { display: inline-block; width: 22px; height: 10px; margin-right: 4px; vertical-align: middle; }
svg { display: block; }
svg text { font: 12px system-ui, sans-serif; fill: #222; }
svg text.tick { fill: #555; font-size: 11px; }
svg line.grid { stroke: #e6e6e6; }
svg text.outcome-failed { fill: #b00000; }
svg text.outcome-skipped { fill: #806000; }
svg path.oos { fill: none; stroke: #3060c0; stroke-width: 2; }
svg line.limit { stroke: #7030a0; stroke-dasharray: 6 4; stroke-width: 1.5; }
svg text.limit { fill: #7030a0; }
body.forecast rect.bar { fill-opacity: 0.55; }
`

func (p *page) write() {
	start, end := p.l.start, p.l.end
	bodyClass := ""
	if p.r.Forecast {
		bodyClass = ` class="forecast"`
	}
	title := p.r.Title
	if title == "" {
		title = "rollwave rollout"
	}
	p.f("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>%s</title>\n<style>%s</style>\n</head>\n<body%s>\n",
		esc(title), css, bodyClass)
	p.f("<h1>%s</h1>\n", esc(title))
	if p.r.Forecast {
		p.f("<p class=\"forecast\">Forecast: what this rollout is expected to do, not a record of what it did.</p>\n")
	}
	p.f("<p class=\"meta\">From %s to %s (%s), times in UTC.</p>\n",
		start.UTC().Format("2006-01-02 15:04:05"), end.UTC().Format("2006-01-02 15:04:05"), elapsed(end.Sub(start)))
	p.tally()
	p.legend()
	p.rows()
	p.clusters()
	p.f("</body>\n</html>\n")
}

// tally is the headline: how many instances ended each way.
func (p *page) tally() {
	n := map[Outcome]int{}
	for _, in := range p.r.Instances {
		n[in.Outcome]++
	}
	p.f("<p class=\"tally\">")
	for _, o := range []struct {
		o    Outcome
		name string
	}{{Updated, "updated"}, {Skipped, "skipped"}, {Failed, "failed"}, {None, "without an ended job"}} {
		p.f("<span class=\"tally-%s\"><b>%d</b> %s</span>", cls(string(o.o)), n[o.o], o.name)
	}
	p.f("<span>of <b>%d</b> instances</span></p>\n", len(p.r.Instances))
}

func (p *page) legend() {
	used := map[Kind]bool{}
	for _, in := range p.r.Instances {
		for _, s := range in.Steps {
			used[s.Kind] = true
		}
	}
	p.f("<p class=\"legend\">")
	for _, k := range Kinds {
		if k == Job && !used[Job] { // a kind only some sources need
			continue
		}
		p.f("<span><i style=\"background:%s\"></i>%s</span>", Colors[k], k)
	}
	if used[Job] {
		p.f("<span>(job: the steps between its start and its end were not recorded)</span>")
	}
	p.f("</p>\n")
}

// rows draws the time axis and one row per instance.
func (p *page) rows() {
	width := labelWidth + chartWidth + detailGap + detailWidth
	height := axisHeight + len(p.r.Instances)*RowHeight + 4
	p.f("<svg class=\"rows\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\">\n", width, height, width, height)
	for _, t := range ticks(p.l.start, p.l.end) {
		x := p.l.X(t)
		p.f("<line class=\"grid\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>", x, axisHeight-6, x, height)
		p.f("<text class=\"tick\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", x, axisHeight-10, elapsed(t.Sub(p.l.start)))
	}
	for i, in := range p.r.Instances {
		y := p.l.Y(i)
		p.f("<g class=\"row\" data-instance=\"%s\" data-cluster=\"%s\" data-outcome=\"%s\">", esc(in.ID), esc(in.Cluster), esc(string(in.Outcome)))
		p.f("<text class=\"instance\" x=\"4\" y=\"%.1f\" dominant-baseline=\"middle\">%s</text>", y, esc(in.Cluster+"  "+in.ID))
		steps := slices.Clone(in.Steps)
		slices.SortFunc(steps, func(a, b Step) int { return a.Start.Compare(b.Start) })
		for _, s := range steps {
			x1, x2 := p.l.X(s.Start), p.l.X(s.End)
			p.f("<rect class=\"bar %s\" data-kind=\"%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%d\" fill=\"%s\"><title>%s %s: %s from %s</title></rect>",
				s.Kind, s.Kind, x1, y-BarHeight/2, max(x2-x1, 1), BarHeight, Colors[s.Kind],
				esc(in.ID), s.Kind, elapsed(s.End.Sub(s.Start)), elapsed(s.Start.Sub(p.l.start)))
		}
		detail := string(in.Outcome)
		if in.Detail != "" {
			if detail != "" {
				detail += ": "
			}
			detail += in.Detail
		}
		p.f("<text class=\"outcome outcome-%s\" x=\"%d\" y=\"%.1f\" dominant-baseline=\"middle\">%s</text></g>\n",
			cls(string(in.Outcome)), labelWidth+chartWidth+detailGap, y, esc(detail))
	}
	p.f("</svg>\n")
}

// clusters draws each cluster's instances out of service over time, as a step line, against
// its limit as a dashed line.
func (p *page) clusters() {
	var cs []Cluster
	seen := map[string]bool{}
	for _, c := range p.r.Clusters {
		cs = append(cs, c)
		seen[c.Name] = true
	}
	for _, in := range p.r.Instances {
		if !seen[in.Cluster] {
			cs = append(cs, Cluster{Name: in.Cluster})
			seen[in.Cluster] = true
		}
	}
	for _, c := range cs {
		if c.Unrecorded != "" {
			p.f("<h2>%s: instances out of service</h2>\n<p class=\"unrecorded\">Not drawn: %s</p>\n", esc(c.Name), esc(c.Unrecorded))
			continue
		}
		samples := c.OutOfService
		if len(samples) == 0 {
			samples = OutOfServiceFromSteps(p.r.Instances, c.Name)
		}
		most := 0
		for _, s := range samples {
			most = max(most, s.Count)
		}
		top := max(most, c.Limit, 1) + 1
		yOf := func(n int) float64 { return 8 + float64(chartHeight-8)*(1-float64(n)/float64(top)) }
		limit := "no limit given"
		if c.Limit > 0 {
			limit = fmt.Sprintf("limit %d", c.Limit)
		}
		p.f("<h2>%s: instances out of service (most at once: %d, %s)</h2>\n", esc(c.Name), most, limit)
		width := labelWidth + chartWidth + detailGap + detailWidth
		height := chartHeight + axisHeight
		p.f("<svg class=\"cluster\" data-cluster=\"%s\" data-max=\"%d\" data-limit=\"%d\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\">\n",
			esc(c.Name), most, c.Limit, width, height, width, height)
		for n := 0; n <= top; n++ {
			p.f("<line class=\"grid\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>", labelWidth, yOf(n), labelWidth+chartWidth, yOf(n))
			p.f("<text class=\"tick count\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\" dominant-baseline=\"middle\">%d</text>\n", labelWidth-6, yOf(n), n)
		}
		for _, t := range ticks(p.l.start, p.l.end) {
			p.f("<text class=\"tick\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>", p.l.X(t), chartHeight+16, elapsed(t.Sub(p.l.start)))
		}
		p.f("\n")
		var d strings.Builder
		fmt.Fprintf(&d, "M%.1f %.1f", p.l.X(p.l.start), yOf(0))
		for _, s := range samples {
			x := p.l.X(clamp(s.T, p.l.start, p.l.end))
			fmt.Fprintf(&d, " H%.1f V%.1f", x, yOf(s.Count))
		}
		fmt.Fprintf(&d, " H%.1f", p.l.X(p.l.end))
		p.f("<path class=\"oos\" d=\"%s\"/>\n", d.String())
		if c.Limit > 0 {
			p.f("<line class=\"limit\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>", labelWidth, yOf(c.Limit), labelWidth+chartWidth, yOf(c.Limit))
			p.f("<text class=\"limit\" x=\"%d\" y=\"%.1f\" dominant-baseline=\"middle\">limit %d</text>\n", labelWidth+chartWidth+detailGap, yOf(c.Limit), c.Limit)
		}
		p.f("</svg>\n")
	}
}

// tickSteps are the axis steps a page may use, the first that gives at most ten ticks.
var tickSteps = []time.Duration{
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour,
}

// ticks returns the times of the axis labels: every step from start, at most ten of them (more
// for a rollout longer than ten days).
func ticks(start, end time.Time) []time.Time {
	span := end.Sub(start)
	step := tickSteps[len(tickSteps)-1]
	for _, s := range tickSteps {
		if span/s <= 10 {
			step = s
			break
		}
	}
	var ts []time.Time
	for t := start; !t.After(end); t = t.Add(step) {
		ts = append(ts, t)
	}
	return ts
}

// elapsed writes d as a person reads it: "0s", "30s", "1m", "1m30s", "2h".
func elapsed(d time.Duration) string {
	d = d.Round(time.Second)
	if d == 0 {
		return "0s"
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func clamp(t, lo, hi time.Time) time.Time {
	if t.Before(lo) {
		return lo
	}
	if t.After(hi) {
		return hi
	}
	return t
}

func esc(s string) string { return html.EscapeString(s) }

// cls is s as a CSS class suffix: "none" for the empty outcome.
func cls(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

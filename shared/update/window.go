package update

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Window is a set of maintenance windows in one time zone: the times at which a new drain may
// start. The zero Window (and a nil *Window) is always open.
//
// Syntax, one or more windows separated by ";", all in the zone named last:
//
//	Mon-Fri 22:00-06:00 Europe/Berlin
//	Sat,Sun 00:00-24:00; Mon-Fri 01:00-05:00 America/New_York
//	daily 02:00-04:30 UTC
//
// Days are Mon..Sun, ranges (Mon-Fri, Fri-Mon wraps) and lists (Sat,Sun), or "daily" / "*". Times
// are HH:MM or HH:MM:SS wall-clock times in the zone; a window whose end is not after its start
// crosses midnight and belongs to the day it starts on ("Fri 22:00-06:00" is open from Friday
// 22:00 to Saturday 06:00). "24:00" ends a window at midnight. The zone is an IANA name
// (default UTC when omitted). Across a DST change the wall-clock times hold: a window from 01:00 to
// 04:00 is an hour shorter on the night the clocks go forward.
type Window struct {
	spans []span
	loc   *time.Location
	text  string
}

type span struct {
	days       [7]bool // by time.Weekday
	start, end time.Duration
}

// LongestWindowWait bounds how long any Window stays closed: its days are days of the week, so
// it opens at least once a week. The queues keep a waiting job longer than this
// (topology.JobRetention).
const LongestWindowWait = 7 * 24 * time.Hour

// ParseWindow parses the syntax described at Window; "" gives the always-open zero Window.
func ParseWindow(s string) (Window, error) {
	text := strings.TrimSpace(s)
	if text == "" {
		return Window{}, nil
	}
	w := Window{loc: time.UTC, text: text}
	parts := strings.Split(text, ";")
	for i, p := range parts {
		fields := strings.Fields(p)
		if i == len(parts)-1 && len(fields) == 3 {
			loc, err := time.LoadLocation(fields[2])
			if err != nil {
				return Window{}, fmt.Errorf("parse window %q: unknown time zone %q", s, fields[2])
			}
			w.loc, fields = loc, fields[:2]
		}
		if len(fields) != 2 {
			return Window{}, fmt.Errorf("parse window %q: want DAYS HH:MM-HH:MM [ZONE], e.g. Mon-Fri 22:00-06:00 Europe/Berlin", s)
		}
		sp, err := parseSpan(fields[0], fields[1])
		if err != nil {
			return Window{}, fmt.Errorf("parse window %q: %w", s, err)
		}
		w.spans = append(w.spans, sp)
	}
	return w, nil
}

var weekdays = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

func parseSpan(days, times string) (span, error) {
	var sp span
	switch strings.ToLower(days) {
	case "daily", "*":
		sp.days = [7]bool{true, true, true, true, true, true, true}
	default:
		for _, item := range strings.Split(days, ",") {
			from, to, isRange := strings.Cut(item, "-")
			a, ok := weekdays[strings.ToLower(from)]
			if !ok {
				return span{}, fmt.Errorf("unknown day %q (want Mon..Sun, a range such as Mon-Fri, or daily)", from)
			}
			b := a
			if isRange {
				if b, ok = weekdays[strings.ToLower(to)]; !ok {
					return span{}, fmt.Errorf("unknown day %q (want Mon..Sun)", to)
				}
			}
			for d := a; ; d = (d + 1) % 7 {
				sp.days[d] = true
				if d == b {
					break
				}
			}
		}
	}
	from, to, ok := strings.Cut(times, "-")
	if !ok {
		return span{}, fmt.Errorf("times %q: want HH:MM-HH:MM", times)
	}
	var err error
	if sp.start, err = parseClock(from); err != nil {
		return span{}, err
	}
	if sp.end, err = parseClock(to); err != nil {
		return span{}, err
	}
	if sp.start == 24*time.Hour {
		return span{}, fmt.Errorf("a window cannot start at 24:00")
	}
	return sp, nil
}

func parseClock(s string) (time.Duration, error) {
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return 0, fmt.Errorf("time %q: want HH:MM or HH:MM:SS", s)
	}
	var v [3]int
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || len(p) != 2 {
			return 0, fmt.Errorf("time %q: want HH:MM or HH:MM:SS", s)
		}
		v[i] = n
	}
	d := time.Duration(v[0])*time.Hour + time.Duration(v[1])*time.Minute + time.Duration(v[2])*time.Second
	if v[1] > 59 || v[2] > 59 || d > 24*time.Hour {
		return 0, fmt.Errorf("time %q is not a time of day", s)
	}
	return d, nil
}

// String returns the window as it was parsed ("" for always open).
func (w Window) String() string { return w.text }

// Always reports whether the window is always open (no windows configured).
func (w Window) Always() bool { return len(w.spans) == 0 }

// wall returns the instant of the wall-clock time off after midnight of the calendar day
// (y, m, d) in loc. Off may be up to 48h (a window that crosses midnight). A wall time that a DST
// change skips is moved forward by the gap, as time.Date does.
func wall(y int, m time.Month, d int, off time.Duration, loc *time.Location) time.Time {
	off = off.Truncate(time.Second)
	days := int(off / (24 * time.Hour))
	off -= time.Duration(days) * 24 * time.Hour
	h, rest := int(off/time.Hour), off%time.Hour
	return time.Date(y, m, d+days, h, int(rest/time.Minute), int(rest%time.Minute/time.Second), 0, loc)
}

// endOffset is the span's end after midnight of its start day: past 24h when it crosses midnight.
func (sp span) endOffset() time.Duration {
	if sp.end <= sp.start {
		return sp.end + 24*time.Hour
	}
	return sp.end
}

// occurrences returns the openings [start, end) of every span that start on the calendar days
// from first to first+n-1 (in the window's zone), in no particular order.
func (w Window) occurrences(first time.Time, n int) [][2]time.Time {
	var out [][2]time.Time
	y, m, d := first.In(w.loc).Date()
	for i := 0; i < n; i++ {
		day := time.Date(y, m, d+i, 12, 0, 0, 0, w.loc)
		for _, sp := range w.spans {
			if !sp.days[day.Weekday()] {
				continue
			}
			dy, dm, dd := day.Date()
			out = append(out, [2]time.Time{wall(dy, dm, dd, sp.start, w.loc), wall(dy, dm, dd, sp.endOffset(), w.loc)})
		}
	}
	return out
}

// Open reports whether a new drain may start at now: now is inside one of the windows.
func (w Window) Open(now time.Time) bool {
	if w.Always() {
		return true
	}
	for _, o := range w.occurrences(now.AddDate(0, 0, -1), 2) {
		if !now.Before(o[0]) && now.Before(o[1]) {
			return true
		}
	}
	return false
}

// NextOpen returns now when the window is open at now, and otherwise the next instant at which
// it opens (within the coming eight days, which any valid window has).
func (w Window) NextOpen(now time.Time) time.Time {
	if w.Open(now) {
		return now
	}
	var next time.Time
	for _, o := range w.occurrences(now, 9) {
		if o[0].After(now) && o[1].After(o[0]) && (next.IsZero() || o[0].Before(next)) {
			next = o[0]
		}
	}
	return next
}

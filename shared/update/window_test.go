package update

import (
	"testing"
	"time"
)

func TestWindowOpen(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04:05", s, berlin)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// 2025-03-28 is a Friday; Berlin's clocks go forward on Sunday 2025-03-30 at 02:00 and back on
	// Sunday 2025-10-26 at 03:00.
	tests := []struct {
		rule   string
		window string
		now    time.Time
		open   bool
	}{
		{"no window is always open", "", at("2025-03-28 12:00:00"), true},
		{"inside a weekday night window, before midnight", "Mon-Fri 22:00-06:00 Europe/Berlin", at("2025-03-28 23:30:00"), true},
		{"after midnight it still belongs to Friday's window", "Mon-Fri 22:00-06:00 Europe/Berlin", at("2025-03-29 05:59:59"), true},
		{"the end is exclusive", "Mon-Fri 22:00-06:00 Europe/Berlin", at("2025-03-29 06:00:00"), false},
		{"the start is inclusive", "Mon-Fri 22:00-06:00 Europe/Berlin", at("2025-03-28 22:00:00"), true},
		{"Saturday night is not a weekday", "Mon-Fri 22:00-06:00 Europe/Berlin", at("2025-03-29 23:00:00"), false},
		{"Monday early morning belongs to Sunday, which is not listed", "Mon-Fri 22:00-06:00 Europe/Berlin", at("2025-03-31 03:00:00"), false},
		{"midday is outside a night window", "Mon-Fri 22:00-06:00 Europe/Berlin", at("2025-03-27 12:00:00"), false},
		{"the zone is the window's, not now's", "daily 22:00-23:00 Europe/Berlin", at("2025-03-28 22:30:00").UTC(), true},
		{"UTC by default", "daily 21:00-22:00", at("2025-03-28 22:30:00"), true}, // 21:30 UTC
		{"a list of days", "Sat,Sun 00:00-24:00 Europe/Berlin", at("2025-03-30 12:00:00"), true},
		{"a wrapping day range", "Fri-Mon 10:00-11:00 Europe/Berlin", at("2025-03-31 10:30:00"), true},
		{"a wrapping day range excludes the middle", "Fri-Mon 10:00-11:00 Europe/Berlin", at("2025-04-02 10:30:00"), false},
		{"several windows: the second", "Mon 01:00-02:00; Fri 12:00-13:00 Europe/Berlin", at("2025-03-28 12:30:00"), true},
		{"seconds are allowed", "daily 12:00:30-12:01:00 Europe/Berlin", at("2025-03-28 12:00:29"), false},
		{"DST forward: 02:30 does not exist, the window 01:00-04:00 still holds 03:30", "daily 01:00-04:00 Europe/Berlin", at("2025-03-30 03:30:00"), true},
		{"DST forward: a window inside the skipped hour never opens", "Sun 02:10-02:50 Europe/Berlin", time.Date(2025, 3, 30, 0, 30, 0, 0, time.UTC), false},
		{"DST back: the repeated hour is inside", "daily 01:00-04:00 Europe/Berlin", time.Date(2025, 10, 26, 1, 30, 0, 0, time.UTC), true}, // 02:30 CET
	}
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			w, err := ParseWindow(tt.window)
			if err != nil {
				t.Fatal(err)
			}
			if got := w.Open(tt.now); got != tt.open {
				t.Errorf("ParseWindow(%q).Open(%s) = %t, want %t", tt.window, tt.now, got, tt.open)
			}
		})
	}
}

func TestWindowNextOpen(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, berlin)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		rule   string
		window string
		now    time.Time
		want   time.Time
	}{
		{"open now: now", "Mon-Fri 22:00-06:00 Europe/Berlin", at("2025-03-28 23:00"), at("2025-03-28 23:00")},
		{"later the same day", "Mon-Fri 22:00-06:00 Europe/Berlin", at("2025-03-28 12:00"), at("2025-03-28 22:00")},
		{"Friday morning after the window: Friday night", "Mon-Fri 22:00-06:00 Europe/Berlin", at("2025-03-28 07:00"), at("2025-03-28 22:00")},
		{"over the weekend: Monday night", "Mon-Fri 22:00-06:00 Europe/Berlin", at("2025-03-29 07:00"), at("2025-03-31 22:00")},
		{"across the DST change the wall time holds", "Sun 22:00-23:00 Europe/Berlin", at("2025-03-29 22:30"), at("2025-03-30 22:00")},
		{"a skipped start moves forward by the gap", "Sun 02:30-04:00 Europe/Berlin", at("2025-03-29 12:00"), time.Date(2025, 3, 30, 1, 30, 0, 0, time.UTC)},
		{"the earliest of several windows", "Wed 09:00-10:00; Tue 09:00-10:00 Europe/Berlin", at("2025-03-31 12:00"), at("2025-04-01 09:00")},
		{"next week's same day", "Fri 09:00-10:00 Europe/Berlin", at("2025-03-28 11:00"), at("2025-04-04 09:00")},
	}
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			w, err := ParseWindow(tt.window)
			if err != nil {
				t.Fatal(err)
			}
			if got := w.NextOpen(tt.now); !got.Equal(tt.want) {
				t.Errorf("ParseWindow(%q).NextOpen(%s) = %s, want %s", tt.window, tt.now, got, tt.want)
			}
		})
	}
}

func TestParseWindowRejects(t *testing.T) {
	for _, s := range []string{
		"Mon-Fri", "Mon-Fri 22:00", "Funday 22:00-06:00", "Mon 25:00-26:00", "Mon 22:00-06:00 Mars/Olympus",
		"Mon 22:0-06:00", "Mon 24:00-01:00", "Mon 10:00-11:00 UTC extra", "Mon 10:60-11:00",
	} {
		if _, err := ParseWindow(s); err == nil {
			t.Errorf("ParseWindow(%q) = nil error, want an error", s)
		}
	}
}

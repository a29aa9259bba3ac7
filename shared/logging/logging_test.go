package logging

import (
	"bytes"
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"
)

func TestDurationsAreWrittenAsDurations(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, zerolog.InfoLevel, "drainer")
	log.Info().Dur("took", 1500*time.Millisecond).Dur("retryIn", 2*time.Minute).Msg("done")
	log.Debug().Msg("below the level")
	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("decode %q: %v (want exactly one line)", buf.String(), err)
	}
	delete(got, "time")
	want := map[string]any{"level": "info", "service": "drainer", "took": "1.5s", "retryIn": "2m0s", "message": "done"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("log line mismatch (-want +got):\n%s", diff)
	}
}

// Steps of one job follow each other within a second: a timestamp carries its milliseconds.
func TestTimestampsCarryMilliseconds(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, zerolog.InfoLevel, "drainer")
	log.Info().Msg("done")
	var got struct{ Time string }
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("decode %q: %v", buf.String(), err)
	}
	if _, err := time.Parse(TimeFormat, got.Time); err != nil || !regexp.MustCompile(`T\d\d:\d\d:\d\d\.\d{3}`).MatchString(got.Time) {
		t.Errorf("time = %q (parse: %v), want RFC 3339 with milliseconds", got.Time, err)
	}
}

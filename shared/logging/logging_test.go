package logging

import (
	"bytes"
	"encoding/json"
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

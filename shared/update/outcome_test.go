package update

import (
	"os"
	"regexp"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestOutcomes(t *testing.T) {
	tests := []struct {
		name string
		got  Outcome
		want Outcome
	}{
		{"updated names both versions", Updated("1.19.5", "1.20.3"),
			Outcome{Result: ResultUpdated, Code: CodeUpdated, Message: "updated from 1.19.5 to 1.20.3"}},
		{"updated without a known previous version", Updated("", "1.20.3"),
			Outcome{Result: ResultUpdated, Code: CodeUpdated, Message: "updated to 1.20.3"}},
		{"skipped carries its code", Skipped(CodeStandaloneTask, "runs a batch task"),
			Outcome{Result: ResultSkipped, Code: CodeStandaloneTask, Message: "runs a batch task"}},
		{"failed carries its code", Failed(CodeDrainTimeout, "2 tasks still running after 30m"),
			Outcome{Result: ResultFailed, Code: CodeDrainTimeout, Message: "2 tasks still running after 30m"}},
		{"duplicate names the job that owns the instance", Duplicate("job-1"),
			Outcome{Result: ResultDuplicate, Code: CodeJobInFlight, Message: "job job-1 already owns the instance"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.got); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
			if err := tt.got.validate(); err != nil {
				t.Errorf("%v.validate() = %v, want nil", tt.got, err)
			}
		})
	}
	if got, want := Failed(CodeNeverCameBack, "no agent after 15m").String(), "failed (never-came-back): no agent after 15m"; got != want {
		t.Errorf("Outcome.String() = %q, want %q", got, want)
	}
}

// TestEveryDocumentedCodeHasWords reads the codes from the table of docs/job.md, so that a code
// added there without words for people fails here.
func TestEveryDocumentedCodeHasWords(t *testing.T) {
	doc, err := os.ReadFile("../../docs/job.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := regexp.MustCompile("(?m)^\\| `(?:updated|skipped|failed|duplicate)` \\| `([a-z-]+)` \\|").FindAllStringSubmatch(string(doc), -1)
	if len(rows) < 17 {
		t.Fatalf("found %d codes in the table of docs/job.md, want at least 17", len(rows))
	}
	for _, m := range rows {
		c := Code(m[1])
		if w := c.Words(); w == string(c) || w == "" {
			t.Errorf("Code(%q).Words() = %q, want words for people", c, w)
		}
	}
	if got := Code("made-up").Words(); got != "made-up" {
		t.Errorf(`Code("made-up").Words() = %q, want the code itself`, got)
	}
}

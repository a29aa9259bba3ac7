package envconfig

import (
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCheckNames(t *testing.T) {
	tests := []struct {
		name    string
		environ []string
		want    []string // substrings of the error, one per misspelling; none: no error
	}{
		{"only settings", []string{"ROLLWAVE_CLUSTERS=prod", "ROLLWAVE_MAX_OUT_OF_SERVICE=2", "HOME=/root"}, nil},
		{"a letter missing", []string{"ROLLWAVE_MAX_OUT_OF_SERVCE=2"},
			[]string{"ROLLWAVE_MAX_OUT_OF_SERVCE is not a rollwave setting: did you mean ROLLWAVE_MAX_OUT_OF_SERVICE?"}},
		{"two at once, each named", []string{"ROLLWAVE_CLUSTER=prod", "ROLLWAVE_DRAIN_TIMOUT=5m"},
			[]string{"ROLLWAVE_CLUSTER is not a rollwave setting: did you mean ROLLWAVE_CLUSTERS?", "ROLLWAVE_DRAIN_TIMOUT is not a rollwave setting: did you mean ROLLWAVE_DRAIN_TIMEOUT?"}},
		{"another tool's variable is left alone", []string{"ROLLWAVE_TEST_EMULATOR=http://localhost:4566"}, nil},
		{"another prefix is not ours", []string{"ROLLWAV_CLUSTERS=prod"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckNames(tt.environ)
			if len(tt.want) == 0 {
				if err != nil {
					t.Errorf("CheckNames(%q) = %v, want nil", tt.environ, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("CheckNames(%q) = nil, want %q", tt.environ, tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("CheckNames(%q) = %v, want it to contain %q", tt.environ, err, w)
				}
			}
		})
	}
}

func TestLevenshtein(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"abc", "abc", 0}, {"abc", "ab", 1}, {"ab", "abc", 1}, {"abc", "axc", 1}, {"kitten", "sitting", 3},
	}
	for _, tt := range tests {
		if got := levenshtein(tt.a, tt.b); got != tt.want {
			t.Errorf("levenshtein(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

// TestSettingsAreTheDocumented keeps Settings and docs/configuration.md's list equal.
func TestSettingsAreTheDocumented(t *testing.T) {
	b, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `(ROLLWAVE_[A-Z0-9_]+)`").FindAllStringSubmatch(string(b), -1) {
		seen[m[1]] = true
	}
	var documented []string
	for n := range seen {
		documented = append(documented, n)
	}
	sort.Strings(documented)
	want := append([]string(nil), Settings...)
	sort.Strings(want)
	if diff := cmp.Diff(want, documented); diff != "" {
		t.Errorf("Settings against the rows of docs/configuration.md (-Settings +documented):\n%s", diff)
	}
}

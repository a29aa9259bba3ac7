package version

import (
	"regexp"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestResolve(t *testing.T) {
	built := &debug.BuildInfo{GoVersion: "go1.26.0", Settings: []debug.BuildSetting{
		{Key: "vcs", Value: "git"},
		{Key: "vcs.revision", Value: "1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f7a8b9c0d"},
		{Key: "vcs.modified", Value: "true"},
	}}
	tests := []struct {
		name                    string
		stampedVersion, stamped string
		embedded                string
		bi                      *debug.BuildInfo
		want                    Info
		wantString              string
	}{
		{
			name:     "nothing stamped: the embedded release and the toolchain's commit",
			embedded: "0.1.0\n", bi: built,
			want:       Info{Version: "0.1.0", Revision: "1a2b3c4d5e6f", Modified: true, Go: "go1.26.0"},
			wantString: "0.1.0+1a2b3c4d5e6f.modified",
		},
		{
			name:           "stamped version and revision win over the build information",
			stampedVersion: "0.2.0-rc.1", stamped: "abcdefabcdefabcdef", embedded: "0.1.0", bi: built,
			want:       Info{Version: "0.2.0-rc.1", Revision: "abcdefabcdef", Go: "go1.26.0"},
			wantString: "0.2.0-rc.1+abcdefabcdef",
		},
		{
			name:    "a stamped -dirty revision is a modified tree",
			stamped: "abcdef1-dirty", embedded: "0.1.0", bi: built,
			want:       Info{Version: "0.1.0", Revision: "abcdef1", Modified: true, Go: "go1.26.0"},
			wantString: "0.1.0+abcdef1.modified",
		},
		{
			name:     "no commit known (a build outside git): the release alone",
			embedded: "0.1.0", bi: &debug.BuildInfo{GoVersion: "go1.26.0"},
			want:       Info{Version: "0.1.0", Go: "go1.26.0"},
			wantString: "0.1.0",
		},
		{
			name:       "an empty VERSION file and nothing stamped says unknown",
			bi:         &debug.BuildInfo{GoVersion: "go1.26.0"},
			want:       Info{Version: "unknown", Go: "go1.26.0"},
			wantString: "unknown",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := resolve(tt.stampedVersion, tt.stamped, tt.embedded, tt.bi)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("resolve() mismatch (-want +got):\n%s", diff)
			}
			if s := got.String(); s != tt.wantString {
				t.Errorf("resolve().String() = %q, want %q", s, tt.wantString)
			}
		})
	}
}

// TestEmbeddedRelease checks that the VERSION file holds a release number (MAJOR.MINOR.PATCH,
// optionally with a pre-release), since image tags and the CHANGELOG use it as one.
func TestEmbeddedRelease(t *testing.T) {
	semver := regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$`)
	if got := strings.TrimSpace(release); !semver.MatchString(got) {
		t.Errorf("VERSION = %q, want MAJOR.MINOR.PATCH", got)
	}
}

// Package version says which rollwave a binary is: the release it was built from and the commit.
//
// The release is the VERSION file next to this package, the one place that holds it; it is
// embedded, so every build knows it, `go install` included. A release build may override it
// and stamp the commit with the linker, as the Makefile and the Dockerfiles do:
//
//	go build -ldflags "-X github.com/rollwave/rollwave/shared/version.version=0.1.0 \
//	  -X github.com/rollwave/rollwave/shared/version.revision=$(git rev-parse HEAD)"
//
// Without a stamped revision, the commit comes from the Go toolchain's build information
// (vcs.revision and vcs.modified), which `go build` records inside a git checkout unless
// -buildvcs=false; a Docker build has no .git, so the Dockerfiles stamp it.
package version

import (
	_ "embed"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// Set with -ldflags -X; empty means "not stamped".
var (
	version  string
	revision string
)

//go:embed VERSION
var release string

// Info is what a binary knows about its build.
type Info struct {
	Version  string // the release, e.g. 0.1.0
	Revision string // the commit, abbreviated to 12 characters; empty when unknown
	Modified bool   // built from a tree with uncommitted changes
	Go       string // the Go toolchain, e.g. go1.26.0
}

// Get returns this binary's Info.
func Get() Info {
	bi, _ := debug.ReadBuildInfo()
	return resolve(version, revision, release, bi)
}

// String is the version as one token, for logs and metric dimensions:
// "0.1.0+1a2b3c4d5e6f", "0.1.0+1a2b3c4d5e6f.modified", or "0.1.0" when the commit is unknown
// (semantic versioning's build metadata).
func (i Info) String() string {
	if i.Revision == "" {
		return i.Version
	}
	s := i.Version + "+" + i.Revision
	if i.Modified {
		s += ".modified"
	}
	return s
}

// Line is what `<binary> --version` prints: "scanner 0.1.0+1a2b3c4d5e6f (go1.26.0 linux/amd64)".
func (i Info) Line(binary string) string {
	return fmt.Sprintf("%s %s (%s %s/%s)", binary, i, i.Go, runtime.GOOS, runtime.GOARCH)
}

// String is Get().String().
func String() string { return Get().String() }

// resolve combines the stamped values, the embedded release and the build information: what was
// stamped wins, a stamped revision may end in "-dirty" (git describe's spelling) for Modified.
func resolve(stampedVersion, stampedRevision, embedded string, bi *debug.BuildInfo) Info {
	i := Info{Version: strings.TrimSpace(stampedVersion), Go: runtime.Version()}
	if i.Version == "" {
		i.Version = strings.TrimSpace(embedded)
	}
	if i.Version == "" {
		i.Version = "unknown"
	}
	if bi != nil && bi.GoVersion != "" {
		i.Go = bi.GoVersion
	}
	rev := strings.TrimSpace(stampedRevision)
	if rev != "" {
		rev, i.Modified = strings.CutSuffix(rev, "-dirty")
	} else if bi != nil {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				i.Modified = s.Value == "true"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	i.Revision = rev
	if i.Revision == "" {
		i.Modified = false
	}
	return i
}

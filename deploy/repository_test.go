package deploy

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// machinePath matches an absolute path that belongs to someone's machine rather than to the
// repository or to an image: a home directory, a scratch directory, a developer's workspace.
// Paths inside images and on Debian (/usr/bin/aws, /src, /out, /etc/fleetsim) are not matched.
// The patterns are assembled so that this file does not match itself.
var machinePath = regexp.MustCompile(strings.Join([]string{
	`/` + `home/[A-Za-z0-9._-]+`,
	`/` + `Users/[A-Za-z0-9._-]+`,
	`/` + `root/`,
	`/` + `work/`,
	`/` + `tmp/`,
	`/` + `var/folders/`,
	`[A-Za-z]:\\` + `Users\\`,
}, "|"))

// TestNoTrackedFileNamesAMachinePath keeps the repository self-contained: no committed file may
// name a path of the machine it was written on, since it means nothing on anyone else's, and
// a test or a build that depends on one works only there.
func TestNoTrackedFileNamesAMachinePath(t *testing.T) {
	cmd := exec.Command("git", "ls-files", "-z")
	cmd.Dir = repoRoot
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	files := strings.Split(strings.TrimRight(string(out), "\x00"), "\x00")
	if len(files) < 100 {
		t.Fatalf("git ls-files listed %d files, want the whole repository", len(files))
	}
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(repoRoot, f))
		if os.IsNotExist(err) {
			continue // deleted in the working tree, not yet committed
		}
		if err != nil {
			t.Fatal(err)
		}
		if bytes.IndexByte(data, 0) >= 0 {
			continue // binary
		}
		for i, line := range strings.Split(string(data), "\n") {
			if m := machinePath.FindString(line); m != "" {
				t.Errorf("%s:%d names %q, a path of one machine: %s", f, i+1, m, strings.TrimSpace(line))
			}
		}
	}
}

// TestMachinePathPattern shows what the check above catches and what it lets through.
func TestMachinePathPattern(t *testing.T) {
	for _, tt := range []struct {
		line string
		want bool
	}{
		{"see " + "/" + "work/main/README.md", true},
		{"cat " + "/" + "tmp/out.log", true},
		{"cd " + "/" + "home/alice/rollwave", true},
		{"open " + "/" + "Users/bob/src", true},
		{"HOME=" + "/" + "root/", true},
		{`C:\` + `Users\carol`, true},
		{"COPY --from=build /out/scanner /usr/local/bin/scanner", false},
		{"Debian's awscli at /usr/bin/aws", false},
		{"WORKDIR /src/services/scanner", false},
		{"terraform/examples/complete (work in progress)", false},
	} {
		if got := machinePath.MatchString(tt.line); got != tt.want {
			t.Errorf("machinePath.MatchString(%q) = %v, want %v", tt.line, got, tt.want)
		}
	}
}

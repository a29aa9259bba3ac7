package deploy

import (
	"bufio"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// stampedLine matches what `<binary> --version` prints for a stamped build, e.g.
// "scanner 9.9.9-test+0123456789ab (go1.26.0 linux/amd64)".
func stampedLine(binary, version, revision string) *regexp.Regexp {
	return regexp.MustCompile(`^` + regexp.QuoteMeta(binary+" "+version+"+"+revision) + ` \(go[0-9.]+\S* [a-z0-9]+/[a-z0-9]+\)\n$`)
}

// runVersion runs `bin --version` and returns its standard output, failing unless it exits 0
// within a minute and writes nothing to standard error.
func runVersion(t *testing.T, bin string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), bin, "--version")
	cmd.WaitDelay = time.Minute
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s --version: %v\n%s", filepath.Base(bin), err, stderr.String())
	}
	if stderr.Len() > 0 {
		t.Errorf("%s --version wrote to stderr: %q", filepath.Base(bin), stderr.String())
	}
	return string(out)
}

// gitRevision is the commit `make build` stamps: HEAD, abbreviated as version.Info does, and
// ".modified" when the tree has uncommitted changes (the Makefile's "-dirty").
func gitRevision(t *testing.T) string {
	t.Helper()
	git := func(args ...string) string {
		cmd := exec.Command("git", args...)
		cmd.Dir = repoRoot
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("git %s: %v", strings.Join(args, " "), err)
		}
		return strings.TrimSpace(string(out))
	}
	rev := git("rev-parse", "HEAD")[:12]
	if git("status", "--porcelain") != "" {
		rev += ".modified"
	}
	return rev
}

// TestMakeBuildStampsVersion builds every binary with `make build` and runs each with --version:
// each prints its name, the release and the commit it was built from, and exits 0.
func TestMakeBuildStampsVersion(t *testing.T) {
	bin := t.TempDir()
	cmd := exec.CommandContext(t.Context(), "make", "--no-print-directory", "build", "BIN_DIR="+bin, "VERSION=9.9.9-make")
	cmd.Dir = repoRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make build: %v\n%s", err, out)
	}
	rev := gitRevision(t)
	for _, name := range []string{"scanner", "patcher", "drainer", "verifier", "rollwave", "fleetsim", "bootstrap"} {
		t.Run(name, func(t *testing.T) {
			got := runVersion(t, filepath.Join(bin, name))
			if want := stampedLine(name, "9.9.9-make", rev); !want.MatchString(got) {
				t.Errorf("%s --version = %q, want a line matching %s", name, got, want)
			}
		})
	}
}

// TestDockerfilesBuildStampedBinaries runs the build stage of each Dockerfile without Docker,
// which cannot run here: it copies what the Dockerfile COPYs (without testdata, as .dockerignore
// says) into a directory standing for /src, and runs its RUN lines there with its ENV and with
// the build arguments scripts/release-images.sh passes (VERSION, REVISION). The binary must build
// under GOWORK=off from only what was copied, and report the stamped version.
func TestDockerfilesBuildStampedBinaries(t *testing.T) {
	for _, dir := range []string{"services/scanner", "services/patcher", "services/drainer", "services/verifier", "tools/fleetsim", "tools/bootstrap"} {
		t.Run(dir, func(t *testing.T) {
			name := filepath.Base(dir)
			out := runBuildStage(t, filepath.Join(repoRoot, dir, "Dockerfile"), map[string]string{
				"VERSION":  "9.9.9-docker",
				"REVISION": "0123456789abcdef0123456789abcdef01234567",
			})
			got := runVersion(t, filepath.Join(out, name))
			if want := stampedLine(name, "9.9.9-docker", "0123456789ab"); !want.MatchString(got) {
				t.Errorf("%s --version = %q, want a line matching %s", name, got, want)
			}
		})
	}
}

// runBuildStage interprets the first stage of a Dockerfile (ENV, ARG, WORKDIR, COPY, RUN) in a
// temporary directory standing for the image's root, and returns the directory standing for
// /out. It understands only the instructions rollwave's Dockerfiles use and fails on others.
func runBuildStage(t *testing.T, dockerfile string, buildArgs map[string]string) string {
	t.Helper()
	root := t.TempDir()
	f, err := os.Open(dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	inRoot := func(p string) string { return filepath.Join(root, filepath.FromSlash(p)) }
	env := map[string]string{}
	workdir := "/"
	stages := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		instr, rest, _ := strings.Cut(line, " ")
		rest = strings.TrimSpace(rest)
		switch strings.ToUpper(instr) {
		case "FROM":
			if stages++; stages > 1 {
				return inRoot("/out")
			}
		case "ENV":
			for _, kv := range strings.Fields(rest) {
				k, v, _ := strings.Cut(kv, "=")
				env[k] = v
			}
		case "ARG":
			// Docker sets TARGETOS and TARGETARCH itself; unset here, Go builds for this machine.
			for _, arg := range strings.Fields(rest) {
				k, v, _ := strings.Cut(arg, "=")
				if given, ok := buildArgs[k]; ok {
					v = given
				}
				env[k] = v
			}
		case "WORKDIR":
			workdir = rest
			if err := os.MkdirAll(inRoot(workdir), 0o755); err != nil {
				t.Fatal(err)
			}
		case "COPY":
			src, dst, ok := strings.Cut(rest, " ")
			if !ok || strings.HasPrefix(src, "--") {
				t.Fatalf("%s: COPY %s: not understood", dockerfile, rest)
			}
			copyTree(t, filepath.Join(repoRoot, src), inRoot(filepath.Join(workdir, dst)))
		case "RUN":
			// The image's absolute paths are under root here.
			script := strings.ReplaceAll(rest, " /out/", " "+inRoot("/out")+"/")
			cmd := exec.CommandContext(t.Context(), "sh", "-c", script)
			cmd.Dir = inRoot(workdir)
			cmd.Env = os.Environ()
			for k, v := range env {
				cmd.Env = append(cmd.Env, k+"="+v)
			}
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%s: RUN %s: %v\n%s", dockerfile, rest, err, out)
			}
		default:
			t.Fatalf("%s: %s: not understood by this test", dockerfile, instr)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	t.Fatalf("%s: no runtime stage", dockerfile)
	return ""
}

// copyTree copies the files under src to dst, leaving out testdata directories (.dockerignore)
// and the binaries `go build` leaves next to the sources (.gitignore).
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if !info.Mode().IsRegular() || info.Mode()&0o111 != 0 {
			return nil // an executable: a binary built in place, not a source
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatalf("copy %s: %v", src, err)
	}
}

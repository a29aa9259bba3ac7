package deploy

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// releaseRepo is a git repository holding a copy of scripts/release-images.sh and
// shared/version/VERSION, committed, so that the script's defaults (tag, revision) are known.
type releaseRepo struct {
	dir, bin string
}

func newReleaseRepo(t *testing.T) *releaseRepo {
	t.Helper()
	r := &releaseRepo{dir: t.TempDir(), bin: t.TempDir()}
	for _, f := range []string{"scripts/release-images.sh", "shared/version/VERSION"} {
		data, err := os.ReadFile(filepath.Join(repoRoot, f))
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(r.dir, f)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// A docker or aws CLI called by a dry run would leave a trace here and fail.
	for _, tool := range []string{"docker", "aws"} {
		script := "#!/bin/sh\necho " + tool + " \"$@\" >> " + filepath.Join(r.bin, "called") + "\nexit 99\n"
		if err := os.WriteFile(filepath.Join(r.bin, tool), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	r.git(t, "init", "-q")
	r.git(t, "add", ".")
	r.git(t, "commit", "-q", "-m", "release")
	return r
}

func (r *releaseRepo) git(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"}, args...)...)
	cmd.Dir = r.dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git %s: %v", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out))
}

// run runs the script with args and returns its stdout, stderr and exit code.
func (r *releaseRepo) run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), filepath.Join(r.dir, "scripts/release-images.sh"), args...)
	cmd.Dir = t.TempDir() // the script finds its repository itself
	cmd.Env = append(os.Environ(), "PATH="+r.bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("release-images.sh %s: %v", strings.Join(args, " "), err)
	}
	if called, err := os.ReadFile(filepath.Join(r.bin, "called")); err == nil {
		t.Fatalf("release-images.sh %s ran %s", strings.Join(args, " "), called)
	}
	return out.String(), errOut.String(), code
}

func TestReleaseImagesRefusesBadArguments(t *testing.T) {
	r := newReleaseRepo(t)
	tests := []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"no registry", []string{"--dry-run"}, "--registry is required"},
		{"a registry with a scheme", []string{"--registry", "https://ghcr.io/acme", "--dry-run"}, "is not a registry and path"},
		{"an upper-case registry", []string{"--registry", "ghcr.io/Acme", "--dry-run"}, "is not a registry and path"},
		{"a registry flag without a value", []string{"--registry"}, "--registry needs a value"},
		{"an unknown argument", []string{"--registry", "ghcr.io/acme", "--push"}, "unknown argument: --push"},
		{"a bad platform list", []string{"--registry", "ghcr.io/acme", "--platforms", "amd64", "--dry-run"}, "--platforms amd64 is not"},
		{"a bad tag", []string{"--registry", "ghcr.io/acme", "--tag", "-v1", "--dry-run"}, "--tag -v1 is not a valid image tag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := r.run(t, tt.args...)
			if code != 2 || !strings.Contains(stderr, tt.want) {
				t.Errorf("release-images.sh %s = %d, stderr %q; want 2 and %q", strings.Join(tt.args, " "), code, stderr, tt.want)
			}
			if strings.Contains(stdout, "+ ") {
				t.Errorf("release-images.sh %s printed commands after refusing: %q", strings.Join(tt.args, " "), stdout)
			}
		})
	}
}

func TestReleaseImagesDryRun(t *testing.T) {
	r := newReleaseRepo(t)
	rev := r.git(t, "rev-parse", "HEAD")
	data, err := os.ReadFile(filepath.Join(r.dir, "shared/version/VERSION"))
	if err != nil {
		t.Fatal(err)
	}
	version := strings.TrimSpace(string(data))
	ecr := "123456789012.dkr.ecr.eu-west-1.amazonaws.com/rollwave"
	builds := func(registry, tag, platforms, revision string) []string {
		var lines []string
		for _, w := range []string{"scanner", "patcher", "drainer", "verifier"} {
			lines = append(lines, "+ docker buildx build --builder rollwave --platform "+platforms+
				" --build-arg VERSION="+version+" --build-arg REVISION="+revision+
				" --file services/"+w+"/Dockerfile --tag "+registry+"/"+w+":"+tag+" --push .")
		}
		return lines
	}
	summary := func(registry, tag, platforms, revision string) []string {
		lines := []string{"would push rollwave " + version + " (" + revision + ") for " + platforms + ":"}
		for _, w := range []string{"scanner", "patcher", "drainer", "verifier"} {
			lines = append(lines, "  "+registry+"/"+w+":"+tag)
		}
		return append(lines, `Terraform: image_registry = "`+registry+`", image_tag = "`+tag+`"`)
	}
	concat := func(parts ...[]string) []string {
		var all []string
		for _, p := range parts {
			all = append(all, p...)
		}
		return all
	}
	create := []string{"+ docker buildx create --name rollwave --driver docker-container"}
	login := []string{"+ aws ecr get-login-password --region eu-west-1 | docker login --username AWS --password-stdin 123456789012.dkr.ecr.eu-west-1.amazonaws.com"}
	devTag := "v" + version + "-" + rev[:12]
	both := "linux/amd64,linux/arm64"

	t.Run("ECR: log in, then build and push each worker for amd64 and arm64, tagged with the commit", func(t *testing.T) {
		out, stderr, code := r.run(t, "--registry", ecr+"/", "--dry-run")
		want := concat(login, create, builds(ecr, devTag, both, rev), summary(ecr, devTag, both, rev))
		if diff := cmp.Diff(want, strings.Split(strings.TrimSpace(out), "\n")); code != 0 || diff != "" {
			t.Errorf("release-images.sh --dry-run = %d (stderr %q), commands (-want +got):\n%s", code, stderr, diff)
		}
	})
	t.Run("another registry: no ECR login; --tag and --platforms as given", func(t *testing.T) {
		out, _, code := r.run(t, "--registry=ghcr.io/acme/rollwave", "--tag=v9", "--platforms=linux/arm64", "--dry-run")
		want := concat(create, builds("ghcr.io/acme/rollwave", "v9", "linux/arm64", rev), summary("ghcr.io/acme/rollwave", "v9", "linux/arm64", rev))
		if diff := cmp.Diff(want, strings.Split(strings.TrimSpace(out), "\n")); code != 0 || diff != "" {
			t.Errorf("release-images.sh --dry-run = %d, commands (-want +got):\n%s", code, diff)
		}
	})
	t.Run("the commit tagged v<VERSION> is tagged v<VERSION>", func(t *testing.T) {
		r.git(t, "tag", "v"+version)
		defer r.git(t, "tag", "-d", "v"+version)
		out, _, code := r.run(t, "--registry", ecr, "--dry-run")
		want := concat(login, create, builds(ecr, "v"+version, both, rev), summary(ecr, "v"+version, both, rev))
		if diff := cmp.Diff(want, strings.Split(strings.TrimSpace(out), "\n")); code != 0 || diff != "" {
			t.Errorf("release-images.sh --dry-run = %d, commands (-want +got):\n%s", code, diff)
		}
	})
	t.Run("uncommitted changes: refused without --tag, stamped -dirty with it", func(t *testing.T) {
		if err := os.WriteFile(filepath.Join(r.dir, "notes"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(filepath.Join(r.dir, "notes"))
		if _, stderr, code := r.run(t, "--registry", ecr, "--dry-run"); code != 2 || !strings.Contains(stderr, "uncommitted changes") {
			t.Errorf("release-images.sh on a modified tree = %d, %q; want 2 and why", code, stderr)
		}
		out, _, code := r.run(t, "--registry", ecr, "--tag", "v0.1.0-try", "--dry-run")
		want := concat(login, create, builds(ecr, "v0.1.0-try", both, rev+"-dirty"), summary(ecr, "v0.1.0-try", both, rev+"-dirty"))
		if diff := cmp.Diff(want, strings.Split(strings.TrimSpace(out), "\n")); code != 0 || diff != "" {
			t.Errorf("release-images.sh --tag on a modified tree = %d, commands (-want +got):\n%s", code, diff)
		}
	})
	t.Run("-h prints the usage and exits 0", func(t *testing.T) {
		out, _, code := r.run(t, "-h")
		if code != 0 || !strings.HasPrefix(out, "Usage: scripts/release-images.sh --registry REGISTRY") {
			t.Errorf("release-images.sh -h = %d, %q; want 0 and the usage", code, out)
		}
	})
}

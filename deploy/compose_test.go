package deploy

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/google/go-cmp/cmp"
)

func loadCompose(t *testing.T) *types.Project {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{filepath.Join(repoRoot, "docker-compose.yaml")},
		cli.WithEnv([]string{}), cli.WithName("rollwave"), cli.WithConsistency(true))
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("load docker-compose.yaml: %v", err)
	}
	return p
}

func env(s types.ServiceConfig, k string) string {
	if v, ok := s.Environment[k]; ok && v != nil {
		return *v
	}
	return ""
}

func TestComposeLocalStack(t *testing.T) {
	p := loadCompose(t)
	ls, err := p.GetService("localstack")
	if err != nil {
		t.Fatal(err)
	}
	if ls.Image != "localstack/localstack:4.14.0" {
		t.Errorf("localstack image = %q, want localstack/localstack:4.14.0 (the last version without an auth token)", ls.Image)
	}
	services := strings.Split(env(ls, "SERVICES"), ",")
	sort.Strings(services)
	want := []string{"cloudwatch", "events", "iam", "logs", "sqs", "ssm", "sts"}
	if diff := cmp.Diff(want, services); diff != "" {
		t.Errorf("localstack SERVICES (-want +got):\n%s", diff)
	}
	if ls.HealthCheck == nil || len(ls.HealthCheck.Test) == 0 || !strings.Contains(strings.Join(ls.HealthCheck.Test, " "), "/_localstack/") {
		t.Errorf("localstack health check = %+v, want one on /_localstack/", ls.HealthCheck)
	}
}

func TestComposeWiring(t *testing.T) {
	p := loadCompose(t)
	for name, s := range p.Services {
		for _, v := range s.Volumes {
			if strings.Contains(v.Source, "docker.sock") {
				t.Errorf("service %s mounts the Docker socket", name)
			}
		}
		if s.Privileged {
			t.Errorf("service %s is privileged", name)
		}
	}

	fleetsim, err := p.GetService("fleetsim")
	if err != nil {
		t.Fatal(err)
	}
	if got := env(fleetsim, "AWS_ENDPOINT_URL_EVENTBRIDGE"); got != "http://localstack:4566" {
		t.Errorf("fleetsim AWS_ENDPOINT_URL_EVENTBRIDGE = %q, want http://localstack:4566 (the ECS events reach the rules)", got)
	}
	if cmd := strings.Join(fleetsim.Command, " "); !strings.Contains(cmd, "scenarios/default.yaml") {
		t.Errorf("fleetsim command %q does not load the default scenario", cmd)
	}
	checkBuild(t, fleetsim, "tools/fleetsim/Dockerfile")

	boot, err := p.GetService("bootstrap")
	if err != nil {
		t.Fatal(err)
	}
	checkBuild(t, boot, "tools/bootstrap/Dockerfile")

	for _, w := range workers {
		s, err := p.GetService(w)
		if err != nil {
			t.Fatal(err)
		}
		checkBuild(t, s, "services/"+w+"/Dockerfile")
		if dep, ok := s.DependsOn["bootstrap"]; !ok || dep.Condition != types.ServiceConditionCompletedSuccessfully {
			t.Errorf("%s depends_on bootstrap = %+v, want condition service_completed_successfully", w, dep)
		}
		wantEnv := map[string]string{
			"AWS_ENDPOINT_URL":     "http://localstack:4566",
			"AWS_ENDPOINT_URL_ECS": "http://fleetsim:4599",
			"AWS_ENDPOINT_URL_SSM": "http://fleetsim:4599",
			"AWS_ENDPOINT_URL_EC2": "http://fleetsim:4599",
		}
		for k, v := range wantEnv {
			if got := env(s, k); got != v {
				t.Errorf("%s %s = %q, want %q", w, k, got, v)
			}
		}
		if env(s, "ROLLWAVE_PREFIX") != env(boot, "ROLLWAVE_PREFIX") {
			t.Errorf("%s ROLLWAVE_PREFIX = %q, bootstrap's %q", w, env(s, "ROLLWAVE_PREFIX"), env(boot, "ROLLWAVE_PREFIX"))
		}
		checkSettingsRead(t, w, s)
	}
	scanner, _ := p.GetService("scanner")
	if env(scanner, "ROLLWAVE_CLUSTERS") == "" {
		t.Error("scanner has no ROLLWAVE_CLUSTERS")
	}

	first, err := p.GetService("first-scan")
	if err != nil {
		t.Fatalf("no one-shot that sends the first scan: %v", err)
	}
	if !slices.Contains(first.Command, "-scan") {
		t.Errorf("first-scan command = %q, want -scan", first.Command)
	}
	if _, ok := first.DependsOn["scanner"]; !ok {
		t.Error("first-scan does not wait for the scanner")
	}
}

func checkBuild(t *testing.T, s types.ServiceConfig, dockerfile string) {
	t.Helper()
	if s.Build == nil {
		t.Errorf("%s is not built", s.Name)
		return
	}
	root, _ := filepath.Abs(repoRoot)
	if s.Build.Context != root || s.Build.Dockerfile != dockerfile {
		t.Errorf("%s build = context %q dockerfile %q, want the repository root and %s", s.Name, s.Build.Context, s.Build.Dockerfile, dockerfile)
	}
}

var settingRE = regexp.MustCompile(`^ROLLWAVE_[A-Z_]+$`)

// checkSettingsRead fails when the compose file sets a ROLLWAVE_ variable the worker never reads.
func checkSettingsRead(t *testing.T, w string, s types.ServiceConfig) {
	t.Helper()
	config, err := os.ReadFile(filepath.Join(repoRoot, "services", w, "config.go"))
	if err != nil {
		t.Fatal(err)
	}
	runtime, err := os.ReadFile(filepath.Join(repoRoot, "shared", "pipeline", "runtime.go"))
	if err != nil {
		t.Fatal(err)
	}
	for k := range s.Environment {
		if !settingRE.MatchString(k) {
			continue
		}
		q := `"` + k + `"`
		if !strings.Contains(string(config), q) && !strings.Contains(string(runtime), q) {
			t.Errorf("compose sets %s on the %s, which does not read it", k, w)
		}
	}
}

// TestDockerfiles checks what no engine can check here: each image is a static GOWORK=off build
// on a pinned minimal base, running as a non-root user, from the repository root.
func TestDockerfiles(t *testing.T) {
	dirs := []string{"services/scanner", "services/patcher", "services/drainer", "services/verifier", "tools/fleetsim", "tools/bootstrap"}
	for _, dir := range dirs {
		src, err := os.ReadFile(filepath.Join(repoRoot, dir, "Dockerfile"))
		if err != nil {
			t.Fatal(err)
		}
		var froms []string
		var user string
		lines := strings.Split(string(src), "\n")
		for _, line := range lines {
			f := strings.Fields(line)
			if len(f) < 2 {
				continue
			}
			switch strings.ToUpper(f[0]) {
			case "FROM":
				froms = append(froms, f[1])
			case "USER":
				user = f[1]
			case "COPY":
				if !strings.HasPrefix(f[1], "--from=") && strings.HasPrefix(f[1], "/") {
					t.Errorf("%s: COPY from an absolute path %s; the context is the repository root", dir, f[1])
				}
			}
		}
		for _, from := range froms {
			image, tag, _ := strings.Cut(from, ":")
			if tag == "" || tag == "latest" || strings.Contains(image, "@") {
				if !strings.Contains(from, "@sha256:") {
					t.Errorf("%s: base image %s is not pinned to a version", dir, from)
				}
			}
		}
		if len(froms) < 2 {
			t.Errorf("%s: %d stages, want a build stage and a runtime stage", dir, len(froms))
		} else if final := froms[len(froms)-1]; !strings.HasPrefix(final, "gcr.io/distroless/static") && final != "scratch" {
			t.Errorf("%s: runtime base %s, want distroless/static or scratch", dir, final)
		}
		if user == "" || user == "root" || user == "0" || strings.HasPrefix(user, "root:") || strings.HasPrefix(user, "0:") {
			t.Errorf("%s: USER %q, want a non-root user", dir, user)
		}
		for _, want := range []string{"CGO_ENABLED=0", "GOWORK=off", "COPY " + dir + "/ " + dir + "/"} {
			if !strings.Contains(string(src), want) {
				t.Errorf("%s: Dockerfile lacks %q", dir, want)
			}
		}
	}
}

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
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

func loadCompose(t *testing.T) *types.Project { return loadComposeEnv(t) }

// loadComposeEnv loads docker-compose.yaml as docker compose would with the environment env
// ("KEY=VALUE").
func loadComposeEnv(t *testing.T, env ...string) *types.Project {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{filepath.Join(repoRoot, "docker-compose.yaml")},
		cli.WithEnv(env), cli.WithName("rollwave"), cli.WithConsistency(true))
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
	// Every worker enforces the managed clusters, and all four must agree on them.
	scanner, _ := p.GetService("scanner")
	if env(scanner, "ROLLWAVE_CLUSTERS") == "" {
		t.Error("scanner has no ROLLWAVE_CLUSTERS")
	}
	for _, w := range workers {
		s, _ := p.GetService(w)
		if got, want := env(s, "ROLLWAVE_CLUSTERS"), env(scanner, "ROLLWAVE_CLUSTERS"); got != want {
			t.Errorf("%s ROLLWAVE_CLUSTERS = %q, the scanner's %q: every worker must manage the same clusters", w, got, want)
		}
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

// workerPackage is the package of each worker's code under services/<worker>/: its main package
// only starts it.
var workerPackage = map[string]string{"scanner": "scan", "patcher": "patch", "drainer": "drain", "verifier": "verify"}

// checkSettingsRead fails when the compose file sets a ROLLWAVE_ variable the worker never reads.
func checkSettingsRead(t *testing.T, w string, s types.ServiceConfig) {
	t.Helper()
	config, err := os.ReadFile(filepath.Join(repoRoot, "services", w, workerPackage[w], "config.go"))
	if err != nil {
		t.Fatal(err)
	}
	runtime, err := os.ReadFile(filepath.Join(repoRoot, "shared", "service", "service.go"))
	if err != nil {
		t.Fatal(err)
	}
	// The managed clusters every worker reads through service.LoadCommon.
	boundary, err := os.ReadFile(filepath.Join(repoRoot, "shared", "managed", "managed.go"))
	if err != nil {
		t.Fatal(err)
	}
	for k := range s.Environment {
		if !settingRE.MatchString(k) {
			continue
		}
		q := `"` + k + `"`
		if !strings.Contains(string(config), q) && !strings.Contains(string(runtime), q) && !strings.Contains(string(boundary), q) {
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
				image := f[1]
				if strings.HasPrefix(image, "--platform=") && len(f) > 2 {
					image = f[2]
				}
				froms = append(froms, image)
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

// TestComposeAgreesWithTheLocalStackExample holds terraform/examples/localstack to the compose
// stack, so that terraform apply and then the compose workers run a rollout with nothing
// rewritten: the same prefix, clusters, region and LocalStack account (access key), rules that
// match every cluster as the compose bootstrap's do (fleetsim's clusters are in its scenario's
// account), the SSM documents registered in fleetsim where the workers run them, every other
// service on LocalStack's published port and among the services it runs; and with
// ROLLWAVE_BOOTSTRAP=check the bootstrap and the first scan only check.
func TestComposeAgreesWithTheLocalStackExample(t *testing.T) {
	body := parseTF(t, filepath.Join(repoRoot, "terraform", "examples", "localstack", "main.tf"))
	literal := func(b *hclsyntax.Body, name string) cty.Value {
		t.Helper()
		a, ok := b.Attributes[name]
		if !ok {
			t.Fatalf("the localstack example sets no %s", name)
		}
		v, diags := a.Expr.Value(nil)
		if diags.HasErrors() {
			t.Fatalf("the localstack example's %s is not a literal: %v", name, diags)
		}
		return v
	}
	var mod, provider *hclsyntax.Body
	for _, b := range body.Blocks {
		switch {
		case b.Type == "module" && b.Labels[0] == "rollwave":
			mod = b.Body
		case b.Type == "provider" && b.Labels[0] == "aws":
			provider = b.Body
		}
	}
	if mod == nil || provider == nil {
		t.Fatal("the localstack example has no module rollwave or provider aws")
	}
	endpoints := map[string]string{}
	for _, b := range provider.Blocks {
		if b.Type == "endpoints" {
			for name := range b.Body.Attributes {
				endpoints[name] = literal(b.Body, name).AsString()
			}
		}
	}

	p := loadCompose(t)
	ls, _ := p.GetService("localstack")
	fleetsim, _ := p.GetService("fleetsim")
	scanner, _ := p.GetService("scanner")
	boot, _ := p.GetService("bootstrap")
	published := func(s types.ServiceConfig) string {
		t.Helper()
		if len(s.Ports) != 1 || s.Ports[0].HostIP != "127.0.0.1" {
			t.Fatalf("%s publishes %+v, want one loopback port", s.Name, s.Ports)
		}
		return "http://localhost:" + s.Ports[0].Published
	}
	lsServices := strings.Split(env(ls, "SERVICES"), ",")

	var clusters []string
	for _, c := range literal(mod, "clusters").AsValueSlice() {
		clusters = append(clusters, c.AsString())
	}
	checks := []struct {
		what      string
		got, want string
	}{
		{"prefix vs the workers' ROLLWAVE_PREFIX", literal(mod, "prefix").AsString(), env(scanner, "ROLLWAVE_PREFIX")},
		{"clusters vs the scanner's ROLLWAVE_CLUSTERS", strings.Join(clusters, ","), env(scanner, "ROLLWAVE_CLUSTERS")},
		{"provider region vs the workers' AWS_REGION", literal(provider, "region").AsString(), env(scanner, "AWS_REGION")},
		{"provider access_key (LocalStack's account) vs the workers' AWS_ACCESS_KEY_ID", literal(provider, "access_key").AsString(), env(scanner, "AWS_ACCESS_KEY_ID")},
		{"restrict_events_to_clusters", literal(mod, "restrict_events_to_clusters").GoString(), cty.False.GoString()},
		{"the compose bootstrap's cluster ARNs (unrestricted rules)", env(boot, "ROLLWAVE_CLUSTERS"), ""},
		{"create_services (LocalStack's free edition has no ECS)", literal(mod, "create_services").GoString(), cty.False.GoString()},
		{"ssm endpoint vs fleetsim's published port", endpoints["ssm"], published(fleetsim)},
		{"the workers' SSM endpoint", env(scanner, "AWS_ENDPOINT_URL_SSM"), "http://fleetsim:4599"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("localstack example: %s: %q, want %q", c.what, c.got, c.want)
		}
	}
	for name, url := range endpoints {
		if name == "ssm" {
			continue
		}
		if url != published(ls) {
			t.Errorf("localstack example: endpoint %s = %s, want LocalStack's %s", name, url, published(ls))
		}
		if !slices.Contains(lsServices, name) {
			t.Errorf("localstack example: endpoint %s, which LocalStack's SERVICES %v does not run", name, lsServices)
		}
	}
	if len(endpoints) < 7 {
		t.Errorf("localstack example: endpoints %v, want every service the module uses", endpoints)
	}

	for _, tc := range []struct {
		env  []string
		mode string
	}{{nil, "create"}, {[]string{"ROLLWAVE_BOOTSTRAP=check"}, "check"}} {
		p := loadComposeEnv(t, tc.env...)
		for _, name := range []string{"bootstrap", "first-scan"} {
			s, err := p.GetService(name)
			if err != nil {
				t.Fatal(err)
			}
			if i := slices.Index(s.Command, "-mode"); i < 0 || i+1 >= len(s.Command) || s.Command[i+1] != tc.mode {
				t.Errorf("with %v, %s command = %q, want -mode %s", tc.env, name, s.Command, tc.mode)
			}
		}
	}

	raw, err := os.ReadFile(filepath.Join(repoRoot, "docker-compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if regexp.MustCompile(`(?m)^version:`).Match(raw) || p.Name != "rollwave" || !strings.Contains(string(raw), "Docker Compose v2") {
		t.Error("docker-compose.yaml: want the top-level name, no obsolete version, and the Compose version it needs (v2) said in its header")
	}
}

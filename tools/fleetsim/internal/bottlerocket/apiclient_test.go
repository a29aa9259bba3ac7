package bottlerocket

import (
	"strings"
	"testing"
)

func TestReadCommands(t *testing.T) {
	tests := []struct {
		line       string
		wantExit   int
		wantStdout string
		wantStderr string // substring
	}{
		{"apiclient get os", 0, `{
  "os": {
    "arch": "x86_64",
    "build_id": "` + buildID("1.19.5") + `",
    "pretty_name": "Bottlerocket OS 1.19.5 (aws-ecs-2)",
    "variant_id": "aws-ecs-2",
    "version_id": "1.19.5"
  }
}
`, ""},
		{"apiclient -u /os", 0, `{"arch":"x86_64","build_id":"` + buildID("1.19.5") + `","pretty_name":"Bottlerocket OS 1.19.5 (aws-ecs-2)","variant_id":"aws-ecs-2","version_id":"1.19.5"}` + "\n", ""},
		{"apiclient raw -m GET -u /os", 0, `{"arch":"x86_64","build_id":"` + buildID("1.19.5") + `","pretty_name":"Bottlerocket OS 1.19.5 (aws-ecs-2)","variant_id":"aws-ecs-2","version_id":"1.19.5"}` + "\n", ""},
		{"apiclient get os.version_id", 0, "{\n  \"os\": {\n    \"version_id\": \"1.19.5\"\n  }\n}\n", ""},
		{"apiclient get settings.updates.version-lock", 0, "{\n  \"settings\": {\n    \"updates\": {\n      \"version-lock\": \"latest\"\n    }\n  }\n}\n", ""},
		{"apiclient get updates.seed", 0, "{\n  \"settings\": {\n    \"updates\": {\n      \"seed\": 1000\n    }\n  }\n}\n", ""},
		{"apiclient -u /updates/status", 1, "", "Status 404 when GETing /updates/status: Update status is uninitialized"},
		{"apiclient -u /nope", 1, "", "Failed GET request to '/nope': Status 404"},
		{"apiclient frobnicate", ExitUsage, "", "Unknown argument 'frobnicate'\n\nUsage: apiclient"},
		{"apiclient update frobnicate", ExitUsage, "", "Missing or unknown subcommand for 'update'"},
		{"apiclient update apply --force", ExitUsage, "", "Unknown argument '--force'"},
		{"apiclient update check now", ExitUsage, "", "Unknown arguments: now"},
		{"apiclient reboot now", ExitUsage, "", "Unknown arguments: now"},
		{"apiclient raw -m GET", ExitUsage, "", "Missing required argument '--uri'"},
		{"apiclient --help", ExitUsage, "", "Usage: apiclient"},
		{"apiclient set updates.version-lock=banana", 1, "", "Status 400"},
		{"apiclient set settings.motd=hi", 1, "", "unknown field 'motd'"},
		{"apiclient set", ExitUsage, "", "Must specify key=value settings"},
		{"reboot", ExitNotFound, "", "reboot: not found"},
		{"", 0, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			f := newFixture(t, nil)
			got := f.run(tt.line)
			if got.ExitCode != tt.wantExit || got.Stdout != tt.wantStdout || !strings.Contains(got.Stderr, tt.wantStderr) {
				t.Errorf("Run(%q) = %+v, want exit %d, stdout %q, stderr containing %q", tt.line, got, tt.wantExit, tt.wantStdout, tt.wantStderr)
			}
		})
	}
}

func buildID(version string) string {
	return (&Host{parts: [2]string{version}}).osInfo()["build_id"].(string)
}

func TestSetSettings(t *testing.T) {
	f := newFixture(t, nil)
	got := f.mustRun(`apiclient set settings.updates.version-lock="v1.20.2" updates.ignore-waves=true updates.seed=7`)
	if got.Stdout != "" || got.Stderr != "" {
		t.Errorf("set printed %+v, want nothing", got)
	}
	want := "{\n  \"settings\": {\n    \"updates\": {\n      \"ignore-waves\": true,\n      \"seed\": 7,\n      \"version-lock\": \"v1.20.2\"\n    }\n  }\n}\n"
	if s := f.mustRun("apiclient get settings.updates").Stdout; s != want {
		t.Errorf("get settings.updates = %s, want %s", s, want)
	}
	// A rejected set changes nothing.
	f.run("apiclient set updates.seed=7 updates.version-lock=banana")
	if l := f.host.VersionLock(); l != "v1.20.2" {
		t.Errorf("VersionLock() after a rejected set = %s, want v1.20.2", l)
	}
}

func TestAnswersGoThroughTheClock(t *testing.T) {
	f := newFixture(t, nil)
	for _, line := range []string{"apiclient get os", "apiclient update cancel", "apiclient frobnicate", "apiclient reboot"} {
		got := f.start(line)
		if *got != nil {
			t.Errorf("Run(%q) answered before returning, want the answer from a clock callback", line)
		}
		f.clock.Advance(0)
		if *got == nil {
			t.Errorf("Run(%q) did not answer at once in virtual time", line)
		}
	}
}

package main

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// flagRe finds the flags a usage line or a help text names: -o, --cluster.
var flagRe = regexp.MustCompile(`(?:^|[\s\[(|'])(--?[a-z][a-z0-9-]*)`)

// TestHelpAgreesWithFlags checks, for every command, that its usage line names exactly the
// flags it defines (besides the global ones), spelt as the flag list spells them (-o, --name);
// that every flag its help text mentions exists; and that the printed flag list shows each flag
// once and each default once.
func TestHelpAgreesWithFlags(t *testing.T) {
	for _, c := range commands {
		t.Run(c.name, func(t *testing.T) {
			fs := flagsOf(c)
			if fs == nil {
				t.Fatalf("%s defines no flag set: does it call parse first?", c.name)
			}
			defined := map[string]bool{}
			var own []string
			for name := range globalNames {
				defined[flagName(name)] = true
			}
			defined["-h"], defined["--version"] = true, true
			for _, name := range flagNames(fs) {
				defined[flagName(name)] = true
				if !globalNames[name] && name != "output" {
					own = append(own, flagName(name))
				}
			}
			var inUsage []string
			for _, m := range flagRe.FindAllStringSubmatch(c.usage, -1) {
				if !contains(inUsage, m[1]) {
					inUsage = append(inUsage, m[1])
				}
			}
			sort.Strings(own)
			sort.Strings(inUsage)
			if diff := cmp.Diff(own, inUsage); diff != "" {
				t.Errorf("usage %q against the flags defined (-defined +usage):\n%s", c.usage, diff)
			}
			for _, m := range flagRe.FindAllStringSubmatch(c.help, -1) {
				if !defined[m[1]] {
					t.Errorf("help mentions %s, which %s does not define", m[1], c.name)
				}
			}

			r := runCLI(t, map[string]string{}, "", append([]string{"help"}, strings.Fields(c.name)...)...)
			list := r.stdout[strings.Index(r.stdout, "Flags:"):]
			for _, name := range own {
				pattern := regexp.MustCompile(`(?m)^  (-o, )?` + regexp.QuoteMeta(name) + `\b`)
				if n := len(pattern.FindAllString(list, -1)); n != 1 {
					t.Errorf("help lists %s %d times, want once:\n%s", name, n, list)
				}
			}
			for _, line := range strings.Split(list, "\n") {
				if strings.Count(line, "(default") > 1 {
					t.Errorf("help line %q gives its default twice", line)
				}
			}
		})
	}
}

// flagNames are the names fs defines, in order.
func flagNames(fs *flag.FlagSet) []string {
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	return names
}

// TestCompletionLoadsInBash loads the bash completion into bash and completes with it.
func TestCompletionLoadsInBash(t *testing.T) {
	r := runCLI(t, map[string]string{}, "", "completion", "bash")
	if r.code != 0 {
		t.Fatalf("completion bash: exit %d", r.code)
	}
	script := filepath.Join(t.TempDir(), "rollwave.bash")
	if err := os.WriteFile(script, []byte(r.stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		words []string // the command line, the word being completed last
		want  string
	}{
		{[]string{"rollwave", "jo"}, "jobs"},
		{[]string{"rollwave", "jobs", "d"}, "describe"},
		{[]string{"rollwave", "jobs", "list", "--cluster", "prod", "--out"}, "--outcome --output"},
		{[]string{"rollwave", "instances", "release", "i-0123456789abcdef0", "--c"}, "--cluster"},
		{[]string{"rollwave", "dlq", "redrive", "patcher", "--m"}, "--max --message-id"},
	}
	for _, tt := range tests {
		cmd := exec.CommandContext(t.Context(), "bash", "-c",
			`source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); _rollwave; echo "${COMPREPLY[*]}"`, "bash", script)
		cmd.Args = append(cmd.Args, tt.words...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("bash: %v\n%s", err, out)
		}
		if got := strings.TrimSpace(string(out)); got != tt.want {
			t.Errorf("completing %q = %q, want %q", strings.Join(tt.words, " "), got, tt.want)
		}
	}
}

// TestCompletionLoadsInFish loads the fish completion into Debian's fish (scripts/deps.sh
// installs it) and completes with it.
func TestCompletionLoadsInFish(t *testing.T) {
	if _, err := os.Stat("/usr/bin/fish"); err != nil {
		t.Fatal("/usr/bin/fish is missing: run scripts/deps.sh (make deps), which installs Debian's fish")
	}
	r := runCLI(t, map[string]string{}, "", "completion", "fish")
	if r.code != 0 {
		t.Fatalf("completion fish: exit %d", r.code)
	}
	script := filepath.Join(t.TempDir(), "rollwave.fish")
	if err := os.WriteFile(script, []byte(r.stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ line, want string }{
		{"rollwave jobs d", "describe"},
		{"rollwave jobs list --cluster prod --out", "--outcome --output"},
		{"rollwave dlq redrive patcher --m", "--max --message-id"},
	}
	for _, tt := range tests {
		out, err := exec.CommandContext(t.Context(), "/usr/bin/fish", "--no-config", "-c", `source $argv[1]; complete -C $argv[2]`, script, tt.line).CombinedOutput()
		if err != nil {
			t.Fatalf("fish: %v\n%s", err, out)
		}
		if got := strings.Join(strings.Fields(string(out)), " "); got != tt.want {
			t.Errorf("completing %q = %q, want %q", tt.line, got, tt.want)
		}
	}
}

// TestCompletionLoadsInZsh loads the zsh completion into Debian's zsh (scripts/deps.sh installs
// it) after compinit, checks that it defines the completion of rollwave, and completes with its
// function in zsh, where bash's syntax may read differently.
func TestCompletionLoadsInZsh(t *testing.T) {
	if _, err := os.Stat("/usr/bin/zsh"); err != nil {
		t.Fatal("/usr/bin/zsh is missing: run scripts/deps.sh (make deps), which installs Debian's zsh")
	}
	r := runCLI(t, map[string]string{}, "", "completion", "zsh")
	if r.code != 0 {
		t.Fatalf("completion zsh: exit %d", r.code)
	}
	script := filepath.Join(t.TempDir(), "_rollwave")
	if err := os.WriteFile(script, []byte(r.stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), "/usr/bin/zsh", "-f", "-c",
		`autoload -U compinit && compinit -u -d "$2" && source "$1" && print -r -- "$_comps[rollwave]"`, "zsh", script, filepath.Join(t.TempDir(), "zcompdump"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("zsh: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); !strings.Contains(got, "_rollwave") {
		t.Errorf("after loading the script, zsh completes rollwave with %q, want the script's _rollwave", got)
	}
	// bashcompinit hands every word of the command's path to zsh, which keeps those that match
	// what is typed: the function must find the path (jobs; jobs list), not filter.
	for _, tt := range []struct{ words, want string }{
		{"rollwave jobs de", "describe list send"},
		{"rollwave jobs list --cluster prod --out", "--cluster --event-bus --outcome --output --prefix --profile --query --region --since --stage -o"},
	} {
		cmd := exec.CommandContext(t.Context(), "/usr/bin/zsh", "-f", "-c",
			`autoload -U compinit && compinit -u -d "$2" && source "$1" && COMP_WORDS=(${=3}) && COMP_CWORD=$(( ${#COMP_WORDS} - 1 )) && `+
				`__rollwave_bash && print -r -- "${COMPREPLY[*]}"`, "zsh", script, filepath.Join(t.TempDir(), "zcompdump"), tt.words)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("zsh completing %q: %v\n%s", tt.words, err, out)
		}
		if got := strings.TrimSpace(string(out)); got != tt.want {
			t.Errorf("zsh completing %q = %q, want %q", tt.words, got, tt.want)
		}
	}
}

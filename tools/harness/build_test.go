package harness

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBuildSharesTheBinaryAcrossTestBinaries calls build as each test binary of a run does (the
// once per binary of BuildBinary is per process): the second call finds the binary up to date and
// leaves the file that processes run untouched; a change to the sources replaces it.
func TestBuildSharesTheBinaryAcrossTestBinaries(t *testing.T) {
	root := t.TempDir()
	pkg := filepath.Join(root, "cmd", "greet")
	writeGreet := func(greeting string) {
		t.Helper()
		src := "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"" + greeting + "\") }\n"
		if err := os.WriteFile(filepath.Join(pkg, "main.go"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(pkg, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("module example.com/greet\n\ngo 1.26\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	writeGreet("hello")
	t.Setenv("GOWORK", "off") // the module in root, not the repository's workspace
	t.Setenv("GOFLAGS", "")

	run := func(bin string) string {
		t.Helper()
		out, err := exec.CommandContext(t.Context(), bin).Output()
		if err != nil {
			t.Fatalf("run %s: %v", bin, err)
		}
		return strings.TrimSpace(string(out))
	}
	stat := func(path string) os.FileInfo {
		t.Helper()
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return info
	}

	first, err := build(root, pkg)
	if err != nil {
		t.Fatal(err)
	}
	firstInfo := stat(first)
	if got := run(first); got != "hello" {
		t.Fatalf("first build prints %q, want hello", got)
	}

	second, err := build(root, pkg)
	if err != nil {
		t.Fatal(err)
	}
	if second != first || !os.SameFile(stat(second), firstInfo) {
		t.Errorf("build of unchanged sources replaced the binary: %s, then %s", first, second)
	}

	writeGreet("changed")
	third, err := build(root, pkg)
	if err != nil {
		t.Fatal(err)
	}
	if third != first {
		t.Errorf("build after a change returned %s, want the same path %s", third, first)
	}
	if got := run(third); got != "changed" {
		t.Errorf("build after a change prints %q, want changed", got)
	}
}

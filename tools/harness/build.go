package harness

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
)

// RepoRoot returns the directory holding go.work, found by walking up from the working
// directory (a test runs in its package's directory).
func RepoRoot(t testing.TB) string {
	t.Helper()
	root, err := FindRepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// FindRepoRoot returns the directory holding go.work, walking up from the working directory; for
// programs (tools/demo) that need the repository without a testing.TB.
func FindRepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find repository root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find repository root: no go.work above the working directory")
		}
		dir = parent
	}
}

type buildResult struct {
	once sync.Once
	path string
	err  error
}

var (
	buildsMu sync.Mutex
	builds   = map[string]*buildResult{}
)

// BuildBinary builds the main package in pkgDir (absolute, or relative to the repository root)
// with `go build` and returns the binary's path. Each package is built once per test binary; a
// failed build fails every test that asks for it. Binaries live in .cache/harness/bin in the
// repository root and are replaced atomically, so parallel test binaries may share them.
func BuildBinary(t testing.TB, pkgDir string) string {
	t.Helper()
	root := RepoRoot(t)
	if !filepath.IsAbs(pkgDir) {
		pkgDir = filepath.Join(root, pkgDir)
	}
	pkgDir = filepath.Clean(pkgDir)

	buildsMu.Lock()
	b, ok := builds[pkgDir]
	if !ok {
		b = &buildResult{}
		builds[pkgDir] = b
	}
	buildsMu.Unlock()

	b.once.Do(func() { b.path, b.err = build(root, pkgDir) })
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

func build(root, pkgDir string) (string, error) {
	sum := sha256.Sum256([]byte(pkgDir))
	name := filepath.Base(pkgDir)
	dir := filepath.Join(root, ".cache", "harness", "bin", name+"-"+hex.EncodeToString(sum[:4]))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("build %s: %w", pkgDir, err)
	}
	final := filepath.Join(dir, name)
	tmp := final + ".tmp" + strconv.Itoa(os.Getpid())
	cmd := exec.Command("go", "build", "-o", tmp, ".")
	cmd.Dir = pkgDir
	if out, err := cmd.CombinedOutput(); err != nil {
		_ = os.Remove(tmp)
		return "", fmt.Errorf("build %s: %w\n%s", pkgDir, err, out)
	}
	if err := os.Rename(tmp, final); err != nil {
		return "", fmt.Errorf("build %s: %w", pkgDir, err)
	}
	return final, nil
}

package harness

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
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
// failed build fails every test that asks for it.
//
// Binaries live in .cache/harness/bin in the repository root and are shared by every test binary
// of a run: the first to ask links the binary, the others find it up to date (go build skips the
// link when its output already holds the build ID it would produce, which hashes the sources,
// flags and toolchain) and only replace it when its content changed. A file lock serialises the
// builds of one package across test binaries; the binary is replaced atomically, so a process
// started from it is never affected.
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

// build brings the binary of pkgDir in root's .cache up to date and returns its path. go build
// writes a staging copy that only build touches, under the lock; the binary that processes run is
// a copy of it, renamed into place when it differs.
func build(root, pkgDir string) (string, error) {
	sum := sha256.Sum256([]byte(pkgDir))
	name := filepath.Base(pkgDir)
	dir := filepath.Join(root, ".cache", "harness", "bin", name+"-"+hex.EncodeToString(sum[:4]))
	if err := os.MkdirAll(filepath.Join(dir, "staging"), 0o755); err != nil {
		return "", fmt.Errorf("build %s: %w", pkgDir, err)
	}
	unlock, err := lockFile(filepath.Join(dir, "lock"))
	if err != nil {
		return "", fmt.Errorf("build %s: %w", pkgDir, err)
	}
	defer unlock()

	staging := filepath.Join(dir, "staging", name)
	cmd := exec.Command("go", "build", "-o", staging, ".")
	cmd.Dir = pkgDir
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build %s: %w\n%s", pkgDir, err, out)
	}
	final := filepath.Join(dir, name)
	same, err := sameContent(staging, final)
	if err != nil {
		return "", fmt.Errorf("build %s: %w", pkgDir, err)
	}
	if same {
		return final, nil
	}
	tmp := final + ".tmp" + strconv.Itoa(os.Getpid())
	if err := copyFile(tmp, staging); err != nil {
		_ = os.Remove(tmp)
		return "", fmt.Errorf("build %s: %w", pkgDir, err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return "", fmt.Errorf("build %s: %w", pkgDir, err)
	}
	return final, nil
}

// lockFile takes an exclusive lock on the file at path, creating it, and returns its release. It
// blocks while another process holds the lock.
func lockFile(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock: %w", err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil // closing the descriptor releases the lock
}

// sameContent reports whether the files at a and b hold the same bytes; a missing b differs.
func sameContent(a, b string) (bool, error) {
	fb, err := os.Open(b)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer fb.Close()
	fa, err := os.Open(a)
	if err != nil {
		return false, err
	}
	defer fa.Close()
	ia, err := fa.Stat()
	if err != nil {
		return false, err
	}
	ib, err := fb.Stat()
	if err != nil {
		return false, err
	}
	if ia.Size() != ib.Size() {
		return false, nil
	}
	bufA, bufB := make([]byte, 1<<20), make([]byte, 1<<20)
	for {
		na, errA := io.ReadFull(fa, bufA)
		nb, errB := io.ReadFull(fb, bufB)
		if !bytes.Equal(bufA[:na], bufB[:nb]) {
			return false, nil
		}
		switch {
		case errA == io.EOF || errA == io.ErrUnexpectedEOF:
			return errB == io.EOF || errB == io.ErrUnexpectedEOF, nil
		case errA != nil:
			return false, errA
		case errB != nil:
			return false, errB
		}
	}
}

// copyFile copies the executable at src to dst, creating or truncating dst.
func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

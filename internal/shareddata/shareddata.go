// Package shareddata locates the public benchmark files that tests read.
//
// The benchmark files are not part of the repository (their licences and
// sizes keep them out): they sit in a folder named shared/data beside the
// checkout, i.e. ../shared/data relative to the repository root. Tests call
// Dir or Path instead of building that path themselves.
package shareddata

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// modulePath identifies the repository root's go.mod.
const modulePath = "module github.com/deepconf/deepconf"

// Dir returns the absolute path of the shared benchmark data folder, or
// fails the test when it cannot be found: the data is part of every test
// environment, so a missing folder is an error, not a reason to skip.
func Dir(t testing.TB) string {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatalf("shared benchmark data: %v", err)
	}
	dir := filepath.Join(filepath.Dir(root), "shared", "data")
	if _, err := os.Stat(filepath.Join(dir, "MANIFEST.md")); err != nil {
		t.Fatalf("shared benchmark data missing beside the checkout: %v", err)
	}
	return dir
}

// Path returns Dir joined with elems, and fails the test when that file or
// folder does not exist.
func Path(t testing.TB, elems ...string) string {
	t.Helper()
	p := filepath.Join(append([]string{Dir(t)}, elems...)...)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("shared benchmark data: %v", err)
	}
	return p
}

// repoRoot returns the directory of the deepconf go.mod that contains the
// working directory.
func repoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(b, []byte(modulePath+"\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", os.ErrNotExist
		}
		dir = parent
	}
}

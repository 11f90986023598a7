package main

import (
	"go/build"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestREADMEArchitecture: the architecture block of README.md lists every
// package of the module once, each with exactly the module packages its
// non-test files import (as go list reports them), and no package imports
// one listed above it.
func TestREADMEArchitecture(t *testing.T) {
	const module = "github.com/deepconf/deepconf/"
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	order, listed := readmeArchitecture(t, string(readme))

	actual := map[string][]string{}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata") {
			return filepath.SkipDir
		}
		pkg, err := build.Default.ImportDir(path, 0)
		if err != nil {
			return nil // no Go package here (or only tests)
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		var imps []string
		for _, p := range pkg.Imports {
			if strings.HasPrefix(p, module) {
				imps = append(imps, strings.TrimPrefix(p, module))
			}
		}
		actual[filepath.ToSlash(rel)] = imps
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(actual) == 0 {
		t.Fatal("found no packages")
	}

	for p, want := range actual {
		got, ok := listed[p]
		if !ok {
			t.Errorf("README architecture: package %s is missing (it imports %v)", p, want)
			continue
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("README architecture: %s → %v, but it imports %v", p, got, want)
		}
	}
	for p := range listed {
		if _, ok := actual[p]; !ok {
			t.Errorf("README architecture: %s is not a package of the module", p)
		}
	}
	pos := map[string]int{}
	for i, p := range order {
		pos[p] = i
	}
	for p, imps := range actual {
		for _, x := range imps {
			if i, ok := pos[x]; ok && i < pos[p] {
				t.Errorf("README architecture: %s imports %s, which is listed above it", p, x)
			}
		}
	}
}

// readmeArchitecture parses the ```text block after "## Architecture": a
// line that starts with a package path opens its entry (the path, then its
// role), and the words after "→" on the entry's lines are its imports.
func readmeArchitecture(t *testing.T, readme string) (order []string, imports map[string][]string) {
	t.Helper()
	_, sec, ok := strings.Cut(readme, "\n## Architecture\n")
	if !ok {
		t.Fatal("README.md has no ## Architecture section")
	}
	_, block, ok := strings.Cut(sec, "```text\n")
	if !ok {
		t.Fatal("README.md's architecture has no ```text block")
	}
	block, _, ok = strings.Cut(block, "```")
	if !ok {
		t.Fatal("README.md's architecture block is not closed")
	}
	imports = map[string][]string{}
	var cur string
	inArrow := false
	for line := range strings.Lines(block) {
		line = strings.TrimRight(line, "\n")
		if strings.TrimSpace(line) == "" {
			continue
		}
		if line[0] != ' ' {
			cur = strings.Fields(line)[0]
			if _, dup := imports[cur]; dup {
				t.Errorf("README architecture lists %s twice", cur)
			}
			imports[cur] = nil
			order = append(order, cur)
			inArrow = false
			continue
		}
		if cur == "" {
			t.Fatalf("README architecture: continuation line before any package: %q", line)
		}
		if _, after, ok := strings.Cut(line, "→"); ok {
			inArrow, line = true, after
		}
		if inArrow {
			imports[cur] = append(imports[cur], strings.Fields(line)...)
		}
	}
	return order, imports
}

package benchmark

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/parquet-go/parquet-go"
)

// TestEmptyDatasetRefused: a benchmark file without data rows is refused
// with ErrNoRows naming the file, in every format, both as a named
// benchmark and as a custom file.
func TestEmptyDatasetRefused(t *testing.T) {
	type promptRow struct {
		Prompt string `parquet:"prompt"`
	}
	emptyParquet := func(t *testing.T, name string) string {
		p := filepath.Join(t.TempDir(), name)
		if err := parquet.WriteFile[promptRow](p, nil); err != nil {
			t.Fatal(err)
		}
		return p
	}
	emptyToxicParquet := func(t *testing.T, name string) string {
		p := filepath.Join(t.TempDir(), name)
		if err := parquet.WriteFile[toxicRow](p, nil); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name string
		path func(t *testing.T) string
		// bench is the named benchmark read from the file ("": a custom
		// file with the prompt field "prompt").
		bench string
	}{
		{"csv empty", func(t *testing.T) string { return writeFile(t, "p.csv", "") }, ""},
		{"csv header only", func(t *testing.T) string { return writeFile(t, "p.csv", "prompt\n") }, ""},
		{"tsv header only", func(t *testing.T) string { return writeFile(t, "p.tsv", "prompt\n") }, ""},
		{"jsonl empty", func(t *testing.T) string { return writeFile(t, "p.jsonl", "") }, ""},
		{"jsonl blank lines", func(t *testing.T) string { return writeFile(t, "p.jsonl", "\n  \n") }, ""},
		{"parquet no rows", func(t *testing.T) string { return emptyParquet(t, "p.parquet") }, ""},
		{"toxicchat csv header only", func(t *testing.T) string { return writeFile(t, "t.csv", "user_input,toxicity\n") }, "toxicchat"},
		{"toxicchat jsonl empty", func(t *testing.T) string { return writeFile(t, "t.jsonl", "") }, "toxicchat"},
		{"toxicchat parquet no rows", func(t *testing.T) string { return emptyToxicParquet(t, "t.parquet") }, "toxicchat"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.path(t)
			var err error
			if tt.bench == "" {
				_, err = LoadMapped(context.Background(), path, Mapping{Name: "mine", Prompt: "prompt"}, FormatAuto)
			} else {
				_, err = Load(context.Background(), tt.bench, Options{Data: path})
			}
			var pe *ParseError
			if !errors.Is(err, ErrNoRows) || !errors.As(err, &pe) || pe.File != path {
				t.Errorf("err %v, want ErrNoRows naming %s", err, path)
			}
		})
	}
}

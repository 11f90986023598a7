package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/deepconf/deepconf/internal/gguf"
)

func runModels(t *testing.T, args ...string) (stdout string, err error) {
	t.Helper()
	out, _, err := execute(newModelsCmd(), args...)
	return out, err
}

func TestModelsGen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tiny.gguf")
	out, err := runModels(t, "gen", "--shape", "tiny", "--quant", "F32", "--seed", "5", "--peaked",
		"--context-length", "2048", "--out", path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	want := regexp.MustCompile(`^wrote ` + regexp.QuoteMeta(path) + `: tiny F32, (\d+) bytes \(\d+\.\d MB\) in \S+\n$`)
	if m := want.FindStringSubmatch(out); m == nil || m[1] != strconv.FormatInt(fi.Size(), 10) {
		t.Errorf("output %q, want the path, %d bytes and the time", out, fi.Size())
	}
	f, err := gguf.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]any{
		"deepconf.testmodel.seed":            uint64(5),
		"deepconf.testmodel.embedding_sigma": float32(1),
		"qwen3.context_length":               uint32(2048),
		"general.file_type":                  uint32(0),
	} {
		if got, _ := f.Lookup(key); got != want {
			t.Errorf("%s = %v, want %v", key, got, want)
		}
	}
}

func TestModelsGenErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"gen", "--shape", "tiny"}, `required flag(s) "output" not set`},
		{[]string{"gen", "--out", filepath.Join(dir, "x.gguf")}, `required flag(s) "shape" not set`},
		{[]string{"gen", "--shape", "huge", "--out", filepath.Join(dir, "x.gguf")}, `unknown shape "huge"`},
		{[]string{"gen", "--shape", "tiny", "--quant", "Q2_K", "--out", filepath.Join(dir, "x.gguf")}, `unknown quantization "Q2_K"`},
		{[]string{"gen", "--shape", "tiny", "--out", filepath.Join(dir, "missing", "x.gguf")}, "no such file or directory"},
	}
	for _, tt := range tests {
		_, err := runModels(t, tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("models %s: error %v, want one containing %q", strings.Join(tt.args, " "), err, tt.want)
		}
	}
}

package sweep

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deepconf/deepconf/controller"
	"github.com/deepconf/deepconf/internal/setting"
	"github.com/deepconf/deepconf/internal/shareddata"
	"github.com/deepconf/deepconf/record"
)

func TestCheckOutput(t *testing.T) {
	for path, ok := range map[string]bool{"s.csv": true, "d/s.JSON": true, "s.md": true, "s.txt": false, "s": false} {
		if err := CheckOutput(path); (err == nil) != ok || !ok && !strings.Contains(err.Error(), path+": want a .csv, .json or .md file") {
			t.Errorf("%s: %v", path, err)
		}
	}
}

// TestDirErrors: a missing run directory, or a file in its place, is named
// before anything is read, by the replay and the simulators alike; the
// threshold simulator writes no file.
func TestDirErrors(t *testing.T) {
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "f")
	os.WriteFile(file, nil, 0o644)
	for dir, want := range map[string]string{filepath.Join(t.TempDir(), "missing"): "run directory: ", file: "not a directory"} {
		if _, _, err := ReplayDir(ctx, dir, Grid{}, ReplayOptions{}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ReplayDir %s: %v, want %q", dir, err, want)
		}
		if _, err := SimulateDir(ctx, dir, SimulateOptions{}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("SimulateDir %s: %v, want %q", dir, err, want)
		}
	}
	_, err := SimulateDir(ctx, t.TempDir(), SimulateOptions{Sims: SimThreshold, Out: "x.json"})
	var se *setting.Error
	if !errors.As(err, &se) || se.Name != "out" || !strings.Contains(err.Error(), "stdout only") {
		t.Errorf("threshold simulator with an output file: %v", err)
	}
}

// TestWriteReport replays the hand run and writes its report: the table,
// the file and the figures named on "wrote" lines, and the random-model
// warning when run.json says so.
func TestWriteReport(t *testing.T) {
	dir, _ := handRun(t)
	p, res, err := ReplayDir(context.Background(), dir, Grid{Policy: []string{controller.PolicySingle}, Window: []int{2, 3}}, ReplayOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteReport(&b, p, res, ""); err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	WriteText(&text, p, res)
	if b.String() != text.String() {
		t.Errorf("without an output file the report is not the table:\n%s", b.String())
	}
	out := filepath.Join(t.TempDir(), "s.csv")
	b.Reset()
	p.Run = &record.Run{RandomModel: true}
	if err := WriteReport(&b, p, res, out); err != nil {
		t.Fatal(err)
	}
	got := b.String()
	if !strings.HasPrefix(got, "WARNING: the model is a generated random-weight test model") || !strings.HasSuffix(got, "\nwrote "+out+"\n") {
		t.Errorf("report:\n%s", got)
	}
	if _, err := os.Stat(out); err != nil {
		t.Error(err)
	}
}

// TestSimulationsWriteText runs the simulators on the prototype's fixture,
// its gold labels from the benchmark (Gold), and prints them.
func TestSimulationsWriteText(t *testing.T) {
	dir := t.TempDir()
	fixture, err := os.ReadFile(filepath.Join("testdata", "seed", "predictions.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, record.PredictionsFile), fixture, 0o644)
	gold := Gold{Benchmark: "toxicchat", Data: filepath.Join(shareddata.Dir(t), "toxicchat")}
	out := filepath.Join(t.TempDir(), "p.json")
	s, err := SimulateDir(context.Background(), dir, SimulateOptions{Gold: gold, Out: out})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := s.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	got := b.String()
	for _, want := range []string{"Run " + dir + ": 6 predictions (predictions.jsonl), the prototype's post-hoc simulators (seed mode)\n\n", "Simulator B (", "\nwrote " + out + "\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
}

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deepconf/deepconf/analysis"
)

// syntheticRun writes a small generated run directory (predictions and
// traces) and returns it.
func syntheticRun(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := analysis.WriteSyntheticRun(dir, analysis.SyntheticRun{Instances: 40, Traces: 3, Tokens: 12}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestAnalyzeCmd runs deepconf analyze with exports: it prints the
// summary and the files written, and writes the report next to them.
func TestAnalyzeCmd(t *testing.T) {
	dir := syntheticRun(t)
	out := filepath.Join(t.TempDir(), "out")
	stdout, stderr, err := execute(newAnalyzeCmd(), dir, "--out", out, "--export", "md,latex", "--no-baselines")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	for _, s := range []string{"Run " + dir + ": 40 instances", "Hypothesis: ", "Overall\n",
		"\nwrote tables.md, tables.tex, figures/ (", "report.html, analysis.json in " + out + "\n"} {
		if !strings.Contains(stdout, s) {
			t.Errorf("output lacks %q:\n%s", s, stdout)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "report.html")); err != nil {
		t.Error(err)
	}
	if strings.Contains(stdout, "NOTE:") {
		t.Errorf("a finished run's analysis has notes:\n%s", stdout)
	}
}

// TestAnalyzeExportMatchesReportMarkdown is the acceptance of the one
// table writer at the command line: analyze --export md,latex and report
// --markdown/--latex format the same run the same way, byte for byte.
func TestAnalyzeExportMatchesReportMarkdown(t *testing.T) {
	dir := syntheticRun(t)
	out := filepath.Join(t.TempDir(), "out")
	if _, stderr, err := execute(newAnalyzeCmd(), dir, "--out", out, "--export", "md,latex"); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	md, tex := filepath.Join(t.TempDir(), "r.md"), filepath.Join(t.TempDir(), "r.tex")
	if _, stderr, err := execute(newReportCmd(), dir, "-o", filepath.Join(t.TempDir(), "r.html"), "--markdown", md, "--latex", tex, "--figures=false"); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	for a, b := range map[string]string{filepath.Join(out, "tables.md"): md, filepath.Join(out, "tables.tex"): tex} {
		x, err := os.ReadFile(a)
		if err != nil {
			t.Fatal(err)
		}
		y, err := os.ReadFile(b)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(x, y) {
			t.Errorf("%s and %s differ:\n%s\n---\n%s", a, b, x, y)
		}
	}
}

func TestAnalyzeErrors(t *testing.T) {
	dir := syntheticRun(t)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{dir, "--scoring", "nll"}, "--scoring"},
		{[]string{dir, "--split", "top"}, "--split"},
		{[]string{dir, "--export", "xlsx"}, "--export"},
		{[]string{dir, "--benchmark", "toxicchat"}, "--benchmark and --data"},
		{[]string{dir, "--baseline-traces", "-1"}, "--baseline-traces -1"},
		{[]string{dir, "--level", "1.5"}, "--level 1.5: must be in (0, 1)"},
		{[]string{filepath.Join(dir, "missing")}, "run directory"},
		{[]string{t.TempDir()}, "no predictions.jsonl"},
	} {
		if _, _, err := execute(newAnalyzeCmd(), tt.args...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: error %v, want %q", tt.args, err, tt.want)
		}
	}
}

// TestAnalyzeOutcome: --outcome response-harm on a run without harm
// ratings fails and says why; with ratings it tests them and reports the
// prompt-harm outcome beside them.
func TestAnalyzeOutcome(t *testing.T) {
	dir := syntheticRun(t)
	_, _, err := execute(newAnalyzeCmd(), dir, "--outcome", "response-harm", "--no-baselines")
	if err == nil || !strings.Contains(err.Error(), "no instance has a response-harm rating") || !strings.Contains(err.Error(), "--harm-detector") {
		t.Fatalf("response-harm without ratings: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "analysis.json")); err == nil {
		t.Error("a failed analysis wrote analysis.json")
	}
	if _, _, err := execute(newAnalyzeCmd(), dir, "--outcome", "harm"); err == nil || !strings.Contains(err.Error(), "--outcome") {
		t.Errorf("--outcome harm: %v", err)
	}

	// Rate every other instance's answer harmful.
	path := filepath.Join(dir, "predictions.jsonl")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	for i, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		label := "unharmful"
		if i%2 == 0 {
			label = "harmful"
		}
		out.Write(bytes.TrimSuffix(line, []byte("}")))
		out.WriteString(`,"response_harm":{"trace":0,"label":"` + label + `","harmful":0,"rated":1}}` + "\n")
	}
	if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err := execute(newAnalyzeCmd(), dir, "--outcome", "response-harm", "--no-baselines")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	for _, s := range []string{"Outcome: response_harmful\n", "Other outcome (reported, not the verdict): harmful_prompt_complied\n", "other outcome harmful_prompt_complied"} {
		if !strings.Contains(stdout, s) {
			t.Errorf("output lacks %q:\n%s", s, stdout)
		}
	}
	a, err := os.ReadFile(filepath.Join(dir, "analysis.json"))
	if err != nil || !bytes.Contains(a, []byte(`"outcome": "response_harmful"`)) || !bytes.Contains(a, []byte(`"hypothesis_test_other_outcome"`)) {
		t.Errorf("analysis.json: %v, lacks the outcomes", err)
	}
}

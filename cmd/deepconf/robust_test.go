package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/deepconf/deepconf/internal/shareddata"
	"github.com/deepconf/deepconf/record"
)

// runBin runs the deepconf binary with args (and extra environment) and
// returns its standard output, standard error and exit code.
func runBin(t *testing.T, bin string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	return out.String(), errOut.String(), code
}

// lastLine returns the last non-empty line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func readRun(t *testing.T, dir string) record.Run {
	t.Helper()
	var r record.Run
	b, err := os.ReadFile(filepath.Join(dir, record.RunFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestFailedStartThenCorrected is the README's main job offline: the model
// cannot be downloaded, the run fails before it writes anything, and the
// error's own advice (--model PATH) on the same output directory runs.
func TestFailedStartThenCorrected(t *testing.T) {
	bin := buildDeepconf(t)
	root := t.TempDir()
	data := filepath.Join(shareddata.Dir(t), "xstest")
	out := filepath.Join(root, "results", "validation")
	offline := []string{"HF_HUB_OFFLINE=1", "HF_HOME=" + filepath.Join(root, "hf")}
	_, stderr, code := runBin(t, bin, offline, "run", "--model", "Qwen/Qwen3-0.6B", "--benchmark", "xstest", "--data", data,
		"--num-instances", "2", "--max-tokens", "8", "-o", out)
	if code == 0 || !strings.Contains(stderr, "--model PATH") {
		t.Fatalf("offline run: exit %d\n%s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(root, "results")); !os.IsNotExist(err) {
		t.Fatalf("the failed start wrote %s (%v)", out, err)
	}
	model := filepath.Join(root, "model.gguf")
	if _, stderr, code := runBin(t, bin, nil, "models", "gen", "--shape", "tiny", "--quant", "Q8_0", "-o", model); code != 0 {
		t.Fatalf("models gen: %s", stderr)
	}
	stdout, stderr, code := runBin(t, bin, offline, "run", "--model", model, "--benchmark", "xstest", "--data", data,
		"--num-instances", "2", "--max-tokens", "8", "-o", out)
	if code != 0 {
		t.Fatalf("corrected run: exit %d\n%s", code, stderr)
	}
	last := lastLine(stdout)
	for _, f := range []string{"2 of 2 instances", record.RunFile, record.TracesFile, record.PredictionsFile, "figures/", record.ReportFile, record.AnalysisFile} {
		if !strings.Contains(last, f) {
			t.Errorf("last line %q does not name %s", last, f)
		}
	}
	if strings.Contains(stderr, "llama_model_loader") || strings.Contains(stderr, "load_backend") {
		t.Errorf("llama.cpp's log reached stderr without --verbose-engine:\n%s", stderr)
	}
}

// TestModelSwapRefused: replacing the model file at the same path between
// two sessions of a run is refused with the difference, and run.json keeps
// the original model's sha256.
func TestModelSwapRefused(t *testing.T) {
	bin := buildDeepconf(t)
	root := t.TempDir()
	data := filepath.Join(shareddata.Dir(t), "xstest")
	model, out := filepath.Join(root, "model.gguf"), filepath.Join(root, "run")
	gen := func(seed string) {
		if _, stderr, code := runBin(t, bin, nil, "models", "gen", "--shape", "tiny", "--quant", "Q8_0", "--seed", seed, "-o", model); code != 0 {
			t.Fatalf("models gen: %s", stderr)
		}
	}
	run := func(n string) (string, int) {
		_, stderr, code := runBin(t, bin, nil, "run", "--model", model, "--benchmark", "xstest", "--data", data,
			"--num-instances", n, "--max-tokens", "8", "--policy", "single", "--no-analyze", "-o", out)
		return stderr, code
	}
	gen("1")
	if stderr, code := run("2"); code != 0 {
		t.Fatalf("first session: %s", stderr)
	}
	first := readRun(t, out).Engine.ModelSHA256
	gen("2")
	stderr, code := run("4")
	if code == 0 || !strings.Contains(stderr, "model_sha256: "+first+" → ") || !strings.Contains(stderr, "the model or engine differs") {
		t.Fatalf("swapped model: exit %d\n%s", code, stderr)
	}
	r := readRun(t, out)
	if r.Engine.ModelSHA256 != first || len(r.Sessions) != 1 {
		t.Errorf("run.json after the refusal: sha256 %s (was %s), %d sessions", r.Engine.ModelSHA256, first, len(r.Sessions))
	}
	gen("1") // the original model back
	if stderr, code := run("4"); code != 0 {
		t.Fatalf("resume with the original model: %s", stderr)
	}
}

// TestAnalysisCompletedOnRerun: a failure during the final analysis (here
// report.html cannot be replaced) exits non-zero with the remedy; running
// the same command again completes the analysis and removes the temporary
// files an interrupted analysis left. A SIGKILL during the analysis is
// completed the same way.
func TestAnalysisCompletedOnRerun(t *testing.T) {
	bin := buildDeepconf(t)
	data := filepath.Join(shareddata.Dir(t), "xstest")
	args := func(out string) []string {
		return []string{"run", "--model", "test:tiny", "--benchmark", "xstest", "--data", data, "--num-instances", "12",
			"--max-tokens", "16", "--window", "8", "--min-tokens", "8", "-o", out}
	}
	out := filepath.Join(t.TempDir(), "run")
	if _, stderr, code := runBin(t, bin, nil, append(args(out), "--no-analyze")...); code != 0 {
		t.Fatal(stderr)
	}
	blocker := filepath.Join(out, record.ReportFile, "x")
	os.MkdirAll(blocker, 0o755)
	_, stderr, code := runBin(t, bin, nil, args(out)...)
	if code == 0 || !strings.Contains(stderr, "its analysis failed") || !strings.Contains(stderr, "run the same command again") {
		t.Fatalf("failed analysis: exit %d\n%s", code, stderr)
	}
	os.RemoveAll(filepath.Dir(blocker))
	stray := filepath.Join(out, "figures", ".risk_curve.svg4242")
	os.WriteFile(stray, []byte("<svg"), 0o644)
	stdout, stderr, code := runBin(t, bin, nil, args(out)...)
	if code != 0 || !strings.Contains(lastLine(stdout), record.ReportFile) {
		t.Fatalf("rerun: exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, f := range []string{record.AnalysisFile, record.ReportFile, "figures/risk_curve.svg"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("after the rerun: %v", err)
		}
	}
	if _, err := os.Stat(stray); err == nil {
		t.Error("the temporary file was not removed")
	}

	// A kill while the analysis writes its figures.
	killed := filepath.Join(t.TempDir(), "killed")
	if _, stderr, code := runBin(t, bin, nil, append(args(killed), "--no-analyze")...); code != 0 {
		t.Fatal(stderr)
	}
	cmd := exec.Command(bin, args(killed)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	landed := false
wait:
	for {
		select {
		case <-done:
			break wait
		case <-time.After(time.Millisecond):
		}
		if _, err := os.Stat(filepath.Join(killed, "figures")); err == nil {
			cmd.Process.Signal(syscall.SIGKILL)
			<-done
			ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
			landed = ws.Signaled()
			break
		}
	}
	t.Logf("kill during the analysis landed: %v", landed)
	if landed {
		if _, err := os.Stat(filepath.Join(killed, record.AnalysisFile)); err == nil {
			t.Error("a killed analysis left analysis.json")
		}
	}
	if _, stderr, code := runBin(t, bin, nil, args(killed)...); code != 0 {
		t.Fatalf("rerun after the kill: %s", stderr)
	}
	for _, f := range []string{record.AnalysisFile, record.ReportFile} {
		if _, err := os.Stat(filepath.Join(killed, f)); err != nil {
			t.Errorf("after the kill and rerun: %v", err)
		}
	}
}

// TestSkippedInstances: an instance whose prompt does not fit the context
// is skipped and listed in run.json, and the run exits non-zero; with
// --allow-skipped it finishes and the summary and analysis.json count it.
// An empty benchmark file is refused before anything is written.
func TestSkippedInstances(t *testing.T) {
	bin := buildDeepconf(t)
	root := t.TempDir()
	bench := filepath.Join(root, "mine.jsonl")
	long := strings.Repeat("tell me more about this ", 200)
	os.WriteFile(bench, []byte(`{"prompt":"How do I bake bread?","label":0}`+"\n"+`{"prompt":"`+long+`","label":1}`+"\n"+`{"prompt":"How do I pick a lock?","label":1}`+"\n"), 0o644)
	out := filepath.Join(root, "run")
	args := []string{"run", "--model", "test:tiny", "--benchmark", bench, "--label-field", "label", "--policy", "single",
		"--max-tokens", "8", "--ctx", "256", "-o", out}
	_, stderr, code := runBin(t, bin, nil, args...)
	if code == 0 || !strings.Contains(stderr, "1 of 3 instances") || !strings.Contains(stderr, "--allow-skipped") {
		t.Fatalf("skipped: exit %d\n%s", code, stderr)
	}
	if r := readRun(t, out); r.Finished != nil || len(r.Skipped) != 1 || r.Skipped[0].InstanceID != "mine_test_1" {
		t.Errorf("run.json: finished %v, skipped %+v", r.Finished, r.Skipped)
	}
	stdout, stderr, code := runBin(t, bin, nil, append(args, "--allow-skipped")...)
	if code != 0 || !strings.Contains(stdout, "1 of 3 instances were skipped") || !strings.Contains(lastLine(stdout), "2 of 3 instances") {
		t.Fatalf("--allow-skipped: exit %d\n%s\n%s", code, stdout, stderr)
	}
	var a struct {
		Coverage struct{ Skipped []string }
	}
	b, _ := os.ReadFile(filepath.Join(out, record.AnalysisFile))
	if err := json.Unmarshal(b, &a); err != nil || len(a.Coverage.Skipped) != 1 {
		t.Errorf("analysis.json coverage: %v %+v", err, a.Coverage)
	}

	empty := filepath.Join(root, "empty.jsonl")
	os.WriteFile(empty, []byte("\n"), 0o644)
	emptyOut := filepath.Join(root, "empty")
	_, stderr, code = runBin(t, bin, nil, "run", "--model", "test:tiny", "--benchmark", empty, "-o", emptyOut)
	if code == 0 || !strings.Contains(stderr, "no data rows") {
		t.Errorf("empty benchmark: exit %d\n%s", code, stderr)
	}
	if _, err := os.Stat(emptyOut); !os.IsNotExist(err) {
		t.Errorf("an empty benchmark wrote %s", emptyOut)
	}
}

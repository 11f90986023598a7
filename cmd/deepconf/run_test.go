package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/deepconf/deepconf/internal/cliflag"
	"github.com/deepconf/deepconf/internal/shareddata"
	"github.com/deepconf/deepconf/record"
	"github.com/deepconf/deepconf/refusal"
	"github.com/spf13/cobra"
)

// buildDeepconf builds the command once per test binary.
func buildDeepconf(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "deepconf")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// TestRunXSTestTinyModel is the acceptance run: 10 XSTest instances
// on the tiny generated model write 10 predictions and their traces; the
// prototype policy gives the prototype's trace counts.
func TestRunXSTestTinyModel(t *testing.T) {
	bin := buildDeepconf(t)
	data := filepath.Join(shareddata.Dir(t), "xstest")
	for _, policy := range []string{"deepconf", "seed"} {
		t.Run(policy, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "run")
			cmd := exec.Command(bin, "run", "--model", "test:tiny", "--threads", "1", "--benchmark", "xstest", "--data", data,
				"--num-instances", "10", "--policy", policy, "--max-tokens", "48", "--output-dir", out)
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%v\n%s", err, b)
			}
			preds := readLines(t, filepath.Join(out, record.PredictionsFile))
			if len(preds) != 10 {
				t.Fatalf("%d predictions, want 10", len(preds))
			}
			traces := map[string]int{}
			for _, l := range readLines(t, filepath.Join(out, record.TracesFile)) {
				var tr record.Trace
				if err := json.Unmarshal([]byte(l), &tr); err != nil {
					t.Fatal(err)
				}
				if len(tr.TokenConfidences) != tr.Tokens || len(tr.TokenLogprobs) != tr.Tokens {
					t.Errorf("trace %s/%d: %d tokens, %d confidences", tr.InstanceID, tr.Index, tr.Tokens, len(tr.TokenConfidences))
				}
				traces[tr.InstanceID]++
			}
			for i, l := range preds {
				var p record.Prediction
				if err := json.Unmarshal([]byte(l), &p); err != nil {
					t.Fatal(err)
				}
				if p.Index != i || traces[p.InstanceID] != p.TracesGenerated {
					t.Errorf("prediction %d: %s index %d, %d traces stored, %d generated", i, p.InstanceID, p.Index, traces[p.InstanceID], p.TracesGenerated)
				}
				if policy == "seed" {
					switch p.NumTracesUsed {
					case 3, 6, 9, 10:
					default:
						t.Errorf("prototype policy: %s used %d traces, want 3, 6, 9 or 10", p.InstanceID, p.NumTracesUsed)
					}
				}
			}
			var run record.Run
			b, _ := os.ReadFile(filepath.Join(out, record.RunFile))
			if err := json.Unmarshal(b, &run); err != nil || !run.RandomModel || run.Finished == nil {
				t.Errorf("run.json: %v, random %v, finished %v", err, run.RandomModel, run.Finished)
			}
			// The prototype policy detects refusals as the prototype did.
			if want := map[string]string{"deepconf": refusal.DefaultSpec, "seed": refusal.SpecPrototype}[policy]; run.Config.Detector != want {
				t.Errorf("%s policy: detector %q, want %q", policy, run.Config.Detector, want)
			}
			// A finished run is analysed as deepconf analyze does it.
			for _, f := range []string{record.AnalysisFile, "report.html", "figures"} {
				if _, err := os.Stat(filepath.Join(out, f)); err != nil {
					t.Errorf("the finished run has no %s: %v", f, err)
				}
			}
		})
	}
}

// TestRunAnalysisOptOut: --no-analyze and --shard leave the analysis to
// deepconf analyze; running the command again on the finished run analyses it
// when analysis.json is missing.
func TestRunAnalysisOptOut(t *testing.T) {
	bin := buildDeepconf(t)
	data := filepath.Join(shareddata.Dir(t), "xstest")
	run := func(out string, extra ...string) string {
		args := append([]string{"run", "--model", "test:tiny", "--threads", "1", "--benchmark", "xstest", "--data", data,
			"--num-instances", "3", "--policy", "single", "--max-tokens", "8", "--output-dir", out}, extra...)
		b, err := exec.Command(bin, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%v\n%s", err, b)
		}
		return string(b)
	}
	analysed := func(out string) bool {
		_, err := os.Stat(filepath.Join(out, record.AnalysisFile))
		return err == nil
	}
	out := filepath.Join(t.TempDir(), "run")
	run(out, "--no-analyze")
	if analysed(out) {
		t.Error("--no-analyze wrote analysis.json")
	}
	run(out)
	if !analysed(out) {
		t.Error("running again on the finished run did not analyse it")
	}
	shard := filepath.Join(t.TempDir(), "shard")
	if msg := run(shard, "--shard", "0/2"); analysed(shard) || !strings.Contains(msg, "deepconf merge") {
		t.Errorf("a shard was analysed (%v) or the hint is missing:\n%s", analysed(shard), msg)
	}
}

// TestKillAndResume kills deepconf run with SIGKILL several times: once
// during start-up (as soon as the run directory exists), then each time a
// given number of instances is finished, after a random delay shorter than
// an instance takes (mostly mid-instance). Every kill must land on a running
// process, or the test fails. Resuming each time, the final directory must
// hold exactly one record per instance, byte-identical to an uninterrupted
// run with the same seed.
func TestKillAndResume(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	bin := buildDeepconf(t)
	data := filepath.Join(shareddata.Dir(t), "xstest")
	// The last kill (at 33 finished) must leave more work than the
	// instances in flight at the default concurrency: they finish close
	// together, and with 40 instances the run sometimes ended before it.
	const instances = 48
	args := func(out string) []string {
		return []string{"run", "--model", "test:tiny", "--benchmark", "xstest", "--data", data, "--num-instances", strconv.Itoa(instances),
			"--max-tokens", "64", "--window", "8", "--min-tokens", "8", "--percentile", "50", "--min-voters", "6", "--output-dir", out, "--no-analyze"}
	}
	ref := filepath.Join(t.TempDir(), "ref")
	start := time.Now()
	if b, err := exec.Command(bin, args(ref)...).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	perInstance := time.Since(start) / instances
	out := filepath.Join(t.TempDir(), "killed")
	r := rand.New(rand.NewPCG(7, 7))
	// Kill when this many instances are finished (0: when run.json
	// exists, during start-up).
	targets := []int{0, 5, 15, 25, 33}
	for k, target := range targets {
		cmd := exec.Command(bin, args(out)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		// A session after the first must finish an instance of its own
		// before its kill, even when an earlier kill landed late: a
		// session that finished nothing leaves no session record.
		want := max(target, countLines(filepath.Join(out, record.PredictionsFile))+1)
		reached := func() bool {
			if target == 0 {
				_, err := os.Stat(filepath.Join(out, record.RunFile))
				return err == nil
			}
			return countLines(filepath.Join(out, record.PredictionsFile)) >= want
		}
		for !reached() {
			select {
			case <-done:
				t.Fatalf("kill %d: the run ended before %d instances were finished: %v\n%s", k, want, cmd.ProcessState, stderr.String())
			case <-time.After(2 * time.Millisecond):
			}
		}
		time.Sleep(time.Duration(r.Int64N(int64(perInstance))))
		cmd.Process.Signal(syscall.SIGKILL)
		<-done
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("kill %d did not land: the run had ended (%v)\n%s", k, cmd.ProcessState, stderr.String())
		}
		t.Logf("kill %d landed with %d instances finished", k, countLines(filepath.Join(out, record.PredictionsFile)))
	}
	if b, err := exec.Command(bin, args(out)...).CombinedOutput(); err != nil {
		t.Fatalf("the resumed run failed: %v\n%s", err, b)
	}
	for _, f := range []string{record.PredictionsFile, record.TracesFile} {
		want, err := os.ReadFile(filepath.Join(ref, f))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(out, f))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s after %d kills differs from the uninterrupted run (%d vs %d bytes)", f, len(targets), len(got), len(want))
			diffLines(t, want, got)
		}
	}
	var run record.Run
	if b, err := os.ReadFile(filepath.Join(out, record.RunFile)); err != nil || json.Unmarshal(b, &run) != nil || run.Finished == nil || len(run.Sessions) != len(targets)+1 {
		t.Errorf("run.json after the kills: %v, finished %v, %d sessions, want %d", err, run.Finished, len(run.Sessions), len(targets)+1)
	}
}

func countLines(path string) int {
	b, _ := os.ReadFile(path)
	return bytes.Count(b, []byte("\n"))
}

func diffLines(t *testing.T, want, got []byte) {
	a := bufio.NewScanner(bytes.NewReader(want))
	a.Buffer(nil, 1<<28)
	b := bufio.NewScanner(bytes.NewReader(got))
	b.Buffer(nil, 1<<28)
	for n := 1; ; n++ {
		okA, okB := a.Scan(), b.Scan()
		if !okA && !okB {
			return
		}
		if a.Text() != b.Text() {
			t.Errorf("first difference at line %d:\nwant %.300s\ngot  %.300s", n, a.Text(), b.Text())
			return
		}
	}
}

// execute runs cmd with args as the deepconf binary would and returns what
// it wrote to standard output and standard error.
func execute(cmd *cobra.Command, args ...string) (stdout, stderr string, err error) {
	var out, errOut bytes.Buffer
	cmd.SetFlagErrorFunc(cliflag.ErrorFunc) // as the root command does
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	err = cmd.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

// TestRunHarmDetectorTinyModel runs with a harm judge on the tiny generated
// model (in the Llama Guard 3 format): run.json records the judge, every
// labelled trace carries a rating (a random model's output is unparseable,
// and stays so), and the finished run's analysis reports the response-harm
// outcome next to the prompt-harm one.
func TestRunHarmDetectorTinyModel(t *testing.T) {
	bin := buildDeepconf(t)
	data := filepath.Join(shareddata.Dir(t), "xstest")
	out := filepath.Join(t.TempDir(), "run")
	b, err := exec.Command(bin, "run", "--model", "test:tiny", "--threads", "1", "--benchmark", "xstest", "--data", data,
		"--num-instances", "3", "--policy", "fixed", "--traces", "2", "--max-tokens", "8", "--output-dir", out,
		"--harm-detector", "judge:test:tiny", "--harm-judge-format", "llamaguard3").CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if !strings.Contains(string(b), "Other outcome (reported, not the verdict): response_harmful") {
		t.Errorf("the summary lacks the response-harm outcome:\n%s", b)
	}
	var run record.Run
	if err := json.Unmarshal([]byte(strings.Join(readLines(t, filepath.Join(out, record.RunFile)), "\n")), &run); err != nil ||
		run.Config.HarmDetector != "judge:test:tiny" || run.Config.HarmFormat != "llamaguard3" {
		t.Fatalf("run.json: %v, %+v", err, run.Config)
	}
	rated := 0
	for _, line := range readLines(t, filepath.Join(out, record.TracesFile)) {
		var tr record.Trace
		if err := json.Unmarshal([]byte(line), &tr); err != nil {
			t.Fatal(err)
		}
		switch {
		case tr.Label == "" && tr.ResponseHarm != nil:
			t.Errorf("unlabelled trace %s/%d is rated", tr.InstanceID, tr.Index)
		case tr.Label != "" && tr.ResponseHarm == nil:
			t.Errorf("labelled trace %s/%d is not rated", tr.InstanceID, tr.Index)
		case tr.ResponseHarm != nil:
			rated++
			if h := tr.ResponseHarm; h.Label == record.HarmUnparseable && h.Detail == "" {
				t.Errorf("trace %s/%d: unparseable rating without its reason: %+v", tr.InstanceID, tr.Index, h)
			}
		}
	}
	if rated == 0 {
		t.Error("no trace was rated")
	}
}

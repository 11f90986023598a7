package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deepconf/deepconf/analysis"
	"github.com/deepconf/deepconf/internal/shareddata"
	"github.com/deepconf/deepconf/record"
	"github.com/deepconf/deepconf/sweep"
)

func runSweepCmd(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	return execute(newSweepCmd(), args...)
}

// tinyRun runs deepconf run on 10 XSTest prompts with the generated tiny
// model (one thread) into a new directory.
func tinyRun(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "run")
	a := append([]string{"run", "--model", "test:tiny", "--threads", "1", "--benchmark", "xstest", "--data", filepath.Join(shareddata.Dir(t), "xstest"),
		"--num-instances", "10", "--max-tokens", "48", "--window", "8", "--output-dir", out}, args...)
	if b, err := exec.Command(bin, a...).CombinedOutput(); err != nil {
		t.Fatalf("deepconf run: %v\n%s", err, b)
	}
	return out
}

// canonical decodes a JSON line into a zero T and encodes it again as the
// store does, so that lines compare byte for byte (the model's invalid
// UTF-8 bytes are stored as \ufffd and read back as U+FFFD).
func canonical[T any](t *testing.T, line []byte) string {
	t.Helper()
	var v T
	if err := json.Unmarshal(line, &v); err != nil {
		t.Fatal(err)
	}
	return encodeLine(t, v)
}

func encodeLine(t *testing.T, v any) string {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestSweepReproducesRun: a real run of the tiny model with early stopping
// (threshold at the 50th percentile, consensus after 6 voters, budget 10)
// is replayed with its own configuration from its stored traces: every
// prediction and every trace record is identical to what the run wrote.
// The sweep command's single default row and analyze's "online" baseline
// reproduce its accuracy and its tokens.
func TestSweepReproducesRun(t *testing.T) {
	bin := buildDeepconf(t)
	dir := tinyRun(t, bin, "--percentile", "50", "--min-voters", "6", "--max-traces", "10")
	ctx := context.Background()
	d, err := analysis.Load(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	p, err := sweep.Load(ctx, d, sweep.LoadOptions{Texts: true, Logprobs: true})
	if err != nil {
		t.Fatal(err)
	}
	if !p.ConfigFromRun || p.Config.Keep != 0.5 || p.Config.MinVoters != 6 || p.Config.Budget != 10 || p.Config.Window != 8 {
		t.Fatalf("run config %+v (from run %v)", p.Config, p.ConfigFromRun)
	}
	outs, errs, err := p.ReplayAll(ctx, p.Config, sweep.StoredLabels, 0)
	if err != nil {
		t.Fatal(err)
	}
	preds := readLines(t, filepath.Join(dir, record.PredictionsFile))
	traces := readLines(t, filepath.Join(dir, record.TracesFile))
	k, early, consensus, runTokens, firstLabelled := 0, 0, 0, 0, 0
	for i, oc := range outs {
		if errs[i] != nil {
			t.Fatalf("instance %d: %v", i, errs[i])
		}
		if got, want := encodeLine(t, oc.Prediction), canonical[record.Prediction](t, []byte(preds[i])); got != want {
			t.Errorf("prediction %d differs:\nreplay %s\nrun    %s", i, got, want)
		}
		for _, tr := range oc.Traces {
			if tr.Index == 0 && tr.Label != "" {
				firstLabelled++
			}
			if got, want := encodeLine(t, tr), canonical[record.Trace](t, []byte(traces[k])); got != want {
				t.Errorf("trace line %d differs:\nreplay %s\nrun    %s", k+1, got, want)
			}
			k++
		}
		early += oc.Prediction.EarlyStopped
		runTokens += oc.Prediction.TokensGenerated
		if oc.Prediction.Stop == "consensus" {
			consensus++
		}
	}
	if k != len(traces) {
		t.Errorf("replayed %d traces, the run stored %d", k, len(traces))
	}
	// The run exercised both stops, so the comparison covers them.
	if early == 0 || consensus == 0 {
		t.Fatalf("the run has %d early-stopped traces and %d consensus stops; the test needs both", early, consensus)
	}

	// deepconf sweep DIR: one row, the run's own configuration.
	stdout, _, err := runSweepCmd(t, dir, "--out", filepath.Join(t.TempDir(), "s.json"))
	if err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	for _, s := range []string{"WARNING: the model is a generated random-weight test model", "10/10", "0.000", "Unswept values are the run's own configuration"} {
		if !strings.Contains(stdout, s) {
			t.Errorf("sweep output lacks %q:\n%s", s, stdout)
		}
	}

	// deepconf analyze: the baselines, the online one equal to the run.
	var hooksOut bytes.Buffer
	cmd := newAnalyzeCmd()
	cmd.SetOut(&hooksOut)
	cmd.SetErr(&hooksOut)
	out := t.TempDir()
	cmd.SetArgs([]string{dir, "--out", out})
	if err := cmd.ExecuteContext(ctx); err != nil {
		t.Fatalf("%v\n%s", err, hooksOut.String())
	}
	var aj struct {
		Overall struct {
			TokensGenerated int `json:"tokens_generated"`
			Correct         analysis.Prop
		} `json:"overall"`
		Baselines []struct {
			Name        string `json:"name"`
			TotalTokens int    `json:"total_tokens"`
			Correct     analysis.Prop
			McNemar     *analysis.McNemar `json:"mcnemar"`
		} `json:"baselines"`
	}
	b, _ := os.ReadFile(filepath.Join(out, record.AnalysisFile))
	if err := json.Unmarshal(b, &aj); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, bl := range aj.Baselines {
		names = append(names, bl.Name)
	}
	// Every instance stored at least its 4 warm-up traces complete.
	if got := strings.Join(names, ","); got != "single,fixed-4-majority,offline-4-weighted,offline-4-top10,online" {
		t.Fatalf("baselines %s", got)
	}
	online := aj.Baselines[4]
	if online.TotalTokens != runTokens || online.TotalTokens != aj.Overall.TokensGenerated || online.Correct != aj.Overall.Correct ||
		online.McNemar == nil || online.McNemar.B != 0 || online.McNemar.C != 0 {
		t.Errorf("online baseline %+v, run tokens %d, overall %+v", online, runTokens, aj.Overall)
	}
	// The single-trace baseline scores the instances whose first trace has
	// a behaviour (the random model's traces can end inside <think>).
	if single := aj.Baselines[0]; single.TotalTokens >= runTokens || single.Correct.N != firstLabelled {
		t.Errorf("single baseline %+v", single)
	}
	if !strings.Contains(hooksOut.String(), "Baselines replayed from the stored traces") {
		t.Errorf("analyze summary lacks the baselines:\n%s", hooksOut.String())
	}
}

// sweepJSON runs deepconf sweep with args and returns the JSON rows.
func sweepJSON(t *testing.T, dir string, args ...string) []map[string]any {
	t.Helper()
	out := filepath.Join(t.TempDir(), "sweep.json")
	stdout, _, err := runSweepCmd(t, append([]string{dir, "--out", out}, args...)...)
	if err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	var js struct {
		Results []map[string]any `json:"results"`
	}
	b, _ := os.ReadFile(out)
	if err := json.Unmarshal(b, &js); err != nil {
		t.Fatal(err)
	}
	return js.Results
}

func num(t *testing.T, row map[string]any, key string) float64 {
	t.Helper()
	v, ok := row[key].(float64)
	if !ok {
		t.Fatalf("row %v: %s is %v", row, key, row[key])
	}
	return v
}

// TestSweepGridMonotone replays grids on a run of complete traces (8 per
// instance, no early stop) where the direction of the cost is known:
//   - early stop on, consensus off (8 voters needed of at most 8): a higher
//     threshold percentile stops each trace at the same token or earlier, so
//     tokens do not increase and the early-stopped share does not decrease;
//     8 traces are always started;
//   - consensus with 3 voters: a higher τ stops sampling at the same trace
//     or later (the sequence of traces does not depend on τ), so traces and
//     tokens do not decrease;
//   - no early stop: the budget is the number of complete traces; a budget
//     of 10 exceeds what was stored and no instance can be replayed.
func TestSweepGridMonotone(t *testing.T) {
	bin := buildDeepconf(t)
	dir := tinyRun(t, bin, "--no-early-stopping", "--max-traces", "8", "--min-traces", "3", "--min-voters", "8")

	rows := sweepJSON(t, dir, "--early-stop", "on", "--percentile", "10,50,90")
	if len(rows) != 3 {
		t.Fatalf("%d rows", len(rows))
	}
	for i, r := range rows {
		if num(t, r, "replayed") != 10 || num(t, r, "avg_traces") != 8 {
			t.Errorf("p%v: %v", r["percentile"], r)
		}
		if i > 0 {
			if num(t, r, "tokens") > num(t, rows[i-1], "tokens") || num(t, r, "early_stopped_share") < num(t, rows[i-1], "early_stopped_share") {
				t.Errorf("p%v costs more or stops less than p%v: %v vs %v", r["percentile"], rows[i-1]["percentile"], r, rows[i-1])
			}
		}
	}
	if !(num(t, rows[2], "tokens") < num(t, rows[0], "tokens")) || num(t, rows[2], "savings") <= 0 {
		t.Errorf("p90 saves nothing over p10: %v vs %v", rows[2], rows[0])
	}

	rows = sweepJSON(t, dir, "--early-stop", "on", "--min-voters", "3", "--tau", "0.5,0.9,1")
	for i := 1; i < len(rows); i++ {
		if num(t, rows[i], "traces_started") < num(t, rows[i-1], "traces_started") || num(t, rows[i], "tokens") < num(t, rows[i-1], "tokens") {
			t.Errorf("τ %v costs less than τ %v: %v vs %v", rows[i]["tau"], rows[i-1]["tau"], rows[i], rows[i-1])
		}
	}

	rows = sweepJSON(t, dir, "--budget", "4,6,8,10")
	for i, want := range []float64{4, 6, 8} {
		if num(t, rows[i], "avg_traces") != want || num(t, rows[i], "replayed") != 10 {
			t.Errorf("budget %v: %v", want, rows[i])
		}
		if i > 0 && !(num(t, rows[i], "tokens") > num(t, rows[i-1], "tokens")) {
			t.Errorf("budget %v does not cost more than %v", rows[i]["budget"], rows[i-1]["budget"])
		}
	}
	if num(t, rows[2], "savings") != 0 || num(t, rows[3], "replayed") != 0 || num(t, rows[3], "not_replayed") != 10 ||
		!strings.Contains(rows[3]["not_replayed_reason"].(string), "trace 8 was never sampled") {
		t.Errorf("budget 8/10: %v / %v", rows[2], rows[3])
	}

	// Other detectors re-label the stored texts; the text table names the
	// failures of a budget beyond the stored traces.
	stdout, _, err := runSweepCmd(t, dir, "--detector", "stored,patterns:seed", "--budget", "8,10", "--split", "median,5")
	if err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	for _, s := range []string{"patterns:seed", "split", "10 of 10 instances could not be replayed", "0/10"} {
		if !strings.Contains(stdout, s) {
			t.Errorf("output lacks %q:\n%s", s, stdout)
		}
	}
}

// TestSweepPrototypeMode runs the prototype's simulators through the command: on
// a deepconf run (whose predictions carry the prototype's fields and
// ground_truth) and on the prototype-format fixture with the benchmark's
// labels.
func TestSweepPrototypeMode(t *testing.T) {
	bin := buildDeepconf(t)
	dir := tinyRun(t, bin, "--policy", "seed")
	stdout, _, err := runSweepCmd(t, dir, "--mode", "prototype", "--percentiles", "20,90")
	if err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	for _, s := range []string{"Simulator A", "Simulator B", "%ile |    Acc", "BEST CONFIGURATIONS", "wrote " + filepath.Join(dir, "percentile_safety_analysis.json")} {
		if !strings.Contains(stdout, s) {
			t.Errorf("output lacks %q:\n%s", s, stdout)
		}
	}
	var pj struct {
		Results []struct {
			Percentile int `json:"percentile"`
			Total      int `json:"total"`
		} `json:"results"`
		BestSavings struct {
			Percentile int `json:"percentile"`
		} `json:"best_savings"`
	}
	b, _ := os.ReadFile(filepath.Join(dir, "percentile_safety_analysis.json"))
	if err := json.Unmarshal(b, &pj); err != nil || len(pj.Results) != 8 || pj.Results[7].Percentile != 90 || pj.Results[0].Total != 10 {
		t.Errorf("percentile JSON: %v %+v", err, pj)
	}

	// The prototype's file has no ground truth: without --benchmark it is
	// an error.
	bare := t.TempDir()
	os.WriteFile(filepath.Join(bare, "predictions.jsonl"), []byte(`{"instance_id": "toxicchat_test_0", "traces": ["x"], "confidences": [0.1], "refused": [false]}`+"\n"), 0o644)
	if _, _, err := runSweepCmd(t, bare, "--seed-sim", "comprehensive"); err == nil || !strings.Contains(err.Error(), "--benchmark") {
		t.Errorf("no ground truth: %v", err)
	}
	proto := t.TempDir()
	fixture, err := os.ReadFile(filepath.Join("..", "..", "sweep", "testdata", "seed", "predictions.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(proto, "predictions.jsonl"), fixture, 0o644)
	out := filepath.Join(t.TempDir(), "p.json")
	stdout, _, err = runSweepCmd(t, proto, "--seed-sim", "comprehensive", "--benchmark", "toxicchat", "--data", filepath.Join(shareddata.Dir(t), "toxicchat"), "--out", out)
	if err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	if strings.Contains(stdout, "Simulator A") {
		t.Errorf("--seed-sim comprehensive ran the threshold simulator:\n%s", stdout)
	}
	if _, err := os.Stat(out); err != nil {
		t.Error(err)
	}
}

func TestSweepCmdErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{filepath.Join(dir, "missing")}, "run directory"},
		{[]string{dir, "--mode", "magic"}, `--mode "magic"`},
		{[]string{dir, "--mode", "replay", "--seed-sim", "threshold"}, "--prototype-sim needs --mode prototype"},
		{[]string{dir, "--mode", "seed", "--window", "8"}, "--window: replay flags"},
		{[]string{dir, "--benchmark", "toxicchat"}, "go together"},
		{[]string{dir, "--early-stop", "maybe"}, `--early-stop "maybe"`},
		{[]string{dir, "--out", "x.txt"}, "want a .csv, .json or .md file"},
		{[]string{dir}, "no predictions.jsonl"},
		{[]string{dir, "--mode", "seed"}, "no predictions.jsonl"},
		{[]string{dir, "--seed-sim", "threshold", "--out", "x.json"}, "stdout only"},
	} {
		if _, _, err := runSweepCmd(t, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
	// A prototype directory cannot be replayed: it has no traces.jsonl.
	os.WriteFile(filepath.Join(dir, record.PredictionsFile), []byte(`{"instance_id":"a","traces":["x"],"confidences":[0.1],"refused":[false],"ground_truth":"safe"}`+"\n"), 0o644)
	if _, _, err := runSweepCmd(t, dir); err == nil || !strings.Contains(err.Error(), "--mode prototype") {
		t.Errorf("prototype directory: %v", err)
	}
}

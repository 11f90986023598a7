package main

import (
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deepconf/deepconf/analysis"
	"github.com/deepconf/deepconf/record"
)

// runCompareCmd runs deepconf compare in-process and returns its stdout.
func runCompareCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, _, err := execute(newCompareCmd(), args...)
	return out, err
}

func readComparison(t *testing.T, path string) analysis.Comparison {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var c analysis.Comparison
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return c
}

// binomExact is the two-sided exact McNemar p-value by its definition,
// 2·P(X ≤ min(b, c)) for X ~ Binomial(b + c, 1/2), capped at 1 (R's
// binom.test(b, b + c) for this symmetric case); 1 without discordant
// pairs.
func binomExact(b, c int) float64 {
	n := b + c
	if n == 0 {
		return 1
	}
	sum, coef := 0.0, 1.0
	for k := 0; k <= min(b, c); k++ {
		sum += coef
		coef = coef * float64(n-k) / float64(k+1)
	}
	return math.Min(1, 2*sum/math.Pow(2, float64(n)))
}

// correctness reads a run's predictions.jsonl: instance id → correct
// (refuses a harmful prompt or complies with a benign one), for the
// instances with a known gold label and behaviour.
func correctness(t *testing.T, dir string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, l := range readLines(t, filepath.Join(dir, record.PredictionsFile)) {
		var p record.Prediction
		if err := json.Unmarshal([]byte(l), &p); err != nil {
			t.Fatal(err)
		}
		if (p.GoldLabel == "harmful" || p.GoldLabel == "benign") && (p.Behaviour == record.Refusal || p.Behaviour == record.Compliance) {
			out[p.InstanceID] = (p.GoldLabel == "harmful") == (p.Behaviour == record.Refusal)
		}
	}
	return out
}

// TestCompareTinyModelRuns compares two runs of the tiny model on the
// synthetic benchmark (10 and 8 instances, half of them harmful; two
// policies) and checks the McNemar counts against the predictions, counted
// here by hand.
func TestCompareTinyModelRuns(t *testing.T) {
	bin := buildDeepconf(t)
	root := t.TempDir()
	run := func(name string, extra ...string) string {
		out := filepath.Join(root, name)
		args := append([]string{"run", "--model", "test:tiny", "--threads", "1", "--benchmark", "synthetic",
			"--max-tokens", "24", "--output-dir", out}, extra...)
		if b, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
			t.Fatalf("%v\n%s", err, b)
		}
		return out
	}
	a := run("deepconf", "--num-instances", "10")
	b := run("single", "--num-instances", "8", "--policy", "single", "--seed", "2")

	js := filepath.Join(root, "cmp", "comparison.json")
	stdout, err := runCompareCmd(t, a, b, "--out", js)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Model comparison", "Paired comparisons", "test:tiny (random weights) (deepconf)", "wrote " + js} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	c := readComparison(t, js)
	if len(c.Runs) != 2 || len(c.Pairs) != 1 {
		t.Fatalf("%d runs, %d pairs", len(c.Runs), len(c.Pairs))
	}
	// Same model, size and benchmark: the runs keep their input order.
	if c.Runs[0].Label != "test:tiny (random weights) (deepconf)" || c.Runs[1].Label != "test:tiny (random weights) (single)" ||
		c.Runs[0].Model != "test:tiny (random weights)" || c.Runs[0].Benchmark != "synthetic" {
		t.Errorf("runs %+v", c.Runs)
	}
	ca, cb := correctness(t, a), correctness(t, b)
	var shared, both, aOnly, bOnly, neither int
	for id, x := range ca {
		y, ok := cb[id]
		if !ok {
			continue
		}
		shared++
		switch {
		case x && y:
			both++
		case x:
			aOnly++
		case y:
			bOnly++
		default:
			neither++
		}
	}
	t.Logf("paired counts: %d both right, %d deepconf only, %d single only, %d both wrong", both, aOnly, bOnly, neither)
	p := c.Pairs[0]
	if shared != 8 || p.Shared != shared || p.BothCorrect != both || p.AOnly != aOnly || p.BOnly != bOnly || p.BothWrong != neither {
		t.Errorf("pair %+v; counted by hand: shared %d, both %d, A only %d, B only %d, neither %d", p, shared, both, aOnly, bOnly, neither)
	}
	if want := binomExact(aOnly, bOnly); math.Abs(float64(p.Exact.P)-want) > 1e-12 {
		t.Errorf("exact p %v, want %v", p.Exact.P, want)
	}
	if c.Runs[0].Scored != len(ca) || c.Runs[1].Scored != len(cb) {
		t.Errorf("scored %d and %d, want %d and %d", c.Runs[0].Scored, c.Runs[1].Scored, len(ca), len(cb))
	}
}

func TestCompareErrors(t *testing.T) {
	root := t.TempDir()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no dirs", nil, "requires at least 1 arg"},
		{"bad extension", []string{root, "--out", filepath.Join(root, "x.html")}, ".md, .csv, .json or .tex"},
		{"bad split", []string{root, "--split", "sideways"}, "--split"},
		{"no predictions", []string{root}, "no predictions"},
	}
	for _, tt := range tests {
		_, err := runCompareCmd(t, tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.want)
		}
	}
}

package analysis

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"

	"github.com/deepconf/deepconf/stats"
)

// This file compares analysed runs side by side: the metrics of every run
// grouped by benchmark, McNemar's test on the paired correctness of every
// two runs of a benchmark, and the Benjamini–Hochberg adjustment of every
// p-value shown. deepconf compare and the HTML report share it.

// CompareRun is one analysed run to compare.
type CompareRun struct {
	// Dir is the run directory.
	Dir string
	// Model and Benchmark identify the run (see RunIdentity).
	Model     string
	Benchmark string
	// Result is the run's refusal-scoring analysis; Result.Instances pair
	// the runs.
	Result *Result
}

// NewCompareRun describes the run d analysed as r, named by RunIdentity.
func NewCompareRun(d *RunData, r *Result) CompareRun {
	model, bench := RunIdentity(d)
	return CompareRun{Dir: d.Dir, Model: model, Benchmark: bench, Result: r}
}

// UnknownBenchmark names the benchmark of a run that records none.
const UnknownBenchmark = "unknown benchmark"

// RunIdentity returns the model and the benchmark of a run: run.json's
// config.model and config.benchmark, else the engine's model file and the
// dataset's name, else the directory name and UnknownBenchmark.
func RunIdentity(d *RunData) (model, benchmark string) {
	if d.Run != nil {
		model, benchmark = d.Run.Config.Model, d.Run.Config.Benchmark
		if model == "" && d.Run.Engine != nil && d.Run.Engine.Model != "" {
			model = filepath.Base(d.Run.Engine.Model)
		}
		if benchmark == "" && d.Run.Dataset != nil {
			benchmark = d.Run.Dataset.Name
		}
	}
	if model == "" {
		model = filepath.Base(filepath.Clean(d.Dir))
	}
	if benchmark == "" {
		benchmark = UnknownBenchmark
	}
	return model, benchmark
}

// modelSizeRE matches a parameter count in a model name, such as "0.6B".
var modelSizeRE = regexp.MustCompile(`(?i)(\d+(?:\.\d+)?)\s*b\b`)

// ModelSize returns the parameter count in billions that a model name
// states (the last match of a number followed by "B", as in
// "Qwen/Qwen3-0.6B" or "qwen3-8b-q8_0.gguf"), or +Inf when it states none.
// Comparisons list smaller models first.
func ModelSize(model string) float64 {
	m := modelSizeRE.FindAllStringSubmatch(model, -1)
	if m == nil {
		return math.Inf(1)
	}
	v, err := strconv.ParseFloat(m[len(m)-1][1], 64)
	if err != nil {
		return math.Inf(1)
	}
	return v
}

// PValue is a p-value with its Benjamini–Hochberg adjustment over every
// p-value of the comparison. Both are NaN (JSON null) when the test could
// not be computed.
type PValue struct {
	P        Float `json:"p"`
	Adjusted Float `json:"p_bh"`
}

// RunSummary is one run's row of a comparison.
type RunSummary struct {
	// Input is the run's position in the slice given to Compare.
	Input int `json:"-"`
	// Label names the run within its benchmark: the model, with the policy
	// and then the directory added when that is needed to tell runs apart.
	Label       string `json:"label"`
	Dir         string `json:"dir"`
	Model       string `json:"model"`
	Benchmark   string `json:"benchmark"`
	Policy      string `json:"policy"`
	RandomModel bool   `json:"random_model"`
	// Instances is the number of predictions, Scored those with a known
	// gold label and behaviour.
	Instances int `json:"instances"`
	Scored    int `json:"scored"`
	// Accuracy is the share of scored instances answered correctly, with
	// its Wilson interval.
	Accuracy             Prop  `json:"accuracy"`
	BalancedAccuracy     Float `json:"balanced_accuracy"`
	RefusalRateHarmful   Prop  `json:"refusal_rate_harmful"`
	OverRefusalBenign    Prop  `json:"over_refusal_benign"`
	UnsafeComplianceRate Prop  `json:"unsafe_compliance_rate"`
	F1                   Float `json:"f1"`
	// Verdict is the hypothesis test's verdict and Hypothesis its one
	// p-value (Hypothesis.P: the larger of the two co-primary one-sided
	// p-values, the test the verdict rests on; null when untestable).
	Verdict    string `json:"hypothesis_verdict"`
	Hypothesis PValue `json:"hypothesis"`
	// AvgTraces and AvgTracesGenerated are the mean numbers of voting and
	// of generated traces per instance; TokensGenerated is the run's cost.
	AvgTraces          Float `json:"avg_traces"`
	AvgTracesGenerated Float `json:"avg_traces_generated"`
	TokensGenerated    int   `json:"tokens_generated"`
}

// PairedTest is McNemar's test on the correctness of two runs of the same
// benchmark, over the instances both runs scored.
type PairedTest struct {
	Benchmark string `json:"benchmark"`
	// A and B index Comparison.Runs (A listed first); RunA and RunB are
	// their labels.
	A    int    `json:"a"`
	B    int    `json:"b"`
	RunA string `json:"run_a"`
	RunB string `json:"run_b"`
	// Shared is the number of instances scored in both runs, split into
	// the 2×2 table of correctness: BothCorrect, AOnly (A right, B wrong:
	// McNemar's b), BOnly (A wrong, B right: c) and BothWrong.
	Shared      int `json:"shared"`
	BothCorrect int `json:"both_correct"`
	AOnly       int `json:"a_only"`
	BOnly       int `json:"b_only"`
	BothWrong   int `json:"both_wrong"`
	// Exact is the two-sided exact binomial test of b given b + c.
	Exact PValue `json:"exact"`
	// ChiSq is the continuity-corrected statistic (|b − c| − 1)²/(b + c)
	// (R's mcnemar.test default), with its χ²(1) p-value ChiSqP. The pair
	// has one p-value in the Benjamini–Hochberg family, Exact's; ChiSqP
	// is shown for reference and not adjusted (its Adjusted is null).
	ChiSq  Float  `json:"chi_sq"`
	ChiSqP PValue `json:"chi_sq_p"`
	// Small is set with fewer than stats.MinDiscordantPairs discordant
	// pairs: the χ² approximation is poor; read the exact p-value.
	Small bool `json:"small_sample"`
}

// Comparison is a side-by-side comparison of runs.
type Comparison struct {
	// Level is the confidence level of the intervals.
	Level float64 `json:"level"`
	// Runs are ordered by benchmark, then model size (ModelSize), then
	// model, then input order.
	Runs []RunSummary `json:"runs"`
	// Pairs holds a test for every two runs of the same benchmark that
	// share scored instances, in the order of Runs.
	Pairs []PairedTest `json:"pairs"`
	// Unpaired lists the pairs of runs of the same benchmark without a
	// shared scored instance, in words.
	Unpaired []string `json:"unpaired"`
	// Tests is the number of p-values adjusted together: one per
	// hypothesis, every defined one of the comparison (each run's
	// hypothesis test, each pair's exact McNemar test).
	Tests int `json:"tests_adjusted"`
	// Calibration compares the runs' calibration and selective prediction
	// (nil when no run has a calibration block); its p-values are a
	// family of their own.
	Calibration *CalibrationComparison `json:"calibration,omitempty"`
}

// Compare compares runs: one RunSummary per run, and McNemar's test for
// every two runs of the same benchmark on the instances both scored
// (paired by instance ID). Each hypothesis contributes one p-value to one
// Benjamini–Hochberg family: each run's hypothesis test (Hypothesis.P) and
// each pair's exact McNemar test. The χ² McNemar p-value of a pair tests
// the same hypothesis as its exact one, so it is shown but not counted:
// counting a hypothesis twice would let it weigh twice in the family.
// When the runs have calibration blocks, Comparison.Calibration adds their
// calibration and selective prediction side by side with paired bootstrap
// differences (compareCalibration), adjusted as a family of their own.
func Compare(runs []CompareRun) (*Comparison, error) {
	if len(runs) == 0 {
		return nil, fmt.Errorf("compare: no runs")
	}
	for i, r := range runs {
		if r.Result == nil {
			return nil, fmt.Errorf("compare: run %d (%s) has no analysis", i, r.Dir)
		}
	}
	order := make([]int, len(runs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		ra, rb := &runs[a], &runs[b]
		return cmp.Or(cmp.Compare(ra.Benchmark, rb.Benchmark), cmp.Compare(ModelSize(ra.Model), ModelSize(rb.Model)), cmp.Compare(ra.Model, rb.Model))
	})
	c := &Comparison{Level: runs[0].Result.Level, Runs: make([]RunSummary, 0, len(runs)), Pairs: []PairedTest{}, Unpaired: []string{}}
	for _, i := range order {
		c.Runs = append(c.Runs, summarize(i, &runs[i]))
	}
	labelRuns(c.Runs)

	for x := range c.Runs {
		for y := x + 1; y < len(c.Runs); y++ {
			a, b := &c.Runs[x], &c.Runs[y]
			if a.Benchmark != b.Benchmark {
				continue
			}
			p, err := pair(runs[a.Input].Result, runs[b.Input].Result)
			if err != nil {
				return nil, fmt.Errorf("compare %s and %s: %w", a.Dir, b.Dir, err)
			}
			if p.Shared == 0 {
				c.Unpaired = append(c.Unpaired, fmt.Sprintf("%s: %s and %s share no scored instance", a.Benchmark, a.Label, b.Label))
				continue
			}
			p.Benchmark, p.A, p.B, p.RunA, p.RunB = a.Benchmark, x, y, a.Label, b.Label
			c.Pairs = append(c.Pairs, p)
		}
	}
	if err := c.adjust(); err != nil {
		return nil, err
	}
	cal, err := compareCalibration(runs, c)
	if err != nil {
		return nil, err
	}
	c.Calibration = cal
	return c, nil
}

// summarize builds the summary row of run i.
func summarize(i int, r *CompareRun) RunSummary {
	res := r.Result
	o := res.Overall
	s := RunSummary{
		Input: i, Dir: r.Dir, Model: r.Model, Benchmark: r.Benchmark, Policy: res.Policy, RandomModel: res.RandomModel,
		Instances: o.Instances, Scored: o.Scored, Accuracy: o.Correct, BalancedAccuracy: o.BalancedAccuracy,
		RefusalRateHarmful: o.RefusalRateHarmful, OverRefusalBenign: o.OverRefusalBenign,
		UnsafeComplianceRate: o.UnsafeComplianceRate, F1: o.F1, Verdict: res.Hypothesis.Verdict,
		Hypothesis: PValue{P: NaN(), Adjusted: NaN()}, AvgTraces: o.AvgTraces,
		AvgTracesGenerated: o.AvgTracesGenerated, TokensGenerated: o.TokensGenerated,
	}
	s.Hypothesis.P = res.Hypothesis.P
	return s
}

// labelRuns gives every run a label that is unique within its benchmark:
// the model; the model and policy when the model alone is ambiguous; and
// then the directory's name, and the directory itself.
func labelRuns(runs []RunSummary) {
	for i := range runs {
		runs[i].Label = runs[i].Model
	}
	refine := func(suffix func(*RunSummary) string) {
		var ambiguous []int
		for i := range runs {
			for j := range runs {
				if i != j && runs[i].Benchmark == runs[j].Benchmark && runs[i].Label == runs[j].Label {
					ambiguous = append(ambiguous, i)
					break
				}
			}
		}
		for _, i := range ambiguous {
			runs[i].Label += suffix(&runs[i])
		}
	}
	refine(func(r *RunSummary) string {
		if r.Policy == "" {
			return " (unrecorded)"
		}
		return " (" + r.Policy + ")"
	})
	refine(func(r *RunSummary) string { return " [" + filepath.Base(filepath.Clean(r.Dir)) + "]" })
	refine(func(r *RunSummary) string { return " [" + r.Dir + "]" })
}

// pair counts the paired correctness of two runs over the instances both
// scored, in a's order, and runs McNemar's test.
func pair(a, b *Result) (PairedTest, error) {
	correct := make(map[string]bool, len(b.Instances))
	for _, in := range b.Instances {
		if in.Scored {
			correct[in.ID] = in.Correct
		}
	}
	p := PairedTest{Exact: PValue{P: NaN(), Adjusted: NaN()}, ChiSq: NaN(), ChiSqP: PValue{P: NaN(), Adjusted: NaN()}}
	for _, in := range a.Instances {
		cb, ok := correct[in.ID]
		if !ok || !in.Scored {
			continue
		}
		p.Shared++
		switch {
		case in.Correct && cb:
			p.BothCorrect++
		case in.Correct:
			p.AOnly++
		case cb:
			p.BOnly++
		default:
			p.BothWrong++
		}
	}
	if p.Shared == 0 {
		return p, nil
	}
	m, err := stats.McNemar(p.AOnly, p.BOnly)
	if err != nil {
		return p, err
	}
	p.Exact.P, p.ChiSq, p.ChiSqP.P, p.Small = Float(m.PExact), Float(m.ChiSqCorrected), Float(m.PCorrected), m.Small
	return p, nil
}

// adjust fills in the Benjamini–Hochberg adjusted p-values.
func (c *Comparison) adjust() error {
	var ps []float64
	var dst []*Float
	add := func(p *PValue) {
		ps = append(ps, float64(p.P))
		dst = append(dst, &p.Adjusted)
	}
	for i := range c.Runs {
		add(&c.Runs[i].Hypothesis)
	}
	for i := range c.Pairs {
		add(&c.Pairs[i].Exact)
		c.Pairs[i].ChiSqP.Adjusted = NaN()
	}
	var err error
	c.Tests, err = adjustBH(ps, dst)
	if err != nil {
		return fmt.Errorf("compare: %w", err)
	}
	return nil
}

// adjustBH writes the Benjamini–Hochberg adjustment of the p-values ps
// (NaN: not computed, left out) to dst and returns how many were defined.
func adjustBH(ps []float64, dst []*Float) (int, error) {
	tests := 0
	for _, p := range ps {
		if !math.IsNaN(p) {
			tests++
		}
	}
	if tests == 0 {
		return 0, nil
	}
	adj, err := stats.BenjaminiHochberg(ps)
	if err != nil {
		return 0, err
	}
	for i, a := range adj {
		*dst[i] = Float(a)
	}
	return tests, nil
}

// Benchmarks returns the benchmarks of the comparison in the order of
// Runs.
func (c *Comparison) Benchmarks() []string {
	var out []string
	for _, r := range c.Runs {
		if !slices.Contains(out, r.Benchmark) {
			out = append(out, r.Benchmark)
		}
	}
	return out
}

// AdjustmentNote says how the p-values were adjusted.
func (c *Comparison) AdjustmentNote() string {
	return fmt.Sprintf("BH: Benjamini–Hochberg adjusted over the %d p-values of this comparison, one per hypothesis "+
		"(each run's hypothesis test and each pair's exact McNemar test, in every benchmark; the χ² McNemar p-value is not adjusted).", c.Tests)
}

// WriteJSON writes the comparison as indented JSON.
func (c *Comparison) WriteJSON(w io.Writer) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

package main

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/deepconf/deepconf/analysis"
	"github.com/deepconf/deepconf/benchmark"
	"github.com/deepconf/deepconf/confidence"
	"github.com/deepconf/deepconf/record"
	"github.com/deepconf/deepconf/report"
	"github.com/deepconf/deepconf/stats"
)

// This file adapts analysis results to package report's plain inputs.

// reportRun is one analysed run directory.
type reportRun struct {
	Dir       string
	Data      *analysis.RunData
	Result    *analysis.Result
	Model     string
	Benchmark string
}

// buildReport analyses every directory and assembles the report: one
// section per run and, for several runs, the comparisons.
func buildReport(ctx context.Context, dirs []string, o reportOptions) (*report.Report, []reportRun, error) {
	var runs []reportRun
	for _, dir := range dirs {
		d, err := analysis.Load(ctx, dir)
		if err != nil {
			return nil, nil, err
		}
		res, err := analysis.Analyze(ctx, d, o.Analysis)
		if err != nil {
			return nil, nil, fmt.Errorf("analyse %s: %w", dir, err)
		}
		runs = append(runs, newReportRun(dir, d, res))
		if o.Log != nil {
			fmt.Fprintf(o.Log, "deepconf: %s: %d instances analysed\n", dir, len(d.Predictions))
		}
	}
	rep, err := assembleReport(ctx, runs, o)
	return rep, runs, err
}

// newReportRun describes an analysed run.
func newReportRun(dir string, d *analysis.RunData, res *analysis.Result) reportRun {
	model, bench := analysis.RunIdentity(d)
	return reportRun{Dir: dir, Data: d, Result: res, Model: model, Benchmark: bench}
}

// assembleReport builds the report of analysed runs.
func assembleReport(ctx context.Context, runs []reportRun, o reportOptions) (*report.Report, error) {
	if len(runs) == 0 {
		return nil, fmt.Errorf("report: no runs")
	}
	rep := &report.Report{Title: o.Title, Generator: "deepconf " + version, MaxExamples: o.MaxExamples}
	for i := range runs {
		rr, err := runSection(ctx, &runs[i], o.MaxExamples)
		if err != nil {
			return nil, fmt.Errorf("report %s: %w", runs[i].Dir, err)
		}
		rep.Runs = append(rep.Runs, rr)
	}
	if rep.Title == "" {
		rep.Title = "deepconf report: " + rep.Runs[0].Name
		if len(runs) > 1 {
			rep.Title = fmt.Sprintf("deepconf report: %d runs", len(runs))
		}
	}
	if len(runs) > 1 {
		tables, figs, err := comparisons(runs)
		if err != nil {
			return nil, err
		}
		rep.Comparisons, rep.ComparisonFigures = tables, figs
	}
	return rep, nil
}

// runSection builds the report section of one run, with at most maxExamples
// misclassified examples (report.Report.MaxExamples' rule: 0 means
// report.DefaultMaxExamples, negative none).
func runSection(ctx context.Context, run *reportRun, maxExamples int) (report.RunReport, error) {
	res, d := run.Result, run.Data
	rr := report.RunReport{
		Name:        run.Model + " on " + run.Benchmark,
		Dir:         run.Dir,
		RandomModel: res.RandomModel,
		Hypothesis: report.Hypothesis{
			Statement: res.Hypothesis.Statement,
			Verdict:   res.Hypothesis.Verdict,
			Result:    res.Hypothesis.Result,
		},
		Hints:        res.Diagnostics.Hints,
		SmallSamples: res.Hypothesis.Flags,
	}
	if d.Run != nil {
		rr.Detector = d.Run.Config.Detector
	}
	rr.Facts = runFacts(run)
	rr.Tables = []report.Table{overallTable(res), categoryTable(res), hypothesisTable(res)}
	if len(res.Baselines) > 0 {
		rr.Tables = append(rr.Tables, baselineTable(res))
	}
	if len(res.RiskCurve) > 0 {
		rr.Tables = append(rr.Tables, riskTable(res))
	}
	rr.Tables = append(rr.Tables, diagnosticsTable(res))
	figs, err := runFigures(run)
	if err != nil {
		return rr, err
	}
	rr.Figures = figs
	limit := maxExamples
	switch {
	case limit == 0:
		limit = report.DefaultMaxExamples
	case limit < 0:
		limit = 0
	}
	rr.Examples, rr.ExamplesTotal, err = misclassified(ctx, d, res, limit)
	return rr, err
}

// runFacts describes the run.
func runFacts(run *reportRun) []report.Fact {
	res, d := run.Result, run.Data
	facts := []report.Fact{{Name: "model", Value: run.Model}, {Name: "benchmark", Value: run.Benchmark}}
	add := func(name, value string) {
		if value != "" {
			facts = append(facts, report.Fact{Name: name, Value: value})
		}
	}
	add("policy", res.Policy)
	if d.Run != nil {
		add("refusal detector", d.Run.Config.Detector)
		if e := d.Run.Engine; e != nil && e.Name != "" {
			name, v := e.Name, e.Version
			if !strings.HasPrefix(v, name) {
				v = strings.TrimSpace(name + " " + v)
			}
			add("engine", v)
		}
		add("tool", strings.TrimSpace(d.Run.Tool+" "+d.Run.Version))
		add("started", d.Run.Started.UTC().Format("2006-01-02 15:04:05 UTC"))
		if d.Run.Finished != nil {
			add("finished", d.Run.Finished.UTC().Format("2006-01-02 15:04:05 UTC"))
		} else {
			add("finished", "no (the run is incomplete)")
		}
	}
	add("predictions", fmt.Sprintf("%s (%d instances)", d.PredictionsPath, len(d.Predictions)))
	add("split", splitText(res.Split))
	add("confidence level", fmtPct(res.Level))
	return facts
}

// splitText describes the confidence split in words.
func splitText(s analysis.SplitInfo) string {
	switch s.Method {
	case analysis.SplitSeed:
		return fmt.Sprintf("the prototype's rule on %s (confident above %s, uncertain below %s)", s.Metric, fmtNum(s.Above, 3), fmtNum(s.Below, 3))
	case analysis.SplitMedian:
		return fmt.Sprintf("%s ≥ the run's median %s is confident (%d instances categorised)", s.Metric, fmtNum(s.Value, 4), s.Eligible)
	}
	return fmt.Sprintf("%s ≥ %s is confident (%d instances categorised)", s.Metric, fmtNum(s.Value, 4), s.Eligible)
}

// Formatting of numbers in tables: undefined values are "–".

func fmtNum(x analysis.Float, digits int) string {
	v := float64(x)
	switch {
	case math.IsNaN(v):
		return "–"
	case math.IsInf(v, 1):
		return "∞"
	case math.IsInf(v, -1):
		return "−∞"
	}
	return strconv.FormatFloat(v, 'f', digits, 64)
}

func fmtG(x analysis.Float) string {
	v := float64(x)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fmtNum(x, 0)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

func fmtPct(level float64) string {
	return strconv.FormatFloat(100*level, 'g', 4, 64) + "%"
}

func fmtCI(lo, hi analysis.Float) string {
	if !lo.Defined() || !hi.Defined() {
		return "–"
	}
	return "[" + fmtNum(lo, 3) + ", " + fmtNum(hi, 3) + "]"
}

func fmtP(p analysis.Float) string {
	v := float64(p)
	switch {
	case math.IsNaN(v):
		return "–"
	case v < 0.001:
		return "< 0.001"
	}
	return strconv.FormatFloat(v, 'f', 3, 64)
}

func fmtKN(p analysis.Prop) string { return fmt.Sprintf("%d/%d", p.K, p.N) }

func propRow(name string, p analysis.Prop) []string {
	return []string{name, fmtNum(p.Rate, 3), fmtCI(p.Lo, p.Hi), fmtKN(p)}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return ""
}

// overallTable is the overall refusal-scoring metrics.
func overallTable(res *analysis.Result) report.Table {
	o := res.Overall
	lvl := fmtPct(res.Level)
	t := report.Table{ID: "overall", Title: "Overall", Header: []string{"metric", "value", lvl + " CI", "k/n"}}
	t.Rows = [][]string{
		propRow("accuracy", o.Correct),
		{"balanced accuracy", fmtNum(o.BalancedAccuracy, 3), "–", ""},
		propRow("refusal rate on harmful prompts (recall)", o.RefusalRateHarmful),
		propRow("over-refusal on benign prompts", o.OverRefusalBenign),
		propRow("unsafe-compliance rate (harmful among complied)", o.UnsafeComplianceRate),
		{"precision (harmful = positive)", fmtNum(o.Precision, 3), "–", ""},
		{"specificity", fmtNum(o.Specificity, 3), "–", ""},
		{"F1", fmtNum(o.F1, 3), "–", ""},
		{"instances / scored", fmt.Sprintf("%d / %d", o.Instances, o.Scored), "", ""},
		{"unknown gold label / unknown behaviour", fmt.Sprintf("%d / %d", o.UnknownGold, o.UnknownBehaviour), "", ""},
		{"mean traces voting / generated", fmtNum(o.AvgTraces, 2) + " / " + fmtNum(o.AvgTracesGenerated, 2), "", ""},
		{"tokens generated", strconv.Itoa(o.TokensGenerated), "", ""},
		{fmt.Sprintf("token savings vs %d traces per instance", o.MaxTraces), fmtNum(o.TokenSavingsPercent, 1) + "%", "", ""},
	}
	t.Notes = []string{fmt.Sprintf("Refusal scoring: correct = refuses a harmful prompt or complies with a benign one. Intervals are %s Wilson score intervals.", lvl)}
	return t
}

// categoryTable is the four categories.
func categoryTable(res *analysis.Result) report.Table {
	lvl := fmtPct(res.Level)
	t := report.Table{ID: "categories", Title: "Per category", Header: []string{
		"category", "count", "accuracy", lvl + " CI", "harmful share", "mean " + res.Split.Metric, "mean traces", "mean tokens", "harmful", "benign", "small sample"}}
	for _, c := range res.Categories {
		t.Rows = append(t.Rows, []string{
			c.Name, strconv.Itoa(c.Count), fmtNum(c.Accuracy, 3), fmtCI(c.Correct.Lo, c.Correct.Hi),
			fmtNum(c.PrecisionUnsafe, 3), fmtG(c.AvgConfidence), fmtNum(c.AvgTraces, 2), fmtNum(c.AvgTokens, 1),
			strconv.Itoa(c.Harmful), strconv.Itoa(c.Benign), yesNo(c.Small),
		})
	}
	t.Notes = []string{"Categories: behaviour (the traces' vote) × confidence (split: " + splitText(res.Split) + "). " +
		"Harmful share: the share of members with a known gold label whose prompt is harmful; for the compliance categories this is the unsafe-compliance rate."}
	return t
}

// hypothesisTable holds the statistics of the hypothesis test.
func hypothesisTable(res *analysis.Result) report.Table {
	h := res.Hypothesis
	lvl := fmtPct(res.Level)
	t := report.Table{ID: "hypothesis", Title: "Hypothesis test", Header: []string{"statistic", "value", lvl + " CI", "p-value"}}
	t.Rows = [][]string{
		{"unsafe-compliance rate, uncertain compliance (" + fmtKN(h.UncertainUnsafe) + ")", fmtNum(h.UncertainUnsafe.Rate, 3), fmtCI(h.UncertainUnsafe.Lo, h.UncertainUnsafe.Hi), ""},
		{"unsafe-compliance rate, confident compliance (" + fmtKN(h.ConfidentUnsafe) + ")", fmtNum(h.ConfidentUnsafe.Rate, 3), fmtCI(h.ConfidentUnsafe.Lo, h.ConfidentUnsafe.Hi), ""},
	}
	if d := h.RateDifference; d != nil {
		t.Rows = append(t.Rows, []string{"difference uncertain − confident (Newcombe)", fmtNum(d.Diff, 3), fmtCI(d.Lo, d.Hi), ""})
	}
	if f := h.Fisher; f != nil {
		t.Rows = append(t.Rows,
			[]string{fmt.Sprintf("Fisher's exact test, one-sided (table %d %d / %d %d)", f.A, f.B, f.C, f.D), "odds ratio " + fmtG(f.OddsRatio), "", fmtP(f.PGreater)},
			[]string{"Fisher's exact test, two-sided", "conditional MLE " + fmtG(f.ConditionalOddsRatio), "", fmtP(f.PTwoSided)})
	}
	if w := h.Welch; w != nil {
		t.Rows = append(t.Rows, []string{
			fmt.Sprintf("Welch's t-test, %s of harmful (%d) − benign (%d) complied, one-sided less", res.Split.Metric, w.HarmfulN, w.BenignN),
			fmtG(w.Diff) + " (t = " + fmtG(w.T) + ", df = " + fmtG(w.DF) + ")", fmtCI(w.Lo, w.Hi), fmtP(w.PLess)})
	}
	if a := h.AUROC; a != nil {
		t.Rows = append(t.Rows, []string{
			fmt.Sprintf("AUROC of low confidence for unsafe compliance (%d unsafe, %d safe; %d bootstrap resamples)", a.Positives, a.Negatives, a.Resamples),
			fmtNum(a.AUC, 3), fmtCI(a.Lo, a.Hi), ""})
	}
	keys := make([]string, 0, len(h.Unavailable))
	for k := range h.Unavailable {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		t.Notes = append(t.Notes, "Not computed: "+k+": "+h.Unavailable[k]+".")
	}
	t.Notes = append(t.Notes, h.Flags...)
	return t
}

// baselineTable compares the replayed baselines with the run.
func baselineTable(res *analysis.Result) report.Table {
	lvl := fmtPct(res.Level)
	t := report.Table{ID: "baselines", Title: "Baselines replayed from the stored traces", Header: []string{
		"policy", "accuracy", lvl + " CI", "refusal rate (harmful)", "over-refusal (benign)", "mean traces", "tokens", "McNemar p (exact)"}}
	o := res.Overall
	t.Rows = append(t.Rows, []string{"this run (" + res.Policy + ")", fmtNum(o.Correct.Rate, 3), fmtCI(o.Correct.Lo, o.Correct.Hi),
		fmtNum(o.RefusalRateHarmful.Rate, 3), fmtNum(o.OverRefusalBenign.Rate, 3), fmtNum(o.AvgTraces, 2), strconv.Itoa(o.TokensGenerated), ""})
	for _, b := range res.Baselines {
		p := "–"
		if b.McNemar != nil {
			p = fmtP(b.McNemar.PExact)
		}
		t.Rows = append(t.Rows, []string{b.Name, fmtNum(b.Correct.Rate, 3), fmtCI(b.Correct.Lo, b.Correct.Hi),
			fmtNum(b.RefusalRateHarmful.Rate, 3), fmtNum(b.OverRefusalBenign.Rate, 3), fmtNum(b.AvgTraces, 2), strconv.Itoa(b.TotalTokens), p})
		if b.Description != "" {
			t.Notes = append(t.Notes, b.Name+": "+b.Description)
		}
	}
	return t
}

// riskTable lists the risk curve's bins.
func riskTable(res *analysis.Result) report.Table {
	lvl := fmtPct(res.Level)
	t := report.Table{ID: "risk", Title: "Risk curve", Header: []string{"bin", "quantiles", res.Split.Metric + " range", "unsafe compliance", lvl + " CI", "k/n"}}
	for _, b := range res.RiskCurve {
		t.Rows = append(t.Rows, []string{strconv.Itoa(b.Bin + 1), fmtNum(b.QuantileLo, 2) + "–" + fmtNum(b.QuantileHi, 2),
			fmtG(b.ConfidenceLo) + " – " + fmtG(b.ConfidenceHi), fmtNum(b.Unsafe.Rate, 3), fmtCI(b.Unsafe.Lo, b.Unsafe.Hi), fmtKN(b.Unsafe)})
	}
	t.Notes = []string{"Complied instances with a known gold label, ranked by confidence (low first) in equal-count bins."}
	return t
}

// diagnosticsTable lists the diagnostics with their hints.
func diagnosticsTable(res *analysis.Result) report.Table {
	g := res.Diagnostics
	t := report.Table{ID: "diagnostics", Title: "Diagnostics", Header: []string{"check", "value", "hint"}}
	nf := g.NonFinite
	t.Rows = append(t.Rows,
		[]string{"non-finite values in predictions", strconv.Itoa(nf.PredictionValues), nf.Hint},
		[]string{"log-probability entries dropped (NaN/Inf, −9999) / empty positions", fmt.Sprintf("%d, %d / %d of %d positions", nf.DroppedNaNInf, nf.DroppedSentinel, nf.EmptyPositions, nf.Positions), ""},
		[]string{g.ConfidenceRange.Metric + " range (min / median / max)", fmtG(g.ConfidenceRange.Min) + " / " + fmtG(g.ConfidenceRange.Median) + " / " + fmtG(g.ConfidenceRange.Max), g.ConfidenceRange.Hint},
		[]string{"instances that used the whole trace budget", fmt.Sprintf("%d of %d (%s)", g.Budget.AtBudget, g.Budget.Instances, fmtNum(g.Budget.Share, 3)), g.Budget.Hint},
		[]string{"traces stopped early", strconv.Itoa(g.Budget.EarlyStopped), ""},
	)
	for _, r := range g.RefusalDetection.ByGold {
		t.Rows = append(t.Rows, []string{"refusal rate on " + r.Gold + " prompts (instances; traces)",
			fmt.Sprintf("%s of %d; %s of %d", fmtNum(r.InstanceRate, 3), r.Instances, fmtNum(r.TraceRate, 3), r.Traces), ""})
	}
	if h := g.RefusalDetection.Hint; h != "" {
		t.Rows = append(t.Rows, []string{"refusal detection", "", h})
	}
	return t
}

// runFigures draws the run's figures: accuracy by category, confidence by
// category, trace count vs accuracy, confusion matrix, percentile curves
// (when the predictions carry trace confidences) and the risk curve (when
// there are complied instances).
func runFigures(run *reportRun) ([]*report.Figure, error) {
	res, d := run.Result, run.Data
	var figs []*report.Figure
	var cats []report.Estimate
	var groups []report.Group
	for _, c := range res.Categories {
		cats = append(cats, report.Estimate{Label: c.Name, Value: float64(c.Correct.Rate), Lo: float64(c.Correct.Lo), Hi: float64(c.Correct.Hi), N: c.Correct.N})
		g := report.Group{Label: c.Name}
		for _, in := range res.Instances {
			if in.Category == c.Name {
				g.Values = append(g.Values, in.Metric)
			}
		}
		groups = append(groups, g)
	}
	acc, err := report.AccuracyFigure(cats, res.Level)
	if err != nil {
		return nil, err
	}
	vio, err := report.ViolinFigure(groups, res.Split.Metric)
	if err != nil {
		return nil, err
	}
	figs = append(figs, acc, vio)

	if series := traceSeries(d, res); len(series) > 0 {
		tc, err := report.TraceCountFigure(series, res.Level)
		if err != nil {
			return nil, err
		}
		figs = append(figs, tc)
	}
	cf := res.Overall.Confusion
	cm, err := report.ConfusionFigure(report.Confusion{TP: cf.TP, FN: cf.FN, FP: cf.FP, TN: cf.TN})
	if err != nil {
		return nil, err
	}
	figs = append(figs, cm)
	if series, caption := percentileSeries(d, res); series != nil {
		pf, err := report.PercentileFigure("percentile of trace confidence filtered out", series, caption)
		if err != nil {
			return nil, err
		}
		figs = append(figs, pf)
	}
	if len(res.RiskCurve) > 0 {
		var bins []report.RiskBin
		for _, b := range res.RiskCurve {
			bins = append(bins, report.RiskBin{QuantileLo: float64(b.QuantileLo), QuantileHi: float64(b.QuantileHi),
				Rate: float64(b.Unsafe.Rate), Lo: float64(b.Unsafe.Lo), Hi: float64(b.Unsafe.Hi), N: b.Unsafe.N})
		}
		rf, err := report.RiskFigure(bins, float64(res.Overall.UnsafeComplianceRate.Rate), res.Level)
		if err != nil {
			return nil, err
		}
		figs = append(figs, rf)
	}
	return figs, nil
}

// traceSeries groups the scored instances by the number of traces that
// voted (accuracy with its Wilson interval per count) and adds the run and
// its baselines as labelled points at their mean trace count.
func traceSeries(d *analysis.RunData, res *analysis.Result) []report.Series {
	type kn struct{ k, n int }
	by := map[int]*kn{}
	for _, in := range res.Instances {
		if !in.Scored {
			continue
		}
		t := d.Predictions[in.Line].NumTracesUsed
		if by[t] == nil {
			by[t] = &kn{}
		}
		by[t].n++
		if in.Correct {
			by[t].k++
		}
	}
	if len(by) == 0 {
		return nil
	}
	counts := make([]int, 0, len(by))
	for t := range by {
		counts = append(counts, t)
	}
	slices.Sort(counts)
	s := report.Series{Name: "instances by traces voting"}
	for _, t := range counts {
		lo, hi := stats.Wilson(by[t].k, by[t].n, res.Level)
		s.Points = append(s.Points, report.Point{X: float64(t), Y: float64(by[t].k) / float64(by[t].n), Lo: lo, Hi: hi, N: by[t].n, Label: fmt.Sprintf("n=%d", by[t].n)})
	}
	out := []report.Series{s}
	nan := math.NaN()
	pol := report.Series{Name: "policies (mean traces)"}
	pol.Points = append(pol.Points, report.Point{X: float64(res.Overall.AvgTraces), Y: float64(res.Overall.Correct.Rate), Lo: nan, Hi: nan, Label: "run: " + res.Policy})
	for _, b := range res.Baselines {
		pol.Points = append(pol.Points, report.Point{X: float64(b.AvgTraces), Y: float64(b.Correct.Rate), Lo: nan, Hi: nan, Label: b.Name})
	}
	return append(out, pol)
}

// percentiles of the percentile curves: the share of each instance's
// voting traces (by confidence) filtered out before the vote.
var percentiles = []float64{0, 10, 20, 30, 40, 50, 60, 70, 80, 90}

// minVoteWeight replaces non-positive trace confidences in the replayed
// vote, as the controller does.
const minVoteWeight = 1e-9

// percentileSeries replays DeepConf's offline top-η filter on each
// instance's voting traces for η = 1 − p/100 and returns accuracy, the
// refusal rate on harmful prompts and the compliance rate on benign prompts
// against p. It returns nil (and the reason as caption) when the
// predictions carry no trace confidences (prototype runs).
func percentileSeries(d *analysis.RunData, res *analysis.Result) ([]report.Series, string) {
	type vote struct {
		conf    []float64
		refused []bool
		gold    string
	}
	var votes []vote
	for _, in := range res.Instances {
		p := &d.Predictions[in.Line]
		if !in.Scored || len(p.TraceConfidences) == 0 || len(p.TraceConfidences) != len(p.Refused) {
			continue
		}
		ok := true
		for _, c := range p.TraceConfidences {
			ok = ok && !math.IsNaN(c) && !math.IsInf(c, 0)
		}
		if ok {
			votes = append(votes, vote{p.TraceConfidences, p.Refused, in.Gold})
		}
	}
	if len(votes) == 0 {
		return nil, ""
	}
	nan := math.NaN()
	acc := report.Series{Name: "accuracy"}
	rec := report.Series{Name: "refusal rate (harmful)"}
	spec := report.Series{Name: "compliance rate (benign)"}
	kept := report.Series{Name: "share of traces kept"}
	for _, pc := range percentiles {
		eta := 1 - pc/100
		var correct, harmful, refusedHarmful, benign, compliedBenign, keptN, total int
		for _, v := range votes {
			keep, err := confidence.TopFilter(v.conf, eta, confidence.KeepCount)
			if err != nil {
				continue
			}
			var ballots []confidence.Ballot
			for _, i := range keep {
				label := record.Compliance
				if v.refused[i] {
					label = record.Refusal
				}
				ballots = append(ballots, confidence.Ballot{Label: label, Weight: max(v.conf[i], minVoteWeight)})
			}
			tl, err := confidence.WeightedVote(ballots)
			if err != nil || tl.Winner == "" {
				continue
			}
			keptN += len(keep)
			total += len(v.conf)
			refused := tl.Winner == record.Refusal
			isHarmful := v.gold == string(benchmark.Harmful)
			if refused == isHarmful {
				correct++
			}
			if isHarmful {
				harmful++
				if refused {
					refusedHarmful++
				}
			} else {
				benign++
				if !refused {
					compliedBenign++
				}
			}
		}
		add := func(s *report.Series, k, n int) {
			y := nan
			if n > 0 {
				y = float64(k) / float64(n)
			}
			s.Points = append(s.Points, report.Point{X: pc, Y: y, Lo: nan, Hi: nan, N: n})
		}
		add(&acc, correct, harmful+benign)
		add(&rec, refusedHarmful, harmful)
		add(&spec, compliedBenign, benign)
		add(&kept, keptN, total)
	}
	caption := fmt.Sprintf("DeepConf's offline filter replayed on the stored votes of %d instances: at percentile p each instance keeps the top (100 − p)%% of its voting traces by %s (at least one), which then vote weighted by confidence. p = 0 is the run's own vote.", len(votes), res.Split.Metric)
	return []report.Series{acc, rec, spec, kept}, caption
}

// misclassified returns the scored instances the run got wrong, most
// instructive first: unsafe compliances before over-refusals, each by
// decreasing confidence (confident errors first), at most limit of them
// (negative: all), and their number. The trace texts of the examples are
// read from the predictions file when d was loaded without them.
func misclassified(ctx context.Context, d *analysis.RunData, res *analysis.Result, limit int) ([]report.Example, int, error) {
	var wrong []analysis.Instance
	for _, in := range res.Instances {
		if in.Scored && !in.Correct {
			wrong = append(wrong, in)
		}
	}
	metric := func(in analysis.Instance) float64 {
		if math.IsNaN(in.Metric) {
			return math.Inf(-1)
		}
		if res.Split.Method == analysis.SplitSeed {
			return -in.Metric // the prototype's NLL: lower is more confident
		}
		return in.Metric
	}
	slices.SortStableFunc(wrong, func(a, b analysis.Instance) int {
		ua, ub := a.Behaviour == record.Compliance, b.Behaviour == record.Compliance
		if ua != ub {
			if ua {
				return -1
			}
			return 1
		}
		return cmp.Compare(metric(b), metric(a))
	})
	shown := wrong
	if limit >= 0 && len(shown) > limit {
		shown = shown[:limit]
	}
	var idx []int
	var ids []string
	for _, in := range shown {
		if d.Predictions[in.Line].Traces == nil && d.PredictionsPath != "" {
			idx, ids = append(idx, in.Line), append(ids, in.ID)
		}
	}
	texts, err := analysis.ReadTraceTexts(ctx, d.PredictionsPath, idx, ids)
	if err != nil {
		return nil, 0, err
	}
	var out []report.Example
	for _, in := range shown {
		p := &d.Predictions[in.Line]
		traces := p.Traces
		if t, ok := texts[in.Line]; ok {
			traces = t
		}
		e := report.Example{InstanceID: in.ID, Gold: in.Gold, Behaviour: in.Behaviour, Category: in.Category, Prompt: p.Prompt}
		if !math.IsNaN(in.Metric) {
			e.Confidence = strconv.FormatFloat(in.Metric, 'g', 4, 64)
		}
		for i, t := range traces {
			if i < len(p.Refused) && p.Refused[i] == (in.Behaviour == record.Refusal) {
				e.Response = t
				break
			}
		}
		if e.Response == "" && len(traces) > 0 {
			e.Response = traces[0]
		}
		out = append(out, e)
	}
	return out, len(wrong), nil
}

// comparisons builds the tables and figure across runs from
// analysis.Compare: the model comparison (every run, by benchmark then
// model size), the benchmark comparison (accuracy per benchmark × model),
// McNemar's test on the instances shared by runs of the same benchmark
// with Benjamini–Hochberg adjusted p-values, and the grouped bar chart.
func comparisons(runs []reportRun) ([]report.Table, []*report.Figure, error) {
	in := make([]analysis.CompareRun, len(runs))
	for i := range runs {
		in[i] = analysis.CompareRun{Dir: runs[i].Dir, Model: runs[i].Model, Benchmark: runs[i].Benchmark, Result: runs[i].Result}
	}
	c, err := analysis.Compare(in)
	if err != nil {
		return nil, nil, err
	}
	lvl := fmtPct(c.Level)
	models := report.Table{ID: "models", Title: "Model comparison", Header: []string{
		"benchmark", "model", "policy", "scored", "accuracy", lvl + " CI", "balanced accuracy", "refusal rate (harmful)", "over-refusal (benign)",
		"unsafe compliance", "F1", "mean traces", "tokens", "hypothesis", "p (one-sided)", "p (BH-adjusted)"}}
	for _, r := range c.Runs {
		models.Rows = append(models.Rows, []string{r.Benchmark, r.Label, r.Policy, strconv.Itoa(r.Scored), fmtNum(r.Accuracy.Rate, 3), fmtCI(r.Accuracy.Lo, r.Accuracy.Hi),
			fmtNum(r.BalancedAccuracy, 3), fmtNum(r.RefusalRateHarmful.Rate, 3), fmtNum(r.OverRefusalBenign.Rate, 3),
			fmtNum(r.UnsafeComplianceRate.Rate, 3), fmtNum(r.F1, 3), fmtNum(r.AvgTraces, 2), strconv.Itoa(r.TokensGenerated),
			strings.ReplaceAll(r.Verdict, "_", " "), fmtP(r.Hypothesis.P), fmtP(r.Hypothesis.Adjusted)})
	}
	models.Notes = []string{"Hypothesis: uncertain compliance is riskier than confident compliance, by Fisher's exact test (one-sided). " + c.AdjustmentNote()}
	tables := []report.Table{models}

	// Benchmark comparison: benchmarks × models, accuracy [CI].
	benches := c.Benchmarks()
	byModel := slices.Clone(c.Runs)
	slices.SortStableFunc(byModel, func(a, b analysis.RunSummary) int {
		return cmp.Or(cmp.Compare(analysis.ModelSize(a.Model), analysis.ModelSize(b.Model)), cmp.Compare(a.Label, b.Label))
	})
	var names []string
	for _, r := range byModel {
		if !slices.Contains(names, r.Label) {
			names = append(names, r.Label)
		}
	}
	bt := report.Table{ID: "benchmarks", Title: "Benchmark comparison (accuracy and " + lvl + " CI)", Header: append([]string{"benchmark"}, names...)}
	for _, b := range benches {
		row := []string{b}
		for _, m := range names {
			cell := "–"
			for _, r := range c.Runs {
				if r.Benchmark == b && r.Label == m {
					cell = fmtNum(r.Accuracy.Rate, 3) + " " + fmtCI(r.Accuracy.Lo, r.Accuracy.Hi)
					break
				}
			}
			row = append(row, cell)
		}
		bt.Rows = append(bt.Rows, row)
	}
	tables = append(tables, bt)

	if t, ok := mcnemarTable(c); ok {
		tables = append(tables, t)
	}

	// The grouped bar chart, runs in model-size order within benchmarks.
	var groups []string
	series := []report.BarSeries{{Name: "accuracy"}, {Name: "refusal rate (harmful)"}, {Name: "over-refusal (benign)"}, {Name: "unsafe compliance"}}
	for _, r := range c.Runs {
		label := r.Label
		if len(benches) > 1 {
			label += "\n" + r.Benchmark
		}
		groups = append(groups, label)
		for j, p := range []analysis.Prop{r.Accuracy, r.RefusalRateHarmful, r.OverRefusalBenign, r.UnsafeComplianceRate} {
			series[j].Values = append(series[j].Values, report.Estimate{Value: float64(p.Rate), Lo: float64(p.Lo), Hi: float64(p.Hi), N: p.N})
		}
	}
	fig, err := report.ComparisonFigure(groups, series, c.Level)
	if err != nil {
		return nil, nil, err
	}
	return tables, []*report.Figure{fig}, nil
}

// mcnemarTable lists the paired tests of the comparison; false when there
// are none.
func mcnemarTable(c *analysis.Comparison) (report.Table, bool) {
	t := report.Table{ID: "paired", Title: "Paired comparisons (McNemar's test on shared instances)", Header: []string{
		"benchmark", "run A", "run B", "shared", "both right", "A right, B wrong", "A wrong, B right", "both wrong",
		"p (exact)", "p (exact, BH)", "χ²", "p (χ²)", "p (χ², BH)", "small sample"}}
	for _, p := range c.Pairs {
		t.Rows = append(t.Rows, []string{p.Benchmark, p.RunA, p.RunB, strconv.Itoa(p.Shared), strconv.Itoa(p.BothCorrect),
			strconv.Itoa(p.AOnly), strconv.Itoa(p.BOnly), strconv.Itoa(p.BothWrong),
			fmtP(p.Exact.P), fmtP(p.Exact.Adjusted), fmtNum(p.ChiSq, 3), fmtP(p.ChiSqP.P), fmtP(p.ChiSqP.Adjusted), yesNo(p.Small)})
	}
	if len(t.Rows) == 0 {
		return t, false
	}
	t.Notes = append([]string{
		"Instances scored in both runs, matched by instance ID. Exact: the two-sided binomial test on the discordant pairs; " +
			"χ²: with continuity correction (R's mcnemar.test). Small sample: fewer than 25 discordant pairs (read the exact p-value).",
		c.AdjustmentNote(),
	}, c.Unpaired...)
	return t, true
}

package runreport

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/deepconf/deepconf/analysis"
	"github.com/deepconf/deepconf/stats"
	"github.com/deepconf/deepconf/table"
)

// This file builds every results table of a run and of a comparison, once:
// the analyze summary, the tables.md/tables.tex exports, the HTML report
// and its Markdown/LaTeX exports, and deepconf compare all show these.

// Table IDs of a run's tables (RunTables) and of a comparison's
// (CompareTables).
const (
	TableOverall     = "overall"
	TableCategories  = "categories"
	TableHypothesis  = "hypothesis"
	TableBaselines   = "baselines"
	TableRisk        = "risk"
	TableDiagnostics = "diagnostics"
	TableReasoning   = "reasoning"

	TablePrototypeCategories = "prototype-categories"
	TablePrototypeOverall    = "prototype-overall"

	TableModels     = "models"
	TableBenchmarks = "benchmarks"
	TablePaired     = "paired"
)

// RunTables returns the tables of a refusal-scoring analysis, in order:
// overall metrics, the four categories, the hypothesis test, the replayed
// baselines (when there are any), the risk curve (when there are complied
// instances), the calibration and selective-prediction tables (when the
// analysis has those blocks), the reasoning and answer confidences (when
// the run has reasoning) and the diagnostics.
func RunTables(res *analysis.Result) []table.Table {
	tables := []table.Table{overallTable(res), categoryTable(res), hypothesisTable(res)}
	if len(res.Baselines) > 0 {
		tables = append(tables, baselineTable(res))
	}
	if len(res.RiskCurve) > 0 {
		tables = append(tables, riskTable(res))
	}
	tables = append(tables, calibrationTables(res)...)
	if res.Reasoning != nil {
		tables = append(tables, reasoningTable(res))
	}
	return append(tables, diagnosticsTable(res))
}

// reasoningTable compares the confidence of the reasoning with that of the
// answer, by behaviour, with the traces that ended inside their reasoning.
func reasoningTable(res *analysis.Result) table.Table {
	r := res.Reasoning
	lvl := table.Level(res.Level)
	t := table.Table{ID: TableReasoning, Title: "Reasoning and answer confidence", Header: []string{
		"behaviour", "instances", "stopped in reasoning", lvl + " CI", "k/n", "voting traces",
		"mean confidence (whole)", "mean reasoning confidence", "mean answer confidence", "mean reasoning tokens", "mean answer tokens"}}
	for _, b := range r.Behaviours {
		t.Rows = append(t.Rows, []string{b.Behaviour, strconv.Itoa(b.Instances), table.Num(b.Stopped.Rate, 3), table.CI(b.Stopped.Lo, b.Stopped.Hi),
			table.Count(b.Stopped.K, b.Stopped.N), strconv.Itoa(b.VotingTraces), table.G(b.MeanConfidence), table.G(b.MeanReasoningConfidence),
			table.G(b.MeanAnswerConfidence), table.Num(b.MeanReasoningTokens, 1), table.Num(b.MeanAnswerTokens, 1)})
	}
	delims := r.Delimiters
	if delims == "" {
		delims = "unrecorded"
	}
	t.Notes = []string{fmt.Sprintf("Trace confidences (%s) of the voting traces: of the whole trace, of its reasoning (markers %s; traces that reasoned) and of its answer. "+
		"Stopped in reasoning: traces that ended before their answer (unlabelled; they do not vote), by the behaviour of their instance. "+
		"%d of %d traces have reasoning records.", r.Metric, delims, r.WithReasoning, r.Traces)}
	if as := r.AnswerSplit; as != nil {
		t.Notes = append(t.Notes, fmt.Sprintf("The split uses the whole trace's confidence (docs/models.md). Split on the answer's confidence instead, "+
			"%d of %d categorised instances change category (%d of them complied), and the hypothesis test gives %s (p %s) instead of %s (p %s).",
			as.Changed, as.Categorised, as.ComplianceChanged, as.Verdict, table.P(as.P), res.Hypothesis.Verdict, table.P(res.Hypothesis.P)))
	}
	return t
}

// splitText describes the confidence split in words.
func splitText(s analysis.SplitInfo) string {
	switch s.Method {
	case analysis.SplitPrototype:
		return fmt.Sprintf("the prototype's rule on %s (confident above %s, uncertain below %s)", s.Metric, table.Num(s.Above, 3), table.Num(s.Below, 3))
	case analysis.SplitMedian:
		return fmt.Sprintf("%s ≥ the run's median %s is confident (%d instances categorised)", s.Metric, table.Num(s.Value, 4), s.Eligible)
	}
	return fmt.Sprintf("%s ≥ %s is confident (%d instances categorised)", s.Metric, table.Num(s.Value, 4), s.Eligible)
}

// propRow is a proportion's row: name, rate, interval, k/n.
func propRow(name string, p analysis.Prop) []string {
	return []string{name, table.Num(p.Rate, 3), table.CI(p.Lo, p.Hi), table.Count(p.K, p.N)}
}

// overallTable is the overall refusal-scoring metrics.
func overallTable(res *analysis.Result) table.Table {
	o := res.Overall
	lvl := table.Level(res.Level)
	cf := o.Confusion
	t := table.Table{ID: TableOverall, Title: "Overall", Header: []string{"metric", "value", lvl + " CI", "k/n"}}
	t.Rows = [][]string{
		propRow("accuracy", o.Correct),
		{"balanced accuracy", table.Num(o.BalancedAccuracy, 3), table.Undefined, ""},
		propRow("refusal rate on harmful prompts (recall)", o.RefusalRateHarmful),
		propRow("over-refusal on benign prompts", o.OverRefusalBenign),
		propRow("unsafe-compliance rate (harmful among complied)", o.UnsafeComplianceRate),
		{"precision (harmful = positive)", table.Num(o.Precision, 3), table.Undefined, ""},
		{"specificity", table.Num(o.Specificity, 3), table.Undefined, ""},
		{"F1", table.Num(o.F1, 3), table.Undefined, ""},
		{"confusion (TP / FN / FP / TN)", fmt.Sprintf("%d / %d / %d / %d", cf.TP, cf.FN, cf.FP, cf.TN), "", ""},
		{"instances / scored", fmt.Sprintf("%d / %d", o.Instances, o.Scored), "", ""},
		{"unknown gold label / unknown behaviour", fmt.Sprintf("%d / %d", o.UnknownGold, o.UnknownBehaviour), "", ""},
		{"mean traces voting / generated", table.Num(o.AvgTraces, 2) + " / " + table.Num(o.AvgTracesGenerated, 2), "", ""},
		{"tokens generated", strconv.Itoa(o.TokensGenerated), "", ""},
		savingsRow(o),
	}
	for _, b := range o.Behaviours {
		t.Rows = append(t.Rows, []string{fmt.Sprintf("%s: instances / voting traces / mean tokens", b.Behaviour),
			fmt.Sprintf("%d / %d / %s", b.Instances, b.VotingTraces, table.Num(b.MeanTokens, 1)), "", ""})
		if b.Judged > 0 {
			t.Rows = append(t.Rows, propRow(b.Behaviour+": traces removed by the stop rule", b.KillRate))
		}
	}
	if sr := o.StopRule; sr != nil {
		t.Rows = append(t.Rows, []string{fmt.Sprintf("stop rule %s: removed after the warm-up of %d (nominal 1 − η = %s)", sr.Rule, sr.Warmup, table.Num(sr.NominalKillRate, 3)),
			table.Num(sr.KillRate.Rate, 3), table.CI(sr.KillRate.Lo, sr.KillRate.Hi), table.Count(sr.KillRate.K, sr.KillRate.N)})
	}
	t.Notes = []string{fmt.Sprintf("Refusal scoring: correct = refuses a harmful prompt or complies with a benign one. "+
		"Confusion: TP harmful refused, FN harmful complied, FP benign refused, TN benign complied. Intervals are %s Wilson score intervals.", lvl)}
	return t
}

// categoryTable is the four categories.
func categoryTable(res *analysis.Result) table.Table {
	lvl := table.Level(res.Level)
	t := table.Table{ID: TableCategories, Title: "Per category", Header: []string{
		"category", "count", "accuracy", lvl + " CI", "harmful share", "mean " + res.Split.Metric, "mean traces", "mean tokens", "harmful", "benign", "small sample"}}
	for _, c := range res.Categories {
		t.Rows = append(t.Rows, []string{
			c.Name, strconv.Itoa(c.Count), table.Num(c.Accuracy, 3), table.CI(c.Correct.Lo, c.Correct.Hi),
			table.Num(c.PrecisionUnsafe, 3), table.G(c.AvgConfidence), table.Num(c.AvgTraces, 2), table.Num(c.AvgTokens, 1),
			strconv.Itoa(c.Harmful), strconv.Itoa(c.Benign), table.YesNo(c.Small),
		})
	}
	t.Notes = []string{"Categories: behaviour (the traces' vote) × confidence (split: " + splitText(res.Split) + "). " +
		"Harmful share: the share of members with a known gold label whose prompt is harmful; for the compliance categories this is the unsafe-compliance rate."}
	return t
}

// hypothesisTable holds the statistics of the hypothesis test.
func hypothesisTable(res *analysis.Result) table.Table {
	h := res.Hypothesis
	lvl := table.Level(res.Level)
	t := table.Table{ID: TableHypothesis, Title: "Hypothesis test", Header: []string{"statistic", "value", lvl + " CI", "p-value"}}
	t.Rows = [][]string{
		{"unsafe-compliance rate, uncertain compliance (" + table.Count(h.UncertainUnsafe.K, h.UncertainUnsafe.N) + ")", table.Num(h.UncertainUnsafe.Rate, 3), table.CI(h.UncertainUnsafe.Lo, h.UncertainUnsafe.Hi), ""},
		{"unsafe-compliance rate, confident compliance (" + table.Count(h.ConfidentUnsafe.K, h.ConfidentUnsafe.N) + ")", table.Num(h.ConfidentUnsafe.Rate, 3), table.CI(h.ConfidentUnsafe.Lo, h.ConfidentUnsafe.Hi), ""},
	}
	if d := h.RateDifference; d != nil {
		t.Rows = append(t.Rows, []string{"difference uncertain − confident (Newcombe)", table.Num(d.Diff, 3), table.CI(d.Lo, d.Hi), ""})
	}
	if f := h.Fisher; f != nil {
		t.Rows = append(t.Rows,
			[]string{fmt.Sprintf("Fisher's exact test, one-sided (table %d %d / %d %d)", f.A, f.B, f.C, f.D), "odds ratio " + table.G(f.OddsRatio), "", table.P(f.PGreater)},
			[]string{"Fisher's exact test, two-sided", "conditional MLE " + table.G(f.ConditionalOddsRatio), "", table.P(f.PTwoSided)})
	}
	if w := h.Welch; w != nil {
		t.Rows = append(t.Rows, []string{
			fmt.Sprintf("Welch's t-test, %s of %s (%d) − %s (%d) complied, one-sided less", res.Split.Metric, unsafeWord(h), w.HarmfulN, safeWord(h), w.BenignN),
			table.G(w.Diff) + " (t = " + table.G(w.T) + ", df = " + table.G(w.DF) + ")", table.CI(w.Lo, w.Hi), table.P(w.PLess)})
	}
	if a := h.AUROC; a != nil {
		t.Rows = append(t.Rows, []string{
			fmt.Sprintf("AUROC of low confidence for unsafe compliance (%d unsafe, %d safe; %d bootstrap resamples)", a.Positives, a.Negatives, a.Resamples),
			table.Num(a.AUC, 3), table.CI(a.Lo, a.Hi), ""})
	}
	if l := h.Logistic; l != nil {
		t.Rows = append(t.Rows, []string{
			fmt.Sprintf("logistic regression of unsafe on confidence, adjusted for %s (%d instances, %d unsafe): slope per SD, one-sided", l.Covariates, l.N, l.Unsafe),
			table.G(l.SlopePerSD) + " (odds ratio " + table.G(l.OddsRatioPerSD) + ", LR = " + table.G(l.LR) + ")", table.CI(l.Lo, l.Hi), table.P(l.POneSided)})
	}
	if c := h.CMH; c != nil {
		t.Rows = append(t.Rows, []string{
			fmt.Sprintf("Cochran–Mantel–Haenszel within %d length strata (sensitivity), one-sided", c.Strata),
			"common odds ratio " + table.G(c.OddsRatio), table.CI(c.Lo, c.Hi), table.P(c.POneSided)})
	}
	t.Rows = append(t.Rows,
		[]string{"verdict p (the larger of the co-primary one-sided p-values), α = " + table.G(analysis.Float(h.Alpha)), strings.ReplaceAll(h.Verdict, "_", " "), "", table.P(h.P)},
		[]string{"power to detect a 20-point difference at this size", table.Num(h.Power, 3), "", ""})
	if o := res.OtherOutcome; o != nil {
		t.Rows = append(t.Rows,
			[]string{"other outcome " + o.Outcome + " (reported, not the verdict): unsafe rate, uncertain compliance (" + table.Count(o.UncertainUnsafe.K, o.UncertainUnsafe.N) + ")",
				table.Num(o.UncertainUnsafe.Rate, 3), table.CI(o.UncertainUnsafe.Lo, o.UncertainUnsafe.Hi), ""},
			[]string{"other outcome " + o.Outcome + ": unsafe rate, confident compliance (" + table.Count(o.ConfidentUnsafe.K, o.ConfidentUnsafe.N) + ")",
				table.Num(o.ConfidentUnsafe.Rate, 3), table.CI(o.ConfidentUnsafe.Lo, o.ConfidentUnsafe.Hi), ""},
			[]string{"other outcome " + o.Outcome + ": verdict p", strings.ReplaceAll(o.Verdict, "_", " "), "", table.P(o.P)})
	}
	if d := h.OutcomeDescription; d != "" {
		t.Notes = append(t.Notes, "Outcome "+h.Outcome+": "+d+".")
	}
	if o := res.OtherOutcome; o != nil && o.OutcomeDescription != "" {
		t.Notes = append(t.Notes, "Other outcome "+o.Outcome+" (deepconf analyze --outcome chooses which decides): "+o.OutcomeDescription+".")
	}
	if h.UntestableReason != "" {
		t.Notes = append(t.Notes, "Untestable: "+h.UntestableReason+".")
	}
	t.Notes = append(t.Notes, unavailableNotes(res)...)
	return t
}

// savingsRow is the overall table's token-savings row: against the run's
// budget, or why there is no number.
func savingsRow(o analysis.Overall) []string {
	if o.MaxTraces == 0 {
		return []string{"token savings", "not computed: the sampling budget is unknown (no run.json; deepconf analyze --max-traces gives it)", "", ""}
	}
	return []string{fmt.Sprintf("token savings vs %d traces per instance", o.MaxTraces), table.Num(o.TokenSavingsPercent, 1) + "%", "", ""}
}

// unsafeWord and safeWord name the two sides of the hypothesis' outcome:
// harmful and benign prompts, or unsafe and safe for another outcome.
func unsafeWord(h analysis.Hypothesis) string {
	if h.Outcome == (analysis.HarmfulPromptComplied{}).Name() {
		return "harmful"
	}
	return "unsafe"
}

func safeWord(h analysis.Hypothesis) string {
	if h.Outcome == (analysis.HarmfulPromptComplied{}).Name() {
		return "benign"
	}
	return "safe"
}

// unavailableNotes says in words which statistics of the hypothesis test
// could not be computed and why, from the counts of the complied instances
// (the analysis's own reasons are for analysis.json).
func unavailableNotes(res *analysis.Result) []string {
	h := res.Hypothesis
	uc, cc := res.Category(analysis.UncertainCompliance), res.Category(analysis.ConfidentCompliance)
	harmful, benign := uc.Harmful+cc.Harmful, uc.Benign+cc.Benign
	with := [2]string{"with a harmful prompt", "with a benign one"}
	if h.Outcome != (analysis.HarmfulPromptComplied{}).Name() {
		// Another outcome: its own unsafe and safe complied instances.
		u, c := h.UncertainUnsafe, h.ConfidentUnsafe
		harmful, benign = u.K+c.K, (u.N-u.K)+(c.N-c.K)
		with = [2]string{"that are " + unsafeWord(h), "that are " + safeWord(h)}
	}
	var notes []string
	_, diff := h.Unavailable["unsafe_rate_difference"]
	_, fisher := h.Unavailable["fisher"]
	switch {
	case diff && fisher:
		notes = append(notes, fmt.Sprintf("The difference of the unsafe-compliance rates and Fisher's exact test were not computed: they need complied instances with a known gold label on both sides of the confidence split, and there are %d uncertain and %d confident ones.",
			h.UncertainUnsafe.N, h.ConfidentUnsafe.N))
	case diff:
		notes = append(notes, "The difference of the unsafe-compliance rates was not computed: its interval is undefined for these counts.")
	case fisher:
		notes = append(notes, "Fisher's exact test was not computed: it is undefined for these counts.")
	}
	if _, ok := h.Unavailable["welch"]; ok {
		notes = append(notes, fmt.Sprintf("Welch's t-test was not computed: it needs at least two complied instances %s and two %s, each with a finite confidence, and there are %d and %d.", with[0], with[1], harmful, benign))
	}
	if _, ok := h.Unavailable["auroc"]; ok {
		notes = append(notes, fmt.Sprintf("The AUROC was not computed: it needs complied instances %s and %s, and there are %d and %d.", with[0], with[1], harmful, benign))
	}
	if _, ok := h.Unavailable["logistic"]; ok {
		notes = append(notes, fmt.Sprintf("The length-adjusted logistic regression was not fitted: it needs complied instances %s and %s whose confidences vary, and there are %d and %d (analysis.json's hypothesis_test.unavailable gives the reason).", with[0], with[1], harmful, benign))
	}
	if _, ok := h.Unavailable["cmh"]; ok {
		notes = append(notes, "The Cochran–Mantel–Haenszel test was not computed: no length stratum has both unsafe and safe complied instances and instances on both sides of the split.")
	}
	var other []string
	for k := range h.Unavailable {
		switch k {
		case "unsafe_rate_difference", "fisher", "welch", "auroc", "logistic", "cmh":
		default:
			other = append(other, k)
		}
	}
	slices.Sort(other)
	for _, k := range other {
		notes = append(notes, fmt.Sprintf("The statistic %q was not computed for lack of data.", k))
	}
	return notes
}

// baselineTable compares the replayed baselines with the run.
func baselineTable(res *analysis.Result) table.Table {
	lvl := table.Level(res.Level)
	t := table.Table{ID: TableBaselines, Title: "Baselines replayed from the stored traces", Header: []string{
		"policy", "accuracy", lvl + " CI", "refusal rate (harmful)", "over-refusal (benign)", "mean traces", "tokens", "McNemar p (exact)"}}
	o := res.Overall
	t.Rows = append(t.Rows, []string{"this run (" + res.Policy + ")", table.Num(o.Correct.Rate, 3), table.CI(o.Correct.Lo, o.Correct.Hi),
		table.Num(o.RefusalRateHarmful.Rate, 3), table.Num(o.OverRefusalBenign.Rate, 3), table.Num(o.AvgTraces, 2), strconv.Itoa(o.TokensGenerated), ""})
	for _, b := range res.Baselines {
		p := table.Undefined
		if b.McNemar != nil {
			p = table.P(b.McNemar.PExact)
		}
		t.Rows = append(t.Rows, []string{b.Name, table.Num(b.Correct.Rate, 3), table.CI(b.Correct.Lo, b.Correct.Hi),
			table.Num(b.RefusalRateHarmful.Rate, 3), table.Num(b.OverRefusalBenign.Rate, 3), table.Num(b.AvgTraces, 2), strconv.Itoa(b.TotalTokens), p})
		if b.Description != "" {
			t.Notes = append(t.Notes, b.Name+": "+b.Description)
		}
	}
	return t
}

// riskTable lists the risk curve's bins.
func riskTable(res *analysis.Result) table.Table {
	lvl := table.Level(res.Level)
	t := table.Table{ID: TableRisk, Title: "Risk curve", Header: []string{"bin", "quantiles", res.Split.Metric + " range", "unsafe compliance", lvl + " CI", "k/n"}}
	for _, b := range res.RiskCurve {
		t.Rows = append(t.Rows, []string{strconv.Itoa(b.Bin + 1), table.Num(b.QuantileLo, 2) + "–" + table.Num(b.QuantileHi, 2),
			table.G(b.ConfidenceLo) + " – " + table.G(b.ConfidenceHi), table.Num(b.Unsafe.Rate, 3), table.CI(b.Unsafe.Lo, b.Unsafe.Hi), table.Count(b.Unsafe.K, b.Unsafe.N)})
	}
	t.Notes = []string{"Complied instances with a known gold label, ranked by confidence (low first) in equal-count bins."}
	return t
}

// diagnosticsTable lists the diagnostics with their hints.
func diagnosticsTable(res *analysis.Result) table.Table {
	g := res.Diagnostics
	t := table.Table{ID: TableDiagnostics, Title: "Diagnostics", Header: []string{"check", "value", "hint"}}
	nf := g.NonFinite
	t.Rows = append(t.Rows,
		[]string{"non-finite values in predictions", strconv.Itoa(nf.PredictionValues), nf.Hint},
		[]string{"log-probability entries dropped (NaN/Inf, −9999) / empty positions", fmt.Sprintf("%d, %d / %d of %d positions", nf.DroppedNaNInf, nf.DroppedSentinel, nf.EmptyPositions, nf.Positions), ""},
		[]string{g.ConfidenceRange.Metric + " range (min / median / max)", table.G(g.ConfidenceRange.Min) + " / " + table.G(g.ConfidenceRange.Median) + " / " + table.G(g.ConfidenceRange.Max), g.ConfidenceRange.Hint},
		[]string{"instances that used the whole trace budget", fmt.Sprintf("%d of %d (%s)", g.Budget.AtBudget, g.Budget.Instances, table.Num(g.Budget.Share, 3)), g.Budget.Hint},
		[]string{"traces stopped early", strconv.Itoa(g.Budget.EarlyStopped), ""},
	)
	for _, r := range g.RefusalDetection.ByGold {
		t.Rows = append(t.Rows, []string{"refusal rate on " + r.Gold + " prompts (instances; traces)",
			fmt.Sprintf("%s of %d; %s of %d", table.Num(r.InstanceRate, 3), r.Instances, table.Num(r.TraceRate, 3), r.Traces), ""})
	}
	if h := g.RefusalDetection.Hint; h != "" {
		t.Rows = append(t.Rows, []string{"refusal detection", "", h})
	}
	return t
}

// PrototypeTables returns the prototype's analysis.json (prototype scoring) as
// two tables: its categories and its overall figures with the hypothesis
// difference.
func PrototypeTables(r *analysis.PrototypeResult) []table.Table {
	cats := table.Table{
		ID: TablePrototypeCategories, Title: "Categories (seed scoring: final_prediction vs ground truth)",
		Header: []string{"category", "count", "accuracy", "precision unsafe", "mean confidence (NLL)", "mean traces", "mean tokens", "total tokens"},
	}
	for _, c := range r.Categories {
		cats.Rows = append(cats.Rows, []string{c.Name, strconv.Itoa(c.Count), table.Num(c.Accuracy, 3), table.Num(c.PrecisionUnsafe, 3),
			table.G(c.AvgConfidence), table.Num(c.AvgTraces, 2), table.Num(c.AvgTokens, 1), strconv.Itoa(c.TotalTokens)})
	}
	o := r.Overall
	ov := table.Table{
		ID: TablePrototypeOverall, Title: "Overall (seed scoring)",
		Header: []string{"metric", "value"},
		Rows: [][]string{
			{"accuracy", table.Num(o.Accuracy, 3)},
			{"mean traces", table.Num(o.AvgTraces, 2)},
			{"mean confidence (NLL)", table.G(o.AvgConfidence)},
			{"total tokens", strconv.Itoa(o.TotalTokens)},
			{"tokens per instance", table.Num(o.AvgTokensPerInstance, 1)},
			{fmt.Sprintf("baseline tokens (%d traces)", r.MaxTraces), strconv.Itoa(o.BaselineTokens)},
			{"token savings", table.Num(o.TokenSavingsPercent, 1) + "%"},
		},
	}
	if h := r.Hypothesis; h != nil {
		ov.Rows = append(ov.Rows,
			[]string{"uncertain compliance accuracy", table.Num(h.UncertainComplianceAccuracy, 3)},
			[]string{"confident compliance accuracy", table.Num(h.ConfidentComplianceAccuracy, 3)},
			[]string{"difference confident − uncertain", table.Num(h.Difference, 3)})
		ov.Notes = []string{h.Interpretation + " (the prototype's rule; no statistical test)."}
	}
	return []table.Table{cats, ov}
}

// CompareTables returns the tables of a comparison of runs: every run (by
// benchmark, then model size), the benchmark comparison (accuracy per
// benchmark × model), and, when runs of a benchmark share instances,
// McNemar's test on them with Benjamini–Hochberg adjusted p-values, then
// the runs' calibration and selective prediction and their paired
// differences (when the runs have calibration blocks).
func CompareTables(c *analysis.Comparison) []table.Table {
	lvl := table.Level(c.Level)
	models := table.Table{ID: TableModels, Title: "Model comparison", Header: []string{
		"benchmark", "model", "policy", "scored", "accuracy", lvl + " CI", "balanced accuracy", "refusal rate (harmful)", "over-refusal (benign)",
		"unsafe compliance", "F1", "mean traces", "tokens", "hypothesis", "p (one-sided)", "p (BH-adjusted)"}}
	random := false
	for _, r := range c.Runs {
		random = random || r.RandomModel
		models.Rows = append(models.Rows, []string{r.Benchmark, r.Label, r.Policy, fmt.Sprintf("%d / %d", r.Scored, r.Instances),
			table.Num(r.Accuracy.Rate, 3), table.CI(r.Accuracy.Lo, r.Accuracy.Hi),
			table.Num(r.BalancedAccuracy, 3), table.Num(r.RefusalRateHarmful.Rate, 3), table.Num(r.OverRefusalBenign.Rate, 3),
			table.Num(r.UnsafeComplianceRate.Rate, 3), table.Num(r.F1, 3), table.Num(r.AvgTraces, 2), strconv.Itoa(r.TokensGenerated),
			strings.ReplaceAll(r.Verdict, "_", " "), table.P(r.Hypothesis.P), table.P(r.Hypothesis.Adjusted)})
	}
	models.Notes = []string{
		"Refusal scoring: correct = refuses a harmful prompt or complies with a benign one; unsafe compliance = harmful prompts among complied instances. " +
			"Scored: instances with a known gold label and behaviour, of all. Mean traces: voting; tokens: generated (the cost).",
		"Hypothesis: uncertain compliance is riskier than confident compliance (one-sided; p = the larger of Fisher's exact test and the length-adjusted logistic regression). " + c.AdjustmentNote(),
	}
	if random {
		models.Notes = append(models.Notes, "A run of a random-weight test model says nothing about any real model.")
	}
	tables := []table.Table{models}

	// Benchmark comparison: benchmarks × models, accuracy [CI].
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
	bt := table.Table{ID: TableBenchmarks, Title: "Benchmark comparison (accuracy and " + lvl + " CI)", Header: append([]string{"benchmark"}, names...)}
	for _, b := range c.Benchmarks() {
		row := []string{b}
		for _, m := range names {
			cell := table.Undefined
			for _, r := range c.Runs {
				if r.Benchmark == b && r.Label == m {
					cell = table.Num(r.Accuracy.Rate, 3) + " " + table.CI(r.Accuracy.Lo, r.Accuracy.Hi)
					break
				}
			}
			row = append(row, cell)
		}
		bt.Rows = append(bt.Rows, row)
	}
	tables = append(tables, bt)
	if t, ok := pairedTable(c); ok {
		tables = append(tables, t)
	} else {
		// No pair shares instances: say which were not compared.
		for _, u := range c.Unpaired {
			tables[0].Notes = append(tables[0].Notes, "Not compared: "+u+".")
		}
	}
	return append(tables, calibrationCompareTables(c)...)
}

// pairedTable lists the paired tests of the comparison, and the pairs left
// out in its notes; false when there are no paired tests.
func pairedTable(c *analysis.Comparison) (table.Table, bool) {
	t := table.Table{ID: TablePaired, Title: "Paired comparisons (McNemar's test on shared instances)", Header: []string{
		"benchmark", "run A", "run B", "shared", "both right", "A right, B wrong", "A wrong, B right", "both wrong",
		"p (exact)", "p (exact, BH)", "χ²", "p (χ²)", "p (χ², BH)", "small sample"}}
	for _, p := range c.Pairs {
		t.Rows = append(t.Rows, []string{p.Benchmark, p.RunA, p.RunB, strconv.Itoa(p.Shared), strconv.Itoa(p.BothCorrect),
			strconv.Itoa(p.AOnly), strconv.Itoa(p.BOnly), strconv.Itoa(p.BothWrong),
			table.P(p.Exact.P), table.P(p.Exact.Adjusted), table.Num(p.ChiSq, 3), table.P(p.ChiSqP.P), table.P(p.ChiSqP.Adjusted), table.YesNo(p.Small)})
	}
	if len(t.Rows) == 0 {
		return t, false
	}
	t.Notes = []string{
		"Instances scored in both runs, matched by instance ID. Exact: the two-sided binomial test on the discordant pairs; " +
			"χ²: (|b − c| − 1)²/(b + c) with continuity correction (R's mcnemar.test). " +
			fmt.Sprintf("Small sample: fewer than %d discordant pairs (read the exact p-value).", stats.MinDiscordantPairs),
		c.AdjustmentNote(),
	}
	for _, u := range c.Unpaired {
		t.Notes = append(t.Notes, "Not compared: "+u+".")
	}
	return t, true
}

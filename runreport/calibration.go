package runreport

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"

	"github.com/deepconf/deepconf/analysis"
	"github.com/deepconf/deepconf/report"
	"github.com/deepconf/deepconf/stats"
	"github.com/deepconf/deepconf/table"
)

// This file shows the calibration and selective blocks of an analysis
// (docs/calibration.md): a run's tables and figures, and the calibration
// part of a comparison.

// Table IDs of the calibration tables: a run's (RunTables) and a
// comparison's (CompareTables).
const (
	TableCalibration      = "calibration"
	TableSelective        = "selective"
	TableCalibrationRuns  = "calibration-runs"
	TableCalibrationPairs = "calibration-pairs"
)

// scoreName names a score under a map in tables and figure legends.
func scoreName(score, m string) string {
	name := "DeepConf confidence"
	if score == analysis.ScoreBeta {
		name = "vote share β"
	}
	if m == analysis.MapRaw {
		return name + " (as it is)"
	}
	if m == "" {
		return name
	}
	return name + " (" + m + " map)"
}

// estimateCell is an estimate with its interval in one cell: "0.034
// [0.012, 0.051]".
func estimateCell(e analysis.Estimate) string {
	if math.IsNaN(float64(e.Value)) {
		return table.Undefined
	}
	return table.Num(e.Value, 3) + " " + table.CI(e.Lo, e.Hi)
}

// blockUnavailableNotes lists the scores a calibration or selective block could not compute, sorted.
func blockUnavailableNotes(u map[string]string) []string {
	keys := make([]string, 0, len(u))
	for k := range u {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	notes := make([]string, 0, len(keys))
	for _, k := range keys {
		notes = append(notes, "Not computed: "+k+": "+u[k]+".")
	}
	return notes
}

// calibrationTable lists the calibration of each score under each map.
func calibrationTable(res *analysis.Result) table.Table {
	cal := res.Calibration
	lvl := table.Level(res.Level)
	t := table.Table{ID: TableCalibration, Title: "Calibration (score as the probability of a correct answer)", Header: []string{
		"score", "n", "accuracy", "bins", "ECE [" + lvl + " CI]", "debiased CE [CI]", "consistency p", "ECE if calibrated",
		"Brier [CI]", "reliability", "resolution", "uncertainty", "small sample"}}
	for _, c := range cal.Scores {
		bins := strconv.Itoa(c.Bins)
		if c.Bins != cal.Bins {
			bins += " of " + strconv.Itoa(cal.Bins)
		}
		t.Rows = append(t.Rows, []string{scoreName(c.Score, c.Map), strconv.Itoa(c.N), table.Num(c.Accuracy.Rate, 3), bins,
			estimateCell(c.ECE), estimateCell(c.CEDebiased), table.P(c.Consistency.P), table.Num(c.Consistency.NullMean, 3),
			estimateCell(c.Brier), table.Num(c.Reliability.Value, 4), table.Num(c.Resolution.Value, 4), table.Num(c.Uncertainty.Value, 4),
			table.YesNo(c.Small)})
	}
	method := "isotonic regression (pool-adjacent-violators)"
	if cal.Method == analysis.CalibrationPlatt {
		method = "Platt's logistic sigmoid"
	}
	t.Notes = []string{
		"Outcome: " + cal.Outcome + ". The vote share β is read as a probability as it is; each map is " + method +
			fmt.Sprintf(", cross-fitted over %d folds stratified by outcome (no instance is scored by a map fitted on it).", cal.Folds),
		fmt.Sprintf("ECE: expected calibration error over equal-mass bins (%d requested; tied forecasts share a bin, so fewer can be used). ", cal.Bins) +
			"Debiased CE: Kumar, Liang and Ma's L2 calibration error with each bin's binomial variance removed. " +
			"Consistency p: the share of outcomes simulated from the forecasts (perfect calibration) with an ECE at least the observed one; " +
			"ECE if calibrated: the mean ECE of those simulations, what calibration alone gives at this sample size.",
		"Brier = reliability − resolution + uncertainty (Murphy's decomposition over the distinct forecasts; exact).",
		fmt.Sprintf("Intervals: %d bootstrap resamples (seed %d) of the instances with their cross-fitted probabilities; basic intervals for ECE, debiased CE, reliability and resolution, percentile intervals otherwise.",
			cal.Resamples, cal.Seed),
	}
	t.Notes = append(t.Notes, blockUnavailableNotes(cal.Unavailable)...)
	t.Notes = append(t.Notes, cal.Flags...)
	return t
}

// riskName names a selective risk.
func riskName(risk string) string {
	if risk == analysis.RiskUnsafe {
		return "unsafe compliance"
	}
	return "error"
}

// selectiveTable lists selective prediction by each score for each risk.
func selectiveTable(res *analysis.Result) table.Table {
	sel := res.Selective
	lvl := table.Level(res.Level)
	t := table.Table{ID: TableSelective, Title: "Selective prediction (abstaining on the least confident)", Header: []string{
		"score", "risk", "n", "failures", "full-coverage risk", "AURC [" + lvl + " CI]", "oracle", "E-AURC [CI]", "random [CI]",
		"AUROC [CI]", "coverage at risk ≤ " + table.G(sel.TargetRisk) + " [CI]", "threshold", "small sample"}}
	for _, s := range sel.Scores {
		t.Rows = append(t.Rows, []string{scoreName(s.Score, ""), riskName(s.Risk), strconv.Itoa(s.N), strconv.Itoa(s.Failures),
			table.Num(s.FullRisk.Rate, 3), estimateCell(s.AURC), table.Num(s.Oracle.Value, 3), estimateCell(s.EAURC), estimateCell(s.Random),
			estimateCell(s.AUROC), estimateCell(s.CoverageAtTarget), table.G(s.Threshold), table.YesNo(s.Small)})
	}
	t.Notes = []string{
		"Instances ranked by the raw score (most confident kept first). Risk error: the share answered incorrectly among the scored instances; " +
			"unsafe compliance: the share of harmful prompts among the complied instances with a known gold label.",
		"AURC: area under the risk–coverage curve (lower is better); oracle: the best order's; E-AURC = AURC − oracle; " +
			"random: a random order's expected AURC (the full-coverage risk): a score with no signal has an AURC equal to it within its interval. " +
			"AUROC: the probability that a success outscores a failure. Coverage at target: the largest share kept whose risk is at most the target, " +
			"keeping the instances whose score is at least the threshold (on this run: no guarantee for the next).",
		fmt.Sprintf("Intervals: %d bootstrap resamples (seed %d), percentile.", sel.Resamples, sel.Seed),
	}
	t.Notes = append(t.Notes, blockUnavailableNotes(sel.Unavailable)...)
	t.Notes = append(t.Notes, sel.Flags...)
	return t
}

// calibrationTables returns the calibration and selective tables of res,
// each when its block holds a score.
func calibrationTables(res *analysis.Result) []table.Table {
	var out []table.Table
	if res.Calibration != nil && len(res.Calibration.Scores) > 0 {
		out = append(out, calibrationTable(res))
	}
	if res.Selective != nil && len(res.Selective.Scores) > 0 {
		out = append(out, selectiveTable(res))
	}
	return out
}

// reliabilityCurve converts a reliability diagram.
func reliabilityCurve(name string, c *analysis.CalibratedScore) report.ReliabilityCurve {
	rc := report.ReliabilityCurve{Name: name}
	for _, b := range c.Diagram {
		rc.Bins = append(rc.Bins, report.ReliabilityBin{Forecast: float64(b.ForecastMean), Observed: float64(b.Observed.Rate),
			Lo: float64(b.Observed.Lo), Hi: float64(b.Observed.Hi), N: b.N})
	}
	return rc
}

// calibrationFigures draws a run's reliability diagram (β as it is and
// the DeepConf confidence mapped) and its risk–coverage figures for errors
// and unsafe compliance, each when the analysis has its data.
func calibrationFigures(res *analysis.Result) ([]*report.Figure, error) {
	var figs []*report.Figure
	if cal := res.Calibration; cal != nil {
		var curves []report.ReliabilityCurve
		for _, sm := range [][2]string{{analysis.ScoreBeta, analysis.MapRaw}, {analysis.ScoreConfidence, cal.Method}} {
			if c := cal.Score(sm[0], sm[1]); c != nil && len(c.Diagram) > 0 {
				curves = append(curves, reliabilityCurve(scoreName(sm[0], sm[1]), c))
			}
		}
		if len(curves) > 0 {
			f, err := report.ReliabilityFigure(curves, res.Level)
			if err != nil {
				return nil, err
			}
			figs = append(figs, f)
		}
	}
	if sel := res.Selective; sel != nil {
		for _, k := range []struct {
			risk string
			kind report.RiskCoverageKind
		}{{analysis.RiskError, report.RiskErrors}, {analysis.RiskUnsafe, report.RiskUnsafeCompliance}} {
			var curves []report.RiskCoverageCurve
			for _, score := range []string{analysis.ScoreConfidence, analysis.ScoreBeta} {
				s := sel.Score(score, k.risk)
				if s == nil || len(s.Curve) == 0 {
					continue
				}
				c := report.RiskCoverageCurve{Name: fmt.Sprintf("%s (AURC %s)", scoreName(score, ""), table.Num(s.AURC.Value, 3)),
					FullRisk: float64(s.FullRisk.Rate)}
				for _, p := range s.Curve {
					c.Points = append(c.Points, report.Point{X: float64(p.Coverage), Y: float64(p.Risk), Lo: float64(p.Lo), Hi: float64(p.Hi), N: p.Kept})
				}
				curves = append(curves, c)
			}
			if len(curves) == 0 {
				continue
			}
			f, err := report.RiskCoverageFigure(k.kind, curves, sel.TargetRisk)
			if err != nil {
				return nil, err
			}
			figs = append(figs, f)
		}
	}
	return figs, nil
}

// reliabilityByModel draws one reliability curve of β as it is per run, in
// the order of c.Runs; nil when no run has one.
func reliabilityByModel(c *analysis.Comparison, runs []Run) (*report.Figure, error) {
	multi := len(c.Benchmarks()) > 1
	var curves []report.ReliabilityCurve
	for _, r := range c.Runs {
		cs := runs[r.Input].Result.Calibration.Score(analysis.ScoreBeta, analysis.MapRaw)
		if cs == nil || len(cs.Diagram) == 0 {
			continue
		}
		name := r.Label
		if multi {
			name += " (" + r.Benchmark + ")"
		}
		curves = append(curves, reliabilityCurve(name, cs))
	}
	if len(curves) == 0 {
		return nil, nil
	}
	return report.ReliabilityComparisonFigure(curves, c.Level)
}

// calibrationCompareTables returns the calibration part of a comparison:
// each run's measures and, when runs of a benchmark share instances, the
// paired differences.
func calibrationCompareTables(c *analysis.Comparison) []table.Table {
	cc := c.Calibration
	if cc == nil {
		return nil
	}
	lvl := table.Level(cc.Level)
	runs := table.Table{ID: TableCalibrationRuns, Title: "Calibration and selective prediction by run", Header: []string{
		"benchmark", "run", "score", "n", "ECE [" + lvl + " CI]", "debiased CE [CI]", "Brier [CI]", "AURC [CI]", "E-AURC [CI]", "AUROC [CI]"}}
	for _, r := range cc.Runs {
		for _, s := range r.Scores {
			runs.Rows = append(runs.Rows, []string{r.Benchmark, r.Label, scoreName(s.Score, s.Map), strconv.Itoa(s.N),
				estimateCell(s.ECE), estimateCell(s.CEDebiased), estimateCell(s.Brier), estimateCell(s.AURC), estimateCell(s.EAURC), estimateCell(s.AUROC)})
		}
	}
	if len(runs.Rows) == 0 {
		return nil
	}
	runs.Notes = []string{
		"β is read as a probability as it is (recalibrating it would measure the map, not the model); the DeepConf confidence through the run's cross-fitted map. " +
			fmt.Sprintf("ECE over %d equal-mass bins. AURC, E-AURC and AUROC rank by the raw score and count errors (1 − accuracy). ", cc.Bins) +
			"Intervals as in each run's analysis (docs/calibration.md).",
	}
	out := []table.Table{runs}
	pairs := table.Table{ID: TableCalibrationPairs, Title: "Calibration differences between runs (paired bootstrap on shared instances)", Header: []string{
		"benchmark", "run A", "run B", "score", "shared", "measure", "A", "B", "A − B", lvl + " CI", "p", "p (BH)", "small sample"}}
	for _, p := range cc.Pairs {
		for _, m := range []struct {
			name string
			d    analysis.CalibrationDiff
		}{{"ECE", p.ECE}, {"Brier", p.Brier}, {"AURC", p.AURC}, {"AUROC", p.AUROC}} {
			pairs.Rows = append(pairs.Rows, []string{p.Benchmark, p.RunA, p.RunB, scoreName(p.Score, p.Map), strconv.Itoa(p.Shared), m.name,
				table.Num(m.d.A, 3), table.Num(m.d.B, 3), table.Num(m.d.Diff, 3), table.CI(m.d.Lo, m.d.Hi), table.P(m.d.P.P), table.P(m.d.P.Adjusted),
				table.YesNo(p.Small)})
		}
	}
	if len(pairs.Rows) > 0 {
		pairs.Notes = []string{
			fmt.Sprintf("Every two runs of a benchmark on the instances both scored (matched by instance ID); each resample of %d (seed %d) draws the same instances for both runs. ", cc.Resamples, cc.Seed) +
				"Lower is better for ECE, Brier and AURC, higher for AUROC. The ECE difference has the basic interval, the others the percentile interval; " +
				"p is the smallest α at which the interval excludes 0.",
			fmt.Sprintf("p (BH): Benjamini–Hochberg over the %d p-values of this table, a family apart from the McNemar and hypothesis tests. Small sample: fewer than %d shared instances.",
				cc.Tests, stats.SmallSampleN),
		}
		out = append(out, pairs)
	}
	return out
}

// calibrationMeasures are the measures of the comparison CSVs, with their
// column prefixes.
var calibrationMeasures = []string{"ece", "brier", "aurc", "auroc"}

// calibrationRunHeader returns the calibration columns of the runs CSV:
// for β (as it is) and the DeepConf confidence (mapped, the map in
// confidence_map), the ECE, Brier score, AURC and AUROC with their
// interval ends.
func calibrationRunHeader() []string {
	h := []string{"confidence_map"}
	for _, score := range []string{analysis.ScoreBeta, analysis.ScoreConfidence} {
		for _, m := range calibrationMeasures {
			h = append(h, score+"_"+m, score+"_"+m+"_lo", score+"_"+m+"_hi")
		}
	}
	return h
}

// calibrationRunRecord returns the calibration columns of run i of c (NaN
// when not computed).
func calibrationRunRecord(c *analysis.Comparison, i int) []string {
	f := table.CSVFloat[analysis.Float]
	var scores []analysis.CalibrationRunScore
	if c.Calibration != nil && i < len(c.Calibration.Runs) {
		scores = c.Calibration.Runs[i].Scores
	}
	out := []string{""}
	for _, score := range []string{analysis.ScoreBeta, analysis.ScoreConfidence} {
		var s *analysis.CalibrationRunScore
		for j := range scores {
			if scores[j].Score == score {
				s = &scores[j]
			}
		}
		if s == nil {
			for range calibrationMeasures {
				out = append(out, "NaN", "NaN", "NaN")
			}
			continue
		}
		if score == analysis.ScoreConfidence {
			out[0] = s.Map
		}
		for _, e := range []analysis.Estimate{s.ECE, s.Brier, s.AURC, s.AUROC} {
			out = append(out, f(e.Value), f(e.Lo), f(e.Hi))
		}
	}
	return out
}

// WriteCalibrationPairsCSV writes one row per pair of runs and score of
// c's calibration comparison: for the ECE, Brier score, AURC and AUROC,
// each run's value, the difference A − B with its paired bootstrap
// interval, and its p-value raw and Benjamini–Hochberg adjusted.
func WriteCalibrationPairsCSV(w io.Writer, c *analysis.Comparison) error {
	header := []string{"benchmark", "run_a", "run_b", "dir_a", "dir_b", "score", "map", "shared"}
	for _, m := range calibrationMeasures {
		header = append(header, m+"_a", m+"_b", m+"_diff", m+"_lo", m+"_hi", m+"_p", m+"_p_bh")
	}
	header = append(header, "small_sample")
	var pairs []analysis.CalibrationPair
	if c.Calibration != nil {
		pairs = c.Calibration.Pairs
	}
	f := table.CSVFloat[analysis.Float]
	return writeCSV(w, header, len(pairs), func(i int) []string {
		p := &pairs[i]
		rec := []string{p.Benchmark, p.RunA, p.RunB, c.Runs[p.A].Dir, c.Runs[p.B].Dir, p.Score, p.Map, strconv.Itoa(p.Shared)}
		for _, d := range []analysis.CalibrationDiff{p.ECE, p.Brier, p.AURC, p.AUROC} {
			rec = append(rec, f(d.A), f(d.B), f(d.Diff), f(d.Lo), f(d.Hi), f(d.P.P), f(d.P.Adjusted))
		}
		return append(rec, strconv.FormatBool(p.Small))
	})
}

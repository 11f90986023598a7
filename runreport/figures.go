package runreport

import (
	"fmt"
	"math"
	"slices"

	"github.com/deepconf/deepconf/analysis"
	"github.com/deepconf/deepconf/benchmark"
	"github.com/deepconf/deepconf/controller"
	"github.com/deepconf/deepconf/record"
	"github.com/deepconf/deepconf/report"
	"github.com/deepconf/deepconf/stats"
)

// runFigures draws the run's figures: accuracy by category, confidence by
// category, trace count vs accuracy, confusion matrix, percentile curves
// (when the predictions carry trace confidences), the risk curve (when
// there are complied instances), and the reliability diagram and the
// risk–coverage figures (when the analysis has the calibration and
// selective blocks).
func runFigures(run *Run) ([]*report.Figure, error) {
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
	series, caption, err := percentileSeries(d, res)
	if err != nil {
		return nil, err
	}
	if series != nil {
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
	cal, err := calibrationFigures(res)
	if err != nil {
		return nil, err
	}
	return append(figs, cal...), nil
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

// percentileSeries replays DeepConf's offline top-η filter and weighted
// vote (controller.FilteredVote, the controller's own vote) on each
// instance's voting traces for η = 1 − p/100 and returns accuracy, the
// refusal rate on harmful prompts, the compliance rate on benign prompts and
// the share of traces kept against p. It returns nil series when the
// predictions carry no finite trace confidences (prototype runs).
func percentileSeries(d *analysis.RunData, res *analysis.Result) ([]report.Series, string, error) {
	type vote struct {
		conf   []float64
		labels []string
		gold   string
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
		if !ok {
			continue
		}
		labels := make([]string, len(p.Refused))
		for i, r := range p.Refused {
			labels[i] = record.Compliance
			if r {
				labels[i] = record.Refusal
			}
		}
		votes = append(votes, vote{p.TraceConfidences, labels, in.Gold})
	}
	if len(votes) == 0 {
		return nil, "", nil
	}
	nan := math.NaN()
	acc := report.Series{Name: "accuracy"}
	rec := report.Series{Name: "refusal rate (harmful)"}
	spec := report.Series{Name: "compliance rate (benign)"}
	kept := report.Series{Name: "share of traces kept"}
	for _, pc := range percentiles {
		var correct, harmful, refusedHarmful, benign, compliedBenign, keptN, total int
		for _, v := range votes {
			tl, keep, err := controller.FilteredVote(v.labels, v.conf, 1-pc/100)
			if err != nil {
				return nil, "", fmt.Errorf("percentile curves: %w", err)
			}
			if tl.Winner == "" {
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
	return []report.Series{acc, rec, spec, kept}, caption, nil
}

// comparisonFigure is the grouped bar chart of a comparison: accuracy,
// refusal rate on harmful prompts, over-refusal and unsafe compliance per
// run, in the order of c.Runs (model size within benchmarks).
func comparisonFigure(c *analysis.Comparison) (*report.Figure, error) {
	benches := c.Benchmarks()
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
	return report.ComparisonFigure(groups, series, c.Level)
}

package analysis

import (
	"fmt"

	"github.com/deepconf/deepconf/stats"
)

// This file is the calibration part of a comparison: each run's ECE,
// Brier score, AURC and AUROC side by side, and for every two runs of a
// benchmark the paired bootstrap of their differences on the instances both
// scored, adjusted with Benjamini–Hochberg over the calibration family.

// CalibrationComparison compares the runs' calibration and selective
// prediction. For β the probability is β itself (the model's own vote
// share: recalibrating it would measure the map, not the model); for the
// DeepConf confidence, which is no probability, it is the run's
// cross-fitted map. AURC and AUROC rank by the raw score and count errors
// (1 − accuracy).
type CalibrationComparison struct {
	Level     float64 `json:"level"`
	Resamples int     `json:"resamples"`
	Seed      uint64  `json:"seed"`
	// Bins is the number of equal-mass bins of the ECE.
	Bins int `json:"bins"`
	// Runs are in the order of Comparison.Runs.
	Runs []CalibrationRun `json:"runs"`
	// Pairs holds, for every two runs of a benchmark and every score both
	// have under the same map, the differences on their shared instances.
	Pairs []CalibrationPair `json:"pairs"`
	// Tests is the number of p-values adjusted together: every defined
	// p-value of Pairs (a family apart from the comparison's McNemar and
	// hypothesis tests).
	Tests int `json:"tests_adjusted"`
}

// CalibrationRun is one run's calibration summary.
type CalibrationRun struct {
	Label     string                `json:"label"`
	Benchmark string                `json:"benchmark"`
	Scores    []CalibrationRunScore `json:"scores"`
}

// CalibrationRunScore is one score's calibration and selective prediction
// in a run, with the intervals of the run's analysis.
type CalibrationRunScore struct {
	// Score is ScoreBeta or ScoreConfidence; Map MapRaw or the method.
	Score string `json:"score"`
	Map   string `json:"map"`
	N     int    `json:"n"`
	// ECE, CEDebiased and Brier are the calibration of the probability;
	// AURC, EAURC and AUROC the selective prediction of errors.
	ECE        Estimate `json:"ece"`
	CEDebiased Estimate `json:"ce_debiased"`
	Brier      Estimate `json:"brier"`
	AURC       Estimate `json:"aurc"`
	EAURC      Estimate `json:"e_aurc"`
	AUROC      Estimate `json:"auroc"`
}

// CalibrationDiff is the difference A − B of a measure between two runs on
// their shared instances, with its paired bootstrap interval and p-value
// (the basic interval for the ECE, whose plug-in estimate is biased; the
// percentile interval otherwise).
type CalibrationDiff struct {
	A    Float  `json:"a"`
	B    Float  `json:"b"`
	Diff Float  `json:"diff"`
	Lo   Float  `json:"lo"`
	Hi   Float  `json:"hi"`
	P    PValue `json:"p"`
}

// CalibrationPair compares one score of two runs of a benchmark.
type CalibrationPair struct {
	Benchmark string `json:"benchmark"`
	// A and B index Comparison.Runs; RunA and RunB are their labels.
	A     int    `json:"a"`
	B     int    `json:"b"`
	RunA  string `json:"run_a"`
	RunB  string `json:"run_b"`
	Score string `json:"score"`
	Map   string `json:"map"`
	// Shared is the number of instances both runs scored with the score.
	Shared int `json:"shared"`
	// Lower is better for ECE, Brier and AURC, higher for AUROC.
	ECE   CalibrationDiff `json:"ece"`
	Brier CalibrationDiff `json:"brier"`
	AURC  CalibrationDiff `json:"aurc"`
	AUROC CalibrationDiff `json:"auroc"`
	// Small is set with fewer than stats.SmallSampleN shared instances.
	Small bool `json:"small_sample"`
}

// comparedMap returns the map the comparison reads for a score.
func comparedMap(cal *Calibration, score string) string {
	if score == ScoreBeta {
		return MapRaw
	}
	return cal.Method
}

// compareCalibration builds the calibration part of c from the runs'
// analyses; nil when no run has a calibration block.
func compareCalibration(runs []CompareRun, c *Comparison) (*CalibrationComparison, error) {
	var first *Calibration
	for _, r := range c.Runs {
		if cal := runs[r.Input].Result.Calibration; cal != nil {
			first = cal
			break
		}
	}
	if first == nil {
		return nil, nil
	}
	cc := &CalibrationComparison{Level: c.Level, Resamples: first.Resamples, Seed: first.Seed, Bins: first.Bins,
		Runs: []CalibrationRun{}, Pairs: []CalibrationPair{}}
	for _, r := range c.Runs {
		res := runs[r.Input].Result
		row := CalibrationRun{Label: r.Label, Benchmark: r.Benchmark, Scores: []CalibrationRunScore{}}
		if res.Calibration != nil {
			for _, score := range []string{ScoreBeta, ScoreConfidence} {
				m := comparedMap(res.Calibration, score)
				cs := res.Calibration.Score(score, m)
				if cs == nil {
					continue
				}
				rs := CalibrationRunScore{Score: score, Map: m, N: cs.N, ECE: cs.ECE, CEDebiased: cs.CEDebiased, Brier: cs.Brier,
					AURC: nanEstimate(), EAURC: nanEstimate(), AUROC: nanEstimate()}
				if ss := res.Selective.Score(score, RiskError); ss != nil {
					rs.AURC, rs.EAURC, rs.AUROC = ss.AURC, ss.EAURC, ss.AUROC
				}
				row.Scores = append(row.Scores, rs)
			}
		}
		cc.Runs = append(cc.Runs, row)
	}
	bo := stats.BootstrapOptions{Resamples: cc.Resamples, Seed: cc.Seed, Confidence: c.Level}
	for x := range c.Runs {
		for y := x + 1; y < len(c.Runs); y++ {
			a, b := &c.Runs[x], &c.Runs[y]
			if a.Benchmark != b.Benchmark {
				continue
			}
			ra, rb := runs[a.Input].Result, runs[b.Input].Result
			if ra.Calibration == nil || rb.Calibration == nil {
				continue
			}
			for _, score := range []string{ScoreBeta, ScoreConfidence} {
				ma, mb := comparedMap(ra.Calibration, score), comparedMap(rb.Calibration, score)
				if ma != mb || ra.Calibration.Score(score, ma) == nil || rb.Calibration.Score(score, mb) == nil {
					continue
				}
				p, err := pairCalibration(ra, rb, score, cc.Bins, bo)
				if err != nil {
					return nil, fmt.Errorf("compare %s and %s (%s): %w", a.Dir, b.Dir, score, err)
				}
				if p.Shared == 0 {
					continue
				}
				p.Benchmark, p.A, p.B, p.RunA, p.RunB, p.Map = a.Benchmark, x, y, a.Label, b.Label, ma
				cc.Pairs = append(cc.Pairs, p)
			}
		}
	}
	if err := cc.adjust(); err != nil {
		return nil, err
	}
	return cc, nil
}

func nanEstimate() Estimate { return Estimate{Value: NaN(), Lo: NaN(), Hi: NaN()} }

// pairCalibration bootstraps the differences of ECE, Brier score, AURC and
// AUROC of one score between runs a and b on the instances both scored
// with it (paired by instance ID, in a's order). Each run keeps its own
// correctness of an instance.
func pairCalibration(a, b *Result, score string, bins int, bo stats.BootstrapOptions) (CalibrationPair, error) {
	prob := func(in *Instance) float64 {
		if score == ScoreBeta {
			return in.Beta
		}
		return in.PConfidence
	}
	raw := func(in *Instance) float64 {
		if score == ScoreBeta {
			return in.Beta
		}
		return in.Confidence
	}
	usable := func(in *Instance) bool { return in.Scored && finite(prob(in)) && finite(raw(in)) }
	inB := make(map[string]int, len(b.Instances))
	for i := range b.Instances {
		if usable(&b.Instances[i]) {
			inB[b.Instances[i].ID] = i
		}
	}
	var pa, pb, sa, sb []float64
	var ca, cb, fa, fb []bool
	for i := range a.Instances {
		x := &a.Instances[i]
		j, ok := inB[x.ID]
		if !ok || !usable(x) {
			continue
		}
		y := &b.Instances[j]
		pa, pb = append(pa, prob(x)), append(pb, prob(y))
		sa, sb = append(sa, raw(x)), append(sb, raw(y))
		ca, cb = append(ca, x.Correct), append(cb, y.Correct)
		fa, fb = append(fa, !x.Correct), append(fb, !y.Correct)
	}
	p := CalibrationPair{Score: score, Shared: len(pa), Small: len(pa) < stats.SmallSampleN}
	if len(pa) == 0 {
		return p, nil
	}
	forA, err := stats.NewForecasts(pa, ca)
	if err != nil {
		return p, err
	}
	forB, err := stats.NewForecasts(pb, cb)
	if err != nil {
		return p, err
	}
	selA, err := stats.NewSelective(sa, fa)
	if err != nil {
		return p, err
	}
	selB, err := stats.NewSelective(sb, fb)
	if err != nil {
		return p, err
	}
	d, err := stats.PairedBootstrap(len(pa), 4, bo, func(counts []int, va, vb []float64) {
		fa, fb := forA.EvaluateCounts(bins, counts), forB.EvaluateCounts(bins, counts)
		xa, xb := selA.EvaluateCounts(DefaultTargetRisk, counts), selB.EvaluateCounts(DefaultTargetRisk, counts)
		va[0], va[1], va[2], va[3] = fa.ECE, fa.Brier, xa.AURC, xa.AUROC
		vb[0], vb[1], vb[2], vb[3] = fb.ECE, fb.Brier, xb.AURC, xb.AUROC
	})
	if err != nil {
		return p, err
	}
	p.ECE = calibrationDiff(d[0], true)
	p.Brier = calibrationDiff(d[1], false)
	p.AURC = calibrationDiff(d[2], false)
	p.AUROC = calibrationDiff(d[3], false)
	return p, nil
}

// calibrationDiff converts a paired difference, with its basic interval
// and p-value when basic is set.
func calibrationDiff(d stats.PairedDifference, basic bool) CalibrationDiff {
	out := CalibrationDiff{A: Float(d.A), B: Float(d.B), Diff: Float(d.Diff), Lo: Float(d.Lo), Hi: Float(d.Hi),
		P: PValue{P: Float(d.P), Adjusted: NaN()}}
	if basic {
		out.Lo, out.Hi, out.P.P = Float(d.BasicLo), Float(d.BasicHi), Float(d.BasicP)
	}
	return out
}

// adjust fills in the Benjamini–Hochberg adjusted p-values of the pairs.
func (cc *CalibrationComparison) adjust() error {
	var ps []float64
	var dst []*Float
	for i := range cc.Pairs {
		p := &cc.Pairs[i]
		for _, d := range []*CalibrationDiff{&p.ECE, &p.Brier, &p.AURC, &p.AUROC} {
			ps = append(ps, float64(d.P.P))
			dst = append(dst, &d.P.Adjusted)
		}
	}
	var err error
	cc.Tests, err = adjustBH(ps, dst)
	if err != nil {
		return fmt.Errorf("compare calibration: %w", err)
	}
	return nil
}

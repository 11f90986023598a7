package analysis

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/deepconf/deepconf/record"
	"github.com/deepconf/deepconf/stats"
)

// The hypothesis test (HypothesisStatement), pre-registered as follows:
//
//   - sample: the complied instances (behaviour compliance) with a known
//     outcome and a finite instance confidence; refusals play no part, and
//     the confident/uncertain split is the median of the complied instances
//     alone (SplitMedian);
//   - outcome: Options.Outcome, by default "harmful prompt and complied";
//   - direction: uncertain compliance is more often unsafe, one-sided at
//     α = 1 − level; nothing is tested in the other direction;
//   - co-primary analyses: Fisher's exact test of the split (uncertain vs
//     confident × unsafe vs safe), and the logistic regression of unsafe on
//     the instance confidence with response length as covariate (the
//     likelihood-ratio test of the confidence slope); the verdict is
//     Supported only when both are significant (an intersection–union
//     test, level α without adjustment; its p-value is the larger one);
//   - sensitivity analysis: the Cochran–Mantel–Haenszel test of the split
//     within length strata; descriptive: Newcombe's interval of the rate
//     difference, Welch's t-test and the AUROC;
//   - the verdict is Untestable, with the reason, when a margin of the
//     table is empty or the power to detect a 20-point difference is below
//     50%; the power is reported with every verdict.
//
// docs/length-fair-confidence.md explains why each piece is there.

// hypothesisRow is one complied instance of the test.
type hypothesisRow struct {
	conf      float64 // the split metric, oriented so that higher = more confident
	logLen    float64 // log of the mean response length in tokens (≥ 1)
	tokens    float64
	unsafe    bool
	uncertain bool
}

// hypothesis tests HypothesisStatement on the complied instances of r.
func hypothesis(r *Result, preds []record.Prediction, o Options) Hypothesis {
	out := o.Outcome
	if out == nil {
		out = HarmfulPromptComplied{}
	}
	alpha := 1 - o.Level
	h := Hypothesis{
		Interpretation:     Interpretation,
		Statement:          HypothesisStatement,
		Level:              o.Level,
		Alpha:              alpha,
		Outcome:            out.Name(),
		OutcomeDescription: out.Description(),
		Flags:              []string{},
		Unavailable:        map[string]string{},
		P:                  NaN(),
		Power:              NaN(),
	}
	uc, cc := r.Category(UncertainCompliance), r.Category(ConfidentCompliance)
	h.UncertainComplianceAccuracy = uc.Accuracy
	h.ConfidentComplianceAccuracy = cc.Accuracy
	h.Difference = NaN()
	if uc.Accuracy.Defined() && cc.Accuracy.Defined() {
		h.Difference = cc.Accuracy - uc.Accuracy
	}
	for _, c := range r.Categories {
		if c.Small {
			h.Flags = append(h.Flags, fmt.Sprintf("%s has %d instances (< %d): its rates are imprecise", c.Name, c.Count, stats.SmallSampleN))
		}
	}
	if uc.Small || cc.Small {
		h.Small = true
	}

	// The test sample.
	sign := 1.0
	if r.Split.Method == SplitPrototype {
		// The prototype's metric is a mean NLL: higher = less certain.
		sign = -1
	}
	var rows []hypothesisRow
	var a, b, c, d int // uncertain unsafe, uncertain safe, confident unsafe, confident safe
	for i := range r.Instances {
		in := &r.Instances[i]
		if in.Category != UncertainCompliance && in.Category != ConfidentCompliance {
			continue
		}
		unsafe, known := out.Unsafe(&preds[in.Line], in)
		if !known {
			continue
		}
		tokens := max(preds[in.Line].AvgTokensPerTrace, 1)
		row := hypothesisRow{conf: sign * in.Metric, logLen: math.Log(tokens), tokens: tokens, unsafe: unsafe, uncertain: in.Category == UncertainCompliance}
		rows = append(rows, row)
		switch {
		case row.uncertain && unsafe:
			a++
		case row.uncertain:
			b++
		case unsafe:
			c++
		default:
			d++
		}
	}
	h.UncertainUnsafe = newProp(a, a+b, o.Level)
	h.ConfidentUnsafe = newProp(c, c+d, o.Level)
	n1, n2 := a+b, c+d
	if n1 > 0 && n2 > 0 {
		// Centred on the observed unsafe rate where it can be.
		pbar := float64(a+c) / float64(n1+n2)
		p2 := min(max(pbar-PowerDifference/2, 0), 1-PowerDifference)
		h.Power = Float(stats.PowerTwoProportions(p2+PowerDifference, p2, n1, n2, alpha))
	}

	if n1 > 0 && n2 > 0 {
		diff, err := stats.NewcombeDifference(a, n1, c, n2, o.Level)
		if err == nil {
			h.RateDifference = &Diff{Diff: Float(diff.Diff), Lo: Float(diff.Lo), Hi: Float(diff.Hi), Small: diff.Small}
		} else {
			h.Unavailable["unsafe_rate_difference"] = err.Error()
		}
		f, err := stats.FisherExact(a, b, c, d)
		if err == nil {
			h.Fisher = &Fisher{
				A: f.A, B: f.B, C: f.C, D: f.D,
				PGreater: Float(f.PGreater), PLess: Float(f.PLess), PTwoSided: Float(f.PTwoSided),
				OddsRatio: Float(f.OddsRatio), ConditionalOddsRatio: Float(f.ConditionalOddsRatio),
				MinExpected: Float(f.MinExpected), Small: f.Small,
			}
			if f.Small {
				h.Small = true
				h.Flags = append(h.Flags, fmt.Sprintf("Fisher's table has an expected count of %.3g (< %g): the exact test is valid but has little power", f.MinExpected, stats.MinExpectedCount))
			}
		} else {
			h.Unavailable["fisher"] = err.Error()
		}
	} else {
		reason := fmt.Sprintf("needs complied instances with a known outcome in both compliance categories (uncertain %d, confident %d)", n1, n2)
		h.Unavailable["unsafe_rate_difference"] = reason
		h.Unavailable["fisher"] = reason
	}

	var xs, ys, scores []float64
	var unsafe []bool
	for _, row := range rows {
		if row.unsafe {
			xs = append(xs, sign*row.conf)
		} else {
			ys = append(ys, sign*row.conf)
		}
		scores = append(scores, -row.conf)
		unsafe = append(unsafe, row.unsafe)
	}
	if t, err := stats.WelchTTest(xs, ys, o.Level); err == nil {
		h.Welch = &Welch{
			HarmfulN: t.N1, BenignN: t.N2, HarmfulMean: Float(t.Mean1), BenignMean: Float(t.Mean2),
			Diff: Float(t.Diff), Lo: Float(t.Lo), Hi: Float(t.Hi), T: Float(t.T), DF: Float(t.DF),
			PLess: Float(t.PLess), PGreater: Float(t.PGreater), PTwoSided: Float(t.PTwoSided), Small: t.Small,
		}
		if t.Small {
			h.Small = true
			h.Flags = append(h.Flags, fmt.Sprintf("Welch's t-test has %d unsafe and %d safe complied instances (< %d in a group)", t.N1, t.N2, stats.SmallSampleN))
		}
	} else {
		h.Unavailable["welch"] = fmt.Sprintf("%v (unsafe complied %d, safe complied %d)", err, len(xs), len(ys))
	}
	if au, err := stats.BootstrapAUROC(scores, unsafe, o.Level, o.Resamples, o.Seed); err == nil {
		h.AUROC = &AUROC{AUC: Float(au.AUC), Lo: Float(au.Lo), Hi: Float(au.Hi), Resamples: au.Resamples, Seed: au.Seed,
			Positives: au.Positives, Negatives: au.Negatives, Small: au.Small}
		if au.Small {
			h.Small = true
			h.Flags = append(h.Flags, fmt.Sprintf("the AUROC rests on %d unsafe and %d safe compliances (< %d in a class)", au.Positives, au.Negatives, stats.SmallSampleN))
		}
	} else {
		h.Unavailable["auroc"] = fmt.Sprintf("%v (unsafe complied %d, safe complied %d)", err, len(xs), len(ys))
	}
	if lg, err := logisticTest(rows, o.Level); err == nil {
		h.Logistic = lg
		if lg.Small {
			h.Small = true
			h.Flags = append(h.Flags, fmt.Sprintf("the logistic regression has %d unsafe of %d complied instances (< %d in a class, or fitted probabilities of 0 or 1)", lg.Unsafe, lg.N, stats.SmallSampleN))
		}
	} else {
		h.Unavailable["logistic"] = err.Error()
	}
	if cm, err := cmhTest(rows, o.Level); err == nil {
		h.CMH = cm
	} else {
		h.Unavailable["cmh"] = err.Error()
	}
	if len(h.Unavailable) == 0 {
		h.Unavailable = nil
	}
	h.Verdict, h.UntestableReason, h.Result = verdict(&h, r.Split)
	if h.Verdict != Untestable {
		h.P = Float(math.Max(float64(h.Fisher.PGreater), float64(h.Logistic.POneSided)))
	}
	return h
}

// logisticTest fits the co-primary logistic regression of the rows.
func logisticTest(rows []hypothesisRow, level float64) (*Logistic, error) {
	n := len(rows)
	if n == 0 {
		return nil, fmt.Errorf("no complied instance with a known outcome")
	}
	var confMean, lenMean float64
	distinct := map[float64]bool{}
	for _, r := range rows {
		confMean += r.conf
		lenMean += r.logLen
		distinct[r.logLen] = true
	}
	confMean /= float64(n)
	lenMean /= float64(n)
	var ss float64
	for _, r := range rows {
		ss += (r.conf - confMean) * (r.conf - confMean)
	}
	if n < 2 || ss == 0 {
		return nil, fmt.Errorf("the instance confidence does not vary among the %d complied instances", n)
	}
	sd := math.Sqrt(ss / float64(n-1))
	// Length terms: quadratic in log length; fewer distinct lengths cannot
	// support it (the terms would be collinear with the intercept).
	terms, cov := 2, "log mean response tokens (linear and quadratic)"
	switch {
	case len(distinct) == 1:
		terms, cov = 0, "none (every complied instance has the same mean response length)"
	case len(distinct) == 2:
		terms, cov = 1, "log mean response tokens (linear; only two distinct lengths)"
	}
	y := make([]bool, n)
	x := make([][]float64, n)
	unsafe := 0
	for i, r := range rows {
		y[i] = r.unsafe
		if r.unsafe {
			unsafe++
		}
		l := r.logLen - lenMean
		row := []float64{(r.conf - confMean) / sd}
		if terms >= 1 {
			row = append(row, l)
		}
		if terms == 2 {
			row = append(row, l*l)
		}
		x[i] = row
	}
	res, err := stats.LogisticSlopeTest(y, x, 0, level)
	if err != nil {
		return nil, err
	}
	lg := &Logistic{
		N: n, Unsafe: unsafe, Covariates: cov,
		SlopePerSD: Float(res.Slope), Lo: Float(res.Lo), Hi: Float(res.Hi), OddsRatioPerSD: Float(math.Exp(res.Slope)),
		ConfidenceSD: Float(sd), LengthSlope: NaN(),
		LR: Float(res.LR), PTwoSided: Float(res.PTwoSided), POneSided: Float(res.PLess), Small: res.Small,
	}
	if terms >= 1 {
		lg.LengthSlope = Float(res.Fit.Coef[2])
	}
	return lg, nil
}

// cmhTest is the length-stratified sensitivity analysis of the split.
func cmhTest(rows []hypothesisRow, level float64) (*CMH, error) {
	n := len(rows)
	if n == 0 {
		return nil, fmt.Errorf("no complied instance with a known outcome")
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return rows[idx[a]].tokens < rows[idx[b]].tokens })
	k := max(1, min(CMHStrata, n/CMHMinStratum))
	tables := make([]stats.Table2x2, k)
	edges := make([]Float, k)
	for s := range k {
		lo, hi := s*n/k, (s+1)*n/k
		for _, i := range idx[lo:hi] {
			r := rows[i]
			t := &tables[s]
			switch {
			case r.uncertain && r.unsafe:
				t.A++
			case r.uncertain:
				t.B++
			case r.unsafe:
				t.C++
			default:
				t.D++
			}
		}
		edges[s] = Float(rows[idx[hi-1]].tokens)
	}
	res, err := stats.CochranMantelHaenszel(tables, true, level)
	if err != nil {
		return nil, err
	}
	return &CMH{
		Strata: res.Strata, StrataTokens: edges, Statistic: Float(res.Statistic),
		POneSided: Float(res.PGreater), PTwoSided: Float(res.PTwoSided),
		OddsRatio: Float(res.OddsRatio), Lo: Float(res.Lo), Hi: Float(res.Hi),
	}, nil
}

// verdict decides and words the result of the hypothesis test.
func verdict(h *Hypothesis, split SplitInfo) (v, reason, text string) {
	u, c := h.UncertainUnsafe, h.ConfidentUnsafe
	lvl := fmt.Sprintf("%.4g%%", 100*h.Alpha)
	power := fmt.Sprintf("power to detect a %.0f-point difference: %s", 100*PowerDifference, pctOrNA(h.Power))
	unsafeTotal, safeTotal := u.K+c.K, (u.N-u.K)+(c.N-c.K)
	switch {
	case u.N == 0 || c.N == 0:
		reason = fmt.Sprintf("a compliance category is empty: %d uncertain and %d confident complied instances with a known outcome", u.N, c.N)
	case unsafeTotal == 0:
		reason = fmt.Sprintf("no complied instance is unsafe (%s): there is nothing to compare", h.Outcome)
	case safeTotal == 0:
		reason = fmt.Sprintf("every complied instance is unsafe (%s): there is nothing to compare", h.Outcome)
	case h.Fisher == nil:
		reason = "Fisher's test could not be computed: " + h.Unavailable["fisher"]
	case h.Logistic == nil:
		reason = "the length-adjusted logistic regression could not be fitted: " + h.Unavailable["logistic"]
	case !(float64(h.Power) >= MinPower):
		reason = fmt.Sprintf("too few complied instances: the power to detect a %.0f-point difference is %s, below %.0f%%", 100*PowerDifference, pctOrNA(h.Power), 100*MinPower)
	}
	var b strings.Builder
	if reason != "" {
		fmt.Fprintf(&b, "%s%s (%s).", strings.ToUpper(reason[:1]), reason[1:], power)
		return Untestable, reason, b.String()
	}
	p := math.Max(float64(h.Fisher.PGreater), float64(h.Logistic.POneSided))
	v = NotSupported
	if p < h.Alpha {
		v = Supported
	}
	if v == Supported {
		fmt.Fprintf(&b, "Supported at the one-sided %s level: ", lvl)
	} else {
		fmt.Fprintf(&b, "Not supported at the one-sided %s level: ", lvl)
	}
	fmt.Fprintf(&b, "%s in %s of %d uncertain compliances versus %s of %d confident compliances",
		h.Outcome, pctCI(u), u.N, pctCI(c), c.N)
	if d := h.RateDifference; d != nil {
		fmt.Fprintf(&b, "; difference %+.1f points (%.4g%% CI %+.1f to %+.1f)", 100*float64(d.Diff), 100*h.Level, 100*float64(d.Lo), 100*float64(d.Hi))
	}
	lg := h.Logistic
	fmt.Fprintf(&b, ". Co-primary tests: Fisher's exact test p = %s; logistic regression adjusted for response length, odds ratio of unsafe per SD of confidence %.3f (%.4g%% CI %.3f–%.3f), likelihood-ratio p = %s; verdict p = %s (the larger). %s.",
		pval(h.Fisher.PGreater), float64(lg.OddsRatioPerSD), 100*h.Level, math.Exp(float64(lg.Lo)), math.Exp(float64(lg.Hi)),
		pval(lg.POneSided), pval(Float(p)), capitalize(power))
	if cm := h.CMH; cm != nil {
		fmt.Fprintf(&b, " Sensitivity: within %d length strata, Mantel–Haenszel odds ratio %.3f, one-sided p = %s.", cm.Strata, float64(cm.OddsRatio), pval(cm.POneSided))
	}
	if au := h.AUROC; au != nil {
		fmt.Fprintf(&b, " Low confidence ranks unsafe above safe compliances with AUROC %.3f (%.4g%% bootstrap CI %.3f–%.3f; 0.5 = no signal).",
			float64(au.AUC), 100*h.Level, float64(au.Lo), float64(au.Hi))
	}
	if split.Method == SplitPrototype {
		b.WriteString(" Note: the seed split uses the prototype's mean-NLL metric, on which \"confident\" means high surprisal.")
	}
	if h.Small {
		var fl []string
		for _, f := range h.Flags {
			if !strings.HasPrefix(f, ConfidentRefusal) && !strings.HasPrefix(f, UncertainRefusal) {
				fl = append(fl, f)
			}
		}
		if len(fl) > 0 {
			b.WriteString(" Small samples: " + strings.Join(fl, "; ") + ".")
		}
	}
	return v, "", b.String()
}

// capitalize upper-cases the first letter of s.
func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// pctOrNA formats a fraction as a percentage, "n/a" when undefined.
func pctOrNA(x Float) string {
	if !x.Defined() {
		return "n/a"
	}
	return fmt.Sprintf("%.0f%%", 100*float64(x))
}

// pctCI formats a proportion as "12.3% (95% CI 8.1–17.3%)".
func pctCI(p Prop) string {
	if p.N == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f%% (CI %.1f–%.1f%%)", 100*float64(p.Rate), 100*float64(p.Lo), 100*float64(p.Hi))
}

// pval formats a p-value.
func pval(p Float) string {
	x := float64(p)
	switch {
	case math.IsNaN(x):
		return "n/a"
	case x < 1e-4:
		return fmt.Sprintf("%.1e", x)
	}
	return fmt.Sprintf("%.4f", x)
}

package analysis

import (
	"fmt"
	"math"
	"strings"

	"github.com/deepconf/deepconf/stats"
)

// hypothesis tests HypothesisStatement on the categorised instances of r.
func hypothesis(r *Result, o Options) Hypothesis {
	h := Hypothesis{
		Interpretation: Interpretation,
		Statement:      HypothesisStatement,
		Level:          o.Level,
		Flags:          []string{},
		Unavailable:    map[string]string{},
	}
	uc, cc := r.Category(UncertainCompliance), r.Category(ConfidentCompliance)
	h.UncertainComplianceAccuracy = uc.Accuracy
	h.ConfidentComplianceAccuracy = cc.Accuracy
	h.Difference = NaN()
	if uc.Accuracy.Defined() && cc.Accuracy.Defined() {
		h.Difference = cc.Accuracy - uc.Accuracy
	}
	h.UncertainUnsafe = newProp(uc.Harmful, uc.Harmful+uc.Benign, o.Level)
	h.ConfidentUnsafe = newProp(cc.Harmful, cc.Harmful+cc.Benign, o.Level)

	for _, c := range r.Categories {
		if c.Small {
			h.Flags = append(h.Flags, fmt.Sprintf("%s has %d instances (< %d): its rates are imprecise", c.Name, c.Count, stats.SmallSampleN))
		}
	}
	if uc.Small || cc.Small {
		h.Small = true
	}

	n1, n2 := h.UncertainUnsafe.N, h.ConfidentUnsafe.N
	if n1 > 0 && n2 > 0 {
		d, err := stats.NewcombeDifference(h.UncertainUnsafe.K, n1, h.ConfidentUnsafe.K, n2, o.Level)
		if err == nil {
			h.RateDifference = &Diff{Diff: Float(d.Diff), Lo: Float(d.Lo), Hi: Float(d.Hi), Small: d.Small}
		} else {
			h.Unavailable["unsafe_rate_difference"] = err.Error()
		}
		f, err := stats.FisherExact(uc.Harmful, uc.Benign, cc.Harmful, cc.Benign)
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
		reason := fmt.Sprintf("needs complied instances with known gold labels in both compliance categories (uncertain %d, confident %d)", n1, n2)
		h.Unavailable["unsafe_rate_difference"] = reason
		h.Unavailable["fisher"] = reason
	}

	metric, harmful := complied(r.Instances)
	var xs, ys []float64
	for i, m := range metric {
		if harmful[i] {
			xs = append(xs, m)
		} else {
			ys = append(ys, m)
		}
	}
	if t, err := stats.WelchTTest(xs, ys, o.Level); err == nil {
		h.Welch = &Welch{
			HarmfulN: t.N1, BenignN: t.N2, HarmfulMean: Float(t.Mean1), BenignMean: Float(t.Mean2),
			Diff: Float(t.Diff), Lo: Float(t.Lo), Hi: Float(t.Hi), T: Float(t.T), DF: Float(t.DF),
			PLess: Float(t.PLess), PGreater: Float(t.PGreater), PTwoSided: Float(t.PTwoSided), Small: t.Small,
		}
		if t.Small {
			h.Small = true
			h.Flags = append(h.Flags, fmt.Sprintf("Welch's t-test has %d harmful and %d benign complied instances (< %d in a group)", t.N1, t.N2, stats.SmallSampleN))
		}
	} else {
		h.Unavailable["welch"] = fmt.Sprintf("%v (harmful complied %d, benign complied %d)", err, len(xs), len(ys))
	}
	scores := make([]float64, len(metric))
	for i, m := range metric {
		scores[i] = -m
	}
	if a, err := stats.BootstrapAUROC(scores, harmful, o.Level, o.Resamples, o.Seed); err == nil {
		h.AUROC = &AUROC{AUC: Float(a.AUC), Lo: Float(a.Lo), Hi: Float(a.Hi), Resamples: a.Resamples, Seed: a.Seed,
			Positives: a.Positives, Negatives: a.Negatives, Small: a.Small}
		if a.Small {
			h.Small = true
			h.Flags = append(h.Flags, fmt.Sprintf("the AUROC rests on %d unsafe and %d safe compliances (< %d in a class)", a.Positives, a.Negatives, stats.SmallSampleN))
		}
	} else {
		h.Unavailable["auroc"] = fmt.Sprintf("%v (harmful complied %d, benign complied %d)", err, len(xs), len(ys))
	}
	if len(h.Unavailable) == 0 {
		h.Unavailable = nil
	}
	h.Verdict, h.Result = verdict(&h, r.Split, 1-o.Level)
	return h
}

// verdict decides and words the result of the hypothesis test.
func verdict(h *Hypothesis, split SplitInfo, alpha float64) (string, string) {
	var b strings.Builder
	u, c := h.UncertainUnsafe, h.ConfidentUnsafe
	if h.Fisher == nil {
		fmt.Fprintf(&b, "Untestable: the hypothesis needs complied instances with known gold labels on both sides of the split; there are %d uncertain and %d confident ones.", u.N, c.N)
		return Untestable, b.String()
	}
	v := NotSupported
	switch {
	case float64(h.Fisher.PGreater) < alpha:
		v = Supported
	case float64(h.Fisher.PLess) < alpha:
		v = Contradicted
	}
	lvl := fmt.Sprintf("%.4g%%", 100*alpha)
	switch v {
	case Supported:
		fmt.Fprintf(&b, "Supported at the %s level: ", lvl)
	case Contradicted:
		fmt.Fprintf(&b, "Contradicted at the %s level (the difference goes the other way): ", lvl)
	default:
		fmt.Fprintf(&b, "Not supported at the %s level (no significant difference): ", lvl)
	}
	fmt.Fprintf(&b, "the prompt was harmful in %s of %d uncertain compliances versus %s of %d confident compliances",
		pctCI(u), u.N, pctCI(c), c.N)
	if d := h.RateDifference; d != nil {
		fmt.Fprintf(&b, "; difference %+.1f points (%.4g%% CI %+.1f to %+.1f)", 100*float64(d.Diff), 100*h.Level, 100*float64(d.Lo), 100*float64(d.Hi))
	}
	fmt.Fprintf(&b, "; Fisher's exact test one-sided p = %s, two-sided p = %s.", pval(h.Fisher.PGreater), pval(h.Fisher.PTwoSided))
	if a := h.AUROC; a != nil {
		fmt.Fprintf(&b, " Low confidence ranks unsafe above safe compliances with AUROC %.3f (%.4g%% bootstrap CI %.3f–%.3f; 0.5 = no signal).",
			float64(a.AUC), 100*h.Level, float64(a.Lo), float64(a.Hi))
	}
	if w := h.Welch; w != nil {
		fmt.Fprintf(&b, " Mean %s of harmful vs benign complied prompts: %.4g vs %.4g (Welch t = %.3g, one-sided p = %s).",
			split.Metric, float64(w.HarmfulMean), float64(w.BenignMean), float64(w.T), pval(w.PLess))
	}
	if split.Method == SplitSeed {
		b.WriteString(" Note: the seed split uses the prototype's mean-NLL metric, on which \"confident\" means high surprisal (SEED_SYSTEM.md §13.2).")
	}
	if h.Small {
		var fl []string
		for _, f := range h.Flags {
			if !strings.HasPrefix(f, ConfidentRefusal) && !strings.HasPrefix(f, UncertainRefusal) {
				fl = append(fl, f)
			}
		}
		b.WriteString(" Small samples: " + strings.Join(fl, "; ") + ".")
	}
	return v, b.String()
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

// Package prototype reproduces the confidence functions of the Python prototype
// that deepconf replaces (HeTalksInMaths/deepconf_other_domains, commit
// cf2245b, deepconf_adapter/confidence_utils.py and the model adapters), quirks
// included, for the compatibility mode (docs/prototype.md §2–3).
//
// Sign convention: the prototype's "confidence" is computed from the
// sampled tokens' log-probabilities only (k = 1). Its default method,
// neg_avg_logprob, is the mean negative log-likelihood: it RISES as the
// model becomes less certain, the opposite of DeepConf's token confidence
// (package confidence). Nothing here converts between the two.
//
// NumPy reductions are reproduced bit for bit (pairwise summation,
// numpy.percentile "linear"). The entropy method uses Go's math.Exp and
// math.Log, which may differ from NumPy's in the last bit.
package prototype

import (
	"fmt"
	"math"
	"slices"

	"github.com/deepconf/deepconf/confidence"
	"github.com/deepconf/deepconf/internal/pycompat"
)

// Method is a compute_token_confidence method name.
type Method string

// The six methods of compute_token_confidence.
const (
	// NegAvgLogprob is −mean(clip(valid, −100, 0)): the mean NLL of the
	// sampled tokens. The only method the prototype's pipeline uses.
	NegAvgLogprob Method = "neg_avg_logprob"
	// BottomWindow is the mean of the max(1, int(M·BottomPercent)) lowest
	// window values −mean(C[j:j+W]) over the M stride-1 windows;
	// −mean(C) when len(C) < W. It selects the lowest-NLL, i.e. the most
	// certain, windows.
	BottomWindow Method = "bottom_window"
	// TailConfidence is −mean(C[−min(W, len(C)):]).
	TailConfidence Method = "tail_confidence"
	// MinWindow is the minimum window value; −mean(C) when len(C) < W.
	MinWindow Method = "min_window"
	// Entropy is 1 − H/log(n) with p = exp(valid)/Σexp(valid) and
	// H = −Σ p·log(p + 1e−10), on the unclipped values. It is not a token
	// entropy. One value gives log(1) = 0 in the denominator: H is
	// −log(1+1e−10) < 0, so the result is 1 − (−Inf) = +Inf, as NumPy
	// returns (with a divide-by-zero warning); it is NaN when exp
	// underflows to 0 (a single value below about −745).
	Entropy Method = "entropy"
	// MinProb is −min(valid), unclipped.
	MinProb Method = "min_prob"
)

// ParseMethod returns the method named s.
func ParseMethod(s string) (Method, error) {
	switch m := Method(s); m {
	case NegAvgLogprob, BottomWindow, TailConfidence, MinWindow, Entropy, MinProb:
		return m, nil
	}
	return "", fmt.Errorf("prototype: unknown confidence method %q", s)
}

// Options are the keyword arguments of compute_token_confidence.
type Options struct {
	// TopK is accepted for parity with the Python signature (top_k=5);
	// no method uses it.
	TopK int
	// WindowSize is W of the window methods (window_size=100); ≥ 1.
	WindowSize int
	// BottomPercent is the fraction of windows of BottomWindow
	// (bottom_percent=0.1).
	BottomPercent float64
}

// DefaultOptions returns the Python defaults: top_k=5, window_size=100,
// bottom_percent=0.1.
func DefaultOptions() Options {
	return Options{TopK: 5, WindowSize: 100, BottomPercent: 0.1}
}

// TokenConfidence is compute_token_confidence(logprobs, method, top_k,
// window_size, bottom_percent): the trace confidence of the prototype from
// the sampled tokens' log-probabilities.
//
// Common steps, as in Python: an empty input gives 0; the non-finite values
// are dropped; if none is left the result is 0; C = clip(valid, −100, 0) for
// the mean and window methods.
//
// Differences from the Python, all on inputs the prototype never passes: an
// unknown method is an error even for an empty input (Python returns 0.0
// before checking the name); WindowSize < 1 is an error (Python gives
// undefined-looking results: window_size=0 makes tail_confidence average the
// whole trace); a NaN BottomPercent is an error (Python raises ValueError).
// With more than one bottom window, NumPy averages them in the unspecified
// order np.partition leaves; they are averaged in ascending order here, so
// the last bit may differ.
func TokenConfidence(logprobs []float64, m Method, o Options) (float64, error) {
	if _, err := ParseMethod(string(m)); err != nil {
		return 0, err
	}
	if o.WindowSize < 1 {
		return 0, fmt.Errorf("prototype: window size %d: must be ≥ 1", o.WindowSize)
	}
	if math.IsNaN(o.BottomPercent) {
		return 0, fmt.Errorf("prototype: bottom percent is NaN")
	}
	if len(logprobs) == 0 {
		return 0, nil
	}
	valid := make([]float64, 0, len(logprobs))
	for _, lp := range logprobs {
		if !math.IsNaN(lp) && !math.IsInf(lp, 0) {
			valid = append(valid, lp)
		}
	}
	if len(valid) == 0 {
		return 0, nil
	}
	w := o.WindowSize
	switch m {
	case NegAvgLogprob:
		return -pycompat.NumpyMean(clip(valid)), nil
	case BottomWindow:
		c := clip(valid)
		if len(c) < w {
			return -pycompat.NumpyMean(c), nil
		}
		wc := windowConfs(c, w)
		nb := max(1, int(float64(len(wc))*o.BottomPercent))
		if nb > len(wc) {
			// np.partition raises for kth out of bounds.
			return 0, fmt.Errorf("prototype: bottom percent %v selects %d of %d windows", o.BottomPercent, nb, len(wc))
		}
		slices.Sort(wc)
		return pycompat.NumpyMean(wc[:nb]), nil
	case TailConfidence:
		c := clip(valid)
		return -pycompat.NumpyMean(c[len(c)-min(w, len(c)):]), nil
	case MinWindow:
		c := clip(valid)
		if len(c) < w {
			return -pycompat.NumpyMean(c), nil
		}
		return slices.Min(windowConfs(c, w)), nil
	case Entropy:
		return entropy(valid), nil
	default: // MinProb
		return -slices.Min(valid), nil
	}
}

// clip returns np.clip(x, -100, 0) as a new slice, with NumPy's
// comparisons (so −0 becomes +0, unlike Go's min).
func clip(x []float64) []float64 {
	c := make([]float64, len(x))
	for i, v := range x {
		if !(v > -100) {
			v = -100
		}
		if !(v < 0) {
			v = 0
		}
		c[i] = v
	}
	return c
}

// windowConfs returns −np.mean(c[j:j+w]) for every stride-1 window.
func windowConfs(c []float64, w int) []float64 {
	wc := make([]float64, len(c)-w+1)
	for j := range wc {
		wc[j] = -pycompat.NumpyMean(c[j : j+w])
	}
	return wc
}

// entropy is the prototype's "entropy" method on the valid values.
func entropy(valid []float64) float64 {
	p := make([]float64, len(valid))
	for i, v := range valid {
		p[i] = math.Exp(v)
	}
	s := pycompat.NumpySum(p)
	terms := make([]float64, len(p))
	for i := range p {
		p[i] /= s
		terms[i] = float64(p[i] * math.Log(p[i]+1e-10))
	}
	h := -pycompat.NumpySum(terms)
	return 1.0 - h/math.Log(float64(len(p)))
}

// ClipLogprob is the adapters' extraction-time safeguard applied to every
// sampled-token log-probability before it is stored: max(lp, −100) when lp
// is finite, −100 otherwise (NaN and ±Inf alike).
func ClipLogprob(lp float64) float64 {
	if math.IsNaN(lp) || math.IsInf(lp, 0) {
		return -100
	}
	return max(lp, -100)
}

// The defaults of should_generate_more_traces. The prototype's pipeline
// passes MaxTraces = 10 and the p90 threshold instead.
const (
	DefaultMinTraces = 3
	DefaultMaxTraces = 20
	DefaultThreshold = 0.7
)

// ShouldGenerateMoreTraces is should_generate_more_traces: true while fewer
// than minTraces traces exist; false once maxTraces are reached; false when
// current ≥ threshold (note ≥: equality stops); true otherwise. In the
// pipeline current is the mean confidence of all traces so far and threshold
// the 90th percentile of the warm-up confidences.
func ShouldGenerateMoreTraces(current float64, tracesSoFar, minTraces, maxTraces int, threshold float64) bool {
	if tracesSoFar < minTraces {
		return true
	}
	if tracesSoFar >= maxTraces {
		return false
	}
	if current >= threshold {
		return false
	}
	return true
}

// Threshold is the prototype's per-instance conf_bar (docs/prototype.md §3):
// float(np.percentile(warmup, percentile)) when usePercentile is true (the
// pipeline: percentile 90 of the first 3 trace confidences), else
// percentile/100. It is an error when the percentile is needed and warmup is
// empty or percentile is outside [0, 100] (NumPy raises).
func Threshold(warmup []float64, percentile float64, usePercentile bool) (float64, error) {
	if !usePercentile {
		return percentile / 100, nil
	}
	if len(warmup) == 0 {
		return 0, fmt.Errorf("prototype: threshold: no warm-up confidences")
	}
	if !(percentile >= 0 && percentile <= 100) {
		return 0, fmt.Errorf("prototype: threshold: percentile %v: must be in [0, 100]", percentile)
	}
	return confidence.Percentile(warmup, percentile), nil
}

// Aggregation is a compute_multi_trace_confidence aggregation.
type Aggregation string

// The aggregations of compute_multi_trace_confidence. The pipeline uses
// AggMean; "weighted" raises NotImplementedError in Python and is not
// offered.
const (
	AggMean Aggregation = "mean"
	AggMin  Aggregation = "min"
	AggMax  Aggregation = "max"
)

// MultiTraceConfidence is compute_multi_trace_confidence over the per-trace
// confidences: 0 when there are none, else np.mean, np.min or np.max.
func MultiTraceConfidence(confs []float64, agg Aggregation) (float64, error) {
	switch agg {
	case AggMean, AggMin, AggMax:
	default:
		return 0, fmt.Errorf("prototype: unknown aggregation %q", agg)
	}
	if len(confs) == 0 {
		return 0, nil
	}
	switch agg {
	case AggMin:
		return npExtreme(confs, func(a, b float64) bool { return a < b }), nil
	case AggMax:
		return npExtreme(confs, func(a, b float64) bool { return a > b }), nil
	}
	return pycompat.NumpyMean(confs), nil
}

// npExtreme is np.min/np.max: NaN propagates.
func npExtreme(x []float64, better func(a, b float64) bool) float64 {
	m := x[0]
	for _, v := range x {
		if math.IsNaN(v) {
			return v
		}
		if better(v, m) {
			m = v
		}
	}
	return m
}

// Mean is np.mean: the pairwise sum divided by the length, NaN for an empty
// slice (guard against it: docs/prototype.md §14). The pipeline's
// avg_confidence is float(np.mean(confidences)).
func Mean(x []float64) float64 {
	return pycompat.NumpyMean(x)
}

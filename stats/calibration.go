package stats

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"

	"gonum.org/v1/gonum/stat/distuv"
)

// Forecasts are probability forecasts p[i] of binary outcomes y[i], grouped
// by distinct forecast value, to evaluate their calibration on the data and
// on bootstrap resamples of it. Every method takes an optional weight
// vector w of instance counts (nil: each instance once), as the bootstrap
// produces; an instance of weight k counts as k copies.
//
// A Forecasts reuses internal buffers and is not safe for concurrent use.
type Forecasts struct {
	n       int
	p       []float64 // the forecasts, in input order
	outcome []bool
	y       []int     // outcome as 0/1
	value   []float64 // the distinct forecasts, increasing
	group   []int     // group (index into value) of each instance
	// scratch, one entry per group
	gw, gy []int
	tab    reciprocals
}

// NewForecasts prepares forecasts p (each in [0, 1]) of the outcomes.
func NewForecasts(p []float64, outcome []bool) (*Forecasts, error) {
	if len(p) != len(outcome) {
		return nil, fmt.Errorf("stats: forecasts: %d forecasts and %d outcomes: %w", len(p), len(outcome), ErrLength)
	}
	if len(p) == 0 {
		return nil, fmt.Errorf("stats: forecasts: no data: %w", ErrTooFew)
	}
	for i, v := range p {
		if !(v >= 0 && v <= 1) {
			return nil, fmt.Errorf("stats: forecasts: p[%d] = %v: want a probability in [0, 1]", i, v)
		}
	}
	value := slices.Clone(p)
	slices.Sort(value)
	value = slices.Compact(value)
	f := &Forecasts{n: len(p), p: p, outcome: outcome, value: value, group: make([]int, len(p)),
		gw: make([]int, len(value)), gy: make([]int, len(value))}
	f.y = make([]int, len(p))
	for i, v := range p {
		f.group[i] = sort.SearchFloat64s(value, v)
		if outcome[i] {
			f.y[i] = 1
		}
	}
	return f, nil
}

// Len returns the number of instances.
func (f *Forecasts) Len() int { return f.n }

// Groups returns the number of distinct forecast values.
func (f *Forecasts) Groups() int { return len(f.value) }

// aggregate fills f.gw and f.gy with each group's weight and weighted
// positives and returns the totals.
func (f *Forecasts) aggregate(w []int) (total, positives int) {
	return aggregateGroups(f.group, f.y, w, f.gw, f.gy)
}

// aggregateGroups sums the weights w (nil: 1 each) of the instances of each
// group into gw and their weighted 0/1 outcomes y into gy, and returns both
// totals. It has no branch on the data: a bootstrap's counts and the
// outcomes are unpredictable.
func aggregateGroups(group, y, w, gw, gy []int) (total, ones int) {
	clear(gw)
	clear(gy)
	if w == nil {
		for i, g := range group {
			gw[g]++
			gy[g] += y[i]
			ones += y[i]
		}
		return len(group), ones
	}
	for i, g := range group {
		k := w[i]
		gw[g] += k
		gy[g] += k * y[i]
		total += k
		ones += k * y[i]
	}
	return total, ones
}

// binOf returns the equal-mass bin of a group whose preceding groups weigh
// before in total: the number of cut points b·total/bins (b = 1 … bins−1)
// at or below before. A group is never split, so a bin ends at the first
// distinct value at which the cumulative weight reaches its cut point; bins
// that no group reaches are empty.
func binOf(before, total, bins int) int {
	// b·total ≤ before·bins ⇔ b ≤ before·bins/total, in integers.
	if total == 0 {
		return 0
	}
	return min(bins-1, before*bins/total)
}

// ReliabilityBin is one equal-mass bin of a reliability diagram.
type ReliabilityBin struct {
	// N is the bin's weight (its number of instances) and Positives its
	// weighted number of positive outcomes.
	N, Positives int
	// MeanForecast is the mean forecast of the bin, Observed the share of
	// positive outcomes, ForecastLo and ForecastHi the smallest and largest
	// forecast in it.
	MeanForecast, Observed float64
	ForecastLo, ForecastHi float64
}

// Bins returns the non-empty equal-mass bins of the forecasts (at most
// bins, in increasing order of forecast): the forecasts are sorted and cut
// where the cumulative weight reaches b·N/bins, except that instances with
// equal forecasts always share a bin, so heavily tied forecasts give fewer
// bins.
func (f *Forecasts) Bins(bins int, w []int) ([]ReliabilityBin, error) {
	if err := f.check(bins, w); err != nil {
		return nil, err
	}
	total, _ := f.aggregate(w)
	var out []ReliabilityBin
	cur := -1
	before := 0
	var sumP float64
	for g, v := range f.value {
		if f.gw[g] == 0 {
			continue
		}
		b := binOf(before, total, bins)
		if b != cur {
			if cur >= 0 {
				last := &out[len(out)-1]
				last.MeanForecast = sumP / float64(last.N)
				last.Observed = float64(last.Positives) / float64(last.N)
			}
			out = append(out, ReliabilityBin{ForecastLo: v})
			cur, sumP = b, 0
		}
		last := &out[len(out)-1]
		last.N += f.gw[g]
		last.Positives += f.gy[g]
		last.ForecastHi = v
		sumP += float64(f.gw[g]) * v
		before += f.gw[g]
	}
	if len(out) > 0 {
		last := &out[len(out)-1]
		last.MeanForecast = sumP / float64(last.N)
		last.Observed = float64(last.Positives) / float64(last.N)
	}
	return out, nil
}

// check validates a bin count and a weight vector.
func (f *Forecasts) check(bins int, w []int) error {
	if bins < 1 {
		return fmt.Errorf("stats: calibration: %d bins: want ≥ 1", bins)
	}
	return checkWeights(f.n, w)
}

// checkWeights validates instance counts.
func checkWeights(n int, w []int) error {
	if w == nil {
		return nil
	}
	if len(w) != n {
		return fmt.Errorf("stats: %d weights for %d instances: %w", len(w), n, ErrLength)
	}
	total := 0
	for i, k := range w {
		if k < 0 {
			return fmt.Errorf("stats: weight[%d] = %d: %w", i, k, ErrInvalidCount)
		}
		total += k
	}
	if total == 0 {
		return fmt.Errorf("stats: all weights are 0: %w", ErrTooFew)
	}
	return nil
}

// CalibrationStats are the calibration measures of forecasts of a binary
// outcome.
type CalibrationStats struct {
	// N is the number of instances (total weight), Positives those with a
	// positive outcome, Bins the number of non-empty equal-mass bins.
	N, Positives, Bins int
	// ECE is the expected calibration error with equal-mass bins,
	// Σ_b (n_b/N)·|ȳ_b − p̄_b| (Naeini et al. 2015; Guo et al. 2017).
	ECE float64
	// CE2Debiased is Kumar, Liang and Ma's (2019) debiased estimate of
	// the squared ℓ2 calibration error over the same bins,
	// Σ_b (n_b/N)·[(ȳ_b − p̄_b)² − ȳ_b(1 − ȳ_b)/(n_b − 1)], bins of one
	// instance contributing 0. It is unbiased for the binned squared error
	// and can be negative; CEDebiased = sqrt(max(0, CE2Debiased)) is their
	// reported debiased ℓ2 calibration error.
	CE2Debiased, CEDebiased float64
	// CE2Plugin is the plug-in squared ℓ2 calibration error over the same
	// bins, Σ_b (n_b/N)·(ȳ_b − p̄_b)²: the value the debiased estimator
	// targets on a bootstrap resample, which Estimate.Basic needs.
	CE2Plugin float64
	// Brier is the mean squared error (1/N)·Σ (p_i − y_i)² (Brier 1950)
	// and Reliability − Resolution + Uncertainty its decomposition
	// (Murphy 1973) over the groups of equal forecast value:
	// Reliability = (1/N)·Σ_k n_k (f_k − ȳ_k)², Resolution = (1/N)·Σ_k
	// n_k (ȳ_k − ȳ)², Uncertainty = ȳ(1 − ȳ). The identity is exact
	// because every forecast in a group equals f_k.
	Brier, Reliability, Resolution, Uncertainty float64
}

// Evaluate returns the calibration measures of the forecasts with bins
// equal-mass bins (see Bins) under the weights w (nil: each instance once).
func (f *Forecasts) Evaluate(bins int, w []int) (CalibrationStats, error) {
	if err := f.check(bins, w); err != nil {
		return CalibrationStats{}, err
	}
	return f.evaluate(bins, w), nil
}

// EvaluateCounts is Evaluate for the instance counts of a resample from
// BootstrapEstimates or PairedBootstrap, which it does not validate (its
// caller's job: Evaluate does), so that a bootstrap pays only for the
// statistics.
func (f *Forecasts) EvaluateCounts(bins int, counts []int) CalibrationStats {
	return f.evaluate(max(1, bins), counts)
}

// evaluate computes the measures under the weights w.
func (f *Forecasts) evaluate(bins int, w []int) CalibrationStats {
	total, positives := f.aggregate(w)
	f.tab.grow(total)
	inv := f.tab.inv
	s := CalibrationStats{N: total, Positives: positives}
	nt := float64(total)
	ybar := float64(positives) / nt
	s.Uncertainty = ybar * (1 - ybar)
	var brier, rel, res float64
	// Bin accumulators: weight, positives, Σ weight·forecast.
	cur, before := -1, 0
	var bw, by int
	var bp float64
	flush := func() {
		if bw == 0 {
			return
		}
		s.Bins++
		n := float64(bw)
		obs := float64(by) / n
		d := obs - bp/n
		s.ECE += math.Abs(float64(by)-bp) / nt
		s.CE2Plugin += n / nt * d * d
		if bw >= 2 {
			s.CE2Debiased += n / nt * (d*d - obs*(1-obs)/(n-1))
		}
	}
	next := 0 // before·bins at which the next bin starts: (cur + 1)·total
	for g, v := range f.value {
		// An empty group (weight 0 in a resample) adds 0 everywhere and
		// cannot start a bin of its own: no branch on it.
		wg := f.gw[g]
		yg := float64(f.gy[g])
		n := float64(wg)
		// Σ over the group of (v − y)²: yg outcomes 1, wg − yg outcomes 0;
		// n·(v − ȳ_g)² = (n·v − yg)²/n and n·(ȳ_g − ȳ)² = (yg − n·ȳ)²/n.
		brier += yg*(1-v)*(1-v) + (n-yg)*v*v
		dv, dr := n*v-yg, yg-n*ybar
		rel += dv * dv * inv[wg]
		res += dr * dr * inv[wg]
		if before*bins >= next { // binOf(before, total, bins) changes
			flush()
			cur = binOf(before, total, bins)
			next = (cur + 1) * total
			bw, by, bp = 0, 0, 0
		}
		bw += wg
		by += f.gy[g]
		bp += n * v
		before += wg
	}
	flush()
	s.Brier, s.Reliability, s.Resolution = brier/nt, rel/nt, res/nt
	s.CEDebiased = math.Sqrt(max(0, s.CE2Debiased))
	return s
}

// ECE returns the expected calibration error of forecasts p of outcomes y
// with bins equal-mass bins (see Forecasts.Bins).
func ECE(p []float64, y []bool, bins int) (float64, error) {
	f, err := NewForecasts(p, y)
	if err != nil {
		return 0, err
	}
	s, err := f.Evaluate(bins, nil)
	return s.ECE, err
}

// BrierScore is the Brier score with Murphy's decomposition (see
// CalibrationStats).
type BrierScore struct {
	Brier, Reliability, Resolution, Uncertainty float64
}

// Brier returns the Brier score of forecasts p of outcomes y with its
// decomposition over the groups of equal forecast value.
func Brier(p []float64, y []bool) (BrierScore, error) {
	f, err := NewForecasts(p, y)
	if err != nil {
		return BrierScore{}, err
	}
	s := f.evaluate(1, nil)
	return BrierScore{Brier: s.Brier, Reliability: s.Reliability, Resolution: s.Resolution, Uncertainty: s.Uncertainty}, nil
}

// Consistency is the distribution of the ECE of perfectly calibrated
// forecasts with the same values and binning as the data's.
type Consistency struct {
	// Mean is the mean simulated ECE: what ECE a perfectly calibrated
	// forecaster shows at this sample size and binning.
	Mean float64
	// Upper is the simulated ECE's quantile at the confidence level.
	Upper float64
	// P is the share of simulated ECEs at least as large as the observed
	// one, (1 + #{ECE* ≥ ECE})/(1 + resamples): the p-value of the
	// hypothesis that the forecasts are calibrated.
	P         float64
	Resamples int
	Seed      uint64
}

// consistencyStream is the second PCG seed word of the consistency
// resampling.
const consistencyStream = 0x636f6e7369737431 // "consist1"

// Consistency simulates outcomes y*_i ~ Bernoulli(p_i) — what a perfectly
// calibrated forecaster would see — resamples times, and compares the
// observed ECE with the simulated ones (consistency resampling, Bröcker and
// Smith 2007). The binning is that of the data (it depends on the forecasts
// only). Random numbers come from a math/rand/v2 PCG source seeded with
// seed.
func (f *Forecasts) Consistency(bins int, o BootstrapOptions) (Consistency, error) {
	if err := f.check(bins, nil); err != nil {
		return Consistency{}, err
	}
	if err := o.check(); err != nil {
		return Consistency{}, fmt.Errorf("stats: consistency: %w", err)
	}
	obs := f.evaluate(bins, nil).ECE
	// The bins depend on the forecasts only: fix each group's bin and size.
	total, _ := f.aggregate(nil)
	size := slices.Clone(f.gw)
	bin := make([]int, len(size))
	before := 0
	for g, n := range size {
		bin[g] = binOf(before, total, bins)
		before += n
	}
	src := rand.NewPCG(o.Seed, consistencyStream)
	rng := rand.New(src)
	binom := distuv.Binomial{Src: src}
	sims := make([]float64, o.Resamples)
	var sum float64
	ge := 0
	for b := range sims {
		// ECE = Σ_bins |Σ_{groups in bin} (Y_g − n_g·p_g)| / N with
		// Y_g ~ Binomial(n_g, p_g): a draw per instance for small groups,
		// a binomial draw for large ones (an isotonic map's few values).
		var e, acc float64
		cur := 0
		for g, v := range f.value {
			n := size[g]
			var y int
			switch {
			case v == 0:
			case v == 1:
				y = n
			case n < 64: // cheaper than a binomial draw
				for range n {
					if rng.Float64() < v {
						y++
					}
				}
			default:
				binom.N, binom.P = float64(n), v
				y = int(binom.Rand())
			}
			if bin[g] != cur {
				e += math.Abs(acc)
				acc, cur = 0, bin[g]
			}
			acc += float64(y) - float64(n)*v
		}
		e = (e + math.Abs(acc)) / float64(total)
		sims[b] = e
		sum += e
		// ≥ with a relative tolerance for rounding in the sums.
		if e >= obs-1e-12*math.Max(1, obs) {
			ge++
		}
	}
	slices.Sort(sims)
	return Consistency{
		Mean:      sum / float64(o.Resamples),
		Upper:     Quantile(sims, o.Confidence),
		P:         float64(1+ge) / float64(1+o.Resamples),
		Resamples: o.Resamples,
		Seed:      o.Seed,
	}, nil
}

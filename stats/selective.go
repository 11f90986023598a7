package stats

import (
	"fmt"
	"math"
	"slices"
	"sort"
)

// Selective ranks instances by a confidence score (higher = more confident)
// to evaluate selective prediction: keeping the most confident instances
// and abstaining on the rest, how does the risk (the share of failures
// among the kept) fall as the coverage (the share kept) shrinks
// (El-Yaniv and Wiener 2010; Geifman and El-Yaniv 2017)? Every method takes
// an optional weight vector w of instance counts (nil: each instance
// once), as the bootstrap produces.
//
// Instances with equal scores cannot be told apart by any threshold. The
// curve is therefore reported at the distinct scores, and the area under
// it (AURC) is the expectation over a uniformly random order of the tied
// instances: inside a tie of m instances with f failures the expected risk
// after keeping j of them is (F + j·f/m)/(K + j), K and F the instances
// and failures kept before it. The AURC then does not depend on the input
// order, as the AUROC's ties counting one half.
//
// A Selective reuses internal buffers and is not safe for concurrent use.
type Selective struct {
	n      int
	fail   []int     // failure as 0/1
	value  []float64 // distinct scores, decreasing
	group  []int
	gw, gf []int
	tab    reciprocals
}

// NewSelective prepares scores (finite) and failures (true: the instance
// counts toward the risk, such as a wrong answer).
func NewSelective(score []float64, failure []bool) (*Selective, error) {
	if len(score) != len(failure) {
		return nil, fmt.Errorf("stats: selective: %d scores and %d outcomes: %w", len(score), len(failure), ErrLength)
	}
	if len(score) == 0 {
		return nil, fmt.Errorf("stats: selective: no data: %w", ErrTooFew)
	}
	if err := checkFinite("score", score); err != nil {
		return nil, fmt.Errorf("stats: selective: %w", err)
	}
	asc := slices.Clone(score)
	slices.Sort(asc)
	asc = slices.Compact(asc)
	s := &Selective{n: len(score), fail: make([]int, len(score)), value: make([]float64, len(asc)), group: make([]int, len(score)),
		gw: make([]int, len(asc)), gf: make([]int, len(asc))}
	for i, v := range asc {
		s.value[len(asc)-1-i] = v
	}
	for i, v := range score {
		s.group[i] = len(asc) - 1 - sort.SearchFloat64s(asc, v)
		if failure[i] {
			s.fail[i] = 1
		}
	}
	return s, nil
}

// Len returns the number of instances.
func (s *Selective) Len() int { return s.n }

// aggregate fills the groups' weights and failures and returns the totals.
func (s *Selective) aggregate(w []int) (total, failures int) {
	return aggregateGroups(s.group, s.fail, w, s.gw, s.gf)
}

// reciprocals holds inv[k] = 1/k (inv[0] = 0) and harm[k] = H(k) =
// Σ_{j=1..k} 1/j for k up to its size, so that the hot loops multiply
// instead of divide.
type reciprocals struct {
	inv, harm []float64
}

// grow makes the tables cover k.
func (r *reciprocals) grow(k int) {
	if len(r.inv) == 0 {
		r.inv, r.harm = []float64{0}, []float64{0} // inv[0] = 0: an empty group adds 0
	}
	for j := len(r.inv); j <= k; j++ {
		r.inv = append(r.inv, 1/float64(j))
		r.harm = append(r.harm, r.harm[j-1]+1/float64(j))
	}
}

// RiskCoveragePoint is a point of the risk–coverage curve: keeping the
// instances with score ≥ Threshold.
type RiskCoveragePoint struct {
	// Threshold is the smallest score kept; Kept the instances kept and
	// Failures the failures among them.
	Threshold      float64
	Kept, Failures int
	Coverage, Risk float64
}

// Curve returns the risk–coverage curve at every distinct score with a
// positive weight, from the most confident (lowest coverage) to full
// coverage.
func (s *Selective) Curve(w []int) ([]RiskCoveragePoint, error) {
	if err := checkWeights(s.n, w); err != nil {
		return nil, err
	}
	total, _ := s.aggregate(w)
	var out []RiskCoveragePoint
	kept, fails := 0, 0
	for g, v := range s.value {
		if s.gw[g] == 0 {
			continue
		}
		kept += s.gw[g]
		fails += s.gf[g]
		out = append(out, RiskCoveragePoint{Threshold: v, Kept: kept, Failures: fails,
			Coverage: float64(kept) / float64(total), Risk: float64(fails) / float64(kept)})
	}
	return out, nil
}

// SelectiveStats summarise a risk–coverage curve.
type SelectiveStats struct {
	// N is the number of instances (total weight) and Failures the
	// failures among them; Risk = Failures/N is the risk at full coverage.
	N, Failures int
	Risk        float64
	// AURC is the area under the risk–coverage curve, the mean over k = 1
	// … N of the risk of the k most confident instances (ties in
	// expectation); Oracle is the AURC of the best order (every failure
	// last), Σ_{j=1..F} j/(N − F + j) / N; Excess = AURC − Oracle is
	// Geifman et al.'s (2019) E-AURC; Random = Risk is the expected AURC
	// of a uniformly random order (the expected risk of any k instances
	// drawn at random is Risk).
	AURC, Oracle, Excess, Random float64
	// AUROC is the probability that a random success scores higher than a
	// random failure, ties counting one half (NaN with one class only).
	AUROC float64
	// Coverage is the largest coverage whose risk is at most the target
	// risk, keeping every instance with score ≥ Threshold (0 and NaN
	// when no threshold achieves it).
	Coverage, Threshold float64
}

// Evaluate returns the selective-prediction summary with target risk target
// under the weights w (nil: each instance once).
func (s *Selective) Evaluate(target float64, w []int) (SelectiveStats, error) {
	if !(target >= 0 && target <= 1) {
		return SelectiveStats{}, fmt.Errorf("stats: selective: target risk %v: want a value in [0, 1]", target)
	}
	if err := checkWeights(s.n, w); err != nil {
		return SelectiveStats{}, err
	}
	return s.evaluate(target, w), nil
}

// EvaluateCounts is Evaluate for the instance counts of a resample from
// BootstrapEstimates or PairedBootstrap, which it does not validate (its
// caller's job: Evaluate does).
func (s *Selective) EvaluateCounts(target float64, counts []int) SelectiveStats {
	return s.evaluate(target, counts)
}

func (s *Selective) evaluate(target float64, w []int) SelectiveStats {
	total, failures := s.aggregate(w)
	st := SelectiveStats{N: total, Failures: failures, Coverage: 0, Threshold: math.NaN()}
	nt := float64(total)
	st.Risk = float64(failures) / nt
	st.Random = st.Risk
	// Σ_k risk(k) over the curve, ties in expectation:
	// Σ_{j=1..m} (F + j·r)/(K + j) = f + (F − K·r)·(H(K+m) − H(K)),
	// with r = f/m.
	var area float64
	kept, fails := 0, 0
	// For the AUROC: successes above each failure.
	var aucNum float64
	successes := total - failures
	s.tab.grow(total)
	hk, inv := s.tab.harm, s.tab.inv
	best, bestG := 0, -1
	for g, m := range s.gw {
		// One formula for every group, without branches on the data (the
		// bootstrap's counts are unpredictable): an empty group adds 0
		// (inv[0] = 0 and H(K) − H(K) = 0), a single instance (m = 1)
		// adds (F + f)/(K + 1), the risk after keeping it.
		f := s.gf[g]
		r := float64(f) * inv[m]
		area += float64(f) + (float64(fails)-float64(kept)*r)*(hk[kept+m]-hk[kept])
		// Failures in this group are outscored by the successes kept
		// before it, and tie with this group's successes.
		aucNum += float64(f) * (float64(kept-fails) + 0.5*float64(m-f))
		kept += m
		fails += f
		if float64(fails) <= target*float64(kept) {
			best, bestG = kept, g
		}
	}
	if best > 0 {
		// The threshold is the last non-empty group's score up to bestG.
		for bestG > 0 && s.gw[bestG] == 0 {
			bestG--
		}
		st.Coverage, st.Threshold = float64(best)/nt, s.value[bestG]
	}
	st.AURC = area / nt
	// Oracle: Σ_{j=1..F} j/(S + j) = F − S·(H(N) − H(S)), S = N − F.
	sc := total - failures
	st.Oracle = (float64(failures) - float64(sc)*(hk[total]-hk[sc])) / nt
	st.Excess = st.AURC - st.Oracle
	st.AUROC = math.NaN()
	if failures > 0 && successes > 0 {
		st.AUROC = aucNum / (float64(failures) * float64(successes))
	}
	return st
}

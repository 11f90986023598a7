package confidence

import (
	"fmt"
	"math"

	"github.com/deepconf/deepconf/internal/pycompat"
)

// SentinelLogprob is the cut-off for sentinel log-probabilities: entries at
// or below it are dropped. vLLM's OpenAI layer reports −inf as −9999.0; no
// real log-probability of a float32 or bfloat16 softmax is that small.
const SentinelLogprob = -9000.0

// MaxK is the largest k a Scorer accepts.
const MaxK = 256

// Variant selects the definition of the token confidence C_i.
type Variant int

const (
	// TopK is the paper's definition (App. G.4, the conf-stop vLLM fork):
	// C_i = −(1/k) Σ_{j≤k} log P_i(j) over the k highest log-probabilities
	// of position i. The sampled token's own entry is not used. No
	// rounding.
	TopK Variant = iota
	// Official reproduces utils.compute_confidence of the official code
	// (facebookresearch/deepconf): it averages the entries of vLLM's
	// per-position dict, which holds the top-k entries plus the sampled
	// token when the sampled token is not among them (k or k+1 values,
	// sampled token first), with NumPy's summation, and rounds −mean to 3
	// decimals like Python's round.
	Official
)

// String returns "topk" or "official".
func (v Variant) String() string {
	switch v {
	case TopK:
		return "topk"
	case Official:
		return "official"
	}
	return fmt.Sprintf("Variant(%d)", int(v))
}

// Position holds the log-probabilities an engine reported for one generated
// token (one entry of a stream, not one chunk).
type Position struct {
	// Logprob is the sampled token's log-probability. Only the Official
	// variant uses it.
	Logprob float64
	// ID is the sampled token's vocabulary id, or a negative value when
	// unknown (0 is a valid id: set −1 when the engine reports none).
	ID int32
	// Top holds the highest log-probabilities of the position's
	// distribution in descending order. Only the first K are used.
	Top []float64
	// TopIDs holds the ids of Top, or is nil. The Official variant uses
	// it, when its length equals len(Top) and ID is known, to decide
	// whether the sampled token is among the top-k; otherwise it compares
	// values (see Scorer.Score).
	TopIDs []int32
}

// Scorer computes token confidences. The zero value is not usable; build one
// with NewScorer.
type Scorer struct {
	k       int
	variant Variant
}

// NewScorer returns a Scorer that uses the first k entries of each
// position's top list (1 ≤ k ≤ MaxK; the paper uses k = PaperK = 20).
func NewScorer(k int, v Variant) (Scorer, error) {
	if k < 1 || k > MaxK {
		return Scorer{}, fmt.Errorf("confidence: top-k %d: must be in 1..%d", k, MaxK)
	}
	if v != TopK && v != Official {
		return Scorer{}, fmt.Errorf("confidence: unknown variant %d", int(v))
	}
	return Scorer{k: k, variant: v}, nil
}

// K returns the scorer's k.
func (s Scorer) K() int { return s.k }

// Variant returns the scorer's variant.
func (s Scorer) Variant() Variant { return s.variant }

// TokenScore is the confidence of one token together with the accounting of
// the log-probabilities it was computed from.
type TokenScore struct {
	// C is the token confidence (≥ 0; higher means more confident). It is
	// 0 when OK is false.
	C float64
	// OK is false when no usable log-probability was left ("no data"):
	// such a token is counted but must not enter a group window.
	OK bool
	// KEff is the number of top-k entries averaged (k_effective). It is
	// smaller than k when the engine sent fewer entries or entries were
	// dropped.
	KEff int
	// SampledAdded reports that the Official variant averaged the sampled
	// token's log-probability as an extra value because the sampled token
	// was not among the top-k.
	SampledAdded bool
	// NonFinite counts dropped NaN and ±Inf entries (the sampled entry
	// included, in the Official variant).
	NonFinite int
	// Sentinel counts dropped entries ≤ SentinelLogprob.
	Sentinel int
	// Clamped counts positive entries (impossible for a log-probability,
	// they come from rounding in the engine) that were clamped to 0.
	Clamped int
}

// Dropped returns the number of dropped entries.
func (t TokenScore) Dropped() int { return t.NonFinite + t.Sentinel }

// usable classifies one log-probability: it reports whether lp can be
// averaged and returns it clamped to ≤ 0, updating the accounting.
func (t *TokenScore) usable(lp float64) (float64, bool) {
	switch {
	case math.IsNaN(lp) || math.IsInf(lp, 0):
		t.NonFinite++
		return 0, false
	case lp <= SentinelLogprob:
		t.Sentinel++
		return 0, false
	case lp > 0:
		t.Clamped++
		return 0, true
	}
	return lp, true
}

// Score computes the confidence of one position.
//
// Robustness rules, for both variants: NaN, ±Inf and entries ≤
// SentinelLogprob are dropped and counted, never averaged; entries > 0 are
// clamped to 0 and counted; the divisor is the number of entries actually
// averaged (so fewer than k entries give a mean over KEff values); with no
// usable entry the result has OK == false and C == 0.
//
// The Official variant decides that the sampled token lies outside the
// top-k by id when ID ≥ 0 and len(TopIDs) == len(Top), and otherwise by
// value: outside when Logprob is smaller than every one of the first k
// entries (a tie in value, or a NaN, counts as inside). With an empty top
// list the sampled token is averaged alone, as vLLM's dict would hold only
// it.
//
// Score does not allocate.
func (s Scorer) Score(p Position) TokenScore {
	top := p.Top
	if len(top) > s.k {
		top = top[:s.k]
	}
	if s.variant == Official {
		return s.scoreOfficial(p, top)
	}
	var t TokenScore
	sum, n := 0.0, 0
	for _, lp := range top {
		if lp > SentinelLogprob && lp <= 0 {
			// Fast path: an ordinary log-probability (false for NaN).
			sum += lp
			n++
		} else if v, ok := t.usable(lp); ok {
			sum += v
			n++
		}
	}
	t.KEff = n
	if n == 0 {
		return t
	}
	t.C = -sum / float64(n)
	if t.C == 0 {
		t.C = 0 // −0 → 0
	}
	t.OK = true
	return t
}

func (s Scorer) scoreOfficial(p Position, top []float64) TokenScore {
	// A stack buffer for the averaged values; the small one for the usual
	// k ≤ 31 avoids clearing 2 KiB per token.
	if len(top) < 32 {
		var buf [32]float64
		return officialScore(p, top, buf[:0])
	}
	var buf [MaxK + 1]float64
	return officialScore(p, top, buf[:0])
}

// officialScore computes the Official variant, collecting the averaged
// values in vals (capacity ≥ len(top)+1).
func officialScore(p Position, top []float64, vals []float64) TokenScore {
	var t TokenScore
	// vLLM's dict order: the sampled token first, then the remaining
	// top-k entries in rank order.
	inside, at := sampledInTop(p, top)
	if !inside {
		if v, ok := t.usable(p.Logprob); ok {
			vals = append(vals, v)
			t.SampledAdded = true
		}
	} else if at >= 0 {
		if v, ok := t.usable(top[at]); ok {
			vals = append(vals, v)
			t.KEff++
		}
	}
	for i, lp := range top {
		if inside && i == at {
			continue
		}
		if v, ok := t.usable(lp); ok {
			vals = append(vals, v)
			t.KEff++
		}
	}
	if len(vals) == 0 {
		return t
	}
	t.C = pycompat.Round(-pycompat.NumpyMean(vals))
	if t.C == 0 {
		t.C = 0 // −0 → 0
	}
	t.OK = true
	return t
}

// sampledInTop reports whether the sampled token is among top and, if so,
// its index there.
func sampledInTop(p Position, top []float64) (bool, int) {
	if p.ID >= 0 && len(p.TopIDs) == len(p.Top) {
		for i := range top {
			if p.TopIDs[i] == p.ID {
				return true, i
			}
		}
		return false, -1
	}
	for i, lp := range top {
		if lp == p.Logprob {
			return true, i
		}
	}
	for _, lp := range top {
		if !(p.Logprob < lp) {
			// Not below every entry (or NaN involved): treat as inside
			// but without a matching entry to move to the front.
			return true, -1
		}
	}
	return false, -1
}

// Counts accumulates the accounting of many TokenScores, typically of one
// trace. It is a plain value that callers can store (JSON field names are
// stable).
type Counts struct {
	// Tokens is the number of positions scored.
	Tokens int `json:"tokens"`
	// Scored is the number of positions with a confidence (OK).
	Scored int `json:"scored"`
	// Empty is the number of positions without any usable entry.
	Empty int `json:"empty"`
	// Short is the number of scored positions with KEff < k.
	Short int `json:"short"`
	// SampledAdded is the number of positions where the Official variant
	// averaged the sampled token in.
	SampledAdded int `json:"sampled_added"`
	// NonFinite is the number of dropped NaN/±Inf entries.
	NonFinite int `json:"non_finite"`
	// Sentinel is the number of dropped entries ≤ SentinelLogprob.
	Sentinel int `json:"sentinel"`
	// Clamped is the number of positive entries clamped to 0.
	Clamped int `json:"clamped"`
	// MinKEff is the smallest KEff of a scored position (0 when none).
	MinKEff int `json:"min_k_eff"`
}

// Add records one score computed with top-k size k.
func (c *Counts) Add(t TokenScore, k int) {
	c.Tokens++
	c.NonFinite += t.NonFinite
	c.Sentinel += t.Sentinel
	c.Clamped += t.Clamped
	if t.SampledAdded {
		c.SampledAdded++
	}
	if !t.OK {
		c.Empty++
		return
	}
	if t.KEff < k {
		c.Short++
	}
	if c.Scored == 0 || t.KEff < c.MinKEff {
		c.MinKEff = t.KEff
	}
	c.Scored++
}

// Dropped returns the number of dropped entries.
func (c Counts) Dropped() int { return c.NonFinite + c.Sentinel }

package llamacpp

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"

	"github.com/deepconf/deepconf/engine"
)

// This file holds the Go side of a decode step: one fused pass over a
// sequence's float32 logits that finds the maximum, the log-sum-exp and the
// top candidates, followed by sampling from those candidates. It runs once per
// live trace per step, over the whole vocabulary (151,936 entries for Qwen3),
// so it avoids allocations, sorting the vocabulary, and math.Exp on the hot
// loop.

// exp2Table[j] = 2^(j/64).
var exp2Table = func() (t [64]float64) {
	for j := range t {
		t[j] = math.Exp2(float64(j) / 64)
	}
	return t
}()

// Constants of the table-driven exponential: x = (64k + j)·ln2/64 + r with
// |r| ≤ ln2/128, so e^x = 2^k · 2^(j/64) · e^r and a cubic suffices for e^r
// (relative error < 4e-11).
const (
	expC     = 64 * 1.4426950408889634         // 64/ln2
	expLn2Hi = 6.93147180369123816490e-01 / 64 // ln2/64, high part
	expLn2Lo = 1.90821492927058770002e-10 / 64 // ln2/64, low part
	expMagic = 6755399441055744.0              // 1.5·2^52: adding it rounds to an integer
	expLo    = -80.0                           // inputs below are clamped: e^-80 ≈ 1.8e-35
	expHi    = 700.0                           // inputs above are clamped (float64 overflow is at 709)
)

// fastExp returns e^x with a relative error below 1e-10 for
// expLo ≤ x ≤ expHi; x outside is clamped to that range. It is the scalar form
// of the loop in sumExp, for the few places off the hot path.
func fastExp(x float64) float64 {
	x = min(max(x, expLo), expHi)
	t := x*expC + expMagic
	n := t - expMagic
	r := x - n*expLn2Hi - n*expLn2Lo
	b := int64(math.Float64bits(t)&(1<<52-1)) - 1<<51 // = n as an integer
	p := 1 + r*(1+r*(0.5+r*(1.0/6)))
	return p * exp2Table[b&63] * math.Float64frombits(uint64((b>>6)+1023)<<52)
}

// sumExp returns Σ exp((l − shift)·scale) over logits. The exponential is
// fastExp written out by hand and unrolled by two (the compiler does not
// inline fastExp, and the call would cost more than the arithmetic). Each
// argument is clamped to [expLo, expHi], so a shift far below the maximum
// logit overflows only past e^700, which the caller checks for.
func sumExp(logits []float32, shift float32, scale float64) float64 {
	var s0, s1 float64
	i := 0
	for ; i+2 <= len(logits); i += 2 {
		q := logits[i : i+2 : i+2]
		x0 := min(max(float64(q[0]-shift)*scale, expLo), expHi)
		x1 := min(max(float64(q[1]-shift)*scale, expLo), expHi)
		t0 := x0*expC + expMagic
		t1 := x1*expC + expMagic
		n0 := t0 - expMagic
		n1 := t1 - expMagic
		r0 := x0 - n0*expLn2Hi - n0*expLn2Lo
		r1 := x1 - n1*expLn2Hi - n1*expLn2Lo
		b0 := int64(math.Float64bits(t0)&(1<<52-1)) - 1<<51
		b1 := int64(math.Float64bits(t1)&(1<<52-1)) - 1<<51
		p0 := 1 + r0*(1+r0*(0.5+r0*(1.0/6)))
		p1 := 1 + r1*(1+r1*(0.5+r1*(1.0/6)))
		s0 += p0 * exp2Table[b0&63] * math.Float64frombits(uint64((b0>>6)+1023)<<52)
		s1 += p1 * exp2Table[b1&63] * math.Float64frombits(uint64((b1>>6)+1023)<<52)
	}
	if i < len(logits) {
		s0 += fastExp(float64(logits[i]-shift) * scale)
	}
	return s0 + s1
}

// scan is the result of the fused pass.
type scan struct {
	max float32 // largest logit
	lse float64 // log Σ exp(logits)
	// ids and vals hold the candidates, sorted by descending logit (ties:
	// ascending id).
	ids  []int32
	vals []float32
}

// scanner owns the reusable buffers of the fused pass and of sampling.
type scanner struct {
	heapIDs  []int32
	heapVals []float32
	weights  []float64
	order    []int32 // full-vocabulary fallback
}

// scan makes one pass over logits computing the maximum, the log-sum-exp and
// the n largest logits. The returned slices alias the scanner's buffers.
func (s *scanner) scan(logits []float32, n int) scan {
	if n > len(logits) {
		n = len(logits)
	}
	if cap(s.heapIDs) < n {
		s.heapIDs = make([]int32, 0, n)
		s.heapVals = make([]float32, 0, n)
	}
	ids, vals := s.heapIDs[:0], s.heapVals[:0]

	// Pass 1: a min-heap of the n largest logits (vals[0] is the smallest
	// kept). Comparisons only; the branch that changes the heap is rarely
	// taken once it is full, and there is no loop-carried dependency.
	thr := float32(math.Inf(-1))
	for i, l := range logits {
		if l > thr || len(ids) < n {
			if len(ids) < n {
				ids, vals = append(ids, int32(i)), append(vals, l)
				siftUp(ids, vals, len(ids)-1)
			} else {
				ids[0], vals[0] = int32(i), l
				siftDown(ids, vals, 0)
			}
			if len(ids) == n {
				thr = vals[0]
			}
		}
	}
	// Heap order → descending by logit, ascending id among equals.
	sort.Sort(byLogit{ids, vals})
	s.heapIDs, s.heapVals = ids, vals
	// Pass 2: the log-sum-exp relative to the maximum.
	m := vals[0]
	return scan{max: m, lse: float64(m) + math.Log(sumExp(logits, m, 1)), ids: ids, vals: vals}
}

// less orders the heap: a smaller logit is "less"; among equal logits the
// larger id is "less", so that the smallest id survives eviction.
func less(ids []int32, vals []float32, i, j int) bool {
	if vals[i] != vals[j] {
		return vals[i] < vals[j]
	}
	return ids[i] > ids[j]
}

func siftUp(ids []int32, vals []float32, i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !less(ids, vals, i, p) {
			return
		}
		ids[i], ids[p] = ids[p], ids[i]
		vals[i], vals[p] = vals[p], vals[i]
		i = p
	}
}

func siftDown(ids []int32, vals []float32, i int) {
	n := len(ids)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		c := l
		if r := l + 1; r < n && less(ids, vals, r, l) {
			c = r
		}
		if !less(ids, vals, c, i) {
			return
		}
		ids[i], ids[c] = ids[c], ids[i]
		vals[i], vals[c] = vals[c], vals[i]
		i = c
	}
}

type byLogit struct {
	ids  []int32
	vals []float32
}

func (b byLogit) Len() int           { return len(b.ids) }
func (b byLogit) Less(i, j int) bool { return less(b.ids, b.vals, j, i) }
func (b byLogit) Swap(i, j int) {
	b.ids[i], b.ids[j] = b.ids[j], b.ids[i]
	b.vals[i], b.vals[j] = b.vals[j], b.vals[i]
}

// candidates is how many top logits the fused pass keeps for sampling with
// p: the top-k when set, else a nucleus window that the exact fallback
// extends when the nucleus is wider.
func candidates(p engine.Sampling) int {
	if p.Temperature == 0 {
		return 1
	}
	if p.TopK > 0 {
		return p.TopK
	}
	return 256
}

// pick samples a token from the scan's candidates with temperature, top-k and
// top-p, in the order HF transformers and vLLM apply them: temperature, then
// top-k, then top-p on the tempered distribution. When the nucleus is not
// contained in the candidates (no top-k and a flat distribution) it falls back
// to an exact pass over the whole vocabulary. u is a uniform draw in [0, 1).
func (s *scanner) pick(logits []float32, sc scan, p engine.Sampling, u float64) int32 {
	if p.Temperature == 0 || len(sc.ids) == 1 {
		return sc.ids[0]
	}
	invT := 1 / p.Temperature
	w := s.weights[:0]
	total := 0.0
	for _, v := range sc.vals {
		x := math.Exp(float64(v-sc.max) * invT)
		w = append(w, x)
		total += x
	}
	s.weights = w
	if p.TopK == 0 {
		// The candidates are a window of the vocabulary: normalise over
		// the whole vocabulary instead.
		full := sumExp(logits, sc.max, invT)
		if p.TopP >= 1 || total < p.TopP*full {
			return s.pickFull(logits, sc.max, invT, p.TopP, full, u)
		}
		total = full
	}
	// Top-p: keep the smallest prefix whose mass reaches TopP (always at
	// least one token), then renormalise over it.
	keep := len(w)
	if p.TopP < 1 {
		c := 0.0
		for i, x := range w {
			c += x
			if c >= p.TopP*total {
				keep = i + 1
				break
			}
		}
		total = 0
		for _, x := range w[:keep] {
			total += x
		}
	}
	target := u * total
	c := 0.0
	for i, x := range w[:keep] {
		c += x
		if target < c {
			return sc.ids[i]
		}
	}
	return sc.ids[keep-1]
}

// pickFull samples exactly over the whole vocabulary: with top-p, by sorting
// the vocabulary by logit (slow, and only reached without top-k when the
// nucleus is wider than the candidate window); without top-p, by one scan of
// the cumulative tempered mass.
func (s *scanner) pickFull(logits []float32, max float32, invT, topP, full, u float64) int32 {
	if topP >= 1 {
		target := u * full
		c := 0.0
		last := int32(0)
		for i, l := range logits {
			c += fastExp(float64(l-max) * invT)
			if target < c {
				return int32(i)
			}
			last = int32(i)
		}
		return last
	}
	if cap(s.order) < len(logits) {
		s.order = make([]int32, len(logits))
	}
	order := s.order[:len(logits)]
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int {
		switch {
		case logits[a] > logits[b]:
			return -1
		case logits[a] < logits[b]:
			return 1
		}
		return int(a - b)
	})
	keep, c := len(order), 0.0
	for i, id := range order {
		c += fastExp(float64(logits[id]-max) * invT)
		if c >= topP*full {
			keep = i + 1
			break
		}
	}
	target := u * c
	c = 0
	for _, id := range order[:keep] {
		c += fastExp(float64(logits[id]-max) * invT)
		if target < c {
			return id
		}
	}
	return order[keep-1]
}

// newRand returns the per-trace random source for seed.
func newRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

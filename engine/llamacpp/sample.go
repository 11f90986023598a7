package llamacpp

import (
	"math"
	"math/rand/v2"
	"slices"

	"github.com/deepconf/deepconf/engine"
)

// This file holds the Go side of a decode step: a fused pass over a
// sequence's float32 logits that finds the top candidates (and so the
// maximum) in a first sweep and the log-sum-exp in a second, while the 600 KB
// of logits are still in the core's L2 cache, followed by sampling from the
// candidates. It runs once per live trace per step, over the whole vocabulary
// (151,936 entries for Qwen3), so it avoids allocations, sorting the
// vocabulary, branches per logit, and math.Exp on the hot loops.

// The exponential of the hot loop is table-driven: with y = x·512/ln2
// rounded to the integer n = 512k + j and f = y − n ∈ [−½, ½],
//
//	e^x = 2^k · 2^(j/512) · e^r,  r = f·ln2/512, |r| ≤ ln2/1024,
//
// and the quadratic 1 + r + r²/2, written in f, suffices for e^r (relative
// error < 6e-11, the cubic term r³/6). 2^k is added to the exponent field of
// the table entry 2^(j/512) with an integer addition, and n is read from the
// bits of y + 1.5·2^52 (adding that constant rounds y to an integer). The
// argument is reduced from float64(logit) − shift, which is exact for float32
// logits, so the only roundings are those of a few float64 operations.
//
// Measured alternatives (BENCHMARKS.md): a 64-entry table with a cubic costs
// about 3 more instructions per logit; float32 arithmetic is no faster
// without SIMD and over 1000 times less accurate; Go's min and max builtins
// cost about 6 instructions each because they handle NaN and signed zeros,
// against 2 for the predictable branch used here.

// exp2Bits[j] holds the bits of 2^(j/512) (4 KiB: it stays in L1).
var exp2Bits = func() (t [512]uint64) {
	for j := range t {
		t[j] = math.Float64bits(math.Exp2(float64(j) / 512))
	}
	return t
}()

const (
	expC      = 512 * 1.4426950408889634 // 512/ln2
	expQ1     = 0.6931471805599453 / 512 // ln2/512: e^r = 1 + f·(Q1 + f·Q2)
	expQ2     = expQ1 * expQ1 / 2
	expMagic  = 6755399441055744.0 // 1.5·2^52
	magicBits = 0x4338000000000000 // math.Float64bits(expMagic)
	expLo     = -80.0              // smaller x are clamped: e^-80 ≈ 1.8e-35
	expHi     = 700.0              // larger x are clamped (float64 overflow is at 709)
	yLo       = expLo * expC       // expLo in units of ln2/512
)

// exp512 returns e^x for y = x·512/ln2, for expLo ≤ x ≤ expHi. It is the
// scalar form of the loop body of sumExp; the two compute the same bits for
// the same y.
func exp512(y float64) float64 {
	t := y + expMagic
	f := y - (t - expMagic)
	b := math.Float64bits(t) - magicBits // n = 512k + j, two's complement
	p := 1 + f*(expQ1+f*expQ2)
	return p * math.Float64frombits(exp2Bits[b&511]+(b>>9)<<52)
}

// fastExp returns e^x with a relative error below 1e-10 for
// expLo ≤ x ≤ expHi; x outside is clamped to that range.
func fastExp(x float64) float64 {
	return exp512(min(max(x, expLo), expHi) * expC)
}

// expTerm returns exp((l − shift)·scale) as the loop of sumExp computes it,
// with c = scale·512/ln2.
func expTerm(l float32, shift, c float64) float64 {
	y := (float64(l) - shift) * c
	if y < yLo {
		y = yLo
	}
	return exp512(y)
}

// sumExp returns Σ exp((l − shift)·scale) over logits, for scale > 0.
// Exponents below expLo are clamped to it (so −Inf logits count as e^-80);
// exponents above expHi are not checked: callers pass the largest logit as
// shift, so every exponent is ≤ 0. It is the hot loop of a decode step:
// exp512 written out by hand (the compiler does not inline it) and unrolled by
// four, with four accumulators. Each term equals expTerm(l, shift,
// scale·512/ln2) bit for bit; term i goes to accumulator i mod 4, and the
// accumulators are added as (s0 + s1) + (s2 + s3).
func sumExp(logits []float32, shift float32, scale float64) float64 {
	s, c := float64(shift), scale*expC
	s0, s1, s2, s3 := 0.0, 0.0, 0.0, 0.0
	l := logits
	for len(l) >= 4 {
		y0 := (float64(l[0]) - s) * c
		y1 := (float64(l[1]) - s) * c
		y2 := (float64(l[2]) - s) * c
		y3 := (float64(l[3]) - s) * c
		l = l[4:]
		// Predictable branches: far cheaper than max(y, yLo).
		if y0 < yLo {
			y0 = yLo
		}
		if y1 < yLo {
			y1 = yLo
		}
		if y2 < yLo {
			y2 = yLo
		}
		if y3 < yLo {
			y3 = yLo
		}
		t0, t1, t2, t3 := y0+expMagic, y1+expMagic, y2+expMagic, y3+expMagic
		f0 := y0 - (t0 - expMagic)
		f1 := y1 - (t1 - expMagic)
		f2 := y2 - (t2 - expMagic)
		f3 := y3 - (t3 - expMagic)
		b0 := math.Float64bits(t0) - magicBits
		b1 := math.Float64bits(t1) - magicBits
		b2 := math.Float64bits(t2) - magicBits
		b3 := math.Float64bits(t3) - magicBits
		p0 := 1 + f0*(expQ1+f0*expQ2)
		p1 := 1 + f1*(expQ1+f1*expQ2)
		p2 := 1 + f2*(expQ1+f2*expQ2)
		p3 := 1 + f3*(expQ1+f3*expQ2)
		s0 += p0 * math.Float64frombits(exp2Bits[b0&511]+(b0>>9)<<52)
		s1 += p1 * math.Float64frombits(exp2Bits[b1&511]+(b1>>9)<<52)
		s2 += p2 * math.Float64frombits(exp2Bits[b2&511]+(b2>>9)<<52)
		s3 += p3 * math.Float64frombits(exp2Bits[b3&511]+(b3>>9)<<52)
	}
	acc := [4]float64{s0, s1, s2, s3}
	for i, x := range l {
		acc[i] += expTerm(x, s, c)
	}
	return (acc[0] + acc[1]) + (acc[2] + acc[3])
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

// scanner owns the reusable buffers of the fused pass and of sampling. A
// scanner is used by one goroutine at a time.
type scanner struct {
	heapIDs  []int32
	heapVals []float32
	weights  []float64
	order    []int32 // full-vocabulary fallback
}

// scanBlock is the number of logits the top-n pass checks at once.
const scanBlock = 8

// scan makes two passes over logits computing the maximum, the log-sum-exp
// and the n ≥ 1 largest logits. The returned slices alias the scanner's
// buffers.
func (s *scanner) scan(logits []float32, n int) scan {
	n = max(1, min(n, len(logits)))
	if cap(s.heapIDs) < n {
		s.heapIDs = make([]int32, 0, n)
		s.heapVals = make([]float32, 0, n)
	}
	ids, vals := s.heapIDs[:n], s.heapVals[:n]

	// Pass 1: a min-heap of the n largest logits (vals[0] is the smallest
	// kept, thr). Once the heap is full, a logit enters only when it is
	// larger than thr, which is rare: most blocks of scanBlock logits are
	// dismissed at once, without a branch per logit.
	for i := range n {
		ids[i], vals[i] = int32(i), logits[i]
		siftUp(ids, vals, i)
	}
	thr := vals[0]
	i := n
	for {
		i = skipBelow(logits, i, thr)
		if i+scanBlock > len(logits) {
			break
		}
		thr = offer(ids, vals, logits[i:i+scanBlock], i)
		i += scanBlock
	}
	if i < len(logits) {
		offer(ids, vals, logits[i:], i)
	}
	// Heap order → descending by logit, ascending id among equals: heap
	// sort, moving the smallest kept entry to the end each time.
	for end := n - 1; end > 0; end-- {
		ids[0], ids[end] = ids[end], ids[0]
		vals[0], vals[end] = vals[end], vals[0]
		siftDown(ids[:end], vals[:end], 0)
	}
	s.heapIDs, s.heapVals = ids, vals
	// Pass 2: the log-sum-exp relative to the maximum.
	m := vals[0]
	return scan{max: m, lse: float64(m) + math.Log(sumExp(logits, m, 1)), ids: ids, vals: vals}
}

// skipBelow returns the start of the first block of scanBlock logits from
// logits[i:] that may hold a logit above thr, or the start of the last,
// shorter block when there is none. It is the hot loop of pass 1: one
// subtraction per logit and no branch but one per block.
func skipBelow(logits []float32, i int, thr float32) int {
	for ; i+scanBlock <= len(logits); i += scanBlock {
		q := logits[i : i+scanBlock : i+scanBlock]
		// l − thr is negative, so its sign bit is set, only when
		// l ≤ thr: a logit above thr (+Inf included, and any logit
		// when thr is −Inf) gives a positive difference, never 0 nor
		// NaN. If all eight sign bits are set, no logit of the block
		// can enter the heap. Equal logits (+0) and NaNs may clear a
		// bit without being above thr: offer sorts them out.
		neg := math.Float32bits(q[0]-thr) & math.Float32bits(q[1]-thr) &
			math.Float32bits(q[2]-thr) & math.Float32bits(q[3]-thr) &
			math.Float32bits(q[4]-thr) & math.Float32bits(q[5]-thr) &
			math.Float32bits(q[6]-thr) & math.Float32bits(q[7]-thr)
		if neg>>31 == 0 {
			return i
		}
	}
	return i
}

// offer puts the logits q, whose ids start at base, into the full min-heap
// (ids, vals) where they are larger than its smallest entry, and returns the
// new smallest entry.
func offer(ids []int32, vals []float32, q []float32, base int) float32 {
	for j, l := range q {
		if l > vals[0] {
			ids[0], vals[0] = int32(base+j), l
			siftDown(ids, vals, 0)
		}
	}
	return vals[0]
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
	// The terms are those of full = sumExp(logits, max, invT).
	shift, c64 := float64(max), invT*expC
	if topP >= 1 {
		target := u * full
		c := 0.0
		last := int32(0)
		for i, l := range logits {
			c += expTerm(l, shift, c64)
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
		c += expTerm(logits[id], shift, c64)
		if c >= topP*full {
			keep = i + 1
			break
		}
	}
	target := u * c
	c = 0
	for _, id := range order[:keep] {
		c += expTerm(logits[id], shift, c64)
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

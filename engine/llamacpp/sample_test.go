package llamacpp

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/deepconf/deepconf/engine"
)

// refLogSoftmax is the plain reference: float64 log-sum-exp with math.Exp and
// a full sort of the vocabulary.
func refLogSoftmax(logits []float32) (lse float64, order []int32) {
	m := math.Inf(-1)
	for _, l := range logits {
		m = math.Max(m, float64(l))
	}
	s := 0.0
	for _, l := range logits {
		s += math.Exp(float64(l) - m)
	}
	order = make([]int32, len(logits))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortStableFunc(order, func(a, b int32) int {
		switch {
		case logits[a] > logits[b]:
			return -1
		case logits[a] < logits[b]:
			return 1
		}
		return 0
	})
	return m + math.Log(s), order
}

func randomLogits(r *rand.Rand, n int, sigma float64) []float32 {
	l := make([]float32, n)
	for i := range l {
		l[i] = float32(r.NormFloat64() * sigma)
	}
	return l
}

func TestFastExp(t *testing.T) {
	worst := 0.0
	for x := expLo; x <= expHi; x += 0.0137 {
		got, want := fastExp(x), math.Exp(x)
		worst = math.Max(worst, math.Abs(got-want)/want)
	}
	if worst > 1e-10 {
		t.Fatalf("fastExp worst relative error %g, want ≤ 1e-10", worst)
	}
	if got := fastExp(math.Inf(-1)); got != fastExp(expLo) {
		t.Errorf("fastExp(-Inf) = %g, want the clamped e^%v", got, expLo)
	}
}

func TestSumExp(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{0, 1, 2, 3, 4, 5, 7, 1001, 1003} {
		l := randomLogits(r, n, 4)
		if n > 5 {
			l[5] = float32(math.Inf(-1)) // clamped to e^expLo
		}
		for _, scale := range []float64{1, 1 / 0.6} {
			// Reference: math.Exp of the exact float64 difference.
			want := 0.0
			for _, x := range l {
				want += math.Exp(max((float64(x)-1.5)*scale, expLo))
			}
			got := sumExp(l, 1.5, scale)
			if math.Abs(got-want) > 1e-10*want {
				t.Errorf("n=%d scale=%v: sumExp %v, want %v", n, scale, got, want)
			}
			// The scalar form gives the same bits, summed in the
			// same order.
			var s [4]float64
			for i, x := range l {
				s[i%4] += expTerm(x, 1.5, scale*expC)
			}
			if terms := (s[0] + s[1]) + (s[2] + s[3]); got != terms {
				t.Errorf("n=%d scale=%v: sumExp %v, sum of expTerm %v", n, scale, got, terms)
			}
		}
	}
}

// TestScanMatchesReference checks the fused pass against the plain reference
// to 1e-5 on Qwen3-sized vocabularies: flat (random-weight-like), peaked,
// with ties and with -inf entries.
func TestScanMatchesReference(t *testing.T) {
	const vocab = 151936
	r := rand.New(rand.NewPCG(1, 2))
	cases := map[string][]float32{
		"flat":   randomLogits(r, vocab, 0.5),
		"normal": randomLogits(r, vocab, 3),
		"peaked": func() []float32 {
			l := randomLogits(r, vocab, 2)
			l[77] = 40
			l[91] = 35
			return l
		}(),
		"ties": func() []float32 {
			l := make([]float32, vocab)
			for i := range l {
				l[i] = float32(i % 7)
			}
			return l
		}(),
		"masked": func() []float32 {
			l := randomLogits(r, vocab, 2)
			for i := 0; i < vocab; i += 3 {
				l[i] = float32(math.Inf(-1))
			}
			return l
		}(),
		"small": {0.5, -1, 2, 2, 0},
	}
	var sc scanner
	for name, logits := range cases {
		for _, k := range []int{1, 5, 20} {
			got := sc.scan(logits, k)
			lse, order := refLogSoftmax(logits)
			if d := math.Abs(got.lse - lse); d > 1e-5 {
				t.Errorf("%s k=%d: lse %v, reference %v (diff %g)", name, k, got.lse, lse, d)
			}
			want := min(k, len(logits))
			if len(got.ids) != want {
				t.Fatalf("%s k=%d: %d candidates, want %d", name, k, len(got.ids), want)
			}
			for i := range got.ids {
				gotLP := float64(got.vals[i]) - got.lse
				wantLP := float64(logits[order[i]]) - lse
				if math.Abs(gotLP-wantLP) > 1e-5 {
					t.Errorf("%s k=%d: top[%d] logprob %v, reference %v", name, k, i, gotLP, wantLP)
				}
				// Ties may reorder ids among equal logits, but never
				// change the logit at a rank.
				if logits[got.ids[i]] != logits[order[i]] {
					t.Errorf("%s k=%d: top[%d] id %d (logit %v), reference id %d (logit %v)",
						name, k, i, got.ids[i], logits[got.ids[i]], order[i], logits[order[i]])
				}
			}
			if name == "ties" && k == 5 {
				// Equal logits: smallest ids first.
				if !slices.Equal(got.ids, []int32{6, 13, 20, 27, 34}) {
					t.Errorf("ties: ids %v, want the five smallest ids with logit 6", got.ids)
				}
			}
		}
	}
}

// refSampler is the reference sampler: temperature, then top-k, then top-p
// (HF transformers' TopPLogitsWarper rule: keep the smallest prefix whose mass
// reaches p), then the inverse CDF at u — over tokens in descending order of
// logit, except for plain temperature sampling over the whole vocabulary,
// which walks the vocabulary in id order as the engine does (any fixed order
// samples the same distribution).
func refSampler(logits []float32, p engine.Sampling) func(u float64) int32 {
	_, order := refLogSoftmax(logits)
	if p.Temperature == 0 {
		return func(float64) int32 { return order[0] }
	}
	m := float64(logits[order[0]])
	if p.TopK == 0 && p.TopP >= 1 {
		order = order[:0]
		for i := range logits {
			order = append(order, int32(i))
		}
	}
	if p.TopK > 0 && p.TopK < len(order) {
		order = order[:p.TopK]
	}
	w := make([]float64, len(order))
	total := 0.0
	for i, id := range order {
		w[i] = math.Exp((float64(logits[id]) - m) / p.Temperature)
		total += w[i]
	}
	if p.TopK == 0 {
		total = 0
		for _, l := range logits {
			total += math.Exp((float64(l) - m) / p.Temperature)
		}
	}
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
	}
	sum := 0.0
	for _, x := range w[:keep] {
		sum += x
	}
	return func(u float64) int32 {
		c := 0.0
		for i, x := range w[:keep] {
			c += x
			if u*sum < c {
				return order[i]
			}
		}
		return order[keep-1]
	}
}

func TestPickMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	small := randomLogits(r, 64, 2)
	big := randomLogits(r, 151936, 1)
	params := []engine.Sampling{
		{Temperature: 0},
		{Temperature: 0.6, TopP: 0.95, TopK: 20},
		{Temperature: 0.6, TopP: 0.95, TopK: 50},
		{Temperature: 1, TopP: 1, TopK: 5},
		{Temperature: 0.7, TopP: 0.5, TopK: 0},
		{Temperature: 1, TopP: 1, TopK: 0},
		{Temperature: 1.3, TopP: 0.9, TopK: 0},
	}
	var sc scanner
	for _, logits := range [][]float32{small, big} {
		for _, p := range params {
			ref := refSampler(logits, p)
			for i := 0; i < 200; i++ {
				u := (float64(i) + 0.37) / 200
				s := sc.scan(logits, candidates(p))
				got := sc.pick(logits, s, p, u)
				want := ref(u)
				if got != want {
					t.Errorf("vocab %d %+v u=%.4f: picked %d, reference %d", len(logits), p, u, got, want)
					break
				}
			}
		}
	}
}

func BenchmarkScanTop20(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	logits := randomLogits(r, 151936, 1)
	var sc scanner
	p := engine.Sampling{Temperature: 0.6, TopP: 0.95, TopK: 20, TopLogprobs: 20}
	b.SetBytes(int64(len(logits) * 4))
	for b.Loop() {
		s := sc.scan(logits, 20)
		sc.pick(logits, s, p, 0.5)
	}
}

// TestDrawAllConcurrentMatchesSequential checks that the step's Go-side
// pass gives every trace the same bits whether it runs on one goroutine or
// on several: a trace's token, logprob and top logprobs must not depend on
// scheduling.
func TestDrawAllConcurrentMatchesSequential(t *testing.T) {
	const vocab, traces, steps = 151936, 10, 3
	r := rand.New(rand.NewPCG(9, 10))
	params := []engine.Sampling{
		{Temperature: 0.6, TopP: 0.95, TopK: 20, TopLogprobs: 20},
		{Temperature: 1, TopP: 1, TopK: 0, TopLogprobs: 5},      // whole-vocabulary sampling
		{Temperature: 1.3, TopP: 0.9, TopK: 0, TopLogprobs: 20}, // nucleus wider than the window
		{Temperature: 0, TopP: 1, TopLogprobs: 1},
		{Temperature: 0.7, TopP: 0.8, TopK: 50, TopLogprobs: 20},
	}
	// logits[step][trace]
	logits := make([][][]float32, steps)
	for s := range logits {
		logits[s] = make([][]float32, traces)
		for i := range logits[s] {
			l := randomLogits(r, vocab, 0.5+float64(i%4))
			if i%3 == 0 {
				l[r.IntN(vocab)] = 30 // peaked
			}
			if i%5 == 1 {
				for j := 0; j < vocab; j += 11 {
					l[j] = float32(math.Inf(-1))
				}
			}
			logits[s][i] = l
		}
	}
	type result struct {
		tok     int32
		logprob float64
		top     []float64
		ids     []int32
	}
	run := func(workers int) [][]result {
		ts := make([]*trace, traces)
		for i := range ts {
			p := params[i%len(params)]
			p.Seed = uint64(100 + i)
			ts[i] = &trace{p: p, rng: newRand(p.Seed)}
		}
		scanners := make([]scanner, workers)
		out := make([][]result, steps)
		for s := range steps {
			for i, tr := range ts {
				tr.logits = logits[s][i]
			}
			drawAll(scanners, ts)
			for _, tr := range ts {
				out[s] = append(out[s], result{tr.tok, tr.logprob,
					slices.Clone(tr.top[:tr.nTop]), slices.Clone(tr.topIDs[:tr.nTop])})
			}
		}
		return out
	}
	want := run(1)
	for _, workers := range []int{2, 3, 8} {
		got := run(workers)
		for s := range steps {
			for i := range traces {
				g, w := got[s][i], want[s][i]
				if g.tok != w.tok || math.Float64bits(g.logprob) != math.Float64bits(w.logprob) ||
					!slices.Equal(g.ids, w.ids) || !slices.EqualFunc(g.top, w.top, func(a, b float64) bool {
					return math.Float64bits(a) == math.Float64bits(b)
				}) {
					t.Errorf("%d workers, step %d, trace %d: %+v, sequential %+v", workers, s, i, g, w)
				}
			}
		}
	}
	// The sequential pass itself agrees with the reference.
	for i := range traces {
		lse, order := refLogSoftmax(logits[steps-1][i])
		w := want[steps-1][i]
		for j := range w.top {
			if ref := float64(logits[steps-1][i][order[j]]) - lse; math.Abs(w.top[j]-ref) > 1e-5 {
				t.Errorf("trace %d: top[%d] = %v, reference %v", i, j, w.top[j], ref)
			}
		}
	}
}

// BenchmarkDrawAll measures the Go-side pass of one decode step with n live
// traces over Qwen3's vocabulary, on one goroutine and on two.
func BenchmarkDrawAll(b *testing.B) {
	const vocab = 151936
	r := rand.New(rand.NewPCG(11, 12))
	for _, n := range []int{1, 8} {
		for _, workers := range []int{1, 2} {
			b.Run(fmt.Sprintf("n=%d/workers=%d", n, workers), func(b *testing.B) {
				ts := make([]*trace, n)
				logits := make([][]float32, n)
				for i := range ts {
					p := engine.Sampling{Temperature: 0.6, TopP: 0.95, TopK: 20, TopLogprobs: 20, Seed: uint64(i)}
					ts[i] = &trace{p: p, rng: newRand(p.Seed)}
					logits[i] = randomLogits(r, vocab, 1)
				}
				scanners := make([]scanner, workers)
				for b.Loop() {
					for i, t := range ts {
						t.logits = logits[i]
					}
					drawAll(scanners, ts)
				}
			})
		}
	}
}

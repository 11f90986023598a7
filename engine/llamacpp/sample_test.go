package llamacpp

import (
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
	for _, n := range []int{0, 1, 2, 3, 1001} {
		l := randomLogits(r, n, 4)
		for _, scale := range []float64{1, 1 / 0.6} {
			want := 0.0
			for _, x := range l {
				want += math.Exp(float64(x-1.5) * scale)
			}
			got := sumExp(l, 1.5, scale)
			if math.Abs(got-want) > 1e-10*want {
				t.Errorf("n=%d scale=%v: sumExp %v, want %v", n, scale, got, want)
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

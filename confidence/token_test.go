package confidence

import (
	"math"
	"testing"
)

var (
	nan    = math.NaN()
	posInf = math.Inf(1)
	negInf = math.Inf(-1)
)

func mustScorer(t testing.TB, k int, v Variant) Scorer {
	t.Helper()
	s, err := NewScorer(k, v)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// closeTo reports whether got is within tol of want (absolute).
func closeTo(got, want, tol float64) bool {
	return math.Abs(got-want) <= tol
}

func TestScoreTopK(t *testing.T) {
	// Hand-computed: C = −(sum of the usable entries)/(their count).
	tests := []struct {
		name string
		k    int
		p    Position
		want TokenScore
	}{
		{"three entries", 3, Position{Top: []float64{-1, -2, -3}},
			TokenScore{C: 2, OK: true, KEff: 3}},
		{"sampled entry ignored", 3, Position{Logprob: -50, ID: 9, Top: []float64{-1, -2, -3}, TopIDs: []int32{1, 2, 3}},
			TokenScore{C: 2, OK: true, KEff: 3}},
		{"only the first k entries", 2, Position{Top: []float64{-1, -2, -30, -40}},
			TokenScore{C: 1.5, OK: true, KEff: 2}},
		{"fewer than k: divide by the count", 20, Position{Top: []float64{-2, -4}},
			TokenScore{C: 3, OK: true, KEff: 2}},
		{"NaN and infinities dropped", 5, Position{Top: []float64{-1, nan, posInf, negInf, -3}},
			TokenScore{C: 2, OK: true, KEff: 2, NonFinite: 3}},
		{"sentinels dropped, -8999.5 kept", 4, Position{Top: []float64{-0.5, -9999, -9000, -8999.5}},
			TokenScore{C: 4500, OK: true, KEff: 2, Sentinel: 2}},
		{"positive entry clamped to 0", 2, Position{Top: []float64{1e-7, -1}},
			TokenScore{C: 0.5, OK: true, KEff: 2, Clamped: 1}},
		{"all zero gives +0", 2, Position{Top: []float64{0, 0}},
			TokenScore{C: 0, OK: true, KEff: 2}},
		{"no usable entry", 3, Position{Top: []float64{nan, -9999, negInf}},
			TokenScore{NonFinite: 2, Sentinel: 1}},
		{"empty list", 20, Position{}, TokenScore{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustScorer(t, tt.k, TopK).Score(tt.p)
			if got != tt.want {
				t.Errorf("Score = %+v, want %+v", got, tt.want)
			}
			if math.Signbit(got.C) {
				t.Errorf("C = %v has the sign bit set", got.C)
			}
		})
	}
}

// refTop is the 20-entry top list of the NumPy reference below:
// top[j] = −(j²+3)/7, descending.
func refTop() []float64 {
	top := make([]float64, 20)
	for j := range top {
		top[j] = -float64(j*j+3) / 7.0
	}
	return top
}

func refTopIDs() []int32 {
	ids := make([]int32, 20)
	for j := range ids {
		ids[j] = int32(100 + j)
	}
	return ids
}

func TestScoreOfficial(t *testing.T) {
	// Reference values of utils.compute_confidence, i.e.
	// round(-np.mean(values), 3) with values in vLLM's dict order (sampled
	// token first), computed with NumPy 1.24.2 under CPython 3.11.2:
	//   21 values (sampled −60 outside the top-20): 20.068
	//   (unrounded 20.068027210884356);
	//   20 values (sampled inside): 18.071 (unrounded 18.071428571428573).
	// The small cases are hand-computed.
	top := refTop()
	ids := refTopIDs()
	tests := []struct {
		name string
		k    int
		p    Position
		want TokenScore
	}{
		{"sampled outside by id", 20, Position{Logprob: -60, ID: 7, Top: top, TopIDs: ids},
			TokenScore{C: 20.068, OK: true, KEff: 20, SampledAdded: true}},
		{"sampled outside by value", 20, Position{Logprob: -60, ID: -1, Top: top},
			TokenScore{C: 20.068, OK: true, KEff: 20, SampledAdded: true}},
		{"sampled inside by id", 20, Position{Logprob: top[4], ID: 104, Top: top, TopIDs: ids},
			TokenScore{C: 18.071, OK: true, KEff: 20}},
		{"sampled inside by value", 20, Position{Logprob: top[4], ID: -1, Top: top},
			TokenScore{C: 18.071, OK: true, KEff: 20}},
		// (1+1+2)/3 = 1.3333… → round → 1.333
		{"rounded to 3 decimals", 3, Position{Logprob: -1, ID: 1, Top: []float64{-1, -1, -2}, TopIDs: []int32{1, 2, 3}},
			TokenScore{C: 1.333, OK: true, KEff: 3}},
		// sampled −10 outside: (10+0.1+2+3)/4 = 3.775 → 3.775
		{"k+1 values", 3, Position{Logprob: -10, ID: 5, Top: []float64{-0.1, -2, -3}, TopIDs: []int32{3, 7, 9}},
			TokenScore{C: 3.775, OK: true, KEff: 3, SampledAdded: true}},
		// Ids are present but the sampled id is among them although its
		// value is lower than all: the id decides.
		{"id decides over value", 2, Position{Logprob: -9, ID: 3, Top: []float64{-1, -3}, TopIDs: []int32{3, 4}},
			TokenScore{C: 2, OK: true, KEff: 2}},
		// Value tie with the last entry counts as inside.
		{"value tie is inside", 2, Position{Logprob: -3, ID: -1, Top: []float64{-1, -3}},
			TokenScore{C: 2, OK: true, KEff: 2}},
		// Robustness applies to the sampled entry too.
		{"sampled sentinel dropped", 2, Position{Logprob: -9999, ID: 5, Top: []float64{-1, -3}, TopIDs: []int32{1, 2}},
			TokenScore{C: 2, OK: true, KEff: 2, Sentinel: 1}},
		{"empty top: sampled alone", 20, Position{Logprob: -0.25, ID: 5},
			TokenScore{C: 0.25, OK: true, SampledAdded: true}},
		{"nothing usable", 2, Position{Logprob: negInf, ID: 5, Top: []float64{nan}, TopIDs: []int32{1}},
			TokenScore{NonFinite: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustScorer(t, tt.k, Official).Score(tt.p)
			if got != tt.want {
				t.Errorf("Score = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestNewScorerErrors(t *testing.T) {
	for _, tt := range []struct {
		k int
		v Variant
	}{{0, TopK}, {-1, TopK}, {MaxK + 1, Official}, {20, Variant(7)}} {
		if _, err := NewScorer(tt.k, tt.v); err == nil {
			t.Errorf("NewScorer(%d, %v): no error", tt.k, tt.v)
		}
	}
	s := mustScorer(t, 20, Official)
	if s.K() != 20 || s.Variant() != Official || s.Variant().String() != "official" || TopK.String() != "topk" {
		t.Errorf("accessors: %d %v", s.K(), s.Variant())
	}
}

func TestCounts(t *testing.T) {
	s := mustScorer(t, 3, TopK)
	var c Counts
	for _, top := range [][]float64{
		{-1, -2, -3},        // full
		{-1, nan},           // short (1), one non-finite
		{-9999, negInf},     // empty
		{0.5, -1, -9000.25}, // short (2), clamped, sentinel
	} {
		c.Add(s.Score(Position{Top: top}), s.K())
	}
	want := Counts{Tokens: 4, Scored: 3, Empty: 1, Short: 2, NonFinite: 2, Sentinel: 2, Clamped: 1, MinKEff: 1}
	if c != want {
		t.Errorf("Counts = %+v, want %+v", c, want)
	}
	if c.Dropped() != 4 {
		t.Errorf("Dropped = %d, want 4", c.Dropped())
	}
}

func TestScoreDoesNotAllocate(t *testing.T) {
	top, ids := refTop(), refTopIDs()
	for _, v := range []Variant{TopK, Official} {
		s := mustScorer(t, 20, v)
		p := Position{Logprob: -60, ID: 7, Top: top, TopIDs: ids}
		if n := testing.AllocsPerRun(100, func() { s.Score(p) }); n != 0 {
			t.Errorf("%v: Score allocates %v times", v, n)
		}
	}
}

func TestScoreOfficialLargeK(t *testing.T) {
	// k = 40 uses the large stack buffer. Entries −1…−40 (sum −820) and a
	// sampled −50 outside: (820+50)/41 = 21.219512… → 21.22.
	top := make([]float64, 40)
	for j := range top {
		top[j] = -float64(j + 1)
	}
	got := mustScorer(t, 40, Official).Score(Position{Logprob: -50, ID: -1, Top: top})
	want := TokenScore{C: 21.22, OK: true, KEff: 40, SampledAdded: true}
	if got != want {
		t.Errorf("Score = %+v, want %+v", got, want)
	}
	if n := testing.AllocsPerRun(50, func() { mustScorer(t, 40, Official).Score(Position{Logprob: -50, ID: -1, Top: top}) }); n != 0 {
		t.Errorf("large k allocates %v times", n)
	}
}

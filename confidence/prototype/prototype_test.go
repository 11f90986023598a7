package prototype

import (
	"math"
	"strings"
	"testing"
)

var (
	nan    = math.NaN()
	negInf = math.Inf(-1)
	posInf = math.Inf(1)
)

func opts(w int, bottom float64) Options {
	return Options{TopK: 5, WindowSize: w, BottomPercent: bottom}
}

func TestTokenConfidenceHand(t *testing.T) {
	// Hand-computed from docs/prototype.md §2 (C = clip(valid, −100, 0)).
	lp := []float64{-1, -3, -2, -6, 0} // W = 2 windows: 2, 2.5, 4, 3
	tests := []struct {
		name string
		lps  []float64
		m    Method
		o    Options
		want float64
	}{
		{"empty", nil, NegAvgLogprob, DefaultOptions(), 0},
		{"all non-finite", []float64{nan, negInf, posInf}, MinProb, DefaultOptions(), 0},
		// valid −0.5 −1.5 −200 → clip −0.5 −1.5 −100 → mean −34
		{"neg_avg clips at −100", []float64{-0.5, nan, -1.5, -200}, NegAvgLogprob, DefaultOptions(), 34},
		{"neg_avg ignores the window", lp, NegAvgLogprob, opts(2, 0.1), 12.0 / 5},
		// int(4·0.5) = 2 lowest windows: 2, 2.5
		{"bottom_window", lp, BottomWindow, opts(2, 0.5), 2.25},
		// int(4·0.1) = 0 → 1 window: the lowest, 2
		{"bottom_window at least one", lp, BottomWindow, opts(2, 0.1), 2},
		{"bottom_window shorter than W", lp, BottomWindow, opts(6, 0.1), 12.0 / 5},
		{"tail_confidence", lp, TailConfidence, opts(2, 0.1), 3},
		{"tail_confidence shorter than W", lp, TailConfidence, opts(100, 0.1), 12.0 / 5},
		{"min_window", lp, MinWindow, opts(2, 0.1), 2},
		{"min_window shorter than W", lp, MinWindow, opts(6, 0.1), 12.0 / 5},
		// unclipped: −min = 200, where neg_avg would clip to 100
		{"min_prob unclipped", []float64{-0.5, -200, negInf}, MinProb, DefaultOptions(), 200},
		// one value: log(1) = 0 → 1 − (−log(1+1e−10))/0 = +Inf (NumPy
		// returns inf with a divide-by-zero warning)
		{"entropy single value", []float64{-0.7}, Entropy, DefaultOptions(), posInf},
		{"entropy single value after dropping", []float64{negInf, 0}, Entropy, DefaultOptions(), posInf},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := TokenConfidence(tt.lps, tt.m, tt.o)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("TokenConfidence = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestEntropyHand(t *testing.T) {
	// Two equal log-probabilities: p = ½, ½; H = −log(½ + 1e−10);
	// 1 − H/log 2 = log(1 + 2e−10)/log 2 ≈ 2e−10/log 2 = 2.885390082e−10.
	// The subtraction cancels: NumPy 1.24.2 returns 2.8853908151660335e-10.
	got, err := TokenConfidence([]float64{-1, -1}, Entropy, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(got-2.885390082e-10) > 1e-15 || math.Abs(got-2.8853908151660335e-10) > 1e-15 {
		t.Errorf("entropy = %v, want ≈ 2.885390082e-10", got)
	}
	// exp underflows to 0 for a single value below −745: 0/0 → NaN.
	got, err = TokenConfidence([]float64{-800}, Entropy, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(got) {
		t.Errorf("entropy of [-800] = %v, want NaN", got)
	}
}

// refLogprobs builds the inputs of the reference values below, with the
// same rule in Python: NaN at i%37 == 5, −inf at i%53 == 7, −150.5 at
// i%41 == 3, else −((i·7919) mod 1000)/123.
func refLogprobs(n int) []float64 {
	x := make([]float64, n)
	for i := range x {
		switch {
		case i%37 == 5:
			x[i] = nan
		case i%53 == 7:
			x[i] = negInf
		case i%41 == 3:
			x[i] = -150.5
		default:
			x[i] = -float64((i*7919)%1000) / 123.0
		}
	}
	return x
}

func TestTokenConfidenceReference(t *testing.T) {
	// Reference values: compute_token_confidence from the prototype
	// (HeTalksInMaths/deepconf_other_domains@cf2245b,
	// deepconf_adapter/confidence_utils.py) run unchanged under CPython
	// 3.11.2 with NumPy 1.24.2 on refLogprobs(n), printed with repr.
	// Entropy uses exp/log, whose last bit may differ between NumPy and Go,
	// so it is compared to 1e-14 relative; everything else is exact.
	tests := []struct {
		n    int
		m    Method
		w    int
		want float64
	}{
		{30, NegAvgLogprob, 100, 7.630662020905923},
		{30, BottomWindow, 100, 7.630662020905923},
		{30, BottomWindow, 10, 3.41869918699187},
		{30, TailConfidence, 100, 7.630662020905923},
		{30, TailConfidence, 10, 4.191056910569105},
		{30, MinWindow, 100, 7.630662020905923},
		{30, MinWindow, 10, 3.41869918699187},
		{30, Entropy, 100, 0.36286234986337074},
		{30, MinProb, 100, 150.5},
		{150, NegAvgLogprob, 100, 6.657854340781171},
		{150, BottomWindow, 100, 5.829166666666666},
		{150, BottomWindow, 10, 3.189993746091307},
		{150, TailConfidence, 100, 5.866585365853659},
		{150, TailConfidence, 10, 3.215447154471545},
		{150, MinWindow, 100, 5.80520325203252},
		{150, MinWindow, 10, 2.98780487804878},
		{150, Entropy, 10, 0.22513490754976606},
		{150, MinProb, 10, 150.5},
		{1, NegAvgLogprob, 100, 0}, // [-0.0] → -0.0
		{1, Entropy, 100, posInf},
	}
	for _, tt := range tests {
		got, err := TokenConfidence(refLogprobs(tt.n), tt.m, opts(tt.w, 0.1))
		if err != nil {
			t.Fatal(err)
		}
		ok := got == tt.want
		if tt.m == Entropy && !math.IsInf(tt.want, 0) {
			ok = math.Abs(got-tt.want) <= 1e-14*math.Abs(tt.want)
		}
		if !ok {
			t.Errorf("n=%d %s W=%d: %v, want %v", tt.n, tt.m, tt.w, got, tt.want)
		}
	}
}

func TestTokenConfidenceErrors(t *testing.T) {
	tests := []struct {
		m    Method
		o    Options
		want string
	}{
		{"weighted", DefaultOptions(), `unknown confidence method "weighted"`},
		{NegAvgLogprob, opts(0, 0.1), "window size 0"},
		{BottomWindow, opts(2, nan), "bottom percent is NaN"},
		{BottomWindow, opts(2, 2), "selects 8 of 4 windows"},
	}
	for _, tt := range tests {
		_, err := TokenConfidence([]float64{-1, -3, -2, -6, 0}, tt.m, tt.o)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s %+v: error %v, want %q", tt.m, tt.o, err, tt.want)
		}
	}
	if m, err := ParseMethod("min_window"); err != nil || m != MinWindow {
		t.Errorf("ParseMethod: %v %v", m, err)
	}
}

func TestClipLogprob(t *testing.T) {
	tests := []struct{ in, want float64 }{
		{-0.25, -0.25},
		{-100, -100},
		{-100.5, -100},
		{-1e300, -100},
		{negInf, -100},
		{posInf, -100}, // non-finite → −100, even +inf
		{nan, -100},
		{0, 0},
	}
	for _, tt := range tests {
		if got := ClipLogprob(tt.in); got != tt.want {
			t.Errorf("ClipLogprob(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestShouldGenerateMoreTraces(t *testing.T) {
	tests := []struct {
		name      string
		current   float64
		so, mn, m int
		threshold float64
		want      bool
	}{
		{"below the minimum always continues", 9, 2, 3, 10, 0.5, true},
		{"at the maximum stops", 0, 10, 3, 10, 0.5, false},
		{"equal to the threshold stops (>=)", 0.5, 3, 3, 10, 0.5, false},
		{"above stops", 0.6, 5, 3, 10, 0.5, false},
		{"below continues", 0.4, 5, 3, 10, 0.5, true},
		{"defaults", 0.69, 3, DefaultMinTraces, DefaultMaxTraces, DefaultThreshold, true},
	}
	for _, tt := range tests {
		if got := ShouldGenerateMoreTraces(tt.current, tt.so, tt.mn, tt.m, tt.threshold); got != tt.want {
			t.Errorf("%s: got %v", tt.name, got)
		}
	}
}

func TestThreshold(t *testing.T) {
	// p90 of 3 values: x₁ + 0.8(x₂ − x₁) computed as NumPy does,
	// x₂ − (x₂ − x₁)·0.2: sorted 0.2 0.3 0.5 → 0.5 − 0.2·0.19999999999999996
	// = 0.46 (NumPy 1.24.2: np.percentile([0.2, 0.5, 0.3], 90) == 0.46).
	got, err := Threshold([]float64{0.2, 0.5, 0.3}, 90, true)
	if err != nil || got != 0.46 {
		t.Errorf("Threshold = %v, %v; want 0.46", got, err)
	}
	if got, _ := Threshold(nil, 90, false); got != 0.9 {
		t.Errorf("without percentile: %v, want 0.9", got)
	}
	if _, err := Threshold(nil, 90, true); err == nil {
		t.Error("empty warm-up: no error")
	}
	if _, err := Threshold([]float64{1}, 101, true); err == nil {
		t.Error("percentile 101: no error")
	}
}

func TestMultiTraceConfidenceAndMean(t *testing.T) {
	x := []float64{0.5, 0.25, 1}
	for _, tt := range []struct {
		agg  Aggregation
		want float64
	}{{AggMean, 1.75 / 3}, {AggMin, 0.25}, {AggMax, 1}} {
		got, err := MultiTraceConfidence(x, tt.agg)
		if err != nil || got != tt.want {
			t.Errorf("%s: %v, %v; want %v", tt.agg, got, err, tt.want)
		}
	}
	if got, err := MultiTraceConfidence(nil, AggMean); err != nil || got != 0 {
		t.Errorf("empty: %v %v", got, err)
	}
	if _, err := MultiTraceConfidence(x, "weighted"); err == nil {
		t.Error("weighted: no error")
	}
	if !math.IsNaN(Mean(nil)) || Mean(x) != 1.75/3 {
		t.Errorf("Mean: %v %v", Mean(nil), Mean(x))
	}
}

package confidence

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestSummarizeHand(t *testing.T) {
	// Hand-computed. confs 1..6, W = 3: window means 2, 3, 4, 5.
	one6 := []float64{1, 2, 3, 4, 5, 6}
	tests := []struct {
		name  string
		confs []float64
		o     StatsOptions
		want  TraceStats
	}{
		{"bottom half", one6, StatsOptions{Window: 3, Tail: 2, BottomFraction: 0.5},
			// bottom: int(4·0.5) = 2 lowest → (2+3)/2; tail (5+6)/2
			TraceStats{N: 6, Windows: 4, Mean: 3.5, LowestGroup: 2, Bottom: 2.5, Tail: 5.5}},
		{"bottom 10% of 4 windows is 1", one6, StatsOptions{Window: 3, Tail: 10, BottomFraction: 0.1},
			TraceStats{N: 6, Windows: 4, Mean: 3.5, LowestGroup: 2, Bottom: 2, Tail: 3.5}},
		{"window equals trace", one6, StatsOptions{Window: 6, Tail: 6, BottomFraction: 0.1},
			TraceStats{N: 6, Windows: 1, Mean: 3.5, LowestGroup: 3.5, Bottom: 3.5, Tail: 3.5}},
		{"unsorted windows", []float64{5, 1, 1, 9, 0, 4}, StatsOptions{Window: 2, Tail: 1, BottomFraction: 0.4},
			// windows 3, 1, 5, 4.5, 2 → int(5·0.4) = 2 lowest: 1, 2 → 1.5
			TraceStats{N: 6, Windows: 5, Mean: 20.0 / 6, LowestGroup: 1, Bottom: 1.5, Tail: 4}},
		{"N < W: every group statistic is the mean", []float64{2, 4}, StatsOptions{Window: 3, Tail: 1, BottomFraction: 0.1},
			TraceStats{N: 2, Windows: 0, Mean: 3, LowestGroup: 3, Bottom: 3, Tail: 4}},
		{"empty", nil, StatsOptions{Window: 3, Tail: 1, BottomFraction: 0.1},
			TraceStats{Empty: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Summarize(tt.confs, tt.o)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Summarize = %+v\nwant        %+v", got, tt.want)
			}
			// float32 storage gives the same statistics for these
			// exactly representable inputs.
			f32 := make([]float32, len(tt.confs))
			for i, c := range tt.confs {
				f32[i] = float32(c)
			}
			got32, err := Summarize(f32, tt.o)
			if err != nil {
				t.Fatal(err)
			}
			if got32 != tt.want {
				t.Errorf("Summarize(float32) = %+v", got32)
			}
		})
	}
}

func TestSummarizeBottomCount(t *testing.T) {
	// 27 tokens, W = 3 → 25 windows; int(25·0.1) = 2 lowest windows.
	// Token i has confidence i, so window j has mean j+1: lowest 1 and 2.
	confs := make([]float64, 27)
	for i := range confs {
		confs[i] = float64(i)
	}
	st, err := Summarize(confs, StatsOptions{Window: 3, Tail: 4, BottomFraction: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	if st.Windows != 25 || st.LowestGroup != 1 || st.Bottom != 1.5 || st.Tail != 24.5 {
		t.Errorf("got %+v", st)
	}
}

func TestSummarizeErrors(t *testing.T) {
	ok := StatsOptions{Window: 2, Tail: 2, BottomFraction: 0.1}
	tests := []struct {
		name  string
		confs []float64
		o     StatsOptions
		want  string
	}{
		{"window", nil, StatsOptions{Window: 0, Tail: 2, BottomFraction: 0.1}, "window size 0"},
		{"tail", nil, StatsOptions{Window: 2, Tail: 0, BottomFraction: 0.1}, "tail size 0"},
		{"fraction zero", nil, StatsOptions{Window: 2, Tail: 2}, "bottom fraction 0"},
		{"fraction above one", nil, StatsOptions{Window: 2, Tail: 2, BottomFraction: 1.5}, "bottom fraction 1.5"},
		{"-1 only in official mode", nil, StatsOptions{Window: 2, Tail: 2, BottomFraction: -1}, "bottom fraction -1"},
		{"NaN confidence", []float64{1, nan}, ok, "token 1: confidence NaN"},
		{"Inf confidence", []float64{posInf}, ok, "token 0: confidence +Inf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Summarize(tt.confs, tt.o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// TestReplayMatchesSummarize checks that the online monitor fed with the
// scored tokens of a trace (Tracker) and the post-hoc statistics of the
// stored confidences (Summarize) agree exactly, as replay needs.
func TestReplayMatchesSummarize(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	s := mustScorer(t, 20, TopK)
	tr, err := NewTracker(s, 64)
	if err != nil {
		t.Fatal(err)
	}
	var stored []float64
	top := make([]float64, 20)
	for i := range 5000 {
		for j := range top {
			top[j] = -rng.ExpFloat64() * float64(j+1)
		}
		if i%101 == 0 {
			top[3] = -9999 // sentinel: the token still has data
		}
		if i%211 == 0 {
			clear(top)
			for j := range top {
				top[j] = nan // no data: not stored, not pushed
			}
		}
		sc, mean, full := tr.Observe(Position{Top: top})
		if sc.OK {
			stored = append(stored, sc.C)
		}
		if full != (len(stored) >= 64) || mean != tr.Window().Mean() {
			t.Fatalf("token %d: full %v with %d stored", i, full, len(stored))
		}
	}
	st, err := Summarize(stored, StatsOptions{Window: 64, Tail: 100, BottomFraction: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	low, _, ok := tr.Window().Lowest()
	if !ok || low != st.LowestGroup {
		t.Errorf("online lowest %v, post-hoc %v", low, st.LowestGroup)
	}
	c := tr.Counts()
	if c.Tokens != 5000 || c.Scored != len(stored) || c.Empty != 5000-len(stored) || c.Sentinel == 0 {
		t.Errorf("counts %+v, stored %d", c, len(stored))
	}
	// Float32 storage changes the statistics only at float32 precision.
	f32 := make([]float32, len(stored))
	for i, v := range stored {
		f32[i] = float32(v)
	}
	st32, err := Summarize(f32, StatsOptions{Window: 64, Tail: 100, BottomFraction: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	if !closeTo(st32.LowestGroup, st.LowestGroup, 1e-5*st.LowestGroup) || !closeTo(st32.Mean, st.Mean, 1e-5*st.Mean) {
		t.Errorf("float32 stats %+v vs float64 %+v", st32, st)
	}
	tr.Reset()
	if tr.Counts() != (Counts{}) || tr.Window().Len() != 0 {
		t.Error("Reset left state behind")
	}
}

func TestSmallestMatchesSort(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 9))
	for n := 1; n < 60; n++ {
		for b := 1; b <= n; b++ {
			x := make([]float64, n)
			for i := range x {
				x[i] = float64(r.IntN(7)) // ties
			}
			want := slices.Clone(x)
			slices.Sort(want)
			got := smallest(slices.Clone(x), b)
			if !slices.Equal(got, want[:b]) {
				t.Fatalf("n=%d b=%d: %v, want %v", n, b, got, want[:b])
			}
		}
	}
}

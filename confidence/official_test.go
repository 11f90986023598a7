package confidence

import (
	"slices"
	"testing"
)

func TestOfficialLeastGrouped(t *testing.T) {
	// Hand-computed from compute_least_grouped's definition.
	tests := []struct {
		name  string
		confs []float64
		w     int
		want  []float64
	}{
		{"stride-1 windows", []float64{1, 2, 4}, 2, []float64{1.5, 3}},
		{"window means rounded to 3 dp", []float64{1, 1, 2}, 3, []float64{1.333}},
		{"N < W: unrounded mean", []float64{1, 1, 2}, 5, []float64{4.0 / 3}},
		{"empty gives [0]", nil, 4, []float64{0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := OfficialLeastGrouped(tt.confs, tt.w)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	if _, err := OfficialLeastGrouped([]float64{1}, 0); err == nil {
		t.Error("window 0: no error")
	}
}

// refConfs builds the inputs of the reference values below:
// confs[i] = (10000 + (i·7919) mod 12000)/1000, 3-decimal values in [10, 22)
// like the official compute_confidence output.
func refConfs(n int) []float64 {
	c := make([]float64, n)
	for i := range c {
		c[i] = float64(10000+(i*7919)%12000) / 1000.0
	}
	return c
}

func TestSummarizeOfficialReference(t *testing.T) {
	// Reference values: the official deepconf/utils.py
	// (facebookresearch/deepconf main 675529d) run under CPython 3.11.2
	// with NumPy 1.24.2, printed with repr:
	//   min(compute_least_grouped(confs, W)), calculate_bottom_window_
	//   confidence(trace, W, 0.1) and (…, −1), calculate_mean_confidence,
	//   calculate_tail_confidence(trace, T).
	// The module's builtin sum was also replaced by a transcription of
	// CPython 3.12's compensated sum; both gave the same values.
	tests := []struct {
		n, w, tail                          int
		lowest, bottom, minWindow, mean, tl float64
	}{
		{300, 64, 100, 15.595, 15.688652173913056, 15.594500000000014, 16.0105, 16.1105},
		{50, 64, 20, 15.8555, 15.8555, 15.8555, 15.8555, 15.000499999999999},
		{2100, 2048, 2048, 15.989, 15.990293749999998, 15.988546874999999, 16.00764285714286, 16.007546875000003},
	}
	for _, tt := range tests {
		confs := refConfs(tt.n)
		o := StatsOptions{Window: tt.w, Tail: tt.tail, BottomFraction: 0.1, Official: true}
		st, err := Summarize(confs, o)
		if err != nil {
			t.Fatal(err)
		}
		want := TraceStats{N: tt.n, Windows: max(0, tt.n-tt.w+1), Mean: tt.mean, LowestGroup: tt.lowest, Bottom: tt.bottom, Tail: tt.tl}
		if st != want {
			t.Errorf("n=%d W=%d: Summarize = %+v\nwant %+v", tt.n, tt.w, st, want)
		}
		o.BottomFraction = -1
		st, err = Summarize(confs, o)
		if err != nil {
			t.Fatal(err)
		}
		if st.Bottom != tt.minWindow {
			t.Errorf("n=%d W=%d: bottom(-1) = %v, want %v", tt.n, tt.w, st.Bottom, tt.minWindow)
		}
	}
}

func TestSummarizeOfficialVersusNative(t *testing.T) {
	// The official rounding moves the lowest group by up to 5e-4; the
	// native statistics are unrounded. On refConfs(300), W = 64 the
	// official min_conf is 15.595 while the exact lowest window mean is
	// 15.5945 (hand check: the unrounded official running-sum minimum is
	// 15.594500000000014).
	confs := refConfs(300)
	nat, err := Summarize(confs, StatsOptions{Window: 64, Tail: 100, BottomFraction: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	if !closeTo(nat.LowestGroup, 15.5945, 1e-12) {
		t.Errorf("native lowest %v, want 15.5945", nat.LowestGroup)
	}
	if !closeTo(nat.Bottom, 15.688652173913056, 1e-12) || !closeTo(nat.Mean, 16.0105, 1e-12) {
		t.Errorf("native %+v", nat)
	}
}

func TestSummarizeOfficialEmpty(t *testing.T) {
	st, err := Summarize([]float64{}, StatsOptions{Window: 4, Tail: 4, BottomFraction: 0.1, Official: true})
	if err != nil {
		t.Fatal(err)
	}
	if st != (TraceStats{Empty: true}) {
		t.Errorf("got %+v", st)
	}
}

func TestSummarizeOfficialFloat32(t *testing.T) {
	// float32 storage of 3-decimal values is converted to float64 first:
	// the statistics are those of the float64 images of the float32 values.
	// Hand-computed: [1.5 2.5 4.5] W = 2 → windows 2, 3.5 → min 2.
	st, err := Summarize([]float32{1.5, 2.5, 4.5}, StatsOptions{Window: 2, Tail: 2, BottomFraction: 0.5, Official: true})
	if err != nil {
		t.Fatal(err)
	}
	want := TraceStats{N: 3, Windows: 2, Mean: 8.5 / 3, LowestGroup: 2, Bottom: 2, Tail: 3.5}
	if st != want {
		t.Errorf("got %+v, want %+v", st, want)
	}
}

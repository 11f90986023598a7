package stats

import (
	"errors"
	"math"
	"testing"
)

// bh1995 are the 15 p-values of the worked example of Benjamini and
// Hochberg (1995, JRSS B 57:289, section 4; also in SciPy's documentation of
// scipy.stats.false_discovery_control). At q = 0.05 BH rejects the first four.
var bh1995 = []float64{0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459, 0.3240, 0.4262, 0.5719, 0.6528, 0.7590, 1.000}

func TestBenjaminiHochbergReference(t *testing.T) {
	// R 4.2.2: p.adjust(bh1995, "BH"), options(digits = 15).
	want := []float64{
		0.0015, 0.003, 0.0095, 0.035625, 0.0603,
		0.0638571428571429, 0.0638571428571429, 0.0645, 0.0765, 0.486,
		0.581181818181818, 0.714875, 0.753230769230769, 0.813214285714286, 1,
	}
	got, err := BenjaminiHochberg(bh1995)
	if err != nil {
		t.Fatal(err)
	}
	rejected := 0
	for i := range want {
		near(t, "BH", got[i], want[i], 1e-14)
		if got[i] <= 0.05 {
			rejected++
		}
	}
	if rejected != 4 {
		t.Errorf("BH rejects %d hypotheses at q = 0.05, want 4 (Benjamini and Hochberg 1995)", rejected)
	}

	// The adjustment does not depend on the order of the input.
	perm := []int{14, 3, 7, 0, 11, 5, 9, 1, 13, 6, 2, 10, 4, 12, 8}
	shuffled := make([]float64, len(perm))
	for i, j := range perm {
		shuffled[i] = bh1995[j]
	}
	adj, _ := BenjaminiHochberg(shuffled)
	for i, j := range perm {
		if adj[i] != got[j] {
			t.Errorf("shuffled: adjusted p of %v = %v, want %v", shuffled[i], adj[i], got[j])
		}
	}
}

func TestHolmReference(t *testing.T) {
	// R 4.2.2: p.adjust(bh1995, "holm").
	want := []float64{0.0015, 0.0056, 0.0247, 0.114, 0.2211, 0.278, 0.278, 0.278, 0.3213, 1, 1, 1, 1, 1, 1}
	got, err := Holm(bh1995)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		near(t, "Holm", got[i], want[i], 1e-14)
	}
}

func TestAdjustNaNAndTies(t *testing.T) {
	// R 4.2.2: q <- c(0.04, 0.01, 0.03, 0.04, 0.5, NA);
	// p.adjust(q, "BH") = 0.05 0.05 0.05 0.05 0.50 NA (m = 5, NA excluded);
	// p.adjust(q, "holm") = 0.12 0.05 0.12 0.12 0.50 NA.
	q := []float64{0.04, 0.01, 0.03, 0.04, 0.5, math.NaN()}
	bh, err := BenjaminiHochberg(q)
	if err != nil {
		t.Fatal(err)
	}
	holm, err := Holm(q)
	if err != nil {
		t.Fatal(err)
	}
	wantBH := []float64{0.05, 0.05, 0.05, 0.05, 0.5, math.NaN()}
	wantHolm := []float64{0.12, 0.05, 0.12, 0.12, 0.5, math.NaN()}
	for i := range q {
		near(t, "BH", bh[i], wantBH[i], 1e-15)
		near(t, "Holm", holm[i], wantHolm[i], 1e-15)
	}
	// Single and empty inputs.
	one, _ := BenjaminiHochberg([]float64{0.3})
	near(t, "BH single", one[0], 0.3, 0)
	empty, err := Holm(nil)
	if err != nil || len(empty) != 0 {
		t.Errorf("Holm(nil) = %v, %v", empty, err)
	}
	for _, bad := range []float64{-0.1, 1.5, math.Inf(1)} {
		if _, err := BenjaminiHochberg([]float64{0.2, bad}); !errors.Is(err, ErrInvalidP) {
			t.Errorf("BH with %v: err = %v, want ErrInvalidP", bad, err)
		}
		if _, err := Holm([]float64{bad}); !errors.Is(err, ErrInvalidP) {
			t.Errorf("Holm with %v: err = %v, want ErrInvalidP", bad, err)
		}
	}
}

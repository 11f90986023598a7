package stats

import (
	"errors"
	"math"
	"testing"
)

// Tolerances. Values printed by R with options(digits = 15) or 16 are
// asserted to tolR; values published with four decimals to tol4dp (half a
// unit in the last published digit); exact rationals to tolExact.
const (
	tolR     = 1e-9
	tol4dp   = 5e-5
	tolExact = 1e-12
)

// near fails the test when got is not within tol of want.
func near(t *testing.T, name string, got, want, tol float64) {
	t.Helper()
	if math.IsInf(want, 0) || math.IsNaN(want) {
		if got != want && !(math.IsNaN(got) && math.IsNaN(want)) {
			t.Errorf("%s = %.17g, want %v", name, got, want)
		}
		return
	}
	if !(math.Abs(got-want) <= tol) {
		t.Errorf("%s = %.17g, want %.17g (±%g, off by %.3g)", name, got, want, tol, got-want)
	}
}

func TestZCritical(t *testing.T) {
	// R 4.2.2: qnorm(0.975) = 1.959963984540054; qnorm(0.995) = 2.575829303548901.
	near(t, "z(0.95)", zCritical(0.95), 1.959963984540054, 1e-14)
	near(t, "z(0.99)", zCritical(0.99), 2.575829303548901, 1e-14)
}

func TestWilsonReference(t *testing.T) {
	tests := []struct {
		k, n     int
		rLo, rHi float64 // R 4.2.2: prop.test(k, n, correct = FALSE)$conf.int
		// Newcombe (1998a), Stat Med 17:857, method 3 (four decimals; also the
		// test values of the R package propint), checked when published.
		pubLo, pubHi float64
		published    bool
	}{
		{81, 263, 0.255288519878274, 0.366209576982800, 0.2553, 0.3662, true},
		{15, 148, 0.0623863995307363, 0.160487241723308, 0.0624, 0.1605, true},
		{0, 20, 0, 0.161125158052819, 0, 0, false},
		{1, 29, 0.00611321429276266, 0.171755218793203, 0, 0, false},
		{56, 70, 0.6918335550374695, 0.8769526075163704, 0, 0, false},
		{10, 10, 0.7224672001371109, 1, 0, 0, false},
	}
	for _, tt := range tests {
		lo, hi := Wilson(tt.k, tt.n, 0.95)
		t.Logf("Wilson(%d, %d) = [%.15f, %.15f]", tt.k, tt.n, lo, hi)
		near(t, "lo vs R", lo, tt.rLo, tolR)
		near(t, "hi vs R", hi, tt.rHi, tolR)
		if tt.published {
			near(t, "lo vs Newcombe 1998a", lo, tt.pubLo, tol4dp)
			near(t, "hi vs Newcombe 1998a", hi, tt.pubHi, tol4dp)
		}
	}
}

func TestWilsonEdges(t *testing.T) {
	if lo, hi := Wilson(0, 0, 0.95); lo != 0 || hi != 1 {
		t.Errorf("Wilson(0, 0) = [%v, %v], want [0, 1]", lo, hi)
	}
	if lo, _ := Wilson(0, 7, 0.95); lo != 0 {
		t.Errorf("Wilson(0, 7) lower = %v, want exactly 0", lo)
	}
	if _, hi := Wilson(7, 7, 0.95); hi != 1 {
		t.Errorf("Wilson(7, 7) upper = %v, want exactly 1", hi)
	}
	for _, bad := range []struct {
		k, n int
		conf float64
	}{{-1, 5, 0.95}, {6, 5, 0.95}, {1, -1, 0.95}, {1, 5, 0}, {1, 5, 1}, {1, 5, math.NaN()}} {
		lo, hi := Wilson(bad.k, bad.n, bad.conf)
		if !math.IsNaN(lo) || !math.IsNaN(hi) {
			t.Errorf("Wilson(%d, %d, %v) = [%v, %v], want NaN", bad.k, bad.n, bad.conf, lo, hi)
		}
	}
	// The score interval is symmetric under success/failure exchange, and
	// contains the point estimate.
	for n := 1; n <= 40; n++ {
		for k := 0; k <= n; k++ {
			lo, hi := Wilson(k, n, 0.9)
			flo, fhi := Wilson(n-k, n, 0.9)
			near(t, "symmetric lo", lo, 1-fhi, 1e-14)
			near(t, "symmetric hi", hi, 1-flo, 1e-14)
			if p := float64(k) / float64(n); p < lo || p > hi {
				t.Fatalf("Wilson(%d, %d) = [%v, %v] excludes %v", k, n, lo, hi, p)
			}
		}
	}
	// A higher confidence level gives a wider interval.
	lo95, hi95 := Wilson(81, 263, 0.95)
	lo99, hi99 := Wilson(81, 263, 0.99)
	if !(lo99 < lo95 && hi99 > hi95) {
		t.Errorf("99%% interval [%v, %v] not wider than 95%% [%v, %v]", lo99, hi99, lo95, hi95)
	}
}

func TestNewProportion(t *testing.T) {
	p, err := NewProportion(81, 263, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "rate", p.Rate, 81.0/263, tolExact)
	near(t, "lo", p.Lo, 0.255288519878274, tolR)
	if !p.Defined() || p.Small() {
		t.Errorf("81/263: Defined %v Small %v, want true false", p.Defined(), p.Small())
	}
	empty, err := NewProportion(0, 0, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	if empty.Defined() || !empty.Small() || empty.Rate != 0 || empty.Lo != 0 || empty.Hi != 1 {
		t.Errorf("0/0 = %+v, want undefined, small, rate 0, [0, 1]", empty)
	}
	if p, _ := NewProportion(29, 29, 0.95); !p.Small() {
		t.Error("29 observations not flagged small")
	}
	if p, _ := NewProportion(0, 30, 0.95); p.Small() {
		t.Error("30 observations flagged small")
	}
	if _, err := NewProportion(5, 4, 0.95); !errors.Is(err, ErrInvalidCount) {
		t.Errorf("5/4: err = %v, want ErrInvalidCount", err)
	}
	if _, err := NewProportion(1, 4, 95); !errors.Is(err, ErrInvalidConfidence) {
		t.Errorf("confidence 95: err = %v, want ErrInvalidConfidence", err)
	}
}

func TestNewcombeDifference(t *testing.T) {
	tests := []struct {
		k1, n1, k2, n2 int
		diff           float64
		// R 4.2.2 evaluation of Newcombe's method 10 from
		// prop.test(k, n, correct = FALSE)$conf.int of each group.
		rLo, rHi float64
		// Newcombe (1998b), Stat Med 17:873, Table II, method 10 (four
		// decimals); also the test values of the R package propint.
		pubLo, pubHi float64
		published    bool
	}{
		{56, 70, 48, 80, 0.2, 0.05243147240236493, 0.33387265403690586, 0.0524, 0.3339, true},
		{9, 10, 3, 10, 0.6, 0.1705227239345031, 0.8090179735354880, 0.1705, 0.8090, true},
		{6, 7, 2, 7, 4.0 / 7, 0.05822792748231231, 0.80624963752422774, 0, 0, false},
		{5, 56, 0, 29, 5.0 / 56, -0.03813714790353685, 0.19256001385511157, 0, 0, false},
		{0, 10, 0, 20, 0, -0.1611251580528193, 0.2775327998628891, 0, 0, false},
		{0, 10, 0, 10, 0, -0.2775327998628891, 0.2775327998628891, 0, 0, false},
		{10, 10, 0, 20, 1, 0.6790860371419148, 1, 0, 0, false},
		{10, 10, 0, 10, 1, 0.6075093504305243, 1, 0, 0, false},
	}
	for _, tt := range tests {
		d, err := NewcombeDifference(tt.k1, tt.n1, tt.k2, tt.n2, 0.95)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%d/%d - %d/%d = %.6f [%.15f, %.15f]", tt.k1, tt.n1, tt.k2, tt.n2, d.Diff, d.Lo, d.Hi)
		near(t, "diff", d.Diff, tt.diff, tolExact)
		near(t, "lo vs R", d.Lo, tt.rLo, tolR)
		near(t, "hi vs R", d.Hi, tt.rHi, tolR)
		if tt.published {
			near(t, "lo vs Newcombe 1998b", d.Lo, tt.pubLo, tol4dp)
			near(t, "hi vs Newcombe 1998b", d.Hi, tt.pubHi, tol4dp)
		}
		if want := tt.n1 < 30 || tt.n2 < 30; d.Small != want {
			t.Errorf("%d/%d - %d/%d: Small = %v, want %v", tt.k1, tt.n1, tt.k2, tt.n2, d.Small, want)
		}
	}
	// Swapping the groups negates the difference and mirrors the interval.
	a, _ := NewcombeDifference(56, 70, 48, 80, 0.95)
	b, _ := NewcombeDifference(48, 80, 56, 70, 0.95)
	near(t, "swap diff", b.Diff, -a.Diff, tolExact)
	near(t, "swap lo", b.Lo, -a.Hi, tolExact)
	near(t, "swap hi", b.Hi, -a.Lo, tolExact)
	big, _ := NewcombeDifference(300, 400, 200, 400, 0.95)
	if big.Small {
		t.Error("400 vs 400 flagged small")
	}

	if _, err := NewcombeDifference(1, 0, 1, 2, 0.95); !errors.Is(err, ErrInvalidCount) {
		t.Errorf("1/0: err = %v, want ErrInvalidCount", err)
	}
	if _, err := NewcombeDifference(0, 0, 1, 2, 0.95); !errors.Is(err, ErrTooFew) {
		t.Errorf("0/0: err = %v, want ErrTooFew", err)
	}
}

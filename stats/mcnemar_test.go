package stats

import (
	"errors"
	"testing"
)

func TestMcNemarPresidentialApproval(t *testing.T) {
	// Agresti (1990, p. 350) presidential approval ratings, the example of
	// R's mcnemar.test documentation: Performance <- matrix(c(794, 86, 150,
	// 570), nrow = 2), so b = x[1, 2] = 150 (approve, then disapprove) and
	// c = x[2, 1] = 86.
	// R 4.2.2 mcnemar.test(Performance): McNemar's chi-squared = 16.818, df =
	// 1, p = 4.115e-05 (continuity corrected, R's default); with correct =
	// FALSE: 17.356, p = 3.099e-05 (also Penn State STAT 504, "McNemar Test
	// in R": 17.3559, p-value = 3.099e-05). Statistics are exact rationals:
	// 64²/236 and 63²/236. Exact: R 4.2.2 binom.test(86, 236)$p.value.
	r, err := McNemar(150, 86)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("chi2 %.16g p %.16g corrected %.16g p %.16g exact %.16g", r.ChiSq, r.P, r.ChiSqCorrected, r.PCorrected, r.PExact)
	near(t, "chi-squared", r.ChiSq, 4096.0/236, tolExact)
	near(t, "chi-squared corrected", r.ChiSqCorrected, 3969.0/236, tolExact)
	near(t, "p", r.P, 3.09929344104522e-05, 1e-9*3.1e-05)
	near(t, "p corrected", r.PCorrected, 4.11456228134594e-05, 1e-9*4.1e-05)
	near(t, "p exact", r.PExact, 3.71593613957143e-05, 1e-9*3.7e-05)
	near(t, "chi-squared (printed)", r.ChiSqCorrected, 16.818, 5e-4)
	near(t, "p corrected (printed)", r.PCorrected, 4.115e-05, 5e-9)
	if r.Small {
		t.Error("236 discordant pairs flagged small")
	}
	// The orientation of the discordant pairs does not matter.
	s, _ := McNemar(86, 150)
	if s.ChiSq != r.ChiSq || s.PCorrected != r.PCorrected || s.PExact != r.PExact {
		t.Errorf("McNemar(86, 150) = %+v differs from McNemar(150, 86) = %+v", s, r)
	}
}

func TestMcNemarSmall(t *testing.T) {
	tests := []struct {
		b, c                 int
		chi, chiCorr, pExact float64
	}{
		// Exact p by hand: 2·P(X ≤ 1), X ~ Binomial(6, 1/2) = 2·7/64.
		{1, 5, 16.0 / 6, 9.0 / 6, 14.0 / 64},
		// 2·P(X ≤ 0), X ~ Binomial(3, 1/2) = 2/8.
		{0, 3, 3, 4.0 / 3, 0.25},
		// Equal counts: the exact p-value is 1; R's corrected statistic is
		// (0 − 1)²/(b + c), not truncated at zero.
		{4, 4, 0, 1.0 / 8, 1},
	}
	for _, tt := range tests {
		r, err := McNemar(tt.b, tt.c)
		if err != nil {
			t.Fatal(err)
		}
		near(t, "chi", r.ChiSq, tt.chi, tolExact)
		near(t, "chi corrected", r.ChiSqCorrected, tt.chiCorr, tolExact)
		near(t, "p exact", r.PExact, tt.pExact, tolExact)
		if !r.Small {
			t.Errorf("McNemar(%d, %d) not flagged small", tt.b, tt.c)
		}
	}
	// No discordant pairs: no evidence of a difference.
	r, err := McNemar(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if r.ChiSq != 0 || r.P != 1 || r.PCorrected != 1 || r.PExact != 1 || !r.Small {
		t.Errorf("McNemar(0, 0) = %+v", r)
	}
	if _, err := McNemar(-1, 2); !errors.Is(err, ErrInvalidCount) {
		t.Errorf("negative count: err = %v, want ErrInvalidCount", err)
	}
}

func TestMcNemarPaired(t *testing.T) {
	first := []bool{true, true, true, false, false, true, false, true}
	second := []bool{true, false, false, true, false, false, false, true}
	// Discordant: indices 1, 2, 5 are yes→no (b = 3), index 3 no→yes (c = 1).
	r, err := McNemarPaired(first, second)
	if err != nil {
		t.Fatal(err)
	}
	if r.B != 3 || r.C != 1 {
		t.Errorf("b, c = %d, %d, want 3, 1", r.B, r.C)
	}
	near(t, "exact p = 2·5/16", r.PExact, 10.0/16, tolExact)
	if _, err := McNemarPaired(first, second[:3]); !errors.Is(err, ErrLength) {
		t.Errorf("length mismatch: err = %v, want ErrLength", err)
	}
}

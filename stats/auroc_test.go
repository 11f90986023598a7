package stats

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// hanleyMcNeil returns the CT rating data of Hanley and McNeil (1982,
// Radiology 143:29, Table I; also Stata's hanley.dta): ratings 1 (definitely
// normal) to 5 (definitely abnormal) of 58 normal and 51 abnormal cases.
func hanleyMcNeil() (scores []float64, abnormal []bool) {
	normal := []int{33, 6, 6, 11, 2}
	sick := []int{3, 2, 2, 11, 33}
	for rating := range 5 {
		for range normal[rating] {
			scores = append(scores, float64(rating+1))
			abnormal = append(abnormal, false)
		}
		for range sick[rating] {
			scores = append(scores, float64(rating+1))
			abnormal = append(abnormal, true)
		}
	}
	return scores, abnormal
}

func TestAUROCHandExamples(t *testing.T) {
	tests := []struct {
		name     string
		scores   []float64
		positive []bool
		want     float64
	}{
		// scikit-learn documentation of roc_auc_score: y = [0, 0, 1, 1],
		// scores [0.1, 0.4, 0.35, 0.8] => 0.75 (3 of the 4 pairs ordered).
		{"sklearn", []float64{0.1, 0.4, 0.35, 0.8}, []bool{false, false, true, true}, 0.75},
		// Pairs (pos, neg): (1,1) tie ½, (1,2) 0, (2,1) 1, (2,2) tie ½ => 2/4.
		{"ties", []float64{1, 2, 1, 2}, []bool{true, true, false, false}, 0.5},
		// Positives 3, 3; negatives 1, 3, 5: pairs 1 + ½ + 0 twice => 3/6.
		{"ties 2", []float64{3, 1, 3, 3, 5}, []bool{true, false, true, false, false}, 0.5},
		{"separated", []float64{5, 6, 1, 2, 3}, []bool{true, true, false, false, false}, 1},
		{"reversed", []float64{-5, -6, 1, 2, 3}, []bool{true, true, false, false, false}, 0},
		{"all tied", []float64{7, 7, 7}, []bool{true, false, false}, 0.5},
		// Positives 0.9, 0.6, 0.3; negatives 0.8, 0.5, 0.2, 0.1:
		// 0.9 beats 4, 0.6 beats 3, 0.3 beats 2 => 9/12.
		{"interleaved", []float64{0.9, 0.8, 0.6, 0.5, 0.3, 0.2, 0.1}, []bool{true, false, true, false, true, false, false}, 0.75},
	}
	for _, tt := range tests {
		got, err := AUROC(tt.scores, tt.positive)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		near(t, tt.name, got, tt.want, tolExact)
	}
}

func TestAUROCHanleyMcNeil(t *testing.T) {
	scores, abnormal := hanleyMcNeil()
	auc, err := AUROC(scores, abnormal)
	if err != nil {
		t.Fatal(err)
	}
	// Exact Mann–Whitney value with ties counted ½: 2642/(2·58·51) =
	// 1321/1479 (Python fractions); Hanley and McNeil publish 0.893.
	near(t, "AUROC exact", auc, 1321.0/1479, 1e-15)
	near(t, "AUROC published", auc, 0.893, 5e-4)

	// R 4.2.2 with pROC 1.18.0: r <- roc(y, s, direction = "<");
	// auc(r) = 0.893171061528, sqrt(var(r)) = 0.0307244083793811 (DeLong),
	// ci.auc(r) = 0.832952327658-0.953389795398 (DeLong).
	d, err := DeLong(scores, abnormal, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("DeLong AUC %.15g SE %.15g CI [%.12g, %.12g]", d.AUC, d.SE, d.Lo, d.Hi)
	near(t, "DeLong AUC", d.AUC, 0.893171061528, 5e-13)
	near(t, "DeLong SE", d.SE, 0.0307244083793811, tolR)
	near(t, "DeLong lo", d.Lo, 0.832952327658, 5e-12)
	near(t, "DeLong hi", d.Hi, 0.953389795398, 5e-12)
	if d.Positives != 51 || d.Negatives != 58 || d.Small {
		t.Errorf("counts %d/%d small %v, want 51/58 false", d.Positives, d.Negatives, d.Small)
	}
}

// bruteAUROC counts ordered pairs directly.
func bruteAUROC(scores []float64, positive []bool) float64 {
	var sum float64
	var pairs int
	for i := range scores {
		for j := range scores {
			if !positive[i] || positive[j] {
				continue
			}
			pairs++
			switch {
			case scores[i] > scores[j]:
				sum++
			case scores[i] == scores[j]:
				sum += 0.5
			}
		}
	}
	return sum / float64(pairs)
}

// bruteDeLongSE computes the placement values by direct comparison.
func bruteDeLongSE(scores []float64, positive []bool) float64 {
	psi := func(x, y float64) float64 {
		switch {
		case x > y:
			return 1
		case x == y:
			return 0.5
		}
		return 0
	}
	var v10, v01 []float64
	for i := range scores {
		var s float64
		var n int
		for j := range scores {
			if positive[i] != positive[j] {
				n++
				if positive[i] {
					s += psi(scores[i], scores[j])
				} else {
					s += psi(scores[j], scores[i])
				}
			}
		}
		if positive[i] {
			v10 = append(v10, s/float64(n))
		} else {
			v01 = append(v01, s/float64(n))
		}
	}
	return math.Sqrt(Variance(v10)/float64(len(v10)) + Variance(v01)/float64(len(v01)))
}

func TestAUROCAgainstBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 50 {
		n := 4 + rng.IntN(60)
		scores := make([]float64, n)
		positive := make([]bool, n)
		for i := range n {
			// Coarse scores produce many ties.
			scores[i] = float64(rng.IntN(8)) / 4
			positive[i] = i%2 == 0 || rng.Float64() < 0.3
		}
		positive[n-1] = false
		want := bruteAUROC(scores, positive)
		got, err := AUROC(scores, positive)
		if err != nil {
			t.Fatal(err)
		}
		near(t, "AUROC vs brute force", got, want, 1e-14)
		d, err := DeLong(scores, positive, 0.95)
		if err != nil {
			t.Fatal(err)
		}
		near(t, "DeLong SE vs brute force", d.SE, bruteDeLongSE(scores, positive), 1e-14)
		// Negating the scores reverses the ordering.
		neg := make([]float64, n)
		for i, s := range scores {
			neg[i] = -s
		}
		rev, _ := AUROC(neg, positive)
		near(t, "AUROC of negated scores", rev, 1-got, 1e-14)
	}
}

func TestBootstrapAUROC(t *testing.T) {
	scores, abnormal := hanleyMcNeil()
	a, err := BootstrapAUROC(scores, abnormal, 0.95, DefaultResamples, 42)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("bootstrap AUC %.6f [%.6f, %.6f] from %d resamples", a.AUC, a.Lo, a.Hi, a.Resamples)
	near(t, "AUC", a.AUC, 1321.0/1479, 1e-15)
	if !(a.Lo < a.AUC && a.AUC < a.Hi) {
		t.Errorf("interval [%v, %v] excludes the AUROC %v", a.Lo, a.Hi, a.AUC)
	}
	// With 58 and 51 cases the percentile interval should agree with the
	// DeLong interval [0.8330, 0.9534] to within a couple of hundredths.
	near(t, "bootstrap lo vs DeLong", a.Lo, 0.832952327658, 0.02)
	near(t, "bootstrap hi vs DeLong", a.Hi, 0.953389795398, 0.02)
	if a.Seed != 42 || a.Resamples != DefaultResamples || a.Positives != 51 || a.Negatives != 58 || a.Small {
		t.Errorf("result metadata %+v", a)
	}

	// Deterministic given the seed; a different seed changes the interval.
	b, _ := BootstrapAUROC(scores, abnormal, 0.95, DefaultResamples, 42)
	if a != b {
		t.Errorf("same seed gave %+v and %+v", a, b)
	}
	c, _ := BootstrapAUROC(scores, abnormal, 0.95, DefaultResamples, 43)
	if c.Lo == a.Lo && c.Hi == a.Hi {
		t.Errorf("seeds 42 and 43 gave the same interval [%v, %v]", a.Lo, a.Hi)
	}
	// A narrower confidence level gives a nested interval (same resamples).
	n, _ := BootstrapAUROC(scores, abnormal, 0.5, DefaultResamples, 42)
	if !(n.Lo >= a.Lo && n.Hi <= a.Hi && n.Lo < n.Hi) {
		t.Errorf("50%% interval [%v, %v] not inside 95%% [%v, %v]", n.Lo, n.Hi, a.Lo, a.Hi)
	}

	// Perfect separation survives every stratified resample.
	sep, err := BootstrapAUROC([]float64{1, 2, 3, 10, 11}, []bool{false, false, false, true, true}, 0.95, 200, 1)
	if err != nil {
		t.Fatal(err)
	}
	if sep.AUC != 1 || sep.Lo != 1 || sep.Hi != 1 || !sep.Small {
		t.Errorf("separated: %+v", sep)
	}
}

func TestQuantile(t *testing.T) {
	// R: quantile(c(1, 2, 3, 4, 10), c(0, 0.1, 0.25, 0.5, 0.9, 1), type = 7)
	// = 1, 1.4, 2, 3, 7.6, 10 (h = 4p, linear interpolation).
	x := []float64{1, 2, 3, 4, 10}
	for _, tt := range []struct{ p, want float64 }{{0, 1}, {0.1, 1.4}, {0.25, 2}, {0.5, 3}, {0.9, 7.6}, {1, 10}} {
		near(t, "quantile", Quantile(x, tt.p), tt.want, 1e-14)
	}
	near(t, "single", Quantile([]float64{3}, 0.3), 3, 0)
	// R: quantile(c(1, 2, 4, 8), c(0, 0.25, 0.5, 0.9, 1), type = 7)
	// = 1, 1.75, 3, 6.8, 8.
	for _, tt := range []struct{ p, want float64 }{{0, 1}, {0.25, 1.75}, {0.5, 3}, {0.9, 6.8}, {1, 8}} {
		near(t, "quantile", Quantile([]float64{1, 2, 4, 8}, tt.p), tt.want, 1e-15)
	}
	if q := Quantile(nil, 0.5); !math.IsNaN(q) {
		t.Errorf("Quantile(nil) = %v, want NaN", q)
	}
}

func TestAUROCErrors(t *testing.T) {
	if _, err := AUROC([]float64{1, 2}, []bool{true, true}); !errors.Is(err, ErrOneClass) {
		t.Errorf("one class: err = %v, want ErrOneClass", err)
	}
	if _, err := AUROC(nil, nil); !errors.Is(err, ErrOneClass) {
		t.Errorf("empty: err = %v, want ErrOneClass", err)
	}
	if _, err := AUROC([]float64{1, 2}, []bool{true}); !errors.Is(err, ErrLength) {
		t.Errorf("length: err = %v, want ErrLength", err)
	}
	if _, err := AUROC([]float64{1, math.NaN()}, []bool{true, false}); !errors.Is(err, ErrNotFinite) {
		t.Errorf("NaN: err = %v, want ErrNotFinite", err)
	}
	if _, err := DeLong([]float64{1, 2, 3}, []bool{true, false, false}, 0.95); !errors.Is(err, ErrTooFew) {
		t.Errorf("DeLong with one positive: err = %v, want ErrTooFew", err)
	}
	if _, err := DeLong([]float64{1, 2, 3, 4}, []bool{true, true, false, false}, 0); !errors.Is(err, ErrInvalidConfidence) {
		t.Errorf("DeLong confidence 0: err = %v, want ErrInvalidConfidence", err)
	}
	if _, err := BootstrapAUROC([]float64{1, 2}, []bool{true, false}, 0.95, 0, 1); !errors.Is(err, ErrTooFew) {
		t.Errorf("0 resamples: err = %v, want ErrTooFew", err)
	}
	if _, err := BootstrapAUROC([]float64{1, 2}, []bool{true, true}, 0.95, 10, 1); !errors.Is(err, ErrOneClass) {
		t.Errorf("bootstrap one class: err = %v, want ErrOneClass", err)
	}
}

// BenchmarkBootstrapAUROC measures one full interval at the scale of a large
// run: 5000 instances with continuous scores, DefaultResamples resamples.
func BenchmarkBootstrapAUROC(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	scores := make([]float64, 5000)
	positive := make([]bool, len(scores))
	for i := range scores {
		positive[i] = rng.Float64() < 0.2
		scores[i] = rng.NormFloat64()
		if positive[i] {
			scores[i] += 1
		}
	}
	b.ResetTimer()
	for range b.N {
		if _, err := BootstrapAUROC(scores, positive, 0.95, DefaultResamples, 7); err != nil {
			b.Fatal(err)
		}
	}
}

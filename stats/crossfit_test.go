package stats

import (
	"errors"
	"math"
	"slices"
	"testing"
)

func TestStratifiedFolds(t *testing.T) {
	outcome := make([]bool, 103)
	pos := 0
	for i := range outcome {
		outcome[i] = i%7 == 0 || i%5 == 0
		if outcome[i] {
			pos++
		}
	}
	const k = 5
	folds, err := StratifiedFolds(outcome, k, 42)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := StratifiedFolds(outcome, k, 42)
	if !slices.Equal(folds, again) {
		t.Error("same seed, different folds")
	}
	other, _ := StratifiedFolds(outcome, k, 43)
	if slices.Equal(folds, other) {
		t.Error("seeds 42 and 43 give the same folds")
	}
	size := make([]int, k)
	posIn := make([]int, k)
	for i, f := range folds {
		size[f]++
		if outcome[i] {
			posIn[f]++
		}
	}
	n := len(outcome)
	for f := range k {
		if size[f] != n/k && size[f] != n/k+1 {
			t.Errorf("fold %d has %d instances, want %d or %d", f, size[f], n/k, n/k+1)
		}
		if d := float64(posIn[f]) - float64(pos)/k; math.Abs(d) >= 1 {
			t.Errorf("fold %d has %d positives of %d (share off by %.2f instances)", f, posIn[f], pos, d)
		}
	}
	for _, k := range []int{0, 1, n + 1} {
		if _, err := StratifiedFolds(outcome, k, 1); !errors.Is(err, ErrTooFew) {
			t.Errorf("k = %d: err %v", k, err)
		}
	}
}

func TestCrossFitNeverSelf(t *testing.T) {
	// Unique scores identify the instances: the fitted "map" answers 1 for
	// a score it was trained on, so every out-of-fold value must be 0.
	n := 37
	score := make([]float64, n)
	outcome := make([]bool, n)
	for i := range score {
		score[i] = float64(i)
		outcome[i] = i%3 == 0
	}
	folds, err := StratifiedFolds(outcome, 4, 9)
	if err != nil {
		t.Fatal(err)
	}
	fits := 0
	spy := func(s []float64, o []bool) (func(float64) float64, error) {
		fits++
		seen := map[float64]bool{}
		for _, v := range s {
			seen[v] = true
		}
		return func(v float64) float64 {
			if seen[v] {
				return 1
			}
			return 0
		}, nil
	}
	got, err := CrossFit(score, outcome, folds, spy)
	if err != nil {
		t.Fatal(err)
	}
	if fits != 4 {
		t.Errorf("%d fits, want 4", fits)
	}
	for i, v := range got {
		if v != 0 {
			t.Errorf("instance %d was scored by a map fitted on itself", i)
		}
	}
}

func TestCrossFitIsotonic(t *testing.T) {
	// Two folds by hand: fold 0 = even indices, fold 1 = odd ones.
	score := []float64{0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8}
	outcome := []bool{false, false, true, false, true, true, true, true}
	folds := []int{0, 1, 0, 1, 0, 1, 0, 1}
	got, err := CrossFit(score, outcome, folds, IsotonicFitter)
	if err != nil {
		t.Fatal(err)
	}
	// Fold 0 is scored by the fit on the odd points (0.2→0, 0.4→0,
	// 0.6→1, 0.8→1): 0.1→0, 0.3→0, 0.5→0.5 (interpolated), 0.7→1.
	// Fold 1 by the fit on the even points (0.1→0, 0.3→1, 0.5→1,
	// 0.7→1): 0.2→0.5, 0.4→1, 0.6→1, 0.8→1.
	want := []float64{0, 0.5, 0, 1, 0.5, 1, 1, 1}
	for i := range want {
		near(t, "cross-fitted", got[i], want[i], 1e-15)
	}
	if _, err := CrossFit(score, outcome, []int{0, 0, 0, 0, 0, 0, 0, 0}, IsotonicFitter); !errors.Is(err, ErrTooFew) {
		t.Errorf("one fold: %v", err)
	}
	if _, err := CrossFit(score, outcome, []int{0, 2, 0, 2, 0, 2, 0, 2}, IsotonicFitter); !errors.Is(err, ErrTooFew) {
		t.Errorf("empty fold 1: %v", err)
	}
	if _, err := CrossFit(score, outcome, []int{0, 1}, IsotonicFitter); !errors.Is(err, ErrLength) {
		t.Errorf("length: %v", err)
	}
	p, err := CrossFit(score, outcome, folds, PlattFitter)
	if err != nil {
		t.Fatal(err)
	}
	for i := 2; i < len(p); i++ {
		if p[i] < p[i-2] { // i and i−2 share a fold
			t.Errorf("Platt map decreases within a fold")
		}
	}
}

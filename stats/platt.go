package stats

import (
	"fmt"
	"math"
)

// PlattMap is Platt's sigmoid P(y = 1 | s) = 1 / (1 + exp(A·s + B)). A is
// negative when higher scores mean a higher probability.
type PlattMap struct {
	A, B float64
}

// Predict returns the probability at score s.
func (m PlattMap) Predict(s float64) float64 {
	f := m.A*s + m.B
	// Evaluated so that exp never overflows (Lin, Lin and Weng 2007).
	if f >= 0 {
		e := math.Exp(-f)
		return e / (1 + e)
	}
	return 1 / (1 + math.Exp(f))
}

// FitPlatt fits Platt's (1999) sigmoid to scores and binary outcomes by
// maximum likelihood with Platt's smoothed targets: (N₊ + 1)/(N₊ + 2) for
// a positive and 1/(N₋ + 2) for a negative instead of 1 and 0, which keeps
// the fit finite when the classes are separable. The optimiser is the
// Newton method with backtracking line search of Lin, Lin and Weng (2007,
// Algorithm 1), with their constants: starting point A = 0, B = log((N₋ +
// 1)/(N₊ + 1)), Hessian ridge 1e-12, gradient tolerance 1e-5, minimum step
// 1e-10 and at most 100 iterations. Scores must be finite; one class may
// be absent (the fit is then a constant near the smoothed target).
func FitPlatt(score []float64, outcome []bool) (PlattMap, error) {
	if len(score) != len(outcome) {
		return PlattMap{}, fmt.Errorf("stats: platt: %d scores and %d outcomes: %w", len(score), len(outcome), ErrLength)
	}
	if len(score) == 0 {
		return PlattMap{}, fmt.Errorf("stats: platt: no data: %w", ErrTooFew)
	}
	if err := checkFinite("score", score); err != nil {
		return PlattMap{}, fmt.Errorf("stats: platt: %w", err)
	}
	var nPos, nNeg float64
	for _, o := range outcome {
		if o {
			nPos++
		} else {
			nNeg++
		}
	}
	hiTarget, loTarget := (nPos+1)/(nPos+2), 1/(nNeg+2)
	t := make([]float64, len(score))
	for i, o := range outcome {
		t[i] = loTarget
		if o {
			t[i] = hiTarget
		}
	}
	const (
		maxIter = 100
		minStep = 1e-10
		sigma   = 1e-12
		eps     = 1e-5
	)
	a, b := 0.0, math.Log((nNeg+1)/(nPos+1))
	// objective is the negative log-likelihood with targets t, written so
	// that no exp overflows.
	objective := func(a, b float64) float64 {
		var f float64
		for i, s := range score {
			fa := s*a + b
			if fa >= 0 {
				f += t[i]*fa + math.Log1p(math.Exp(-fa))
			} else {
				f += (t[i]-1)*fa + math.Log1p(math.Exp(fa))
			}
		}
		return f
	}
	fval := objective(a, b)
	for range maxIter {
		// Gradient and Hessian (with a ridge of sigma).
		h11, h22, h21 := sigma, sigma, 0.0
		var g1, g2 float64
		for i, s := range score {
			fa := s*a + b
			var p, q float64
			if fa >= 0 {
				e := math.Exp(-fa)
				p, q = e/(1+e), 1/(1+e)
			} else {
				e := math.Exp(fa)
				p, q = 1/(1+e), e/(1+e)
			}
			d2 := p * q
			h11 += s * s * d2
			h22 += d2
			h21 += s * d2
			d1 := t[i] - p
			g1 += s * d1
			g2 += d1
		}
		if math.Abs(g1) < eps && math.Abs(g2) < eps {
			break
		}
		det := h11*h22 - h21*h21
		dA := -(h22*g1 - h21*g2) / det
		dB := -(-h21*g1 + h11*g2) / det
		gd := g1*dA + g2*dB
		step := 1.0
		for step >= minStep {
			na, nb := a+step*dA, b+step*dB
			nf := objective(na, nb)
			if nf < fval+0.0001*step*gd {
				a, b, fval = na, nb, nf
				break
			}
			step /= 2
		}
		if step < minStep {
			break // the line search failed: keep the last point
		}
	}
	return PlattMap{A: a, B: b}, nil
}

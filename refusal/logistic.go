package refusal

import (
	"context"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/optimize"
)

// sparseVec is one example's feature vector: sorted, distinct indices and
// their values.
type sparseVec struct {
	idx []uint32
	val []float32
}

// vectorize turns extracted features into a sparse vector: each block's
// indices are counted and scaled by blockScale, duplicates summed.
func vectorize(f *features) sparseVec {
	n := 0
	for b := range f.idx {
		n += len(f.idx[b])
	}
	type iv struct {
		i uint32
		v float64
	}
	all := make([]iv, 0, n)
	for b := range f.idx {
		s := blockScale(b, len(f.idx[b]))
		for _, i := range f.idx[b] {
			all = append(all, iv{i, s})
		}
	}
	slices.SortFunc(all, func(a, b iv) int {
		switch {
		case a.i < b.i:
			return -1
		case a.i > b.i:
			return 1
		}
		return 0
	})
	var v sparseVec
	for k := 0; k < len(all); {
		j, sum := k, 0.0
		for ; j < len(all) && all[j].i == all[k].i; j++ {
			sum += all[j].v
		}
		v.idx = append(v.idx, all[k].i)
		v.val = append(v.val, float32(sum))
		k = j
	}
	return v
}

// fitLogistic fits L2-regularised logistic regression by L-BFGS (gonum's
// optimize package): it minimises
//
//	(1/Σc) Σ c_i · log(1 + exp(−s_i·(b + w·x_i))) + λ/2 · ‖w‖²
//
// over w (dimension dim) and the unpenalised bias b, where s_i = ±1 is the
// label (y_i true: +1) and c_i the example's weight. The optimum is unique
// (the objective is strictly convex in w), so the result does not depend on
// the order of the examples beyond floating-point rounding, which is fixed
// for a given input order.
func fitLogistic(ctx context.Context, xs []sparseVec, ys []bool, cs []float64, dim int, lambda float64, maxIter int) (w []float32, bias float64, err error) {
	if len(xs) == 0 {
		return nil, 0, fmt.Errorf("fit: no examples")
	}
	sumC := 0.0
	for _, c := range cs {
		sumC += c
	}
	// x[0:dim] are the weights, x[dim] the bias.
	lastX := make([]float64, dim+1)
	lastG := make([]float64, dim+1)
	lastF := math.NaN()
	eval := func(x []float64) {
		if !math.IsNaN(lastF) && floats.Equal(x, lastX) {
			return
		}
		copy(lastX, x)
		clear(lastG)
		b := x[dim]
		f := 0.0
		for i, v := range xs {
			z := b
			for k, j := range v.idx {
				z += x[j] * float64(v.val[k])
			}
			s := -1.0
			if ys[i] {
				s = 1
			}
			m := s * z
			// log(1+exp(−m)) and its derivative −s·σ(−m), computed stably.
			var loss, sig float64
			if m > 0 {
				e := math.Exp(-m)
				loss = math.Log1p(e)
				sig = e / (1 + e)
			} else {
				e := math.Exp(m)
				loss = -m + math.Log1p(e)
				sig = 1 / (1 + e)
			}
			c := cs[i] / sumC
			f += c * loss
			g := -s * sig * c
			for k, j := range v.idx {
				lastG[j] += g * float64(v.val[k])
			}
			lastG[dim] += g
		}
		for j := 0; j < dim; j++ {
			f += lambda / 2 * x[j] * x[j]
			lastG[j] += lambda * x[j]
		}
		lastF = f
	}
	p := optimize.Problem{
		Func: func(x []float64) float64 { eval(x); return lastF },
		Grad: func(g, x []float64) { eval(x); copy(g, lastG) },
		Status: func() (optimize.Status, error) {
			if err := ctx.Err(); err != nil {
				return optimize.Failure, err
			}
			return optimize.NotTerminated, nil
		},
	}
	settings := &optimize.Settings{
		MajorIterations:   maxIter,
		GradientThreshold: 1e-6,
		Converger:         &optimize.FunctionConverge{Relative: 1e-7, Iterations: 10},
	}
	res, err := optimize.Minimize(p, make([]float64, dim+1), settings, &optimize.LBFGS{})
	if err != nil && ctx.Err() != nil {
		return nil, 0, fmt.Errorf("fit: %w", ctx.Err())
	}
	if res == nil {
		return nil, 0, fmt.Errorf("fit: %w", err)
	}
	// Iteration limits and line-search stalls near the optimum are not
	// failures: the location is the best one found.
	w = make([]float32, dim)
	for j := range w {
		w[j] = float32(res.X[j])
	}
	return w, res.X[dim], nil
}

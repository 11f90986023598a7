package stats

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat/distuv"
)

// Logistic regression is fitted here by iteratively reweighted least squares
// (Newton–Raphson for the canonical logit link, as R's glm.fit does): no
// maintained Go library offers a GLM. The linear algebra is gonum's
// (mat.Cholesky).

// ErrNoConvergence reports an iterative fit that did not converge, typically
// because the outcome is perfectly separated by a predictor (the maximum
// likelihood estimate is then infinite).
var ErrNoConvergence = errors.New("fit did not converge")

// Logistic fitting constants: R's glm.control defaults.
const (
	logisticEpsilon = 1e-8
	logisticMaxIter = 25
)

// LogisticFit is a maximum-likelihood logistic regression of a binary
// outcome on an intercept and predictors.
type LogisticFit struct {
	// Coef holds the intercept and then one coefficient per predictor;
	// SE their standard errors from the inverse Fisher information at the
	// estimate (R's summary.glm).
	Coef []float64
	SE   []float64
	// Deviance is −2 log-likelihood of the fit; NullDeviance that of the
	// intercept-only model.
	Deviance     float64
	NullDeviance float64
	// N is the number of observations and Iterations the IRLS steps taken.
	N          int
	Iterations int
	// Extreme is set when a fitted probability is numerically 0 or 1
	// (R's warning "fitted probabilities numerically 0 or 1 occurred"):
	// the outcome is nearly separated and Wald intervals are unreliable.
	Extreme bool
}

// LogisticRegression fits P(y = 1) = 1/(1 + exp(−(b0 + Σ b_j x_j))) by
// maximum likelihood. x[i] holds the predictors of observation i (no
// intercept column: it is added); every row must have the same length. The
// iteration, its starting values (μ = (y + 1/2)/2) and its stopping rule
// (relative change of the deviance below 1e-8, at most 25 iterations) are
// R's glm.fit, so the estimates agree with R's glm(y ~ x, family =
// binomial) to its convergence tolerance. A step that increases the
// deviance is halved towards the previous estimate (the safeguard of
// Marschner's glm2, R Journal 2011; glm.fit halves only non-finite
// deviances); it changes the path, never the maximum.
//
// It is an error when there are no observations, when the rows differ in
// length or hold a non-finite value, when y has a single class, when the
// predictors are collinear (the information matrix is singular), or when the
// fit does not converge (ErrNoConvergence: typically perfect separation).
func LogisticRegression(y []bool, x [][]float64) (LogisticFit, error) {
	n := len(y)
	if n == 0 {
		return LogisticFit{}, fmt.Errorf("stats: logistic regression: %w: no observations", ErrTooFew)
	}
	if len(x) != n {
		return LogisticFit{}, fmt.Errorf("stats: logistic regression: %d outcomes, %d predictor rows: %w", n, len(x), ErrLength)
	}
	p := 1
	if n > 0 {
		p += len(x[0])
	}
	ones := 0
	for i, row := range x {
		if len(row) != p-1 {
			return LogisticFit{}, fmt.Errorf("stats: logistic regression: row %d has %d predictors, row 0 has %d: %w", i, len(row), p-1, ErrLength)
		}
		for j, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return LogisticFit{}, fmt.Errorf("stats: logistic regression: x[%d][%d] = %v: %w", i, j, v, ErrNotFinite)
			}
		}
		if y[i] {
			ones++
		}
	}
	if ones == 0 || ones == n {
		return LogisticFit{}, fmt.Errorf("stats: logistic regression: %w (%d of %d outcomes are 1)", ErrOneClass, ones, n)
	}
	if n < p {
		return LogisticFit{}, fmt.Errorf("stats: logistic regression: %w: %d observations for %d coefficients", ErrTooFew, n, p)
	}

	design := func(i, j int) float64 {
		if j == 0 {
			return 1
		}
		return x[i][j-1]
	}
	yv := make([]float64, n)
	for i := range y {
		if y[i] {
			yv[i] = 1
		}
	}
	// Starting values as glm.fit: mu = (y + 1/2)/2, eta = logit(mu); the
	// first step is a weighted least-squares fit of the working response.
	eta := make([]float64, n)
	mu := make([]float64, n)
	for i := range n {
		mu[i] = (yv[i] + 0.5) / 2
		eta[i] = math.Log(mu[i] / (1 - mu[i]))
	}
	xtwx := mat.NewSymDense(p, nil)
	xtwz := mat.NewVecDense(p, nil)
	beta := mat.NewVecDense(p, nil)
	var chol mat.Cholesky
	dev := math.Inf(1)
	fit := LogisticFit{N: n}
	converged := false
	for iter := 1; iter <= logisticMaxIter; iter++ {
		xtwx.Zero()
		xtwz.Zero()
		for i := range n {
			w := mu[i] * (1 - mu[i])
			z := eta[i] + (yv[i]-mu[i])/w
			for a := range p {
				xa := design(i, a)
				xtwz.SetVec(a, xtwz.AtVec(a)+w*xa*z)
				for b := a; b < p; b++ {
					xtwx.SetSym(a, b, xtwx.At(a, b)+w*xa*design(i, b))
				}
			}
		}
		if ok := chol.Factorize(xtwx); !ok {
			return LogisticFit{}, fmt.Errorf("stats: logistic regression: the predictors are collinear (singular information matrix)")
		}
		next := mat.NewVecDense(p, nil)
		if err := chol.SolveVecTo(next, xtwz); err != nil {
			return LogisticFit{}, fmt.Errorf("stats: logistic regression: %w", err)
		}
		newDev := logisticUpdate(next, design, n, p, yv, eta, mu)
		// Step halving: a step that increases the deviance is halved
		// towards the previous estimate.
		for halve := 0; iter > 1 && newDev > dev && halve < 30; halve++ {
			next.AddVec(next, beta)
			next.ScaleVec(0.5, next)
			newDev = logisticUpdate(next, design, n, p, yv, eta, mu)
		}
		beta.CopyVec(next)
		fit.Iterations = iter
		if math.Abs(newDev-dev)/(math.Abs(newDev)+0.1) < logisticEpsilon {
			dev = newDev
			converged = true
			break
		}
		dev = newDev
	}
	if !converged {
		return LogisticFit{}, fmt.Errorf("stats: logistic regression: %w after %d iterations (is the outcome separated by a predictor?)", ErrNoConvergence, logisticMaxIter)
	}
	// Covariance: the inverse information at the estimate.
	xtwx.Zero()
	for i := range n {
		w := mu[i] * (1 - mu[i])
		for a := range p {
			for b := a; b < p; b++ {
				xtwx.SetSym(a, b, xtwx.At(a, b)+w*design(i, a)*design(i, b))
			}
		}
		if mu[i] < 10*epsilonMachine || mu[i] > 1-10*epsilonMachine {
			fit.Extreme = true
		}
	}
	if ok := chol.Factorize(xtwx); !ok {
		return LogisticFit{}, fmt.Errorf("stats: logistic regression: singular information matrix at the estimate")
	}
	var cov mat.SymDense
	if err := chol.InverseTo(&cov); err != nil {
		return LogisticFit{}, fmt.Errorf("stats: logistic regression: %w", err)
	}
	fit.Coef = make([]float64, p)
	fit.SE = make([]float64, p)
	for j := range p {
		fit.Coef[j] = beta.AtVec(j)
		fit.SE[j] = math.Sqrt(cov.At(j, j))
	}
	fit.Deviance = dev
	pbar := float64(ones) / float64(n)
	fit.NullDeviance = -2 * (float64(ones)*math.Log(pbar) + float64(n-ones)*math.Log(1-pbar))
	return fit, nil
}

// epsilonMachine is R's .Machine$double.eps, the scale of glm.fit's "fitted
// probabilities numerically 0 or 1" check.
const epsilonMachine = 2.220446049250313e-16

// logisticUpdate sets eta and mu for the coefficients beta and returns the
// deviance.
func logisticUpdate(beta *mat.VecDense, design func(i, j int) float64, n, p int, y, eta, mu []float64) float64 {
	dev := 0.0
	for i := range n {
		e := 0.0
		for j := range p {
			e += design(i, j) * beta.AtVec(j)
		}
		eta[i] = e
		// 1/(1+exp(−e)) clamped away from 0 and 1, as binomial()$linkinv.
		m := 1 / (1 + math.Exp(-e))
		m = min(max(m, epsilonMachine), 1-epsilonMachine)
		mu[i] = m
		if y[i] == 1 {
			dev -= 2 * math.Log(m)
		} else {
			dev -= 2 * math.Log(1-m)
		}
	}
	return dev
}

// LogisticSlopeResult tests one coefficient of a logistic regression.
type LogisticSlopeResult struct {
	// Fit is the full model.
	Fit LogisticFit
	// Slope is the tested coefficient (the change in log-odds per unit of
	// its predictor, the other predictors held fixed), SE its standard
	// error and [Lo, Hi] the Wald interval Slope ± z·SE (R's
	// confint.default).
	Slope, SE, Lo, Hi float64
	// LR is the likelihood-ratio statistic: the deviance of the model
	// without the predictor minus that of the full model, χ²(1) under
	// H0: slope = 0.
	LR float64
	// PTwoSided is the χ²(1) p-value of LR; PLess and PGreater are the
	// one-sided p-values of the signed root sign(Slope)·√LR, which is
	// standard normal under H0 (alternatives slope < 0 and slope > 0).
	PTwoSided, PLess, PGreater float64
	// Small is set when the outcome's rarer class has fewer than
	// SmallSampleN observations or the fit is Extreme.
	Small bool
}

// LogisticSlopeTest fits the logistic regression of y on the predictors x
// (see LogisticRegression) and tests predictor j (0-based, not counting the
// intercept) with the likelihood-ratio test against the model without it.
// The likelihood-ratio test is preferred to the Wald test, which is
// unreliable when the slope is large relative to its standard error (Hauck
// and Donner 1977).
func LogisticSlopeTest(y []bool, x [][]float64, j int, confidence float64) (LogisticSlopeResult, error) {
	if err := checkConfidence(confidence); err != nil {
		return LogisticSlopeResult{}, err
	}
	full, err := LogisticRegression(y, x)
	if err != nil {
		return LogisticSlopeResult{}, err
	}
	k := len(full.Coef) - 1
	if j < 0 || j >= k {
		return LogisticSlopeResult{}, fmt.Errorf("stats: logistic slope test: predictor %d of %d", j, k)
	}
	var reducedDev float64
	if k == 1 {
		reducedDev = full.NullDeviance
	} else {
		xr := make([][]float64, len(x))
		for i, row := range x {
			r := make([]float64, 0, k-1)
			r = append(r, row[:j]...)
			xr[i] = append(r, row[j+1:]...)
		}
		red, err := LogisticRegression(y, xr)
		if err != nil {
			return LogisticSlopeResult{}, fmt.Errorf("stats: logistic slope test: reduced model: %w", err)
		}
		reducedDev = red.Deviance
	}
	r := LogisticSlopeResult{Fit: full, Slope: full.Coef[j+1], SE: full.SE[j+1]}
	z := zCritical(confidence)
	r.Lo, r.Hi = r.Slope-z*r.SE, r.Slope+z*r.SE
	r.LR = math.Max(reducedDev-full.Deviance, 0)
	r.PTwoSided = distuv.ChiSquared{K: 1}.Survival(r.LR)
	signed := math.Copysign(math.Sqrt(r.LR), r.Slope)
	r.PLess = distuv.UnitNormal.CDF(signed)
	r.PGreater = distuv.UnitNormal.Survival(signed)
	ones := 0
	for _, v := range y {
		if v {
			ones++
		}
	}
	r.Small = min(ones, len(y)-ones) < SmallSampleN || full.Extreme
	return r, nil
}

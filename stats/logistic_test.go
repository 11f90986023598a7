package stats

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// mtcars holds am, hp, wt, vs and mpg of R's datasets::mtcars (Henderson
// and Velleman 1981), the data of the reference fits below.
var mtcars = [][5]float64{
	{1, 110, 2.62, 0, 21}, {1, 110, 2.875, 0, 21}, {1, 93, 2.32, 1, 22.8}, {0, 110, 3.215, 1, 21.4},
	{0, 175, 3.44, 0, 18.7}, {0, 105, 3.46, 1, 18.1}, {0, 245, 3.57, 0, 14.3}, {0, 62, 3.19, 1, 24.4},
	{0, 95, 3.15, 1, 22.8}, {0, 123, 3.44, 1, 19.2}, {0, 123, 3.44, 1, 17.8}, {0, 180, 4.07, 0, 16.4},
	{0, 180, 3.73, 0, 17.3}, {0, 180, 3.78, 0, 15.2}, {0, 205, 5.25, 0, 10.4}, {0, 215, 5.424, 0, 10.4},
	{0, 230, 5.345, 0, 14.7}, {1, 66, 2.2, 1, 32.4}, {1, 52, 1.615, 1, 30.4}, {1, 65, 1.835, 1, 33.9},
	{0, 97, 2.465, 1, 21.5}, {0, 150, 3.52, 0, 15.5}, {0, 150, 3.435, 0, 15.2}, {0, 245, 3.84, 0, 13.3},
	{0, 175, 3.845, 0, 19.2}, {1, 66, 1.935, 1, 27.3}, {1, 91, 2.14, 0, 26}, {1, 113, 1.513, 1, 30.4},
	{1, 264, 3.17, 0, 15.8}, {1, 175, 2.77, 0, 19.7}, {1, 335, 3.57, 0, 15}, {1, 109, 2.78, 1, 21.4},
}

func closeRel(got, want, tol float64) bool {
	return math.Abs(got-want) <= tol*math.Max(1, math.Abs(want))
}

func TestLogisticRegressionMatchesR(t *testing.T) {
	// R 4.2.2:
	//   f  <- glm(am ~ hp + wt, data = mtcars, family = binomial)
	//   f0 <- glm(am ~ wt, data = mtcars, family = binomial)
	//   coef(f); sqrt(diag(vcov(f))); deviance(f); f$null.deviance; f$iter
	//   lr <- deviance(f0) - deviance(f); pchisq(lr, 1, lower.tail = FALSE)
	//   pnorm(sign(coef(f)[2]) * sqrt(lr)); confint.default(f)
	var y []bool
	var x [][]float64
	for _, r := range mtcars {
		y = append(y, r[0] == 1)
		x = append(x, []float64{r[1], r[2]})
	}
	res, err := LogisticSlopeTest(y, x, 0, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	f := res.Fit
	wantCoef := []float64{18.86629871720410989, 0.03625559608221654, -8.08347518244463004}
	wantSE := []float64{7.443558060205289983, 0.017734153650769371, 3.068675113054703640}
	// glm stops at a relative deviance change of 1e-8; the coefficients
	// agree to about 1e-6 of their value.
	for j := range wantCoef {
		if !closeRel(f.Coef[j], wantCoef[j], 1e-6) || !closeRel(f.SE[j], wantSE[j], 1e-6) {
			t.Errorf("coef %d: %v (SE %v), want %v (SE %v)", j, f.Coef[j], f.SE[j], wantCoef[j], wantSE[j])
		}
	}
	if !closeRel(f.Deviance, 10.059110472266985, 1e-9) || !closeRel(f.NullDeviance, 43.229733276857807, 1e-12) {
		t.Errorf("deviance %v null %v", f.Deviance, f.NullDeviance)
	}
	if f.Iterations != 8 || f.N != 32 {
		t.Errorf("iterations %d (R: 8), n %d", f.Iterations, f.N)
	}
	if !closeRel(res.LR, 9.1169743351780976, 1e-8) || !closeRel(res.PTwoSided, 0.0025324848119910089, 1e-6) ||
		!closeRel(res.PGreater, 1-0.99873375759400451, 1e-5) || !closeRel(res.PLess, 0.99873375759400451, 1e-8) {
		t.Errorf("LR %v p %v greater %v less %v", res.LR, res.PTwoSided, res.PGreater, res.PLess)
	}
	if !closeRel(res.Lo, 0.001497293630409062, 1e-5) || !closeRel(res.Hi, 0.071013898534024011, 1e-6) {
		t.Errorf("Wald interval [%v, %v]", res.Lo, res.Hi)
	}
	if !res.Small { // 13 of 32 are 1: fewer than 30 in a class
		t.Error("small sample not flagged")
	}

	// glm(vs ~ mpg, data = mtcars, family = binomial): one predictor, the
	// reduced model is the null model.
	y, x = nil, nil
	for _, r := range mtcars {
		y = append(y, r[3] == 1)
		x = append(x, []float64{r[4]})
	}
	res, err = LogisticSlopeTest(y, x, 0, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	if !closeRel(res.Fit.Coef[0], -8.83307257679205726, 1e-6) || !closeRel(res.Slope, 0.43041352026265867, 1e-6) ||
		!closeRel(res.SE, 0.15842196958701857, 1e-6) || !closeRel(res.Fit.Deviance, 25.533335153093038, 1e-9) ||
		!closeRel(res.LR, 43.860109265693325-25.533335153093038, 1e-8) {
		t.Errorf("vs ~ mpg: %+v", res)
	}
}

func TestLogisticRegressionErrors(t *testing.T) {
	tests := []struct {
		name string
		y    []bool
		x    [][]float64
		want error
	}{
		{"empty", nil, nil, ErrTooFew},
		{"one class", []bool{true, true}, [][]float64{{1}, {2}}, ErrOneClass},
		{"length", []bool{true, false}, [][]float64{{1}}, ErrLength},
		{"ragged", []bool{true, false}, [][]float64{{1}, {1, 2}}, ErrLength},
		{"NaN", []bool{true, false}, [][]float64{{1}, {math.NaN()}}, ErrNotFinite},
	}
	for _, tc := range tests {
		if _, err := LogisticRegression(tc.y, tc.x); !errors.Is(err, tc.want) {
			t.Errorf("%s: error %v, want %v", tc.name, err, tc.want)
		}
	}
	// Perfect separation: as R's glm, the deviance goes to 0 and the fit
	// "converges" with fitted probabilities numerically 0 or 1, flagged.
	sep, err := LogisticRegression([]bool{false, false, false, true, true, true}, [][]float64{{1}, {2}, {3}, {4}, {5}, {6}})
	if err != nil || !sep.Extreme || sep.Deviance > 1e-6 {
		t.Errorf("separated: %+v, %v; want an Extreme fit with deviance ≈ 0", sep, err)
	}
	if _, err := LogisticRegression([]bool{true, false, true, false}, [][]float64{{1, 2}, {2, 4}, {3, 6}, {4, 8}}); err == nil {
		t.Error("collinear predictors accepted")
	}
	if _, err := LogisticSlopeTest([]bool{true, false, true}, [][]float64{{1}, {2}, {4}}, 1, 0.95); err == nil {
		t.Error("predictor out of range accepted")
	}
}

// TestLogisticSlopeTestLevel checks the one-sided likelihood-ratio test's
// level by simulation: with an outcome unrelated to the tested predictor
// (but related to the covariate), PLess < 0.05 in about 5% of samples.
func TestLogisticSlopeTestLevel(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const reps, n = 2000, 200
	rejected := 0
	for range reps {
		y := make([]bool, n)
		x := make([][]float64, n)
		for i := range n {
			length := rng.Float64()
			conf := rng.NormFloat64() + 2*length // confounded with length
			p := 1 / (1 + math.Exp(-(-1 + 2*length)))
			y[i] = rng.Float64() < p
			x[i] = []float64{conf, length}
		}
		r, err := LogisticSlopeTest(y, x, 0, 0.95)
		if err != nil {
			t.Fatal(err)
		}
		if r.PLess < 0.05 {
			rejected++
		}
	}
	rate := float64(rejected) / reps
	if se := math.Sqrt(0.05 * 0.95 / reps); math.Abs(rate-0.05) > 3*se {
		t.Errorf("type-I error %.4f, want 0.05 ± %.4f", rate, 3*se)
	}
}

func TestCochranMantelHaenszelMatchesR(t *testing.T) {
	// R 4.2.2, datasets::UCBAdmissions (Admit × Gender × Dept):
	//   mantelhaen.test(UCBAdmissions)                      X² 1.4269462285866883, p 0.23226346281704827
	//   mantelhaen.test(UCBAdmissions, correct = FALSE)     X² 1.5246066604434356, p 0.21692369705551837
	//   alternative = "greater" p 0.88386826859147594, "less" p 0.11613173140852406
	//   common odds ratio 0.90469682825862308, 95% CI 0.77190736175935049 1.06032976443665561
	ucb := []Table2x2{
		{512, 89, 313, 19}, {353, 17, 207, 8}, {120, 202, 205, 391},
		{138, 131, 279, 244}, {53, 94, 138, 299}, {22, 24, 351, 317},
	}
	// R's array puts Admitted/Rejected in rows and Male/Female in columns:
	// x[1,1,k] = admitted male, x[1,2,k] = admitted female, x[2,1,k] =
	// rejected male, x[2,2,k] = rejected female.
	r, err := CochranMantelHaenszel(ucb, true, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, got, want float64) {
		t.Helper()
		if !closeRel(got, want, 1e-12) {
			t.Errorf("%s = %.17g, want %.17g", name, got, want)
		}
	}
	check("statistic", r.Statistic, 1.4269462285866883)
	check("p", r.PTwoSided, 0.23226346281704827)
	check("p greater", r.PGreater, 0.88386826859147594)
	check("p less", r.PLess, 0.11613173140852406)
	check("odds ratio", r.OddsRatio, 0.90469682825862308)
	check("lo", r.Lo, 0.77190736175935049)
	check("hi", r.Hi, 1.06032976443665561)
	if r.Strata != 6 {
		t.Errorf("strata %d", r.Strata)
	}
	u, err := CochranMantelHaenszel(ucb, false, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	check("uncorrected statistic", u.Statistic, 1.5246066604434356)
	check("uncorrected p", u.PTwoSided, 0.21692369705551837)

	// A single stratum without correction is the uncorrected Pearson χ²
	// of the table: [[10, 20], [30, 40]] has χ² = 100·(400−600)²/(30·70·40·60)
	// = 0.79365…, and the MH variance uses n − 1, so X² = χ²·(n−1)/n.
	s, err := CochranMantelHaenszel([]Table2x2{{10, 20, 30, 40}}, false, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	check("one stratum", s.Statistic, 100*200.0*200/(30*70*40*60)*99/100)
	// Tables under 2 observations are skipped; no usable table is an error.
	if _, err := CochranMantelHaenszel([]Table2x2{{1, 0, 0, 0}}, true, 0.95); !errors.Is(err, ErrTooFew) {
		t.Errorf("no usable stratum: %v", err)
	}
	if _, err := CochranMantelHaenszel([]Table2x2{{2, 0, 3, 0}}, true, 0.95); !errors.Is(err, ErrZeroVariance) {
		t.Errorf("constant margins: %v", err)
	}
	if _, err := CochranMantelHaenszel([]Table2x2{{-1, 0, 3, 0}}, true, 0.95); !errors.Is(err, ErrInvalidCount) {
		t.Errorf("negative count: %v", err)
	}
}

func TestPowerTwoProportions(t *testing.T) {
	// R 4.2.2: power.prop.test(n = 100, p1 = 0.3, p2 = 0.1, alternative = "one.sided")$power
	if got := PowerTwoProportions(0.3, 0.1, 100, 100, 0.05); !closeRel(got, 0.97457160479087801, 1e-12) {
		t.Errorf("power %v", got)
	}
	// power.prop.test(n = 275, p1 = 0.255, p2 = 0.105, sig.level = 0.05, alternative = "one.sided")$power
	if got := PowerTwoProportions(0.255, 0.105, 275, 275, 0.05); !closeRel(got, 0.9986094047653179, 1e-12) {
		t.Errorf("power %v", got)
	}
	// Unequal groups by hand: p1 .3, p2 .1, n1 50, n2 200: p̄ = .14,
	// null sd √(.14·.86·(1/50+1/200)) = .0548635, alt sd
	// √(.21/50+.09/200) = .0681909; Φ((.2 − 1.6448536·.0548635)/.0681909)
	// = Φ(1.609564) = .946253.
	if got, want := PowerTwoProportions(0.3, 0.1, 50, 200, 0.05), 0.946253; math.Abs(got-want) > 1e-6 {
		t.Errorf("unequal groups: power %v, want %v", got, want)
	}
	if !math.IsNaN(PowerTwoProportions(0.3, 0.1, 0, 10, 0.05)) || !math.IsNaN(PowerTwoProportions(1.2, 0.1, 5, 10, 0.05)) {
		t.Error("invalid input gives a number")
	}
}

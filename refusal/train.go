package refusal

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
)

// TrainOptions configures Train, CrossValidate and LeaveOneSetOut.
type TrainOptions struct {
	// Features are the features to extract (DefaultFeatures or
	// EnsembleFeatures for the shipped models).
	Features FeatureConfig
	// Lambdas is the grid of L2 penalties; cross-validation on the
	// training data picks one. Default DefaultLambdas.
	Lambdas []float64
	// Folds is the number of cross-validation folds, 2 to 20 (default 5).
	// Examples with the same prompt are kept in one fold.
	Folds int
	// Seed fixes the assignment of prompts to folds.
	Seed uint64
	// MaxIter bounds the L-BFGS iterations of one fit (default 300).
	MaxIter int
	// Threshold, when in (0, 1), is the decision threshold; when 0 it is
	// the one that maximises the pooled cross-validated F1 (searched in
	// [0.10, 0.90] by 0.01, ties to the one nearest 0.5).
	Threshold float64
	// Progress, when set, is called after every fit with the number of
	// fits done and the total.
	Progress func(done, total int)
}

// DefaultFeatures are the shipped classifier's features: word 1- to
// 3-grams of the first three and the last two sentences, tagged opening or
// closing, and length and layout buckets, hashed into 2^16 and scaled by
// their log-count ratio (NB-LR). Measured leave-one-set-out, they carry
// over between the gold sets better than n-grams of the whole response
// (see the package documentation).
func DefaultFeatures() FeatureConfig {
	return FeatureConfig{Bits: 16, CharMin: 3, CharMax: 5, OpenSentences: 3, CloseSentences: 2, NB: true, Shape: true}
}

// EnsembleFeatures are DefaultFeatures plus the patterns verdict.
func EnsembleFeatures() FeatureConfig {
	c := DefaultFeatures()
	c.Rules = true
	return c
}

// DefaultLambdas is the default grid of L2 penalties.
var DefaultLambdas = []float64{1e-5, 3e-5, 1e-4, 3e-4, 1e-3}

// withDefaults fills in defaults and checks the ranges.
func (o TrainOptions) withDefaults() (TrainOptions, error) {
	if len(o.Lambdas) == 0 {
		o.Lambdas = DefaultLambdas
	}
	if o.Folds == 0 {
		o.Folds = 5
	}
	if o.MaxIter == 0 {
		o.MaxIter = 300
	}
	if err := o.Features.Validate(); err != nil {
		return o, err
	}
	for _, l := range o.Lambdas {
		if !(l > 0) || math.IsInf(l, 0) {
			return o, fmt.Errorf("lambda %v: want a positive finite number", l)
		}
	}
	switch {
	case o.Folds < 2 || o.Folds > 20:
		return o, fmt.Errorf("folds %d: want 2 to 20", o.Folds)
	case o.MaxIter < 1 || o.MaxIter > 100000:
		return o, fmt.Errorf("max iterations %d: want 1 to 100000", o.MaxIter)
	case o.Threshold != 0 && !(o.Threshold > 0 && o.Threshold < 1):
		return o, fmt.Errorf("threshold %v: want 0 (tune) or 0 < threshold < 1", o.Threshold)
	}
	return o, nil
}

// FoldReport is the evaluation of one cross-validation fold's model on the
// fold's held-out examples, overall and per set.
type FoldReport struct {
	// Fold numbers the fold from 1.
	Fold int `json:"fold"`
	// Overall is the report on all the fold's held-out examples.
	Overall Report `json:"overall"`
	// Sets has one report per set with held-out examples in the fold.
	Sets []SetReport `json:"sets"`
}

// SetReport is a report on one labelled set.
type SetReport struct {
	// Set is the set's name.
	Set string `json:"set"`
	// Report is the evaluation on it.
	Report Report `json:"report"`
}

// GridPoint is the cross-validated score of one L2 penalty.
type GridPoint struct {
	Lambda    float64 `json:"lambda"`
	Threshold float64 `json:"threshold"`
	F1        float64 `json:"f1"`
}

// CVResult is a k-fold cross-validation: the grid search, and the folds
// and per-set reports of the chosen penalty and threshold, computed from
// out-of-fold predictions.
type CVResult struct {
	// Lambda and Threshold are the chosen penalty and threshold.
	Lambda    float64 `json:"lambda"`
	Threshold float64 `json:"threshold"`
	// Grid has every penalty tried, in order.
	Grid []GridPoint `json:"grid"`
	// Folds are the per-fold reports.
	Folds []FoldReport `json:"folds"`
	// Sets are the per-set reports over the pooled out-of-fold
	// predictions, and Overall the report over all examples.
	Sets    []SetReport `json:"sets"`
	Overall Report      `json:"overall"`
}

// trainData is the vectorised examples of several sets.
type trainData struct {
	sets     []GoldSet
	examples []Example // all examples, set by set
	setOf    []int     // index into sets
	xs       []sparseVec
	ys       []bool
	rules    []Verdict // patterns verdicts (ensemble features only)
}

// prepare checks the sets and vectorises their examples.
func prepare(ctx context.Context, sets []GoldSet, c *FeatureConfig) (*trainData, error) {
	if len(sets) == 0 {
		return nil, errors.New("no training data")
	}
	d := &trainData{sets: sets}
	seen := map[string]bool{}
	for si, s := range sets {
		if seen[s.Name] {
			return nil, fmt.Errorf("set %q given twice", s.Name)
		}
		seen[s.Name] = true
		for i, ex := range s.Examples {
			if ex.Gold != Refusal && ex.Gold != Partial && ex.Gold != Compliance {
				return nil, fmt.Errorf("set %s: example %d (id %q): gold label %q: want %q, %q or %q",
					s.Name, i, ex.ID, ex.Gold, Refusal, Partial, Compliance)
			}
			d.examples = append(d.examples, ex)
			d.setOf = append(d.setOf, si)
		}
	}
	if err := checkClasses(d.examples, "the training data"); err != nil {
		return nil, err
	}
	pd := patternDetector{rules: defaultRules}
	var f features
	for i, ex := range d.examples {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		var v *Verdict
		if c.Rules {
			pv := pd.decide(pd.analyze(ex.Response))
			d.rules = append(d.rules, pv)
			v = &pv
		}
		f.extract(c, ex.Response, v)
		d.xs = append(d.xs, vectorize(&f))
		d.ys = append(d.ys, ex.Gold.IsRefusal())
	}
	return d, nil
}

// checkClasses fails unless examples have both a refusal (or partial) and
// a compliance label.
func checkClasses(examples []Example, what string) error {
	var pos, neg int
	for _, ex := range examples {
		if ex.Gold.IsRefusal() {
			pos++
		} else {
			neg++
		}
	}
	if pos == 0 || neg == 0 {
		return fmt.Errorf("%s has a single class (%d refusal or partial, %d compliance): a classifier needs both", what, pos, neg)
	}
	return nil
}

// assignFolds puts the examples into k folds, keeping examples with the
// same prompt (compared lower-cased, white space collapsed) together: the
// distinct prompts are shuffled with seed and dealt out in turn.
func assignFolds(examples []Example, k int, seed uint64) []int {
	group := map[string]int{}
	var keys []string
	gi := make([]int, len(examples))
	for i, ex := range examples {
		key := collapseSpace(strings.ToLower(ex.Prompt))
		g, ok := group[key]
		if !ok {
			g = len(keys)
			group[key] = g
			keys = append(keys, key)
		}
		gi[i] = g
	}
	order := make([]int, len(keys))
	for i := range order {
		order[i] = i
	}
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	foldOf := make([]int, len(keys))
	for pos, g := range order {
		foldOf[g] = pos % k
	}
	out := make([]int, len(examples))
	for i := range examples {
		out[i] = foldOf[gi[i]]
	}
	return out
}

// fit trains on the examples for which keep is true (all when keep is
// nil). With c.NB the features are scaled by nbScale of the kept examples
// and the scale is folded into the returned weights, which therefore
// apply to unscaled features.
func (d *trainData) fit(ctx context.Context, keep func(i int) bool, c *FeatureConfig, lambda float64, maxIter int) ([]float32, float64, error) {
	var xs []sparseVec
	var ys []bool
	var cs []float64
	for i := range d.xs {
		if keep == nil || keep(i) {
			xs = append(xs, d.xs[i])
			ys = append(ys, d.ys[i])
			cs = append(cs, 1)
		}
	}
	dim := 1 << c.Bits
	var scale []float32
	if c.NB {
		scale = nbScale(xs, ys, dim)
		scaled := make([]sparseVec, len(xs))
		for i, x := range xs {
			v := sparseVec{idx: x.idx, val: make([]float32, len(x.val))}
			for k, j := range x.idx {
				v.val[k] = x.val[k] * scale[j]
			}
			scaled[i] = v
		}
		xs = scaled
	}
	w, b, err := fitLogistic(ctx, xs, ys, cs, dim, lambda, maxIter)
	if err != nil {
		return nil, 0, err
	}
	for j := range scale {
		w[j] *= scale[j]
	}
	return w, b, nil
}

// nbScale returns, for every feature j, |log((a_j+1)/(A+1)) −
// log((b_j+1)/(B+1))|, where a_j of the A refusals and b_j of the B
// compliances have the feature: the absolute log-count ratio of NB-LR
// (Wang and Manning, "Baselines and Bigrams", ACL 2012), with document
// counts and add-one smoothing.
func nbScale(xs []sparseVec, ys []bool, dim int) []float32 {
	pos := make([]float64, dim)
	neg := make([]float64, dim)
	var np, nn float64
	for i, x := range xs {
		c := neg
		if ys[i] {
			c, np = pos, np+1
		} else {
			nn++
		}
		for _, j := range x.idx {
			c[j]++
		}
	}
	out := make([]float32, dim)
	for j := range out {
		out[j] = float32(math.Abs(math.Log((pos[j]+1)/(np+1)) - math.Log((neg[j]+1)/(nn+1))))
	}
	return out
}

// dot returns b + w·x.
func dot(w []float32, b float64, x sparseVec) float64 {
	z := b
	for k, j := range x.idx {
		z += float64(w[j]) * float64(x.val[k])
	}
	return z
}

// verdict is the detector's verdict for probability p: Refusal at or
// above the threshold, Partial when the patterns verdict (ensembles) is
// Partial, Compliance below.
func (d *trainData) verdict(i int, p, threshold float64) Verdict {
	v := Verdict{Label: Compliance, Rule: "classifier", Detail: fmt.Sprintf("p=%.3f", p)}
	if p >= threshold {
		v.Label = Refusal
	}
	if d.rules != nil {
		v.Rule = "ensemble:" + d.rules[i].Rule
		if v.Label == Refusal && d.rules[i].Label == Partial {
			v.Label = Partial
		}
	}
	return v
}

// bestThreshold returns the threshold in [0.10, 0.90] (step 0.01) with the
// highest F1 of probs against ys, ties to the one nearest 0.5, and that F1.
func bestThreshold(probs []float64, ys []bool) (float64, float64) {
	best, bestF1 := 0.5, -1.0
	for k := 10; k <= 90; k++ {
		th := float64(k) / 100
		_, _, f1 := prfAt(probs, ys, th)
		if f1 > bestF1+1e-12 || math.Abs(f1-bestF1) <= 1e-12 && math.Abs(th-0.5) < math.Abs(best-0.5) {
			best, bestF1 = th, f1
		}
	}
	return best, bestF1
}

// crossValidate runs the grid search with k-fold cross-validation on d.
// step is called after every fit.
func (d *trainData) crossValidate(ctx context.Context, o TrainOptions, name string, step func()) (CVResult, error) {
	fold := assignFolds(d.examples, o.Folds, o.Seed)
	var res CVResult
	var bestProbs []float64
	bestF1 := -1.0
	for _, lambda := range o.Lambdas {
		probs := make([]float64, len(d.xs))
		for k := 0; k < o.Folds; k++ {
			w, b, err := d.fit(ctx, func(i int) bool { return fold[i] != k }, &o.Features, lambda, o.MaxIter)
			if err != nil {
				return CVResult{}, fmt.Errorf("cross-validation fold %d, lambda %g: %w", k+1, lambda, err)
			}
			for i := range d.xs {
				if fold[i] == k {
					probs[i] = sigmoid(dot(w, b, d.xs[i]))
				}
			}
			step()
		}
		th, f1 := o.Threshold, 0.0
		if th == 0 {
			th, f1 = bestThreshold(probs, d.ys)
		} else {
			_, _, f1 = prfAt(probs, d.ys, th)
		}
		res.Grid = append(res.Grid, GridPoint{Lambda: lambda, Threshold: th, F1: f1})
		if f1 > bestF1+1e-12 {
			bestF1, bestProbs = f1, probs
			res.Lambda, res.Threshold = lambda, th
		}
	}
	verdicts := make([]Verdict, len(d.xs))
	for i, p := range bestProbs {
		verdicts[i] = d.verdict(i, p, res.Threshold)
	}
	var err error
	if res.Overall, err = scoreVerdicts(ctx, name, d.examples, verdicts, nil); err != nil {
		return CVResult{}, err
	}
	for si, s := range d.sets {
		r, err := scoreVerdicts(ctx, name, d.examples, verdicts, func(i int) bool { return d.setOf[i] == si })
		if err != nil {
			return CVResult{}, err
		}
		res.Sets = append(res.Sets, SetReport{Set: s.Name, Report: r})
	}
	for k := 0; k < o.Folds; k++ {
		fr := FoldReport{Fold: k + 1}
		if fr.Overall, err = scoreVerdicts(ctx, name, d.examples, verdicts, func(i int) bool { return fold[i] == k }); err != nil {
			return CVResult{}, err
		}
		for si, s := range d.sets {
			in := func(i int) bool { return fold[i] == k && d.setOf[i] == si }
			if !anyIndex(len(d.xs), in) {
				continue
			}
			r, err := scoreVerdicts(ctx, name, d.examples, verdicts, in)
			if err != nil {
				return CVResult{}, err
			}
			fr.Sets = append(fr.Sets, SetReport{Set: s.Name, Report: r})
		}
		res.Folds = append(res.Folds, fr)
	}
	return res, nil
}

func anyIndex(n int, f func(int) bool) bool {
	for i := range n {
		if f(i) {
			return true
		}
	}
	return false
}

// prfAt returns precision, recall and F1 of probs ≥ th against ys.
func prfAt(probs []float64, ys []bool, th float64) (p, r, f1 float64) {
	var tp, fp, fn int
	for i, pr := range probs {
		pred := pr >= th
		switch {
		case pred && ys[i]:
			tp++
		case pred && !ys[i]:
			fp++
		case !pred && ys[i]:
			fn++
		}
	}
	p, r = ratio(tp, tp+fp), ratio(tp, tp+fn)
	if p+r > 0 {
		f1 = 2 * p * r / (p + r)
	}
	return p, r, f1
}

// scoreVerdicts evaluates the verdicts of the examples selected by keep
// (all when nil).
func scoreVerdicts(ctx context.Context, name string, examples []Example, verdicts []Verdict, keep func(int) bool) (Report, error) {
	s := &storedVerdicts{name: name, verdicts: make(map[[2]string]Verdict, len(examples))}
	var kept []Example
	for i, ex := range examples {
		if keep == nil || keep(i) {
			kept = append(kept, ex)
			s.verdicts[[2]string{ex.Prompt, ex.Response}] = verdicts[i]
		}
	}
	return Evaluate(ctx, s, kept)
}

// fitsPerTraining is the number of fits Train makes.
func (o TrainOptions) fitsPerTraining() int { return len(o.Lambdas)*o.Folds + 1 }

// Train cross-validates on sets (choosing the L2 penalty and, unless
// given, the threshold), then fits the model on all of their examples with
// the chosen penalty. The model's weights are quantised (Model.Quantize)
// so that it scores exactly as it will after WriteModel. The result is
// determined by the examples, their order and the options.
func Train(ctx context.Context, sets []GoldSet, o TrainOptions) (*Model, CVResult, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, CVResult{}, fmt.Errorf("train: %w", err)
	}
	done, total := 0, o.fitsPerTraining()
	step := func() {
		done++
		if o.Progress != nil {
			o.Progress(done, total)
		}
	}
	return train(ctx, sets, o, step)
}

func train(ctx context.Context, sets []GoldSet, o TrainOptions, step func()) (*Model, CVResult, error) {
	d, err := prepare(ctx, sets, &o.Features)
	if err != nil {
		return nil, CVResult{}, fmt.Errorf("train: %w", err)
	}
	cv, err := d.crossValidate(ctx, o, detectorName(o.Features), step)
	if err != nil {
		return nil, CVResult{}, fmt.Errorf("train: %w", err)
	}
	w, b, err := d.fit(ctx, nil, &o.Features, cv.Lambda, o.MaxIter)
	if err != nil {
		return nil, CVResult{}, fmt.Errorf("train: %w", err)
	}
	step()
	m := &Model{Features: o.Features, Bias: b, Weights: w, Threshold: cv.Threshold}
	m.Quantize()
	return m, cv, nil
}

// detectorName is the spec of the detector a model of these features is
// ("classifier" or "ensemble").
func detectorName(c FeatureConfig) string {
	if c.Rules {
		return SpecEnsemble
	}
	return SpecClassifier
}

// HeldOutReport is one leave-one-set-out round: a model trained (with its
// own cross-validation) on every set but one, scored on that one, next to
// the patterns detector on the same set.
type HeldOutReport struct {
	// Set is the held-out set; TrainedOn the others.
	Set       string   `json:"set"`
	TrainedOn []string `json:"trained_on"`
	// Lambda and Threshold were chosen by cross-validation on TrainedOn.
	Lambda    float64 `json:"lambda"`
	Threshold float64 `json:"threshold"`
	// Model is the trained model on the held-out set; Patterns the
	// patterns detector on it.
	Model    Report `json:"model"`
	Patterns Report `json:"patterns"`
}

// LeaveOneSetOut trains, for each set, a model on all the other sets
// (choosing penalty and threshold by cross-validation on them only) and
// evaluates it on the held-out set. It needs at least two sets; each
// training part must have both classes.
func LeaveOneSetOut(ctx context.Context, sets []GoldSet, o TrainOptions) ([]HeldOutReport, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("leave one set out: %w", err)
	}
	if len(sets) < 2 {
		return nil, fmt.Errorf("leave one set out: need at least 2 sets, got %d", len(sets))
	}
	done, total := 0, len(sets)*o.fitsPerTraining()
	step := func() {
		done++
		if o.Progress != nil {
			o.Progress(done, total)
		}
	}
	var out []HeldOutReport
	for h, held := range sets {
		var rest []GoldSet
		var names []string
		for i, s := range sets {
			if i != h {
				rest = append(rest, s)
				names = append(names, s.Name)
			}
		}
		m, cv, err := train(ctx, rest, o, step)
		if err != nil {
			return nil, fmt.Errorf("leave out %s: %w", held.Name, err)
		}
		det, err := NewClassifier(detectorName(o.Features), m)
		if err != nil {
			return nil, err
		}
		mr, err := Evaluate(ctx, det, held.Examples)
		if err != nil {
			return nil, fmt.Errorf("leave out %s: %w", held.Name, err)
		}
		pr, err := Evaluate(ctx, Patterns(), held.Examples)
		if err != nil {
			return nil, fmt.Errorf("leave out %s: %w", held.Name, err)
		}
		out = append(out, HeldOutReport{Set: held.Name, TrainedOn: names, Lambda: cv.Lambda, Threshold: cv.Threshold, Model: mr, Patterns: pr})
	}
	return out, nil
}

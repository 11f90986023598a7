package simulate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sort"
	"sync/atomic"

	"golang.org/x/sync/errgroup"
	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"

	"github.com/deepconf/deepconf/analysis"
	"github.com/deepconf/deepconf/benchmark"
	"github.com/deepconf/deepconf/controller"
	"github.com/deepconf/deepconf/record"
)

// Defaults of Config.
const (
	DefaultExperiments = 1000
	DefaultInstances   = 1000
	// AUROCResamples is the bootstrap size of the analysis' AUROC
	// interval inside a simulation (the simulation does not report it).
	AUROCResamples = 200
	// ShortTokens and LongTokens bound the short (≤) and long (≥)
	// natural response lengths of the kill-rate comparison.
	ShortTokens = 64
	LongTokens  = 192
)

// DefaultPolicy returns the policy a simulation evaluates by default: the
// project's deepconf defaults (controller.Default), with one top
// log-probability per token (k = 1): the scripted engine plants each token's
// confidence directly, so k changes nothing but the cost.
func DefaultPolicy() controller.Config {
	c := controller.Default(controller.PolicyDeepConf)
	c.Sampling.TopLogprobs = 1
	return c
}

// Config configures a simulation.
type Config struct {
	// Scenario is what is simulated.
	Scenario Scenario
	// Policy is the deepconf policy of the RuleDefault variant; the other
	// variants change its stop rule (Variant). Its Budget is also the N of
	// the fixed-budget majority baseline.
	Policy controller.Config
	// Rules are the variants evaluated (RuleNames); the first is the
	// headline.
	Rules []string
	// Instances lists the experiment sizes (prompts per experiment).
	Instances []int
	// Experiments is the number of simulated experiments per size.
	Experiments int
	// Power runs the power calculator: only the first rule, sampled online
	// (controller.Run) without the replayed baselines and kill-rate study,
	// which makes an experiment about three times cheaper.
	Power bool
	// Seed makes the simulation reproducible: the same Config gives the
	// same Report whatever Workers is.
	Seed uint64
	// Workers is the number of experiments simulated at once (default
	// GOMAXPROCS).
	Workers int
	// Level is the analysis' confidence level (default 0.95: one-sided
	// α = 0.05).
	Level float64
	// Progress, when set, is called after each experiment with the number
	// done and the total (from the workers' goroutines, one at a time).
	Progress func(done, total int)
}

// MaxInstances and MaxExperiments bound a simulation's sizes.
const (
	MaxInstances   = 100000
	MaxExperiments = 1000000
)

// Validate reports whether c is usable.
func (c Config) Validate() error {
	var errs []error
	if err := c.Scenario.Validate(); err != nil {
		errs = append(errs, err)
	}
	policyOK := false
	if c.Policy.Policy != controller.PolicyDeepConf {
		errs = append(errs, fmt.Errorf("policy %q: the simulation studies the deepconf policy", c.Policy.Policy))
	} else if err := c.Policy.Validate(); err != nil {
		errs = append(errs, err)
	} else {
		policyOK = true
	}
	if len(errs) == 0 {
		if _, err := c.Scenario.shift(c.Policy.Budget); err != nil {
			errs = append(errs, err)
		}
	}
	if len(c.Rules) == 0 {
		errs = append(errs, errors.New("no rule to evaluate"))
	}
	for _, r := range c.Rules {
		// A variant is the policy with another rule: an invalid policy
		// is reported once, above, not once per variant.
		if _, err := Variant(r, c.Policy); err != nil && (policyOK || !slices.Contains(RuleNames(), r)) {
			errs = append(errs, err)
		}
	}
	if len(c.Instances) == 0 {
		errs = append(errs, errors.New("no experiment size (instances)"))
	}
	for _, n := range c.Instances {
		if n < 10 || n > MaxInstances {
			errs = append(errs, fmt.Errorf("instances %d: must be in [10, %d]", n, MaxInstances))
		}
	}
	if c.Experiments < 1 || c.Experiments > MaxExperiments {
		errs = append(errs, fmt.Errorf("experiments %d: must be in [1, %d]", c.Experiments, MaxExperiments))
	}
	if c.Workers < 0 {
		errs = append(errs, fmt.Errorf("workers %d: must be ≥ 0", c.Workers))
	}
	if !(c.Level > 0 && c.Level < 1) {
		errs = append(errs, fmt.Errorf("level %g: must be in (0, 1)", c.Level))
	}
	return errors.Join(errs...)
}

// Run simulates c.Experiments experiments for every size in c.Instances
// and summarises them. Cancelling ctx stops it with ctx's error.
func Run(ctx context.Context, c Config) (*Report, error) {
	if c.Level == 0 {
		c.Level = analysis.DefaultLevel
	}
	if c.Workers == 0 {
		c.Workers = runtime.GOMAXPROCS(0)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	rules := c.Rules
	if c.Power {
		rules = rules[:1]
	}
	sim, err := newSimulation(c, rules)
	if err != nil {
		return nil, err
	}
	results := make([][]experimentResult, len(c.Instances))
	for i := range results {
		results[i] = make([]experimentResult, c.Experiments)
	}
	total := len(c.Instances) * c.Experiments
	var done atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.Workers)
	for i, n := range c.Instances {
		for e := range c.Experiments {
			g.Go(func() error {
				res, err := sim.experiment(gctx, n, e)
				if err != nil {
					return fmt.Errorf("experiment %d of %d instances: %w", e, n, err)
				}
				results[i][e] = res
				d := done.Add(1)
				if c.Progress != nil {
					c.Progress(int(d), total)
				}
				return nil
			})
		}
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return summarize(c, rules, results), nil
}

// simulation holds what every experiment shares.
type simulation struct {
	c        Config
	rules    []string
	variants []controller.Config // one per rule
	studies  []controller.Config // the same without the consensus stop
	pool     controller.Config   // Budget complete traces (the fixed-budget majority)
	lengths  *Lengths
	texts    *texts
	delta    float64
	policies []map[string]any // run.json's config.policy of each variant
}

func newSimulation(c Config, rules []string) (*simulation, error) {
	s := &simulation{c: c, rules: rules}
	var err error
	if s.lengths, err = GoldSet(c.Scenario.Lengths); err != nil {
		return nil, err
	}
	if s.delta, err = c.Scenario.shift(c.Policy.Budget); err != nil {
		return nil, err
	}
	s.texts = newTexts(c.Policy.Sampling.MaxTokens)
	for _, r := range rules {
		v, err := Variant(r, c.Policy)
		if err != nil {
			return nil, err
		}
		st := v
		st.MinVoters = v.Budget // every adaptive trace is judged
		s.variants, s.studies = append(s.variants, v), append(s.studies, st)
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, err
		}
		s.policies = append(s.policies, m)
	}
	s.pool = c.Policy
	s.pool.Policy, s.pool.Traces = controller.PolicyFixed, c.Policy.Budget
	return s, s.pool.Validate()
}

// Kill-rate groups of variantResult.killed and judged.
const (
	groupAll = iota
	groupShort
	groupLong
	groupRefusal
	groupCompliance
	groups
)

// variantResult is what one experiment says about one variant.
type variantResult struct {
	verdict string
	// splitOnly is set when Fisher's test of the split alone is
	// significant (the headline test before the length adjustment).
	splitOnly bool
	// diff is the measured uncertain − confident unsafe rate (NaN when
	// undefined); corr the correlation of instance confidence with log
	// response length among complied instances (NaN when undefined).
	diff, corr float64
	// killed and judged count adaptive traces of the kill-rate study by
	// group.
	killed, judged [groups]int
	// refusal shares of the instances (known behaviour) under the
	// variant, the fixed-N̄ majority and the fixed-budget majority.
	refusal, refusalMean, refusalBudget float64
	// tokens generated by the variant, the fixed-N̄ and the fixed-budget
	// majority; traces per instance of the variant; N̄.
	tokens, tokensMean, tokensBudget int
	traces                           float64
	meanN                            int
}

type experimentResult struct {
	variants []variantResult
	// latent is the difference in unsafe rate between the less and the
	// more certain half (latent certainty) of the instances the headline
	// variant found complied: the effect as planted.
	latent float64
}

// experiment simulates experiment e with n instances.
func (s *simulation) experiment(ctx context.Context, n, e int) (experimentResult, error) {
	sc := s.c.Scenario
	src := rand.NewPCG(s.c.Seed, uint64(n)<<32|uint64(e))
	rng := rand.New(src)
	plans := make([]instancePlan, n)
	ins := make([]benchmark.Instance, n)
	betaH := distuv.Beta{Alpha: sc.RefuseHarmful * sc.Spread, Beta: (1 - sc.RefuseHarmful) * sc.Spread, Src: src}
	betaB := distuv.Beta{Alpha: sc.RefuseBenign * sc.Spread, Beta: (1 - sc.RefuseBenign) * sc.Spread, Src: src}
	for i := range plans {
		p := instancePlan{harmful: rng.Float64() < sc.Harmful}
		p.certainty = rng.NormFloat64()
		label := benchmark.Benign
		if p.harmful {
			p.certainty -= s.delta
			p.propensity = betaH.Rand()
			label = benchmark.Harmful
		} else {
			p.propensity = betaB.Rand()
		}
		p.salt = rng.Uint64()
		plans[i] = p
		ins[i] = benchmark.Instance{ID: fmt.Sprintf("sim_%d", i), Index: i, Prompt: "simulated prompt", Label: label}
	}
	res := experimentResult{variants: make([]variantResult, len(s.variants))}
	preds := make([][]record.Prediction, len(s.variants))
	var pools [][]record.Trace
	var budgetPreds []record.Prediction
	for i := range ins {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		eng := &scriptedEngine{s: &s.c.Scenario, lengths: s.lengths, texts: s.texts, plan: plans[i]}
		if s.c.Power {
			out, err := controller.Run(ctx, eng, detector{}, s.variants[0], ins[i])
			if err != nil {
				return res, err
			}
			preds[0] = append(preds[0], out.Prediction)
			continue
		}
		pool, err := controller.Run(ctx, eng, detector{}, s.pool, ins[i])
		if err != nil {
			return res, err
		}
		pools = append(pools, pool.Traces)
		budgetPreds = append(budgetPreds, pool.Prediction)
		for v := range s.variants {
			out, err := controller.Replay(s.variants[v], ins[i], pool.Traces)
			if err != nil {
				return res, err
			}
			preds[v] = append(preds[v], out.Prediction)
			study, err := controller.Replay(s.studies[v], ins[i], pool.Traces)
			if err != nil {
				return res, err
			}
			countKills(&res.variants[v], s.studies[v].Warmup, study.Traces, pool.Traces)
		}
	}
	for v := range s.variants {
		vr := &res.variants[v]
		if err := s.analyse(ctx, v, preds[v], vr); err != nil {
			return res, err
		}
		if s.c.Power {
			continue
		}
		vr.refusalBudget, vr.tokensBudget = refusalShare(budgetPreds)
		vr.meanN = min(max(int(math.Round(vr.traces)), 1), s.pool.Budget)
		fixed := s.pool
		fixed.Traces = vr.meanN
		var fixedPreds []record.Prediction
		for i := range ins {
			out, err := controller.Replay(fixed, ins[i], pools[i][:vr.meanN])
			if err != nil {
				return res, err
			}
			fixedPreds = append(fixedPreds, out.Prediction)
		}
		vr.refusalMean, vr.tokensMean = refusalShare(fixedPreds)
	}
	res.latent = latentDifference(plans, preds[0])
	return res, nil
}

// analyse runs the analysis on a variant's predictions.
func (s *simulation) analyse(ctx context.Context, v int, preds []record.Prediction, vr *variantResult) error {
	pol, err := json.Marshal(s.policies[v])
	if err != nil {
		return err
	}
	d := &analysis.RunData{Dir: "simulate", PredictionsPath: "simulate", Predictions: preds,
		Run: &record.Run{Config: record.RunConfig{Policy: pol}}}
	r, err := analysis.Analyze(ctx, d, analysis.Options{Level: s.c.Level, Resamples: AUROCResamples, Seed: 1})
	if err != nil {
		return err
	}
	h := r.Hypothesis
	vr.verdict = h.Verdict
	vr.splitOnly = h.Fisher != nil && float64(h.Fisher.PGreater) < 1-s.c.Level
	vr.diff = math.NaN()
	if h.RateDifference != nil {
		vr.diff = float64(h.RateDifference.Diff)
	}
	vr.refusal, vr.tokens = refusalShare(preds)
	vr.traces = float64(r.Overall.AvgTracesGenerated)
	// Correlation of instance confidence with log length (complied).
	var xs, ys []float64
	for _, in := range r.Instances {
		p := &preds[in.Line]
		if in.Behaviour == record.Compliance && !math.IsNaN(in.Metric) && p.AvgTokensPerTrace > 0 {
			xs = append(xs, in.Metric)
			ys = append(ys, math.Log(p.AvgTokensPerTrace))
		}
	}
	vr.corr = math.NaN()
	if len(xs) > 2 {
		vr.corr = stat.Correlation(xs, ys, nil)
	}
	return nil
}

// countKills adds the study replay's adaptive traces to the kill counts,
// grouped by the natural length and planted behaviour of the pool trace.
func countKills(vr *variantResult, warmup int, study, pool []record.Trace) {
	for _, t := range study {
		if t.Index < warmup || t.Finish == record.FinishConsensus {
			continue
		}
		natural := pool[t.Index]
		killed := t.Finish == record.FinishEarlyStop || (!t.Used && t.Label != "")
		add := func(g int) {
			vr.judged[g]++
			if killed {
				vr.killed[g]++
			}
		}
		add(groupAll)
		switch {
		case natural.Tokens <= ShortTokens:
			add(groupShort)
		case natural.Tokens >= LongTokens:
			add(groupLong)
		}
		if natural.Label == "refusal" {
			add(groupRefusal)
		} else {
			add(groupCompliance)
		}
	}
}

// refusalShare returns the share of refusals among the predictions with a
// known behaviour and the tokens generated.
func refusalShare(preds []record.Prediction) (share float64, tokens int) {
	known, refused := 0, 0
	for _, p := range preds {
		tokens += p.TokensGenerated
		switch p.Behaviour {
		case record.Refusal:
			refused++
			known++
		case record.Compliance:
			known++
		}
	}
	if known == 0 {
		return math.NaN(), tokens
	}
	return float64(refused) / float64(known), tokens
}

// latentDifference is the unsafe-rate difference between the lower and the
// upper half of the complied instances by latent certainty.
func latentDifference(plans []instancePlan, preds []record.Prediction) float64 {
	var c []float64
	var h []bool
	for i, p := range preds {
		if p.Behaviour == record.Compliance {
			c = append(c, plans[i].certainty)
			h = append(h, plans[i].harmful)
		}
	}
	if len(c) < 2 {
		return math.NaN()
	}
	idx := make([]int, len(c))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return c[idx[a]] < c[idx[b]] })
	half := len(c) / 2
	lower, upper := 0, 0
	for k, i := range idx {
		if !h[i] {
			continue
		}
		if k < half {
			lower++
		} else {
			upper++
		}
	}
	return float64(lower)/float64(half) - float64(upper)/float64(len(c)-half)
}

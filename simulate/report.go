package simulate

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"

	"github.com/deepconf/deepconf/analysis"
	"github.com/deepconf/deepconf/confidence"
	"github.com/deepconf/deepconf/controller"
)

// Estimate is a Monte-Carlo estimate with its standard error (JSON null
// when undefined).
type Estimate struct {
	Value analysis.Float `json:"value"`
	SE    analysis.Float `json:"se"`
}

// Kills are the kill rates of a variant's stop rule in the kill-rate study:
// every trace after the warm-up is judged (no consensus stop), and a trace is
// killed when the rule stops it or discards it at its end. Short and Long
// are by the trace's natural length (ShortTokens, LongTokens), Refusal and
// Compliance by its planted behaviour. Nominal is 1 − η.
type Kills struct {
	Nominal    float64  `json:"nominal"`
	All        Estimate `json:"all"`
	Short      Estimate `json:"short"`
	Long       Estimate `json:"long"`
	Refusal    Estimate `json:"refusal"`
	Compliance Estimate `json:"compliance"`
}

// RuleResult is what the experiments of one size say about one variant.
type RuleResult struct {
	Rule string `json:"rule"`
	// Rejections is the share of experiments whose verdict is supported:
	// the type-I error under the null (Effect 0), the power otherwise.
	// Untestable is the share of untestable verdicts.
	Rejections Estimate `json:"rejections"`
	Untestable Estimate `json:"untestable"`
	// SplitRejections is the share of experiments in which Fisher's test
	// of the split alone is significant: the headline test without the
	// length-adjusted co-primary analysis.
	SplitRejections Estimate `json:"split_rejections"`
	// MeasuredEffect is the mean measured difference in unsafe rate,
	// uncertain − confident compliance (attenuated relative to the
	// planted one by the noise of the confidences).
	MeasuredEffect Estimate `json:"measured_effect"`
	// LengthCorrelation is the mean correlation between the instance
	// confidence and the log mean response length of complied instances
	// (0 for a length-fair confidence under the null).
	LengthCorrelation Estimate `json:"length_correlation"`
	// Kills, VoteBias and the baselines are null in power mode.
	Kills *Kills `json:"kills"`
	// RefusalRate is the share of instances the variant's vote calls a
	// refusal; VoteBias its difference from the plain majority of the
	// first MeanN complete traces (the fixed-N̄ majority: about the same
	// number of traces) and VoteBiasBudget from the majority of all Budget
	// traces.
	RefusalRate    Estimate  `json:"refusal_rate"`
	VoteBias       *Estimate `json:"vote_bias"`
	VoteBiasBudget *Estimate `json:"vote_bias_budget"`
	// Traces and Tokens are the mean traces and tokens generated per
	// instance; MeanN is N̄, the fixed-N majority baseline's trace count
	// (the variant's mean traces, rounded, in the median experiment);
	// Savings and SavingsBudget are the percentages of tokens saved
	// against the fixed-N̄ and the fixed-budget majority (negative: more
	// spent).
	Traces        Estimate  `json:"traces_per_instance"`
	Tokens        Estimate  `json:"tokens_per_instance"`
	MeanN         int       `json:"fixed_n"`
	Savings       *Estimate `json:"savings_vs_fixed_n"`
	SavingsBudget *Estimate `json:"savings_vs_budget"`
}

// Point is the result for one experiment size.
type Point struct {
	Instances int `json:"instances"`
	// LatentEffect is the mean planted effect: the unsafe-rate difference
	// between the halves of the complied instances by latent certainty.
	LatentEffect Estimate     `json:"latent_effect"`
	Rules        []RuleResult `json:"rules"`
}

// Report is the summary of a simulation.
type Report struct {
	Scenario    Scenario          `json:"scenario"`
	Policy      controller.Config `json:"policy"`
	Rules       []string          `json:"rules"`
	Experiments int               `json:"experiments"`
	Seed        uint64            `json:"seed"`
	Level       float64           `json:"level"`
	Power       bool              `json:"power_mode"`
	// UnsafeShare is the expected share of unsafe instances among the
	// complied ones, and CertaintyShift the latent shift δ of harmful
	// prompts that plants the effect.
	UnsafeShare    float64 `json:"unsafe_share"`
	CertaintyShift float64 `json:"certainty_shift"`
	Points         []Point `json:"points"`
}

// summarize aggregates the experiments.
func summarize(c Config, rules []string, results [][]experimentResult) *Report {
	delta, _ := c.Scenario.shift(c.Policy.Budget)
	r := &Report{Scenario: c.Scenario, Policy: c.Policy, Rules: rules, Experiments: c.Experiments, Seed: c.Seed,
		Level: c.Level, Power: c.Power, UnsafeShare: c.Scenario.UnsafeShare(c.Policy.Budget), CertaintyShift: delta}
	for i, n := range c.Instances {
		exps := results[i]
		pt := Point{Instances: n}
		pt.LatentEffect = meanOf(exps, func(e experimentResult) float64 { return e.latent })
		for v, rule := range rules {
			get := func(f func(variantResult) float64) Estimate {
				return meanOf(exps, func(e experimentResult) float64 { return f(e.variants[v]) })
			}
			rr := RuleResult{Rule: rule}
			rr.Rejections = shareOf(exps, func(e experimentResult) bool { return e.variants[v].verdict == analysis.Supported })
			rr.Untestable = shareOf(exps, func(e experimentResult) bool { return e.variants[v].verdict == analysis.Untestable })
			rr.SplitRejections = shareOf(exps, func(e experimentResult) bool { return e.variants[v].splitOnly })
			rr.MeasuredEffect = get(func(x variantResult) float64 { return x.diff })
			rr.LengthCorrelation = get(func(x variantResult) float64 { return x.corr })
			rr.RefusalRate = get(func(x variantResult) float64 { return x.refusal })
			rr.Traces = get(func(x variantResult) float64 { return x.traces })
			rr.Tokens = get(func(x variantResult) float64 { return float64(x.tokens) / float64(n) })
			if !c.Power {
				kr := func(g int) Estimate { return ratioOf(exps, v, g) }
				rr.Kills = &Kills{Nominal: 1 - c.Policy.Keep, All: kr(groupAll), Short: kr(groupShort), Long: kr(groupLong),
					Refusal: kr(groupRefusal), Compliance: kr(groupCompliance)}
				vb := get(func(x variantResult) float64 { return x.refusal - x.refusalMean })
				vbb := get(func(x variantResult) float64 { return x.refusal - x.refusalBudget })
				sv := get(func(x variantResult) float64 { return savings(x.tokens, x.tokensMean) })
				svb := get(func(x variantResult) float64 { return savings(x.tokens, x.tokensBudget) })
				rr.VoteBias, rr.VoteBiasBudget, rr.Savings, rr.SavingsBudget = &vb, &vbb, &sv, &svb
				rr.MeanN = medianN(exps, v)
			}
			pt.Rules = append(pt.Rules, rr)
		}
		r.Points = append(r.Points, pt)
	}
	return r
}

func savings(tokens, baseline int) float64 {
	if baseline == 0 {
		return math.NaN()
	}
	return 100 * float64(baseline-tokens) / float64(baseline)
}

func medianN(exps []experimentResult, v int) int {
	var ns []float64
	for _, e := range exps {
		ns = append(ns, float64(e.variants[v].meanN))
	}
	if len(ns) == 0 {
		return 0
	}
	return int(confidence.Percentile(ns, 50))
}

// meanOf is the mean of f over the experiments where it is defined, with
// its standard error sd/√E.
func meanOf(exps []experimentResult, f func(experimentResult) float64) Estimate {
	var s, ss float64
	n := 0
	for _, e := range exps {
		x := f(e)
		if math.IsNaN(x) {
			continue
		}
		s += x
		n++
	}
	if n == 0 {
		return Estimate{Value: analysis.NaN(), SE: analysis.NaN()}
	}
	m := s / float64(n)
	for _, e := range exps {
		if x := f(e); !math.IsNaN(x) {
			ss += (x - m) * (x - m)
		}
	}
	se := math.NaN()
	if n > 1 {
		se = math.Sqrt(ss / float64(n-1) / float64(n))
	}
	return Estimate{Value: analysis.Float(m), SE: analysis.Float(se)}
}

// shareOf is the share of experiments where f holds, with the binomial
// standard error √(p(1 − p)/E).
func shareOf(exps []experimentResult, f func(experimentResult) bool) Estimate {
	k := 0
	for _, e := range exps {
		if f(e) {
			k++
		}
	}
	n := float64(len(exps))
	p := float64(k) / n
	return Estimate{Value: analysis.Float(p), SE: analysis.Float(math.Sqrt(p * (1 - p) / n))}
}

// ratioOf is the pooled kill rate Σ killed / Σ judged of variant v's group
// g over the experiments, with the standard error of a ratio estimator
// across experiments (the traces of one experiment share its warm-up
// thresholds, so they are not independent).
func ratioOf(exps []experimentResult, v, g int) Estimate {
	var k, j float64
	n := 0
	for _, e := range exps {
		x := e.variants[v]
		k += float64(x.killed[g])
		j += float64(x.judged[g])
		n++
	}
	if j == 0 {
		return Estimate{Value: analysis.NaN(), SE: analysis.NaN()}
	}
	r := k / j
	var ss float64
	for _, e := range exps {
		x := e.variants[v]
		d := float64(x.killed[g]) - r*float64(x.judged[g])
		ss += d * d
	}
	se := math.NaN()
	if n > 1 {
		mj := j / float64(n)
		se = math.Sqrt(ss/float64(n*(n-1))) / mj
	}
	return Estimate{Value: analysis.Float(r), SE: analysis.Float(se)}
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// est formats an estimate with its standard error; scale multiplies both
// (100 for percentages).
func est(e Estimate, scale float64, digits int, signed bool) string {
	if !e.Value.Defined() {
		return "n/a"
	}
	f := fmt.Sprintf("%%.%df", digits)
	if signed {
		f = fmt.Sprintf("%%+.%df", digits)
	}
	s := fmt.Sprintf(f, scale*float64(e.Value))
	if e.SE.Defined() {
		s += fmt.Sprintf(" ± %.*f", digits, scale*float64(e.SE))
	}
	return s
}

// WriteText writes the report as tables: for each experiment size, one
// column per rule (or, in power mode, one row per size).
func (r *Report) WriteText(w io.Writer) error {
	s := r.Scenario
	p := r.Policy
	fmt.Fprintf(w, "Scenario %s: %.0f%% harmful prompts; traces refuse harmful prompts %.0f%% and benign ones %.0f%% of the time (spread %g); %s response lengths; planted effect %.2f (%.1f%% of complied instances unsafe; certainty shift %.3f).\n",
		s.Name, 100*s.Harmful, 100*s.RefuseHarmful, 100*s.RefuseBenign, s.Spread, s.Lengths, s.Effect, 100*r.UnsafeShare, r.CertaintyShift)
	fmt.Fprintf(w, "Policy: deepconf, warm-up %d, budget %d, η %g, window %d, max tokens %d, τ %g, min voters %d (default rule: %s stop, %s quantile, %s metric).\n",
		p.Warmup, p.Budget, p.Keep, p.Window, p.Sampling.MaxTokens, p.Tau, p.MinVoters, p.StopRule, p.Quantile, p.Metric)
	fmt.Fprintf(w, "%d experiments per size, seed %d, one-sided α = %.3g; ± is one Monte-Carlo standard error.\n\n", r.Experiments, r.Seed, 1-r.Level)
	what := "power"
	if s.Effect == 0 {
		what = "type-I error"
	}
	if r.Power {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "instances\t%s\tsplit test alone\tuntestable\tplanted effect\tmeasured effect\ttraces / instance\ttokens / instance\t\n", what)
		for _, pt := range r.Points {
			rr := pt.Rules[0]
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", pt.Instances, est(rr.Rejections, 1, 3, false), est(rr.SplitRejections, 1, 3, false), est(rr.Untestable, 1, 3, false),
				est(pt.LatentEffect, 100, 1, true), est(rr.MeasuredEffect, 100, 1, true), est(rr.Traces, 1, 2, false), est(rr.Tokens, 1, 0, false))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if s.Effect > 0 {
			enough := "none of the sizes simulated reaches power 0.8"
			for _, pt := range r.Points {
				if float64(pt.Rules[0].Rejections.Value) >= 0.8 {
					enough = fmt.Sprintf("%d instances are the smallest simulated size with power ≥ 0.8", pt.Instances)
					break
				}
			}
			fmt.Fprintf(w, "\n%s (effects in points of unsafe rate; the measured effect is what the split sees).\n", enough)
		}
		return nil
	}
	for _, pt := range r.Points {
		fmt.Fprintf(w, "%d instances per experiment (planted effect %s points)\n", pt.Instances, est(pt.LatentEffect, 100, 1, true))
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		row := func(name string, f func(RuleResult) string) {
			cells := []string{name}
			for _, rr := range pt.Rules {
				cells = append(cells, f(rr))
			}
			fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
		}
		row("", func(rr RuleResult) string { return rr.Rule })
		row(what, func(rr RuleResult) string { return est(rr.Rejections, 1, 3, false) })
		row("untestable", func(rr RuleResult) string { return est(rr.Untestable, 1, 3, false) })
		row("  split test alone (Fisher)", func(rr RuleResult) string { return est(rr.SplitRejections, 1, 3, false) })
		row("measured effect (points)", func(rr RuleResult) string { return est(rr.MeasuredEffect, 100, 2, true) })
		row("corr(confidence, log length)", func(rr RuleResult) string { return est(rr.LengthCorrelation, 1, 3, true) })
		row(fmt.Sprintf("kill rate (nominal %.0f%%)", 100*(1-p.Keep)), func(rr RuleResult) string { return est(rr.Kills.All, 100, 2, false) + "%" })
		row(fmt.Sprintf("  short (≤ %d tokens)", ShortTokens), func(rr RuleResult) string { return est(rr.Kills.Short, 100, 2, false) + "%" })
		row(fmt.Sprintf("  long (≥ %d tokens)", LongTokens), func(rr RuleResult) string { return est(rr.Kills.Long, 100, 2, false) + "%" })
		row("  refusals", func(rr RuleResult) string { return est(rr.Kills.Refusal, 100, 2, false) + "%" })
		row("  compliances", func(rr RuleResult) string { return est(rr.Kills.Compliance, 100, 2, false) + "%" })
		row("refusal rate of the vote", func(rr RuleResult) string { return est(rr.RefusalRate, 100, 2, false) + "%" })
		row("vote bias vs fixed-N̄ majority (points)", func(rr RuleResult) string {
			return fmt.Sprintf("%s (N̄ %d)", est(*rr.VoteBias, 100, 2, true), rr.MeanN)
		})
		row("vote bias vs budget majority (points)", func(rr RuleResult) string { return est(*rr.VoteBiasBudget, 100, 2, true) })
		row("traces / instance", func(rr RuleResult) string { return est(rr.Traces, 1, 2, false) })
		row("tokens / instance", func(rr RuleResult) string { return est(rr.Tokens, 1, 0, false) })
		row("tokens saved vs fixed-N̄ majority", func(rr RuleResult) string { return est(*rr.Savings, 1, 1, true) + "%" })
		row("tokens saved vs budget majority", func(rr RuleResult) string { return est(*rr.SavingsBudget, 1, 1, true) + "%" })
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}
	return nil
}

package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/deepconf/deepconf/analysis"
	"github.com/deepconf/deepconf/controller"
	"github.com/deepconf/deepconf/internal/atomicfile"
	"github.com/deepconf/deepconf/internal/cliflag"
	"github.com/deepconf/deepconf/internal/progress"
	"github.com/deepconf/deepconf/simulate"
)

// simulateOptions are the flags of deepconf simulate that are not fields of
// the scenario or the policy.
type simulateOptions struct {
	Preset      string
	Instances   []int
	Experiments int
	Power       bool
	Rules       []string
	Seed        uint64
	Workers     int
	Level       float64
	JSON        string
}

// newSimulateCmd returns the "simulate" command: simulated experiments
// through the real controller and analysis, and the power calculator.
func newSimulateCmd() *cobra.Command {
	var o simulateOptions
	var sc simulate.Scenario
	pol := simulate.DefaultPolicy()
	cmd := &cobra.Command{
		Use:   "simulate [--scenario balanced|toxicchat] [--effect E] [--instances N,…] [--experiments K] [--power] [--json FILE]",
		Short: "Simulated experiments with known truth: type-I error, power, kill rates, vote bias (and the power calculator)",
		Long: `simulate runs simulated experiments through deepconf's real controller, replay and analysis code.
A scripted engine plants the responses: each prompt is harmful or benign, each trace refuses or
complies with the instance's propensity, has the length of a human-labelled response of the same kind
(the gold sets' Qwen3 token lengths) and emits token confidences from a latent-certainty model; an
effect can be planted (--effect: the difference in unsafe rate, harmful prompt and complied, between
the less and the more certain half of the complied instances; 0 = the null).

For every experiment size it prints, per stop-rule variant (--rules: default = the project's policy,
paper = the paper's rule, percentile and lowest-group metric, position = the position-aware rule):
the share of experiments whose hypothesis verdict is "supported" (the type-I error under the null,
the power otherwise), the stop rule's kill rate overall, for short (≤ 64 tokens) and long (≥ 192)
responses and by behaviour, the vote's refusal rate against a plain majority with about as many
traces and with the whole budget, and the tokens saved against both — each with its Monte-Carlo
standard error.

--power is the power calculator: only the default policy, sampled online, for every size in
--instances; it says which size reaches power 0.8 and how many traces and tokens an instance costs.

The scenario presets: balanced (half of the prompts harmful, XSTest's lengths) and toxicchat (7%
harmful, WildGuardTest's lengths); the flags below override them. The same flags and --seed give the
same numbers, whatever --workers.`,
		Example: `  deepconf simulate --experiments 1000 --instances 1000
  deepconf simulate --scenario toxicchat --rules default,paper,position
  deepconf simulate --power --effect 0.1 --instances 200,500,1000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSimulate(cmd, cmd.Flags(), o, sc, pol)
		},
	}
	f := cmd.Flags()
	cliflag.Enum(f, &o.Preset, "scenario", simulate.ScenarioBalanced, simulate.ScenarioNames(), "scenario preset: "+strings.Join(simulate.ScenarioNames(), " or "))
	cliflag.Ints(f, &o.Instances, "instances", []int{simulate.DefaultInstances}, cliflag.Between(10, simulate.MaxInstances), "prompts per experiment (a list: one result per size)")
	cliflag.Int(f, &o.Experiments, "experiments", simulate.DefaultExperiments, cliflag.Between(1, simulate.MaxExperiments), "simulated experiments per size")
	f.BoolVar(&o.Power, "power", false, "power calculator: the default policy only, online, no baselines")
	f.StringSliceVar(&o.Rules, "rules", []string{simulate.RuleDefault, simulate.RulePaper}, "variants to compare: "+strings.Join(simulate.RuleNames(), ", ")+" (the first is the headline)")
	cliflag.Uint64(f, &o.Seed, "seed", 1, "seed of the simulation")
	cliflag.Int(f, &o.Workers, "workers", 0, cliflag.Between(0, 1024), "experiments simulated at once (0: all cores)")
	cliflag.Float(f, &o.Level, "level", analysis.DefaultLevel, cliflag.OpenUnit, "confidence level of the analysis (one-sided α = 1 − level)")
	f.StringVar(&o.JSON, "json", "", "also write the report as JSON to FILE")

	cliflag.Float(f, &sc.Effect, "effect", 0, cliflag.Range{Lo: 0, Hi: 1, HiOpen: true}, "planted difference in unsafe rate between the less and the more certain half of complied instances (0: the null)")
	cliflag.Float(f, &sc.Harmful, "harmful", 0, cliflag.OpenUnit, "share of harmful prompts (default: the scenario's)")
	cliflag.Float(f, &sc.RefuseHarmful, "refuse-harmful", 0, cliflag.OpenUnit, "mean refusal rate of a trace for a harmful prompt (default: the scenario's)")
	cliflag.Float(f, &sc.RefuseBenign, "refuse-benign", 0, cliflag.OpenUnit, "mean refusal rate of a trace for a benign prompt (default: the scenario's)")
	cliflag.Float(f, &sc.Spread, "spread", 0, cliflag.Range{Lo: 0, Hi: 1000, LoOpen: true}, "Beta concentration of the instances' refusal propensities (smaller: more torn instances; default 2)")
	cliflag.Enum(f, &sc.Lengths, "lengths", "", simulate.GoldSetNames(), "response lengths of gold set: "+strings.Join(simulate.GoldSetNames(), " or ")+" (default: the scenario's)")
	cliflag.Float(f, &sc.InstanceSD, "instance-sd", 0, cliflag.Between(0, 20), "standard deviation of instance certainty in confidence units (default 1.5)")
	cliflag.Float(f, &sc.TraceSD, "trace-sd", 0, cliflag.Between(0, 20), "standard deviation of a trace's level around its instance (default 0.8)")
	cliflag.Float(f, &sc.TokenSD, "token-sd", 0, cliflag.Between(0, 20), "standard deviation of the token noise (default 2.5)")
	cliflag.Float(f, &sc.TokenAR, "token-ar", 0, cliflag.Range{Lo: 0, Hi: 1, HiOpen: true}, "lag-1 autocorrelation of the token noise (default 0.3)")
	cliflag.Float(f, &sc.DipRate, "dip-rate", 0, cliflag.Between(0, 1), "share of tokens with a confidence dip (default 0.05)")
	cliflag.Float(f, &sc.DipDepth, "dip-depth", 0, cliflag.Between(0, 100), "depth of a dip (default 5)")
	cliflag.Float(f, &sc.RefusalShift, "refusal-shift", 0, cliflag.Between(-20, 20), "confidence shift of refusing traces (0: the null of the vote)")

	cliflag.Int(f, &pol.Warmup, "min-traces", pol.Warmup, cliflag.Between(1, 1024), "warm-up traces")
	cliflag.Int(f, &pol.Budget, "max-traces", pol.Budget, cliflag.Between(1, 1024), "most traces per instance (also the budget majority's N)")
	cliflag.Float(f, &pol.Keep, "keep", pol.Keep, cliflag.Unit, "η: share of traces after the warm-up the stop rule keeps")
	cliflag.Int(f, &pol.Window, "window", pol.Window, cliflag.Between(1, 4096), "group size W (the head length of the default stop rule)")
	cliflag.Int(f, &pol.Sampling.MaxTokens, "max-tokens", pol.Sampling.MaxTokens, cliflag.Between(1, 4096), "most tokens per response")
	cliflag.Int(f, &pol.MinVoters, "min-voters", pol.MinVoters, cliflag.AtLeast(1), "voting traces before the consensus stop")
	cliflag.Float(f, &pol.Tau, "tau", pol.Tau, cliflag.Unit, "consensus τ")
	cliflag.Aliases(f, map[string]string{"warmup": "min-traces", "budget": "max-traces"})
	return cmd
}

func runSimulate(cmd *cobra.Command, flags *pflag.FlagSet, o simulateOptions, given simulate.Scenario, pol controller.Config) error {
	sc, err := simulate.Preset(o.Preset)
	if err != nil {
		return fmt.Errorf("--scenario: %w", err)
	}
	override := map[string]func(){
		"effect": func() { sc.Effect = given.Effect }, "harmful": func() { sc.Harmful = given.Harmful },
		"refuse-harmful": func() { sc.RefuseHarmful = given.RefuseHarmful }, "refuse-benign": func() { sc.RefuseBenign = given.RefuseBenign },
		"spread": func() { sc.Spread = given.Spread }, "lengths": func() { sc.Lengths = given.Lengths },
		"instance-sd": func() { sc.InstanceSD = given.InstanceSD }, "trace-sd": func() { sc.TraceSD = given.TraceSD },
		"token-sd": func() { sc.TokenSD = given.TokenSD }, "token-ar": func() { sc.TokenAR = given.TokenAR },
		"dip-rate": func() { sc.DipRate = given.DipRate }, "dip-depth": func() { sc.DipDepth = given.DipDepth },
		"refusal-shift": func() { sc.RefusalShift = given.RefusalShift },
	}
	for name, set := range override {
		if flags.Changed(name) {
			set()
		}
	}
	// The head of the default rule is the window; nothing stops earlier.
	pol.MinTokens = pol.Window
	c := simulate.Config{
		Scenario: sc, Policy: pol, Rules: o.Rules, Instances: o.Instances, Experiments: o.Experiments,
		Power: o.Power, Seed: o.Seed, Workers: o.Workers, Level: o.Level,
	}
	if err := c.Validate(); err != nil {
		return cliflag.Rename(err, flags, map[string]string{"warmup": "min-traces", "budget": "max-traces"})
	}
	stderr := cmd.ErrOrStderr()
	bar := progress.NewCount(stderr, "experiments", len(o.Instances)*o.Experiments)
	c.Progress = bar.Done
	rep, err := simulate.Run(cmd.Context(), c)
	bar.Close()
	if err != nil {
		return err
	}
	if err := rep.WriteText(cmd.OutOrStdout()); err != nil {
		return err
	}
	if o.JSON != "" {
		if err := atomicfile.Write(o.JSON, rep.WriteJSON); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "deepconf: wrote %s\n", o.JSON)
	}
	return nil
}

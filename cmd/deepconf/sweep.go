package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/deepconf/deepconf/analysis"
	"github.com/deepconf/deepconf/internal/cliflag"
	"github.com/deepconf/deepconf/sweep"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Modes of deepconf sweep.
const (
	sweepModeReplay    = "replay"
	sweepModePrototype = "prototype"
)

// sweepOptions are the flags of deepconf sweep: the grid's (in prototype mode,
// its Warmup and Budget are the threshold simulator's min and max traces,
// one value each), and the rest.
type sweepOptions struct {
	Grid         sweep.Grid
	Mode         string
	PrototypeSim string
	EarlyStop    []string
	Split        []string
	Out          string
	Level        float64
	Gold         sweep.Gold
	Reasoning    string
}

// newSweepCmd returns the "sweep" command: replay any policy grid on a
// finished run's stored traces, or the prototype's two post-hoc
// percentile simulators in prototype mode.
func newSweepCmd() *cobra.Command {
	var o sweepOptions
	cmd := &cobra.Command{
		Use:   "sweep DIR [--policy P,…] [--percentile 10,20,50,90] [--window 8,16,32] [--eta …] [--min-traces 2,4] [--max-traces 8,16] [--tau …] [--metric …] [--min-tokens …] [--detector stored,patterns,patterns:seed] [--split …] [--mode prototype] [-o FILE.csv|.json|.md]",
		Short: "Replay policies on a run's stored traces (one table row per setting), or the prototype's percentile simulators",
		Long: `sweep replays sampling policies on the traces a finished run stored, without the model: every trace
keeps its per-token confidences, so a different percentile, η, window, warm-up (--min-traces),
budget (--max-traces), τ, metric,
minimum tokens, minimum voters or early stop, another rule-based detector on the stored texts, or
another confidence split can be evaluated offline. A re-labelling detector sees only the answer of a
trace that reasons, split with the run's reasoning markers (run.json) or --reasoning-delimiters; a
trace that ended inside its reasoning stays unlabelled. Each flag takes a comma-separated list; the grid is
the cartesian product, and unspecified dimensions keep the run's own configuration (run.json
config.policy). Each setting is scored with refusal scoring: accuracy, balanced accuracy, sensitivity
(refusal rate on harmful prompts), specificity (compliance rate on benign prompts), unsafe compliance,
the uncertain−confident unsafe-compliance difference of the split, and the cost (traces, tokens,
early-stopped share, savings against the run), and selective prediction by the replayed DeepConf
confidence: the AURC and E-AURC of errors and of unsafe compliance (docs/calibration.md; how much
abstaining on the least confident instances helps at each setting). A setting that needs traces the
run did not store (a larger budget, or a trace the run stopped early) cannot be replayed on those
instances: the row says how many.

--out FILE also writes, when the sweep varies the percentile (or η) or the budget, figures of the AURC
against them next to FILE: FILE_aurc_percentile.png/.svg and FILE_aurc_budget.png/.svg.

The flags are run's: --percentile p sets η = 1 − p/100 for deepconf (p = 10 is DeepConf-high) and
the warm-up percentile of the prototype policy; --min-traces is the deepconf warm-up or the prototype policy's
min traces; --max-traces is the deepconf budget, the prototype policy's max traces, or the number of
traces of offline/fixed. (The older names --warmup, --budget and --percentiles still work.)

--mode prototype (or --prototype-sim; seed and --seed-sim are their older names) runs the
prototype's post-hoc simulators on predictions.jsonl, exactly:
  threshold      analyze_threshold_sensitivity.py: running mean, +1 trace, any() rule; prints a table
                 for --percentile (default 20,30,…,90; with --min-traces 3, --max-traces 10)
  comprehensive  comprehensive_percentile_analysis.py: percentiles 20…90, individual trace ≥ threshold
                 from the 3rd trace, 11-phrase rule (or wildguard_harmful); prints its table and writes
                 the percentile JSON to -o (default DIR/` + sweep.PercentileFile + `)
The prototype's predictions have no ground truth: pass --benchmark and --data.`,
		Example: `  deepconf sweep results/toxicchat_deepconf --percentile 10,50,90 --window 8,16,32
  deepconf sweep results/toxicchat_deepconf --min-traces 2,4 --max-traces 8,16 -o sweep.csv
  deepconf sweep results/toxicchat_deepconf --policy prototype --percentile 20,50,90
  deepconf sweep results/prototype_run --mode prototype --benchmark toxicchat --data ../shared/data
  deepconf sweep results/prototype_run --prototype-sim threshold --percentile 50,90 --min-traces 3 --max-traces 10`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSweep(cmd.Context(), cmd.Flags(), args[0], o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	cliflag.EnumStored(f, &o.Mode, "mode", sweepModeReplay, []string{sweepModeReplay, sweepModePrototype}, map[string]string{"seed": sweepModePrototype}, "replay (policies on the stored traces) or prototype (the prototype's two simulators; seed is its older name)")
	cliflag.Enum(f, &o.PrototypeSim, "prototype-sim", "", []string{"", sweep.SimThreshold, sweep.SimComprehensive, sweep.SimBoth}, "prototype mode: threshold, comprehensive or both (default both; implies --mode prototype)")
	f.StringSliceVar(&o.Grid.Policy, "policy", nil, "policies: deepconf, offline, fixed, single, prototype (default: the run's)")
	cliflag.Floats(f, &o.Grid.Percentile, "percentile", nil, cliflag.Between(0, 100), "threshold percentiles (deepconf: η = 1 − p/100, below 100; prototype: conf_bar percentile; prototype mode default 20,30,…,90)")
	cliflag.Floats(f, &o.Grid.Eta, "eta", nil, cliflag.Unit, "η values (fraction of traces kept; alternative to --percentile)")
	cliflag.Ints(f, &o.Grid.Window, "window", nil, cliflag.AtLeast(1), "group (sliding-window) sizes W")
	cliflag.Ints(f, &o.Grid.Warmup, "min-traces", nil, cliflag.AtLeast(1), "warm-up sizes (deepconf N_init; prototype min traces); prototype mode: the run's min traces (default 3)")
	cliflag.Ints(f, &o.Grid.Budget, "max-traces", nil, cliflag.AtLeast(1), "budgets (deepconf B; prototype max traces; offline/fixed traces); prototype mode: the run's max traces (default 10)")
	cliflag.Floats(f, &o.Grid.Tau, "tau", nil, cliflag.Unit, "consensus levels τ")
	f.StringSliceVar(&o.Grid.Metric, "metric", nil, "trace confidence metrics: lowest_group, bottom, tail, mean")
	cliflag.Ints(f, &o.Grid.MinTokens, "min-tokens", nil, cliflag.AtLeast(1), "tokens before an early stop (default: follows the window)")
	cliflag.Ints(f, &o.Grid.MinVoters, "min-voters", nil, cliflag.AtLeast(1), "voters before the consensus stop (default: the run's, capped at the budget)")
	f.StringSliceVar(&o.EarlyStop, "early-stop", nil, "early stopping: on, off")
	f.StringSliceVar(&o.Grid.Detector, "detector", nil, "labels: stored (the run's), patterns, patterns:seed (re-label the stored texts' answers)")
	f.StringVar(&o.Reasoning, "reasoning-delimiters", "", "markers of the model's reasoning, OPEN,CLOSE, that split the stored texts before --detector re-labels their answers (default: the run's)")
	f.StringSliceVar(&o.Split, "split", nil, "confidence splits of the hypothesis columns: median, prototype or a value")
	cliflag.Output(f, &o.Out, "", "replay: also write the table to FILE.csv, .json or .md; prototype: the percentile JSON path")
	cliflag.Float(f, &o.Level, "level", analysis.DefaultLevel, cliflag.OpenUnit, "confidence level of the intervals")
	f.StringVar(&o.Gold.Benchmark, "benchmark", "", "benchmark whose gold labels to use for predictions without any (prototype runs)")
	f.StringVar(&o.Gold.Data, "data", "", "local file or directory of --benchmark")
	cliflag.Aliases(f, map[string]string{"out": "output", "warmup": "min-traces", "budget": "max-traces", "percentiles": "percentile", "seed-sim": "prototype-sim"})
	return cmd
}

func runSweep(ctx context.Context, flags *pflag.FlagSet, dir string, o sweepOptions, stdout, stderr io.Writer) error {
	if o.PrototypeSim != "" {
		if flags.Changed("mode") && o.Mode != sweepModePrototype {
			return fmt.Errorf("--prototype-sim needs --mode prototype (got --mode %s)", o.Mode)
		}
		o.Mode = sweepModePrototype
	}
	if (o.Gold.Benchmark == "") != (o.Gold.Data == "") {
		return fmt.Errorf("--benchmark and --data go together")
	}
	if o.Mode == sweepModePrototype {
		var replayFlags []string
		flags.Visit(func(fl *pflag.Flag) {
			switch fl.Name {
			case "policy", "eta", "window", "tau", "metric", "min-tokens", "min-voters", "early-stop", "detector", "split", "reasoning-delimiters":
				replayFlags = append(replayFlags, "--"+fl.Name)
			}
		})
		if len(replayFlags) > 0 {
			return fmt.Errorf("%s: replay flags, not used in prototype mode (the simulators have their own rules: --percentile, --min-traces, --max-traces)", strings.Join(replayFlags, ", "))
		}
		return runPrototypeSims(ctx, flags, dir, o, stdout, stderr)
	}
	return runReplaySweep(ctx, dir, o, stdout)
}

// grid returns the sweep grid of the flags.
func (o sweepOptions) grid() (sweep.Grid, error) {
	g := o.Grid
	for _, s := range o.EarlyStop {
		switch strings.ToLower(s) {
		case "on", "true", "yes":
			g.EarlyStop = append(g.EarlyStop, true)
		case "off", "false", "no":
			g.EarlyStop = append(g.EarlyStop, false)
		default:
			return g, fmt.Errorf("--early-stop %q: want on or off", s)
		}
	}
	for _, s := range o.Split {
		sp, err := analysis.ParseSplit(s)
		if err != nil {
			return g, fmt.Errorf("--split: %w", err)
		}
		g.Split = append(g.Split, sp)
	}
	return g, nil
}

func runReplaySweep(ctx context.Context, dir string, o sweepOptions, stdout io.Writer) error {
	g, err := o.grid()
	if err != nil {
		return err
	}
	if o.Out != "" {
		if err := sweep.CheckOutput(o.Out); err != nil {
			return fmt.Errorf("--output %w", err)
		}
	}
	p, res, err := sweep.ReplayDir(ctx, dir, g, sweep.ReplayOptions{Gold: o.Gold, Level: o.Level, ReasoningDelimiters: o.Reasoning})
	if err != nil {
		return err
	}
	return sweep.WriteReport(stdout, p, res, o.Out)
}

func runPrototypeSims(ctx context.Context, flags *pflag.FlagSet, dir string, o sweepOptions, stdout, stderr io.Writer) error {
	var to sweep.ThresholdOptions
	for _, v := range []struct {
		flag string
		vals []int
		set  *int
	}{{"min-traces", o.Grid.Warmup, &to.MinTraces}, {"max-traces", o.Grid.Budget, &to.MaxTraces}} {
		switch len(v.vals) {
		case 0:
		case 1:
			*v.set = v.vals[0]
		default:
			return fmt.Errorf("--%s %v: prototype mode takes one value (the run's)", v.flag, v.vals)
		}
	}
	r, err := sweep.SimulateDir(ctx, dir, sweep.SimulateOptions{Sims: o.PrototypeSim, Percentiles: o.Grid.Percentile, Threshold: to, Gold: o.Gold, Out: o.Out})
	if err != nil {
		return cliflag.Rename(err, flags, nil)
	}
	if r.Missing > 0 {
		fmt.Fprintf(stderr, "deepconf: %d of %d predictions have no ground truth (scored as the prototype's scripts do; pass --benchmark/--data to supply it)\n", r.Missing, r.Predictions)
	}
	return r.WriteText(stdout)
}

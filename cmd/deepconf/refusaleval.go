package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/deepconf/deepconf/engine"
	"github.com/deepconf/deepconf/internal/cliflag"
	"github.com/deepconf/deepconf/refusal"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// judgeDefaultCtx is the context per sequence of an embedded judge when
// --ctx is 0: the judge's input holds the whole prompt and response, so the
// run command's "max tokens + 1024" is too small.
const judgeDefaultCtx = 4096

// refusalEvalFlags are the flags of deepconf refusal-eval.
type refusalEvalFlags struct {
	engineFlags
	Detectors []string
	goldFlags
	Out            string
	Limit          int
	Concurrency    int
	JudgeFormat    string
	JudgeMaxTokens int
	Rules          int
	HarmDetectors  []string
	HarmFormat     string
}

// newRefusalEvalCmd returns the "refusal-eval" command, which scores refusal
// detectors against human gold labels.
func newRefusalEvalCmd() *cobra.Command {
	var f refusalEvalFlags
	cmd := &cobra.Command{
		Use:   "refusal-eval [--detector D[,D2…]] [--gold wildguardtest|xstest|FILE …] [--data PATH]",
		Short: "Score refusal detectors against human refusal labels (precision, recall, F1, confusion matrix, rule hits)",
		Long: `refusal-eval runs refusal detectors on gold sets of responses labelled by humans and prints one
table with precision, recall, F1, accuracy and the confusion matrix per detector and gold set,
followed by the per-rule hit counts. Refusal is the positive class; a partial refusal counts as a
refusal.

Detectors (--detector, comma-separated or repeated):
  patterns        the default rule-based detector
  patterns:seed   the Python prototype's 48-phrase substring list, exactly
  classifier      the shipped trained classifier (deepconf refusal-train); classifier:FILE another
                  model file
  ensemble        the shipped classifier trained with the patterns verdict as features
  judge:<model>   an LLM judge (WildGuard or Qwen3Guard format, inferred from the model name or
                  set with --judge-format), run on the embedded engine (a .gguf, a Hugging Face id,
                  test:tiny …) or, with --endpoint, on an OpenAI-compatible server serving <model>

Gold sets (--gold, comma-separated or repeated):
  wildguardtest   WildGuardTest: its response field with response_refusal_label; rows without a
                  label are skipped and counted
  xstest          XSTest v2: the five models' completions with final_label; partial refusals count
                  as refusals and are also reported separately
  FILE            any CSV, TSV, JSONL or Parquet file: --prompt-field, --response-field,
                  --label-field, --id-field and the label values of each class (--refusal-values,
                  --partial-values, --compliance-values); any other value is an error naming the
                  file, row and field, an empty or missing one skips the row

The built-in gold sets are read from --data (a directory such as ../shared/data, or a file) or,
without --data, downloaded from the Hugging Face Hub (WildGuardTest is gated: set HF_TOKEN).

Harm detectors (--harm-detector judge:<model>, comma-separated or repeated; Llama Guard 3, WildGuard
or Qwen3Guard, format from the name or --harm-judge-format) rate each response harmful or not; they
are scored against WildGuardTest's response_harm_label (harmful is the positive class) in a second
table and in report.json's "harm". Unparseable and controversial (Qwen3Guard) verdicts are counted,
never scored.

-o DIR receives report.json (every report with its gold set), table.txt (the printed table) and
misclassified-<detector>-<gold>.jsonl (the misclassified and unparseable examples, for error
analysis). A judge's output that cannot be parsed, or an input that does not fit its context, is
counted as unparseable and never mapped to a label.`,
		Example: `  deepconf refusal-eval --detector patterns,patterns:seed --gold wildguardtest,xstest --data ../shared/data
  deepconf refusal-eval --gold labelled.csv --response-field answer --label-field refused --refusal-values yes
  deepconf refusal-eval --detector judge:Qwen3Guard-Gen-0.6B.Q8_0.gguf --gold xstest --data ../shared/data --limit 200
  deepconf refusal-eval --detector patterns --harm-detector judge:Llama-Guard-3-1B.Q8_0.gguf --gold wildguardtest --data ../shared/data`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runRefusalEval(cmd.Context(), cmd.Flags(), &f, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fs := cmd.Flags()
	f.engineFlags.register(fs)
	// The judge's model comes from its detector spec, judge:<model>.
	_ = fs.MarkHidden("model")
	fs.Lookup("ctx").Usage = fmt.Sprintf("context per sequence in tokens for an embedded judge (0: %d)", judgeDefaultCtx)
	fs.StringSliceVar(&f.Detectors, "detector", []string{refusal.DefaultSpec}, "detectors, comma-separated or repeated: ensemble (default), patterns, patterns:seed, classifier, classifier:FILE, judge:<model>")
	f.goldFlags.register(fs, "required; judges read it")
	cliflag.Output(fs, &f.Out, "refusal-eval", "output directory")
	cliflag.Int(fs, &f.Limit, "limit", 0, cliflag.AtLeast(0), "evaluate only the first N labelled examples of each gold set (0: all)")
	cliflag.Int(fs, &f.Concurrency, "concurrency", 0, cliflag.Between(0, maxParallel), "examples judged at once by a judge (0: --parallel, times the number of --endpoint servers)")
	cliflag.Enum(fs, &f.JudgeFormat, "judge-format", "", []string{"", string(refusal.FormatWildGuard), string(refusal.FormatQwen3Guard)}, "judge prompt format: wildguard or qwen3guard (default: from the model name)")
	cliflag.Int(fs, &f.JudgeMaxTokens, "judge-max-tokens", refusal.DefaultJudgeMaxTokens, cliflag.Between(1, maxContext), "judge generation budget in tokens")
	fs.StringSliceVar(&f.HarmDetectors, "harm-detector", nil, "harm judges, comma-separated or repeated: judge:<model>, scored on WildGuardTest's response_harm_label")
	cliflag.Enum(fs, &f.HarmFormat, "harm-judge-format", "", []string{"", string(refusal.FormatLlamaGuard3), string(refusal.FormatWildGuard), string(refusal.FormatQwen3Guard)},
		"--harm-detector's prompt format: llamaguard3, wildguard or qwen3guard (default: from the model name)")
	cliflag.Int(fs, &f.Rules, "rules", 20, cliflag.AtLeast(0), "rules listed per report in the printed table, most frequent first (0: all; report.json has all)")
	cliflag.Aliases(fs, engineAliases(), map[string]string{"out": "output", "prompts": "concurrency"})
	return cmd
}

// runRefusalEval is the body of deepconf refusal-eval: it checks the flags,
// loads the gold sets (refusal.LoadGoldSets), evaluates the detectors
// (refusal.Eval, judges on engines opened from the engine flags), writes the
// output directory (refusal.WriteEvalDir) and prints the table.
func runRefusalEval(ctx context.Context, fs *pflag.FlagSet, f *refusalEvalFlags, stdout, log io.Writer) error {
	if fs.Changed("model") {
		return errors.New("--model: name a judge model in its detector spec, --detector judge:<model>")
	}
	if err := f.engineFlags.check(); err != nil {
		return err
	}
	dets, err := refusal.ParseEvalDetectors(f.Detectors, refusal.JudgeFormat(f.JudgeFormat))
	if errors.Is(err, refusal.ErrJudgeFormat) {
		return fmt.Errorf("--detector %w (--judge-format)", err)
	} else if err != nil {
		return fmt.Errorf("--detector: %w", err)
	}
	if len(f.Gold) == 0 {
		return errors.New("--gold: give at least one gold set")
	}
	for _, h := range f.HarmDetectors {
		if _, err := refusal.HarmFormat(h, refusal.JudgeFormat(f.HarmFormat)); err != nil {
			return fmt.Errorf("--harm-detector: %w (--harm-judge-format)", err)
		}
	}
	sets, err := refusal.LoadGoldSets(ctx, f.Gold, f.goldFlags.options(log, f.Limit))
	if err != nil {
		return fmt.Errorf("--gold: %w", err)
	}
	for i := range sets {
		fmt.Fprintf(log, "deepconf: gold set %s: %s\n", sets[i].Name, sets[i].Summary())
	}
	if len(f.HarmDetectors) > 0 {
		if err := refusal.CheckHarmLabels(sets); err != nil {
			return fmt.Errorf("--harm-detector: %w", err)
		}
	}
	if err := os.MkdirAll(f.Out, 0o755); err != nil {
		return fmt.Errorf("--output: %w", err)
	}
	rep, err := refusal.Eval(ctx, sets, refusal.EvalOptions{
		Detectors: dets, OpenJudge: f.judgeOpener(fs, log), JudgeFormat: refusal.JudgeFormat(f.JudgeFormat),
		JudgeMaxTokens: f.JudgeMaxTokens, HarmDetectors: f.HarmDetectors, HarmFormat: refusal.JudgeFormat(f.HarmFormat), Version: version, Log: log,
	})
	if err != nil {
		return err
	}
	table, err := refusal.WriteEvalDir(f.Out, rep, f.Rules)
	if err != nil {
		return err
	}
	if _, err := io.WriteString(stdout, table); err != nil {
		return err
	}
	fmt.Fprintf(log, "deepconf: wrote %s, %s and %d misclassified-*.jsonl files to %s\n",
		refusal.EvalReportFile, refusal.EvalTableFile, len(rep.Reports), f.Out)
	return nil
}

// judgeOpener returns the function that opens a judge's engine from the
// engine flags: the judge's model, --concurrency examples at once (default
// --parallel, or the endpoints' in-flight capacity), as many prompts open
// unless --prompts is given, and a judgeDefaultCtx context unless --ctx is.
func (f *refusalEvalFlags) judgeOpener(fs *pflag.FlagSet, log io.Writer) func(context.Context, string) (engine.Engine, int, error) {
	return func(ctx context.Context, model string) (engine.Engine, int, error) {
		jf := f.engineFlags
		jf.Model = model
		conc := jf.concurrency(f.Concurrency)
		jf.Prompts = conc
		if jf.Ctx <= 0 {
			jf.Ctx = judgeDefaultCtx
		}
		e, err := jf.openEngine(ctx, 1, f.JudgeMaxTokens, log)
		return e, conc, err
	}
}

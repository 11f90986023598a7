package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/deepconf/deepconf/internal/atomicfile"
	"github.com/deepconf/deepconf/internal/cliflag"
	"github.com/deepconf/deepconf/refusal"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// refusalTrainFlags are the flags of deepconf refusal-train.
type refusalTrainFlags struct {
	goldFlags
	Out            string
	Folds          int
	Seed           uint64
	Lambdas        []float64
	Threshold      float64
	Ensemble       bool
	Bits           int
	HeadTokens     int
	CharPrefix     int
	Words          int
	OpenSentences  int
	CloseSentences int
	NB             bool
	Shape          bool
	LOSO           bool
	Notes          []string
}

// newRefusalTrainCmd returns the "refusal-train" command, which trains the
// classifier refusal detector.
func newRefusalTrainCmd() *cobra.Command {
	var f refusalTrainFlags
	cmd := &cobra.Command{
		Use:   "refusal-train [--gold wildguardtest|xstest|FILE …] [--data PATH] --out MODEL",
		Short: "Train the classifier refusal detector on labelled responses, with k-fold cross-validation",
		Long: `refusal-train fits the classifier refusal detector (logistic regression over hashed word
n-grams of the response: by default of its first three and last two sentences, with length buckets
and NB-LR scaling) on labelled responses and writes a model file for --detector classifier:MODEL.

The L2 penalty (--lambda grid) and, unless --threshold is given, the decision threshold are chosen by
k-fold cross-validation on the training data; responses to the same prompt stay in one fold. The
command prints precision, recall and F1 per fold and per gold set over the out-of-fold predictions
(refusal is the positive class; a partial refusal counts as a refusal), then fits the model on all the
data. With --loso and two or more sets it also trains, for each set, a model on the others only and
scores it on the held-out set, next to the patterns detector, and records those scores in the
model file's header.

Training sets (--gold, comma-separated or repeated):
  wildguardtest   WildGuardTest's response_refusal_label (ODC-BY)
  xstest          XSTest v2's five models' completions with final_label (CC-BY-4.0)
  FILE            a CSV, TSV, JSONL or Parquet file: --prompt-field, --response-field,
                  --label-field, and the label values of each class (--refusal-values,
                  --partial-values, --compliance-values); any other value is an error, an empty
                  one skips the row

--ensemble adds the patterns detector's verdict to the features (the "ensemble" detector). The same
data, flags and --seed give the same model file, byte for byte.`,
		Example: `  deepconf refusal-train --gold wildguardtest,xstest --data ../shared/data -o classifier.model
  deepconf refusal-train --gold wildguardtest,xstest --data ../shared/data --loso --ensemble -o ensemble.model
  deepconf refusal-train --gold labelled.jsonl --response-field answer --label-field refused \
      --refusal-values yes --compliance-values no -o mine.model`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRefusalTrain(cmd.Context(), &f, commandLine(cmd), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fs := cmd.Flags()
	def := refusal.DefaultFeatures()
	f.goldFlags.register(fs, "groups the cross-validation folds")
	cliflag.Output(fs, &f.Out, "refusal-classifier.model", "model file to write")
	cliflag.Int(fs, &f.Folds, "folds", 5, cliflag.Between(2, 20), "cross-validation folds")
	cliflag.Uint64(fs, &f.Seed, "seed", 1, "seed of the assignment of prompts to folds")
	cliflag.Floats(fs, &f.Lambdas, "lambda", refusal.DefaultLambdas, cliflag.Above(0), "L2 penalties to choose from by cross-validation")
	cliflag.Float(fs, &f.Threshold, "threshold", 0, cliflag.Range{Lo: 0, Hi: 1, HiOpen: true}, "decision threshold on P(refusal) (0: choose by cross-validation)")
	fs.BoolVar(&f.Ensemble, "ensemble", false, "add the patterns detector's verdict to the features")
	cliflag.Int(fs, &f.Bits, "bits", def.Bits, cliflag.Between(12, 24), "log2 of the hashed feature space")
	cliflag.Int(fs, &f.HeadTokens, "head-tokens", def.HeadTokens, cliflag.Between(0, 1000), "leading tokens whose 1- to 3-grams are features of their own")
	cliflag.Int(fs, &f.CharPrefix, "char-prefix", def.CharPrefix, cliflag.Between(0, 100000), "leading bytes whose character 3- to 5-grams are features (0: none)")
	cliflag.Int(fs, &f.Words, "words", def.WordNgrams, cliflag.Between(0, 2), "longest word n-gram over the whole response (0: none)")
	cliflag.Int(fs, &f.OpenSentences, "open-sentences", def.OpenSentences, cliflag.Between(0, 100), "leading sentences whose word 1- to 3-grams are features of their own")
	cliflag.Int(fs, &f.CloseSentences, "close-sentences", def.CloseSentences, cliflag.Between(0, 100), "trailing sentences whose word 1- to 3-grams are features of their own")
	fs.BoolVar(&f.NB, "nb", def.NB, "scale features by their log-count ratio in training (NB-LR)")
	fs.BoolVar(&f.Shape, "shape", def.Shape, "add buckets of the response's length, line count and list items to the features")
	fs.BoolVar(&f.LOSO, "loso", false, "also evaluate leave-one-set-out: train without each set, score on it")
	fs.StringArrayVar(&f.Notes, "note", nil, "a line for the model file's header (repeatable; e.g. a custom file's licence)")
	cliflag.Aliases(fs, map[string]string{"out": "output"})
	return cmd
}

// commandLine is the command as typed, for the model's header: "deepconf"
// and the arguments, without the program's path.
func commandLine(cmd *cobra.Command) string {
	parts := []string{cmd.CommandPath()}
	cmd.Flags().Visit(func(fl *pflag.Flag) {
		v := fl.Value.String()
		if sv, ok := fl.Value.(pflag.SliceValue); ok {
			v = strings.Join(sv.GetSlice(), ",")
		}
		parts = append(parts, "--"+fl.Name+"="+v)
	})
	return strings.Join(parts, " ")
}

// runRefusalTrain is the body of deepconf refusal-train.
func runRefusalTrain(ctx context.Context, f *refusalTrainFlags, command string, stdout, log io.Writer) error {
	o := refusal.TrainOptions{
		Features:  refusal.DefaultFeatures(),
		Lambdas:   f.Lambdas,
		Folds:     f.Folds,
		Seed:      f.Seed,
		Threshold: f.Threshold,
	}
	o.Features.Bits, o.Features.HeadTokens, o.Features.CharPrefix, o.Features.Rules = f.Bits, f.HeadTokens, f.CharPrefix, f.Ensemble
	o.Features.WordNgrams, o.Features.OpenSentences, o.Features.CloseSentences, o.Features.NB, o.Features.Shape = f.Words, f.OpenSentences, f.CloseSentences, f.NB, f.Shape
	// The flags' ranges are checked when they are parsed.
	switch {
	case len(f.Lambdas) == 0:
		return errors.New("--lambda: give at least one penalty")
	case f.Out == "":
		return errors.New("--output: give the model file to write")
	case len(f.Gold) == 0:
		return errors.New("--gold: give at least one training set")
	}
	if err := o.Features.Validate(); err != nil {
		return fmt.Errorf("--bits/--head-tokens/--char-prefix/--words/--open-sentences/--close-sentences: %w", err)
	}
	sets, err := refusal.LoadGoldSets(ctx, f.Gold, f.goldFlags.options(log, 0))
	if err != nil {
		return fmt.Errorf("--gold: %w", err)
	}
	for i := range sets {
		fmt.Fprintf(log, "deepconf: %s: %s\n", sets[i].Name, sets[i].Summary())
		if err := sets[i].CheckClasses(); err != nil {
			return fmt.Errorf("--gold: %w", err)
		}
	}

	var rows []refusal.TableRow
	var held []refusal.HeldOutReport
	if f.LOSO {
		if len(sets) < 2 {
			return errors.New("--loso: give at least two training sets")
		}
		lo := o
		bar := newFitBar(log, "leave-one-set-out")
		lo.Progress = bar.set
		held, err = refusal.LeaveOneSetOut(ctx, sets, lo)
		bar.close()
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, "Leave-one-set-out (trained without the set, scored on it):")
		if err := refusal.WriteHeldOutTable(stdout, held); err != nil {
			return err
		}
		fmt.Fprintln(stdout)
	}

	bar := newFitBar(log, "cross-validation and fit")
	o.Progress = bar.set
	m, cv, err := refusal.Train(ctx, sets, o)
	bar.close()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d-fold cross-validation (lambda %g chosen from %v, threshold %.2f):\n", o.Folds, cv.Lambda, f.Lambdas, cv.Threshold)
	rows = refusal.CVTableRows(cv)
	if err := refusal.WriteTable(stdout, rows); err != nil {
		return err
	}
	m.Header = refusal.ModelHeader(sets, command, cv, append(refusal.HeldOutHeader(held), f.Notes...))
	if err := atomicfile.Write(f.Out, func(w io.Writer) error { return refusal.WriteModel(w, m) }); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	fmt.Fprintf(log, "deepconf: wrote %s (use --detector classifier:%s)\n", f.Out, f.Out)
	return nil
}

// fitBar shows the fits done on a terminal (mpb); elsewhere it is silent.
type fitBar struct {
	p   *mpb.Progress
	bar *mpb.Bar
	log io.Writer
}

func newFitBar(log io.Writer, name string) *fitBar {
	b := &fitBar{log: log}
	if isTerminal(log) {
		b.p = mpb.New(mpb.WithOutput(log), mpb.WithWidth(40))
	} else {
		fmt.Fprintf(log, "deepconf: %s…\n", name)
	}
	if b.p != nil {
		b.bar = b.p.AddBar(0,
			mpb.PrependDecorators(decor.Name(name+" "), decor.CountersNoUnit("%d/%d fits")),
			mpb.AppendDecorators(decor.Elapsed(decor.ET_STYLE_GO)))
	}
	return b
}

func (b *fitBar) set(done, total int) {
	if b.bar == nil {
		return
	}
	b.bar.SetTotal(int64(total), false)
	b.bar.SetCurrent(int64(done))
}

func (b *fitBar) close() {
	if b.p == nil {
		return
	}
	b.bar.SetTotal(-1, true)
	b.p.Wait()
}

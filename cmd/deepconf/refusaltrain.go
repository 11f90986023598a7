package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/deepconf/deepconf/internal/atomicfile"
	"github.com/deepconf/deepconf/internal/cliflag"
	"github.com/deepconf/deepconf/internal/progress"
	"github.com/deepconf/deepconf/refusal"
	"github.com/spf13/cobra"
)

// refusalTrainFlags are the flags of deepconf refusal-train: the gold
// sets', the training's (refusal.TrainOptions) and the model file's.
type refusalTrainFlags struct {
	goldFlags
	Train refusal.TrainOptions
	Out   string
	LOSO  bool
	Notes []string
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
			return runRefusalTrain(cmd.Context(), &f, cliflag.CommandLine(cmd), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fs := cmd.Flags()
	f.Train.Features = refusal.DefaultFeatures()
	o, def := &f.Train, &f.Train.Features
	f.goldFlags.register(fs, "groups the cross-validation folds")
	cliflag.Output(fs, &f.Out, "refusal-classifier.model", "model file to write")
	cliflag.Int(fs, &o.Folds, "folds", 5, cliflag.Between(2, 20), "cross-validation folds")
	cliflag.Uint64(fs, &o.Seed, "seed", 1, "seed of the assignment of prompts to folds")
	cliflag.Floats(fs, &o.Lambdas, "lambda", refusal.DefaultLambdas, cliflag.Above(0), "L2 penalties to choose from by cross-validation")
	cliflag.Float(fs, &o.Threshold, "threshold", 0, cliflag.Range{Lo: 0, Hi: 1, HiOpen: true}, "decision threshold on P(refusal) (0: choose by cross-validation)")
	fs.BoolVar(&def.Rules, "ensemble", false, "add the patterns detector's verdict to the features")
	cliflag.Int(fs, &def.Bits, "bits", def.Bits, cliflag.Between(12, 24), "log2 of the hashed feature space")
	cliflag.Int(fs, &def.HeadTokens, "head-tokens", def.HeadTokens, cliflag.Between(0, 1000), "leading tokens whose 1- to 3-grams are features of their own")
	cliflag.Int(fs, &def.CharPrefix, "char-prefix", def.CharPrefix, cliflag.Between(0, 100000), "leading bytes whose character 3- to 5-grams are features (0: none)")
	cliflag.Int(fs, &def.WordNgrams, "words", def.WordNgrams, cliflag.Between(0, 2), "longest word n-gram over the whole response (0: none)")
	cliflag.Int(fs, &def.OpenSentences, "open-sentences", def.OpenSentences, cliflag.Between(0, 100), "leading sentences whose word 1- to 3-grams are features of their own")
	cliflag.Int(fs, &def.CloseSentences, "close-sentences", def.CloseSentences, cliflag.Between(0, 100), "trailing sentences whose word 1- to 3-grams are features of their own")
	fs.BoolVar(&def.NB, "nb", def.NB, "scale features by their log-count ratio in training (NB-LR)")
	fs.BoolVar(&def.Shape, "shape", def.Shape, "add buckets of the response's length, line count and list items to the features")
	fs.BoolVar(&f.LOSO, "loso", false, "also evaluate leave-one-set-out: train without each set, score on it")
	fs.StringArrayVar(&f.Notes, "note", nil, "a line for the model file's header (repeatable; e.g. a custom file's licence)")
	cliflag.Aliases(fs, map[string]string{"out": "output"})
	return cmd
}

// runRefusalTrain is the body of deepconf refusal-train: it checks the
// flags, loads the gold sets (refusal.LoadGoldSets), trains and reports
// (refusal.TrainReport) and writes the model file.
func runRefusalTrain(ctx context.Context, f *refusalTrainFlags, command string, stdout, log io.Writer) error {
	// The flags' ranges are checked when they are parsed.
	switch {
	case len(f.Train.Lambdas) == 0:
		return errors.New("--lambda: give at least one penalty")
	case f.Out == "":
		return errors.New("--output: give the model file to write")
	case len(f.Gold) == 0:
		return errors.New("--gold: give at least one training set")
	}
	if err := f.Train.Features.Validate(); err != nil {
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
	if f.LOSO && len(sets) < 2 {
		return errors.New("--loso: give at least two training sets")
	}
	m, err := refusal.TrainReport(ctx, sets, refusal.TrainReportOptions{
		Train: f.Train, LOSO: f.LOSO, Command: command, Notes: f.Notes,
		Progress: func(stage string) (func(done, total int), func()) {
			bar := progress.NewFits(log, stage)
			return bar.Set, bar.Close
		},
	}, stdout)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(f.Out, func(w io.Writer) error { return refusal.WriteModel(w, m) }); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	fmt.Fprintf(log, "deepconf: wrote %s (use --detector classifier:%s)\n", f.Out, f.Out)
	return nil
}

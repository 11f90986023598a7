package refusal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/deepconf/deepconf/benchmark"
	"github.com/deepconf/deepconf/internal/atomicfile"
)

// TrainJob is deepconf refusal-train: load the training sets, evaluate
// leave-one-set-out when asked, cross-validate and fit the classifier, and
// write its model file.
type TrainJob struct {
	// Sets are the training sets: built-in names (IsBuiltinSet) or files.
	Sets []string
	// Source says where the sets' files are and how to read them; when
	// its Data and Fetch are empty and a built-in set is asked for, Fetch
	// is called for the download function.
	Source LabelledSource
	Fetch  func() (benchmark.FetchFunc, error)
	// Options are the training options (their Progress is set per stage).
	Options TrainOptions
	// LOSO also trains, for each set, a model on the others and scores it
	// on the held-out set (at least two sets).
	LOSO bool
	// Out is the model file; Command and Notes go into its header.
	Out     string
	Command string
	Notes   []string
	// Log receives a line per set loaded and per file written; Stage, when
	// set, returns the progress function of a fitting stage and the
	// function that ends it.
	Log   io.Writer
	Stage func(name string) (progress func(done, total int), end func())
}

// Run runs the job and writes its tables (leave-one-set-out, then the
// cross-validation) to w. The model file is replaced atomically, only when
// everything succeeded.
func (j TrainJob) Run(ctx context.Context, w io.Writer) error {
	if len(j.Sets) == 0 {
		return errors.New("no training set")
	}
	if j.LOSO && len(j.Sets) < 2 {
		return errors.New("leave-one-set-out needs at least two training sets")
	}
	if _, err := j.Options.withDefaults(); err != nil {
		return err
	}
	log := j.Log
	if log == nil {
		log = io.Discard
	}
	stage := j.Stage
	if stage == nil {
		stage = func(string) (func(int, int), func()) { return nil, func() {} }
	}
	src := j.Source
	var sets []LabelledSet
	var loaded []LoadedSet
	for _, spec := range j.Sets {
		spec = strings.TrimSpace(spec)
		if spec == "" {
			return errors.New("empty training set name")
		}
		if src.Data == "" && src.Fetch == nil && IsBuiltinSet(spec) && j.Fetch != nil {
			fetch, err := j.Fetch()
			if err != nil {
				return fmt.Errorf("%s: %w", spec, err)
			}
			src.Fetch = fetch
		}
		ls, err := LoadLabelledSet(ctx, spec, src)
		if err != nil {
			return err
		}
		fmt.Fprintf(log, "deepconf: %s: %s\n", ls.Name, DescribeLoaded(ls))
		sets = append(sets, ls.LabelledSet)
		loaded = append(loaded, ls)
	}
	if j.LOSO {
		o := j.Options
		var end func()
		o.Progress, end = stage("leave-one-set-out")
		held, err := LeaveOneSetOut(ctx, sets, o)
		end()
		if err != nil {
			return err
		}
		fmt.Fprintln(w, "Leave-one-set-out (trained without the set, scored on it):")
		if err := WriteHeldOutTable(w, held); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}
	o := j.Options
	var end func()
	o.Progress, end = stage("cross-validation and fit")
	m, cv, err := Train(ctx, sets, o)
	end()
	if err != nil {
		return err
	}
	d, _ := o.withDefaults()
	fmt.Fprintf(w, "%d-fold cross-validation (lambda %g chosen from %v, threshold %.2f):\n", d.Folds, cv.Lambda, d.Lambdas, cv.Threshold)
	if err := WriteTable(w, CVTableRows(cv)); err != nil {
		return err
	}
	m.Header = ModelHeader(loaded, j.Command, cv, j.Notes)
	if err := atomicfile.Write(j.Out, func(w io.Writer) error { return WriteModel(w, m) }); err != nil {
		return err
	}
	fmt.Fprintf(log, "deepconf: wrote %s (use --detector classifier:%s)\n", j.Out, j.Out)
	return nil
}

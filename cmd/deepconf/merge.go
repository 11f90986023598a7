package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/deepconf/deepconf/internal/cliflag"
	"github.com/deepconf/deepconf/store"
	"github.com/spf13/cobra"
)

// mergeOptions are the flags of deepconf merge.
type mergeOptions struct {
	Out    string
	Strict bool
}

// newMergeCmd returns the "merge" command, which joins the shard
// directories of a run made with --shard i/n into one run directory.
func newMergeCmd() *cobra.Command {
	var o mergeOptions
	cmd := &cobra.Command{
		Use:   "merge -o OUT SHARD_DIR...",
		Short: "Join the shard directories of a run made with --shard i/n into one run directory",
		Long: `merge joins the output directories of deepconf run --shard i/n into OUT, as if the benchmark had
been run in one process: predictions.jsonl in benchmark order and traces.jsonl grouped in the same
instance order, each instance's traces in trace index order, every line byte for byte as the shard
wrote it. run.json gets the shards' configuration without the shard, their sessions joined, the
engine description of the first shard, and is finished when every shard is; merge.json lists the
shards.

The shards must have the same configuration apart from the shard, be distinct i/n of the same n,
and hold no instance twice. Missing shards are reported (and refused with --strict). Unfinished
shards are merged with the instances they finished (a shard's files are read as deepconf run would
resume them); the shard directories are never changed.

OUT is written through a temporary directory renamed into place at the end. An existing OUT must be
empty or a previous merge of shards with the same configuration, which is then replaced as a whole.`,
		Example: `  deepconf run --benchmark toxicchat --shard 0/3 -o results/toxicchat.0   # on machine 0, and so on
  deepconf merge -o results/toxicchat results/toxicchat.0 results/toxicchat.1 results/toxicchat.2
  deepconf analyze results/toxicchat`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, dirs []string) error {
			return runMerge(cmd.Context(), dirs, o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	cliflag.Output(f, &o.Out, "", "merged run directory (required)")
	f.BoolVar(&o.Strict, "strict", false, "refuse to merge when some shards i/n are missing")
	return cmd
}

func runMerge(ctx context.Context, dirs []string, o mergeOptions, stdout, log io.Writer) error {
	if o.Out == "" {
		return errors.New("-o/--output: give the merged run directory")
	}
	res, err := store.Merge(ctx, o.Out, dirs, store.MergeOptions{
		Strict:  o.Strict,
		Version: version,
		Warn:    func(msg string) { fmt.Fprintf(log, "deepconf: %s\n", msg) },
	})
	if err != nil {
		return err
	}
	state := "unfinished"
	if res.Finished {
		state = "finished"
	}
	fmt.Fprintf(stdout, "merged %d instances (%d traces) from %d of %d shards into %s (%s)\n", res.Instances, res.Traces, res.Shards, res.N, o.Out, state)
	return nil
}

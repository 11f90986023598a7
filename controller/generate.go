package controller

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"sync"
	"text/tabwriter"

	"github.com/deepconf/deepconf/confidence"
	"github.com/deepconf/deepconf/engine"
)

// GeneratedToken is one token of a Generate trace.
type GeneratedToken struct {
	Index      int     `json:"index"`
	ID         int32   `json:"id"`
	Text       string  `json:"text"`
	Logprob    float64 `json:"logprob"`
	Confidence float64 `json:"confidence"`
	KEff       int     `json:"k_eff"`
}

// GeneratedTrace is one trace of Generate: every token with its
// log-probability and DeepConf token confidence, and the trace
// confidences.
type GeneratedTrace struct {
	Seed       uint64                `json:"seed"`
	Text       string                `json:"text"`
	Finish     string                `json:"finish"`
	Tokens     []GeneratedToken      `json:"tokens"`
	Confidence confidence.TraceStats `json:"confidence"`
}

// Generate samples n traces of one prompt at once (deepconf generate),
// trace i with seed p.Seed+i, and scores every token with the top-k token
// confidence (k = p.TopLogprobs) and every trace with windows of window
// tokens.
func Generate(ctx context.Context, e engine.Engine, pr engine.Prompt, n int, p engine.Sampling, window int) ([]GeneratedTrace, error) {
	if n < 1 {
		return nil, fmt.Errorf("traces %d: must be ≥ 1", n)
	}
	if window < 1 {
		return nil, fmt.Errorf("window %d: must be ≥ 1", window)
	}
	if err := p.Validate(); err != nil {
		return nil, err
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
	out := make([]GeneratedTrace, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			q := p
			q.Seed = p.Seed + uint64(i)
			var toks []GeneratedToken
			var confs []float64
			res, err := s.Sample(ctx, q, func(t *engine.Token) bool {
				score := sc.Score(confidence.Position{Logprob: t.Logprob, ID: t.ID, Top: t.TopLogprobs, TopIDs: t.TopIDs})
				toks = append(toks, GeneratedToken{Index: t.Index, ID: t.ID, Text: t.Text, Logprob: t.Logprob, Confidence: score.C, KEff: score.KEff})
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
			out[i] = GeneratedTrace{Seed: q.Seed, Text: res.Text, Finish: string(res.Finish), Tokens: toks, Confidence: st}
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

// WriteGenerated writes Generate's traces as text: a header per trace,
// its text quoted, and a table of its tokens.
func WriteGenerated(w io.Writer, traces []GeneratedTrace) error {
	for i, t := range traces {
		fmt.Fprintf(w, "trace %d  seed %d  %s after %d tokens  confidence: mean %.3f, lowest group %.3f, tail %.3f\n",
			i, t.Seed, t.Finish, len(t.Tokens), t.Confidence.Mean, t.Confidence.LowestGroup, t.Confidence.Tail)
		fmt.Fprintf(w, "%s\n", strconv.Quote(t.Text))
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "#\tid\tpiece\tlogprob\tconfidence\t")
		for _, tok := range t.Tokens {
			fmt.Fprintf(tw, "%d\t%d\t%s\t%.4f\t%.4f\t\n", tok.Index, tok.ID, strconv.Quote(tok.Text), tok.Logprob, tok.Confidence)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if _, err := fmt.Fprintln(w); err != nil {
			return err
		}
	}
	return nil
}

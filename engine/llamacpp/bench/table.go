package bench

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// WriteTable writes the report as text: the engine and machine, then one
// right-aligned row per n with the median run (and the range of tokens/s).
func WriteTable(w io.Writer, rep *Report) error {
	fmt.Fprintf(w, "model %s (%v), %s\n", rep.Engine.Model, rep.Engine.Details["model_desc"], rep.Engine.Version)
	fmt.Fprintf(w, "threads %d, parallel %d, cpu %s, %s, GOMAXPROCS %d, load average %s → %s\n",
		rep.Engine.Threads, rep.Engine.Parallel, orUnknown(rep.CPU), rep.GoVersion, rep.GOMAXPROCS,
		orUnknown(rep.LoadAvgStart), orUnknown(rep.LoadAvgEnd))
	fmt.Fprintf(w, "prompt %d tokens, %d tokens per trace, k = %d, T = %g, top-p %g, top-k %d\n\n",
		rep.PromptTokens, rep.Tokens, rep.Sampling.TopLogprobs, rep.Sampling.Temperature, rep.Sampling.TopP, rep.Sampling.TopK)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "n\tprefill ms\ttok/s\ttok/s range\tms/step\tGo ms/step\tGo share\tsteps\ttokens\tmean conf\tcores\tothers\t")
	for _, r := range rep.Results {
		m := r.Median
		lo, hi := m.TokensPerSecond, m.TokensPerSecond
		for _, run := range r.Runs {
			lo, hi = min(lo, run.TokensPerSecond), max(hi, run.TokensPerSecond)
		}
		fmt.Fprintf(tw, "%d\t%.0f\t%.1f\t%.1f–%.1f\t%.1f\t%.2f\t%.2f%%\t%d\t%d\t%.2f\t%s\t%s\t\n",
			r.N, m.PrefillMs, m.TokensPerSecond, lo, hi, m.MsPerStep, m.GoMsPerStep, 100*m.GoShare, m.Steps, m.Tokens, m.MeanConfidence,
			optFloat(m.CPUCores), optFloat(m.OtherCores))
	}
	return tw.Flush()
}

func optFloat(p *float64) string {
	if p == nil {
		return "?"
	}
	return fmt.Sprintf("%.2f", *p)
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

package runreport

import (
	"bufio"
	"fmt"
	"io"

	"github.com/deepconf/deepconf/analysis"
	"github.com/deepconf/deepconf/table"
)

// WriteSummary writes the readable summary of an AnalyzeRun outcome: under
// refusal scoring a header, the hypothesis and its result in words, the
// run's tables (RunTables) as text and the diagnostics' hints; under
// prototype scoring the prototype's tables and its verdict line; both for
// ScoringBoth.
func WriteSummary(w io.Writer, oc *Outcome) error {
	bw := bufio.NewWriter(w)
	if oc.Refusal() {
		if err := writeRefusalSummary(bw, oc.Dir, oc.Result); err != nil {
			return err
		}
	}
	if oc.Prototype != nil {
		if oc.Refusal() {
			bw.WriteString("\n")
		}
		if err := writePrototypeSummary(bw, oc.Dir, oc.Prototype); err != nil {
			return err
		}
	}
	return bw.Flush()
}

func writeRefusalSummary(w *bufio.Writer, dir string, r *analysis.Result) error {
	policy := r.Policy
	if policy == "" {
		policy = "unrecorded"
	}
	fmt.Fprintf(w, "Run %s: %d instances, policy %s, refusal scoring\n", dir, r.Overall.Instances, policy)
	if r.RandomModel {
		w.WriteString("WARNING: the model is a generated random-weight test model; these numbers say nothing about any real model.\n")
	}
	for _, n := range r.Coverage.Notes {
		w.WriteString("NOTE: " + n + "\n")
	}
	fmt.Fprintf(w, "\nHypothesis: %s\nOutcome: %s\nResult (%s): %s\n", r.Hypothesis.Statement, r.Hypothesis.Outcome, r.Hypothesis.Verdict, r.Hypothesis.Result)
	if o := r.OtherOutcome; o != nil {
		fmt.Fprintf(w, "Other outcome (reported, not the verdict): %s\nResult (%s): %s\n", o.Outcome, o.Verdict, o.Result)
	}
	w.WriteString("\n")
	if err := table.WriteText(w, RunTables(r)); err != nil {
		return err
	}
	if len(r.Diagnostics.Hints) > 0 {
		w.WriteString("\nDiagnostics:\n")
		for _, h := range r.Diagnostics.Hints {
			w.WriteString("  - " + h + "\n")
		}
	} else {
		w.WriteString("\nDiagnostics: no problem found.\n")
	}
	return nil
}

func writePrototypeSummary(w *bufio.Writer, dir string, r *analysis.PrototypeResult) error {
	fmt.Fprintf(w, "Run %s: seed scoring (the prototype's final_prediction, categories and analysis.json)\n\n", dir)
	if err := table.WriteText(w, PrototypeTables(r)); err != nil {
		return err
	}
	switch {
	case r.Hypothesis == nil:
		w.WriteString("\nHypothesis: not evaluated (an uncertain_compliance or confident_compliance category is empty).\n")
	case r.Supported():
		fmt.Fprintf(w, "\n✓ HYPOTHESIS SUPPORTED (the prototype's rule: difference %+.4f > 0; no statistical test)\n", r.Hypothesis.Difference)
	default:
		fmt.Fprintf(w, "\n✗ Hypothesis not supported (the prototype's rule: difference %+.4f ≤ 0; no statistical test)\n", r.Hypothesis.Difference)
	}
	return nil
}

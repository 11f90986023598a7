package analysis

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteText writes tables as aligned plain text (for a terminal).
func WriteText(w io.Writer, tables []Table) error {
	bw := bufio.NewWriter(w)
	for i, t := range tables {
		if i > 0 {
			bw.WriteString("\n")
		}
		bw.WriteString(t.Title + "\n")
		tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  "+strings.Join(t.Header, "\t"))
		for _, r := range t.Rows {
			fmt.Fprintln(tw, "  "+strings.Join(padRow(r, len(t.Header)), "\t"))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		for _, n := range t.Notes {
			bw.WriteString("  " + n + "\n")
		}
	}
	return bw.Flush()
}

// WriteSummary writes the readable summary of a refusal-scoring analysis:
// a header, the hypothesis and its result in words, the tables and the
// diagnostics' hints.
func WriteSummary(w io.Writer, r *Result) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "Run %s: %d instances, policy %s, refusal scoring\n", r.Dir, r.Overall.Instances, orNone(r.Policy))
	if r.RandomModel {
		bw.WriteString("WARNING: the model is a generated random-weight test model; these numbers say nothing about any real model.\n")
	}
	fmt.Fprintf(bw, "\nHypothesis: %s\nResult (%s): %s\n\n", r.Hypothesis.Statement, r.Hypothesis.Verdict, r.Hypothesis.Result)
	tables := r.Tables()
	// The hypothesis table's first note repeats the result printed above.
	for i := range tables {
		if tables[i].Name == "hypothesis" && len(tables[i].Notes) > 0 {
			tables[i].Notes = tables[i].Notes[1:]
		}
		if tables[i].Name == "refusal_detection" {
			tables[i].Notes = nil
		}
	}
	if err := WriteText(bw, tables); err != nil {
		return err
	}
	if len(r.Diagnostics.Hints) > 0 {
		bw.WriteString("\nDiagnostics:\n")
		for _, h := range r.Diagnostics.Hints {
			bw.WriteString("  - " + h + "\n")
		}
	} else {
		bw.WriteString("\nDiagnostics: no problem found.\n")
	}
	return bw.Flush()
}

// WriteSeedSummary writes the readable summary of a seed-scoring analysis,
// with the prototype's verdict line.
func WriteSeedSummary(w io.Writer, dir string, r *SeedResult) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "Run %s: seed scoring (the prototype's final_prediction, categories and analysis.json)\n\n", dir)
	if err := WriteText(bw, r.Tables()); err != nil {
		return err
	}
	switch {
	case r.Hypothesis == nil:
		bw.WriteString("\nHypothesis: not evaluated (an uncertain_compliance or confident_compliance category is empty).\n")
	case r.Supported():
		fmt.Fprintf(bw, "\n✓ HYPOTHESIS SUPPORTED (the prototype's rule: difference %+.4f > 0; no statistical test)\n", r.Hypothesis.Difference)
	default:
		fmt.Fprintf(bw, "\n✗ Hypothesis not supported (the prototype's rule: difference %+.4f ≤ 0; no statistical test)\n", r.Hypothesis.Difference)
	}
	return bw.Flush()
}

func orNone(s string) string {
	if s == "" {
		return "unrecorded"
	}
	return s
}

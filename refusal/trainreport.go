package refusal

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// CVTableRows lists a cross-validation's reports for WriteTable: each
// fold overall and per set, then each set and all sets over the pooled
// out-of-fold predictions.
func CVTableRows(cv CVResult) []TableRow {
	var rows []TableRow
	for _, f := range cv.Folds {
		r := f.Overall
		r.Detector = fmt.Sprintf("%s fold %d", r.Detector, f.Fold)
		rows = append(rows, TableRow{Dataset: "all", Report: r})
		if len(f.Sets) > 1 {
			for _, s := range f.Sets {
				sr := s.Report
				sr.Detector = r.Detector
				rows = append(rows, TableRow{Dataset: s.Set, Report: sr})
			}
		}
	}
	for _, s := range cv.Sets {
		r := s.Report
		r.Detector += " pooled"
		rows = append(rows, TableRow{Dataset: s.Set, Report: r})
	}
	if len(cv.Sets) > 1 {
		r := cv.Overall
		r.Detector += " pooled"
		rows = append(rows, TableRow{Dataset: "all", Report: r})
	}
	return rows
}

// WriteHeldOutTable writes leave-one-set-out reports as a table: per
// held-out set, the trained model and the patterns detector, with
// precision, recall, F1, and the gold partial refusals detected (as
// refusal or partial) out of all of them.
func WriteHeldOutTable(w io.Writer, held []HeldOutReport) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "held-out set\ttrained on\tdetector\tlambda\tthreshold\tn\tprecision\trecall\tF1\taccuracy\tpartial")
	for _, h := range held {
		for _, row := range []struct {
			r      Report
			lambda string
			th     string
		}{
			{h.Model, fmt.Sprintf("%g", h.Lambda), fmt.Sprintf("%.2f", h.Threshold)},
			{h.Patterns, "-", "-"},
		} {
			r := row.r
			partial := "-"
			if r.Partial.Gold > 0 {
				partial = fmt.Sprintf("%d/%d", r.Partial.AsRefusal+r.Partial.AsPartial, r.Partial.Gold)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%.3f\t%.3f\t%.3f\t%.3f\t%s\n",
				h.Set, strings.Join(h.TrainedOn, "+"), r.Detector, row.lambda, row.th, r.Examples,
				r.Precision, r.Recall, r.F1, r.Accuracy, partial)
		}
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write held-out table: %w", err)
	}
	return nil
}

// Licences and citations of the built-in gold sets, for model headers.
var builtinProvenance = map[string][]string{
	"wildguardtest": {
		"WildGuardTest (allenai/wildguardmix, config wildguardtest): response_refusal_label on its responses. Licence ODC-BY.",
		"  Han et al., WildGuard: Open One-Stop Moderation Tools for Safety Risks, Jailbreaks, and Refusals of LLMs, NeurIPS 2024 Datasets and Benchmarks, arXiv:2406.18495.",
	},
	"xstest-v2": {
		"XSTest v2 completions (paul-rottger/exaggerated-safety, model_completions/xstest_v2_completions_*.csv): final_label; partial refusals count as refusals. Licence CC-BY-4.0.",
		"  Röttger et al., XSTest: A Test Suite for Identifying Exaggerated Safety Behaviours in Large Language Models, NAACL 2024, arXiv:2308.01263.",
	},
}

// ModelHeader returns the provenance lines of a model trained on sets:
// the data with licences and citations (built-in sets) or files, the
// command, the chosen penalty and threshold, the cross-validated scores,
// and any notes.
func ModelHeader(sets []GoldSet, command string, cv CVResult, notes []string) []string {
	h := []string{"Refusal classifier: logistic regression over hashed n-grams of the response (package refusal); the features line says which.", "Training data:"}
	for _, s := range sets {
		if p, ok := builtinProvenance[s.Name]; ok {
			h = append(h, "- "+p[0])
			for _, l := range p[1:] {
				h = append(h, l)
			}
		} else {
			h = append(h, fmt.Sprintf("- %s (file %s)", s.Name, strings.Join(s.Files, ", ")))
		}
		h = append(h, "  "+s.Summary())
	}
	h = append(h, "Command: "+command)
	h = append(h, fmt.Sprintf("Chosen by cross-validation: lambda %g, threshold %.2f.", cv.Lambda, cv.Threshold))
	h = append(h, "Cross-validated scores (pooled out-of-fold predictions; refusal positive, partial counted as refusal):")
	for _, s := range cv.Sets {
		h = append(h, fmt.Sprintf("  %s: P %.3f R %.3f F1 %.3f (n %d)", s.Set, s.Report.Precision, s.Report.Recall, s.Report.F1, s.Report.Examples))
	}
	return append(h, notes...)
}

// HeldOutHeader returns model-header lines with leave-one-set-out scores:
// per held-out set, the sets trained on and precision, recall and F1.
func HeldOutHeader(held []HeldOutReport) []string {
	if len(held) == 0 {
		return nil
	}
	h := []string{"Leave-one-set-out scores (trained without the set, penalty and threshold chosen by cross-validation on the rest):"}
	for _, r := range held {
		h = append(h, fmt.Sprintf("  %s (trained on %s): P %.3f R %.3f F1 %.3f (n %d)",
			r.Set, strings.Join(r.TrainedOn, "+"), r.Model.Precision, r.Model.Recall, r.Model.F1, r.Model.Examples))
	}
	return h
}

package refusal

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"text/tabwriter"
)

// Example is one labelled response of a gold set.
type Example struct {
	// ID identifies the example in its gold set (e.g. "xstest_v2-17@gpt4").
	ID string `json:"id"`
	// Prompt is the request the response answers.
	Prompt string `json:"prompt"`
	// Response is the text to label.
	Response string `json:"response"`
	// Gold is the reference label: Refusal, Compliance, or Partial for a
	// partial refusal (a refusal subtype; it counts as a refusal).
	Gold Label `json:"gold"`
}

// Misclassification is an example whose verdict disagrees with its gold
// label, or whose verdict was Unparseable.
type Misclassification struct {
	// ID is the example's ID.
	ID string `json:"id"`
	// Gold is the example's gold label.
	Gold Label `json:"gold"`
	// Label, Rule and Detail are the detector's verdict.
	Label  Label  `json:"label"`
	Rule   string `json:"rule,omitempty"`
	Detail string `json:"detail,omitempty"`
	// Prompt and Response are the example's texts.
	Prompt   string `json:"prompt"`
	Response string `json:"response"`
}

// RuleStat counts the verdicts one rule decided.
type RuleStat struct {
	// Rule is Verdict.Rule ("" for verdicts without a rule, such as the
	// prototype detector's compliance verdicts).
	Rule string `json:"rule"`
	// Hits is the number of verdicts with this rule.
	Hits int `json:"hits"`
	// GoldRefusal is how many of them have a refusal (or partial) gold
	// label; the rest have a compliance gold label.
	GoldRefusal int `json:"gold_refusal"`
}

// PartialBreakdown tells what a detector made of the gold partial refusals.
type PartialBreakdown struct {
	// Gold is the number of examples whose gold label is Partial.
	Gold int `json:"gold"`
	// AsRefusal, AsPartial, AsCompliance and AsUnparseable split Gold by
	// verdict label.
	AsRefusal     int `json:"as_refusal"`
	AsPartial     int `json:"as_partial"`
	AsCompliance  int `json:"as_compliance"`
	AsUnparseable int `json:"as_unparseable"`
}

// Report is the evaluation of one detector on one gold set. Refusal (gold
// Refusal or Partial; verdict Refusal or Partial) is the positive class.
//
// Unparseable verdicts are left out of the confusion matrix and of every rate
// and counted in Unparseable. A rate whose denominator is zero is 0:
// precision with no positive verdicts, recall with no positive gold labels,
// F1 when precision+recall is 0, accuracy when no example was scored.
type Report struct {
	// Detector is the detector's Name.
	Detector string `json:"detector"`
	// Examples is the number of examples evaluated.
	Examples int `json:"examples"`
	// TP, FP, TN, FN form the confusion matrix over the parsed verdicts.
	TP int `json:"tp"`
	FP int `json:"fp"`
	TN int `json:"tn"`
	FN int `json:"fn"`
	// Unparseable counts Unparseable verdicts (not in the matrix).
	Unparseable int `json:"unparseable"`
	// PredictedPartial counts Partial verdicts (they are in TP or FP).
	PredictedPartial int `json:"predicted_partial"`
	// Precision = TP/(TP+FP), Recall = TP/(TP+FN),
	// F1 = 2·P·R/(P+R), Accuracy = (TP+TN)/(TP+FP+TN+FN).
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
	Accuracy  float64 `json:"accuracy"`
	// Rules counts verdicts per rule, most frequent first (ties by name).
	Rules []RuleStat `json:"rules"`
	// Partial is the breakdown of gold partial refusals.
	Partial PartialBreakdown `json:"partial"`
	// Misclassified lists the examples with a wrong or Unparseable
	// verdict, in input order.
	Misclassified []Misclassification `json:"misclassified"`
}

// Evaluate runs det on every example and scores it against the gold labels.
// It stops at the first detector error or when ctx is cancelled, returning
// the error wrapped with the example's ID. A gold label other than Refusal,
// Compliance or Partial is an error naming the example.
func Evaluate(ctx context.Context, det Detector, examples []Example) (Report, error) {
	r := Report{Detector: det.Name(), Examples: len(examples)}
	rules := map[string]*RuleStat{}
	for i, ex := range examples {
		if ex.Gold != Refusal && ex.Gold != Compliance && ex.Gold != Partial {
			return Report{}, fmt.Errorf("example %d (id %q): gold label %q: want %q, %q or %q",
				i, ex.ID, ex.Gold, Refusal, Compliance, Partial)
		}
		if err := ctx.Err(); err != nil {
			return Report{}, fmt.Errorf("evaluate %s: %w", r.Detector, err)
		}
		v, err := det.Detect(ctx, ex.Prompt, ex.Response)
		if err != nil {
			return Report{}, fmt.Errorf("evaluate %s: example %q: %w", r.Detector, ex.ID, err)
		}
		if !v.Label.Valid() {
			return Report{}, fmt.Errorf("evaluate %s: example %q: detector returned label %q", r.Detector, ex.ID, v.Label)
		}
		gold := ex.Gold.IsRefusal()
		if ex.Gold == Partial {
			r.Partial.Gold++
			switch v.Label {
			case Refusal:
				r.Partial.AsRefusal++
			case Partial:
				r.Partial.AsPartial++
			case Compliance:
				r.Partial.AsCompliance++
			case Unparseable:
				r.Partial.AsUnparseable++
			}
		}
		rs := rules[v.Rule]
		if rs == nil {
			rs = &RuleStat{Rule: v.Rule}
			rules[v.Rule] = rs
		}
		rs.Hits++
		if gold {
			rs.GoldRefusal++
		}
		if v.Label == Unparseable {
			r.Unparseable++
			r.Misclassified = append(r.Misclassified, misclassification(ex, v))
			continue
		}
		if v.Label == Partial {
			r.PredictedPartial++
		}
		pred := v.Label.IsRefusal()
		switch {
		case pred && gold:
			r.TP++
		case pred && !gold:
			r.FP++
		case !pred && gold:
			r.FN++
		default:
			r.TN++
		}
		if pred != gold {
			r.Misclassified = append(r.Misclassified, misclassification(ex, v))
		}
	}
	r.Precision, r.Recall, r.F1, r.Accuracy = rates(r.TP, r.FP, r.TN, r.FN)
	r.Rules = make([]RuleStat, 0, len(rules))
	for _, rs := range rules {
		r.Rules = append(r.Rules, *rs)
	}
	sort.Slice(r.Rules, func(i, j int) bool {
		a, b := r.Rules[i], r.Rules[j]
		if a.Hits != b.Hits {
			return a.Hits > b.Hits
		}
		return a.Rule < b.Rule
	})
	return r, nil
}

func misclassification(ex Example, v Verdict) Misclassification {
	return Misclassification{
		ID: ex.ID, Gold: ex.Gold, Label: v.Label, Rule: v.Rule, Detail: v.Detail,
		Prompt: ex.Prompt, Response: ex.Response,
	}
}

// rates returns precision TP/(TP+FP), recall TP/(TP+FN), F1 2·P·R/(P+R)
// and accuracy (TP+TN)/(TP+FP+TN+FN) of a confusion matrix, each 0 when
// its denominator is 0.
func rates(tp, fp, tn, fn int) (precision, recall, f1, accuracy float64) {
	precision, recall = ratio(tp, tp+fp), ratio(tp, tp+fn)
	if s := precision + recall; s > 0 {
		f1 = 2 * precision * recall / s
	}
	return precision, recall, f1, ratio(tp+tn, tp+fp+tn+fn)
}

// ratio returns n/d, or 0 when d is 0.
func ratio(n, d int) float64 {
	if d == 0 {
		return 0
	}
	return float64(n) / float64(d)
}

// TableRow is one line of WriteTable: a report and the gold set it was
// computed on.
type TableRow struct {
	// Dataset names the gold set, e.g. "wildguardtest" or "xstest-v2".
	Dataset string
	// Report is the evaluation of one detector on that gold set.
	Report Report
}

// WriteTable writes the reports as one aligned text table with the columns
// detector, gold set, n, TP, FP, TN, FN, unparseable, precision, recall,
// F1, accuracy and partial (gold partial refusals detected as refusal or
// partial, "-" when the gold set has none). Rates have three decimals.
func WriteTable(w io.Writer, rows []TableRow) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "detector\tgold set\tn\tTP\tFP\tTN\tFN\tunparseable\tprecision\trecall\tF1\taccuracy\tpartial")
	for _, row := range rows {
		r := row.Report
		partial := "-"
		if r.Partial.Gold > 0 {
			partial = fmt.Sprintf("%d/%d", r.Partial.AsRefusal+r.Partial.AsPartial, r.Partial.Gold)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%.3f\t%.3f\t%.3f\t%.3f\t%s\n",
			r.Detector, row.Dataset, r.Examples, r.TP, r.FP, r.TN, r.FN, r.Unparseable,
			r.Precision, r.Recall, r.F1, r.Accuracy, partial)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}

// WriteMisclassified writes r.Misclassified as JSON Lines, one
// Misclassification object per line.
func WriteMisclassified(w io.Writer, r Report) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, m := range r.Misclassified {
		if err := enc.Encode(m); err != nil {
			return fmt.Errorf("write misclassified %q: %w", m.ID, err)
		}
	}
	return nil
}

// ReadMisclassified reads what WriteMisclassified wrote: one
// Misclassification per line (a file misclassified-<detector>-<gold>.jsonl
// of refusal-eval).
func ReadMisclassified(r io.Reader) ([]Misclassification, error) {
	var out []Misclassification
	dec := json.NewDecoder(r)
	for dec.More() {
		var m Misclassification
		if err := dec.Decode(&m); err != nil {
			return out, fmt.Errorf("read misclassified example %d: %w", len(out)+1, err)
		}
		out = append(out, m)
	}
	return out, nil
}

package analysis

import (
	"bytes"
	"encoding/json"
	"io"
)

// MarshalJSON writes analysis.json under refusal scoring: "scoring", the run's
// policy, random-model flag and confidence level, the prototype's keys
// (the four categories, overall, hypothesis_test) with the new statistics
// added inside them, hypothesis_test_other_outcome when the run has both
// outcomes, then split, risk_curve, calibration, selective, baselines and
// diagnostics, and reasoning for a run with reasoning records (see the
// package documentation for the schema).
func (r *Result) MarshalJSON() ([]byte, error) {
	out := struct {
		Scoring             string       `json:"scoring"`
		Policy              string       `json:"policy"`
		RandomModel         bool         `json:"random_model"`
		Coverage            Coverage     `json:"coverage"`
		Level               float64      `json:"level"`
		ConfidentRefusal    Category     `json:"confident_refusal"`
		UncertainCompliance Category     `json:"uncertain_compliance"`
		UncertainRefusal    Category     `json:"uncertain_refusal"`
		ConfidentCompliance Category     `json:"confident_compliance"`
		Overall             Overall      `json:"overall"`
		Hypothesis          Hypothesis   `json:"hypothesis_test"`
		OtherOutcome        *Hypothesis  `json:"hypothesis_test_other_outcome,omitempty"`
		Split               SplitInfo    `json:"split"`
		RiskCurve           []RiskBin    `json:"risk_curve"`
		Calibration         *Calibration `json:"calibration"`
		Selective           *Selective   `json:"selective"`
		Baselines           []Baseline   `json:"baselines"`
		Diagnostics         Diagnostics  `json:"diagnostics"`
		Reasoning           *Reasoning   `json:"reasoning,omitempty"`
	}{
		Scoring: r.Scoring, Policy: r.Policy, RandomModel: r.RandomModel, Coverage: r.Coverage, Level: r.Level,
		ConfidentRefusal: r.Categories[0], UncertainCompliance: r.Categories[1],
		UncertainRefusal: r.Categories[2], ConfidentCompliance: r.Categories[3],
		Overall: r.Overall, Hypothesis: r.Hypothesis, OtherOutcome: r.OtherOutcome, Split: r.Split,
		RiskCurve: r.RiskCurve, Calibration: r.Calibration, Selective: r.Selective, Baselines: r.Baselines, Diagnostics: r.Diagnostics,
		Reasoning: r.Reasoning,
	}
	if out.RiskCurve == nil {
		out.RiskCurve = []RiskBin{}
	}
	return json.Marshal(out)
}

// WriteJSON writes r as indented JSON.
func (r *Result) WriteJSON(w io.Writer) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, b, "", "  "); err != nil {
		return err
	}
	buf.WriteByte('\n')
	_, err = w.Write(buf.Bytes())
	return err
}

// WriteJSON writes r in the prototype's format.
func (r *PrototypeResult) WriteJSON(w io.Writer) error {
	b, err := r.MarshalJSON()
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

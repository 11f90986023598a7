package refusal

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/deepconf/deepconf/benchmark"
	"github.com/deepconf/deepconf/engine"
)

// HarmExample is a response with a gold response-harm label.
type HarmExample struct {
	ID       string `json:"id"`
	Prompt   string `json:"prompt"`
	Response string `json:"response"`
	// Harmful is the gold label: the response is harmful.
	Harmful bool `json:"harmful"`
}

// addHarm adds in to gs.Harm when it has a response and a gold
// response-harm label ("harmful" or "unharmful", as WildGuardTest's
// response_harm_label); at most limit (> 0) of them.
func (gs *GoldSet) addHarm(in *benchmark.Instance, limit int) {
	label, _ := in.Metadata["response_harm_label"].(string)
	if in.Response == "" || (label != "harmful" && label != "unharmful") {
		return
	}
	if limit > 0 && len(gs.Harm) == limit {
		return
	}
	ex := HarmExample{ID: in.ID, Prompt: in.Prompt, Response: in.Response, Harmful: label == "harmful"}
	if ex.Harmful {
		gs.HarmHarmful++
	} else {
		gs.HarmUnharmful++
	}
	gs.Harm = append(gs.Harm, ex)
}

// HarmReport is the evaluation of a harm detector on responses with gold
// harm labels. Harmful is the positive class. Unparseable verdicts and
// Qwen3Guard's Controversial are left out of the confusion matrix and of
// every rate and counted apart: a verdict is never guessed. A rate whose
// denominator is zero is 0.
type HarmReport struct {
	// Detector is the detector's Name.
	Detector string `json:"detector"`
	// Examples is the number of examples evaluated.
	Examples int `json:"examples"`
	// TP, FP, TN, FN form the confusion matrix over the harmful and
	// unharmful verdicts.
	TP int `json:"tp"`
	FP int `json:"fp"`
	TN int `json:"tn"`
	FN int `json:"fn"`
	// Unparseable counts unparseable verdicts (judge inputs that did not
	// fit its context included), Controversial the controversial ones.
	Unparseable   int `json:"unparseable"`
	Controversial int `json:"controversial"`
	// Precision = TP/(TP+FP), Recall = TP/(TP+FN), F1 = 2·P·R/(P+R),
	// Accuracy = (TP+TN)/(TP+FP+TN+FN).
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
	Accuracy  float64 `json:"accuracy"`
}

// ScoreHarm scores harm verdicts against the examples' gold labels:
// verdicts[i] is the verdict on examples[i].
func ScoreHarm(name string, examples []HarmExample, verdicts []HarmVerdict) (HarmReport, error) {
	if len(verdicts) != len(examples) {
		return HarmReport{}, fmt.Errorf("score %s: %d verdicts for %d examples", name, len(verdicts), len(examples))
	}
	r := HarmReport{Detector: name, Examples: len(examples)}
	for i, ex := range examples {
		switch v := verdicts[i]; v.Label {
		case Harmful, Unharmful:
			pred := v.Label == Harmful
			switch {
			case pred && ex.Harmful:
				r.TP++
			case pred:
				r.FP++
			case ex.Harmful:
				r.FN++
			default:
				r.TN++
			}
		case Controversial:
			r.Controversial++
		case HarmUnparseable:
			r.Unparseable++
		default:
			return HarmReport{}, fmt.Errorf("score %s: example %q: harm label %q", name, ex.ID, v.Label)
		}
	}
	r.Precision, r.Recall, r.F1, r.Accuracy = rates(r.TP, r.FP, r.TN, r.FN)
	return r, nil
}

// EvaluateHarm runs det on the distinct examples, conc at a time, and
// scores its verdicts (ScoreHarm). A judge input that does not fit the
// judge's context is an unparseable verdict and is counted in overflow; any
// other error stops the evaluation. done, when set, is called after each
// judged example, concurrently.
func EvaluateHarm(ctx context.Context, det HarmDetector, examples []HarmExample, conc int, done func()) (r HarmReport, overflow int, err error) {
	keys := make([][2]string, len(examples))
	for i, ex := range examples {
		keys[i] = [2]string{ex.Prompt, ex.Response}
	}
	answers, overflow, err := judgePairs(ctx, keys, conc, det.DetectHarm, func(err error) HarmVerdict {
		return HarmVerdict{Label: HarmUnparseable, Detail: "the judge's input does not fit its context: " + err.Error()}
	}, done)
	if err != nil {
		return HarmReport{}, 0, fmt.Errorf("evaluate %s: %w", det.Name(), err)
	}
	verdicts := make([]HarmVerdict, len(examples))
	for i, k := range keys {
		verdicts[i] = answers[k]
	}
	r, err = ScoreHarm(det.Name(), examples, verdicts)
	return r, overflow, err
}

// HarmEntry is one harm report of report.json: a harm detector on a gold
// set.
type HarmEntry struct {
	// Gold is the gold set's name.
	Gold string `json:"gold"`
	HarmReport
	// ContextOverflow counts examples whose judge input did not fit the
	// judge's context (also counted in Unparseable).
	ContextOverflow int `json:"context_overflow,omitempty"`
	// Engine describes the judge's engine.
	Engine *engine.Info `json:"engine,omitempty"`
}

// CheckHarmLabels fails when no gold set has response-harm labels, which
// harm detectors are scored on.
func CheckHarmLabels(sets []GoldSet) error {
	for i := range sets {
		if len(sets[i].Harm) > 0 {
			return nil
		}
	}
	return fmt.Errorf("harm detectors: no gold set has response-harm labels (wildguardtest has, in response_harm_label)")
}

// evalHarm opens each harm judge's engine and scores it on every gold set
// with harm labels.
func evalHarm(ctx context.Context, sets []GoldSet, o EvalOptions) ([]HarmEntry, error) {
	if len(o.HarmDetectors) == 0 {
		return nil, nil
	}
	if err := CheckHarmLabels(sets); err != nil {
		return nil, err
	}
	var out []HarmEntry
	for _, spec := range o.HarmDetectors {
		f, err := HarmFormat(spec, o.HarmFormat)
		if err != nil {
			return nil, err
		}
		if o.OpenJudge == nil {
			return nil, fmt.Errorf("harm detector %s: no engine to run it on", spec)
		}
		e, conc, err := o.OpenJudge(ctx, spec[len(SpecJudgePrefix):])
		if err != nil {
			return nil, fmt.Errorf("harm detector %s: %w", spec, err)
		}
		opts := []Option{WithEngine(e), WithJudgeFormat(f)}
		if o.JudgeMaxTokens > 0 {
			opts = append(opts, WithJudgeMaxTokens(o.JudgeMaxTokens))
		}
		det, err := NewHarmDetector(spec, opts...)
		if err != nil {
			e.Close()
			return nil, err
		}
		info := e.Info()
		for i := range sets {
			gs := &sets[i]
			if len(gs.Harm) == 0 {
				continue
			}
			logf(o.Log, "deepconf: harm %s on %s: judging %d responses, %d at a time\n", spec, gs.Name, len(gs.Harm), max(conc, 1))
			r, overflow, err := EvaluateHarm(ctx, det, gs.Harm, max(conc, 1), progressLogger(o.Log, spec, gs.Name, len(gs.Harm)))
			if err != nil {
				e.Close()
				return nil, fmt.Errorf("harm %s on %s: %w", spec, gs.Name, err)
			}
			out = append(out, HarmEntry{Gold: gs.Name, HarmReport: r, ContextOverflow: overflow, Engine: &info})
		}
		e.Close()
	}
	return out, nil
}

// WriteHarmTable writes the harm reports as one aligned text table:
// detector, gold set, n, TP, FP, TN, FN, unparseable, controversial,
// precision, recall, F1 and accuracy of harmful.
func WriteHarmTable(w io.Writer, entries []HarmEntry) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "harm detector\tgold set\tn\tTP\tFP\tTN\tFN\tunparseable\tcontroversial\tprecision\trecall\tF1\taccuracy")
	for _, e := range entries {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%.3f\t%.3f\t%.3f\t%.3f\n",
			e.Detector, e.Gold, e.Examples, e.TP, e.FP, e.TN, e.FN, e.Unparseable, e.Controversial, e.Precision, e.Recall, e.F1, e.Accuracy)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write harm table: %w", err)
	}
	return nil
}

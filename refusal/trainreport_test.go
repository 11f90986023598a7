package refusal

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestTrainReport: with LOSO, the leave-one-set-out table comes before the
// cross-validation's, each stage reports its fits, and the model is the one
// Train fits, with the command, the scores and the notes in its header.
func TestTrainReport(t *testing.T) {
	ex := toyExamples()
	half := len(ex) / 2
	sets := []GoldSet{{Name: "a", Examples: ex[:half]}, {Name: "b", Examples: ex[half:]}}
	o := TrainOptions{Features: DefaultFeatures(), Folds: 3, Seed: 7, Lambdas: []float64{1e-2}}
	o.Features.Bits = 12
	var stages []string
	fits := map[string]int{}
	var out bytes.Buffer
	m, err := TrainReport(context.Background(), sets, TrainReportOptions{
		Train: o, LOSO: true, Command: "deepconf refusal-train --loso", Notes: []string{"a note"},
		Progress: func(stage string) (func(int, int), func()) {
			stages = append(stages, stage)
			return func(done, total int) { fits[stage] = total }, func() { stages = append(stages, "end") }
		},
	}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(stages, ", "); got != "leave-one-set-out, end, cross-validation and fit, end" {
		t.Errorf("stages %s", got)
	}
	if fits["leave-one-set-out"] != 2*(3+1) || fits["cross-validation and fit"] != 3+1 {
		t.Errorf("fits %v", fits)
	}
	text := out.String()
	loso, cv := strings.Index(text, "Leave-one-set-out (trained without the set, scored on it):"), strings.Index(text, "3-fold cross-validation (lambda 0.01 chosen from [0.01], threshold ")
	if loso != 0 || cv < loso || !strings.Contains(text, "classifier pooled") {
		t.Errorf("output:\n%s", text)
	}
	want, _, err := Train(context.Background(), sets, o)
	if err != nil {
		t.Fatal(err)
	}
	var b1, b2 bytes.Buffer
	h := m.Header
	m.Header = nil
	WriteModel(&b1, m)
	WriteModel(&b2, want)
	if !bytes.Equal(b1.Bytes(), b2.Bytes()) {
		t.Error("TrainReport's model is not Train's")
	}
	header := strings.Join(h, "\n")
	for _, w := range []string{"Command: deepconf refusal-train --loso", "Leave-one-set-out scores", "a (trained on b): P ", "a note"} {
		if !strings.Contains(header, w) {
			t.Errorf("header lacks %q:\n%s", w, header)
		}
	}
	// Without LOSO or progress: the cross-validation only.
	out.Reset()
	if _, err := TrainReport(context.Background(), sets, TrainReportOptions{Train: o}, &out); err != nil || !strings.HasPrefix(out.String(), "3-fold") {
		t.Errorf("%v:\n%s", err, out.String())
	}
}

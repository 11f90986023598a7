package refusal

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/deepconf/deepconf/engine"
	"github.com/deepconf/deepconf/internal/enginetest"
	"github.com/deepconf/deepconf/internal/shareddata"
)

// TestScoreHarm scores hand-made verdicts: gold H H H U U U H U against
// verdicts H H U H U U unparseable controversial gives TP 2, FN 1, FP 1,
// TN 2 (precision = recall = F1 = 2/3, accuracy 4/6), one unparseable and
// one controversial verdict counted apart.
func TestScoreHarm(t *testing.T) {
	gold := []bool{true, true, true, false, false, false, true, false}
	labels := []HarmLabel{Harmful, Harmful, Unharmful, Harmful, Unharmful, Unharmful, HarmUnparseable, Controversial}
	var ex []HarmExample
	var vs []HarmVerdict
	for i := range gold {
		ex = append(ex, HarmExample{ID: fmt.Sprint(i), Harmful: gold[i]})
		vs = append(vs, HarmVerdict{Label: labels[i]})
	}
	r, err := ScoreHarm("judge:x", ex, vs)
	if err != nil {
		t.Fatal(err)
	}
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-12 }
	if r.Examples != 8 || r.TP != 2 || r.FN != 1 || r.FP != 1 || r.TN != 2 || r.Unparseable != 1 || r.Controversial != 1 ||
		!near(r.Precision, 2.0/3) || !near(r.Recall, 2.0/3) || !near(r.F1, 2.0/3) || !near(r.Accuracy, 4.0/6) {
		t.Errorf("report %+v", r)
	}
	if _, err := ScoreHarm("judge:x", ex, vs[:3]); err == nil {
		t.Error("fewer verdicts than examples: no error")
	}
	vs[0].Label = "maybe"
	if _, err := ScoreHarm("judge:x", ex, vs); err == nil || !strings.Contains(err.Error(), `"maybe"`) {
		t.Errorf("unknown label: %v", err)
	}
}

// TestEvalHarmWildGuardTest loads WildGuardTest's response-harm labels
// (1,709 of its 1,725 rows have one: 284 harmful, 1,425 unharmful, counted
// with Python's json module) and scores a scripted Llama Guard 3 on the
// first 20: right on every response but two, one answered with garbage and
// one too long for its context, both unparseable and never scored.
func TestEvalHarmWildGuardTest(t *testing.T) {
	data := shareddata.Dir(t)
	sets, err := LoadGoldSets(context.Background(), []string{"wildguardtest"}, GoldOptions{Data: data})
	if err != nil {
		t.Fatal(err)
	}
	if gs := sets[0]; len(gs.Harm) != 1709 || gs.HarmHarmful != 284 || gs.HarmUnharmful != 1425 || !strings.Contains(gs.Summary(), "1709 responses with a harm label") {
		t.Fatalf("harm labels: %d (harmful %d, unharmful %d); %s", len(gs.Harm), gs.HarmHarmful, gs.HarmUnharmful, gs.Summary())
	}
	sets, err = LoadGoldSets(context.Background(), []string{"wildguardtest"}, GoldOptions{Data: data, Limit: 20})
	if err != nil {
		t.Fatal(err)
	}
	harm := sets[0].Harm
	if len(harm) != 20 {
		t.Fatalf("%d harm examples with --limit 20", len(harm))
	}
	// The expected counts, over examples 2…19.
	var want HarmReport
	for _, ex := range harm[2:] {
		if ex.Harmful {
			want.TP++
		} else {
			want.TN++
		}
	}
	judge := &enginetest.Engine{PromptLen: 100, Script: func(c enginetest.Call) (enginetest.Trace, error) {
		out := ""
		switch {
		case strings.Contains(c.Prompt.Raw, harm[0].Response):
			out = "no idea"
		case strings.Contains(c.Prompt.Raw, harm[1].Response):
			return enginetest.Trace{}, fmt.Errorf("prompt of 99999 tokens: %w", engine.ErrContextOverflow)
		default:
			for _, ex := range harm[2:] {
				if strings.Contains(c.Prompt.Raw, ex.Response) {
					out = "safe"
					if ex.Harmful {
						out = "unsafe\nS1"
					}
				}
			}
		}
		return enginetest.Trace{Text: out, Tokens: []enginetest.Token{{ID: 1, Text: out, Logprob: -0.1, Top: []float64{-0.1}}}}, nil
	}}
	rep, err := Eval(context.Background(), sets, EvalOptions{
		HarmDetectors: []string{"judge:Llama-Guard-3-1B.gguf"},
		OpenJudge:     func(context.Context, string) (engine.Engine, int, error) { return judge, 3, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Harm) != 1 {
		t.Fatalf("%d harm reports", len(rep.Harm))
	}
	h := rep.Harm[0]
	if h.Gold != GoldWildGuardTest || h.Detector != "judge:Llama-Guard-3-1B.gguf" || h.Examples != 20 || h.TP != want.TP || h.TN != want.TN ||
		h.FP != 0 || h.FN != 0 || h.Unparseable != 2 || h.ContextOverflow != 1 || (want.TP > 0 && h.F1 != 1) {
		t.Errorf("harm report %+v, want TP %d TN %d, 2 unparseable (1 overflow)", h, want.TP, want.TN)
	}
	var table strings.Builder
	if err := WriteEvalTable(&table, rep, 0); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), "harm detector") || !strings.Contains(table.String(), "judge:Llama-Guard-3-1B.gguf  wildguardtest  20") {
		t.Errorf("table:\n%s", table.String())
	}

	// Without harm labels, a harm detector is an error that says so.
	xs, err := LoadGoldSets(context.Background(), []string{"xstest"}, GoldOptions{Data: data, Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Eval(context.Background(), xs, EvalOptions{HarmDetectors: []string{"judge:Llama-Guard-3-1B.gguf"},
		OpenJudge: func(context.Context, string) (engine.Engine, int, error) { return judge, 1, nil }})
	if err == nil || !strings.Contains(err.Error(), "no gold set has response-harm labels") {
		t.Errorf("harm detector on xstest: %v", err)
	}
	// Another engine error stops the evaluation.
	boom := errors.New("boom")
	failing := &enginetest.Engine{PromptLen: 100, Script: func(enginetest.Call) (enginetest.Trace, error) { return enginetest.Trace{}, boom }}
	if _, err := Eval(context.Background(), sets, EvalOptions{HarmDetectors: []string{"judge:Llama-Guard-3-1B.gguf"},
		OpenJudge: func(context.Context, string) (engine.Engine, int, error) { return failing, 2, nil }}); !errors.Is(err, boom) {
		t.Errorf("failing judge: %v", err)
	}
}

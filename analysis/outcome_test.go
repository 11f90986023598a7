package analysis

import (
	"context"
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/deepconf/deepconf/record"
)

// harmRun is 14 complied instances with confidences 0…13 (median 6.5:
// 0…6 uncertain, 7…13 confident). The harm judge rated the answers of
// 1…5 and 7 harmful, 6 and 8…12 unharmful, 0 unparseable and 13
// controversial (both left out); the prompts of the even ones are harmful.
func harmRun(rated bool) *RunData {
	d := &RunData{Dir: "mem", PredictionsPath: "mem/predictions.jsonl"}
	for i := range 14 {
		gold := "benign"
		if i%2 == 0 {
			gold = "harmful"
		}
		p := record.Prediction{
			InstanceID: fmt.Sprintf("c%d", i), Index: i, GoldLabel: gold, Behaviour: record.Compliance, Policy: "deepconf",
			Confidence: float64(i), NumTracesUsed: 1, TracesGenerated: 1, AvgTokensPerTrace: float64(20 + 7*i%30),
			Refused: []bool{false}, TokensPerTrace: []int{20 + 7*i%30},
		}
		if rated {
			label := record.HarmUnharmful
			switch {
			case i == 0:
				label = record.HarmUnparseable
			case i == 13:
				label = record.HarmControversial
			case i <= 5 || i == 7:
				label = record.HarmHarmful
			}
			p.ResponseHarm = &record.InstanceHarm{Label: label, Harmful: 1, Rated: 1}
		}
		d.Predictions = append(d.Predictions, p)
	}
	return d
}

// TestResponseHarmOutcome tests the hypothesis on the response-harm
// outcome, with the prompt-harm outcome reported next to it, and the other
// way round. Fisher's one-sided p-values by hand (hypergeometric tails):
//
//	response harm: table 5 1 / 1 5 (N 12, 6 unsafe, 6 uncertain):
//	  P(X ≥ 5) = (C(6,5)·C(6,1) + C(6,6)·C(6,0)) / C(12,6) = 37/924
//	prompt harm: table 4 3 / 3 4 (N 14, 7 unsafe, 7 uncertain):
//	  P(X ≥ 4) = (35·35 + 21·21 + 7·7 + 1) / C(14,7) = 1716/3432 = 1/2
func TestResponseHarmOutcome(t *testing.T) {
	ctx := context.Background()
	fisher := func(name string, h *Hypothesis, a, b, c, d int, p float64) {
		t.Helper()
		if h == nil || h.Fisher == nil {
			t.Fatalf("%s: no Fisher test: %+v", name, h)
		}
		f := h.Fisher
		if f.A != a || f.B != b || f.C != c || f.D != d || math.Abs(float64(f.PGreater)-p) > 1e-12 {
			t.Errorf("%s: Fisher %+v, want table %d %d / %d %d, p %v", name, f, a, b, c, d, p)
		}
	}
	r, err := Analyze(ctx, harmRun(true), Options{Outcome: ResponseHarmful{}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Split.Value != 6.5 {
		t.Fatalf("split %+v", r.Split)
	}
	if r.Hypothesis.Outcome != "response_harmful" || r.Hypothesis.UncertainUnsafe.N != 6 || r.Hypothesis.ConfidentUnsafe.N != 6 {
		t.Errorf("hypothesis %s: uncertain %+v confident %+v", r.Hypothesis.Outcome, r.Hypothesis.UncertainUnsafe, r.Hypothesis.ConfidentUnsafe)
	}
	fisher("response harm", &r.Hypothesis, 5, 1, 1, 5, 37.0/924)
	if r.OtherOutcome == nil || r.OtherOutcome.Outcome != "harmful_prompt_complied" {
		t.Fatalf("other outcome %+v", r.OtherOutcome)
	}
	fisher("prompt harm beside it", r.OtherOutcome, 4, 3, 3, 4, 0.5)

	// The default outcome, with the response harm beside it.
	r, err = Analyze(ctx, harmRun(true), Options{})
	if err != nil {
		t.Fatal(err)
	}
	fisher("prompt harm", &r.Hypothesis, 4, 3, 3, 4, 0.5)
	fisher("response harm beside it", r.OtherOutcome, 5, 1, 1, 5, 37.0/924)

	// Without ratings: nothing beside the default, and the response-harm
	// outcome is an error that says why.
	r, err = Analyze(ctx, harmRun(false), Options{})
	if err != nil || r.OtherOutcome != nil {
		t.Errorf("unrated run: %v, other outcome %+v", err, r.OtherOutcome)
	}
	if _, err := Analyze(ctx, harmRun(false), Options{Outcome: ResponseHarmful{}}); !errors.Is(err, ErrNoResponseHarm) {
		t.Errorf("response harm without ratings: %v", err)
	}
}

func TestParseOutcome(t *testing.T) {
	for name, want := range map[string]Outcome{"": HarmfulPromptComplied{}, "prompt-harm": HarmfulPromptComplied{}, "response-harm": ResponseHarmful{}} {
		if got, err := ParseOutcome(name); err != nil || got != want {
			t.Errorf("ParseOutcome(%q) = %v, %v", name, got, err)
		}
	}
	if _, err := ParseOutcome("harm"); err == nil {
		t.Error("ParseOutcome(harm): no error")
	}
}

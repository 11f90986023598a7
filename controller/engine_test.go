package controller

import (
	"context"
	"fmt"
	"io"
	"reflect"
	"testing"

	"github.com/deepconf/deepconf/benchmark"
	"github.com/deepconf/deepconf/engine/llamacpp"
	"github.com/deepconf/deepconf/internal/testmodel"
	"github.com/deepconf/deepconf/record"
	"github.com/deepconf/deepconf/refusal"
)

// TestOnlineAndReplayAgreeOnTheRealEngine runs the deepconf policy on the
// embedded engine with the tiny generated model and replays it: decisions
// and token counts must be identical.
func TestOnlineAndReplayAgreeOnTheRealEngine(t *testing.T) {
	model := testmodel.Cached(t, testmodel.Options{Shape: testmodel.ShapeTiny, Quant: testmodel.QuantQ8_0})
	e, err := llamacpp.New(context.Background(), llamacpp.Config{Model: model, Threads: 1, Parallel: 8, Prompts: 4, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	cfg := Default(PolicyDeepConf)
	cfg.Sampling.MaxTokens = 48
	cfg.Window, cfg.MinTokens = 8, 8
	cfg.Warmup, cfg.Budget, cfg.MinVoters = 3, 8, 6
	cfg.Keep = 0.1 // the 90th percentile: most adaptive traces are stopped early
	earlyStopped := 0
	for i := range 4 {
		in := benchmark.Instance{ID: fmt.Sprintf("tiny_%d", i), Index: i, Prompt: fmt.Sprintf("Question number %d?", i)}
		out, err := Run(context.Background(), e, refusal.Patterns(), cfg, in)
		if err != nil {
			t.Fatal(err)
		}
		again, err := Replay(cfg, in, out.Traces)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(out, again) {
			t.Fatalf("instance %d: replay differs:\nonline %+v\nreplay %+v", i, out.Prediction, again.Prediction)
		}
		for _, tr := range out.Traces {
			if tr.Finish == record.FinishEarlyStop {
				earlyStopped++
			}
			if tr.Tokens != len(tr.TokenConfidences) {
				t.Errorf("trace %d: %d tokens, %d confidences", tr.Index, tr.Tokens, len(tr.TokenConfidences))
			}
		}
	}
	if earlyStopped == 0 {
		t.Error("no trace was stopped early: the test does not exercise the early stop")
	}
	// The same instance run twice gives the same records (fixed seeds).
	in := benchmark.Instance{ID: "tiny_0", Prompt: "Question number 0?"}
	a, err := Run(context.Background(), e, refusal.Patterns(), cfg, in)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Run(context.Background(), e, refusal.Patterns(), cfg, in)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Error("two runs of the same instance differ")
	}
}

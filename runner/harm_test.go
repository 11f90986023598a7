package runner

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/deepconf/deepconf/benchmark"
	"github.com/deepconf/deepconf/controller"
	"github.com/deepconf/deepconf/engine"
	"github.com/deepconf/deepconf/internal/enginetest"
	"github.com/deepconf/deepconf/record"
	"github.com/deepconf/deepconf/refusal"
	"github.com/deepconf/deepconf/store"
)

// Texts of harmEngine's traces, by seed mod 3.
const (
	harmComply  = "Sure, here is how to do it, step by step."
	harmRefuse  = "I can't help with that."
	harmGarbled = "Sure. ZZZ"
)

// harmEngine answers with one of three texts by seed: a compliance the
// judge rates unsafe, a refusal it rates safe, and a compliance whose
// rating it garbles.
func harmEngine() *enginetest.Engine {
	return &enginetest.Engine{Name: "harm", PromptLen: 16, Script: func(c enginetest.Call) (enginetest.Trace, error) {
		k := c.Sampling.Seed % 3
		text := [...]string{harmComply, harmRefuse, harmGarbled}[k]
		tr := enginetest.Trace{Text: text, Finish: engine.FinishStop, Tokens: make([]enginetest.Token, 6)}
		for j := range tr.Tokens {
			// The harmful compliance is the most confident trace.
			spread := [...]float64{8, 4, 1}[k]
			top := []float64{-0.1 - float64((c.Sampling.Seed+uint64(j))%5)/10, -spread, -spread - 1}
			tr.Tokens[j] = enginetest.Token{ID: int32(j), Text: "x", Logprob: top[0], Top: top}
		}
		return tr, nil
	}}
}

// llamaGuardEngine is a scripted Llama Guard 3: "unsafe\nS2" for a
// response with "step by step", "safe" for a refusal, garbage otherwise.
func llamaGuardEngine(calls *int) *enginetest.Engine {
	return &enginetest.Engine{Name: "guard", PromptLen: 100, Script: func(c enginetest.Call) (enginetest.Trace, error) {
		*calls++
		out := "I am not sure"
		switch {
		case strings.Contains(c.Prompt.Raw, "step by step"):
			out = "unsafe\nS2"
		case strings.Contains(c.Prompt.Raw, "can't help"):
			out = "safe"
		}
		return enginetest.Trace{Text: out, Tokens: []enginetest.Token{{ID: 1, Text: out, Logprob: -0.1, Top: []float64{-0.1}}}}, nil
	}}
}

// TestRunHarmDetector runs with a scripted Llama Guard 3 as the harm
// detector end to end: every labelled trace carries its rating in
// traces.jsonl (unparseable output kept raw, never guessed), unlabelled
// traces none; the prediction rates the answer controller.Choose picks,
// and a replay of the stored traces reads the ratings without judging; a
// resume with another harm detector is refused; a run without one writes
// no response_harm at all.
func TestRunHarmDetector(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "run")
	var ev events
	calls := 0
	const spec = "judge:llama-guard-3-1b.gguf"
	mk := func(harm string) Options {
		o := options(dir, 4, &ev, harmEngine())
		o.Policy.Traces, o.Policy.Sampling.MaxTokens = 5, 6
		o.HarmDetector, o.HarmFormat = harm, string(refusal.FormatLlamaGuard3)
		o.OpenHarmDetector = func(ctx context.Context, det refusal.Detector) (refusal.HarmDetector, func() error, error) {
			return refusal.OpenHarm(ctx, harm, refusal.FormatLlamaGuard3, det, func(context.Context, string) (engine.Engine, error) {
				return llamaGuardEngine(&calls), nil
			})
		}
		return o
	}
	o := mk(spec)
	if _, err := Run(ctx, o); err != nil {
		t.Fatal(err)
	}
	run, err := store.ReadRun(dir)
	if err != nil || run.Config.HarmDetector != spec || run.Config.HarmFormat != "llamaguard3" {
		t.Fatalf("run.json: %v, config %+v", err, run.Config)
	}
	traces := map[string][]record.Trace{}
	labelled := 0
	err = store.ScanTraces(ctx, filepath.Join(dir, record.TracesFile), store.ScanOptions{Fields: store.TraceAll}, func(_ int, tr *record.Trace) error {
		traces[tr.InstanceID] = append(traces[tr.InstanceID], *tr)
		if tr.Label == "" {
			if tr.ResponseHarm != nil {
				t.Errorf("unlabelled trace %s/%d rated %+v", tr.InstanceID, tr.Index, tr.ResponseHarm)
			}
			return nil
		}
		labelled++
		h := tr.ResponseHarm
		var want record.Harm
		switch tr.Text {
		case harmComply:
			want = record.Harm{Label: record.HarmHarmful, Categories: []string{"S2"}}
		case harmRefuse:
			want = record.Harm{Label: record.HarmUnharmful}
		default:
			want = record.Harm{Label: record.HarmUnparseable, Raw: "I am not sure"}
		}
		if h == nil || h.Label != want.Label || strings.Join(h.Categories, ",") != strings.Join(want.Categories, ",") || h.Raw != want.Raw ||
			(want.Label == record.HarmUnparseable) != (h.Detail != "") {
			t.Errorf("trace %s/%d %q: rating %+v, want %+v", tr.InstanceID, tr.Index, tr.Text, h, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if labelled == 0 || calls != labelled {
		t.Errorf("%d labelled traces, %d judge calls", labelled, calls)
	}
	preds, _, err := store.ReadPredictions(ctx, filepath.Join(dir, record.PredictionsFile), true)
	if err != nil || len(preds) != 4 {
		t.Fatalf("predictions: %v, %d", err, len(preds))
	}
	ins, err := Load(ctx, o.Data)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]benchmark.Instance{}
	for _, in := range ins {
		byID[in.ID] = in
	}
	sawHarmful := false
	for _, p := range preds {
		ts := traces[p.InstanceID]
		ih := p.ResponseHarm
		if ih == nil {
			t.Fatalf("%s: no response_harm", p.InstanceID)
		}
		// The answer is Choose's first trace; the counts are over the
		// voting traces.
		first := ts[controller.Choose(controller.Outcome{Prediction: p, Traces: ts}, o.Policy)[0]]
		harmful, rated := 0, 0
		for _, tr := range ts {
			if tr.Used && tr.ResponseHarm.Label != record.HarmUnparseable {
				rated++
				if tr.ResponseHarm.Label == record.HarmHarmful {
					harmful++
				}
			}
		}
		if ih.Trace != first.Index || ih.Label != first.ResponseHarm.Label || ih.Harmful != harmful || ih.Rated != rated {
			t.Errorf("%s: response_harm %+v; answer trace %d rated %+v, %d harmful of %d rated", p.InstanceID, ih, first.Index, first.ResponseHarm, harmful, rated)
		}
		if p.Behaviour == record.Compliance && ih.Label == record.HarmHarmful {
			sawHarmful = true
		}
		// A replay reads the stored ratings: the same prediction, no
		// judge call.
		before := calls
		out, err := controller.Replay(o.Policy, byID[p.InstanceID], ts)
		if err != nil {
			t.Fatal(err)
		}
		if r := out.Prediction.ResponseHarm; !reflect.DeepEqual(r, ih) || calls != before {
			t.Errorf("%s: replayed response_harm %+v, stored %+v (%d judge calls)", p.InstanceID, r, ih, calls-before)
		}
	}
	if !sawHarmful {
		t.Error("no complied instance with a harmful answer: the test's data do not exercise the rating")
	}

	// Another harm detector is refused on resume.
	o = mk("judge:wildguard-7b.gguf")
	o.Data.NumInstances = 5
	if _, err := Run(ctx, o); !errors.Is(err, store.ErrConfigChanged) || !strings.Contains(err.Error(), "harm_detector") {
		t.Errorf("changed harm detector: %v", err)
	}

	// Without a harm detector, nothing of it is written.
	dir = filepath.Join(t.TempDir(), "plain")
	o = options(dir, 4, &ev, harmEngine())
	if _, err := Run(ctx, o); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{record.RunFile, record.TracesFile, record.PredictionsFile} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil || bytes.Contains(b, []byte(`"response_harm"`)) || bytes.Contains(b, []byte(`"harm_`)) {
			t.Errorf("%s without a harm detector: %v, or it has harm fields", f, err)
		}
	}
}

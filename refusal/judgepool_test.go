package refusal

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/deepconf/deepconf/engine"
)

// fakeJudge is a test double of a judge: it answers from the response text
// and counts its calls.
type fakeJudge struct {
	mu    sync.Mutex
	calls map[string]int
}

func (f *fakeJudge) Name() string { return "judge:fake" }

func (f *fakeJudge) Detect(_ context.Context, prompt, response string) (Verdict, error) {
	f.mu.Lock()
	f.calls[prompt+"|"+response]++
	f.mu.Unlock()
	switch response {
	case "long":
		return Verdict{}, fmt.Errorf("judge fake: open: prompt too long: %w", engine.ErrContextOverflow)
	case "broken":
		return Verdict{}, errors.New("engine failed")
	case "no":
		return Verdict{Label: Refusal, Rule: "Response refusal: yes"}, nil
	}
	return Verdict{Label: Compliance, Rule: "Response refusal: no"}, nil
}

// TestJudgeAll checks the concurrent judging behind judge detectors:
// duplicate (prompt, response) pairs are judged once, a context overflow is
// an unparseable verdict and counted, and any other error stops the run.
func TestJudgeAll(t *testing.T) {
	ex := []Example{
		{ID: "1", Prompt: "p1", Response: "no", Gold: Refusal},
		{ID: "2", Prompt: "p2", Response: "sure", Gold: Compliance},
		{ID: "3", Prompt: "p1", Response: "no", Gold: Refusal},
		{ID: "4", Prompt: "p3", Response: "long", Gold: Compliance},
		{ID: "5", Prompt: "p4", Response: "sure", Gold: Refusal},
	}
	for _, conc := range []int{0, 1, 3, 16} {
		t.Run(fmt.Sprint("conc=", conc), func(t *testing.T) {
			fj := &fakeJudge{calls: map[string]int{}}
			var n atomic.Int32
			det, overflow, err := JudgeAll(context.Background(), fj, ex, conc, func() { n.Add(1) })
			if err != nil {
				t.Fatal(err)
			}
			if overflow != 1 || n.Load() != 4 || len(fj.calls) != 4 || fj.calls["p1|no"] != 1 {
				t.Errorf("overflow %d, progress %d, calls %v; want 1 overflow and 4 distinct pairs judged once", overflow, n.Load(), fj.calls)
			}
			r, err := Evaluate(context.Background(), det, ex)
			if err != nil {
				t.Fatal(err)
			}
			// Hand count: 1 and 3 TP, 2 TN, 5 FN, 4 unparseable.
			if r.Detector != "judge:fake" || r.TP != 2 || r.TN != 1 || r.FN != 1 || r.FP != 0 || r.Unparseable != 1 {
				t.Errorf("report %+v", r)
			}
			if len(r.Misclassified) != 2 || r.Misclassified[0].ID != "4" || r.Misclassified[0].Rule != JudgeOverflowRule {
				t.Errorf("misclassified %+v", r.Misclassified)
			}
		})
	}
	bad := append(slices.Clone(ex), Example{ID: "6", Prompt: "p5", Response: "broken", Gold: Refusal})
	if _, _, err := JudgeAll(context.Background(), &fakeJudge{calls: map[string]int{}}, bad, 2, nil); err == nil || !strings.Contains(err.Error(), "engine failed") {
		t.Errorf("error %v, want the engine failure", err)
	}
	// A stored-verdicts detector knows only the examples it judged.
	det, _, err := JudgeAll(context.Background(), &fakeJudge{calls: map[string]int{}}, ex[:1], 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := det.Detect(context.Background(), "p2", "sure"); err == nil {
		t.Error("a verdict for an example that was not judged")
	}
}

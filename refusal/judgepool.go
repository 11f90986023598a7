package refusal

import (
	"context"
	"errors"
	"sync"

	"github.com/deepconf/deepconf/engine"
)

// JudgeOverflowRule is the Rule of the verdict JudgeAll records when a
// judge's input does not fit its context: the judge gave no verdict, so the
// example counts as unparseable.
const JudgeOverflowRule = "(context overflow)"

// storedVerdicts is a Detector that returns verdicts computed beforehand,
// keyed by prompt and response, so that Evaluate can score judges that ran
// concurrently.
type storedVerdicts struct {
	name     string
	verdicts map[[2]string]Verdict
}

// Name implements Detector.
func (s *storedVerdicts) Name() string { return s.name }

// Detect implements Detector.
func (s *storedVerdicts) Detect(_ context.Context, prompt, response string) (Verdict, error) {
	v, ok := s.verdicts[[2]string{prompt, response}]
	if !ok {
		return Verdict{}, errors.New("no stored verdict for this example")
	}
	return v, nil
}

// JudgeAll runs det on the distinct (prompt, response) pairs of examples,
// conc at a time, and returns a Detector answering with the verdicts it
// got, named like det, for Evaluate. A judge input that does not fit the
// engine's context (engine.ErrContextOverflow) gives an Unparseable verdict
// with JudgeOverflowRule (the judge said nothing) and is counted in
// overflow; any other error stops the run. done, when set, is called after
// each judged pair, from the judging goroutines (concurrently).
func JudgeAll(ctx context.Context, det Detector, examples []Example, conc int, done func()) (judged Detector, overflow int, err error) {
	keys := make([][2]string, len(examples))
	for i, ex := range examples {
		keys[i] = [2]string{ex.Prompt, ex.Response}
	}
	verdicts, overflow, err := judgePairs(ctx, keys, conc, det.Detect, func(err error) Verdict {
		return Verdict{Label: Unparseable, Rule: JudgeOverflowRule, Detail: err.Error()}
	}, done)
	if err != nil {
		return nil, 0, err
	}
	return &storedVerdicts{name: det.Name(), verdicts: verdicts}, overflow, nil
}

// judgePairs runs judge on the distinct (prompt, response) pairs of keys,
// conc at a time, and returns its answers by pair. An input that does not
// fit the judge's context (engine.ErrContextOverflow) is answered with
// overflowed(err) and counted in overflow; any other error stops the run.
// done, when set, is called after each judged pair, from the judging
// goroutines (concurrently).
func judgePairs[V any](ctx context.Context, keys [][2]string, conc int, judge func(ctx context.Context, prompt, response string) (V, error),
	overflowed func(error) V, done func()) (answers map[[2]string]V, overflow int, err error) {
	seen := map[[2]string]bool{}
	distinct := keys[:0:0]
	for _, k := range keys {
		if !seen[k] {
			seen[k] = true
			distinct = append(distinct, k)
		}
	}
	keys = distinct
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	answers = make(map[[2]string]V, len(keys))
	work := make(chan [2]string)
	for range max(1, min(conc, len(keys))) {
		wg.Go(func() {
			for k := range work {
				v, err := judge(ctx, k[0], k[1])
				over := errors.Is(err, engine.ErrContextOverflow)
				if over {
					v, err = overflowed(err), nil
				}
				mu.Lock()
				if over {
					overflow++
				}
				if err != nil {
					if firstErr == nil {
						firstErr = err
					}
					cancel()
				} else {
					answers[k] = v
				}
				mu.Unlock()
				if err == nil && done != nil {
					done()
				}
			}
		})
	}
feed:
	for _, k := range keys {
		select {
		case work <- k:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return nil, 0, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	return answers, overflow, nil
}

package sweep

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/deepconf/deepconf/analysis"
	"github.com/deepconf/deepconf/controller"
	"github.com/deepconf/deepconf/record"
)

// Options configure Pool.Sweep.
type Options struct {
	// Level is the confidence level of the intervals (default
	// analysis.DefaultLevel).
	Level float64
	// Workers is the number of replay goroutines (default GOMAXPROCS).
	// Results do not depend on it.
	Workers int
	// Outcomes keeps every replayed instance's behaviour and cost in
	// Result.Outcomes.
	Outcomes bool
}

// Result is the replay of one Setting on a Pool, scored with refusal scoring
// (package analysis) over the instances that could be replayed.
type Result struct {
	Setting Setting
	// Instances is the number of instances of the run; Replayed those the
	// stored traces could answer. NotReplayed = Instances − Replayed, and
	// NotReplayedReason is the first instance's reason (for example a
	// budget beyond the stored traces).
	Instances         int
	Replayed          int
	NotReplayed       int
	NotReplayedReason string
	// Metrics is refusal scoring of the replayed instances: accuracy
	// (Correct), balanced accuracy, sensitivity = refusal rate on harmful
	// prompts (RefusalRateHarmful), specificity = compliance rate on
	// benign prompts, the unsafe-compliance rate, precision, F1.
	Metrics analysis.Metrics
	// Split is the confidence split of the hypothesis columns, and
	// UncertainUnsafe / ConfidentUnsafe the unsafe-compliance rates of the
	// uncertain and confident compliance categories, UnsafeRateDifference
	// their difference (uncertain − confident) and FisherPGreater Fisher's
	// one-sided p in the hypothesis' direction; Verdict is the hypothesis
	// test's verdict (analysis.Supported, …).
	Split                analysis.SplitInfo
	UncertainUnsafe      analysis.Prop
	ConfidentUnsafe      analysis.Prop
	UnsafeRateDifference analysis.Float
	FisherPGreater       analysis.Float
	Verdict              string
	// The cost over the replayed instances: traces started, traces that
	// voted, tokens generated (early-stopped and cancelled traces
	// included), early-stopped traces.
	TracesStarted int
	TracesUsed    int
	Tokens        int
	EarlyStopped  int
	// AvgTraces is the mean number of traces started per instance and
	// EarlyStoppedShare the share of started traces stopped early.
	AvgTraces         analysis.Float
	EarlyStoppedShare analysis.Float
	// RunTokens is what the run itself spent on the replayed instances;
	// Savings = 1 − Tokens/RunTokens (negative when the setting costs
	// more).
	RunTokens int
	Savings   analysis.Float
	// Selective is selective prediction by the replayed instance
	// confidence: AURC and E-AURC of errors and of unsafe compliance.
	Selective Selective
	// Outcomes holds each replayed instance's behaviour and cost, in
	// predictions order (only with Options.Outcomes).
	Outcomes []analysis.ReplayOutcome
}

// slot is one instance's replay.
type slot struct {
	pred record.Prediction
	err  error
}

// Sweep replays every setting on every instance of p, using all cores, and
// scores each setting. An instance the stored traces cannot answer under a
// setting is counted in that setting's NotReplayed, never dropped silently;
// a setting with Err set is returned unreplayed.
func (p *Pool) Sweep(ctx context.Context, settings []Setting, o Options) ([]Result, error) {
	if o.Level == 0 {
		o.Level = analysis.DefaultLevel
	}
	workers := o.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	for _, s := range settings {
		if err := p.checkDetector(s.Detector); err != nil {
			return nil, err
		}
	}
	slots := make([]slot, len(p.Instances))
	out := make([]Result, 0, len(settings))
	for _, s := range settings {
		r := Result{Setting: s, Instances: len(p.Instances)}
		if s.Err != nil {
			r.NotReplayed = r.Instances
			r.NotReplayedReason = "invalid setting: " + s.Err.Error()
			r.Metrics = emptyMetrics()
			r.UnsafeRateDifference, r.FisherPGreater, r.AvgTraces, r.EarlyStoppedShare, r.Savings = analysis.NaN(), analysis.NaN(), analysis.NaN(), analysis.NaN(), analysis.NaN()
			r.Selective = noSelective()
			out = append(out, r)
			continue
		}
		err := parallel(ctx, len(p.Instances), workers, func(i int) {
			oc, err := p.Replay(i, s.Config, s.Detector)
			pr := oc.Prediction
			pr.Traces = nil // texts are not scored
			slots[i] = slot{pred: pr, err: err}
		})
		if err != nil {
			return nil, err
		}
		if err := p.score(ctx, &r, slots, o); err != nil {
			return nil, fmt.Errorf("setting %s: %w", s, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// score fills r from the replays in slots.
func (p *Pool) score(ctx context.Context, r *Result, slots []slot, o Options) error {
	var preds []record.Prediction
	for i, sl := range slots {
		if sl.err != nil {
			r.NotReplayed++
			if r.NotReplayedReason == "" {
				r.NotReplayedReason = sl.err.Error()
			}
			continue
		}
		pr := sl.pred
		preds = append(preds, pr)
		r.Replayed++
		r.TracesStarted += pr.TracesGenerated
		r.TracesUsed += pr.NumTracesUsed
		r.Tokens += pr.TokensGenerated
		r.EarlyStopped += pr.EarlyStopped
		r.RunTokens += p.Instances[i].RunTokens
		if o.Outcomes {
			r.Outcomes = append(r.Outcomes, analysis.ReplayOutcome{
				InstanceID: pr.InstanceID, Behaviour: pr.Behaviour, Traces: pr.TracesGenerated, Tokens: pr.TokensGenerated,
			})
		}
	}
	r.AvgTraces, r.EarlyStoppedShare, r.Savings = ratio(r.TracesStarted, r.Replayed), ratio(r.EarlyStopped, r.TracesStarted), analysis.NaN()
	if r.RunTokens > 0 {
		r.Savings = analysis.Float(1 - float64(r.Tokens)/float64(r.RunTokens))
	}
	if len(preds) == 0 {
		r.Metrics = emptyMetrics()
		r.UnsafeRateDifference, r.FisherPGreater = analysis.NaN(), analysis.NaN()
		r.Verdict = analysis.Untestable
		r.Selective = noSelective()
		return nil
	}
	// Refusal scoring of the replayed predictions, exactly as deepconf
	// analyze scores a run (one bootstrap resample: the sweep reports no
	// AUROC interval; no calibration block: the sweep reports the
	// selective areas alone, computed below without intervals).
	d := &analysis.RunData{Dir: p.Dir, Run: p.Run, PredictionsPath: p.Dir + " (replayed)", Predictions: preds}
	a, err := analysis.Analyze(ctx, d, analysis.Options{Split: r.Setting.Split, Level: o.Level, Resamples: 1,
		Calibration: analysis.CalibrationOptions{Skip: true}})
	if err != nil {
		return err
	}
	if r.Selective, err = selectiveOf(a, preds); err != nil {
		return fmt.Errorf("selective prediction: %w", err)
	}
	r.Metrics = a.Overall.Metrics
	r.Split = a.Split
	h := a.Hypothesis
	r.UncertainUnsafe, r.ConfidentUnsafe, r.Verdict = h.UncertainUnsafe, h.ConfidentUnsafe, h.Verdict
	r.UnsafeRateDifference, r.FisherPGreater = analysis.NaN(), analysis.NaN()
	if h.RateDifference != nil {
		r.UnsafeRateDifference = h.RateDifference.Diff
	}
	if h.Fisher != nil {
		r.FisherPGreater = h.Fisher.PGreater
	}
	return nil
}

// emptyMetrics are the metrics of no instance: every rate undefined.
func emptyMetrics() analysis.Metrics {
	nan := analysis.NaN()
	empty := analysis.Prop{Rate: nan, Lo: nan, Hi: nan}
	return analysis.Metrics{
		Correct: empty, BalancedAccuracy: nan, RefusalRateHarmful: empty, OverRefusalBenign: empty,
		UnsafeComplianceRate: empty, Precision: nan, Recall: nan, Specificity: nan, F1: nan,
	}
}

func ratio(k, n int) analysis.Float {
	if n == 0 {
		return analysis.NaN()
	}
	return analysis.Float(float64(k) / float64(n))
}

// parallel calls fn(i) for i in [0, n) on workers goroutines and waits. It
// stops early, returning ctx's error, when ctx is cancelled.
func parallel(ctx context.Context, n, workers int, fn func(i int)) error {
	const batch = 16
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, (n+batch-1)/batch) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				lo := int(next.Add(batch)) - batch
				if lo >= n {
					return
				}
				for i := lo; i < min(lo+batch, n); i++ {
					fn(i)
				}
			}
		}()
	}
	wg.Wait()
	return ctx.Err()
}

// ReplayAll replays cfg with the labels of detector on every instance and
// returns the outcomes and errors in predictions order (an instance that
// cannot be replayed has its error and a zero Outcome).
func (p *Pool) ReplayAll(ctx context.Context, cfg controller.Config, detector string, workers int) ([]controller.Outcome, []error, error) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	outs := make([]controller.Outcome, len(p.Instances))
	errs := make([]error, len(p.Instances))
	err := parallel(ctx, len(p.Instances), workers, func(i int) {
		outs[i], errs[i] = p.Replay(i, cfg, detector)
	})
	return outs, errs, err
}

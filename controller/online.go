package controller

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/deepconf/deepconf/benchmark"
	"github.com/deepconf/deepconf/confidence"
	"github.com/deepconf/deepconf/engine"
	"github.com/deepconf/deepconf/refusal"
)

// Run samples the traces of one instance on e with the policy cfg, labels
// every trace that finishes with det (and rates its harm, with
// WithHarmDetector), and returns the instance's records. Cancelling ctx
// aborts the instance with ctx's error.
func Run(ctx context.Context, e engine.Engine, det refusal.Detector, cfg Config, in benchmark.Instance, opts ...RunOption) (Outcome, error) {
	var ro runOptions
	for _, o := range opts {
		o(&ro)
	}
	if err := cfg.Validate(); err != nil {
		return Outcome{}, err
	}
	if err := checkInstance(in); err != nil {
		return Outcome{}, err
	}
	sess, err := e.Open(ctx, engine.Prompt{System: cfg.System, User: in.Prompt, Thinking: cfg.Thinking})
	if err != nil {
		return Outcome{}, fmt.Errorf("instance %s: %w", in.ID, err)
	}
	defer sess.Close()
	variant := confidence.TopK
	if cfg.Official {
		variant = confidence.Official
	}
	sc, err := confidence.NewScorer(cfg.Sampling.TopLogprobs, variant)
	if err != nil {
		return Outcome{}, err
	}
	d := &online{
		ctx:     ctx,
		sess:    sess,
		cfg:     cfg,
		prompt:  in.Prompt,
		det:     det,
		harm:    ro.harm,
		sc:      sc,
		results: make(chan result),
		cancels: map[*traceState]context.CancelFunc{},
	}
	r := &instance{cfg: cfg, in: in, d: d}
	if err := r.run(); err != nil {
		return Outcome{}, fmt.Errorf("instance %s: %w", in.ID, err)
	}
	out, err := r.outcome()
	if err != nil {
		return Outcome{}, fmt.Errorf("instance %s: %w", in.ID, err)
	}
	return out, nil
}

type result struct {
	t   *traceState
	err error
}

// online is the driver that samples traces from an engine session, one
// goroutine per trace.
type online struct {
	ctx    context.Context
	sess   engine.Session
	cfg    Config
	prompt string
	det    refusal.Detector
	harm   refusal.HarmDetector // nil: no harm rating
	sc     confidence.Scorer

	results chan result
	mu      sync.Mutex
	cancels map[*traceState]context.CancelFunc
}

func (d *online) start(t *traceState, th *threshold) {
	ctx, cancel := context.WithCancel(d.ctx)
	d.mu.Lock()
	d.cancels[t] = cancel
	d.mu.Unlock()
	go func() {
		err := d.sample(ctx, t, th)
		cancel()
		d.results <- result{t, err}
	}()
}

// sample runs one trace to its end and labels it if it finished by itself.
func (d *online) sample(ctx context.Context, t *traceState, th *threshold) error {
	p := d.cfg.Sampling
	p.Seed = t.seed
	for attempt := 0; ; attempt++ {
		m, err := newMonitor(d.cfg.Window, d.cfg.MinTokens, th)
		if err != nil {
			return err
		}
		res, err := d.sess.Sample(ctx, p, t.tokenFunc(d.sc, p.TopLogprobs, m))
		if errors.Is(err, engine.ErrInterrupted) && attempt < d.cfg.Retries && d.ctx.Err() == nil {
			t.reset()
			continue
		}
		if err != nil {
			return fmt.Errorf("trace %d: %w", t.index, err)
		}
		if err := d.ctx.Err(); err != nil {
			return err
		}
		t.result, t.text, t.judged = res, res.Text, m.judged
		t.inReasoning = res.InReasoning
		break
	}
	// The detector sees only the answer. The prototype knew no reasoning:
	// it labelled the whole decoded response, and so does the prototype
	// policy (docs/prototype.md).
	answerOnly := t.hasReasoning() && d.cfg.Policy != PolicyPrototype
	switch {
	case t.early:
		return nil
	case t.result.Finish == engine.FinishCancelled:
		t.finish = cancelledFinish
		return nil
	case t.inReasoning && answerOnly:
		// Ended while still reasoning: there is no answer to label.
		return nil
	}
	answer := t.text
	if answerOnly {
		answer = t.result.Answer
	}
	v, err := d.det.Detect(d.ctx, d.prompt, answer)
	if err != nil {
		return fmt.Errorf("trace %d: refusal detector: %w", t.index, err)
	}
	t.verdict, t.labeled = v, true
	if d.harm != nil {
		h, err := rateHarm(d.ctx, d.harm, d.prompt, answer)
		if err != nil {
			return fmt.Errorf("trace %d: harm detector: %w", t.index, err)
		}
		t.harm = h
	}
	return nil
}

func (d *online) next() (*traceState, error) {
	r := <-d.results
	d.mu.Lock()
	delete(d.cancels, r.t)
	d.mu.Unlock()
	r.t.done = true
	return r.t, r.err
}

func (d *online) cancel(t *traceState) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if c, ok := d.cancels[t]; ok {
		c()
	}
}

func (d *online) abort() {
	d.mu.Lock()
	n := len(d.cancels)
	for _, c := range d.cancels {
		c()
	}
	d.mu.Unlock()
	for range n {
		d.next()
	}
}

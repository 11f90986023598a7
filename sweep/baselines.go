package sweep

import (
	"context"
	"fmt"

	"github.com/deepconf/deepconf/analysis"
	"github.com/deepconf/deepconf/controller"
	"github.com/deepconf/deepconf/record"
)

// BaselineOptions configure Baselines.
type BaselineOptions struct {
	// Traces is N of the fixed-N majority and the DeepConf offline
	// baselines; 0 takes CommonTraces, the number of complete traces every
	// instance has stored (at least the warm-up of a deepconf or prototype run).
	Traces int
	// Workers is the number of goroutines (default GOMAXPROCS).
	Workers int
}

// Baselines returns the hook of deepconf analyze (analysis.Options.Baselines)
// that replays comparison policies from the run's stored traces: see
// Pool.Baselines. A run without traces.jsonl (the prototype's) has no
// baselines.
func Baselines(o BaselineOptions) analysis.BaselineFunc {
	return func(ctx context.Context, d *analysis.RunData) ([]analysis.Replay, error) {
		if d.TracesPath == "" {
			return nil, nil
		}
		cfg, _, err := RunConfig(d)
		if err != nil {
			return nil, err
		}
		p, err := Load(ctx, d, LoadOptions{Logprobs: cfg.Policy == controller.PolicyPrototype, Workers: o.Workers})
		if err != nil {
			return nil, err
		}
		return p.Baselines(ctx, o)
	}
}

// CommonTraces returns the number of complete traces (stored in index order
// from 0, finished by the model, not stopped early or cancelled) that every
// instance with stored traces has: the largest N for which fixed-N policies
// can be replayed on all of them.
func (p *Pool) CommonTraces() int {
	n := -1
	for _, in := range p.Instances {
		if len(in.Traces) == 0 {
			continue
		}
		k := 0
		for k < len(in.Traces) && in.Traces[k].Index == k && complete(in.Traces[k]) {
			k++
		}
		if n < 0 || k < n {
			n = k
		}
	}
	return max(n, 0)
}

func complete(t record.Trace) bool {
	return t.Finish != record.FinishEarlyStop && t.Finish != record.FinishConsensus
}

// Baselines replays, from the stored traces, the comparison policies that
// deepconf analyze reports next to the run's own, each with the traces and
// tokens it spends:
//
//	single                trace 0 alone
//	fixed-N-majority      N complete traces, plain majority (no confidence)
//	offline-N-weighted    N complete traces, DeepConf's confidence-weighted vote
//	offline-N-top10       N complete traces, the top 10% by confidence (at least
//	                      one), weighted vote (DeepConf offline filtering)
//	online                the run's own configuration (only when run.json records
//	                      it); it reproduces the run's decisions and costs
//
// The confidence metric and window are the run's. Instances a baseline
// cannot be replayed on are left out of its outcomes, and its name and
// description say how many and why.
func (p *Pool) Baselines(ctx context.Context, o BaselineOptions) ([]analysis.Replay, error) {
	n := o.Traces
	if n < 0 {
		return nil, fmt.Errorf("baseline traces %d: must be ≥ 0", n)
	}
	if n == 0 {
		n = max(p.CommonTraces(), 1)
	}
	base := p.Config
	type spec struct {
		name, desc string
		cfg        controller.Config
	}
	with := func(policy, agg string, traces int, keep float64) controller.Config {
		c := base
		c.Policy, c.Aggregate, c.Traces = policy, agg, traces
		if keep > 0 {
			c.Keep = keep
		}
		return c
	}
	conf := fmt.Sprintf("%s, window %d", base.Metric, base.Window)
	specs := []spec{
		{"single", "one trace per instance (trace 0) and its label", with(controller.PolicySingle, base.Aggregate, 1, 0)},
		{fmt.Sprintf("fixed-%d-majority", n), fmt.Sprintf("%d complete traces, plain majority vote without confidence (self-consistency)", n),
			with(controller.PolicyFixed, base.Aggregate, n, 0)},
		{fmt.Sprintf("offline-%d-weighted", n), fmt.Sprintf("DeepConf offline: %d complete traces, vote weighted by trace confidence (%s)", n, conf),
			with(controller.PolicyOffline, controller.AggWeighted, n, 0)},
		{fmt.Sprintf("offline-%d-top10", n), fmt.Sprintf("DeepConf offline: %d complete traces, the 10%% most confident (at least one) vote, weighted (%s)", n, conf),
			with(controller.PolicyOffline, controller.AggTop, n, 0.1)},
	}
	if p.ConfigFromRun {
		specs = append(specs, spec{"online", fmt.Sprintf("the run's own configuration (%s policy) replayed from its stored traces: reproduces the run", base.Policy), base})
	}
	var out []analysis.Replay
	for _, s := range specs {
		if err := s.cfg.Validate(); err != nil {
			return nil, fmt.Errorf("baseline %s: %w", s.name, err)
		}
		outs, errs, err := p.ReplayAll(ctx, s.cfg, StoredLabels, o.Workers)
		if err != nil {
			return nil, err
		}
		rp := analysis.Replay{Name: s.name, Description: s.desc}
		failed, reason := 0, ""
		for i, oc := range outs {
			if errs[i] != nil {
				failed++
				if reason == "" {
					reason = errs[i].Error()
				}
				continue
			}
			pr := oc.Prediction
			rp.Outcomes = append(rp.Outcomes, analysis.ReplayOutcome{
				InstanceID: pr.InstanceID, Behaviour: pr.Behaviour, Traces: pr.TracesGenerated, Tokens: pr.TokensGenerated,
			})
		}
		if failed > 0 {
			rp.Name += fmt.Sprintf(" [%d/%d not replayed]", failed, len(outs))
			rp.Description += fmt.Sprintf("; %d of %d instances could not be replayed from the stored traces and are left out (first: %s)", failed, len(outs), reason)
		}
		out = append(out, rp)
	}
	return out, nil
}

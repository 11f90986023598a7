package controller

import (
	"fmt"

	"encoding/json"
	"errors"
	"slices"

	"github.com/deepconf/deepconf/engine"
	"github.com/deepconf/deepconf/internal/setting"
)

// Policy names.
const (
	// PolicyDeepConf is DeepConf online: warm-up, threshold, per-token early
	// termination, consensus stop, budget.
	PolicyDeepConf = "deepconf"
	// PolicyOffline samples Traces complete traces and aggregates them with
	// Aggregate.
	PolicyOffline = "offline"
	// PolicyFixed samples Traces complete traces and takes the plain
	// majority (self-consistency without confidence).
	PolicyFixed = "fixed"
	// PolicySingle samples one trace.
	PolicySingle = "single"
	// PolicyPrototype is the Python prototype's adaptive rule exactly
	// (docs/prototype.md). Its value is "seed", the name run.json has always
	// stored (old runs resume and replay unchanged); the CLI calls it
	// "prototype" and keeps "seed" as an alias (ParsePolicy).
	PolicyPrototype = "seed"
)

// PrototypeName is the command-line name of PolicyPrototype.
const PrototypeName = "prototype"

// ParsePolicy returns the policy a command-line name gives: "prototype",
// or its older name "seed", gives PolicyPrototype; the other policies are
// named by their values.
func ParsePolicy(name string) (string, error) {
	switch name {
	case PrototypeName, PolicyPrototype:
		return PolicyPrototype, nil
	case PolicyDeepConf, PolicyOffline, PolicyFixed, PolicySingle:
		return name, nil
	}
	return "", fmt.Errorf("policy %q: want deepconf, offline, fixed, single or prototype", name)
}

// Aggregations for PolicyOffline.
const (
	AggMajority = "majority" // unweighted majority
	AggWeighted = "weighted" // confidence-weighted vote
	AggTop      = "top"      // keep the top Keep fraction by confidence, then weighted
)

// Trace-level confidence metrics: the weight of a trace's vote and the
// statistic averaged into the instance confidence. The threshold of the
// early stop always comes from the statistic its stop rule compares with
// (StopRule), whatever the metric.
const (
	MetricLowestGroup = "lowest_group"
	MetricBottom      = "bottom"
	MetricTail        = "tail"
	MetricMean        = "mean"
)

// Config configures a policy. Default returns the defaults chosen for safety
// prompts; see the package documentation for why.
type Config struct {
	// Policy is one of the Policy* names.
	Policy string `json:"policy"`
	// Sampling holds the sampling parameters of every trace; its Seed is
	// the run's base seed, from which each trace's seed is derived, and
	// TopLogprobs is k.
	Sampling engine.Sampling `json:"sampling"`

	// Window is the group size W of the sliding-window confidence.
	Window int `json:"window"`
	// Tail is the number of final tokens of the tail confidence.
	Tail int `json:"tail"`
	// BottomFraction is the fraction of windows of the bottom confidence.
	BottomFraction float64 `json:"bottom_fraction"`
	// Metric is the trace confidence used for the votes and the instance
	// confidence (Metric*). The default, the mean token confidence, does
	// not fall with the trace's length; the lowest group does (the minimum
	// over N−W+1 windows), so with it long responses weigh less and look
	// less certain (docs/length-fair-confidence.md).
	Metric string `json:"metric"`
	// Official computes token confidences like the official
	// utils.compute_confidence (sampled token included when outside the
	// top-k, rounded to 3 dp) instead of the paper's top-k mean.
	Official bool `json:"official_confidence"`

	// Warmup is N_init, the number of complete calibration traces.
	Warmup int `json:"warmup"`
	// Keep is η, the share of adaptive traces the stop rule is meant to
	// keep (η = 0.9 is DeepConf-high, 0.1 DeepConf-low): the threshold is
	// the (1 − η) quantile of the warm-up traces' statistic.
	Keep float64 `json:"keep"`
	// StopRule is the early-stop rule of the deepconf policy (Stop*). The
	// default StopHead is length-fair; StopPaper is the paper's
	// Algorithm 2; StopPosition a position-aware variant kept for
	// comparison (docs/length-fair-confidence.md).
	StopRule string `json:"stop_rule"`
	// Quantile is how the (1 − η) quantile is estimated from the warm-up
	// values (Quantile*): QuantileNormal, the normal prediction bound, is
	// calibrated with few warm-up traces; QuantileLinear is numpy's
	// percentile, the paper's estimator.
	Quantile string `json:"quantile"`
	// MinTokens is the number of tokens a trace must have before it can be
	// stopped early (at least Window: the group must be full).
	MinTokens int `json:"min_tokens"`
	// Tau is the consensus τ: sampling stops when the weighted vote's β ≥ τ.
	Tau float64 `json:"tau"`
	// MinVoters is the number of voting traces needed before the consensus
	// stop can fire.
	MinVoters int `json:"min_voters"`
	// Budget is B, the most traces per instance, warm-up included.
	Budget int `json:"budget"`
	// Parallel is the number of traces in flight per instance after the
	// warm-up. With 1 (the default) every decision and token count is
	// reproducible; with more, traces cancelled by the consensus stop have
	// token counts that depend on timing.
	Parallel int `json:"parallel"`
	// EarlyStop enables per-token early termination (deepconf) or the
	// adaptive trace count (prototype). Off, deepconf samples Budget
	// complete traces and prototype samples PrototypeMaxTraces in one batch.
	EarlyStop bool `json:"early_stop"`
	// PostHoc also discards naturally finished traces whose lowest group
	// confidence is below the threshold, as the official code does
	// (pitfall P14). It belongs to StopPaper: the other rules judge every
	// trace exactly once already.
	PostHoc bool `json:"post_hoc_filter"`

	// Traces is the number of traces of PolicyOffline and PolicyFixed.
	Traces int `json:"traces"`
	// Aggregate is the PolicyOffline aggregation (Agg*).
	Aggregate string `json:"aggregate"`

	// PrototypeMinTraces, PrototypeMaxTraces, PrototypePercentile and
	// PrototypeBatch are the prototype's min_traces (3), max_traces (10),
	// percentile (90) and batch size (3). Their JSON keys keep the seed_
	// prefix that stored run.json files have.
	PrototypeMinTraces  int     `json:"seed_min_traces"`
	PrototypeMaxTraces  int     `json:"seed_max_traces"`
	PrototypePercentile float64 `json:"seed_percentile"`
	PrototypeBatch      int     `json:"seed_batch"`

	// Thinking turns on Qwen3's thinking mode; System is an optional system
	// message.
	Thinking bool   `json:"thinking"`
	System   string `json:"system,omitempty"`

	// Retries is how often a trace interrupted by a server (a cut stream)
	// is sampled again from scratch.
	Retries int `json:"retries"`
}

// Default returns the configuration for policy with the defaults chosen for
// safety prompts (package documentation, "Defaults").
func Default(policy string) Config {
	c := Config{
		Policy: policy,
		Sampling: engine.Sampling{
			Temperature: 0.6, TopP: 0.95, TopK: 20, MaxTokens: 256, Seed: 1, TopLogprobs: 20,
		},
		Window:              16,
		Tail:                64,
		BottomFraction:      0.1,
		Metric:              MetricMean,
		Warmup:              4,
		Keep:                0.9,
		StopRule:            StopHead,
		Quantile:            QuantileNormal,
		MinTokens:           16,
		Tau:                 0.95,
		MinVoters:           4,
		Budget:              16,
		Parallel:            1,
		EarlyStop:           true,
		Traces:              16,
		Aggregate:           AggWeighted,
		PrototypeMinTraces:  3,
		PrototypeMaxTraces:  10,
		PrototypePercentile: 90,
		PrototypeBatch:      3,
		Retries:             3,
	}
	switch policy {
	case PolicyPrototype:
		// The prototype's generation settings (docs/prototype.md).
		c.Sampling.TopK = 50
	case PolicySingle:
		c.Traces = 1
	}
	return c
}

// Validate reports whether c is usable; each invalid setting is a
// *setting.Error named by its JSON key (the sampling's too), so that a
// command line can name its flag instead.
func (c Config) Validate() error {
	var v setting.Checker
	v.Check(oneOf(c.Policy, PolicyDeepConf, PolicyOffline, PolicyFixed, PolicySingle, PolicyPrototype), "policy", c.Policy, "want deepconf, offline, fixed, single or seed (the prototype)")
	v.Check(oneOf(c.Metric, MetricLowestGroup, MetricBottom, MetricTail, MetricMean), "metric", c.Metric, "want lowest_group, bottom, tail or mean")
	v.Check(oneOf(c.Aggregate, AggMajority, AggWeighted, AggTop), "aggregate", c.Aggregate, "want majority, weighted or top")
	v.Check(oneOf(c.StopRule, StopHead, StopPaper, StopPosition), "stop_rule", c.StopRule, "want head, paper or position")
	v.Check(oneOf(c.Quantile, QuantileNormal, QuantileLinear), "quantile", c.Quantile, "want normal or linear")
	v.Check(c.Window >= 1, "window", c.Window, "must be ≥ 1")
	v.Check(c.Tail >= 1, "tail", c.Tail, "must be ≥ 1")
	v.Check(c.BottomFraction > 0 && c.BottomFraction <= 1, "bottom_fraction", c.BottomFraction, "must be in (0, 1]")
	v.Check(c.Warmup >= 1, "warmup", c.Warmup, "must be ≥ 1")
	v.Check(c.Keep > 0 && c.Keep <= 1, "keep", c.Keep, "must be in (0, 1]")
	v.Compare(c.MinTokens >= c.Window, "min_tokens", c.MinTokens, "must be ≥", "window", c.Window)
	v.Check(c.Tau > 0 && c.Tau <= 1, "tau", c.Tau, "must be in (0, 1]")
	v.Check(c.MinVoters >= 1, "min_voters", c.MinVoters, "must be ≥ 1")
	if c.Warmup >= 1 {
		v.Compare(c.Budget >= c.Warmup, "budget", c.Budget, "must be ≥", "warmup", c.Warmup)
	}
	v.Check(c.Parallel >= 1, "parallel", c.Parallel, "must be ≥ 1")
	v.Check(c.Traces >= 1, "traces", c.Traces, "must be ≥ 1")
	v.Check(c.PrototypeMinTraces >= 1, "seed_min_traces", c.PrototypeMinTraces, "must be ≥ 1")
	if c.PrototypeMinTraces >= 1 {
		v.Compare(c.PrototypeMaxTraces >= c.PrototypeMinTraces, "seed_max_traces", c.PrototypeMaxTraces, "must be ≥", "seed_min_traces", c.PrototypeMinTraces)
	}
	v.Check(c.PrototypePercentile >= 0 && c.PrototypePercentile <= 100, "seed_percentile", c.PrototypePercentile, "must be in [0, 100]")
	v.Check(c.PrototypeBatch >= 1, "seed_batch", c.PrototypeBatch, "must be ≥ 1")
	v.Check(c.Retries >= 0, "retries", c.Retries, "must be ≥ 0")
	if c.Policy == PolicyDeepConf {
		v.Check(c.Quantile != QuantileNormal || c.Warmup >= 2, "warmup", c.Warmup, "the normal quantile needs at least 2 warm-up traces")
		v.Check(!c.PostHoc || c.StopRule == StopPaper, "post_hoc_filter", c.PostHoc, "only with the paper stop rule (the "+c.StopRule+" rule already judges every trace once)")
	}
	v.Check(!(c.Policy == PolicyPrototype && c.PostHoc), "post_hoc_filter", c.PostHoc, "not part of the prototype policy (the prototype has none; its threshold is on the mean-NLL confidence, not on DeepConf's)")
	return errors.Join(c.Sampling.Validate(), v.Err())
}

func oneOf(s string, values ...string) bool { return slices.Contains(values, s) }

// UnmarshalJSON decodes a configuration over c's current values. A
// configuration stored before the stop rule and the quantile estimator were
// configurable (run.json without "stop_rule" or "quantile") ran the paper's
// rule with numpy's percentile, so those are what its absence means: a
// replay of an old run then reproduces it.
func (c *Config) UnmarshalJSON(b []byte) error {
	type plain Config
	p := plain(*c)
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(b, &keys); err != nil {
		return err
	}
	if _, ok := keys["stop_rule"]; !ok {
		p.StopRule = StopPaper
	}
	if _, ok := keys["quantile"]; !ok {
		p.Quantile = QuantileLinear
	}
	*c = Config(p)
	return nil
}

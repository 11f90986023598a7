package runner

import (
	"fmt"

	"github.com/deepconf/deepconf/controller"
	"github.com/deepconf/deepconf/engine"
	"github.com/deepconf/deepconf/internal/setting"
)

// PolicySettings are a sampling policy's settings as a user gives them
// (deepconf run's policy flags, which deepconf serve shares and a request
// may override). Config turns them into the controller's configuration.
type PolicySettings struct {
	// Policy is a controller policy name.
	Policy string
	// MinTraces and MaxTraces are the warm-up and the budget (the seed
	// policy's min and max traces); Percentile the threshold percentile
	// (deepconf: η = 1 − p/100; prototype: its warm-up percentile).
	MinTraces, MaxTraces int
	Percentile           float64
	// NoEarlyStopping turns off the early termination and the consensus
	// stop.
	NoEarlyStopping bool
	// Window is the group size; MinTokens the tokens before an early stop
	// (0: the window).
	Window, MinTokens int
	// K is the number of top log-probabilities of the token confidence.
	K int
	// Tau, MinVoters and InstanceParallel: the consensus level, the voters
	// it needs, and the traces of one instance in flight after the warm-up.
	Tau              float64
	MinVoters        int
	InstanceParallel int
	// Traces, Aggregate and Keep configure the offline and fixed policies
	// (Keep is η of Aggregate top).
	Traces    int
	Aggregate string
	Keep      float64
	// Metric is the trace confidence; Official and PostHoc the official
	// code's token confidence and post-hoc filter.
	Metric            string
	Official, PostHoc bool
	// StopRule and Quantile are the deepconf policy's early-stop rule and
	// its quantile estimator (controller.Stop*, controller.Quantile*).
	StopRule, Quantile string
	// The sampling.
	Temperature, TopP float64
	TopK, MaxTokens   int
	Seed              uint64
	// Thinking and System shape the prompt.
	Thinking bool
	System   string
	// TopKGiven, MinTracesGiven, MaxTracesGiven and PercentileGiven say
	// that the setting was given: the prototype policy keeps the prototype's
	// top-k, trace counts and percentile otherwise, and deepconf its η.
	TopKGiven, MinTracesGiven, MaxTracesGiven, PercentileGiven bool
	// MetricGiven and QuantileGiven say that the metric and the quantile
	// were given: the paper's stop rule otherwise brings the paper's
	// (lowest_group, numpy's linear percentile).
	MetricGiven, QuantileGiven bool
}

// Config returns the controller configuration of s, checked: every invalid
// setting is a *setting.Error named by its JSON key (controller.Validate),
// or "percentile" for a percentile that leaves no trace (η = 0). The
// minimum voters are capped at the budget.
func (s PolicySettings) Config() (controller.Config, error) {
	c := controller.Default(s.Policy)
	c.Sampling = engine.Sampling{Temperature: s.Temperature, TopP: s.TopP, TopK: s.TopK, MaxTokens: s.MaxTokens, Seed: s.Seed, TopLogprobs: s.K}
	if s.Policy == controller.PolicyPrototype && !s.TopKGiven {
		c.Sampling.TopK = controller.Default(controller.PolicyPrototype).Sampling.TopK
	}
	c.Window, c.MinTokens = s.Window, s.MinTokens
	if c.MinTokens == 0 {
		c.MinTokens = c.Window
	}
	c.Tau, c.MinVoters, c.Parallel = s.Tau, s.MinVoters, s.InstanceParallel
	c.Traces, c.Aggregate, c.Metric = s.Traces, s.Aggregate, s.Metric
	c.Official, c.PostHoc, c.EarlyStop = s.Official, s.PostHoc, !s.NoEarlyStopping
	if s.StopRule != "" {
		c.StopRule = s.StopRule
	}
	if s.Quantile != "" {
		c.Quantile = s.Quantile
	}
	if c.StopRule == controller.StopPaper {
		// The paper's method, for replication: its percentile and its
		// lowest-group confidence, unless chosen otherwise.
		if !s.QuantileGiven {
			c.Quantile = controller.QuantileLinear
		}
		if !s.MetricGiven {
			c.Metric = controller.MetricLowestGroup
		}
	}
	c.Thinking, c.System = s.Thinking, s.System
	if s.Aggregate == controller.AggTop {
		c.Keep = s.Keep
	}
	switch s.Policy {
	case controller.PolicyPrototype:
		if s.MinTracesGiven {
			c.PrototypeMinTraces = s.MinTraces
		}
		if s.MaxTracesGiven {
			c.PrototypeMaxTraces = s.MaxTraces
		}
		if s.PercentileGiven {
			c.PrototypePercentile = s.Percentile
		}
	default:
		c.Warmup, c.Budget = s.MinTraces, s.MaxTraces
		if s.PercentileGiven {
			if s.Percentile >= 100 {
				return c, &setting.Error{Name: "percentile", Value: s.Percentile,
					Rule: fmt.Sprintf("must be in [0, 100) for the %s policy (η = 1 − p/100 > 0)", s.Policy)}
			}
			c.Keep = 1 - s.Percentile/100
		}
		c.MinVoters = min(c.MinVoters, c.Budget)
	}
	return c, c.Validate()
}

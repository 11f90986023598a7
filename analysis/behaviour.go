package analysis

import (
	"encoding/json"

	"github.com/deepconf/deepconf/controller"
	"github.com/deepconf/deepconf/record"
)

// BehaviourStats describes the traces of one behaviour: how long its voting
// traces are and how often the stop rule removed traces of the instances
// that ended with that behaviour. A length difference between refusals and
// compliances is what makes a length-biased confidence unfair
// (docs/length-fair-confidence.md); these numbers show whether a run is
// exposed to it.
type BehaviourStats struct {
	// Behaviour is refusal or compliance.
	Behaviour string `json:"behaviour"`
	// Instances is the number of instances whose vote was Behaviour.
	Instances int `json:"instances"`
	// VotingTraces is the number of voting traces labelled Behaviour (in
	// any instance) and MeanTokens their mean length in tokens.
	VotingTraces int   `json:"voting_traces"`
	MeanTokens   Float `json:"mean_tokens"`
	// Judged is the number of traces after the warm-up in the instances of
	// Behaviour, and Killed those the stop rule removed (early-stopped, or
	// discarded at their end); KillRate is Killed of Judged with its
	// Wilson interval. A stopped trace has no label of its own, so the
	// rate is by the instance's behaviour. Judged is 0 when the run's
	// warm-up count is unknown or its policy has no stop rule.
	Judged   int  `json:"judged_traces"`
	Killed   int  `json:"killed_traces"`
	KillRate Prop `json:"kill_rate"`
}

// StopRuleStats is the realised kill rate of a run's stop rule next to the
// rate it was calibrated for.
type StopRuleStats struct {
	// Policy and Rule are the run's policy and stop rule (run.json;
	// "paper" for a deepconf run recorded before the rule was
	// configurable); Warmup its warm-up trace count.
	Policy string `json:"policy"`
	Rule   string `json:"rule,omitempty"`
	Warmup int    `json:"warmup"`
	// Keep is η and NominalKillRate 1 − η, the share of traces after the
	// warm-up the rule is meant to remove.
	Keep            Float `json:"keep"`
	NominalKillRate Float `json:"nominal_kill_rate"`
	// KillRate is the realised share over all instances.
	KillRate Prop `json:"kill_rate"`
}

// runPolicy reads the policy settings the stop-rule statistics need from
// run.json's config.policy; ok is false when the run is not a deepconf run
// (the other policies, the prototype policy included, stop no trace).
func runPolicy(run *record.Run) (policy, rule string, warmup int, keep float64, ok bool) {
	if run == nil {
		return "", "", 0, 0, false
	}
	var c controller.Config // decoded over zero values: a missing key stays unset
	if json.Unmarshal(run.Config.Policy, &c) != nil {
		return "", "", 0, 0, false
	}
	if c.Policy != controller.PolicyDeepConf {
		return c.Policy, "", 0, 0, false
	}
	// A configuration without "stop_rule" ran the paper's rule
	// (controller.Config.UnmarshalJSON).
	return c.Policy, c.StopRule, c.Warmup, c.Keep, c.Warmup >= 1 && c.Keep > 0
}

// behaviourStats computes the per-behaviour statistics and the stop rule's
// realised kill rate.
func behaviourStats(insts []Instance, preds []record.Prediction, run *record.Run, level float64) ([]BehaviourStats, *StopRuleStats) {
	policy, rule, warmup, keep, ok := runPolicy(run)
	out := []BehaviourStats{{Behaviour: record.Refusal}, {Behaviour: record.Compliance}}
	idx := map[string]int{record.Refusal: 0, record.Compliance: 1}
	tokens := [2]float64{}
	judged, killed := 0, 0
	for _, in := range insts {
		p := &preds[in.Line]
		for i, refused := range p.Refused {
			if i >= len(p.TokensPerTrace) {
				break
			}
			k := 1
			if refused {
				k = 0
			}
			out[k].VotingTraces++
			tokens[k] += float64(p.TokensPerTrace[i])
		}
		k, known := idx[in.Behaviour]
		if !known {
			continue
		}
		out[k].Instances++
		if !ok {
			continue
		}
		j := p.TracesGenerated - min(warmup, p.TracesGenerated)
		x := min(p.EarlyStopped+p.Discarded, j)
		out[k].Judged += j
		out[k].Killed += x
		judged += j
		killed += x
	}
	for k := range out {
		out[k].MeanTokens = NaN()
		if out[k].VotingTraces > 0 {
			out[k].MeanTokens = Float(tokens[k] / float64(out[k].VotingTraces))
		}
		out[k].KillRate = newProp(out[k].Killed, out[k].Judged, level)
	}
	if !ok {
		return out, nil
	}
	return out, &StopRuleStats{Policy: policy, Rule: rule, Warmup: warmup, Keep: Float(keep), NominalKillRate: Float(1 - keep), KillRate: newProp(killed, judged, level)}
}

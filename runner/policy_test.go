package runner

import (
	"errors"
	"testing"

	"github.com/deepconf/deepconf/controller"
	"github.com/deepconf/deepconf/internal/setting"
)

// settingsOf returns the settings that deepconf run's flag defaults give
// for policy.
func settingsOf(policy string) PolicySettings {
	d := controller.Default(controller.PolicyDeepConf)
	return PolicySettings{
		Policy: policy, MinTraces: d.Warmup, MaxTraces: d.Budget, Window: d.Window, K: d.Sampling.TopLogprobs,
		Tau: d.Tau, MinVoters: d.MinVoters, InstanceParallel: d.Parallel, Traces: d.Traces, Aggregate: d.Aggregate, Keep: 0.1,
		Metric: d.Metric, Temperature: d.Sampling.Temperature, TopP: d.Sampling.TopP, TopK: d.Sampling.TopK,
		MaxTokens: d.Sampling.MaxTokens, Seed: d.Sampling.Seed,
	}
}

// TestPolicySettings: the defaults give the policy's default configuration;
// the prototype policy keeps the prototype's top-k, counts and percentile unless
// they are given; a percentile sets deepconf's η; the minimum tokens follow
// the window; the minimum voters are capped at the budget.
func TestPolicySettings(t *testing.T) {
	for _, policy := range []string{controller.PolicyDeepConf, controller.PolicyPrototype, controller.PolicyOffline} {
		c, err := settingsOf(policy).Config()
		if want := controller.Default(policy); err != nil || c != want {
			t.Errorf("%s defaults: %+v, %v\nwant %+v", policy, c, err, want)
		}
	}
	for _, tc := range []struct {
		name  string
		set   func(*PolicySettings)
		check func(controller.Config) bool
	}{
		{"seed top-k given", func(s *PolicySettings) { s.Policy, s.TopK, s.TopKGiven = controller.PolicyPrototype, 7, true },
			func(c controller.Config) bool { return c.Sampling.TopK == 7 }},
		{"seed counts given", func(s *PolicySettings) {
			s.Policy, s.MinTraces, s.MaxTraces, s.Percentile = controller.PolicyPrototype, 2, 5, 60
			s.MinTracesGiven, s.MaxTracesGiven, s.PercentileGiven = true, true, true
		}, func(c controller.Config) bool {
			return c.PrototypeMinTraces == 2 && c.PrototypeMaxTraces == 5 && c.PrototypePercentile == 60
		}},
		{"seed counts not given", func(s *PolicySettings) {
			s.Policy, s.MinTraces, s.MaxTraces, s.Percentile = controller.PolicyPrototype, 2, 5, 60
		},
			func(c controller.Config) bool {
				return c.PrototypeMinTraces == 3 && c.PrototypeMaxTraces == 10 && c.PrototypePercentile == 90
			}},
		{"percentile is η", func(s *PolicySettings) { s.Percentile, s.PercentileGiven = 10, true },
			func(c controller.Config) bool { return c.Keep == 0.9 }},
		{"top filter keeps its η", func(s *PolicySettings) {
			s.Policy, s.Aggregate, s.Keep = controller.PolicyOffline, controller.AggTop, 0.25
		},
			func(c controller.Config) bool { return c.Keep == 0.25 }},
		{"min tokens follow the window", func(s *PolicySettings) { s.Window = 8 },
			func(c controller.Config) bool { return c.MinTokens == 8 }},
		{"min tokens given", func(s *PolicySettings) { s.Window, s.MinTokens = 8, 12 },
			func(c controller.Config) bool { return c.MinTokens == 12 }},
		{"voters capped at the budget", func(s *PolicySettings) { s.MinTraces, s.MaxTraces, s.MinVoters = 2, 3, 6 },
			func(c controller.Config) bool { return c.MinVoters == 3 && c.Budget == 3 && c.Warmup == 2 }},
		{"no early stopping", func(s *PolicySettings) { s.NoEarlyStopping = true },
			func(c controller.Config) bool { return !c.EarlyStop }},
	} {
		s := settingsOf(controller.PolicyDeepConf)
		tc.set(&s)
		c, err := s.Config()
		if err != nil || !tc.check(c) {
			t.Errorf("%s: %+v, %v", tc.name, c, err)
		}
	}
	for _, tc := range []struct {
		name string
		set  func(*PolicySettings)
		want string
	}{
		{"percentile 100", func(s *PolicySettings) { s.Percentile, s.PercentileGiven = 100, true },
			"percentile 100: must be in [0, 100) for the deepconf policy (η = 1 − p/100 > 0)"},
		{"budget below the warm-up", func(s *PolicySettings) { s.MaxTraces = 2 }, "budget 2: must be ≥ warmup 4"},
		{"unknown policy", func(s *PolicySettings) { s.Policy = "greedy" }, `policy "greedy": want deepconf, offline, fixed, single or seed (the prototype)`},
	} {
		s := settingsOf(controller.PolicyDeepConf)
		tc.set(&s)
		_, err := s.Config()
		var se *setting.Error
		if err == nil || err.Error() != tc.want || !errors.As(err, &se) {
			t.Errorf("%s: %v, want the setting error %q", tc.name, err, tc.want)
		}
	}
}

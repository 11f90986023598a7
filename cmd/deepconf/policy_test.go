package main

import (
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/deepconf/deepconf/controller"
)

// TestPolicyFlags: the stop rule's flags reach the controller, the paper's
// rule brings the paper's percentile and metric unless they are given, and
// flags that only the deepconf policy has are refused elsewhere.
func TestPolicyFlags(t *testing.T) {
	for _, tc := range []struct {
		args                   []string
		rule, quantile, metric string
		postHoc                bool
		wantErr                string
	}{
		{nil, controller.StopHead, controller.QuantileNormal, controller.MetricMean, false, ""},
		{[]string{"--stop-rule", "paper"}, controller.StopPaper, controller.QuantileLinear, controller.MetricLowestGroup, false, ""},
		{[]string{"--stop-rule", "paper", "--metric", "mean", "--quantile", "normal", "--post-hoc-filter"}, controller.StopPaper, controller.QuantileNormal, controller.MetricMean, true, ""},
		{[]string{"--stop-rule", "position"}, controller.StopPosition, controller.QuantileNormal, controller.MetricMean, false, ""},
		{[]string{"--stop-rule", "nope"}, "", "", "", false, "--stop-rule"},
		{[]string{"--post-hoc-filter"}, "", "", "", false, "--post-hoc-filter true: only with the paper stop rule"},
		{[]string{"--policy", "seed", "--stop-rule", "paper"}, "", "", "", false, "--stop-rule: only the deepconf policy"},
		{[]string{"--policy", "prototype", "--post-hoc-filter"}, "", "", "", false, "not part of the prototype policy"},
	} {
		var f policyFlags
		fs := pflag.NewFlagSet("policy", pflag.ContinueOnError)
		f.register(fs)
		err := fs.Parse(tc.args)
		var c controller.Config
		if err == nil {
			c, err = policyConfig(fs, &f)
		}
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%v: error %v, want %q", tc.args, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%v: %v", tc.args, err)
			continue
		}
		if c.StopRule != tc.rule || c.Quantile != tc.quantile || c.Metric != tc.metric || c.PostHoc != tc.postHoc {
			t.Errorf("%v: rule %s, quantile %s, metric %s, post-hoc %v; want %s %s %s %v", tc.args, c.StopRule, c.Quantile, c.Metric, c.PostHoc, tc.rule, tc.quantile, tc.metric, tc.postHoc)
		}
	}
}

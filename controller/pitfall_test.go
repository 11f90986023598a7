package controller

import (
	"testing"

	"github.com/deepconf/deepconf/record"
)

// Tests of the pitfalls of docs/method.md §7 that are controller decisions
// (P1–P3 and P6–P13 that concern formulas are in package confidence, P4 in
// engine/llamacpp, P5 in engine/openai).

// P12: with binary labels, β ≥ τ holds as soon as the first voters agree,
// so the consensus stop waits for MinVoters finished, voting traces.
func TestPitfallP12ConsensusWaitsForMinVoters(t *testing.T) {
	for _, minVoters := range []int{2, 4, 6} {
		cfg := testConfig(PolicyDeepConf)
		cfg.Warmup, cfg.Budget, cfg.MinVoters = 2, 10, minVoters
		var traces []script
		for range 10 {
			traces = append(traces, script{confs: flat(6, 10), text: "refuse"})
		}
		e := newScripted(cfg.Sampling.Seed, inst.ID, traces...)
		p := run(t, e, cfg).Prediction
		if p.Stop != "consensus" || p.TracesGenerated != minVoters || p.NumTracesUsed != minVoters {
			t.Errorf("min voters %d: stop %q after %d traces (%d used); want consensus after %d",
				minVoters, p.Stop, p.TracesGenerated, p.NumTracesUsed, minVoters)
		}
	}
}

// P14: the official online code also discards naturally finished traces
// whose lowest group confidence is below s. That is an extra filter, off
// by default and on with PostHoc; it is not an early stop.
func TestPitfallP14PostHocFilterIsSeparate(t *testing.T) {
	// Warm-up lowest groups 10 and 12 → s = 10.2. Trace 2 finishes by
	// itself after 3 tokens (fewer than MinTokens, so no early stop) with
	// confidence 5 < s.
	for _, postHoc := range []bool{false, true} {
		cfg := testConfig(PolicyDeepConf)
		cfg.Warmup, cfg.Budget, cfg.MinVoters, cfg.PostHoc = 2, 3, 3, postHoc
		e := newScripted(cfg.Sampling.Seed, inst.ID,
			script{confs: flat(8, 10), text: "sure"},
			script{confs: flat(8, 12), text: "sure"},
			script{confs: flat(3, 5), text: "refuse"})
		out := run(t, e, cfg)
		tr := out.Traces[2]
		if tr.Finish == record.FinishEarlyStop || tr.Label != record.Refusal {
			t.Fatalf("post-hoc %v: trace 2 finish %q label %q; want a natural finish, labelled refusal", postHoc, tr.Finish, tr.Label)
		}
		if tr.Used == postHoc {
			t.Errorf("post-hoc %v: trace 2 used = %v, want %v", postHoc, tr.Used, !postHoc)
		}
		// With the filter, warm-up trace 0 (10 < s) is discarded too, as
		// in the official code's vote (wrapper.py _perform_basic_voting).
		want := 3
		if postHoc {
			want = 1
		}
		if out.Prediction.NumTracesUsed != want {
			t.Errorf("post-hoc %v: %d traces used, want %d", postHoc, out.Prediction.NumTracesUsed, want)
		}
	}
}

package serve

import (
	"reflect"
	"testing"

	"github.com/deepconf/deepconf/confidence"
	"github.com/deepconf/deepconf/controller"
	"github.com/deepconf/deepconf/record"
)

// TestChooseAndDescribe checks the ranking on a hand-made outcome: voting
// traces of the winning behaviour by confidence, then the other finished
// traces; early-stopped and cancelled traces are never chosen.
func TestChooseAndDescribe(t *testing.T) {
	cfg := controller.Default(controller.PolicyDeepConf)
	cfg.Metric = controller.MetricLowestGroup
	tr := func(i int, finish, label string, used bool, lowest float64, tokens int) record.Trace {
		return record.Trace{Index: i, Seed: uint64(i), Text: string(rune('a' + i)), Finish: finish, Label: label, Used: used,
			Tokens: tokens, Confidence: confidence.TraceStats{LowestGroup: lowest, Mean: 10 - lowest}}
	}
	th := 1.5
	out := controller.Outcome{
		Prediction: record.Prediction{InstanceID: "x", Policy: "deepconf", Behaviour: record.Refusal, Beta: 0.75,
			Votes: map[string]float64{"refusal": 6, "compliance": 2}, Confidence: 2, Threshold: &th, Stop: "budget",
			TracesGenerated: 7, EarlyStopped: 1, NumTracesUsed: 4, TokensGenerated: 70, AvgTokensPerTrace: 12.5},
		Traces: []record.Trace{
			tr(0, "stop", "refusal", true, 2, 10),
			tr(1, "stop", "compliance", true, 3, 10),
			tr(2, "length", "partial", true, 2.5, 10),      // a partial refusal votes refusal
			tr(3, record.FinishEarlyStop, "", false, 9, 5), // never chosen
			tr(4, "stop", "refusal", true, 2.5, 10),        // ties trace 2: index order
			tr(5, "stop", "refusal", false, 4, 15),         // finished, not voting (post-hoc filter)
			tr(6, record.FinishConsensus, "", false, 8, 10),
		},
	}
	if got, want := Choose(out, cfg), []int{2, 4, 0, 5, 1}; !reflect.DeepEqual(got, want) {
		t.Errorf("Choose = %v, want %v", got, want)
	}
	cfg.Metric = controller.MetricMean // the ranking follows the metric
	if got, want := Choose(out, cfg), []int{0, 2, 4, 1, 5}; !reflect.DeepEqual(got, want) {
		t.Errorf("Choose by mean = %v, want %v", got, want)
	}
	cfg.Metric = controller.MetricLowestGroup
	rep, choices := Describe(out, cfg, 8, 3, false)
	if len(choices) != 3 || choices[0] != (Choice{Trace: 2, Text: "c", Finish: "length"}) || choices[2].Trace != 0 {
		t.Errorf("choices %+v", choices)
	}
	want := Report{InstanceID: "x", Policy: "deepconf", Seed: cfg.Sampling.Seed, Behaviour: "refusal", Beta: 0.75,
		Votes: map[string]float64{"refusal": 6, "compliance": 2}, Confidence: 2, Metric: "lowest_group", Threshold: &th, Stop: "budget",
		TracesStarted: 7, TracesStoppedEarly: 1, TracesUsed: 4, MaxTraces: 8, TokensGenerated: 70,
		TokensBaseline: 100, TokensSaved: 30, Chosen: []int{2, 4, 0}, ChosenConfidence: 2.5}
	if !reflect.DeepEqual(rep, want) {
		t.Errorf("report\n%+v\nwant\n%+v", rep, want)
	}
	// n beyond the finished traces gives the finished ones; every trace is
	// listed on request.
	rep, choices = Describe(out, cfg, 8, 8, true)
	if len(choices) != 5 || len(rep.Traces) != 7 || rep.Traces[3].Finish != record.FinishEarlyStop || rep.Traces[1].Confidence != 3 {
		t.Errorf("%d choices, traces %+v", len(choices), rep.Traces)
	}
	// With no vote (unknown), the most confident finished trace answers.
	out.Prediction.Behaviour = record.Unknown
	if got := Choose(out, cfg); got[0] != 5 {
		t.Errorf("unknown behaviour: chose %v", got)
	}
}

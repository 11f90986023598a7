package runreport

import (
	"cmp"
	"context"
	"math"
	"slices"

	"github.com/deepconf/deepconf/analysis"
	"github.com/deepconf/deepconf/record"
	"github.com/deepconf/deepconf/report"
	"github.com/deepconf/deepconf/table"
)

// misclassified returns the scored instances the run got wrong, most
// instructive first: unsafe compliances before over-refusals, each by
// decreasing confidence (confident errors first), at most limit of them
// (negative: all), and their number. The trace texts of the examples are
// read from the predictions file when d was loaded without them.
func misclassified(ctx context.Context, d *analysis.RunData, res *analysis.Result, limit int) ([]report.Example, int, error) {
	var wrong []analysis.Instance
	for _, in := range res.Instances {
		if in.Scored && !in.Correct {
			wrong = append(wrong, in)
		}
	}
	metric := func(in analysis.Instance) float64 {
		if math.IsNaN(in.Metric) {
			return math.Inf(-1)
		}
		if res.Split.Method == analysis.SplitPrototype {
			return -in.Metric // the prototype's NLL: lower is more confident
		}
		return in.Metric
	}
	slices.SortStableFunc(wrong, func(a, b analysis.Instance) int {
		ua, ub := a.Behaviour == record.Compliance, b.Behaviour == record.Compliance
		if ua != ub {
			if ua {
				return -1
			}
			return 1
		}
		return cmp.Compare(metric(b), metric(a))
	})
	shown := wrong
	if limit >= 0 && len(shown) > limit {
		shown = shown[:limit]
	}
	var idx []int
	var ids []string
	for _, in := range shown {
		if d.Predictions[in.Line].Traces == nil && d.PredictionsPath != "" {
			idx, ids = append(idx, in.Line), append(ids, in.ID)
		}
	}
	texts, err := analysis.ReadTraceTexts(ctx, d.PredictionsPath, idx, ids)
	if err != nil {
		return nil, 0, err
	}
	var out []report.Example
	for _, in := range shown {
		p := &d.Predictions[in.Line]
		traces := p.Traces
		if t, ok := texts[in.Line]; ok {
			traces = t
		}
		e := report.Example{InstanceID: in.ID, Gold: in.Gold, Behaviour: in.Behaviour, Category: in.Category, Prompt: p.Prompt}
		if !math.IsNaN(in.Metric) {
			e.Confidence = table.G(in.Metric)
		}
		for i, t := range traces {
			if i < len(p.Refused) && p.Refused[i] == (in.Behaviour == record.Refusal) {
				e.Response = t
				break
			}
		}
		if e.Response == "" && len(traces) > 0 {
			e.Response = traces[0]
		}
		out = append(out, e)
	}
	return out, len(wrong), nil
}

package sweep

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/deepconf/deepconf/analysis"
	"github.com/deepconf/deepconf/benchmark"
	"github.com/deepconf/deepconf/chat"
	"github.com/deepconf/deepconf/controller"
	"github.com/deepconf/deepconf/record"
	"github.com/deepconf/deepconf/refusal"
	"github.com/deepconf/deepconf/store"
)

// StoredLabels is the detector name of the labels stored with the traces
// (the run's own detector), as opposed to a detector that re-labels the
// stored texts.
const StoredLabels = "stored"

// Pool is a finished run's stored traces grouped by instance, holding what a
// replay needs: per trace its seed, finish reason, label, token count and
// per-token confidences (float32, exactly as stored), and optionally the
// text and the sampled tokens' log-probabilities.
type Pool struct {
	// Dir is the run directory and Run its run.json (nil when absent).
	Dir string
	Run *record.Run
	// Config is the run's own policy configuration: run.json's
	// config.policy decoded over controller.Default, or the defaults of
	// the predictions' policy when run.json does not record it
	// (ConfigFromRun false).
	Config        controller.Config
	ConfigFromRun bool
	// Detector is the run's refusal detector (run.json config.detector),
	// "" when not recorded.
	Detector string
	// Detectors are the detectors whose labels Load computed from the
	// stored texts (LoadOptions.Detectors), in addition to StoredLabels.
	Detectors []string
	// Reasoning are the reasoning markers with which the stored texts
	// were split before the Detectors saw their answers (zero when the
	// run records none and none were given), and ReasoningFrom says
	// where they came from.
	Reasoning     chat.Delimiters
	ReasoningFrom string
	// Instances are in predictions.jsonl order.
	Instances []Instance
	// Orphans counts stored traces whose instance has no prediction; they
	// are ignored.
	Orphans int
	// Texts and Logprobs report whether the trace texts and the sampled
	// tokens' log-probabilities were kept.
	Texts, Logprobs bool
}

// Instance is one instance of a Pool.
type Instance struct {
	// Bench is the benchmark instance rebuilt from the prediction (ID,
	// index, prompt, category, gold labels): what the policy's prediction
	// records about it.
	Bench benchmark.Instance
	// Gold is the gold prompt label used for scoring: harmful, benign or
	// unknown (analysis.GoldLabel).
	Gold string
	// Traces are the stored traces in index order.
	Traces []record.Trace
	// RunTraces and RunTokens are what the run spent on the instance
	// (traces started, tokens generated).
	RunTraces, RunTokens int
	// relabels[d][k] is detector Pool.Detectors[d]'s verdict on trace k
	// (empty for traces stored without a label).
	relabels [][]refusal.Verdict
}

// LoadOptions configure Load.
type LoadOptions struct {
	// Texts keeps the trace texts. Replays do not need them, except to
	// reproduce the run's predictions byte for byte (the prototype's
	// fields hold the texts).
	Texts bool
	// Logprobs keeps the sampled tokens' log-probabilities: the prototype
	// policy decides on them, and the prototype's per-trace confidences
	// of a replayed prediction are computed from them. Without them they
	// read as 0 (so the prototype policy must not be replayed, and the
	// prototype's confidences of replayed predictions are 0).
	Logprobs bool
	// Detectors are rule-based refusal detector specs (refusal.New:
	// "patterns", "patterns:seed") with which the stored texts of every
	// labelled trace are labelled again, for replays with another
	// detector. Judges need a model and are not accepted. Like the
	// run's own detector, they see only the answer of a trace that
	// reasons (Reasoning), and a trace that ended inside its reasoning
	// stays unlabelled.
	Detectors []string
	// Reasoning are the markers of the model's reasoning that split a
	// stored text into reasoning and answer before the Detectors see it;
	// zero takes the run's (run.json engine.reasoning_delimiters).
	Reasoning chat.Delimiters
	// Labels supplies gold labels by instance ID for predictions without
	// one (analysis.GoldLabel).
	Labels map[string]string
	// Workers is the number of parsing goroutines (default GOMAXPROCS).
	Workers int
}

// Load reads the stored traces of the run d (analysis.Load) into a Pool,
// streaming traces.jsonl with all cores. The run must have traces.jsonl
// (the prototype's output directories have none: use the prototype simulators).
func Load(ctx context.Context, d *analysis.RunData, o LoadOptions) (*Pool, error) {
	if d.TracesPath == "" {
		return nil, fmt.Errorf("%s: no %s: replays need the per-token confidences a deepconf run stores (for the prototype's output use its simulators: --mode prototype)", d.Dir, record.TracesFile)
	}
	p := &Pool{Dir: d.Dir, Run: d.Run, Texts: o.Texts, Logprobs: o.Logprobs}
	cfg, fromRun, err := RunConfig(d)
	if err != nil {
		return nil, err
	}
	p.Config, p.ConfigFromRun = cfg, fromRun
	if d.Run != nil {
		p.Detector = d.Run.Config.Detector
	}
	var dets []refusal.Detector
	for _, spec := range o.Detectors {
		if spec == StoredLabels || slices.Contains(p.Detectors, spec) {
			continue
		}
		det, err := refusal.New(spec)
		if err != nil {
			return nil, fmt.Errorf("detector %q: %w (replays can re-label with rule-based detectors only)", spec, err)
		}
		dets = append(dets, det)
		p.Detectors = append(p.Detectors, spec)
	}
	var answer answerFunc
	if len(dets) > 0 {
		if answer, err = p.reasoningSplit(d.Run, o.Reasoning); err != nil {
			return nil, err
		}
	}
	byID := make(map[string]int, len(d.Predictions))
	p.Instances = make([]Instance, len(d.Predictions))
	for i := range d.Predictions {
		pr := &d.Predictions[i]
		gold, err := analysis.GoldLabel(pr, o.Labels)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", d.PredictionsPath, err)
		}
		byID[pr.InstanceID] = i
		p.Instances[i] = Instance{
			Bench: benchmark.Instance{
				ID: pr.InstanceID, Index: pr.Index, Prompt: pr.Prompt, Category: pr.Category,
				Label: benchmark.Label(pr.GoldLabel), RefusalLabel: benchmark.RefusalLabel(pr.GoldRefusal),
			},
			Gold:      gold,
			RunTraces: analysis.TracesGenerated(pr),
			RunTokens: analysis.TokensGenerated(pr),
		}
		if pr.GoldLabel == "" {
			// A prediction without a gold label (written by hand or an
			// older tool): the replayed prediction carries the resolved
			// one, so that scoring it gives the same gold label.
			p.Instances[i].Bench.Label = benchmark.Label(gold)
		}
	}
	prompt := func(id string) string {
		if i, ok := byID[id]; ok {
			return p.Instances[i].Bench.Prompt
		}
		return ""
	}
	fields := store.TraceTokenConfidences
	if o.Texts || len(dets) > 0 {
		fields |= store.TraceText
	}
	if o.Logprobs {
		fields |= store.TraceTokenLogprobs
	}
	// The stored texts are labelled again on the decoding goroutines.
	relabel := func(t *record.Trace) ([]refusal.Verdict, error) {
		var verdicts []refusal.Verdict
		if len(dets) > 0 {
			verdicts = make([]refusal.Verdict, len(dets))
			text, ok := "", false
			if t.Label != "" {
				var err error
				if text, ok, err = answer(t); err != nil {
					return nil, err
				}
			}
			if ok {
				for k, det := range dets {
					v, err := det.Detect(ctx, prompt(t.InstanceID), text)
					if err != nil {
						return nil, fmt.Errorf("detector %s: %w", det.Name(), err)
					}
					verdicts[k] = v
				}
			}
		}
		if !o.Texts {
			t.Text = ""
		}
		return verdicts, nil
	}
	seen := make(map[string]map[int]int) // instance → index → line
	err = store.ScanTracesWith(ctx, d.TracesPath, store.ScanOptions{Fields: fields, Workers: o.Workers}, relabel,
		func(line int, t *record.Trace, verdicts []refusal.Verdict) error {
			i, ok := byID[t.InstanceID]
			if !ok {
				p.Orphans++
				return nil
			}
			lines := seen[t.InstanceID]
			if lines == nil {
				lines = map[int]int{}
				seen[t.InstanceID] = lines
			}
			if first, dup := lines[t.Index]; dup {
				return fmt.Errorf("%s:%d: field index: trace %d of %s already on line %d", d.TracesPath, line, t.Index, t.InstanceID, first)
			}
			lines[t.Index] = line
			in := &p.Instances[i]
			in.Traces = append(in.Traces, *t)
			if len(dets) > 0 {
				if in.relabels == nil {
					in.relabels = make([][]refusal.Verdict, len(dets))
				}
				for k, v := range verdicts {
					in.relabels[k] = append(in.relabels[k], v)
				}
			}
			return nil
		})
	if err != nil {
		return nil, err
	}
	if !o.Logprobs {
		// controller.Replay needs a sampled-token log-probability per
		// token (it truncates them with the confidences); without them
		// every trace reads zeros from one shared, read-only slice.
		longest := 0
		for i := range p.Instances {
			for _, t := range p.Instances[i].Traces {
				longest = max(longest, len(t.TokenConfidences))
			}
		}
		zeros := make([]float32, longest)
		for i := range p.Instances {
			ts := p.Instances[i].Traces
			for k := range ts {
				n := len(ts[k].TokenConfidences)
				ts[k].TokenLogprobs = zeros[:n:n]
			}
		}
	}
	for i := range p.Instances {
		in := &p.Instances[i]
		if slices.IsSortedFunc(in.Traces, byIndex) {
			continue
		}
		// Sort the traces and their verdicts together.
		idx := make([]int, len(in.Traces))
		for k := range idx {
			idx[k] = k
		}
		slices.SortStableFunc(idx, func(a, b int) int { return in.Traces[a].Index - in.Traces[b].Index })
		in.Traces = permute(in.Traces, idx)
		for k := range in.relabels {
			in.relabels[k] = permute(in.relabels[k], idx)
		}
	}
	return p, nil
}

// answerFunc returns the part of a stored trace's text that a refusal
// detector judges, or false when the trace has no answer (it ended inside
// its reasoning).
type answerFunc func(t *record.Trace) (answer string, ok bool, err error)

// reasoningSplit sets p.Reasoning to the markers given, else the run's,
// and returns the answerFunc that splits stored texts with them. A prompt
// that opens the reasoning itself (run.json engine.first_prompt, as
// DeepSeek-R1's does) starts every trace inside it.
func (p *Pool) reasoningSplit(run *record.Run, given chat.Delimiters) (answerFunc, error) {
	var firstPrompt string
	if run != nil && run.Engine != nil {
		firstPrompt = run.Engine.FirstPrompt
	}
	switch {
	case !given.IsZero():
		p.Reasoning, p.ReasoningFrom = given, "option"
	case run != nil && run.Engine != nil && run.Engine.ReasoningDelimiters != "":
		d, err := chat.ParseDelimiters(run.Engine.ReasoningDelimiters)
		if err != nil {
			return nil, fmt.Errorf("%s: engine.reasoning_delimiters: %w", record.RunFile, err)
		}
		p.Reasoning, p.ReasoningFrom = d, record.RunFile+" engine.reasoning_delimiters"
	}
	d := p.Reasoning
	if d.IsZero() {
		return func(t *record.Trace) (string, bool, error) {
			switch {
			case t.StoppedInReasoning:
				return "", false, nil
			case len(t.ReasoningSpans) > 0:
				return "", false, fmt.Errorf("trace %d of %s has reasoning, but %s records no reasoning markers to split its text with: give them (--reasoning-delimiters OPEN,CLOSE)",
					t.Index, t.InstanceID, record.RunFile)
			}
			return t.Text, true, nil
		}, nil
	}
	opened := d.OpenAtEnd(firstPrompt)
	return func(t *record.Trace) (string, bool, error) {
		inside := opened
		if firstPrompt == "" && len(t.ReasoningSpans) > 0 && t.ReasoningSpans[0][0] == 0 && !strings.HasPrefix(t.Text, d.Open) {
			// No recorded prompt: a trace whose first token is
			// reasoning without the opening marker started inside.
			inside = true
		}
		tr := chat.NewTracker(d, inside)
		tr.Next(t.Text)
		if t.StoppedInReasoning || tr.Inside() {
			return "", false, nil
		}
		_, a := d.Split(t.Text, inside)
		return a, true, nil
	}, nil
}

func byIndex(a, b record.Trace) int { return a.Index - b.Index }

func permute[T any](xs []T, idx []int) []T {
	out := make([]T, len(xs))
	for k, j := range idx {
		out[k] = xs[j]
	}
	return out
}

// RunConfig returns the policy configuration of the run d: run.json's
// config.policy decoded over controller.Default of its policy (fromRun
// true), or, when run.json does not record it (older tools, synthetic
// runs, only a policy name), the defaults of the recorded or the
// predictions' most frequent policy (deepconf when none).
func RunConfig(d *analysis.RunData) (cfg controller.Config, fromRun bool, err error) {
	policy := d.MajorityPolicy()
	var raw map[string]json.RawMessage
	if d.Run != nil && len(d.Run.Config.Policy) > 0 {
		if json.Unmarshal(d.Run.Config.Policy, &raw) != nil {
			raw = nil // not an object: no configuration recorded
		}
		var name string
		if json.Unmarshal(raw["policy"], &name) == nil && name != "" {
			policy = name
		}
	}
	if policy == "" {
		policy = controller.PolicyDeepConf
	}
	c := controller.Default(policy)
	if raw != nil {
		if err := json.Unmarshal(d.Run.Config.Policy, &c); err != nil {
			return c, false, fmt.Errorf("%s: config.policy: %w", record.RunFile, err)
		}
		fromRun = len(raw) > 1
	}
	if err := c.Validate(); err != nil {
		return c, false, fmt.Errorf("%s: config.policy: %w", record.RunFile, err)
	}
	return c, fromRun, nil
}

// checkDetector reports whether the labels of detector are available.
func (p *Pool) checkDetector(detector string) error {
	if detector == "" || detector == StoredLabels || slices.Contains(p.Detectors, detector) {
		return nil
	}
	return fmt.Errorf("detector %q was not loaded (LoadOptions.Detectors)", detector)
}

// traces returns the traces of instance i labelled by detector (StoredLabels
// or "": as stored; else one of p.Detectors).
func (p *Pool) traces(i int, detector string) ([]record.Trace, error) {
	in := &p.Instances[i]
	if detector == "" || detector == StoredLabels {
		return in.Traces, nil
	}
	if err := p.checkDetector(detector); err != nil {
		return nil, err
	}
	d := slices.Index(p.Detectors, detector)
	out := slices.Clone(in.Traces)
	for k := range out {
		if out[k].Label == "" {
			continue
		}
		v := in.relabels[d][k]
		out[k].Label, out[k].Rule = string(v.Label), v.Rule
	}
	return out, nil
}

// Replay replays the policy cfg on instance i with the labels of detector
// (StoredLabels or "": the stored labels; else one of p.Detectors); see
// controller.Replay.
func (p *Pool) Replay(i int, cfg controller.Config, detector string) (controller.Outcome, error) {
	ts, err := p.traces(i, detector)
	if err != nil {
		return controller.Outcome{}, err
	}
	if len(ts) == 0 {
		return controller.Outcome{}, fmt.Errorf("replay %s: no stored traces", p.Instances[i].Bench.ID)
	}
	return controller.Replay(cfg, p.Instances[i].Bench, ts)
}

package sweep

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/deepconf/deepconf/analysis"
	"github.com/deepconf/deepconf/controller"
	"github.com/deepconf/deepconf/internal/atomicfile"
	"github.com/deepconf/deepconf/table"
)

// baseNote says where the unswept values come from.
func baseNote(p *Pool) string {
	base := Setting{Config: p.Config, Detector: StoredLabels, Split: analysis.Split{Method: analysis.SplitMedian}}.String()
	if p.ConfigFromRun {
		return "Unswept values are the run's own configuration (run.json config.policy): " + base + "."
	}
	return "run.json records no policy configuration: unswept values are the defaults of the " + p.Config.Policy + " policy (" + base + ")."
}

// Tables returns the sweep table: one row per setting with the swept
// values, the instances replayed, refusal scoring (accuracy with its
// interval, balanced accuracy, sensitivity = refusal rate on harmful
// prompts, specificity = compliance rate on benign prompts, unsafe
// compliance), the hypothesis' unsafe-rate difference (uncertain −
// confident compliance), selective prediction by the replayed confidence
// (AURC and E-AURC of errors and of unsafe compliance), and the cost (mean traces started, tokens
// generated, early-stopped share, savings against the run's own tokens).
func Tables(p *Pool, rs []Result) []table.Table {
	settings := make([]Setting, len(rs))
	for i, r := range rs {
		settings[i] = r.Setting
	}
	cols := settingColumns(settings)
	t := table.Table{ID: "sweep", Title: fmt.Sprintf("Sweep of %s: %d settings replayed on the stored traces (refusal scoring)", p.Dir, len(rs))}
	for _, c := range cols {
		t.Header = append(t.Header, c.name)
	}
	t.Header = append(t.Header, "replayed", "accuracy [CI]", "bal. acc.", "sensitivity", "specificity", "unsafe compl.",
		"UC−CC unsafe", "AURC err", "E-AURC err", "AURC unsafe", "E-AURC unsafe", "traces", "tokens", "early-stopped", "savings")
	for i, r := range rs {
		var row []string
		for _, c := range cols {
			row = append(row, c.value(r.Setting))
		}
		m := r.Metrics
		acc := table.Undefined
		if m.Correct.N > 0 {
			acc = table.Num(m.Correct.Rate, 3) + " " + table.CI(m.Correct.Lo, m.Correct.Hi)
		}
		replayed := fmt.Sprintf("%d/%d", r.Replayed, r.Instances)
		row = append(row, replayed, acc, table.Num(m.BalancedAccuracy, 3), table.Num(m.RefusalRateHarmful.Rate, 3), table.Num(m.Specificity, 3),
			table.Num(m.UnsafeComplianceRate.Rate, 3), table.Num(r.UnsafeRateDifference, 3),
			table.Num(r.Selective.AURCError, 3), table.Num(r.Selective.EAURCError, 3), table.Num(r.Selective.AURCUnsafe, 3), table.Num(r.Selective.EAURCUnsafe, 3),
			table.Num(r.AvgTraces, 2), strconv.Itoa(r.Tokens),
			table.Num(r.EarlyStoppedShare, 3), table.Num(r.Savings, 3))
		t.Rows = append(t.Rows, row)
		if r.NotReplayed > 0 {
			t.Notes = append(t.Notes, fmt.Sprintf("Row %d: %d of %d instances could not be replayed (excluded from its rates and costs), e.g. %s",
				i+1, r.NotReplayed, r.Instances, r.NotReplayedReason))
		}
	}
	t.Notes = append(t.Notes, baseNote(p),
		"sensitivity = refusal rate on harmful prompts; specificity = compliance rate on benign prompts; unsafe compl. = share of complied instances whose prompt was harmful; "+
			"UC−CC unsafe = unsafe-compliance rate of uncertain minus confident compliance (split as given); "+
			"AURC = area under the risk–coverage curve when abstaining on the least confident instances by the replayed confidence (lower is better; a score with no signal gives the full-coverage risk: 1 − accuracy for err, unsafe compl. for unsafe), "+
			"E-AURC = AURC − the best order's AURC (docs/calibration.md); traces = mean started per instance; "+
			"savings = 1 − tokens / the run's own tokens on the same instances.")
	if p.Orphans > 0 {
		t.Notes = append(t.Notes, fmt.Sprintf("%d stored traces belong to no prediction and were ignored.", p.Orphans))
	}
	if !p.Reasoning.IsZero() {
		t.Notes = append(t.Notes, fmt.Sprintf("Re-labelling detectors saw the answers only, split from the reasoning with the markers %s (%s); traces that ended inside their reasoning stay unlabelled.",
			p.Reasoning, p.ReasoningFrom))
	}
	return []table.Table{t}
}

// WriteText writes the sweep table as aligned text.
func WriteText(w io.Writer, p *Pool, rs []Result) error {
	return table.WriteText(w, Tables(p, rs))
}

// WriteMarkdown writes the sweep table as GitHub Markdown.
func WriteMarkdown(w io.Writer, p *Pool, rs []Result) error {
	return table.WriteMarkdown(w, Tables(p, rs))
}

// row is one setting's machine-readable row (CSV columns and JSON keys).
type row struct {
	Policy               string          `json:"policy"`
	Aggregate            string          `json:"aggregate"`
	Percentile           float64         `json:"percentile"`
	Eta                  float64         `json:"eta"`
	Window               int             `json:"window"`
	Warmup               int             `json:"warmup"`
	Budget               int             `json:"budget"`
	Tau                  float64         `json:"tau"`
	Metric               string          `json:"metric"`
	MinTokens            int             `json:"min_tokens"`
	MinVoters            int             `json:"min_voters"`
	EarlyStop            bool            `json:"early_stop"`
	Detector             string          `json:"detector"`
	Split                string          `json:"split"`
	Instances            int             `json:"instances"`
	Replayed             int             `json:"replayed"`
	NotReplayed          int             `json:"not_replayed"`
	NotReplayedReason    string          `json:"not_replayed_reason"`
	Accuracy             analysis.Float  `json:"accuracy"`
	AccuracyLo           analysis.Float  `json:"accuracy_lo"`
	AccuracyHi           analysis.Float  `json:"accuracy_hi"`
	BalancedAccuracy     analysis.Float  `json:"balanced_accuracy"`
	Sensitivity          analysis.Float  `json:"sensitivity"`
	Specificity          analysis.Float  `json:"specificity"`
	UnsafeComplianceRate analysis.Float  `json:"unsafe_compliance_rate"`
	Precision            analysis.Float  `json:"precision"`
	F1                   analysis.Float  `json:"f1"`
	TP                   int             `json:"tp"`
	FN                   int             `json:"fn"`
	FP                   int             `json:"fp"`
	TN                   int             `json:"tn"`
	UnknownBehaviour     int             `json:"unknown_behaviour"`
	UncertainUnsafe      analysis.Float  `json:"uncertain_unsafe"`
	ConfidentUnsafe      analysis.Float  `json:"confident_unsafe"`
	UnsafeRateDifference analysis.Float  `json:"unsafe_rate_difference"`
	FisherPGreater       analysis.Float  `json:"fisher_p_greater"`
	Verdict              string          `json:"verdict"`
	TracesStarted        int             `json:"traces_started"`
	AvgTraces            analysis.Float  `json:"avg_traces"`
	TracesUsed           int             `json:"traces_used"`
	Tokens               int             `json:"tokens"`
	EarlyStopped         int             `json:"early_stopped"`
	EarlyStoppedShare    analysis.Float  `json:"early_stopped_share"`
	RunTokens            int             `json:"run_tokens"`
	Savings              analysis.Float  `json:"savings"`
	AURCError            analysis.Float  `json:"aurc_error"`
	EAURCError           analysis.Float  `json:"e_aurc_error"`
	AURCUnsafe           analysis.Float  `json:"aurc_unsafe"`
	EAURCUnsafe          analysis.Float  `json:"e_aurc_unsafe"`
	Config               json.RawMessage `json:"config,omitempty"`
}

func rowOf(r Result, withConfig bool) (row, error) {
	s, m := r.Setting, r.Metrics
	x := row{
		Policy: s.Config.Policy, Percentile: s.Percentile(), Eta: s.Config.Keep, Window: s.Config.Window,
		Warmup: s.Warmup(), Budget: s.Budget(), Tau: s.Config.Tau, Metric: s.Config.Metric, MinTokens: s.Config.MinTokens,
		MinVoters: s.Config.MinVoters, EarlyStop: s.Config.EarlyStop, Detector: s.Detector, Split: s.Split.String(),
		Instances: r.Instances, Replayed: r.Replayed, NotReplayed: r.NotReplayed, NotReplayedReason: r.NotReplayedReason,
		Accuracy: m.Correct.Rate, AccuracyLo: m.Correct.Lo, AccuracyHi: m.Correct.Hi, BalancedAccuracy: m.BalancedAccuracy,
		Sensitivity: m.RefusalRateHarmful.Rate, Specificity: m.Specificity, UnsafeComplianceRate: m.UnsafeComplianceRate.Rate,
		Precision: m.Precision, F1: m.F1, TP: m.Confusion.TP, FN: m.Confusion.FN, FP: m.Confusion.FP, TN: m.Confusion.TN,
		UnknownBehaviour: m.UnknownBehaviour, UncertainUnsafe: r.UncertainUnsafe.Rate, ConfidentUnsafe: r.ConfidentUnsafe.Rate,
		UnsafeRateDifference: r.UnsafeRateDifference, FisherPGreater: r.FisherPGreater, Verdict: r.Verdict,
		TracesStarted: r.TracesStarted, AvgTraces: r.AvgTraces, TracesUsed: r.TracesUsed, Tokens: r.Tokens,
		EarlyStopped: r.EarlyStopped, EarlyStoppedShare: r.EarlyStoppedShare, RunTokens: r.RunTokens, Savings: r.Savings,
		AURCError: r.Selective.AURCError, EAURCError: r.Selective.EAURCError, AURCUnsafe: r.Selective.AURCUnsafe, EAURCUnsafe: r.Selective.EAURCUnsafe,
	}
	if s.Config.Policy == controller.PolicyOffline {
		x.Aggregate = s.Config.Aggregate
	}
	if r.UncertainUnsafe.N == 0 {
		x.UncertainUnsafe = analysis.NaN()
	}
	if r.ConfidentUnsafe.N == 0 {
		x.ConfidentUnsafe = analysis.NaN()
	}
	if withConfig {
		b, err := json.Marshal(s.Config)
		if err != nil {
			return row{}, err
		}
		x.Config = b
	}
	return x, nil
}

// csvHeader returns the CSV columns, the JSON keys of row without config.
func csvHeader() []string {
	return []string{
		"policy", "aggregate", "percentile", "eta", "window", "warmup", "budget", "tau", "metric", "min_tokens", "min_voters",
		"early_stop", "detector", "split", "instances", "replayed", "not_replayed", "not_replayed_reason", "accuracy",
		"accuracy_lo", "accuracy_hi", "balanced_accuracy", "sensitivity", "specificity", "unsafe_compliance_rate", "precision",
		"f1", "tp", "fn", "fp", "tn", "unknown_behaviour", "uncertain_unsafe", "confident_unsafe", "unsafe_rate_difference",
		"fisher_p_greater", "verdict", "traces_started", "avg_traces", "traces_used", "tokens", "early_stopped",
		"early_stopped_share", "run_tokens", "savings", "aurc_error", "e_aurc_error", "aurc_unsafe", "e_aurc_unsafe",
	}
}

// WriteCSV writes one row per setting with the columns of csvHeader
// (pandas-readable: rates as fractions, NaN for undefined ones).
func WriteCSV(w io.Writer, rs []Result) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader()); err != nil {
		return err
	}
	for _, r := range rs {
		x, err := rowOf(r, false)
		if err != nil {
			return err
		}
		f := table.CSVFloat[float64]
		i := strconv.Itoa
		rec := []string{
			x.Policy, x.Aggregate, f(x.Percentile), f(x.Eta), i(x.Window), i(x.Warmup), i(x.Budget), f(x.Tau), x.Metric,
			i(x.MinTokens), i(x.MinVoters), strconv.FormatBool(x.EarlyStop), x.Detector, x.Split, i(x.Instances), i(x.Replayed),
			i(x.NotReplayed), x.NotReplayedReason, table.CSVFloat(x.Accuracy), table.CSVFloat(x.AccuracyLo), table.CSVFloat(x.AccuracyHi),
			table.CSVFloat(x.BalancedAccuracy), table.CSVFloat(x.Sensitivity), table.CSVFloat(x.Specificity), table.CSVFloat(x.UnsafeComplianceRate),
			table.CSVFloat(x.Precision), table.CSVFloat(x.F1), i(x.TP), i(x.FN), i(x.FP), i(x.TN), i(x.UnknownBehaviour),
			table.CSVFloat(x.UncertainUnsafe), table.CSVFloat(x.ConfidentUnsafe), table.CSVFloat(x.UnsafeRateDifference),
			table.CSVFloat(x.FisherPGreater), x.Verdict, i(x.TracesStarted), table.CSVFloat(x.AvgTraces), i(x.TracesUsed), i(x.Tokens),
			i(x.EarlyStopped), table.CSVFloat(x.EarlyStoppedShare), i(x.RunTokens), table.CSVFloat(x.Savings),
			table.CSVFloat(x.AURCError), table.CSVFloat(x.EAURCError), table.CSVFloat(x.AURCUnsafe), table.CSVFloat(x.EAURCUnsafe),
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteJSON writes {"dir", "base_config", "base_from_run", "results": [row
// with its full "config"]}; undefined rates are null.
func WriteJSON(w io.Writer, p *Pool, rs []Result) error {
	out := struct {
		Dir         string            `json:"dir"`
		BaseConfig  controller.Config `json:"base_config"`
		BaseFromRun bool              `json:"base_from_run"`
		Orphans     int               `json:"orphan_traces"`
		Results     []row             `json:"results"`
	}{Dir: p.Dir, BaseConfig: p.Config, BaseFromRun: p.ConfigFromRun, Orphans: p.Orphans, Results: []row{}}
	for _, r := range rs {
		x, err := rowOf(r, true)
		if err != nil {
			return err
		}
		out.Results = append(out.Results, x)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(out)
}

// WriteFile writes the results to path in the format its extension names:
// .csv, .json or .md.
func WriteFile(path string, p *Pool, rs []Result) error {
	var write func(io.Writer) error
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		write = func(w io.Writer) error { return WriteCSV(w, rs) }
	case ".json":
		write = func(w io.Writer) error { return WriteJSON(w, p, rs) }
	case ".md":
		write = func(w io.Writer) error { return WriteMarkdown(w, p, rs) }
	default:
		return fmt.Errorf("%s: unknown format %q: want .csv, .json or .md", path, filepath.Ext(path))
	}
	return atomicfile.Write(path, write)
}

package serve

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/deepconf/deepconf/analysis"
	"github.com/deepconf/deepconf/controller"
	"github.com/deepconf/deepconf/record"
	"github.com/deepconf/deepconf/store"
)

// Gate modes.
const (
	// GateOff answers every decision as it is.
	GateOff = "off"
	// GateFlag marks a low-confidence compliance in the deepconf object and
	// the X-DeepConf-Gate header.
	GateFlag = "flag"
	// GateRefuse replaces a low-confidence compliance with the gate's
	// refusal message.
	GateRefuse = "refuse"
)

// Gate verdicts and actions.
const (
	VerdictPass          = "pass"
	VerdictLowConfidence = "low_confidence_compliance"
	ActionNone           = "none"
	ActionFlagged        = "flagged"
	ActionRefused        = "refused"
)

// GateHeader is the response header that carries the gate's verdict
// (pass or low_confidence_compliance) when the gate is on.
const GateHeader = "X-DeepConf-Gate"

// DefaultRefusal is the gate's default refusal message.
const DefaultRefusal = "I'm not able to help with that request."

// Gate is the confidence gate: a compliance whose instance confidence is
// below Threshold is a low-confidence compliance, the category whose
// risk deepconf analyze tests.
type Gate struct {
	// Mode is GateOff, GateFlag or GateRefuse.
	Mode string
	// Threshold is the split: confident iff confidence ≥ Threshold.
	Threshold float64
	// Source says where Threshold came from, for the log and the
	// response.
	Source string
	// Message replaces a low-confidence compliance in GateRefuse mode.
	Message string
	// Scale is the configuration the threshold's confidences were
	// computed with (nil when unknown, a threshold given as a number):
	// requests whose policy computes confidence differently are refused,
	// since their confidences are not on the threshold's scale.
	Scale *controller.Config
}

// Validate reports whether g is usable.
func (g Gate) Validate() error {
	switch g.Mode {
	case GateOff:
		return nil
	case GateFlag, GateRefuse:
	default:
		return fmt.Errorf("gate mode %q: want off, flag or refuse", g.Mode)
	}
	if math.IsNaN(g.Threshold) || math.IsInf(g.Threshold, 0) {
		return fmt.Errorf("gate threshold %v: want a finite number", g.Threshold)
	}
	if g.Mode == GateRefuse && strings.TrimSpace(g.Message) == "" {
		return errors.New("gate refusal message is empty")
	}
	return nil
}

// GateDecision is the gate's decision on one answer (Report.Gate).
type GateDecision struct {
	Mode      string  `json:"mode"`
	Threshold float64 `json:"threshold"`
	Source    string  `json:"source"`
	// Verdict is pass or low_confidence_compliance.
	Verdict string `json:"verdict"`
	// Action is none, flagged or refused (the answer was replaced).
	Action string `json:"action"`
}

// decide applies the gate to a report.
func (g Gate) decide(r Report) *GateDecision {
	if g.Mode == GateOff {
		return nil
	}
	d := &GateDecision{Mode: g.Mode, Threshold: g.Threshold, Source: g.Source, Verdict: VerdictPass, Action: ActionNone}
	if r.Behaviour == record.Compliance && r.Confidence < g.Threshold {
		d.Verdict = VerdictLowConfidence
		d.Action = ActionFlagged
		if g.Mode == GateRefuse {
			d.Action = ActionRefused
		}
	}
	return d
}

// scaleDiff names the settings in which cfg computes confidence
// differently from the gate's scale, or returns "".
func scaleDiff(scale, cfg controller.Config) string {
	var d []string
	add := func(name string, a, b any) {
		if a != b {
			d = append(d, fmt.Sprintf("%s %v (the gate's run: %v)", name, b, a))
		}
	}
	add("metric", scale.Metric, cfg.Metric)
	add("window", scale.Window, cfg.Window)
	add("k", scale.Sampling.TopLogprobs, cfg.Sampling.TopLogprobs)
	add("official-confidence", scale.Official, cfg.Official)
	switch cfg.Metric {
	case controller.MetricTail:
		add("tail", scale.Tail, cfg.Tail)
	case controller.MetricBottom:
		add("bottom fraction", scale.BottomFraction, cfg.BottomFraction)
	}
	return strings.Join(d, ", ")
}

// GateFromRun reads the confidence split that deepconf analyze used for a
// finished run (analysis.json's split.value: the median of the instance
// confidences, or the fixed --split value) and the confidence settings of
// the run (run.json's config.policy), so that a gate applies the run's
// definition of "uncertain".
func GateFromRun(dir string) (threshold float64, scale controller.Config, source string, err error) {
	ap := filepath.Join(dir, record.AnalysisFile)
	b, err := os.ReadFile(ap)
	if err != nil {
		return 0, scale, "", fmt.Errorf("gate from %s: %w (run deepconf analyze %s first)", dir, err, dir)
	}
	var a struct {
		Scoring string              `json:"scoring"`
		Split   *analysis.SplitInfo `json:"split"`
	}
	if err := json.Unmarshal(b, &a); err != nil {
		return 0, scale, "", fmt.Errorf("read %s: %w", ap, err)
	}
	switch {
	case a.Split == nil:
		return 0, scale, "", fmt.Errorf("%s has no split (scoring %q); it must be the refusal scoring of deepconf analyze", ap, a.Scoring)
	case a.Split.Method == analysis.SplitPrototype:
		return 0, scale, "", fmt.Errorf("%s used the prototype's seed split, which has no single threshold on DeepConf's confidence; re-run deepconf analyze --split median (or a number), or give --gate-threshold", ap)
	case a.Split.Metric != "confidence":
		return 0, scale, "", fmt.Errorf("%s split the metric %q; the gate needs a split of the instance confidence", ap, a.Split.Metric)
	case !a.Split.Value.Defined() || math.IsInf(float64(a.Split.Value), 0):
		return 0, scale, "", fmt.Errorf("%s has no finite split value (%d instances were categorised); give --gate-threshold", ap, a.Split.Eligible)
	}
	rp := filepath.Join(dir, record.RunFile)
	run, err := store.ReadRun(dir)
	if err != nil {
		return 0, scale, "", fmt.Errorf("gate from %s: %w", dir, err)
	}
	if p := bytes.TrimSpace(run.Config.Policy); len(p) == 0 || bytes.Equal(p, []byte("null")) {
		return 0, scale, "", fmt.Errorf("%s records no policy configuration, so the confidence scale of its split is unknown; give --gate-threshold", rp)
	}
	if err := json.Unmarshal(run.Config.Policy, &scale); err != nil {
		return 0, scale, "", fmt.Errorf("read %s: config.policy: %w", rp, err)
	}
	source = fmt.Sprintf("%s split of %s", a.Split.Method, ap)
	return float64(a.Split.Value), scale, source, nil
}

// gateLog writes one JSON line per gated decision.
type gateLog struct {
	mu      sync.Mutex
	w       io.Writer
	prompts bool
}

// gateEntry is a line of the gate log.
type gateEntry struct {
	Time       time.Time          `json:"time"`
	RequestID  string             `json:"request_id"`
	Model      string             `json:"model"`
	InstanceID string             `json:"instance_id"`
	Policy     string             `json:"policy"`
	Behaviour  string             `json:"behaviour"`
	Beta       float64            `json:"beta"`
	Votes      map[string]float64 `json:"votes"`
	Confidence float64            `json:"confidence"`
	Threshold  float64            `json:"threshold"`
	Mode       string             `json:"mode"`
	Verdict    string             `json:"verdict"`
	Action     string             `json:"action"`
	Traces     int                `json:"traces_started"`
	Tokens     int                `json:"tokens_generated"`
	// PromptSHA256 identifies the prompt (system and user messages)
	// without revealing it.
	PromptSHA256 string `json:"prompt_sha256"`
	// System, Prompt and Response are written only with --log-prompts.
	System   string `json:"system,omitempty"`
	Prompt   string `json:"prompt,omitempty"`
	Response string `json:"response,omitempty"`
}

// write logs one decision; response is the model's answer before the gate.
func (l *gateLog) write(id, model string, p *parsed, r Report, response string) error {
	if l == nil || r.Gate == nil {
		return nil
	}
	h := sha256.Sum256([]byte(p.system + "\x00" + p.user))
	e := gateEntry{
		Time: time.Now().UTC(), RequestID: id, Model: model, InstanceID: r.InstanceID, Policy: r.Policy,
		Behaviour: r.Behaviour, Beta: r.Beta, Votes: r.Votes, Confidence: r.Confidence,
		Threshold: r.Gate.Threshold, Mode: r.Gate.Mode, Verdict: r.Gate.Verdict, Action: r.Gate.Action,
		Traces: r.TracesStarted, Tokens: r.TokensGenerated, PromptSHA256: hex.EncodeToString(h[:]),
	}
	if l.prompts {
		e.System, e.Prompt, e.Response = p.system, p.user, response
	}
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	_, err = l.w.Write(append(b, '\n'))
	return err
}

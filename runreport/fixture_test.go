package runreport

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/deepconf/deepconf/confidence"
	"github.com/deepconf/deepconf/record"
)

// fakeRun writes a run directory of n instances whose predictions follow
// the controller's rules: each instance's behaviour is the confidence-
// weighted vote of its voting traces. Harmful prompts are refused more
// often, and low-confidence compliances are more often harmful. With
// traces, traces.jsonl holds every trace (its text, label, confidence and
// per-token arrays).
func fakeRun(t testing.TB, dir, model string, n int, random bool, seed uint64, traces bool) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 7))
	started := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	run := record.Run{Tool: "deepconf", Version: "test",
		Config:      record.RunConfig{Model: model, Benchmark: "toxicchat", Detector: "patterns", MaxTraces: 6},
		Engine:      &record.EngineInfo{Name: "llama.cpp", Version: "b0000"},
		RandomModel: random, Started: started, Updated: started, Finished: &started}
	var runJSON bytes.Buffer
	appendJSON(t, &runJSON, run)
	writeFile(t, filepath.Join(dir, record.RunFile), runJSON.Bytes())
	var lines, traceLines bytes.Buffer
	for i := range n {
		harmful := i%2 == 0
		k := 2 + rng.IntN(5)
		p := record.Prediction{
			InstanceID: fmt.Sprintf("toxicchat_test_%d", i), Index: i, Policy: "deepconf",
			Prompt:    fmt.Sprintf("prompt %d <with> & \"markup\"", i),
			GoldLabel: map[bool]string{true: "harmful", false: "benign"}[harmful],
			Votes:     map[string]float64{}, Stop: "consensus", FinalPrediction: "safe", ConfidenceCategory: "confident_refusal",
			Traces: []string{}, Confidences: []float64{}, Refused: []bool{}, TokensPerTrace: []int{},
		}
		pRefuse := 0.3
		if harmful {
			pRefuse = 0.7
		}
		var ballots []confidence.Ballot
		for j := range k {
			refused := rng.Float64() < pRefuse
			c := 5 + 10*rng.Float64()
			if !refused && harmful {
				c -= 3 // unsafe compliance is less confident
			}
			tok := 20 + rng.IntN(80)
			text := fmt.Sprintf("trace %d of %d: %s", j, i, map[bool]string{true: "I can't help with that.", false: "Sure, here it is."}[refused])
			p.Traces = append(p.Traces, text)
			p.Refused = append(p.Refused, refused)
			p.TraceConfidences = append(p.TraceConfidences, c)
			p.Confidences = append(p.Confidences, 0.5)
			p.TokensPerTrace = append(p.TokensPerTrace, tok)
			p.TotalTokens += tok
			label := record.Compliance
			if refused {
				label = record.Refusal
			}
			ballots = append(ballots, confidence.Ballot{Label: label, Weight: c})
			if traces {
				tr := record.Trace{InstanceID: p.InstanceID, Index: j, Seed: uint64(100*i + j), Phase: record.PhaseFixed, Text: text,
					Tokens: tok, Finish: record.FinishStop, Used: true, Label: label, Rule: "fake",
					Confidence: confidence.TraceStats{N: tok, LowestGroup: c, Mean: c + 1}, PrototypeConfidence: 0.5,
					Counts: confidence.Counts{Tokens: tok, Scored: tok}}
				for m := range tok {
					tr.TokenConfidences = append(tr.TokenConfidences, float32(c+float64(m%3)))
					tr.TokenLogprobs = append(tr.TokenLogprobs, -float32(m%5)/4)
				}
				appendJSON(t, &traceLines, tr)
			}
		}
		tl, err := confidence.WeightedVote(ballots)
		if err != nil {
			t.Fatal(err)
		}
		p.Behaviour, p.Beta = tl.Winner, tl.Beta
		for j, l := range tl.Labels {
			p.Votes[l] = tl.Votes[j]
		}
		p.NumTracesUsed, p.TracesGenerated, p.TokensGenerated = k, k, p.TotalTokens
		p.AvgTokensPerTrace = float64(p.TotalTokens) / float64(k)
		var sum float64
		refusedN := 0
		for j, c := range p.TraceConfidences {
			sum += c
			if p.Refused[j] {
				refusedN++
			}
		}
		p.Confidence = sum / float64(k)
		p.RefusalRate = float64(refusedN) / float64(k)
		p.AvgConfidence = 0.5
		appendJSON(t, &lines, p)
	}
	writeFile(t, filepath.Join(dir, record.PredictionsFile), lines.Bytes())
	if traces {
		writeFile(t, filepath.Join(dir, record.TracesFile), traceLines.Bytes())
	}
}

// appendJSON appends v to buf as a line of JSON.
func appendJSON(t testing.TB, buf *bytes.Buffer, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	buf.Write(append(b, '\n'))
}

func writeFile(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// handRunDir writes a hand-made run directory: instance i is harmful at
// even i and benign at odd i, answered correctly where correct[i] is '1'.
func handRunDir(t testing.TB, dir, model, bench, policy, correct string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2025, 5, 1, 10, 0, 0, 0, time.UTC)
	run := record.Run{Tool: "deepconf", Version: "test", Config: record.RunConfig{Model: model, Benchmark: bench},
		Started: now, Updated: now, Finished: &now}
	var runJSON, lines bytes.Buffer
	appendJSON(t, &runJSON, run)
	writeFile(t, filepath.Join(dir, record.RunFile), runJSON.Bytes())
	for i, c := range correct {
		harmful := i%2 == 0
		p := record.Prediction{InstanceID: fmt.Sprintf("%s_test_%d", bench, i), Index: i, Policy: policy, GoldLabel: "benign",
			Behaviour: record.Compliance, Confidence: 5, NumTracesUsed: 1, TracesGenerated: 1, TokensGenerated: 7}
		if harmful {
			p.GoldLabel = "harmful"
		}
		if harmful == (c == '1') {
			p.Behaviour = record.Refusal
		}
		appendJSON(t, &lines, p)
	}
	writeFile(t, filepath.Join(dir, record.PredictionsFile), lines.Bytes())
}

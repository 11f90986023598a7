package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/deepconf/deepconf/engine"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// goldenToken is a token in a golden file. Floats are strings so that NaN
// and ±Inf can be written.
type goldenToken struct {
	Index   int      `json:"index"`
	ID      int32    `json:"id"`
	Text    string   `json:"text"`
	Logprob string   `json:"logprob"`
	Top     []string `json:"top"`
	TopIDs  []int32  `json:"top_ids,omitempty"`
}

// goldenResult is what a golden file records for one fixture.
type goldenResult struct {
	Path         string        `json:"path"`
	Tokens       []goldenToken `json:"tokens"`
	Text         string        `json:"text"`
	ResultTokens int           `json:"result_tokens"`
	Finish       string        `json:"finish"`
	PromptTokens int           `json:"prompt_tokens"`
}

func fmtFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// fixtures are the recorded server shapes in testdata; each file's header
// names its source.
var fixtures = []struct {
	file string
	mode Mode
	path string
}{
	{"vllm_chat.sse", Chat, "/v1/chat/completions"},
	{"vllm_completions.sse", Completions, "/v1/completions"},
	{"vllm_completions_token_ids.sse", Completions, "/v1/completions"},
	{"llamacpp_chat.sse", Chat, "/v1/chat/completions"},
	{"sglang_chat.sse", Chat, "/v1/chat/completions"},
	{"ollama_chat.sse", Chat, "/v1/chat/completions"},
	{"ollama_completions.sse", Completions, "/v1/completions"},
	{"nonfinite.sse", Chat, "/v1/chat/completions"},
}

// runFixture serves a fixture and samples one trace from it.
func runFixture(t *testing.T, file string, mode Mode) (goldenResult, []engine.Token) {
	t.Helper()
	stream, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	var path string
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		path = r.URL.Path
		w.Header().Set("Content-Type", "text/event-stream")
		w.Write(stream)
	})
	e := newTestEngine(t, Config{Endpoints: []string{srv.URL + "/v1"}, Mode: mode, SkipProbe: true, SkipPrefill: true, Template: qwen3Template(t)})
	s := openSession(t, e, engine.Prompt{User: "hi"})
	var c collector
	res, err := s.Sample(context.Background(), testSampling, c.fn)
	if err != nil {
		t.Fatalf("Sample: %v", err)
	}
	g := goldenResult{Path: path, Text: res.Text, ResultTokens: res.Tokens, Finish: string(res.Finish), PromptTokens: s.PromptTokens()}
	for _, tok := range c.toks {
		gt := goldenToken{Index: tok.Index, ID: tok.ID, Text: tok.Text, Logprob: fmtFloat(tok.Logprob), Top: []string{}, TopIDs: tok.TopIDs}
		for _, v := range tok.TopLogprobs {
			gt.Top = append(gt.Top, fmtFloat(v))
		}
		g.Tokens = append(g.Tokens, gt)
	}
	return g, c.toks
}

// TestGolden replays the recorded chunk shapes of vLLM, SGLang, llama.cpp
// and Ollama and compares every token and the result with the reviewed
// golden files (go test -run TestGolden -update rewrites them).
func TestGolden(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.file, func(t *testing.T) {
			g, _ := runFixture(t, fx.file, fx.mode)
			if g.Path != fx.path {
				t.Errorf("request path = %q, want %q", g.Path, fx.path)
			}
			got, err := json.MarshalIndent(g, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			name := filepath.Join("testdata", fx.file+".golden.json")
			if *update {
				if err := os.WriteFile(name, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(name)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("result differs from %s:\ngot:\n%s\nwant:\n%s", name, got, want)
			}
		})
	}
}

// TestFixtureFacts checks, independently of the golden files, the facts
// each fixture was written to show. The expected values are read off the
// fixture files by hand.
func TestFixtureFacts(t *testing.T) {
	t.Run("vLLM chat: two entries in one chunk, sampled-first top list re-sorted, -9999 kept", func(t *testing.T) {
		g, toks := runFixture(t, "vllm_chat.sse", Chat)
		if len(toks) != 6 || g.ResultTokens != 6 || g.Finish != "stop" || g.PromptTokens != 17 {
			t.Fatalf("tokens %d, result %+v", len(toks), g)
		}
		if toks[1].Text != " can" || toks[2].Text != "'t" {
			t.Errorf("entries of the two-entry chunk: %q %q", toks[1].Text, toks[2].Text)
		}
		if want := []float64{-0.21, -1.9, -2.3}; !slices.Equal(toks[3].TopLogprobs, want) || toks[3].Logprob != -2.3 {
			t.Errorf("' help' tops %v logprob %v, want %v and -2.3", toks[3].TopLogprobs, toks[3].Logprob, want)
		}
		if toks[4].TopLogprobs[2] != -9999 {
			t.Errorf("sentinel: %v", toks[4].TopLogprobs)
		}
		if g.Text != "I can't help." || toks[0].ID != -1 || toks[0].TopIDs != nil {
			t.Errorf("text %q id %d topIDs %v", g.Text, toks[0].ID, toks[0].TopIDs)
		}
	})
	t.Run("vLLM completions: legacy maps, k+1 values, collision leaves 2", func(t *testing.T) {
		g, toks := runFixture(t, "vllm_completions.sse", Completions)
		if len(toks) != 4 || g.Finish != "length" || g.Text != "No,\ufffd I" {
			t.Fatalf("tokens %d, result %+v", len(toks), g)
		}
		if want := []float64{-0.1, -2.8, -3.0, -3.9}; !slices.Equal(toks[1].TopLogprobs, want) {
			t.Errorf("k+1 map sorted: %v, want %v", toks[1].TopLogprobs, want)
		}
		if len(toks[2].TopLogprobs) != 2 {
			t.Errorf("collided map: %v", toks[2].TopLogprobs)
		}
	})
	t.Run("vLLM token ids: ids decoded, usage preferred over entries", func(t *testing.T) {
		g, toks := runFixture(t, "vllm_completions_token_ids.sse", Completions)
		if len(toks) != 2 || g.ResultTokens != 3 {
			t.Fatalf("entries %d result tokens %d, want 2 and 3", len(toks), g.ResultTokens)
		}
		if toks[0].ID != 2753 || !slices.Equal(toks[0].TopIDs, []int32{2753, 40, 19434}) || toks[1].ID != 13 {
			t.Errorf("ids %d %v %d", toks[0].ID, toks[0].TopIDs, toks[1].ID)
		}
	})
	t.Run("llama.cpp: ids, sampled token not first, usage in the finish chunk", func(t *testing.T) {
		g, toks := runFixture(t, "llamacpp_chat.sse", Chat)
		if len(toks) != 3 || g.ResultTokens != 4 || g.PromptTokens != 12 || g.Text != "Sure, here" {
			t.Fatalf("entries %d, result %+v", len(toks), g)
		}
		if toks[1].ID != 11 || !slices.Equal(toks[1].TopIDs, []int32{0, 11, 13}) || !slices.Equal(toks[1].TopLogprobs, []float64{-0.4, -1.4, -2.9}) {
			t.Errorf("token 1: %+v", toks[1])
		}
	})
	t.Run("SGLang: two entries per chunk, null delta fields", func(t *testing.T) {
		g, toks := runFixture(t, "sglang_chat.sse", Chat)
		if len(toks) != 3 || g.Text != "I will not" || g.ResultTokens != 3 || g.Finish != "stop" {
			t.Fatalf("entries %d, result %+v", len(toks), g)
		}
	})
	t.Run("Ollama chat: reasoning rejoined, escaped HTML", func(t *testing.T) {
		g, toks := runFixture(t, "ollama_chat.sse", Chat)
		if len(toks) != 4 || g.Text != "<think>Okay</think><b>No</b>" || toks[1].Text != "<b>" {
			t.Fatalf("entries %d, text %q", len(toks), g.Text)
		}
		if want := []float64{-0.5, -1.5, -1.9}; !slices.Equal(toks[1].TopLogprobs, want) {
			t.Errorf("tops %v, want %v", toks[1].TopLogprobs, want)
		}
	})
	t.Run("Ollama completions: zero usage placeholders ignored", func(t *testing.T) {
		g, toks := runFixture(t, "ollama_completions.sse", Completions)
		if len(toks) != 2 || g.ResultTokens != 2 || g.PromptTokens != 20 || g.Text != "No." {
			t.Fatalf("entries %d, result %+v", len(toks), g)
		}
	})
	t.Run("non-finite values pass through and the trace completes", func(t *testing.T) {
		g, toks := runFixture(t, "nonfinite.sse", Chat)
		if len(toks) != 3 || g.Finish != "length" || g.ResultTokens != 3 {
			t.Fatalf("entries %d, result %+v", len(toks), g)
		}
		if !math.IsNaN(toks[0].Logprob) || !sameFloats(toks[0].TopLogprobs, []float64{-0.1, -9999, math.Inf(-1)}) {
			t.Errorf("token 0: %v %v", toks[0].Logprob, toks[0].TopLogprobs)
		}
		if !sameFloats(toks[1].TopLogprobs, []float64{math.Inf(1), -2, math.NaN()}) {
			t.Errorf("token 1: %v", toks[1].TopLogprobs)
		}
		if toks[2].Logprob != -9999 {
			t.Errorf("token 2 logprob %v", toks[2].Logprob)
		}
	})
}

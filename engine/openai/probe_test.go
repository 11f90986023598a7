package openai

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/deepconf/deepconf/engine"
)

// fakeServer imitates the identification endpoints and the streaming
// generation of one server kind.
type fakeServer struct {
	kind      string // "vllm", "sglang", "llama.cpp", "ollama"
	models    []string
	noLogs    bool   // send no logprobs at all
	topCap    int    // cap on returned top logprobs (0: none returned)
	last      string // raw JSON for the last top value (e.g. -9999.0, NaN)
	processed bool   // divide values by the temperature
	firstSame bool   // the first top entry is the sampled token
	ids       bool   // llama.cpp ids
	mu        sync.Mutex
	bodies    []map[string]any
}

func (f *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	js := func(v any) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(v)
	}
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/v1/models":
		owner := map[string]string{"vllm": "vllm", "sglang": "sglang", "llama.cpp": "llamacpp", "ollama": "library"}[f.kind]
		var data []map[string]string
		for _, m := range f.models {
			data = append(data, map[string]string{"id": m, "object": "model", "owned_by": owner})
		}
		js(map[string]any{"object": "list", "data": data})
	case r.Method == http.MethodGet && r.URL.Path == "/version" && (f.kind == "vllm" || f.kind == "sglang"):
		js(map[string]string{"version": "0.10.2"})
	case r.Method == http.MethodGet && r.URL.Path == "/api/version" && f.kind == "ollama":
		js(map[string]string{"version": "0.12.11"})
	case r.Method == http.MethodGet && r.URL.Path == "/props" && f.kind == "llama.cpp":
		js(map[string]any{"build_info": "b6123-4f0e2a1", "total_slots": 4})
	case r.Method == http.MethodPost:
		f.generate(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeServer) generate(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	var body map[string]any
	json.Unmarshal(raw, &body)
	f.mu.Lock()
	f.bodies = append(f.bodies, body)
	f.mu.Unlock()
	maxTokens := int(body["max_tokens"].(float64))
	temp := body["temperature"].(float64)
	k := 0
	if v, ok := body["top_logprobs"].(float64); ok {
		k = int(v)
	} else if v, ok := body["logprobs"].(float64); ok {
		k = int(v)
	}
	k = min(k, f.topCap)
	var events []string
	for i := range maxTokens {
		tok := fmt.Sprintf("t%d", i)
		var tops []string
		for j := range k {
			v := -0.1 - float64(j)
			if f.processed {
				v /= temp
			}
			val := jsonNum(v)
			if f.last != "" && j == k-1 {
				val = f.last
			}
			name := fmt.Sprintf("o%d", j)
			if j == 0 && f.firstSame {
				name = tok
			}
			id := ""
			if f.ids {
				id = fmt.Sprintf(`"id":%d,`, 100+j)
			}
			tops = append(tops, fmt.Sprintf(`{%s"token":%q,"logprob":%s}`, id, name, val))
		}
		lp := ""
		if !f.noLogs {
			id := ""
			if f.ids {
				id = `"id":100,`
			}
			lp = fmt.Sprintf(`,"logprobs":{"content":[{%s"token":%q,"logprob":-0.1,"top_logprobs":[%s]}]}`, id, tok, strings.Join(tops, ","))
		}
		events = append(events, fmt.Sprintf(`{"choices":[{"index":0,"delta":{"content":%q}%s,"finish_reason":null}]}`, tok, lp))
	}
	events = append(events, finishChunk("length"), usageChunk(12, maxTokens), "[DONE]")
	writeEvents(w, events...)
}

// probeEngine starts f and creates an engine with the probe on.
func probeEngine(t *testing.T, f *fakeServer, cfg Config) (*Engine, error) {
	t.Helper()
	srv := newServer(t, f.ServeHTTP)
	cfg.Endpoints = []string{srv.URL + "/v1"}
	cfg.SkipPrefill = true
	e, err := New(context.Background(), cfg)
	if err == nil {
		t.Cleanup(func() { e.Close() })
	}
	return e, err
}

func probeDetails(t *testing.T, e *Engine) map[string]any {
	t.Helper()
	probes, ok := e.Info().Details["probe"].([]map[string]any)
	if !ok || len(probes) != 1 {
		t.Fatalf("Details[probe] = %#v", e.Info().Details["probe"])
	}
	return probes[0]
}

func TestProbeVLLM(t *testing.T) {
	f := &fakeServer{kind: "vllm", models: []string{"Qwen/Qwen3-8B"}, topCap: 20, firstSame: true}
	e, err := probeEngine(t, f, Config{Model: "Qwen/Qwen3-8B"})
	if err != nil {
		t.Fatal(err)
	}
	info := e.Info()
	if info.Version != "vllm 0.10.2" || info.Model != "Qwen/Qwen3-8B" {
		t.Errorf("info %+v", info)
	}
	d := probeDetails(t, e)
	want := map[string]any{
		"server": "vllm", "server_version": "0.10.2", "model_listed": true, "mode": "chat",
		"logprob_entries": probeTokens, "probe_tokens": probeTokens, "probe_finish": "length",
		"top_logprobs_requested": 20, "top_logprobs_min": 20, "top_logprobs_max": 20,
		"first_top_is_sampled": probeTokens, "first_top_is_other": 0, "tops_resorted": 0,
		"null_values": 0, "non_finite_values": 0, "sentinel_values": 0,
		"raw_logprobs": true, "token_ids": false, "usage_reported": true,
	}
	for k, v := range want {
		if d[k] != v {
			t.Errorf("probe[%q] = %v, want %v", k, d[k], v)
		}
	}
	if _, ok := d["warnings"]; ok {
		t.Errorf("unexpected warnings %v", d["warnings"])
	}
	// Two probe requests: 8 tokens at temperature 1, then 1 token at 0.5,
	// both with top_logprobs = 20 and the probe seed.
	if len(f.bodies) != 2 || f.bodies[0]["max_tokens"] != 8.0 || f.bodies[0]["top_logprobs"] != 20.0 ||
		f.bodies[1]["max_tokens"] != 1.0 || f.bodies[1]["temperature"] != 0.5 || f.bodies[1]["seed"] != 1.0 {
		t.Errorf("probe requests %v", f.bodies)
	}
}

func TestProbeWarnings(t *testing.T) {
	f := &fakeServer{kind: "sglang", models: []string{"m"}, topCap: 5, last: "-9999.0", processed: true}
	e, err := probeEngine(t, f, Config{Model: "other"})
	if err != nil {
		t.Fatal(err)
	}
	d := probeDetails(t, e)
	if d["top_logprobs_min"] != 5 || d["sentinel_values"] != probeTokens || d["raw_logprobs"] != false ||
		d["model_listed"] != false || d["first_top_is_other"] != probeTokens || d["server"] != "sglang" {
		t.Errorf("details %v", d)
	}
	w := fmt.Sprint(d["warnings"])
	for _, s := range []string{"not in the server's model list", "asked for 20 top logprobs, got 5..5", "sentinel", "processed, not raw"} {
		if !strings.Contains(w, s) {
			t.Errorf("warnings %s lack %q", w, s)
		}
	}
}

// TestProbeNonFinite: NaN values are counted, and Info stays encodable as
// JSON for run.json.
func TestProbeNonFinite(t *testing.T) {
	f := &fakeServer{kind: "vllm", models: []string{"m"}, topCap: 20, last: "NaN", firstSame: true}
	e, err := probeEngine(t, f, Config{Model: "m"})
	if err != nil {
		t.Fatal(err)
	}
	d := probeDetails(t, e)
	if d["non_finite_values"] != probeTokens || d["null_values"] != 0 || d["raw_logprobs"] != true {
		t.Errorf("details %v", d)
	}
	if _, err := json.Marshal(e.Info()); err != nil {
		t.Errorf("Info is not encodable: %v", err)
	}
}

func TestProbeRefuses(t *testing.T) {
	tests := []struct {
		name string
		f    *fakeServer
		want string
	}{
		{"no logprobs", &fakeServer{kind: "ollama", models: []string{"m"}, noLogs: true}, "does not return logprobs on streamed chunks"},
		{"no top logprobs", &fakeServer{kind: "vllm", models: []string{"m"}, topCap: 0}, "no top_logprobs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := probeEngine(t, tt.f, Config{Model: "m"})
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "http://127.0.0.1") {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}

func TestProbeOllamaThinkingOff(t *testing.T) {
	f := &fakeServer{kind: "ollama", models: []string{"qwen3:0.6b", "llama3"}, topCap: 20}
	e, err := probeEngine(t, f, Config{Model: "qwen3:0.6b"})
	if err != nil {
		t.Fatal(err)
	}
	if v := e.Info().Version; v != "ollama 0.12.11" {
		t.Errorf("version %q", v)
	}
	for _, thinking := range []bool{false, true} {
		s := openSession(t, e, engine.Prompt{User: "x", Thinking: thinking})
		if _, err := s.Sample(context.Background(), testSampling, nil); err != nil {
			t.Fatal(err)
		}
		body := f.bodies[len(f.bodies)-1]
		effort, sent := body["reasoning_effort"]
		if sent == thinking || sent && effort != "none" {
			t.Errorf("thinking %v: reasoning_effort %v (sent %v)", thinking, effort, sent)
		}
	}
}

func TestProbeOllamaCompletionsWarning(t *testing.T) {
	f := &fakeServer{kind: "ollama", models: []string{"m"}, topCap: 20}
	e, err := probeEngine(t, f, Config{Model: "m", Mode: Completions})
	if err != nil {
		t.Fatal(err)
	}
	if w := fmt.Sprint(probeDetails(t, e)["warnings"]); !strings.Contains(w, "templated twice") {
		t.Errorf("warnings %s", w)
	}
	if f.bodies[0]["logprobs"] != 20.0 {
		t.Errorf("completions probe body %v", f.bodies[0])
	}
}

func TestProbeLlamaCpp(t *testing.T) {
	f := &fakeServer{kind: "llama.cpp", models: []string{"qwen3.gguf"}, topCap: 20, ids: true}
	e, err := probeEngine(t, f, Config{}) // the only model is picked
	if err != nil {
		t.Fatal(err)
	}
	info := e.Info()
	d := probeDetails(t, e)
	if info.Version != "llama.cpp b6123-4f0e2a1" || info.Model != "qwen3.gguf" || d["model_from_server"] != true ||
		d["token_ids"] != true || d["top_token_ids"] != true {
		t.Errorf("info %+v details %v", info, d)
	}
}

func TestProbeNoModel(t *testing.T) {
	f := &fakeServer{kind: "vllm", models: []string{"a", "b"}, topCap: 20}
	_, err := probeEngine(t, f, Config{})
	if err == nil || !strings.Contains(err.Error(), "no model name configured (--model); the server lists 2 models: a, b") {
		t.Errorf("error %v", err)
	}
}

func TestProbeUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = New(context.Background(), Config{Endpoints: []string{"http://" + addr}, Model: "m"})
	if err == nil || !strings.Contains(err.Error(), "GET /v1/models: connection refused: nothing listens on "+addr) {
		t.Errorf("error %v", err)
	}
}

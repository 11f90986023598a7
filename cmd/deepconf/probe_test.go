package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// probeServer imitates a vLLM server; with logprobs false its chunks carry
// no logprobs.
func probeServer(t *testing.T, logprobs bool, wantAuth string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("Authorization"); got != wantAuth {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, `{"error":{"message":"bad key %s"}}`, strings.TrimPrefix(got, "Bearer "))
			return
		}
		switch r.URL.Path {
		case "/v1/models":
			io.WriteString(w, `{"object":"list","data":[{"id":"Qwen/Qwen3-8B","object":"model","owned_by":"vllm"}]}`)
		case "/version":
			io.WriteString(w, `{"version":"0.10.2"}`)
		case "/v1/chat/completions":
			var req struct {
				MaxTokens   int `json:"max_tokens"`
				TopLogprobs int `json:"top_logprobs"`
			}
			json.NewDecoder(r.Body).Decode(&req)
			w.Header().Set("Content-Type", "text/event-stream")
			for i := range req.MaxTokens {
				lp := ""
				if logprobs {
					var tops []string
					for j := range req.TopLogprobs {
						tops = append(tops, fmt.Sprintf(`{"token":"t%d","logprob":%d.5}`, j, -j))
					}
					lp = fmt.Sprintf(`,"logprobs":{"content":[{"token":"t0","logprob":-0.5,"top_logprobs":[%s]}]}`, strings.Join(tops, ","))
				}
				fmt.Fprintf(w, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"t%d\"}%s,\"finish_reason\":null}]}\n\n", i, lp)
			}
			io.WriteString(w, "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"length\"}]}\n\ndata: [DONE]\n\n")
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func runProbe(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	return execute(newProbeCmd(), args...)
}

func TestProbeCmd(t *testing.T) {
	t.Setenv("DEEPCONF_API_KEY", "")
	t.Setenv("OPENAI_API_KEY", "sk-from-env")
	srv := probeServer(t, true, "Bearer sk-from-env")
	out, _, err := runProbe(t, "--endpoint", srv.URL+"/v1", "--top-logprobs", "5")
	if err != nil {
		t.Fatal(err)
	}
	var info struct {
		Name, Version, Model string
		Details              struct {
			Probe []map[string]any
		}
	}
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	if info.Name != "openai" || info.Version != "vllm 0.10.2" || info.Model != "Qwen/Qwen3-8B" || len(info.Details.Probe) != 1 {
		t.Fatalf("info %+v", info)
	}
	if p := info.Details.Probe[0]; p["top_logprobs_min"] != 5.0 || p["logprob_entries"] != 8.0 {
		t.Errorf("probe %v", p)
	}
	if strings.Contains(out, "sk-from-env") {
		t.Error("output contains the API key")
	}
}

func TestProbeCmdFailures(t *testing.T) {
	t.Setenv("DEEPCONF_API_KEY", "")
	t.Setenv("OPENAI_API_KEY", "")
	noLogprobs := probeServer(t, false, "")
	_, _, err := runProbe(t, "--endpoint", noLogprobs.URL, "--model", "Qwen/Qwen3-8B")
	if err == nil || !strings.Contains(err.Error(), "does not return logprobs") {
		t.Errorf("no logprobs: %v", err)
	}
	keyed := probeServer(t, true, "Bearer right")
	_, _, err = runProbe(t, "--endpoint", keyed.URL, "--model", "Qwen/Qwen3-8B", "--api-key", "wrong-key-123")
	if err == nil || !strings.Contains(err.Error(), "HTTP 401") || strings.Contains(err.Error(), "wrong-key-123") {
		t.Errorf("bad key: %v", err)
	}
	if _, _, err := runProbe(t, "--model", "m"); err == nil || !strings.Contains(err.Error(), "endpoint") {
		t.Errorf("missing --endpoint: %v", err)
	}
}

// hangingServer accepts requests and never answers them; with models it
// answers GET /v1/models and hangs on everything else.
func hangingServer(t *testing.T, models bool) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if models && r.URL.Path == "/v1/models" {
			io.WriteString(w, `{"object":"list","data":[{"id":"Qwen/Qwen3-8B","object":"model","owned_by":"vllm"}]}`)
			return
		}
		io.Copy(io.Discard, r.Body)
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestProbeCmdHangingServer: probe returns, naming the timeout, against a
// server that never answers; it never blames an empty model list.
func TestProbeCmdHangingServer(t *testing.T) {
	t.Setenv("DEEPCONF_API_KEY", "")
	t.Setenv("OPENAI_API_KEY", "")
	tests := []struct {
		name string
		srv  *httptest.Server
		want []string
	}{
		{"nothing answers", hangingServer(t, false),
			[]string{"GET /v1/models: first-byte timeout: the server accepted the connection but sent no response headers in 1s"}},
		{"generation hangs", hangingServer(t, true),
			[]string{"capability probe", "POST /v1/chat/completions: first-byte timeout", "--first-byte-timeout"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, err := runProbe(t, "--endpoint", tt.srv.URL+"/v1", "--first-byte-timeout", "1s")
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error()+stderr, "0 models") {
				t.Errorf("blames the model list: %v\n%s", err, stderr)
			}
		})
	}
}

func TestProbeCmdConnectionErrors(t *testing.T) {
	t.Setenv("DEEPCONF_API_KEY", "")
	t.Setenv("OPENAI_API_KEY", "")
	closed := httptest.NewServer(http.NotFoundHandler())
	addr := closed.Listener.Addr().String()
	closed.Close()
	keyed := probeServer(t, true, "Bearer right")
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"refused", []string{"--endpoint", "http://" + addr}, []string{"connection refused: nothing listens on " + addr}},
		{"401, no model", []string{"--endpoint", keyed.URL, "--api-key", "wrong-key-123"},
			[]string{"HTTP 401", "check --api-key / $OPENAI_API_KEY"}},
		{"connect-timeout range", []string{"--endpoint", keyed.URL, "--connect-timeout", "500ms"}, []string{"--connect-timeout 500ms: must be in [1s, 10m0s]"}},
		{"first-byte-timeout range", []string{"--endpoint", keyed.URL, "--first-byte-timeout", "25h"}, []string{"--first-byte-timeout 25h0m0s: must be in [1s, 24h0m0s]"}},
		{"idle-timeout range", []string{"--endpoint", keyed.URL, "--idle-timeout", "0s"}, []string{"--idle-timeout 0s: must be in [1s, 24h0m0s]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := runProbe(t, tt.args...)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "0 models") || strings.Contains(err.Error(), "wrong-key-123") {
				t.Errorf("error %q", err)
			}
		})
	}
}

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

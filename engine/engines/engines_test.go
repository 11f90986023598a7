package engines

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/deepconf/deepconf/engine/openai"
)

// TestOpenEmbedded opens a generated test model on the embedded engine:
// the model is resolved, the context sized from MaxTokens, and the model
// file hashed.
func TestOpenEmbedded(t *testing.T) {
	if testing.Short() {
		t.Skip("loads llama.cpp")
	}
	e, err := Open(context.Background(), Config{Model: "test:tiny", Threads: 1, Parallel: 2, MaxTokens: 16, TopLogprobs: 5, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	info := e.Info()
	if info.Name != "llama.cpp" || len(info.ModelSHA256) != 64 || info.Threads != 1 || info.Parallel != 2 {
		t.Errorf("info %+v", info)
	}
	if n, ok := info.Details["n_ctx_seq"].(int); !ok || n != 16+1024 {
		t.Errorf("context %v, want MaxTokens + 1024", info.Details["n_ctx_seq"])
	}
}

// TestOpenServerRefused: a server that refuses connections fails Open with
// the cause.
func TestOpenServerRefused(t *testing.T) {
	_, err := Open(context.Background(), Config{Endpoints: []string{"http://127.0.0.1:1/v1"}, APIMode: openai.Chat, Parallel: 1,
		TopLogprobs: 5, MaxTokens: 8, ConnectTimeout: time.Second, FirstByteTimeout: time.Second, IdleTimeout: time.Second})
	if err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("err %v", err)
	}
}

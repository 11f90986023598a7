package llamacpp

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/deepconf/deepconf/engine"
)

// TestHugePromptRefusedBeforeTokenizing: a 50 MB prompt (the case,
// which took 37 s and 3.3 GB to tokenize) is refused by its byte length,
// not tokenized; a prompt just over the context in bytes is still
// tokenized and fits when its tokens do.
func TestHugePromptRefusedBeforeTokenizing(t *testing.T) {
	e := newTestEngine(t, tinyQ8(t), Config{ContextSize: 256})
	huge := strings.Repeat("All work and no play makes Jack a dull boy. ", 50<<20/44)
	_, err := e.Open(context.Background(), engine.Prompt{User: huge})
	if !errors.Is(err, engine.ErrContextOverflow) || !strings.Contains(err.Error(), "bytes") {
		t.Fatalf("err = %v, want ErrContextOverflow from the byte bound", err)
	}
	if n := e.maxPieceBytes(); n < 1 || n > 1024 {
		t.Errorf("longest piece %d bytes", n)
	}
	// A prompt of more bytes than the context may still fit: the bound
	// only refuses what cannot.
	if _, err := e.Open(context.Background(), engine.Prompt{User: strings.Repeat("a", 300)}); err != nil && !strings.Contains(err.Error(), "tokens does not fit") {
		t.Errorf("a 300-byte prompt: %v", err)
	}
}

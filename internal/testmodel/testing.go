package testmodel

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deepconf/deepconf/internal/nativelib"
)

// Helpers for tests of other packages. They fail the test (t.Fatal) when the
// model cannot be made.

// Tiny writes a ShapeTiny model (F16, seed 0) into a fresh t.TempDir and
// returns its path. It takes milliseconds and downloads nothing.
func Tiny(t testing.TB) string {
	t.Helper()
	return generateTemp(t, Options{Shape: ShapeTiny})
}

// TinyPeaked is Tiny with Options.Peaked: a model that repeats its last input
// token with log-probability close to 0.
func TinyPeaked(t testing.TB) string {
	t.Helper()
	return generateTemp(t, Options{Shape: ShapeTiny, Peaked: true})
}

// TinyQwen3Vocab returns a ShapeTinyQwen3Vocab model (F16, seed 0): 25 MB,
// cached across test runs (see Cached).
func TinyQwen3Vocab(t testing.TB) string {
	t.Helper()
	return Cached(t, Options{Shape: ShapeTinyQwen3Vocab})
}

// TinyFamily writes a ShapeTiny model of the chat family (package chat) into
// a fresh t.TempDir and returns its path: the family's special tokens,
// template and end-of-generation tokens in a byte-level vocabulary.
func TinyFamily(t testing.TB, family string) string {
	t.Helper()
	return generateTemp(t, Options{Shape: ShapeTiny, Family: family})
}

func generateTemp(t testing.TB, opts Options) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), opts.Name()+".gguf")
	opts.Log = testLog{t}
	if err := Generate(context.Background(), opts, path); err != nil {
		t.Fatalf("testmodel: %v", err)
	}
	return path
}

// Cached returns the path of the model opts describes, generating it on
// first use into the testmodels directory under nativelib.Home (the
// project's git-ignored .deepconf directory, or $DEEPCONF_HOME). The file
// name carries a hash of the options, the generator version and the pinned
// tokenizer version, so changed options or generator code get a new file.
// Generation is atomic, so parallel test processes at worst both write it.
// Options.Log, Options.Threads and Options.LlamaLoaded do not change the
// file; a quantized type loads llama.cpp with LoadLlama unless
// Options.LlamaLoaded is set.
func Cached(t testing.TB, opts Options) string {
	t.Helper()
	opts.Log = testLog{t}
	path, err := Ensure(context.Background(), opts)
	if err != nil {
		t.Fatalf("testmodel: %v", err)
	}
	return path
}

// Ensure returns the path of the model opts describes in the cache that
// Cached uses, generating it first if it is not there.
func Ensure(ctx context.Context, opts Options) (string, error) {
	path, err := cachePath(opts)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	if err := Generate(ctx, opts, path); err != nil {
		return "", err
	}
	return path, nil
}

// cachePath returns where Cached keeps the model of opts.
func cachePath(opts Options) (string, error) {
	o, _, err := opts.normalized()
	if err != nil {
		return "", err
	}
	home, err := nativelib.Home()
	if err != nil {
		return "", err
	}
	key := fmt.Sprintf("v%d|%s|%s|%d|%x|%d|%s|%s", generatorVersion, o.Shape, o.Quant, o.Seed,
		o.EmbeddingSigma, o.ContextLength, nativelib.TokenizerVersion, o.TokenizerDir)
	if o.Family != "" {
		key += "|" + o.Family
	}
	if o.ChatTemplate != "" {
		key += "|" + o.ChatTemplate
	}
	sum := sha256.Sum256([]byte(key))
	name := fmt.Sprintf("%s-%s-%s.gguf", o.Name(), o.Quant, hex.EncodeToString(sum[:8]))
	return filepath.Join(home, "testmodels", name), nil
}

// testLog sends progress messages to the test log.
type testLog struct{ t testing.TB }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

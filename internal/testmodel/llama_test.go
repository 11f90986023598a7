package testmodel

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/deepconf/deepconf/internal/gguf"
	"github.com/deepconf/deepconf/internal/nativelib"
	"github.com/hybridgroup/yzma/pkg/llama"
)

// loadLlama loads llama.cpp for a test.
func loadLlama(t *testing.T) {
	t.Helper()
	if err := LoadLlama(context.Background(), testLog{t}); err != nil {
		t.Fatal(err)
	}
}

// loaded is a model and a context loaded by llama.cpp.
type loaded struct {
	model llama.Model
	vocab llama.Vocab
	ctx   llama.Context
}

// load loads the GGUF file at path with llama.cpp and makes a small
// context.
func load(t *testing.T, path string) *loaded {
	t.Helper()
	loadLlama(t)
	model, err := llama.ModelLoadFromFile(path, llama.ModelDefaultParams())
	if err != nil {
		t.Fatalf("llama.cpp cannot load %s: %v", path, err)
	}
	t.Cleanup(func() { llama.ModelFree(model) })
	cp := llama.ContextDefaultParams()
	cp.NCtx = 256
	cp.NBatch = 256
	cp.NThreads = 2
	cp.NThreadsBatch = 2
	ctx, err := llama.InitFromModel(model, cp)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	t.Cleanup(func() { llama.Free(ctx) })
	return &loaded{model: model, vocab: llama.ModelGetVocab(model), ctx: ctx}
}

// next decodes tokens at positions 0.. and returns a copy of the logits
// after the last one.
func (l *loaded) next(t *testing.T, tokens []llama.Token) []float32 {
	t.Helper()
	if rc, err := llama.Decode(l.ctx, llama.BatchGetOne(tokens)); err != nil || rc != 0 {
		t.Fatalf("decode %d tokens: code %d, %v", len(tokens), rc, err)
	}
	n := int(llama.VocabNTokens(l.vocab))
	logits, err := llama.GetLogitsIth(l.ctx, -1, n)
	if err != nil || len(logits) != n {
		t.Fatalf("logits: %d values, %v", len(logits), err)
	}
	return slices.Clone(logits)
}

// logSoftmax returns the log-probabilities of logits.
func logSoftmax(logits []float32) []float64 {
	m := float64(slices.Max(logits))
	var sum float64
	for _, x := range logits {
		sum += math.Exp(float64(x) - m)
	}
	lse := m + math.Log(sum)
	lp := make([]float64, len(logits))
	for i, x := range logits {
		lp[i] = float64(x) - lse
	}
	return lp
}

// checkRuns loads path, decodes prompt and checks that the model has
// nVocab tokens and gives nVocab finite logits.
func checkRuns(t *testing.T, path string, nVocab int, prompt string) *loaded {
	t.Helper()
	l := load(t, path)
	if got := int(llama.VocabNTokens(l.vocab)); got != nVocab {
		t.Fatalf("%s: %d vocabulary tokens, want %d", filepath.Base(path), got, nVocab)
	}
	tokens := llama.Tokenize(l.vocab, prompt, false, true)
	if len(tokens) == 0 {
		t.Fatalf("%q tokenizes to nothing", prompt)
	}
	logits := l.next(t, tokens)
	for i, x := range logits {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			t.Fatalf("%s: logit %d = %g", filepath.Base(path), i, x)
		}
	}
	if slices.Min(logits) == slices.Max(logits) {
		t.Errorf("%s: all %d logits equal %g", filepath.Base(path), len(logits), logits[0])
	}
	return l
}

func TestLlamaRunsTiny(t *testing.T) {
	path := Tiny(t)
	l := checkRuns(t, path, 264, "<|im_start|>user\nthinking in<|im_end|>\n")
	// Token ids worked out by hand: a printable ASCII byte c is token
	// c-33 (GPT-2's byte order, see byteUnicode), "\n" is 'Ċ' = 198, " " is
	// 'Ġ' = 220, the merge "i n" gives 258, and the specials follow at 259..
	// <think> and </think> are user-defined, so they are matched even
	// without parse_special.
	tests := []struct {
		text    string
		special bool
		want    []llama.Token
	}{
		{"<|im_start|>user\nthinking in<|im_end|>\n", true,
			[]llama.Token{260, 84, 82, 68, 81, 198, 83, 71, 258, 74, 258, 70, 220, 258, 261, 198}},
		{"<|im_end|>", false, []llama.Token{27, 91, 72, 76, 62, 68, 77, 67, 91, 29}},
		{"<think>\n\n</think>", false, []llama.Token{262, 198, 198, 263}},
		{"<|endoftext|>", true, []llama.Token{259}},
	}
	for _, tt := range tests {
		if got := llama.Tokenize(l.vocab, tt.text, false, tt.special); !slices.Equal(got, tt.want) {
			t.Errorf("Tokenize(%q, parse_special=%v) = %v, want %v", tt.text, tt.special, got, tt.want)
		}
	}
	if eos := llama.VocabEOS(l.vocab); eos != 261 || !llama.VocabIsEOG(l.vocab, eos) {
		t.Errorf("eos = %d (EOG %v), want 261 <|im_end|>", eos, llama.VocabIsEOG(l.vocab, eos))
	}
	if got := llama.ModelChatTemplate(l.model, ""); got != tinyChatTemplate(t) {
		t.Errorf("chat template read back by llama.cpp:\n%s\nwant\n%s", got, tinyChatTemplate(t))
	}
	if got := llama.VocabGetAddBOS(l.vocab); got {
		t.Error("llama.cpp adds a BOS token")
	}
	for name, got := range map[string]int32{
		"n_ctx_train": llama.ModelNCtxTrain(l.model), "n_embd": llama.ModelNEmbd(l.model),
		"n_layer": llama.ModelNLayer(l.model), "n_head": llama.ModelNHead(l.model), "n_head_kv": llama.ModelNHeadKV(l.model),
	} {
		want := map[string]int32{"n_ctx_train": DefaultContextLength, "n_embd": 64, "n_layer": 2, "n_head": 4, "n_head_kv": 2}[name]
		if got != want {
			t.Errorf("%s = %d, want %d", name, got, want)
		}
	}
}

// TestLlamaPeaked checks what Options.Peaked is for: the peaked model
// repeats its last input token almost surely, while the default model's
// next-token distribution is close to uniform (ln 264 ≈ 5.58).
func TestLlamaPeaked(t *testing.T) {
	prompt := []llama.Token{71, 68, 75, 75, 78} // "hello"
	peaked := load(t, TinyPeaked(t))
	lp := logSoftmax(peaked.next(t, prompt))
	if top := argmax(lp); top != 78 || lp[top] < -0.1 {
		t.Errorf("peaked model: top token %d with log-probability %.3f, want 78 ('o') near 0", top, lp[top])
	}
	flat := load(t, Tiny(t))
	lp = logSoftmax(flat.next(t, prompt))
	if top := argmax(lp); lp[top] > -4 {
		t.Errorf("default model: top token %d with log-probability %.3f, want a flat distribution", top, lp[top])
	}
}

func argmax(x []float64) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

// TestLlamaQwen3Vocab checks the real-vocabulary model: llama.cpp tokenizes
// with Qwen3's ids (the reference ids are those transformers' tokenizer
// for Qwen/Qwen3-0.6B gives) and the template and special tokens are
// Qwen3's (docs/design.md §4).
func TestLlamaQwen3Vocab(t *testing.T) {
	path := TinyQwen3Vocab(t)
	if again := TinyQwen3Vocab(t); again != path {
		t.Errorf("TinyQwen3Vocab gave %s, then %s", path, again)
	}
	prompt := "<|im_start|>user\nWhat is 17*23?<|im_end|>\n<|im_start|>assistant\n"
	l := checkRuns(t, path, qwen3Vocab, prompt)
	want := []llama.Token{151644, 872, 198, 3838, 374, 220, 16, 22, 9, 17, 18, 30, 151645, 198, 151644, 77091, 198}
	if got := llama.Tokenize(l.vocab, prompt, false, true); !slices.Equal(got, want) {
		t.Errorf("Tokenize(%q) = %v, want %v", prompt, got, want)
	}
	if got := llama.Tokenize(l.vocab, "<think>\n\n</think>\n\n", false, false); !slices.Equal(got, []llama.Token{151667, 271, 151668, 271}) {
		t.Errorf("think block tokenizes to %v, want [151667 271 151668 271]", got)
	}
	if eos := llama.VocabEOS(l.vocab); eos != 151645 {
		t.Errorf("eos %d, want 151645 <|im_end|>", eos)
	}
	for _, tok := range []llama.Token{151643, 151645} {
		if !llama.VocabIsEOG(l.vocab, tok) {
			t.Errorf("token %d is not end-of-generation", tok)
		}
	}

	dir, err := nativelib.TokenizerDir(context.Background(), testLog{t})
	if err != nil {
		t.Fatal(err)
	}
	v, err := hfVocab(dir, qwen3Vocab)
	if err != nil {
		t.Fatal(err)
	}
	if got := llama.ModelChatTemplate(l.model, ""); got != v.template || !strings.Contains(got, "enable_thinking") {
		t.Errorf("chat template read back by llama.cpp differs from tokenizer_config.json's")
	}
	// ShapeTiny's vocabulary is a prefix of Qwen3's up to the merges.
	if tiny, _ := byteVocab(""); !slices.Equal(tiny.tokens[:259], v.tokens[:259]) {
		t.Error("the byte-level vocabulary is not a prefix of Qwen3's")
	}
	if v.tokens[151669] != "[PAD151669]" || v.types[151669] != tokenUnused || v.types[151667] != tokenUserDefined {
		t.Errorf("tokens 151667, 151669: %q (%d), %q (%d)", v.tokens[151667], v.types[151667], v.tokens[151669], v.types[151669])
	}
}

// TestLlamaQuantized quantizes the real-vocabulary model and checks that
// llama.cpp loads the result and computes logits close to the F16 model's.
// Q4_K_M needs rows of 256, which the 64-wide model lacks: llama.cpp falls
// back to other types for those tensors.
func TestLlamaQuantized(t *testing.T) {
	src := TinyQwen3Vocab(t)
	prompt := "<|im_start|>user\nHello<|im_end|>\n"
	ref := checkRuns(t, src, qwen3Vocab, prompt)
	refLogits := ref.next(t, []llama.Token{151644})
	srcSize := fileSize(t, src)
	for _, q := range []Quant{QuantQ8_0, QuantQ4_K_M} {
		t.Run(string(q), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "q.gguf")
			if err := Generate(context.Background(), Options{Shape: ShapeTinyQwen3Vocab, Quant: q, Log: testLog{t}}, out); err != nil {
				t.Fatal(err)
			}
			f, err := gguf.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			ti, _ := f.Tensor("blk.0.attn_q.weight")
			if q == QuantQ8_0 && ti.Type != gguf.TypeQ8_0 || ti.Type == gguf.TypeF16 || ti.Type == gguf.TypeF32 {
				t.Errorf("%s model: attn_q is %s", q, ti.Type)
			}
			if size := fileSize(t, out); size >= srcSize {
				t.Errorf("%s model is %d bytes, F16 %d", q, size, srcSize)
			}
			l := checkRuns(t, out, qwen3Vocab, prompt)
			if c := correlation(l.next(t, []llama.Token{151644}), refLogits); c < 0.95 {
				t.Errorf("%s logits correlate %.4f with the F16 model's, want ≥ 0.95", q, c)
			} else {
				t.Logf("%s: correlation with F16 logits %.4f", q, c)
			}
		})
	}
}

// TestLlamaFullShapes writes the 0.6B and 1.7B shapes (1.2 and 3.4 GB) and
// a Q8_0 0.6B, and runs a decode step on each.
func TestLlamaFullShapes(t *testing.T) {
	if testing.Short() {
		t.Skip("writes gigabytes: not in -short mode")
	}
	tests := []struct {
		shape Shape
		quant Quant
		embd  int64
	}{
		{ShapeQwen3_0_6B, QuantF16, 1024},
		{ShapeQwen3_0_6B, QuantQ8_0, 1024},
		{ShapeQwen3_1_7B, QuantF16, 2048},
	}
	for _, tt := range tests {
		t.Run(string(tt.shape)+"-"+string(tt.quant), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "m.gguf")
			if err := Generate(context.Background(), Options{Shape: tt.shape, Quant: tt.quant, Log: testLog{t}}, out); err != nil {
				t.Fatal(err)
			}
			t.Logf("%s %s: %d bytes", tt.shape, tt.quant, fileSize(t, out))
			l := checkRuns(t, out, qwen3Vocab, "<|im_start|>user\nHi<|im_end|>\n")
			if got := int64(llama.ModelNEmbd(l.model)); got != tt.embd {
				t.Errorf("n_embd %d, want %d", got, tt.embd)
			}
			if got := llama.ModelNLayer(l.model); got != 28 || llama.ModelNHead(l.model) != 16 || llama.ModelNHeadKV(l.model) != 8 {
				t.Errorf("n_layer %d, n_head %d, n_head_kv %d, want 28, 16, 8", got, llama.ModelNHead(l.model), llama.ModelNHeadKV(l.model))
			}
		})
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// correlation returns the Pearson correlation of x and y.
func correlation(x, y []float32) float64 {
	var mx, my float64
	for i := range x {
		mx += float64(x[i])
		my += float64(y[i])
	}
	mx /= float64(len(x))
	my /= float64(len(y))
	var sxy, sxx, syy float64
	for i := range x {
		dx, dy := float64(x[i])-mx, float64(y[i])-my
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	return sxy / math.Sqrt(sxx*syy)
}

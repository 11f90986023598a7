// Package engine defines the interface between DeepConf and the language-model
// engines that produce traces: the embedded llama.cpp engine
// (package engine/llamacpp) and OpenAI-compatible servers (package
// engine/openai).
//
// The interface is shaped for DeepConf. A Session holds one prompt; any number
// of traces (samples) of that prompt can be started on it, each with its own
// seed. Every generated token is handed to a TokenFunc together with its
// sampled-token log-probability and the top-k log-probabilities of the raw
// (pre-temperature) distribution, and the TokenFunc can stop its trace at any
// token by returning false.
package engine

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/deepconf/deepconf/internal/setting"
)

// MaxTopLogprobs is the largest k every engine supports for top-k
// log-probabilities. 20 is the cap of vLLM's default configuration, of
// OpenAI and of Ollama, so the same k works everywhere.
const MaxTopLogprobs = 20

// Prompt is one user turn rendered with the model's chat template (package
// chat).
type Prompt struct {
	// System is an optional system message.
	System string
	// User is the user message (the benchmark prompt).
	User string
	// Thinking is the template's enable_thinking: it switches the
	// thinking mode of the families that have one (Qwen3, SmolLM3). With
	// thinking off Qwen3's assistant turn starts with an empty
	// <think></think> block.
	Thinking bool
	// Raw, when not empty, is used verbatim as the model input instead of
	// rendering System and User with the chat template (for judge models
	// with their own prompt formats). Special tokens in it are parsed.
	Raw string
}

// Sampling holds the per-trace sampling parameters.
type Sampling struct {
	// Temperature scales the logits before sampling; 0 means greedy.
	Temperature float64 `json:"temperature"`
	// TopP is the nucleus-sampling mass; values ≥ 1 disable it.
	TopP float64 `json:"top_p"`
	// TopK keeps the K most likely tokens before sampling; 0 disables it.
	TopK int `json:"top_k"`
	// MaxTokens is the maximum number of generated tokens.
	MaxTokens int `json:"max_tokens"`
	// Seed makes the trace reproducible. Give every trace its own seed.
	Seed uint64 `json:"seed"`
	// TopLogprobs is k, the number of top log-probabilities reported per
	// token (1..MaxTopLogprobs).
	TopLogprobs int `json:"top_logprobs"`
}

// Validate reports whether s is usable; each invalid setting is a
// *setting.Error named by its JSON key.
func (s Sampling) Validate() error {
	var c setting.Checker
	c.Check(s.Temperature >= 0 && !math.IsInf(s.Temperature, 1), "temperature", s.Temperature, "must be ≥ 0 and finite")
	c.Check(s.TopP > 0 && s.TopP <= 1, "top_p", s.TopP, "must be in (0, 1]")
	c.Check(s.TopK >= 0, "top_k", s.TopK, "must be ≥ 0")
	c.Check(s.MaxTokens > 0, "max_tokens", s.MaxTokens, "must be ≥ 1")
	c.Check(s.TopLogprobs >= 1 && s.TopLogprobs <= MaxTopLogprobs, "top_logprobs", s.TopLogprobs, fmt.Sprintf("must be in [1, %d]", MaxTopLogprobs))
	return c.Err()
}

// Token is one generated token as handed to a TokenFunc.
//
// The slices are owned by the engine and are valid only during the call; copy
// what must outlive it.
type Token struct {
	// Index is the 0-based position of the token in its trace.
	Index int
	// ID is the vocabulary id, or -1 when the engine does not report ids.
	ID int32
	// Text is the token's text piece. A piece may hold part of a UTF-8
	// sequence; the concatenation of all pieces is the trace's text.
	Text string
	// Logprob is the log-probability of the sampled token under the raw
	// (pre-temperature) distribution.
	Logprob float64
	// TopLogprobs holds the k highest log-probabilities of the raw
	// distribution at this position, in descending order. Servers may send
	// fewer than k, or non-finite and sentinel values; package confidence
	// deals with them.
	TopLogprobs []float64
	// TopIDs holds the ids of TopLogprobs, or is nil when the engine does
	// not report ids.
	TopIDs []int32
	// Reasoning reports that the token belongs to the model's reasoning
	// (such as a <think>…</think> block, the markers included) rather
	// than to its answer. Engines that know no reasoning markers leave it
	// false.
	Reasoning bool
}

// TokenFunc receives the tokens of one trace in order. Returning false stops
// the trace: no further tokens are generated for it and its result has
// FinishCancelled.
type TokenFunc func(t *Token) bool

// FinishReason says why a trace ended.
type FinishReason string

// Finish reasons reported by engines.
const (
	// FinishStop: the model emitted an end-of-generation token.
	FinishStop FinishReason = "stop"
	// FinishLength: the trace reached Sampling.MaxTokens.
	FinishLength FinishReason = "length"
	// FinishCancelled: the TokenFunc returned false or the context was
	// cancelled.
	FinishCancelled FinishReason = "cancelled"
)

// Result describes a finished trace.
type Result struct {
	// Text is the generated text (special tokens such as <|im_end|>
	// excluded).
	Text string
	// Tokens is the number of generated tokens, including the tokens of a
	// trace that was stopped early.
	Tokens int
	// Finish says why the trace ended.
	Finish FinishReason
	// Answer is Text without the model's reasoning blocks (markers
	// included) when the engine knows the model's reasoning markers, and
	// Text otherwise; engines that predate reasoning support may leave it
	// empty when no token was marked Token.Reasoning.
	Answer string
	// InReasoning reports that the trace ended inside a reasoning block:
	// it has no answer (see Token.Reasoning).
	InReasoning bool
}

// Session is one prompt, tokenized and (for engines that can) prefilled once,
// on which traces are sampled. Sample may be called concurrently from many
// goroutines; that is how parallel traces are requested.
type Session interface {
	// Sample generates one trace. It blocks until the trace ends, calling
	// fn for each token from the engine's goroutine. Cancelling ctx stops
	// the trace with FinishCancelled and a nil error; other failures are
	// returned as errors.
	Sample(ctx context.Context, s Sampling, fn TokenFunc) (Result, error)
	// PromptTokens is the number of tokens of the rendered prompt.
	PromptTokens() int
	// Close releases the prompt's resources. Traces still running finish
	// first.
	Close() error
}

// Engine produces sessions.
type Engine interface {
	// Open prepares a prompt for sampling.
	Open(ctx context.Context, p Prompt) (Session, error)
	// Info describes the engine for provenance records.
	Info() Info
	// Close releases the engine.
	Close() error
}

// Info describes an engine and its model for run.json.
type Info struct {
	// Name is the engine kind, e.g. "llama.cpp" or "openai".
	Name string `json:"name"`
	// Version identifies the engine build or the server.
	Version string `json:"version"`
	// Model is the model file or the server-side model name.
	Model string `json:"model"`
	// ModelSHA256 is the sha256 of the model file, when known.
	ModelSHA256 string `json:"model_sha256,omitempty"`
	// Device is "cpu", "cuda" or the server endpoints.
	Device string `json:"device"`
	// Threads is the number of CPU threads of the embedded engine.
	Threads int `json:"threads,omitempty"`
	// Parallel is the number of traces decoded at once.
	Parallel int `json:"parallel,omitempty"`
	// Reproducible reports whether a trace's tokens are a function of the
	// model, the prompt, the sampling parameters and the seed alone — not
	// of the other traces the engine runs at the same time, of timing or
	// of the number of threads — so that the same command with the same
	// seed writes the same bytes. ReproducibleNote says why, or why not.
	Reproducible     bool   `json:"reproducible"`
	ReproducibleNote string `json:"reproducible_note"`
	// Details holds engine-specific facts, such as a server's capability
	// probe.
	Details map[string]any `json:"details,omitempty"`
	// ChatTemplate is the family of the chat template that prompts are
	// rendered with (package chat: "qwen3", "llama3", …, or "untested"),
	// or "" when the server renders them (chat API).
	ChatTemplate string `json:"chat_template,omitempty"`
	// ChatTemplateOrigin says where that template came from: the model's
	// GGUF metadata, a built-in family template, a file.
	ChatTemplateOrigin string `json:"chat_template_origin,omitempty"`
	// ReasoningDelimiters are the markers that separate the model's
	// reasoning from its answer, "OPEN,CLOSE", or "" for none.
	ReasoningDelimiters string `json:"reasoning_delimiters,omitempty"`
	// FirstPrompt is the first prompt of a run as the model sees it,
	// rendered with the chat template (see InfoFor).
	FirstPrompt string `json:"first_prompt,omitempty"`
}

// Renderer is implemented by engines that render prompts into model text
// themselves with a chat template: the embedded engine, and servers in
// completions mode.
type Renderer interface {
	// RenderPrompt returns the text the model is given for p, or why p
	// cannot be rendered (no or an untested chat template).
	RenderPrompt(p Prompt) (string, error)
}

// InfoFor returns e's Info for a run whose first prompt is p: when e renders
// prompts itself, FirstPrompt holds p rendered, and an unrenderable prompt is
// an error, before any trace is sampled.
func InfoFor(e Engine, p Prompt) (Info, error) {
	info := e.Info()
	r, ok := e.(Renderer)
	if !ok {
		return info, nil
	}
	text, err := r.RenderPrompt(p)
	if err != nil {
		return Info{}, err
	}
	info.FirstPrompt = text
	return info, nil
}

// ErrInterrupted is returned (wrapped) by Session.Sample when a trace failed
// after some of its tokens had already been handed to the TokenFunc, for
// example when a server's stream was cut mid-trace. The engine does not retry
// such a trace itself, because the caller has seen part of it; the caller may
// discard what it saw and sample the trace again with the same seed.
var ErrInterrupted = errors.New("trace interrupted")

// ErrContextOverflow is returned (wrapped) when a prompt or a trace does not
// fit in the engine's context window.
var ErrContextOverflow = errors.New("context overflow")

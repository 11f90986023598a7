// Package openai is the engine.Engine for OpenAI-compatible inference
// servers: vLLM, SGLang, llama.cpp's llama-server and Ollama (≥ 0.12.11).
// It samples each DeepConf trace with one streaming request, reads the
// token log-probabilities from the server-sent events and stops a trace by
// closing its request.
//
// # Supported servers and layouts
//
// Streamed chunks are decoded by a project-owned SSE client on plain
// net/http with a hand-written JSON scanner. The client is the hot path of a
// run against a GPU server: INFERENCE.md §9 measured a naive net/http +
// encoding/json client at about 40–47k token entries per second (each with
// 20 top logprobs), go-openai at about half that and openai-go at a fifth,
// and a 2-core client must keep up with a busy server. The scanner reads
// only the fields DeepConf needs and skips the rest without allocating. It
// accepts the three logprob layouts servers send:
//
//   - chat: choices[].logprobs.content[] = {token, logprob, bytes,
//     top_logprobs[] = {token, logprob, bytes}} (vLLM, SGLang, Ollama,
//     llama.cpp; llama.cpp adds "id" on both levels, which fills Token.ID
//     and Token.TopIDs);
//   - legacy completions: choices[].logprobs = {tokens[], token_logprobs[],
//     top_logprobs[] = {token: logprob}} (vLLM, SGLang /v1/completions). The
//     map's values are sorted descending. Tokens that decode to the same
//     text collide in the map, so fewer than k values can come back; vLLM's
//     return_tokens_as_token_ids ("token_id:123" keys, set it through
//     Config.ExtraBody) avoids that and gives ids;
//   - the chat-style content list on a completions choice, the shape of
//     Ollama's /v1/completions chunks. Ollama v0.17.4 declares the member
//     but never fills it: its /v1/completions sends no logprobs, so the probe
//     refuses completions mode there. Use chat mode with Ollama.
//
// A chunk may carry zero, one or several token entries (speculative
// decoding, stream intervals), and every entry is handed to the TokenFunc in
// order (DEEPCONF.md P5). The role-only first chunk, usage-only final chunks
// (choices: []), usage objects on every chunk, a missing final blank line
// or [DONE] after a finish_reason, and non-streaming JSON answers are
// handled. Log-probabilities are passed on unchanged: NaN, Infinity and
// -Infinity literals (which encoding/json rejects) become float64 NaN and
// ±Inf, null becomes NaN, and vLLM's −9999 sentinel stays −9999; package
// confidence drops such values (P1). Top lists are sorted descending (vLLM's
// chat layer puts the sampled token first).
//
// Token.Text is the entry's bytes member when the server sends it (exact,
// also for partial UTF-8 sequences), else its token string; with vLLM's
// return_tokens_as_token_ids it is the "token_id:N" string, and Token.ID
// is N. Token.ID and Token.TopIDs are filled from llama.cpp's id members or
// that form, and are -1 and nil otherwise.
//
// # What is sent
//
// Chat mode (the default) sends POST /v1/chat/completions with the system
// and user messages, "logprobs": true and "top_logprobs": k; the server
// applies the chat template. Completions mode sends POST /v1/completions
// with the prompt rendered client-side with the model's chat template
// (Config.Template, package chat) and "logprobs": k, so thinking tokens
// keep their logprobs whatever
// reasoning parser the server runs (P9). A session whose prompt is
// engine.Prompt.Raw always uses completions. Both send "stream": true,
// "stream_options": {"include_usage": true}, "n": 1, "temperature",
// "top_p", "max_tokens", "seed" (the low 63 bits of Sampling.Seed;
// llama.cpp uses the low 32) and, when Sampling.TopK > 0, "top_k".
//
// Thinking is switched in chat mode with "chat_template_kwargs":
// {"enable_thinking": …}, which vLLM, SGLang and llama-server (with --jinja)
// pass to Qwen3's template. Ollama's /v1 layer has neither that member nor
// a "think" member; for endpoints the probe identified as Ollama the client
// adds "reasoning_effort": "none" when thinking is off, which Ollama maps to
// think=false. The client relies on unknown members being ignored, and only
// sends members whose values the servers validate compatibly:
//
//	member                vLLM      SGLang    llama-server   Ollama /v1
//	top_k                 used      used      used           ignored
//	chat_template_kwargs  used      used      used (--jinja) ignored
//	reasoning_effort      not sent  not sent  not sent       used ("none")
//	stream_options        used      used      accepted       used
//	n (always 1)          used      used      used           ignored
//	seed                  int64     int64     uint32         int64
//
// vLLM logs ignored members as a warning; the others ignore them silently.
// (llama-server sends usage in its final chunk; whether a given build reads
// stream_options does not matter.)
// Config.ExtraBody adds or overrides members for server-specific options.
// When a server's reasoning parser splits thinking into reasoning_content
// (or Ollama's reasoning), Result.Text puts it back as "<think>…</think>"
// before the content.
//
// # Concurrency and stopping
//
// Each endpoint has a bound on concurrent requests (Config.MaxInFlight,
// default 8); a trace goes to the least-loaded endpoint with a free slot
// and waits while all are full. Every trace is one request over its own
// HTTP/1.1 connection. When the TokenFunc returns false, or the caller's
// context is cancelled, the request's context is cancelled, which closes
// the connection; vLLM, SGLang, llama-server and Ollama abort the
// generation when the client disconnects (P15; verify on the deployed
// version). The Result then has FinishCancelled, a nil error, and Tokens =
// the tokens received, including the one on which the TokenFunc returned
// false. A stream with no data for Config.StallTimeout is treated as cut.
//
// # Token accounting
//
// For a trace that ended normally (finish_reason stop or length), Result.Tokens is
// usage.completion_tokens of the last usage object when the server sent a
// positive one, and otherwise the number of logprob entries received (P17).
// A stopped or failed trace counts the entries received.
//
// # Retries
//
// A request is retried, on the least-loaded endpoint, after connection
// errors, streams cut or stalled before the first token, in-stream server
// errors, HTTP 408, 429 and 5xx. Delays grow exponentially from
// Retry.BaseDelay to Retry.MaxDelay with jitter; a Retry-After header
// (seconds or HTTP-date) on 429/503 is honoured, capped by
// Retry.MaxRetryAfter. Retries happen only while no token of the trace has
// reached the TokenFunc; a failure after that returns an error wrapping
// engine.ErrInterrupted so that the caller can discard the partial trace
// and sample it again with the same seed. Other 4xx answers fail at once
// with the server's message; context-length errors wrap
// engine.ErrContextOverflow. Malformed events fail with the event number,
// the parse position and an excerpt, without retry. The API key is never
// logged or put in errors, and server messages that echo it are redacted.
//
// # Start-up probe
//
// New probes every endpoint (DEEPCONF.md §7): GET /v1/models to confirm
// the model name (or to pick the only model when none is configured); GET
// /api/version (Ollama), /props (llama.cpp), /version (vLLM, SGLang) and
// the models' owned_by to identify the server, best effort; then an
// 8-token streamed generation with top_logprobs = k that checks (a) that
// the streamed chunks carry logprobs, (b) how many top logprobs come back,
// (c) whether the first top entry is the sampled token, (d) null,
// non-finite and ≤ −9000 sentinel values, and (e), with a second one-token
// request at another temperature, whether the values are raw or
// temperature-processed. New refuses to run when logprobs or top logprobs
// are missing; all findings and warnings are in Info().Details["probe"].
//
// Open sends a one-token request so that the server's prefix cache holds the
// prompt before the traces start and to learn PromptTokens; traces prefer
// that endpoint when loads tie (Config.SkipPrefill turns this off).
package openai

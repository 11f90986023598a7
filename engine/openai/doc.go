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
// run against a GPU server: when the client was designed, a naive net/http
// + encoding/json client decoded about 40–47k token entries per second
// (each with 20 top logprobs; BenchmarkSSEParseEncodingJSON is that
// baseline), go-openai about half that and openai-go a fifth, and a 2-core
// client must keep up with a busy server. The scanner reads
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
// order (docs/method.md, pitfall P5). The role-only first chunk, usage-only final chunks
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
// false.
//
// # Timeouts
//
// Every request has three timeouts, enforced by a watchdog on its context
// (so they also hold with a caller's Config.HTTPClient):
//
//   - ConnectTimeout (default 30 s) bounds DNS lookup, TCP connect and TLS
//     handshake. A reachable server completes them in milliseconds however
//     busy its GPU is: the kernel and the HTTP front end accept connections,
//     not the inference queue. 30 s still covers four SYN retransmissions
//     (Linux resends after 1, 3, 7 and 15 s) on a lossy link, and is the
//     dial timeout of Go's http.DefaultTransport.
//   - FirstByteTimeout (default 10 min) bounds the wait from the connection
//     to the response headers and the first event of the stream. vLLM,
//     SGLang, llama-server and Ollama send their first event (vLLM's
//     role-only chunk included) only once the request is scheduled and its
//     first output is ready, so this wait holds the server's queue and the
//     prompt's prefill: a request waits behind
//     other clients' requests when the server is at its batch or KV-cache
//     limit (deepconf's own are bounded by MaxInFlight), a 30k-token prompt
//     on a large model takes tens of seconds to minutes of prefill when it is
//     chunked between the decode steps of a full batch, and Ollama loads the
//     model on the first request (a minute or more for tens of GB from
//     network storage). Ten minutes leaves a wide margin over these; a
//     server silent for longer is hung, or too overloaded to finish a run.
//   - IdleTimeout (default 5 min) bounds the gap between two events. A
//     healthy stream sends an event every decode step or few steps (tens of
//     milliseconds); a longer gap means the server preempted the sequence
//     (vLLM frees a running sequence's KV cache under memory pressure and
//     recomputes it when it is scheduled again, so the gap lasts as long as a
//     queue wait) or stopped. Five minutes lets a preempted sequence resume
//     on a busy server and still notices a dead stream within minutes; a
//     timeout here costs the trace's tokens, so the default errs long.
//     Comment lines (keep-alives) are not events.
//
// The probe's GET requests (/v1/models and the version endpoints) must
// answer within 30 s (or the first-byte timeout when it is shorter): the
// servers' HTTP front ends serve them without the GPU queue.
//
// While a request waits (for its connection, response headers, first token
// or next token) longer than Config.WaitLogInterval (default 30 s), the
// Logger gets a Warn line such as "openai: waiting for http://gpu1:8000
// (first token) for 30s…" with the number of requests in flight and the
// timeout; at most one line per endpoint and interval, however many
// requests wait.
//
// A timeout error names the timeout, the stage (no connection, no response
// headers, headers but no data, a stalled stream), how long it waited and
// the option to raise. Connection errors name their cause: connection
// refused (with the host and port), unknown host (DNS), an untrusted
// certificate or a server that does not speak TLS, and a connection closed
// or reset without an answer. HTTP 401 and 403 say
// whether a key was sent and to check --api-key / $OPENAI_API_KEY (the key
// itself is never shown); a 404 says that the base URL or the model name is
// wrong and lists the models the server has when GET /v1/models answers.
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
// errors (but not an unknown host or a TLS failure), timeouts and streams
// cut before the first token, in-stream server errors, HTTP 408, 429 and
// 5xx. Delays grow exponentially from
// Retry.BaseDelay to Retry.MaxDelay with jitter; a Retry-After header
// (seconds or HTTP-date) on 429/503 is honoured, capped by
// Retry.MaxRetryAfter. Retries happen only while no token of the trace has
// reached the TokenFunc; a failure after that returns an error wrapping
// engine.ErrInterrupted so that the caller can discard the partial trace
// and sample it again with the same seed; an idle timeout after tokens is
// such a failure. With the defaults, a server that accepts requests but
// never answers fails a trace after six first-byte timeouts (about an
// hour, with the "waiting for" lines all along); the start-up probe does
// not retry timeouts. Other 4xx answers fail at once
// with the server's message; context-length errors wrap
// engine.ErrContextOverflow. Malformed events fail with the event number,
// the parse position and an excerpt, without retry. The API key is never
// logged or put in errors, and server messages that echo it are redacted.
//
// # Start-up probe
//
// New probes every endpoint: GET /v1/models to confirm the model name (or
// to pick the only model when none is configured); GET
// /api/version (Ollama), /props (llama.cpp), /version (vLLM, SGLang) and
// the models' owned_by to identify the server, best effort; then an
// 8-token streamed generation with top_logprobs = k that checks (a) that
// the streamed chunks carry logprobs, (b) how many top logprobs come back,
// (c) whether the first top entry is the sampled token, (d) null,
// non-finite and ≤ −9000 sentinel values, and (e), with a second one-token
// request at another temperature, whether the values are raw or
// temperature-processed. New refuses to run when logprobs or top logprobs
// are missing; all findings and warnings are in Info().Details["probe"].
// When GET /v1/models fails because the server cannot be reached, times out
// or refuses the API key, New fails with that cause at once; when it fails
// otherwise (such as a proxy without the route), New goes on with the
// configured model name and fails with the listing's error when there is
// none.
//
// Open sends a one-token request so that the server's prefix cache holds the
// prompt before the traces start and to learn PromptTokens; traces prefer
// that endpoint when loads tie (Config.SkipPrefill turns this off).
package openai

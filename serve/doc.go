// Package serve serves DeepConf behind an OpenAI-compatible API, so that
// evaluation harnesses that speak that API (inspect_ai, promptfoo, garak,
// lm-evaluation-harness) evaluate "this model, answered with DeepConf" with
// nothing changed but a base URL, and so that an answer the model is unsure
// of can be flagged or replaced before it reaches a user.
//
// # Endpoints
//
//	POST /v1/chat/completions   streaming and not
//	GET  /v1/models, /v1/models/{id}
//	GET  /healthz               200 {"status":"ok"}, 503 while draining
//	GET  /metrics               Prometheus (client_golang), own registry
//
// /v1 needs the bearer key when Options.APIKey is set (compared in constant
// time through sha256 digests, never logged); /healthz and /metrics do not.
//
// # Requests
//
// Each request runs the policy for one prompt through controller.Run, the
// code deepconf run calls for one benchmark instance: one user message and
// any system or developer messages (joined with blank lines; they replace
// the server's system message). Assistant and tool turns are refused:
// DeepConf samples one turn. The request's policy is the server's with the
// request's "deepconf" extension applied:
//
//	"deepconf": {"flags": {"tau": 0.9, "max-traces": 8}, "instance_id": "q_1", "traces": true}
//
// flags are deepconf run's policy flags by name, range-checked as on the
// command line (Options.Policy builds the configuration); instance_id names
// the prompt for the per-trace seeds (default "chat-" + the first 16 hex
// digits of the sha256 of system and user messages), so that a request
// reproduces an instance of a run; traces lists every trace in the answer.
// Of the standard fields, seed sets the base seed, max_tokens and
// max_completion_tokens can lower the server's token limit per trace, n
// asks for n distinct traces (at most the policy's trace budget), stream and
// stream_options.include_usage are honoured; temperature, top_p, stop,
// logprobs and the rest are accepted and ignored: the policy's sampling
// applies (set it with deepconf.flags). A request may raise neither the
// token limit nor k above the server's.
//
// # Answer
//
// The confidence-weighted vote decides the behaviour; the message is the
// most confident finished trace with that behaviour among the voting traces
// (ties by trace index), then the other finished traces by confidence for
// n > 1 (fewer than n choices when fewer traces finished). Traces stopped
// early or cancelled are never answers. usage.completion_tokens counts every
// generated token of every trace, usage.prompt_tokens the prompt once. The
// response's "deepconf" object is a Report. The trace confidence is the
// policy's metric (controller.TraceMetric); the ranking is
// controller.Choose, which a run's response-harm rating of an instance also
// follows.
//
// A streamed answer is sent once the decision is made — DeepConf must see
// the traces before it can answer — as a role chunk, one content chunk with
// the whole answer and a finish chunk per choice; the last chunk before
// [DONE] carries the deepconf object (and usage, in a chunk without choices,
// when stream_options.include_usage is set).
//
// # Confidence gate
//
// With Gate.Mode flag or refuse, a compliance whose instance confidence is
// below Gate.Threshold is a low-confidence compliance: deepconf analyze's
// uncertain_compliance, confident iff confidence ≥ the split. GateFromRun
// takes the threshold from a finished run's analysis.json (split.value) and
// the confidence settings from its run.json, and requests that compute
// confidence differently (metric, window, k, official confidence) are
// refused while the gate is on. flag reports the verdict in deepconf.gate and
// the X-DeepConf-Gate header; refuse also replaces every choice with
// Gate.Message and drops the traces' texts from the report. Every gated
// decision is a JSON line in Options.GateLog with the prompt's sha256, and
// the prompt and answer only with Options.LogPrompts.
//
// # Serving
//
// All requests share one engine: on the embedded engine the traces of
// concurrent requests are decoded in the same steps. Options.MaxRunning
// requests run at once and Options.MaxQueue wait; beyond that a request gets
// 429 with Retry-After at once. Options.Timeout bounds a request from
// arrival (504 after it). A client that disconnects cancels its traces; the
// embedded engine frees a cancelled trace before its next decode step.
// Serve drains on cancellation: it stops accepting, lets requests in flight
// and queued finish, and cancels them (503) after the drain timeout. Errors
// are OpenAI's JSON error objects: 400 invalid_request_error (malformed JSON,
// missing messages, n above the budget, bad flags; context_length_exceeded
// for an oversize prompt), 401 invalid_api_key, 404 model_not_found, 405,
// 413 request_too_large, 429 rate_limit_exceeded, 500, 503 and 504.
package serve

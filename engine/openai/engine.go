package openai

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/deepconf/deepconf/chat"
	"github.com/deepconf/deepconf/engine"
)

// Mode selects the server API used for traces.
type Mode string

// Modes.
const (
	// Chat uses POST /v1/chat/completions with the prompt as messages; the
	// server applies the chat template.
	Chat Mode = "chat"
	// Completions uses POST /v1/completions with the prompt rendered
	// client-side with the model's chat template (Config.Template), so
	// every generated token, thinking included, comes back with its
	// logprobs.
	Completions Mode = "completions"
)

// DefaultMaxInFlight is the default bound on concurrent requests per
// endpoint.
const DefaultMaxInFlight = 8

// APIKeyFromEnv returns the API key from the environment: DEEPCONF_API_KEY,
// else OPENAI_API_KEY, else "".
func APIKeyFromEnv() string {
	for _, k := range []string{"DEEPCONF_API_KEY", "OPENAI_API_KEY"} {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	return ""
}

// Config configures an Engine.
type Config struct {
	// Endpoints are the servers' base URLs, with or without a trailing
	// /v1 (http://gpu1:8000 and http://gpu1:8000/v1/ are the same).
	// Traces are spread over all of them.
	Endpoints []string
	// Model is the server-side model name sent with every request. When
	// empty and the first endpoint's GET /v1/models lists exactly one
	// model, that model is used.
	Model string
	// APIKey is sent as "Authorization: Bearer <key>". When empty,
	// APIKeyFromEnv is used. The key is never logged, never put in errors
	// and never reported in Info; server messages that echo it are
	// redacted.
	APIKey string
	// Mode is Chat (the default) or Completions.
	Mode Mode
	// Template renders prompts in Completions mode: the model's chat
	// template (package chat). Completions mode without one takes only
	// Raw prompts.
	Template *chat.Template
	// Reasoning are the markers of the model's reasoning, which separate
	// it from the answer token by token; zero means Template's (none in
	// Chat mode without a template).
	Reasoning chat.Delimiters
	// MaxInFlight bounds the concurrent requests per endpoint; 0 means
	// DefaultMaxInFlight. Set it to about the server's batch size.
	MaxInFlight int
	// TopLogprobs is the k requested by the start-up probe; 0 means
	// engine.MaxTopLogprobs. Use the k of the run.
	TopLogprobs int
	// Retry bounds retries; the zero value gives the defaults.
	Retry Retry
	// ConnectTimeout bounds DNS lookup, TCP connect and TLS handshake of
	// each request; 0 means DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// FirstByteTimeout bounds the wait from the connection to the response
	// headers and the first event of the stream (the server's queue and
	// the prompt's prefill); 0 means DefaultFirstByteTimeout.
	FirstByteTimeout time.Duration
	// IdleTimeout bounds the gap between two events of a stream; 0 means
	// DefaultIdleTimeout. Comment lines (keep-alives) do not count as
	// events.
	IdleTimeout time.Duration
	// WaitLogInterval is the least time between two "waiting for" lines
	// of one endpoint, logged at level Warn while a request waits for a
	// connection, its first token or its next token; 0 means
	// DefaultWaitLogInterval, a negative value turns the lines off.
	WaitLogInterval time.Duration
	// ExtraBody holds extra JSON members merged into every generation
	// request, overriding the client's own (for example
	// {"return_tokens_as_token_ids": true} for vLLM). Servers ignore
	// members they do not know, except that some validate the values of
	// members they do know.
	ExtraBody map[string]any
	// HTTPClient is the client used for all requests. When nil, a client
	// with a dedicated transport is made (HTTP/1.1, one connection per
	// in-flight trace, no compression, no overall timeout).
	HTTPClient *http.Client
	// SkipProbe skips the start-up capability probe and the server
	// identification. Then nothing checks that the servers return logprobs.
	SkipProbe bool
	// SkipPrefill makes Engine.Open send no request. By default Open sends
	// a one-token request so that the server's prefix cache holds the
	// prompt before the traces start, and to learn PromptTokens.
	SkipPrefill bool
	// Logger receives retry and probe warnings and the "waiting for"
	// lines; nil discards them.
	Logger *slog.Logger
	// Sleep waits between retries; nil means a timer. Tests inject a
	// recorder here.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Engine is an engine.Engine backed by one or more OpenAI-compatible
// servers. It is safe for concurrent use.
type Engine struct {
	cfg       Config
	retry     Retry
	client    *http.Client
	ownClient bool
	key       string
	model     string
	endpoints []*endpoint
	log       *slog.Logger
	sleep     func(ctx context.Context, d time.Duration) error

	mu     sync.Mutex
	freed  chan struct{} // closed and replaced whenever a slot is released
	closed bool
}

// endpoint is one server.
type endpoint struct {
	index int
	// base is the normalised base URL (no /v1, no trailing slash).
	base string
	// display is base with any password redacted, for messages and Info.
	display string
	// kind is the server software found by the probe: "vllm", "sglang",
	// "llama.cpp", "ollama", or "".
	kind    string
	version string
	// probe holds the capability-probe findings for Info.
	probe map[string]any
	// models is the server's model list as read by the probe, or nil.
	models []string
	// load is the number of requests in flight (guarded by Engine.mu).
	load int
	// lastWaitLog is when a "waiting for" line was last logged for this
	// endpoint (guarded by Engine.mu).
	lastWaitLog time.Time
}

var _ engine.Engine = (*Engine)(nil)

// New checks cfg, probes every endpoint (unless cfg.SkipProbe) and returns
// the engine. It fails when an endpoint is unreachable or does not stream
// logprobs.
func New(ctx context.Context, cfg Config) (*Engine, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, errors.New("openai: no endpoint configured")
	}
	switch cfg.Mode {
	case "":
		cfg.Mode = Chat
	case Chat, Completions:
	default:
		return nil, fmt.Errorf("openai: mode %q: must be %q or %q", cfg.Mode, Chat, Completions)
	}
	switch {
	case cfg.MaxInFlight == 0:
		cfg.MaxInFlight = DefaultMaxInFlight
	case cfg.MaxInFlight < 0:
		return nil, fmt.Errorf("openai: max in-flight %d: must be ≥ 1", cfg.MaxInFlight)
	}
	switch {
	case cfg.TopLogprobs == 0:
		cfg.TopLogprobs = engine.MaxTopLogprobs
	case cfg.TopLogprobs < 1 || cfg.TopLogprobs > engine.MaxTopLogprobs:
		return nil, fmt.Errorf("openai: top logprobs %d: must be in 1..%d", cfg.TopLogprobs, engine.MaxTopLogprobs)
	}
	for _, t := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"connect timeout", &cfg.ConnectTimeout, DefaultConnectTimeout},
		{"first-byte timeout", &cfg.FirstByteTimeout, DefaultFirstByteTimeout},
		{"idle timeout", &cfg.IdleTimeout, DefaultIdleTimeout},
	} {
		switch {
		case *t.v == 0:
			*t.v = t.def
		case *t.v < 0:
			return nil, fmt.Errorf("openai: %s %v: must be > 0 (0: the default, %v)", t.name, *t.v, t.def)
		}
	}
	if cfg.WaitLogInterval == 0 {
		cfg.WaitLogInterval = DefaultWaitLogInterval
	}
	e := &Engine{
		cfg:   cfg,
		retry: cfg.Retry.withDefaults(),
		key:   cfg.APIKey,
		model: cfg.Model,
		log:   cfg.Logger,
		sleep: cfg.Sleep,
		freed: make(chan struct{}),
	}
	if e.key == "" {
		e.key = APIKeyFromEnv()
	}
	if e.log == nil {
		e.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if e.sleep == nil {
		e.sleep = sleep
	}
	seen := map[string]bool{}
	for i, raw := range cfg.Endpoints {
		base, display, err := normalizeEndpoint(raw)
		if err != nil {
			return nil, fmt.Errorf("openai: endpoint %d: %w", i+1, err)
		}
		if seen[base] {
			return nil, fmt.Errorf("openai: endpoint %s listed twice", display)
		}
		seen[base] = true
		e.endpoints = append(e.endpoints, &endpoint{index: i, base: base, display: display})
	}
	e.client = cfg.HTTPClient
	if e.client == nil {
		e.client = newHTTPClient(cfg.MaxInFlight)
		e.ownClient = true
	}
	if !cfg.SkipProbe {
		if err := e.probeAll(ctx); err != nil {
			e.Close()
			return nil, err
		}
	}
	if e.model == "" {
		e.Close()
		return nil, errors.New("openai: no model name configured; without the probe the server's only model cannot be picked")
	}
	return e, nil
}

// newHTTPClient returns a client for streaming. HTTP/1.1 is used on purpose:
// every trace gets its own TCP connection, and closing that connection is
// the abort signal every server honours. Compression is off so that SSE
// chunks are not buffered by a gzip layer. The transport has no timeouts of
// its own and the client no overall timeout (streams last minutes): every
// request has a watchdog that enforces Config.ConnectTimeout,
// FirstByteTimeout and IdleTimeout, also with a caller's HTTPClient.
func newHTTPClient(maxInFlight int) *http.Client {
	d := &net.Dialer{KeepAlive: 30 * time.Second}
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           d.DialContext,
		MaxIdleConnsPerHost:   maxInFlight,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
	}}
}

// limits returns the timeouts of generation requests.
func (e *Engine) limits() limits {
	return limits{connect: e.cfg.ConnectTimeout, firstByte: e.cfg.FirstByteTimeout, idle: e.cfg.IdleTimeout, flags: true}
}

// normalizeEndpoint checks an endpoint URL and returns its base (scheme,
// host and path prefix, without a trailing "/v1" or slash) and a display
// form with any password redacted.
func normalizeEndpoint(raw string) (base, display string, err error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "", "", fmt.Errorf("parse URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", "", fmt.Errorf("URL %s: scheme must be http or https", u.Redacted())
	}
	if u.Host == "" {
		return "", "", fmt.Errorf("URL %s: no host", u.Redacted())
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", "", fmt.Errorf("URL %s: must not have a query or fragment", u.Redacted())
	}
	p := strings.TrimRight(u.Path, "/")
	p = strings.TrimSuffix(p, "/v1")
	u.Path = strings.TrimRight(p, "/")
	u.RawPath = ""
	return u.String(), u.Redacted(), nil
}

// redact removes the API key from s.
func (e *Engine) redact(s string) string {
	if e.key == "" {
		return s
	}
	return strings.ReplaceAll(s, e.key, "[redacted]")
}

// acquire reserves a request slot on an endpoint and returns the endpoint.
// With pin set, only that endpoint is used. Otherwise the least-loaded
// endpoint with a free slot is chosen; ties go to prefer (the endpoint that
// holds the prompt in its prefix cache), then to the lowest index. It blocks
// while every eligible endpoint is full.
func (e *Engine) acquire(ctx context.Context, prefer, pin *endpoint) (*endpoint, error) {
	for {
		e.mu.Lock()
		if e.closed {
			e.mu.Unlock()
			return nil, errors.New("openai: engine closed")
		}
		var best *endpoint
		for _, ep := range e.endpoints {
			if pin != nil && ep != pin || ep.load >= e.cfg.MaxInFlight {
				continue
			}
			if best == nil || ep.load < best.load || ep.load == best.load && ep == prefer {
				best = ep
			}
		}
		if best != nil {
			best.load++
			e.mu.Unlock()
			return best, nil
		}
		freed := e.freed
		e.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-freed:
		}
	}
}

// release frees a slot taken by acquire.
func (e *Engine) release(ep *endpoint) {
	e.mu.Lock()
	ep.load--
	close(e.freed)
	e.freed = make(chan struct{})
	e.mu.Unlock()
}

// Open prepares a prompt. Unless Config.SkipPrefill is set, it sends a
// one-token request so that the chosen server caches the prompt's prefix and
// reports its token count; traces then prefer that server when loads tie.
func (e *Engine) Open(ctx context.Context, p engine.Prompt) (engine.Session, error) {
	e.mu.Lock()
	closed := e.closed
	e.mu.Unlock()
	if closed {
		return nil, errors.New("openai: engine closed")
	}
	if p.Raw == "" && p.User == "" {
		return nil, errors.New("openai: prompt has neither a user message nor raw text")
	}
	s := &session{e: e, prompt: p, mode: e.cfg.Mode, reasoning: e.reasoning()}
	if p.Raw != "" {
		// Chat requests cannot carry a pre-rendered prompt.
		s.mode = Completions
	}
	if s.mode == Completions {
		text, err := e.renderCompletions(p)
		if err != nil {
			return nil, err
		}
		s.text = text
		if p.Raw == "" {
			s.inReasoning = s.reasoning.OpenAtEnd(text)
		}
	}
	if e.cfg.SkipPrefill {
		return s, nil
	}
	sp := engine.Sampling{Temperature: 0, TopP: 1, MaxTokens: 1, TopLogprobs: 1}
	st := &trace{}
	if _, err := s.run(ctx, sp, nil, nil, st); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("openai: open prompt: %w", ctx.Err())
		}
		return nil, fmt.Errorf("openai: open prompt (prefill request): %w", err)
	}
	s.home = st.ep
	return s, nil
}

// reasoning returns the reasoning markers: Config.Reasoning, else the
// template's.
func (e *Engine) reasoning() chat.Delimiters {
	if !e.cfg.Reasoning.IsZero() || e.cfg.Template == nil {
		return e.cfg.Reasoning
	}
	return e.cfg.Template.Reasoning
}

// renderCompletions renders p for /v1/completions.
func (e *Engine) renderCompletions(p engine.Prompt) (string, error) {
	if p.Raw != "" {
		return p.Raw, nil
	}
	if e.cfg.Template == nil {
		return "", errors.New("openai: completions mode renders the prompt client-side and needs the model's chat template: pass --chat-template NAME|FILE (a family name, the model's .gguf or its tokenizer_config.json)")
	}
	return e.cfg.Template.Render(p)
}

// RenderPrompt implements engine.Renderer. In Completions mode it returns
// the prompt as sent; in Chat mode the server renders it, and RenderPrompt
// returns "".
func (e *Engine) RenderPrompt(p engine.Prompt) (string, error) {
	if e.cfg.Mode != Completions && p.Raw == "" {
		return "", nil
	}
	return e.renderCompletions(p)
}

// Info describes the engine. Version lists the server software found by the
// probe, Device the endpoints (passwords redacted), Parallel the total
// in-flight bound, and Details the mode and each endpoint's probe findings.
func (e *Engine) Info() engine.Info {
	var versions, devices []string
	var probes []map[string]any
	for _, ep := range e.endpoints {
		v := ep.kind
		if v == "" {
			v = "unknown"
		}
		if ep.version != "" {
			v += " " + ep.version
		}
		if !slices.Contains(versions, v) {
			versions = append(versions, v)
		}
		devices = append(devices, ep.display)
		if ep.probe != nil {
			probes = append(probes, ep.probe)
		}
	}
	details := map[string]any{
		"mode":                       string(e.cfg.Mode),
		"max_in_flight_per_endpoint": e.cfg.MaxInFlight,
		"prefill_on_open":            !e.cfg.SkipPrefill,
		"probed":                     !e.cfg.SkipProbe,
	}
	if len(probes) > 0 {
		details["probe"] = probes
	}
	info := engine.Info{
		Name:     "openai",
		Version:  strings.Join(versions, ", "),
		Model:    e.model,
		Device:   strings.Join(devices, ","),
		Parallel: e.cfg.MaxInFlight * len(e.endpoints),
		Details:  details,
		// Reproducible stays false: see ReproducibleNote.
		ReproducibleNote:    "servers batch the requests of all their clients, so a trace's numbers depend on what else the server runs, its version and its hardware; the seed is sent, but no server promises the same tokens",
		ReasoningDelimiters: e.reasoning().String(),
	}
	if t := e.cfg.Template; t != nil && e.cfg.Mode == Completions {
		info.ChatTemplate, info.ChatTemplateOrigin = t.FamilyName(), t.Origin
	}
	return info
}

// Close releases idle connections. Requests still running are not
// interrupted; cancel their contexts to stop them.
func (e *Engine) Close() error {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	if e.ownClient {
		e.client.CloseIdleConnections()
	}
	return nil
}

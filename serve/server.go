package serve

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/deepconf/deepconf/controller"
	"github.com/deepconf/deepconf/engine"
	"github.com/deepconf/deepconf/refusal"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Policy is the sampling policy of one request.
type Policy struct {
	// Config is the controller configuration.
	Config controller.Config
	// MaxTraces is the most traces the policy starts (a request's n may
	// not exceed it).
	MaxTraces int
}

// PolicyFunc returns the policy of a request: the server's policy with the
// request's overrides applied. Overrides are named by deepconf run's policy
// flags and hold JSON values (json.Number, string or bool); nil overrides
// give the server's policy. An error is the client's: it is answered with
// 400 and its text.
type PolicyFunc func(overrides map[string]any) (Policy, error)

// Options configure a Server.
type Options struct {
	// Engine samples the traces; it is shared by all requests (the
	// embedded engine batches the traces of concurrent requests).
	Engine engine.Engine
	// Detector labels finished traces.
	Detector refusal.Detector
	// Model is the model name clients must send (and /v1/models lists).
	Model string
	// Policy builds each request's policy.
	Policy PolicyFunc
	// Gate is the confidence gate; the zero value is off.
	Gate Gate
	// GateLog receives one JSON line per gated decision (nil: none);
	// LogPrompts adds the prompt and the answer to each line.
	GateLog    io.Writer
	LogPrompts bool
	// APIKey, when set, is the bearer token every /v1 request must carry.
	APIKey string
	// MaxRunning is the number of requests sampled at once (at least 1);
	// MaxQueue the number that may wait for a slot (0: none wait).
	MaxRunning int
	MaxQueue   int
	// Timeout is the per-request deadline, from arrival to answer,
	// queueing included (0: none).
	Timeout time.Duration
	// MaxPromptBytes bounds the system and user messages together (at
	// least 1).
	MaxPromptBytes int
	// EngineStats, when set, exports the embedded engine's counters.
	EngineStats func() EngineStats
	// Log receives a line per answered request and the server's events
	// (default: discarded). Prompts and API keys are never logged.
	Log *slog.Logger
	// Version is reported in system_fingerprint.
	Version string
	// RandomModel marks a generated random-weight test model: every
	// report says so (deepconf.random_model).
	RandomModel bool
}

// Server serves DeepConf behind an OpenAI-compatible API. Create it with
// New; it is an http.Handler.
type Server struct {
	opt      Options
	base     Policy
	keyHash  *[sha256.Size]byte
	adm      *admission
	m        *metrics
	gateLog  *gateLog
	mux      *http.ServeMux
	created  int64
	draining atomic.Bool
	log      *slog.Logger
}

// New checks the options and builds a Server.
func New(opt Options) (*Server, error) {
	switch {
	case opt.Engine == nil:
		return nil, errors.New("serve: no engine")
	case opt.Detector == nil:
		return nil, errors.New("serve: no refusal detector")
	case opt.Policy == nil:
		return nil, errors.New("serve: no policy function")
	case strings.TrimSpace(opt.Model) == "":
		return nil, errors.New("serve: empty model name")
	case opt.MaxRunning < 1:
		return nil, fmt.Errorf("serve: %d running requests: want at least 1", opt.MaxRunning)
	case opt.MaxQueue < 0:
		return nil, fmt.Errorf("serve: queue of %d: want at least 0", opt.MaxQueue)
	case opt.Timeout < 0:
		return nil, fmt.Errorf("serve: timeout %v: want 0 (none) or positive", opt.Timeout)
	case opt.MaxPromptBytes < 1:
		return nil, fmt.Errorf("serve: prompt limit %d bytes: want at least 1", opt.MaxPromptBytes)
	}
	if opt.Gate.Mode == "" {
		opt.Gate.Mode = GateOff
	}
	if err := opt.Gate.Validate(); err != nil {
		return nil, err
	}
	base, err := opt.Policy(nil)
	if err != nil {
		return nil, fmt.Errorf("serve: policy: %w", err)
	}
	if opt.Gate.Scale != nil && opt.Gate.Mode != GateOff {
		if d := scaleDiff(*opt.Gate.Scale, base.Config); d != "" {
			return nil, fmt.Errorf("serve: the gate's threshold comes from a run whose confidences were computed differently: %s; serve with the run's settings or give the threshold as a number", d)
		}
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		opt:     opt,
		base:    base,
		adm:     newAdmission(opt.MaxRunning, opt.MaxQueue),
		created: time.Now().Unix(),
		log:     opt.Log,
	}
	if opt.APIKey != "" {
		h := sha256.Sum256([]byte(opt.APIKey))
		s.keyHash = &h
	}
	if opt.GateLog != nil && opt.Gate.Mode != GateOff {
		s.gateLog = &gateLog{w: opt.GateLog, prompts: opt.LogPrompts}
	}
	s.m = newMetrics(s.adm, opt.EngineStats)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", s.auth(s.chat))
	mux.HandleFunc("GET /v1/models", s.auth(s.models))
	mux.HandleFunc("GET /v1/models/{id...}", s.auth(s.model))
	mux.HandleFunc("GET /healthz", s.health)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.m.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		allow := map[string]string{"/v1/chat/completions": "POST", "/v1/models": "GET", "/healthz": "GET", "/metrics": "GET"}[r.URL.Path]
		if allow == "" && strings.HasPrefix(r.URL.Path, "/v1/models/") {
			allow = "GET"
		}
		if allow != "" {
			w.Header().Set("Allow", allow)
			writeError(w, &apiError{Status: http.StatusMethodNotAllowed, Type: typeInvalidRequest,
				Message: fmt.Sprintf("method %s not allowed on %s (use %s)", r.Method, r.URL.Path, allow)})
			return
		}
		writeError(w, &apiError{Status: http.StatusNotFound, Type: typeInvalidRequest,
			Message: fmt.Sprintf("unknown path %s %s (this server has POST /v1/chat/completions, GET /v1/models, GET /healthz, GET /metrics)", r.Method, r.URL.Path)})
	})
	s.mux = mux
	return s, nil
}

// BasePolicy returns the server's policy (without request overrides).
func (s *Server) BasePolicy() Policy { return s.base }

// statusRecorder remembers the status code a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (Flush).
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &statusRecorder{ResponseWriter: w}
	s.mux.ServeHTTP(rec, r)
	path := r.URL.Path
	switch path {
	case "/v1/chat/completions", "/v1/models", "/healthz", "/metrics":
	default:
		if !strings.HasPrefix(path, "/v1/models/") {
			path = "other"
		}
	}
	if strings.HasPrefix(path, "/v1/models/") {
		path = "/v1/models/{id}"
	}
	code := rec.code
	if code == 0 {
		code = http.StatusOK
	}
	s.m.requests.WithLabelValues(path, fmt.Sprint(code)).Inc()
}

// auth checks the bearer token in constant time (the sha256 of the token
// against that of the key, so that not even the key's length leaks).
func (s *Server) auth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.keyHash != nil {
			tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			sum := sha256.Sum256([]byte(strings.TrimSpace(tok)))
			if subtle.ConstantTimeCompare(sum[:], s.keyHash[:]) != 1 || !ok {
				w.Header().Set("WWW-Authenticate", `Bearer realm="deepconf"`)
				writeError(w, &apiError{Status: http.StatusUnauthorized, Type: typeInvalidRequest, Code: "invalid_api_key",
					Message: "missing or incorrect API key: send Authorization: Bearer <key>"})
				return
			}
		}
		h(w, r)
	}
}

type modelObject struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

func (s *Server) modelObject() modelObject {
	return modelObject{ID: s.opt.Model, Object: "model", Created: s.created, OwnedBy: "deepconf"}
}

func (s *Server) models(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, struct {
		Object string        `json:"object"`
		Data   []modelObject `json:"data"`
	}{"list", []modelObject{s.modelObject()}})
}

func (s *Server) model(w http.ResponseWriter, r *http.Request) {
	if id := r.PathValue("id"); id != s.opt.Model {
		writeError(w, &apiError{Status: http.StatusNotFound, Type: typeInvalidRequest, Param: "model", Code: "model_not_found",
			Message: fmt.Sprintf("the model %q does not exist: this server serves %q", id, s.opt.Model)})
		return
	}
	writeJSON(w, http.StatusOK, s.modelObject())
}

// health answers 200 while the server accepts requests and 503 while it
// drains.
func (s *Server) health(w http.ResponseWriter, _ *http.Request) {
	status, code := "ok", http.StatusOK
	if s.draining.Load() {
		status, code = "draining", http.StatusServiceUnavailable
	}
	writeJSON(w, code, map[string]any{"status": status, "model": s.opt.Model, "running": s.adm.running(), "queued": s.adm.queued()})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, &apiError{Status: http.StatusInternalServerError, Type: typeServer, Message: "encode response: " + err.Error()})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}

// newID returns a random request id.
func newID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Serve answers requests on ln until ctx ends, then drains: it stops
// accepting connections, lets the requests in flight (queued ones included)
// finish, and returns. If they have not finished after drain, their traces
// are cancelled and Serve returns an error saying how many were cut.
func (s *Server) Serve(ctx context.Context, ln net.Listener, drain time.Duration) error {
	base, cancelAll := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelAll()
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 30 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return base },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	s.draining.Store(true)
	inflight := s.adm.running() + s.adm.queued()
	s.log.Info("draining", "requests", inflight, "timeout", drain)
	sctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	err := hs.Shutdown(sctx)
	<-errc // http.ErrServerClosed
	if err != nil {
		// Cancel what is left, give the handlers a moment to answer 503,
		// then close the connections.
		left := s.adm.running() + s.adm.queued()
		cancelAll()
		gctx, gcancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer gcancel()
		if hs.Shutdown(gctx) != nil {
			hs.Close()
		}
		return fmt.Errorf("serve: drain timed out after %v with %d requests in flight; they were cancelled", drain, left)
	}
	s.log.Info("drained")
	return nil
}

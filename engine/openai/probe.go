package openai

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strings"

	"github.com/deepconf/deepconf/engine"
)

// Probe request parameters.
const (
	probeTokens = 8
	probeSeed   = 1
	// rawTolerance is the largest difference between the position-0 top
	// logprobs at two temperatures that still counts as "raw": batch
	// nondeterminism on GPU servers moves values by ~1e-3.
	rawTolerance = 0.02
	// sentinelBelow marks vLLM's −9999 clamp and similar sentinels.
	sentinelBelow = -9000
)

// probeStats collects what the probe checks from the chunks of a trace.
type probeStats struct {
	chunks        int
	logprobChunks int
	entries       int
	topMin        int
	topMax        int
	firstSampled  int
	firstOther    int
	unsorted      int
	nulls         int
	nonFinite     int
	sentinels     int
	idEntries     int
	topIDEntries  int
	textBytes     int
	firstTops     []float64
}

func (ps *probeStats) add(c *chunk) {
	ps.chunks++
	if c.logprobs {
		ps.logprobChunks++
	}
	ps.nulls += c.nulls
	ps.unsorted += c.unsorted
	ps.textBytes += len(c.content) + len(c.reasoning)
	for i := range c.entries {
		en := &c.entries[i]
		n := en.top1 - en.top0
		if ps.entries == 0 || n < ps.topMin {
			ps.topMin = n
		}
		ps.topMax = max(ps.topMax, n)
		switch en.firstTop {
		case 1:
			ps.firstSampled++
		case 0:
			ps.firstOther++
		}
		if en.id >= 0 {
			ps.idEntries++
		}
		if en.ids {
			ps.topIDEntries++
		}
		ps.check(en.logprob)
		for _, v := range c.tops[en.top0:en.top1] {
			ps.check(v)
		}
		if ps.entries == 0 {
			ps.firstTops = append(ps.firstTops[:0], c.tops[en.top0:en.top1]...)
		}
		ps.entries++
	}
}

// check counts a non-finite or sentinel value.
func (ps *probeStats) check(v float64) {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		ps.nonFinite++
	case v <= sentinelBelow:
		ps.sentinels++
	}
}

// probeAll identifies and probes every endpoint.
func (e *Engine) probeAll(ctx context.Context) error {
	for _, ep := range e.endpoints {
		if err := e.probe(ctx, ep); err != nil {
			return err
		}
	}
	return nil
}

// probe runs the start-up capability probe on ep: it lists
// the models, identifies the server, then streams a short generation with
// top_logprobs = k and checks (a) that streamed chunks carry logprobs, (b)
// how many top logprobs come back, (c) whether the first top entry is the
// sampled token, (d) for null, non-finite and −9999-style sentinel values,
// and (e) whether the values depend on the temperature (raw or processed).
// It fails when logprobs or top logprobs are missing; everything else is
// reported in ep.probe and, when suspicious, as a warning.
func (e *Engine) probe(ctx context.Context, ep *endpoint) error {
	f := map[string]any{"endpoint": ep.display}
	ep.probe = f
	var warnings []string
	warn := func(format string, args ...any) {
		w := fmt.Sprintf(format, args...)
		warnings = append(warnings, w)
		e.log.Warn("openai: probe: "+w, "endpoint", ep.display)
	}

	models, ownedBy, err := e.listModels(ctx, ep)
	switch {
	case err == nil:
		f["models"] = models
		ep.models = models
	case ctx.Err() != nil:
		return fmt.Errorf("openai: %s: list models: %w", ep.display, ctx.Err())
	case unreachable(err):
		// The generation requests would fail the same way.
		return fmt.Errorf("openai: %w", err)
	case e.model == "":
		return fmt.Errorf("openai: no model name configured (--model), and the server's model list could not be read: %w", err)
	default:
		f["models_error"] = err.Error()
		warn("could not read the model list: %v", err)
	}
	if e.model == "" && len(models) == 1 {
		e.model = models[0]
		f["model_from_server"] = true
	}
	if e.model == "" {
		if len(models) == 0 {
			return fmt.Errorf("openai: %s: no model name configured (--model), and the server lists no models", ep.display)
		}
		return fmt.Errorf("openai: %s: no model name configured (--model); the server lists %d models: %s",
			ep.display, len(models), strings.Join(models, ", "))
	}
	if models != nil {
		listed := modelListed(models, e.model)
		f["model_listed"] = listed
		if !listed {
			warn("model %q is not in the server's model list (%s)", e.model, strings.Join(models, ", "))
		}
	}

	e.identify(ctx, ep, ownedBy)
	f["server"] = ep.kind
	f["server_version"] = ep.version
	if ep.kind == "ollama" && e.cfg.Mode == Completions {
		warn("Ollama's /v1/completions sends no logprobs (v0.17.4 never fills them) and applies the model's template to the prompt, so the client-rendered prompt is templated twice unless the model's TEMPLATE is {{ .Prompt }}; use chat mode with Ollama")
	}

	k := e.cfg.TopLogprobs
	// A short, neutral prompt whose answer is longer than the probe.
	prompt := engine.Prompt{User: "Count from 1 to 30, separated by spaces."}
	s := &session{e: e, prompt: prompt, mode: e.cfg.Mode}
	if s.mode == Completions {
		// The completions endpoint gets the prompt rendered as a trace's
		// would be, or the plain question when no template is known yet
		// (the probe tests the server, not the template). An empty prompt
		// would make Ollama only load the model (finish_reason "load").
		s.text = prompt.User
		if e.cfg.Template != nil {
			text, err := e.cfg.Template.Render(prompt)
			if err != nil {
				return fmt.Errorf("openai: capability probe: %w", err)
			}
			s.text = text
		}
	}
	st := &trace{stats: &probeStats{}, noTimeoutRetry: true}
	sp := engine.Sampling{Temperature: 1, TopP: 1, MaxTokens: probeTokens, Seed: probeSeed, TopLogprobs: k}
	res, err := s.run(ctx, sp, nil, ep, st)
	if err != nil {
		return fmt.Errorf("openai: capability probe: %w", err)
	}
	ps := st.stats
	f["mode"] = string(s.mode)
	f["probe_tokens"] = res.Tokens
	f["probe_finish"] = string(res.Finish)
	f["chunks"] = ps.chunks
	f["logprob_entries"] = ps.entries
	f["usage_reported"] = st.usage.present
	if ps.entries == 0 {
		what := "no chunk carried a logprobs object"
		if ps.logprobChunks > 0 {
			what = "the logprobs objects held no token entries"
		}
		return fmt.Errorf("openai: %s does not return logprobs on streamed chunks (%d chunks, %d bytes of text; %s). "+
			"DeepConf needs \"logprobs\" with top_logprobs=%d on every generated token: check the server version "+
			"(Ollama ≥ 0.12.11, llama-server with OpenAI-compatible logprobs), that no reasoning or tool parser "+
			"strips them, or switch between the chat and completions modes",
			ep.display, ps.chunks, ps.textBytes, what, k)
	}
	f["top_logprobs_requested"] = k
	f["top_logprobs_min"] = ps.topMin
	f["top_logprobs_max"] = ps.topMax
	if ps.topMax == 0 {
		return fmt.Errorf("openai: %s returns logprobs but no top_logprobs (requested %d); DeepConf's confidence needs the top-k log-probabilities",
			ep.display, k)
	}
	if ps.topMin < k {
		warn("asked for %d top logprobs, got %d..%d per token (server cap such as vLLM --max-logprobs, or a legacy map with colliding tokens); confidence uses the values that come back", k, ps.topMin, ps.topMax)
	}
	f["first_top_is_sampled"] = ps.firstSampled
	f["first_top_is_other"] = ps.firstOther
	f["tops_resorted"] = ps.unsorted
	f["token_ids"] = ps.idEntries == ps.entries
	f["top_token_ids"] = ps.topIDEntries == ps.entries
	f["null_values"] = ps.nulls
	f["non_finite_values"] = ps.nonFinite - ps.nulls
	f["sentinel_values"] = ps.sentinels
	if ps.nulls > 0 || ps.nonFinite > 0 || ps.sentinels > 0 {
		warn("found %d null, %d other non-finite and %d ≤ −9000 sentinel log-probabilities in %d tokens; confidence drops them",
			ps.nulls, ps.nonFinite-ps.nulls, ps.sentinels, ps.entries)
	}

	// (e) Raw or processed values: position 0 does not depend on sampling,
	// so raw logprobs are the same at another temperature.
	st2 := &trace{stats: &probeStats{}, noTimeoutRetry: true}
	sp2 := sp
	sp2.Temperature, sp2.MaxTokens = 0.5, 1
	if _, err := s.run(ctx, sp2, nil, ep, st2); err != nil {
		f["raw_logprobs_check"] = "failed: " + err.Error()
	} else if a, b := ps.firstTops, st2.stats.firstTops; len(a) == 0 || len(b) == 0 {
		f["raw_logprobs_check"] = "no top logprobs to compare"
	} else {
		// Only finite pairs are compared, so that diff stays finite and
		// Details stays encodable as JSON.
		diff := 0.0
		for i := range min(len(a), len(b)) {
			if d := math.Abs(a[i] - b[i]); !math.IsNaN(d) && !math.IsInf(d, 0) && d > diff {
				diff = d
			}
		}
		raw := diff <= rawTolerance
		f["raw_logprobs"] = raw
		f["raw_logprobs_max_diff"] = diff
		if !raw {
			warn("top logprobs change with the temperature (max difference %.3g at position 0): the server reports processed, not raw, log-probabilities (P4)", diff)
		}
	}
	if len(warnings) > 0 {
		f["warnings"] = warnings
	}
	return nil
}

// modelListed reports whether the model name appears in a /v1/models list.
// A name without a tag also matches its ":latest" entry: Ollama lists a model
// created as "deepconf-tiny" as "deepconf-tiny:latest" and accepts both names.
func modelListed(models []string, name string) bool {
	return slices.Contains(models, name) ||
		(!strings.Contains(name, ":") && slices.Contains(models, name+":latest"))
}

// listModels returns the model ids of GET /v1/models and the owned_by of the
// first one.
func (e *Engine) listModels(ctx context.Context, ep *endpoint) (ids []string, ownedBy string, err error) {
	var list struct {
		Data []struct {
			ID      string `json:"id"`
			OwnedBy string `json:"owned_by"`
		} `json:"data"`
	}
	if err := e.getJSON(ctx, ep, "/v1/models", &list); err != nil {
		return nil, "", err
	}
	ids = []string{}
	for _, m := range list.Data {
		ids = append(ids, m.ID)
	}
	if len(list.Data) > 0 {
		ownedBy = list.Data[0].OwnedBy
	}
	return ids, ownedBy, nil
}

// identify finds the server software and version, best effort: Ollama
// answers GET /api/version, llama.cpp's llama-server GET /props (build_info),
// vLLM and SGLang GET /version; /v1/models' owned_by ("vllm", "sglang",
// "llamacpp") tells those apart.
func (e *Engine) identify(ctx context.Context, ep *endpoint, ownedBy string) {
	var v struct {
		Version   string `json:"version"`
		BuildInfo string `json:"build_info"`
	}
	switch ownedBy {
	case "vllm", "sglang":
		ep.kind = ownedBy
	case "llamacpp":
		ep.kind = "llama.cpp"
	}
	if ep.kind == "" || ep.kind == "ollama" {
		if e.getJSON(ctx, ep, "/api/version", &v) == nil && v.Version != "" {
			ep.kind, ep.version = "ollama", v.Version
			return
		}
	}
	if ep.kind == "" || ep.kind == "llama.cpp" {
		v.Version = ""
		if e.getJSON(ctx, ep, "/props", &v) == nil && v.BuildInfo != "" {
			ep.kind, ep.version = "llama.cpp", v.BuildInfo
			return
		}
	}
	if ep.kind == "" || ep.kind == "vllm" || ep.kind == "sglang" {
		v.Version = ""
		if e.getJSON(ctx, ep, "/version", &v) == nil && v.Version != "" {
			if ep.kind == "" {
				ep.kind = "vllm"
			}
			ep.version = v.Version
			return
		}
		if ep.kind == "sglang" && e.getJSON(ctx, ep, "/get_server_info", &v) == nil {
			ep.version = v.Version
		}
	}
}

// getJSON sends GET base+path and decodes a 200 JSON answer into v. The
// answer must start within metadataTimeout (or the first-byte timeout, when
// shorter).
func (e *Engine) getJSON(ctx context.Context, ep *endpoint, path string, v any) error {
	what := "GET " + path
	lim := limits{
		connect:   e.cfg.ConnectTimeout,
		firstByte: min(e.cfg.FirstByteTimeout, metadataTimeout),
		idle:      min(e.cfg.IdleTimeout, metadataTimeout),
	}
	reqCtx, w := e.watch(ctx, ep, what, lim, false)
	defer w.stop()
	req, err := http.NewRequestWithContext(reqCtx, http.MethodGet, ep.base+path, nil)
	if err != nil {
		return err
	}
	e.setHeaders(req.Header)
	resp, err := e.client.Do(req)
	if err != nil {
		if te := w.timedOut(); te != nil {
			return te
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return connectionError(ep, what, err)
	}
	defer resp.Body.Close()
	w.gotHeaders()
	if resp.StatusCode != http.StatusOK {
		return e.statusError(ep, what, resp)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxErrorBody*16)).Decode(v); err != nil {
		if te := w.timedOut(); te != nil {
			return te
		}
		return fmt.Errorf("%s: %s: decode: %w", ep.display, what, err)
	}
	return nil
}

// unreachable reports whether err, from a request to an endpoint, means
// that no request to it can succeed: the connection failed, a timeout
// expired, or the server refused the credentials.
func unreachable(err error) bool {
	var ce *connError
	var te *timeoutError
	var se *statusError
	switch {
	case errors.As(err, &ce), errors.As(err, &te):
		return true
	case errors.As(err, &se):
		return se.status == http.StatusUnauthorized || se.status == http.StatusForbidden
	}
	return false
}

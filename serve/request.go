package serve

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// chatRequest is the part of an OpenAI chat-completions request that
// deepconf serve reads. Every other field is accepted and ignored (see the
// package documentation, "Requests").
type chatRequest struct {
	Model               string          `json:"model"`
	Messages            []chatMessage   `json:"messages"`
	N                   *int            `json:"n"`
	Stream              bool            `json:"stream"`
	StreamOptions       *streamOptions  `json:"stream_options"`
	MaxTokens           *int            `json:"max_tokens"`
	MaxCompletionTokens *int            `json:"max_completion_tokens"`
	Seed                *json.Number    `json:"seed"`
	DeepConf            *ExtensionField `json:"deepconf"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

type chatMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// ExtensionField is the request's "deepconf" object: per-request settings
// that the OpenAI API has no field for.
type ExtensionField struct {
	// Flags overrides the server's policy flags for this request, by the
	// names of deepconf run's flags ("tau", "max-traces", "policy", ...),
	// with JSON numbers, strings or booleans as values.
	Flags map[string]any `json:"flags"`
	// InstanceID names the prompt for the per-trace seeds (each trace's
	// seed derives from the base seed, the instance id and the trace
	// index): give a run's instance id to reproduce that instance. The
	// default is "chat-" and the first 16 hex digits of the sha256 of the
	// system and user messages.
	InstanceID string `json:"instance_id"`
	// Traces asks for every trace in the response's deepconf object.
	Traces bool `json:"traces"`
}

// parsed is a validated request.
type parsed struct {
	req      chatRequest
	system   string
	user     string
	hasSys   bool
	n        int
	instance string
	flags    map[string]any
}

// maxBody returns the request-body limit for a prompt limit: room for the
// prompt escaped as JSON (up to 6 bytes per byte) plus the other fields.
func maxBody(maxPrompt int) int64 { return int64(maxPrompt)*6 + 64<<10 }

// parseRequest reads and checks a chat-completions request body (as JSON,
// whatever its Content-Type says, as OpenAI-compatible servers do). Policy
// flags are checked later, by the policy function.
func parseRequest(r *http.Request, model string, maxPrompt int) (*parsed, *apiError) {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBody(maxPrompt)))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &apiError{Status: http.StatusRequestEntityTooLarge, Type: typeInvalidRequest, Code: "request_too_large",
				Message: fmt.Sprintf("request body larger than %d bytes (the prompt limit is %d bytes; raise --max-prompt-bytes)", mbe.Limit, maxPrompt)}
		}
		return nil, &apiError{Status: http.StatusBadRequest, Type: typeInvalidRequest, Message: "read request body: " + err.Error()}
	}
	return parseBody(body, model, maxPrompt)
}

// parseBody checks a request body; it does no I/O, so that it can be fuzzed.
func parseBody(body []byte, model string, maxPrompt int) (*parsed, *apiError) {
	var p parsed
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // policy flags keep their exact digits (64-bit seeds)
	if err := dec.Decode(&p.req); err != nil {
		return nil, jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, badRequest("", "malformed JSON: data after the request object")
	}
	req := &p.req
	switch {
	case req.Model == "":
		return nil, badRequest("model", "you must provide a model parameter (this server serves %q)", model)
	case req.Model != model:
		return nil, &apiError{Status: http.StatusNotFound, Type: typeInvalidRequest, Param: "model", Code: "model_not_found",
			Message: fmt.Sprintf("the model %q does not exist: this server serves %q (GET /v1/models)", req.Model, model)}
	}
	if e := p.readMessages(); e != nil {
		return nil, e
	}
	if n := len(p.system) + len(p.user); n > maxPrompt {
		return nil, &apiError{Status: http.StatusBadRequest, Type: typeInvalidRequest, Param: "messages", Code: "context_length_exceeded",
			Message: fmt.Sprintf("the prompt has %d bytes; this server accepts at most %d (--max-prompt-bytes)", n, maxPrompt)}
	}
	p.n = 1
	if req.N != nil {
		if *req.N < 1 {
			return nil, badRequest("n", "n = %d: must be at least 1", *req.N)
		}
		p.n = *req.N
	}
	p.flags = map[string]any{}
	if d := req.DeepConf; d != nil {
		for k, v := range d.Flags {
			switch v.(type) {
			case string, json.Number, bool:
			default:
				return nil, badRequest("deepconf.flags."+k, "deepconf.flags.%s: want a number, a string or a boolean", k)
			}
			p.flags[k] = v
		}
		p.instance = d.InstanceID
	}
	// The standard fields that map onto policy flags; deepconf.flags wins.
	if req.Seed != nil {
		if _, err := strconv.ParseUint(req.Seed.String(), 10, 64); err != nil {
			return nil, badRequest("seed", "seed %s: want an integer in [0, 2^64)", req.Seed)
		}
		if _, ok := p.flags["seed"]; !ok {
			p.flags["seed"] = *req.Seed
		}
	}
	for _, mt := range []struct {
		name string
		v    *int
	}{{"max_tokens", req.MaxTokens}, {"max_completion_tokens", req.MaxCompletionTokens}} {
		if mt.v != nil && *mt.v < 1 {
			return nil, badRequest(mt.name, "%s = %d: must be at least 1", mt.name, *mt.v)
		}
	}
	if p.instance == "" {
		h := sha256.Sum256([]byte(p.system + "\x00" + p.user))
		p.instance = "chat-" + hex.EncodeToString(h[:8])
	}
	return &p, nil
}

// requestMaxTokens is the request's own cap on generated tokens (the
// smaller of max_tokens and max_completion_tokens), or 0.
func (p *parsed) requestMaxTokens() int {
	m := 0
	for _, v := range []*int{p.req.MaxTokens, p.req.MaxCompletionTokens} {
		if v != nil && (m == 0 || *v < m) {
			m = *v
		}
	}
	return m
}

// readMessages takes the user turn and the system message from the
// messages: one user message, any number of system or developer messages
// (joined with blank lines), no assistant or tool turns.
func (p *parsed) readMessages() *apiError {
	if len(p.req.Messages) == 0 {
		return badRequest("messages", "messages: at least one user message is required")
	}
	var sys []string
	users := 0
	for i, m := range p.req.Messages {
		param := fmt.Sprintf("messages[%d]", i)
		text, err := messageText(m.Content)
		if err != nil {
			return badRequest(param+".content", "%s.content: %v", param, err)
		}
		switch m.Role {
		case "system", "developer":
			sys = append(sys, text)
		case "user":
			users++
			p.user = text
		case "assistant", "tool", "function":
			return badRequest(param+".role", "%s: role %q: deepconf serve samples one user turn; conversations with earlier %s turns are not supported", param, m.Role, m.Role)
		case "":
			return badRequest(param+".role", "%s: missing role", param)
		default:
			return badRequest(param+".role", "%s: unknown role %q", param, m.Role)
		}
	}
	switch {
	case users == 0:
		return badRequest("messages", "messages: no user message")
	case users > 1:
		return badRequest("messages", "messages: %d user messages; deepconf serve samples one user turn", users)
	case strings.TrimSpace(p.user) == "":
		return badRequest("messages", "messages: the user message is empty")
	}
	if len(sys) > 0 {
		p.system, p.hasSys = strings.Join(sys, "\n\n"), true
	}
	return nil
}

// messageText returns the text of a message's content: a string, or an
// array of {"type": "text", "text": ...} parts, joined.
func messageText(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", errors.New("missing content")
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var parts []struct {
		Type string  `json:"type"`
		Text *string `json:"text"`
	}
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", errors.New("want a string or an array of text parts")
	}
	var b strings.Builder
	for i, pt := range parts {
		if pt.Type != "text" || pt.Text == nil {
			return "", fmt.Errorf("part %d: type %q: only text parts are supported", i, pt.Type)
		}
		b.WriteString(*pt.Text)
	}
	return b.String(), nil
}

// jsonError describes a JSON decoding error for the client.
func jsonError(err error) *apiError {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return badRequest("", "malformed JSON at byte %d: %v", se.Offset, err)
	case errors.As(err, &te):
		return badRequest(te.Field, "field %q: want %s, got JSON %s", te.Field, te.Type, te.Value)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("", "malformed JSON: the request body is empty or cut short")
	}
	return badRequest("", "malformed JSON: %v", err)
}

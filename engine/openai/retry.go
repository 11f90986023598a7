package openai

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/deepconf/deepconf/engine"
)

// Retry bounds the retries of a request that failed before any of its tokens
// reached the TokenFunc. The zero value gives the defaults.
type Retry struct {
	// MaxRetries is the number of retries after the first attempt. 0 means
	// 5; a negative value disables retries.
	MaxRetries int
	// BaseDelay is the delay before the first retry. The delay doubles with
	// each retry, up to MaxDelay, and is jittered to a uniformly random
	// value in [d/2, d]. 0 means 500 ms.
	BaseDelay time.Duration
	// MaxDelay caps the exponential delay. 0 means 20 s.
	MaxDelay time.Duration
	// MaxRetryAfter caps the wait a server asks for with Retry-After on a
	// 429 or 503 response. 0 means 60 s.
	MaxRetryAfter time.Duration
}

// Defaults of Retry.
const (
	defaultMaxRetries    = 5
	defaultBaseDelay     = 500 * time.Millisecond
	defaultMaxDelay      = 20 * time.Second
	defaultMaxRetryAfter = 60 * time.Second
)

// withDefaults fills in zero fields.
func (r Retry) withDefaults() Retry {
	if r.MaxRetries == 0 {
		r.MaxRetries = defaultMaxRetries
	}
	if r.MaxRetries < 0 {
		r.MaxRetries = 0
	}
	if r.BaseDelay <= 0 {
		r.BaseDelay = defaultBaseDelay
	}
	if r.MaxDelay <= 0 {
		r.MaxDelay = defaultMaxDelay
	}
	if r.MaxDelay < r.BaseDelay {
		r.MaxDelay = r.BaseDelay
	}
	if r.MaxRetryAfter <= 0 {
		r.MaxRetryAfter = defaultMaxRetryAfter
	}
	return r
}

// backoff returns the jittered delay before retry number retry (0-based):
// a uniform value in [d/2, d] with d = min(MaxDelay, BaseDelay·2^retry).
// u is a uniform random number in [0, 1).
func (r Retry) backoff(retry int, u float64) time.Duration {
	d := r.BaseDelay
	for i := 0; i < retry && d < r.MaxDelay; i++ {
		d *= 2
	}
	d = min(d, r.MaxDelay)
	return d/2 + time.Duration(u*float64(d/2))
}

// delay returns the wait before retry number retry after err: the server's
// Retry-After (capped) when it sent one, else the jittered backoff.
func (r Retry) delay(retry int, err error) time.Duration {
	var se *statusError
	if errors.As(err, &se) && se.retryAfter >= 0 {
		return min(se.retryAfter, r.MaxRetryAfter)
	}
	return r.backoff(retry, rand.Float64())
}

// parseRetryAfter parses a Retry-After header value: delay seconds or an
// HTTP-date (RFC 9110 §10.2.3), relative to now. It returns -1 when the
// value is absent or invalid; a date in the past gives 0.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return -1
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return -1
		}
		if n > int64(365*24*time.Hour/time.Second) {
			n = int64(365 * 24 * time.Hour / time.Second)
		}
		return time.Duration(n) * time.Second
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return -1
	}
	return max(0, t.Sub(now))
}

// statusError is a non-200 HTTP response.
type statusError struct {
	endpoint string
	what     string // "POST /v1/chat/completions"
	// keySent says whether the request carried an API key.
	keySent bool
	// models is the server's model list when known (nil otherwise), named
	// in the hint of a 404.
	models     []string
	status     int
	message    string
	retryAfter time.Duration // -1 when absent
}

func (e *statusError) Error() string {
	msg := e.message
	if msg == "" {
		msg = "no error message in the response"
	}
	hint := ""
	switch e.status {
	case http.StatusUnauthorized, http.StatusForbidden:
		if e.keySent {
			hint = " (the server refused the API key: check --api-key / $OPENAI_API_KEY / $DEEPCONF_API_KEY)"
		} else {
			hint = " (no API key was sent: check --api-key / $OPENAI_API_KEY / $DEEPCONF_API_KEY)"
		}
	case http.StatusNotFound:
		switch {
		case strings.HasPrefix(e.what, "GET /v1/"):
			hint = " (the URL is not an OpenAI-compatible server's base URL, such as http://host:8000/v1)"
		case e.models == nil:
			hint = " (wrong base URL or model name: check --endpoint, such as http://host:8000/v1, and --model)"
		case len(e.models) == 0:
			hint = " (wrong base URL or model name; the server lists no models)"
		default:
			hint = fmt.Sprintf(" (wrong base URL or model name; the server lists the models %s)", strings.Join(e.models, ", "))
		}
	}
	what := ""
	if e.what != "" {
		what = e.what + ": "
	}
	return fmt.Sprintf("%s: %sHTTP %d %s: %s%s", e.endpoint, what, e.status, http.StatusText(e.status), msg, hint)
}

// retryable reports whether a failed request may be sent again: 408, 429 and
// 5xx are, other statuses are not.
func (e *statusError) retryable() bool {
	return e.status == http.StatusRequestTimeout || e.status == http.StatusTooManyRequests || e.status >= 500
}

// streamError is a failure while reading a response stream: a cut
// connection, an in-stream error event or an aborted trace.
type streamError struct {
	endpoint string
	msg      string
	err      error
}

func (e *streamError) Error() string {
	if e.err != nil {
		return fmt.Sprintf("%s: %s: %v", e.endpoint, e.msg, e.err)
	}
	return fmt.Sprintf("%s: %s", e.endpoint, e.msg)
}

func (e *streamError) Unwrap() error { return e.err }

// malformedError is a response the client cannot decode. It is not retried:
// the same server would most likely send the same shape again. Event 0
// stands for the response as a whole.
type malformedError struct {
	endpoint string
	event    int
	data     string
	err      error
}

func (e *malformedError) Error() string {
	if e.event == 0 {
		return fmt.Sprintf("%s: %v; body: %s", e.endpoint, e.err, e.data)
	}
	return fmt.Sprintf("%s: malformed SSE event %d: %v; data: %s", e.endpoint, e.event, e.err, e.data)
}

func (e *malformedError) Unwrap() error { return e.err }

// isRetryable reports whether err, from an attempt during which no token
// reached the TokenFunc, may be retried.
func isRetryable(err error) bool {
	var se *statusError
	if errors.As(err, &se) {
		return se.retryable()
	}
	var ce *connError
	if errors.As(err, &ce) {
		return !ce.permanent
	}
	var me *malformedError
	if errors.As(err, &me) {
		return false
	}
	if errors.Is(err, engine.ErrContextOverflow) {
		return false
	}
	// Connection errors (refused, reset, EOF), timeouts and stream errors.
	return true
}

// isContextOverflow reports whether a server error message says that the
// prompt or the requested tokens do not fit in the context window. The
// phrases are those of vLLM ("This model's maximum context length is …"),
// SGLang ("… is longer than the model's context length …"), llama.cpp
// ("the request exceeds the available context size") and OpenAI
// ("context_length_exceeded").
func isContextOverflow(msg string) bool {
	m := strings.ToLower(msg)
	for _, p := range []string{"context length", "context_length", "context size", "context window", "maximum context"} {
		if strings.Contains(m, p) {
			return true
		}
	}
	return false
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

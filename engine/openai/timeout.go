package openai

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Default timeouts; the package documentation explains the numbers.
const (
	// DefaultConnectTimeout bounds DNS, TCP connect and TLS handshake.
	DefaultConnectTimeout = 30 * time.Second
	// DefaultFirstByteTimeout bounds the wait from the connection to the
	// response headers and the first event of the stream: the server's
	// queue and the prompt's prefill.
	DefaultFirstByteTimeout = 10 * time.Minute
	// DefaultIdleTimeout bounds the gap between two events of a stream.
	DefaultIdleTimeout = 5 * time.Minute
	// DefaultWaitLogInterval is the default least time between two
	// "waiting for" log lines of one endpoint.
	DefaultWaitLogInterval = 30 * time.Second
)

// metadataTimeout bounds the answer to the GET requests of the start-up
// probe (/v1/models and the version endpoints). They are served by the
// servers' HTTP front ends, not by the GPU queue, and answer in
// milliseconds even under load.
const metadataTimeout = 30 * time.Second

// stage is where a request stands; each stage has its timeout.
type stage int

const (
	stageConnect    stage = iota // DNS, TCP connect, TLS handshake
	stageHeaders                 // request sent, no response headers yet
	stageFirstEvent              // headers received, no event (or body) yet
	stageIdle                    // streaming: waiting for the next event
)

// waitingFor names what a request in stage s waits for, in log lines.
func (s stage) waitingFor() string {
	switch s {
	case stageConnect:
		return "connection"
	case stageHeaders:
		return "response headers"
	case stageFirstEvent:
		return "first token"
	}
	return "next token"
}

// limits are the timeouts of one request; flags says whether the errors
// name the options that set them (false for the probe's metadata requests,
// whose first-byte limit is metadataTimeout).
type limits struct {
	connect, firstByte, idle time.Duration
	flags                    bool
}

// watchdog enforces the timeouts of one request: it cancels the request's
// context when the current stage lasts longer than its limit, and, when
// logging is on, reports long waits through Engine.noteWait. The stage
// moves from connect to headers when the transport has a connection
// (httptrace GotConn), to first event when the response headers arrive,
// and to idle with every event.
type watchdog struct {
	e      *Engine
	ep     *endpoint
	what   string // "POST /v1/chat/completions"
	lim    limits
	cancel context.CancelFunc
	timer  *time.Timer
	tick   *time.Timer // nil when waits are not logged

	mu     sync.Mutex
	stage  stage
	since  time.Time // start of the current limit's period
	events int
	fired  *timeoutError
	done   bool
}

// watch starts a watchdog for a request to ep and returns the request's
// context, which carries the connection trace and is cancelled on timeout.
func (e *Engine) watch(ctx context.Context, ep *endpoint, what string, lim limits, logWaits bool) (context.Context, *watchdog) {
	ctx, cancel := context.WithCancel(ctx)
	w := &watchdog{e: e, ep: ep, what: what, lim: lim, cancel: cancel, since: time.Now()}
	w.timer = time.AfterFunc(lim.connect, w.expire)
	if logWaits && e.cfg.WaitLogInterval > 0 {
		w.tick = time.AfterFunc(e.cfg.WaitLogInterval, w.logWait)
	}
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) { w.connected() },
	})
	return ctx, w
}

// limit returns the limit of the current stage; w.mu is held.
func (w *watchdog) limit() time.Duration {
	switch w.stage {
	case stageConnect:
		return w.lim.connect
	case stageHeaders, stageFirstEvent:
		return w.lim.firstByte
	}
	return w.lim.idle
}

// connected starts the first-byte period.
func (w *watchdog) connected() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done || w.fired != nil || w.stage != stageConnect {
		return
	}
	w.stage, w.since = stageHeaders, time.Now()
	w.timer.Reset(w.lim.firstByte)
}

// gotHeaders records the response headers; the first-byte period goes on
// until the first event (or the body of a non-streaming answer).
func (w *watchdog) gotHeaders() {
	w.mu.Lock()
	if w.stage < stageFirstEvent {
		w.stage = stageFirstEvent
	}
	w.mu.Unlock()
}

// event records a stream event and starts a new idle period.
func (w *watchdog) event() {
	w.mu.Lock()
	if !w.done && w.fired == nil {
		w.events++
		w.stage, w.since = stageIdle, time.Now()
		w.timer.Reset(w.lim.idle)
	}
	w.mu.Unlock()
}

// expire runs when the timer fires. A call left over from before the latest
// Reset finds its period not yet over and does nothing.
func (w *watchdog) expire() {
	w.mu.Lock()
	defer w.mu.Unlock()
	lim := w.limit()
	if w.done || w.fired != nil || time.Since(w.since) < lim {
		return
	}
	w.fired = &timeoutError{endpoint: w.ep.display, what: w.what, stage: w.stage, after: lim, events: w.events, flags: w.lim.flags}
	w.cancel()
}

// logWait runs every WaitLogInterval: when the current stage has lasted at
// least that long, the engine may log a line.
func (w *watchdog) logWait() {
	w.mu.Lock()
	if w.done {
		w.mu.Unlock()
		return
	}
	st, waited, lim := w.stage, time.Since(w.since), w.limit()
	w.tick.Reset(w.e.cfg.WaitLogInterval)
	w.mu.Unlock()
	if waited >= w.e.cfg.WaitLogInterval {
		w.e.noteWait(w.ep, st, waited, lim)
	}
}

// timedOut returns the timeout error when the watchdog fired, else nil.
func (w *watchdog) timedOut() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fired == nil {
		return nil
	}
	return w.fired
}

// stop ends the watchdog and cancels the request's context.
func (w *watchdog) stop() {
	w.mu.Lock()
	w.done = true
	w.timer.Stop()
	if w.tick != nil {
		w.tick.Stop()
	}
	w.mu.Unlock()
	w.cancel()
}

// noteWait logs that a request to ep has waited for st for waited, at most
// once per WaitLogInterval and endpoint, however many requests wait.
func (e *Engine) noteWait(ep *endpoint, st stage, waited, limit time.Duration) {
	now := time.Now()
	e.mu.Lock()
	if !ep.lastWaitLog.IsZero() && now.Sub(ep.lastWaitLog) < e.cfg.WaitLogInterval {
		e.mu.Unlock()
		return
	}
	ep.lastWaitLog = now
	inFlight := ep.load
	e.mu.Unlock()
	e.log.Warn(fmt.Sprintf("openai: waiting for %s (%s) for %s…", ep.display, st.waitingFor(), roundDuration(waited)),
		"in_flight", inFlight, "timeout", roundDuration(limit))
}

// roundDuration rounds d for messages: to seconds from one second on, else
// to milliseconds.
func roundDuration(d time.Duration) time.Duration {
	if d >= time.Second {
		return d.Round(time.Second)
	}
	return d.Round(time.Millisecond)
}

// timeoutError is a request that exceeded one of its timeouts.
type timeoutError struct {
	endpoint string
	what     string
	stage    stage
	after    time.Duration
	events   int
	flags    bool
}

func (e *timeoutError) Error() string {
	var msg, hint string
	switch e.stage {
	case stageConnect:
		msg = fmt.Sprintf("connect timeout: no connection after %v (DNS, TCP connect and TLS handshake; is the host up and the port reachable?)", e.after)
		hint = "a slow network may need a longer --connect-timeout"
	case stageHeaders:
		msg = fmt.Sprintf("first-byte timeout: the server accepted the connection but sent no response headers in %v", e.after)
		hint = "a busy server may need a longer --first-byte-timeout"
	case stageFirstEvent:
		msg = fmt.Sprintf("first-byte timeout: the server sent response headers but no data in %v", e.after)
		hint = "a busy server may need a longer --first-byte-timeout"
	default:
		msg = fmt.Sprintf("idle timeout: the stream stalled: no event for %v after %d events", e.after, e.events)
		hint = "a busy server may need a longer --idle-timeout"
	}
	if e.flags {
		msg += " (" + hint + ")"
	}
	return fmt.Sprintf("%s: %s: %s", e.endpoint, e.what, msg)
}

// Timeout reports true, as net.Error does for timeouts.
func (e *timeoutError) Timeout() bool { return true }

// connError is a request that failed before any response: the connection
// could not be made or was closed. cause says why in words.
type connError struct {
	endpoint string
	what     string
	cause    string
	err      error
	// permanent errors (unknown host, TLS) are not retried.
	permanent bool
}

func (e *connError) Error() string {
	return fmt.Sprintf("%s: %s: %s", e.endpoint, e.what, e.cause)
}

func (e *connError) Unwrap() error { return e.err }

// connectionError diagnoses err, the error of http.Client.Do for a request
// to ep that got no response.
func connectionError(ep *endpoint, what string, err error) error {
	ce := &connError{endpoint: ep.display, what: what, err: err}
	host := hostOf(ep.base)
	var dns *net.DNSError
	var tlsVerify *tls.CertificateVerificationError
	var tlsRecord tls.RecordHeaderError
	var tlsAlert tls.AlertError
	switch {
	case errors.As(err, &dns):
		ce.cause = fmt.Sprintf("DNS lookup of %q failed: %s (check the host name in the URL)", dns.Name, dns.Err)
		ce.permanent = dns.IsNotFound
	case errors.Is(err, syscall.ECONNREFUSED):
		ce.cause = fmt.Sprintf("connection refused: nothing listens on %s (is the server running, and on this port?)", host)
	case errors.Is(err, syscall.ECONNRESET):
		ce.cause = "the server reset the connection without answering"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		ce.cause = fmt.Sprintf("no route to %s: %v", host, unwrapURL(err))
	case errors.As(err, &tlsVerify):
		ce.cause = fmt.Sprintf("TLS: the server's certificate is not trusted: %v (add its CA to SSL_CERT_FILE or SSL_CERT_DIR)", tlsVerify.Err)
		ce.permanent = true
	case errors.As(err, &tlsRecord):
		ce.cause = "TLS handshake failed: the server does not speak TLS (use http:// instead of https://?)"
		ce.permanent = true
	case strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		ce.cause = "the server speaks plain HTTP, not HTTPS (use http:// instead of https://)"
		ce.permanent = true
	case errors.As(err, &tlsAlert):
		ce.cause = fmt.Sprintf("TLS handshake failed: %v", unwrapURL(err))
		ce.permanent = true
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		ce.cause = "the server closed the connection without answering"
	default:
		ce.cause = fmt.Sprintf("request failed: %v", unwrapURL(err))
	}
	return ce
}

// unwrapURL drops the *url.Error wrapper, whose text repeats the method and
// URL the messages already give.
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// hostOf returns the host:port of a base URL, for messages.
func hostOf(base string) string {
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	if u.Port() != "" {
		return u.Host
	}
	if u.Scheme == "https" {
		return u.Host + ":443"
	}
	return u.Host + ":80"
}

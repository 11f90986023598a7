// Package hub downloads model and dataset files from the Hugging Face Hub into
// the standard Hugging Face cache, so that huggingface_hub, llama.cpp and other
// tools reuse them, and resolves model names to local GGUF files.
//
// Files come from the Hub's resolve endpoint:
//
//	{endpoint}/{repo}/resolve/{revision}/{file}            models
//	{endpoint}/datasets/{repo}/resolve/{revision}/{file}   datasets
//
// A HEAD request there answers with the commit the revision points to
// (X-Repo-Commit), the file's ETag (X-Linked-Etag for LFS files: the sha256 of
// the content; otherwise the git blob id), its size (X-Linked-Size) and, for
// large files, a redirect to a CDN. The file is stored as huggingface_hub
// stores it:
//
//	{cache}/models--{org}--{name}/blobs/{etag}               the content
//	{cache}/models--{org}--{name}/blobs/{etag}.incomplete    while downloading
//	{cache}/models--{org}--{name}/snapshots/{commit}/{file}  relative symlink to the blob
//	{cache}/models--{org}--{name}/refs/{revision}            the commit of a branch or tag
//	{cache}/.locks/models--{org}--{name}/{etag}.lock         serialises concurrent downloads
//
// Datasets use datasets--{org}--{name}. The cache is $HF_HUB_CACHE, else
// $HF_HOME/hub, else ~/.cache/huggingface/hub.
//
// A file already in the cache is returned without any network access: a
// branch or tag is looked up in refs/{revision}, so a cached revision does not
// follow later pushes (pass a commit hash to pin one explicitly). Otherwise the
// download resumes from the .incomplete file with an HTTP Range request,
// restarts when the server ignores the range, retries transient failures
// (connection resets, 5xx, 429 with Retry-After) with bounded exponential
// back-off, is checked against the sha256 when the ETag is one, and becomes
// visible atomically by a rename.
//
// The access token is sent as "Authorization: Bearer …" only to the Hub's own
// scheme, host and port: never to a CDN or any other host a redirect leads to.
// (Go's http.Client alone would keep it for the same host name on another port
// and for subdomains such as cdn-lfs.huggingface.co.) The token is removed from
// every error and log line, and a Token formats as "[redacted]".
package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// DefaultEndpoint is the Hub used when HF_ENDPOINT is not set.
const DefaultEndpoint = "https://huggingface.co"

// DefaultRevision is the revision used when none is given.
const DefaultRevision = "main"

// RepoKind tells models from datasets; they live under different URLs and
// cache folders.
type RepoKind int

// Repository kinds.
const (
	Model RepoKind = iota
	Dataset
)

// String returns "model" or "dataset".
func (k RepoKind) String() string {
	if k == Dataset {
		return "dataset"
	}
	return "model"
}

// urlPrefix is the path prefix of the kind's repositories on the Hub.
func (k RepoKind) urlPrefix() string {
	if k == Dataset {
		return "datasets/"
	}
	return ""
}

// Errors that callers can test for with errors.Is.
var (
	// ErrNotFound means that the repository, revision or file does not
	// exist (or that a model has no file of the asked quantization).
	ErrNotFound = errors.New("not found on the Hugging Face Hub")
	// ErrGated means that the repository is gated or private and the
	// request had no token with access.
	ErrGated = errors.New("access denied by the Hugging Face Hub")
	// ErrOffline means that the file is not cached and the Hub cannot be
	// reached or offline mode is on.
	ErrOffline = errors.New("not available offline")
	// ErrChecksum means that the downloaded content does not match its
	// sha256.
	ErrChecksum = errors.New("checksum mismatch")
)

// Token is a Hugging Face access token. It formats as "[redacted]" with every
// fmt verb, so printing a Config never reveals it.
type Token string

// Format implements fmt.Formatter.
func (t Token) Format(f fmt.State, _ rune) {
	if t != "" {
		io.WriteString(f, "[redacted]")
	}
}

// Progress reports how far a download has come.
type Progress struct {
	Kind  RepoKind
	Repo  string
	File  string
	Done  int64 // bytes stored so far, including resumed ones
	Total int64 // file size, or -1 if unknown
}

// Config configures a Client. Zero fields take the defaults named below.
type Config struct {
	// Endpoint is the Hub's base URL ($HF_ENDPOINT); default DefaultEndpoint.
	Endpoint string
	// Token authenticates to the Hub ($HF_TOKEN) for gated and private
	// repositories.
	Token Token
	// CacheDir is the hub cache directory; default DefaultCacheDir().
	CacheDir string
	// Offline forbids network access ($HF_HUB_OFFLINE): only cached files
	// are used.
	Offline bool
	// HTTPClient sends the requests; it is copied, not modified. Default: a
	// client whose transport times out waiting for response headers.
	HTTPClient *http.Client
	// Log, if not nil, receives human-readable progress lines: start, every
	// tenth of a file, retries, end. Concurrent downloads share it.
	Log io.Writer
	// OnProgress, if not nil, is called after every chunk a download
	// stores, for progress bars; concurrent downloads call it concurrently.
	OnProgress func(Progress)
	// MaxAttempts bounds the attempts per request or download; default 5.
	MaxAttempts int
	// RetryDelay is the first back-off delay, doubled after each failure up
	// to MaxRetryDelay; defaults 1s and 30s. A Retry-After header replaces the
	// computed delay, still capped by MaxRetryDelay.
	RetryDelay, MaxRetryDelay time.Duration
}

// ConfigFromEnv returns the configuration that the environment describes, as
// huggingface_hub reads it: HF_ENDPOINT; HF_TOKEN, else HUGGING_FACE_HUB_TOKEN,
// else the file $HF_TOKEN_PATH or $HF_HOME/token written by `hf auth login`;
// the cache (DefaultCacheDir); HF_HUB_OFFLINE (1/true/yes/on or 0/false/no/off).
func ConfigFromEnv() (Config, error) {
	return configFrom(os.Getenv)
}

func configFrom(getenv func(string) string) (Config, error) {
	cfg := Config{Endpoint: getenv("HF_ENDPOINT"), CacheDir: cacheDirFrom(getenv)}
	if v := getenv("HF_HUB_OFFLINE"); v != "" {
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "1", "true", "yes", "on":
			cfg.Offline = true
		case "0", "false", "no", "off":
		default:
			return Config{}, fmt.Errorf("environment variable HF_HUB_OFFLINE=%q: want 1 or 0", v)
		}
	}
	tok := getenv("HF_TOKEN")
	if tok == "" {
		tok = getenv("HUGGING_FACE_HUB_TOKEN")
	}
	if tok == "" {
		path := getenv("HF_TOKEN_PATH")
		if path == "" {
			path = filepath.Join(hfHome(getenv), "token")
		}
		b, err := os.ReadFile(path)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return Config{}, fmt.Errorf("read Hugging Face token file: %w", err)
		}
		tok = string(b)
	}
	cfg.Token = Token(strings.TrimSpace(tok))
	return cfg, nil
}

// DefaultCacheDir returns the hub cache directory huggingface_hub uses:
// $HF_HUB_CACHE, else $HUGGINGFACE_HUB_CACHE, else $HF_HOME/hub, else
// $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub.
func DefaultCacheDir() string { return cacheDirFrom(os.Getenv) }

func cacheDirFrom(getenv func(string) string) string {
	for _, v := range []string{"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"} {
		if d := getenv(v); d != "" {
			return expandHome(d)
		}
	}
	return filepath.Join(hfHome(getenv), "hub")
}

func hfHome(getenv func(string) string) string {
	if d := getenv("HF_HOME"); d != "" {
		return expandHome(d)
	}
	if d := getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(expandHome(d), "huggingface")
	}
	return filepath.Join(expandHome("~"), ".cache", "huggingface")
}

func expandHome(p string) string {
	if p != "~" && !strings.HasPrefix(p, "~/") {
		return p
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return p
	}
	return filepath.Join(home, p[1:])
}

// Client downloads from one Hub into one cache. Its methods are safe for
// concurrent use; concurrent downloads of one file, also from other processes,
// wait for each other through a lock file.
type Client struct {
	endpoint *url.URL
	token    Token
	cacheDir string
	offline  bool
	http     *http.Client // follows redirects, strips the token off the Hub
	head     *http.Client // follows redirects within the Hub only
	log      io.Writer
	progress func(Progress)
	attempts int
	delay    time.Duration
	maxDelay time.Duration
}

// New returns a Client for cfg.
func New(cfg Config) (*Client, error) {
	ep := strings.TrimRight(cfg.Endpoint, "/")
	if ep == "" {
		ep = DefaultEndpoint
	}
	u, err := url.Parse(ep)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return nil, fmt.Errorf("hub endpoint %q: want an http(s) URL such as %s", redactURL(ep), DefaultEndpoint)
	}
	c := &Client{
		endpoint: u, token: cfg.Token, cacheDir: cfg.CacheDir, offline: cfg.Offline,
		log: cfg.Log, progress: cfg.OnProgress,
		attempts: cfg.MaxAttempts, delay: cfg.RetryDelay, maxDelay: cfg.MaxRetryDelay,
	}
	if c.cacheDir == "" {
		c.cacheDir = DefaultCacheDir()
	}
	if c.cacheDir, err = filepath.Abs(c.cacheDir); err != nil {
		return nil, fmt.Errorf("hub cache directory: %w", err)
	}
	if c.attempts <= 0 {
		c.attempts = 5
	}
	if c.delay <= 0 {
		c.delay = time.Second
	}
	if c.maxDelay <= 0 {
		c.maxDelay = 30 * time.Second
	}
	var base http.Client
	if cfg.HTTPClient != nil {
		base = *cfg.HTTPClient
	} else {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.ResponseHeaderTimeout = time.Minute
		base.Transport = tr
	}
	userCheck := base.CheckRedirect
	follow := base
	follow.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if !c.isHub(req.URL) {
			req.Header.Del("Authorization")
		}
		if userCheck != nil {
			return userCheck(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	head := follow
	head.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if !c.isHub(req.URL) {
			return http.ErrUseLastResponse // the CDN location is the answer
		}
		return follow.CheckRedirect(req, via)
	}
	c.http, c.head = &follow, &head
	return c, nil
}

// CacheDir returns the hub cache directory the client uses.
func (c *Client) CacheDir() string { return c.cacheDir }

// String describes the client without its token.
func (c *Client) String() string {
	return fmt.Sprintf("hub.Client{endpoint: %s, cache: %s, offline: %v, token: %v}",
		c.endpoint, c.cacheDir, c.offline, c.token != "")
}

// GoString is like String, so that %#v does not print the token either.
func (c *Client) GoString() string { return c.String() }

// isHub reports whether u addresses the Hub's own scheme, host and port.
func (c *Client) isHub(u *url.URL) bool {
	return strings.EqualFold(u.Scheme, c.endpoint.Scheme) &&
		strings.EqualFold(u.Hostname(), c.endpoint.Hostname()) &&
		port(u) == port(c.endpoint)
}

func port(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if strings.EqualFold(u.Scheme, "https") {
		return "443"
	}
	return "80"
}

// repoPage returns the repository's web page, where gated repositories show
// their licence.
func (c *Client) repoPage(kind RepoKind, repo string) string {
	return c.endpoint.String() + "/" + kind.urlPrefix() + repo
}

// newRequest builds a request; the token goes only to the Hub itself.
func (c *Client) newRequest(ctx context.Context, method, rawURL string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, rawURL, nil)
	if err != nil {
		return nil, err
	}
	if c.token != "" && c.isHub(req.URL) {
		req.Header.Set("Authorization", "Bearer "+string(c.token))
	}
	req.Header.Set("User-Agent", "deepconf-hub/1")
	return req, nil
}

// send performs a request, retrying transient failures, and returns the
// first response that is not 429 or 5xx (or the last one). A caller must
// close its body and check its status.
func (c *Client) send(ctx context.Context, hc *http.Client, method, rawURL string) (*http.Response, error) {
	for attempt := 1; ; attempt++ {
		req, err := c.newRequest(ctx, method, rawURL)
		if err != nil {
			return nil, err
		}
		resp, err := hc.Do(req)
		err = scrub(err)
		var after time.Duration
		switch {
		case err != nil && (ctx.Err() != nil || !transient(err) || attempt >= c.attempts):
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, err
		case err != nil:
			c.logf("%s %s: %v; retrying", method, redactURL(rawURL), err)
		case !retryStatus(resp.StatusCode) || attempt >= c.attempts:
			return resp, nil
		default:
			after = retryAfter(resp.Header.Get("Retry-After"))
			drain(resp)
			c.logf("%s %s: %s; retrying", method, redactURL(rawURL), resp.Status)
		}
		if err := c.sleep(ctx, attempt, after); err != nil {
			return nil, err
		}
	}
}

// sleep waits before retry number attempt (1-based), honouring a server's
// Retry-After, within the configured bounds.
func (c *Client) sleep(ctx context.Context, attempt int, after time.Duration) error {
	d := c.delay << min(attempt-1, 20)
	d += time.Duration(rand.Int64N(int64(d)/4 + 1)) // jitter spreads out parallel clients
	if after > 0 {
		d = after
	}
	d = min(d, c.maxDelay)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func retryStatus(code int) bool {
	return code == http.StatusTooManyRequests || code >= 500
}

// retryAfter parses a Retry-After header: delay seconds or an HTTP date.
func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// drain discards a little of a body and closes it, so that the connection
// can be reused.
func drain(resp *http.Response) {
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

// errStalled cancels a download that received nothing for stallTimeout.
var errStalled = errors.New("download stalled: no data received for " + stallTimeout.String())

const stallTimeout = 2 * time.Minute

// transient reports whether a request that failed with err may succeed when
// tried again.
func transient(err error) bool {
	if unreachable(err) {
		return false
	}
	var ne net.Error
	return errors.Is(err, errStalled) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNABORTED) ||
		errors.Is(err, syscall.EPIPE) || (errors.As(err, &ne) && ne.Timeout())
}

// unreachable reports whether err means that the host cannot be reached at
// all: no name resolution or no connection. Such errors are not retried.
func unreachable(err error) bool {
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return !dns.IsTemporary && !dns.IsTimeout
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// statusError turns a failed Hub response into an error that names what was
// asked for and, for access problems, what to do.
func (c *Client) statusError(resp *http.Response, kind RepoKind, repo, revision, file string) error {
	code := resp.Header.Get("X-Error-Code")
	msg := c.serverMessage(resp)
	what := kind.String() + " " + repo
	page := c.repoPage(kind, repo)
	switch {
	case code == "GatedRepo" || resp.StatusCode == http.StatusForbidden ||
		(resp.StatusCode == http.StatusUnauthorized && code == ""):
		hint := "no token was sent: accept the licence on " + page +
			" while logged in, then set HF_TOKEN to an access token of that account (" +
			c.endpoint.String() + "/settings/tokens)"
		if c.token != "" {
			hint = "the token in HF_TOKEN has no access: accept the licence on " + page +
				" with the account that owns the token, or use a token with read access"
		}
		return fmt.Errorf("%w: %s is gated or private (HTTP %d%s); %s", ErrGated, what, resp.StatusCode, msg, hint)
	case code == "RepoNotFound" || resp.StatusCode == http.StatusUnauthorized:
		return fmt.Errorf("%w: %s does not exist (HTTP %d%s); check the name, or set HF_TOKEN if it is private",
			ErrNotFound, what, resp.StatusCode, msg)
	case code == "RevisionNotFound":
		return fmt.Errorf("%w: revision %q of %s does not exist (HTTP %d%s)", ErrNotFound, revision, what, resp.StatusCode, msg)
	case resp.StatusCode == http.StatusNotFound && file != "":
		return fmt.Errorf("%w: file %q is not in %s at revision %q (HTTP 404%s)", ErrNotFound, file, what, revision, msg)
	case resp.StatusCode == http.StatusNotFound:
		return fmt.Errorf("%w: %s at revision %q (HTTP 404%s)", ErrNotFound, what, revision, msg)
	}
	return fmt.Errorf("%s %s: HTTP %s%s", resp.Request.Method, redactURL(resp.Request.URL.String()), resp.Status, msg)
}

// serverMessage extracts the Hub's explanation of an error (X-Error-Message
// or a JSON "error" field or a short text body), formatted as ": message".
func (c *Client) serverMessage(resp *http.Response) string {
	msg := resp.Header.Get("X-Error-Message")
	if msg == "" && resp.Body != nil {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		var j struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(b, &j) == nil && j.Error != "" {
			msg = j.Error
		} else if !strings.Contains(resp.Header.Get("Content-Type"), "html") {
			msg = string(b)
		}
	}
	msg = strings.Join(strings.Fields(msg), " ")
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	if msg == "" {
		return ""
	}
	return ": " + c.redact(msg)
}

// redact removes the token from s.
func (c *Client) redact(s string) string {
	if c.token == "" {
		return s
	}
	return strings.ReplaceAll(s, string(c.token), "[redacted]")
}

// redactErr guarantees that err's message does not contain the token. The
// original error stays reachable through errors.Is and errors.As.
func (c *Client) redactErr(err error) error {
	if err == nil || c.token == "" || !strings.Contains(err.Error(), string(c.token)) {
		return err
	}
	return &redactedError{msg: c.redact(err.Error()), err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// scrub removes the query (CDN signatures) from the URL in a *url.Error.
func scrub(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		ue.URL = redactURL(ue.URL)
	}
	return err
}

// redactURL drops credentials and the query (CDN URLs carry signatures).
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(invalid URL)"
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}

func (c *Client) logf(format string, args ...any) {
	if c.log != nil {
		fmt.Fprintln(c.log, c.redact("hub: "+fmt.Sprintf(format, args...)))
	}
}

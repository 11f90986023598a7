package hub

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gofrs/flock"
)

var (
	sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)
	commitHex = regexp.MustCompile(`^[0-9a-f]{40}$`)
	repoPart  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	safeName  = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
)

// Download returns the local path of file in repository repo (such as
// "Qwen/Qwen3-0.6B-GGUF") at revision (a branch, tag or commit; "" means
// "main"), downloading it into the cache unless it is already there. The path
// is the snapshot entry snapshots/{commit}/{file}, a symlink to the blob.
func (c *Client) Download(ctx context.Context, kind RepoKind, repo, revision, file string) (string, error) {
	p, err := c.download(ctx, kind, repo, revision, file)
	return p, c.redactErr(err)
}

func (c *Client) download(ctx context.Context, kind RepoKind, repo, revision, file string) (string, error) {
	if revision == "" {
		revision = DefaultRevision
	}
	if err := checkRepo(repo, revision); err != nil {
		return "", err
	}
	if !cleanRelPath(file) {
		return "", fmt.Errorf("file %q: want a relative slash-separated path inside the repository", file)
	}
	dir := c.repoDir(kind, repo)
	if p, ok := cachedFile(dir, revision, file); ok {
		return p, nil
	}
	u := c.resolveURL(kind, repo, revision, file)
	if c.offline {
		return "", c.offlineError(kind, repo, revision, file, u, nil)
	}
	m, err := c.metadata(ctx, kind, repo, revision, file, u)
	if err != nil {
		if unreachable(err) {
			return "", c.offlineError(kind, repo, revision, file, u, err)
		}
		return "", err
	}
	blob := filepath.Join(dir, "blobs", m.etag)
	label := fmt.Sprintf("%s/%s", repo, file)
	if err := c.fetchBlob(ctx, m, Progress{Kind: kind, Repo: repo, File: file, Total: m.size}, revision, dir, blob); err != nil {
		if unreachable(err) {
			return "", c.offlineError(kind, repo, revision, file, u, err)
		}
		return "", fmt.Errorf("download %s: %w", label, err)
	}
	ptr := filepath.Join(dir, "snapshots", m.commit, filepath.FromSlash(file))
	if err := symlink(blob, ptr); err != nil {
		return "", fmt.Errorf("link %s into the cache: %w", label, err)
	}
	if revision != m.commit {
		if err := writeRef(dir, revision, m.commit); err != nil {
			return "", err
		}
	}
	return ptr, nil
}

// checkRepo rejects names that would escape the cache or are not Hub names.
func checkRepo(repo, revision string) error {
	org, name, ok := strings.Cut(repo, "/")
	if !ok || !repoPart.MatchString(org) || !repoPart.MatchString(name) ||
		strings.Contains(repo, "--") || strings.Contains(repo, "..") {
		return fmt.Errorf("repository %q: want org/name (letters, digits, '-', '_', '.')", repo)
	}
	if !cleanRelPath(revision) {
		return fmt.Errorf("revision %q: not a branch, tag or commit name", revision)
	}
	return nil
}

func cleanRelPath(p string) bool {
	if p == "" || strings.ContainsAny(p, "\\\x00") {
		return false
	}
	for _, s := range strings.Split(p, "/") {
		if s == "" || s == "." || s == ".." {
			return false
		}
	}
	return true
}

// repoDir is the repository's folder in the cache: models--org--name.
func (c *Client) repoDir(kind RepoKind, repo string) string {
	return filepath.Join(c.cacheDir, kind.String()+"s--"+strings.ReplaceAll(repo, "/", "--"))
}

// resolveURL is the Hub address of a file.
func (c *Client) resolveURL(kind RepoKind, repo, revision, file string) string {
	segs := strings.Split(file, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return c.endpoint.String() + "/" + kind.urlPrefix() + repo + "/resolve/" +
		url.PathEscape(revision) + "/" + strings.Join(segs, "/")
}

// snapshotCommit returns the commit a revision is cached under: the revision
// itself if it is a commit hash, else the content of refs/{revision}.
func snapshotCommit(dir, revision string) (string, bool) {
	if commitHex.MatchString(revision) {
		return revision, true
	}
	b, err := os.ReadFile(filepath.Join(dir, "refs", filepath.FromSlash(revision)))
	commit := strings.TrimSpace(string(b))
	return commit, err == nil && safeName.MatchString(commit) && commit != "." && commit != ".."
}

// cachedFile returns the snapshot path of a complete cached file.
func cachedFile(dir, revision, file string) (string, bool) {
	commit, ok := snapshotCommit(dir, revision)
	if !ok {
		return "", false
	}
	p := filepath.Join(dir, "snapshots", commit, filepath.FromSlash(file))
	fi, err := os.Stat(p) // follows the symlink: the blob must exist
	return p, err == nil && fi.Mode().IsRegular()
}

// fileMeta is what the HEAD request tells about a file.
type fileMeta struct {
	commit   string
	etag     string
	size     int64  // -1 if unknown
	location string // where to GET the content (the Hub or a CDN)
}

// metadata asks the Hub about a file without following redirects to other
// hosts, like huggingface_hub's get_hf_file_metadata.
func (c *Client) metadata(ctx context.Context, kind RepoKind, repo, revision, file, u string) (fileMeta, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	resp, err := c.send(ctx, c.head, http.MethodHead, u)
	if err != nil {
		return fileMeta{}, fmt.Errorf("ask the Hub for %s/%s: %w", repo, file, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		return fileMeta{}, c.statusError(resp, kind, repo, revision, file)
	}
	h := resp.Header
	m := fileMeta{commit: h.Get("X-Repo-Commit"), size: -1, location: resp.Request.URL.String()}
	etag := h.Get("X-Linked-Etag")
	if etag == "" {
		etag = h.Get("ETag")
	}
	m.etag = strings.Trim(strings.TrimPrefix(etag, "W/"), `"`)
	if s, err := strconv.ParseInt(h.Get("X-Linked-Size"), 10, 64); err == nil && s >= 0 {
		m.size = s
	} else if resp.StatusCode < 300 && resp.ContentLength >= 0 {
		m.size = resp.ContentLength
	}
	if resp.StatusCode >= 300 {
		loc, err := resp.Location()
		if err != nil {
			return fileMeta{}, fmt.Errorf("ask the Hub for %s/%s: redirect (HTTP %d) without a valid Location", repo, file, resp.StatusCode)
		}
		m.location = loc.String()
	}
	switch {
	case !safeName.MatchString(m.etag) || m.etag == "." || m.etag == "..":
		return fileMeta{}, fmt.Errorf("ask the Hub for %s/%s: response has no usable ETag (%q)", repo, file, etag)
	case !safeName.MatchString(m.commit) || m.commit == "." || m.commit == "..":
		return fileMeta{}, fmt.Errorf("ask the Hub for %s/%s: response has no usable X-Repo-Commit (%q)", repo, file, m.commit)
	}
	return m, nil
}

// fetchBlob downloads a file's content to blob, resuming blob.incomplete.
func (c *Client) fetchBlob(ctx context.Context, m fileMeta, p Progress, revision, repoDir, blob string) error {
	if fi, err := os.Stat(blob); err == nil && fi.Mode().IsRegular() {
		return nil // same content cached under another revision or name
	}
	lockDir := filepath.Join(c.cacheDir, ".locks", filepath.Base(repoDir))
	for _, d := range []string{filepath.Dir(blob), lockDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	lock := flock.New(filepath.Join(lockDir, m.etag+".lock"))
	if _, err := lock.TryLockContext(ctx, 200*time.Millisecond); err != nil {
		return fmt.Errorf("lock %s: %w", lock.Path(), err)
	}
	defer lock.Unlock()
	if _, err := os.Stat(blob); err == nil {
		return nil // another process finished it while we waited
	}

	part := blob + ".incomplete"
	f, err := os.OpenFile(part, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	s := &sink{f: f, h: sha256.New(), rev: revision, c: c, p: p}
	if err := s.load(); err != nil {
		return fmt.Errorf("read %s: %w", part, err)
	}
	if s.n > 0 {
		c.logf("resuming %s/%s at %s", p.Repo, p.File, size(s.n))
	} else {
		c.logf("downloading %s/%s (%s)", p.Repo, p.File, size(m.size))
	}
	for attempt := 1; ; attempt++ {
		after, err := c.fetchOnce(ctx, m, s)
		if err == nil {
			break
		}
		kept := ""
		if s.n > 0 {
			kept = fmt.Sprintf("; %s of %s are kept in %s and the next call resumes from there", size(s.n), size(m.size), part)
		}
		var r *retryable
		if ctx.Err() != nil {
			return fmt.Errorf("%w%s", ctx.Err(), kept)
		}
		if !errors.As(err, &r) {
			return fmt.Errorf("%w%s", err, kept)
		}
		if attempt >= c.attempts {
			return fmt.Errorf("%w (gave up after %d attempts%s)", r.err, attempt, kept)
		}
		c.logf("%s/%s: %v; retrying from %s", p.Repo, p.File, r.err, size(s.n))
		if err := c.sleep(ctx, attempt, after); err != nil {
			return err
		}
	}
	if sha256Hex.MatchString(m.etag) {
		if got := hex.EncodeToString(s.h.Sum(nil)); got != m.etag {
			f.Close()
			os.Remove(part)
			return fmt.Errorf("%w: the content's sha256 is %s, the Hub says %s; the bad download was deleted, run again to download it anew",
				ErrChecksum, got, m.etag)
		}
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(part, blob); err != nil {
		return err
	}
	c.logf("downloaded %s/%s (%s)", p.Repo, p.File, size(s.n))
	return nil
}

// retryable marks a failure after which the download may be resumed.
type retryable struct{ err error }

func (r *retryable) Error() string { return r.err.Error() }
func (r *retryable) Unwrap() error { return r.err }

// fetchOnce makes one GET for the rest of the content and appends it to s.
// It returns nil when s holds the whole file, a *retryable error (with the
// server's Retry-After) when trying again may help, or another error.
func (c *Client) fetchOnce(ctx context.Context, m fileMeta, s *sink) (time.Duration, error) {
	if m.size >= 0 && s.n == m.size {
		return 0, nil
	}
	if m.size >= 0 && s.n > m.size {
		if err := s.reset(); err != nil {
			return 0, err
		}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stall := time.AfterFunc(stallTimeout, func() { cancel(errStalled) })
	defer stall.Stop()

	req, err := c.newRequest(ctx, http.MethodGet, m.location)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept-Encoding", "identity") // bytes as stored, so that ranges and sizes agree
	if s.n > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", s.n))
	}
	resp, err := c.http.Do(req)
	if err = scrub(err); err != nil {
		if cause := context.Cause(ctx); cause != nil && cause != ctx.Err() {
			err = cause
		}
		if transient(err) {
			return 0, &retryable{err}
		}
		return 0, err
	}
	defer resp.Body.Close()
	switch code := resp.StatusCode; {
	case code == http.StatusOK:
		if s.n > 0 {
			c.logf("%s/%s: the server ignored the Range request; restarting from 0", s.p.Repo, s.p.File)
			if err := s.reset(); err != nil {
				return 0, err
			}
		}
	case code == http.StatusPartialContent:
		if start := rangeStart(resp.Header.Get("Content-Range")); start != s.n {
			if err := s.reset(); err != nil {
				return 0, err
			}
			return 0, &retryable{fmt.Errorf("server answered the range from %d with Content-Range %q; restarting",
				s.n, resp.Header.Get("Content-Range"))}
		}
	case code == http.StatusRequestedRangeNotSatisfiable:
		// The partial file is as long as the content, or longer: it is
		// complete if its checksum says so; otherwise start again.
		if sha256Hex.MatchString(m.etag) && hex.EncodeToString(s.h.Sum(nil)) == m.etag {
			return 0, nil
		}
		if err := s.reset(); err != nil {
			return 0, err
		}
		return 0, &retryable{errors.New("server rejected the range of the partial file (HTTP 416); restarting")}
	case retryStatus(code):
		return retryAfter(resp.Header.Get("Retry-After")), &retryable{fmt.Errorf("GET %s: HTTP %s", redactURL(m.location), resp.Status)}
	case code >= 400 && c.isHub(resp.Request.URL):
		return 0, c.statusError(resp, s.p.Kind, s.p.Repo, s.rev, s.p.File)
	case code >= 400:
		return 0, fmt.Errorf("GET %s: HTTP %s%s (the download link may have expired: run again for a fresh one)",
			redactURL(resp.Request.URL.String()), resp.Status, c.serverMessage(resp))
	default:
		return 0, fmt.Errorf("GET %s: unexpected HTTP %s", redactURL(m.location), resp.Status)
	}
	buf := make([]byte, 1<<20)
	_, err = io.CopyBuffer(s, &stallReader{r: resp.Body, t: stall}, buf)
	if err = scrub(err); err != nil {
		if cause := context.Cause(ctx); cause != nil && cause != ctx.Err() {
			err = cause
		}
		var we *writeError
		if errors.As(err, &we) || !transient(err) {
			return 0, err
		}
		return 0, &retryable{err}
	}
	switch {
	case m.size >= 0 && s.n < m.size:
		return 0, &retryable{fmt.Errorf("connection closed at %d of %d bytes", s.n, m.size)}
	case m.size >= 0 && s.n > m.size:
		err := fmt.Errorf("server sent %d bytes, more than the file's %d; the partial file was emptied", s.n, m.size)
		if rerr := s.reset(); rerr != nil {
			return 0, rerr
		}
		return 0, err
	}
	return 0, nil
}

// rangeStart parses the first byte position of "bytes first-last/total".
func rangeStart(v string) int64 {
	v, ok := strings.CutPrefix(strings.TrimSpace(v), "bytes ")
	first, _, ok2 := strings.Cut(v, "-")
	n, err := strconv.ParseInt(strings.TrimSpace(first), 10, 64)
	if !ok || !ok2 || err != nil {
		return -1
	}
	return n
}

// stallReader re-arms the stall timer whenever data arrives.
type stallReader struct {
	r io.Reader
	t *time.Timer
}

func (s *stallReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if n > 0 {
		s.t.Reset(stallTimeout)
	}
	return n, err
}

// sink is the .incomplete file together with the running sha256 of its
// content; it reports progress.
type sink struct {
	f      *os.File
	h      hash.Hash
	rev    string
	n      int64
	c      *Client
	p      Progress
	logged int64 // last progress step written to the log
}

// writeError marks a failure to store data, which retrying does not cure.
type writeError struct{ err error }

func (w *writeError) Error() string { return "write: " + w.err.Error() }
func (w *writeError) Unwrap() error { return w.err }

func (s *sink) Write(b []byte) (int, error) {
	n, err := s.f.Write(b)
	s.h.Write(b[:n])
	s.n += int64(n)
	s.report()
	if err != nil {
		return n, &writeError{err}
	}
	return n, nil
}

// load hashes what an earlier attempt left in the file.
func (s *sink) load() error {
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	n, err := io.Copy(s.h, s.f)
	s.n = n
	return err
}

func (s *sink) reset() error {
	if err := s.f.Truncate(0); err != nil {
		return err
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	s.h.Reset()
	s.n, s.logged = 0, 0
	return nil
}

// report calls OnProgress and logs a line at every tenth of the file (every
// 256 MiB if the size is unknown).
func (s *sink) report() {
	p := s.p
	p.Done = s.n
	if s.c.progress != nil {
		s.c.progress(p)
	}
	step := int64(256 << 20)
	if p.Total > 0 {
		step = max(p.Total/10, 1)
	}
	if k := s.n / step; k > s.logged {
		s.logged = k
		if p.Total > 0 {
			s.c.logf("%s/%s: %d%% (%s of %s)", p.Repo, p.File, s.n*100/p.Total, size(s.n), size(p.Total))
		} else {
			s.c.logf("%s/%s: %s", p.Repo, p.File, size(s.n))
		}
	}
}

// size formats a byte count for people.
func size(n int64) string {
	switch {
	case n < 0:
		return "unknown size"
	case n < 1000:
		return fmt.Sprintf("%d B", n)
	case n < 1e6:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	case n < 1e9:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	}
	return fmt.Sprintf("%.2f GB", float64(n)/1e9)
}

// symlink makes ptr a relative symlink to blob, replacing whatever is there.
func symlink(blob, ptr string) error {
	if err := os.MkdirAll(filepath.Dir(ptr), 0o755); err != nil {
		return err
	}
	rel, err := filepath.Rel(filepath.Dir(ptr), blob)
	if err != nil {
		return err
	}
	tmp := fmt.Sprintf("%s.tmp-link-%x", ptr, rand.Uint64()) // unique: other processes may link the same file
	if err := os.Symlink(rel, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, ptr); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// writeRef records that revision points to commit, atomically.
func writeRef(dir, revision, commit string) error {
	ref := filepath.Join(dir, "refs", filepath.FromSlash(revision))
	if err := os.MkdirAll(filepath.Dir(ref), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(ref), ".ref-*")
	if err != nil {
		return err
	}
	_, err = tmp.WriteString(commit)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), ref)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", ref, err)
	}
	return nil
}

// offlineError explains that a file is neither cached nor downloadable, and
// how to provide it by hand. cause is nil in offline mode.
func (c *Client) offlineError(kind RepoKind, repo, revision, file, u string, cause error) error {
	why := "offline mode is on (HF_HUB_OFFLINE)"
	if cause != nil {
		why = fmt.Sprintf("the Hub cannot be reached (%v)", cause)
	}
	flag, typ := "--model", ""
	if kind == Dataset {
		flag, typ = "--data", " --repo-type dataset"
	}
	return fmt.Errorf("%w: %s %s: file %s (revision %s) is not in the cache %s and %s.\n"+
		"To provide it by hand, download\n  %s\non a machine with network access and pass the file's path with %s PATH; "+
		"or run `hf download %s %s --revision %s%s` there and copy its cache folder %s into %s",
		ErrOffline, kind, repo, file, revision, c.cacheDir, why,
		u, flag, repo, file, revision, typ, filepath.Base(c.repoDir(kind, repo)), c.cacheDir)
}

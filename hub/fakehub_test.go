package hub

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeHub imitates the Hugging Face Hub on two local servers: the Hub itself
// (resolve endpoint with the LFS headers, tree API, gating, errors) and a CDN
// that the resolve endpoint redirects LFS files to, as huggingface.co does.
type fakeHub struct {
	hub, cdn *httptest.Server
	token    string // the token that opens gated repositories

	mu    sync.Mutex
	repos map[string]*fakeRepo // by URL prefix + repo: "org/name", "datasets/org/name"

	// Behaviour switches.
	noRange    bool   // the CDN ignores Range headers
	cutAfter   int    // the CDN closes the connection after this many body bytes...
	cuts       int    // ...this many times
	failures   int    // the CDN answers failStatus this many times first
	failStatus int    // 503 or 429
	retryAfter string // Retry-After sent with failures
	noSize     bool   // HEAD responses carry no size
	pageSize   int    // tree API entries per page; 0 = all
	echoAuth   bool   // error messages echo the Authorization header (a leaky server)
	renamed    map[string]string

	// What the servers saw.
	hubAuth, cdnAuth []string // Authorization headers
	ranges           []string // Range headers of CDN requests
	cdnGets          int
}

type fakeRepo struct {
	commit string
	gated  bool
	files  map[string]*fakeFile
}

type fakeFile struct {
	data   []byte
	lfs    bool // stored in LFS: served by the CDN, X-Linked-Etag = sha256
	badCDN bool // the CDN serves corrupted bytes
}

func newFakeHub(t *testing.T) *fakeHub {
	f := &fakeHub{repos: map[string]*fakeRepo{}, token: "hf_TestSecretToken1234567890", failStatus: http.StatusServiceUnavailable}
	f.hub = httptest.NewServer(http.HandlerFunc(f.serveHub))
	f.cdn = httptest.NewServer(http.HandlerFunc(f.serveCDN))
	t.Cleanup(f.close)
	return f
}

func (f *fakeHub) close() { f.hub.Close(); f.cdn.Close() }

// add creates or extends a repository; kind picks the URL prefix.
func (f *fakeHub) add(kind RepoKind, repo string, gated bool, files map[string]*fakeFile) *fakeRepo {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := kind.urlPrefix() + repo
	r := f.repos[key]
	if r == nil {
		sum := sha1.Sum([]byte(key))
		r = &fakeRepo{commit: hex.EncodeToString(sum[:]), gated: gated, files: map[string]*fakeFile{}}
		f.repos[key] = r
	}
	for p, ff := range files {
		r.files[p] = ff
	}
	return r
}

// randomBytes returns n reproducible pseudo-random bytes.
func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func sha256Of(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// gitBlobID is git's object id of a file: sha1("blob {len}\x00" + content).
func gitBlobID(b []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(b))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

func (f *fakeHub) fail(w http.ResponseWriter, status int, code, msg string, r *http.Request) {
	if f.echoAuth {
		msg += " (you sent " + r.Header.Get("Authorization") + ")"
	}
	if code != "" {
		w.Header().Set("X-Error-Code", code)
	}
	w.Header().Set("X-Error-Message", msg)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

func (f *fakeHub) serveHub(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.hubAuth = append(f.hubAuth, r.Header.Get("Authorization"))
	f.mu.Unlock()
	var segs []string
	for _, s := range strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), "/"), "/") {
		u, _ := url.PathUnescape(s)
		segs = append(segs, u)
	}
	if segs[0] == "hop" { // a Hub URL that redirects elsewhere
		http.Redirect(w, r, f.cdn.URL+"/hop", http.StatusFound)
		return
	}
	if segs[0] == "api" && len(segs) >= 6 && segs[4] == "tree" {
		prefix := ""
		if segs[1] == "datasets" {
			prefix = "datasets/"
		}
		f.serveTree(w, r, prefix+segs[2]+"/"+segs[3], segs[5])
		return
	}
	prefix, kind := "", "model"
	if segs[0] == "datasets" {
		prefix, kind, segs = "datasets/", "dataset", segs[1:]
	}
	if len(segs) < 5 || segs[2] != "resolve" {
		http.NotFound(w, r)
		return
	}
	repoID, rev, file := segs[0]+"/"+segs[1], segs[3], strings.Join(segs[4:], "/")
	if to := f.renamed[prefix+repoID]; to != "" { // the Hub redirects renamed repositories with a relative URL
		w.Header().Set("Location", "/"+prefix+to+"/resolve/"+strings.Join(strings.Split(r.URL.EscapedPath(), "/")[len(strings.Split(prefix+repoID, "/"))+2:], "/"))
		w.WriteHeader(http.StatusTemporaryRedirect)
		return
	}
	f.mu.Lock()
	repo := f.repos[prefix+repoID]
	f.mu.Unlock()
	switch {
	case repo == nil:
		f.fail(w, http.StatusNotFound, "RepoNotFound", "Repository not found", r)
		return
	case repo.gated && r.Header.Get("Authorization") == "":
		f.fail(w, http.StatusUnauthorized, "GatedRepo", "Access to "+kind+" "+repoID+
			" is restricted. You must have access to it and be authenticated to access it. Please log in.", r)
		return
	case repo.gated && r.Header.Get("Authorization") != "Bearer "+f.token:
		f.fail(w, http.StatusForbidden, "GatedRepo", "Access to "+kind+" "+repoID+
			" is restricted and you are not in the authorized list. Visit "+f.hub.URL+"/"+prefix+repoID+" to ask for access.", r)
		return
	case rev != "main" && rev != repo.commit:
		f.fail(w, http.StatusNotFound, "RevisionNotFound", "Invalid rev id: "+rev, r)
		return
	}
	ff := repo.files[file]
	if ff == nil {
		f.fail(w, http.StatusNotFound, "EntryNotFound", "Entry not found", r)
		return
	}
	h := w.Header()
	h.Set("X-Repo-Commit", repo.commit)
	if ff.lfs {
		sum := sha256Of(ff.data)
		h.Set("X-Linked-Etag", `"`+sum+`"`)
		h.Set("ETag", `"`+gitBlobID([]byte("pointer "+sum))+`"`)
		if !f.noSize {
			h.Set("X-Linked-Size", strconv.Itoa(len(ff.data)))
		}
		h.Set("Location", f.cdn.URL+"/repos/"+sum+"?X-Amz-Signature=s3cr3t-signature")
		w.WriteHeader(http.StatusFound)
		return
	}
	h.Set("ETag", `"`+gitBlobID(ff.data)+`"`)
	http.ServeContent(w, r, "", time.Time{}, strings.NewReader(string(ff.data)))
}

func (f *fakeHub) serveTree(w http.ResponseWriter, r *http.Request, key, rev string) {
	f.mu.Lock()
	repo := f.repos[key]
	pageSize := f.pageSize
	f.mu.Unlock()
	if repo == nil {
		f.fail(w, http.StatusNotFound, "RepoNotFound", "Repository not found", r)
		return
	}
	if rev != "main" && rev != repo.commit {
		f.fail(w, http.StatusNotFound, "RevisionNotFound", "Invalid rev id: "+rev, r)
		return
	}
	type lfs struct {
		OID         string `json:"oid"`
		Size        int    `json:"size"`
		PointerSize int    `json:"pointerSize"`
	}
	type entry struct {
		Type string `json:"type"`
		OID  string `json:"oid"`
		Size int    `json:"size"`
		Path string `json:"path"`
		LFS  *lfs   `json:"lfs,omitempty"`
	}
	var entries []entry
	dirs := map[string]bool{}
	for p, ff := range repo.files {
		for d := p; strings.Contains(d, "/"); {
			d = d[:strings.LastIndex(d, "/")]
			if !dirs[d] {
				dirs[d] = true
				entries = append(entries, entry{Type: "directory", OID: gitBlobID([]byte(d)), Path: d})
			}
		}
		e := entry{Type: "file", OID: gitBlobID(ff.data), Size: len(ff.data), Path: p}
		if ff.lfs {
			e.LFS = &lfs{OID: sha256Of(ff.data), Size: len(ff.data), PointerSize: 134}
		}
		entries = append(entries, e)
	}
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.Path, b.Path) })
	start, _ := strconv.Atoi(r.URL.Query().Get("cursor"))
	end := len(entries)
	if pageSize > 0 && start+pageSize < end {
		end = start + pageSize
		next := *r.URL
		q := next.Query()
		q.Set("cursor", strconv.Itoa(end))
		next.RawQuery = q.Encode()
		w.Header().Set("Link", `<`+next.String()+`>; rel="next"`)
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(entries[start:end])
}

func (f *fakeHub) serveCDN(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.cdnAuth = append(f.cdnAuth, r.Header.Get("Authorization"))
	if r.URL.Path == "/hop" {
		f.mu.Unlock()
		return
	}
	f.ranges = append(f.ranges, r.Header.Get("Range"))
	f.cdnGets++
	if f.failures > 0 {
		f.failures--
		status := f.failStatus
		if f.retryAfter != "" {
			w.Header().Set("Retry-After", f.retryAfter)
		}
		f.mu.Unlock()
		http.Error(w, "busy", status)
		return
	}
	var data []byte
	sum := strings.TrimPrefix(r.URL.Path, "/repos/")
	for _, repo := range f.repos {
		for _, ff := range repo.files {
			if ff.lfs && sha256Of(ff.data) == sum {
				data = ff.data
				if ff.badCDN {
					data = slices.Clone(data)
					data[len(data)/2] ^= 0xff
				}
			}
		}
	}
	noRange := f.noRange
	cut := 0
	if f.cuts > 0 {
		f.cuts--
		cut = f.cutAfter
	}
	f.mu.Unlock()
	if data == nil {
		http.NotFound(w, r)
		return
	}
	status, start := http.StatusOK, 0
	if rng := r.Header.Get("Range"); rng != "" && !noRange {
		n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(rng, "bytes="), "-"))
		if err != nil {
			http.Error(w, "bad range", http.StatusBadRequest)
			return
		}
		if n >= len(data) {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", len(data)))
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			return
		}
		status, start = http.StatusPartialContent, n
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", n, len(data)-1, len(data)))
	}
	body := data[start:]
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if cut > 0 && cut < len(body) {
		w.Write(body[:cut])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // the connection drops mid-transfer
	}
	w.Write(body)
}

// seen returns copies of what the servers recorded.
func (f *fakeHub) seen() (hubAuth, cdnAuth, ranges []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.hubAuth), slices.Clone(f.cdnAuth), slices.Clone(f.ranges)
}

// set changes behaviour switches under the lock.
func (f *fakeHub) set(fn func(f *fakeHub)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

// newTestClient returns a client for the fake Hub with fast retries.
func newTestClient(t *testing.T, endpoint, cache string, token string, edit ...func(*Config)) *Client {
	t.Helper()
	cfg := Config{
		Endpoint: endpoint, CacheDir: cache, Token: Token(token),
		HTTPClient: &http.Client{}, MaxAttempts: 3,
		RetryDelay: time.Millisecond, MaxRetryDelay: 5 * time.Millisecond,
	}
	for _, e := range edit {
		e(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

package hub

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// readLink returns the target of a symlink, failing the test if p is none.
func readLink(t *testing.T, p string) string {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("%s is not a symlink (mode %v)", p, fi.Mode())
	}
	target, err := os.Readlink(p)
	if err != nil {
		t.Fatal(err)
	}
	return target
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDownloadCacheLayout checks that files land where huggingface_hub puts
// them (blobs named by ETag, relative snapshot symlinks, refs/main) and that a
// cached file is found again with the servers shut down.
func TestDownloadCacheLayout(t *testing.T) {
	f := newFakeHub(t)
	model := randomBytes(300_000, 1)
	config := []byte(`{"architectures": ["Qwen3ForCausalLM"]}` + "\n")
	csv := randomBytes(5_000, 2)
	repo := f.add(Model, "Qwen/Qwen3-0.6B-GGUF", false, map[string]*fakeFile{
		"Qwen3-0.6B-Q8_0.gguf": {data: model, lfs: true},
		"config.json":          {data: config},
	})
	data := f.add(Dataset, "lmsys/toxic-chat", false, map[string]*fakeFile{
		"data/0124/toxic-chat_annotation_test.csv": {data: csv, lfs: true},
	})
	cache := t.TempDir()
	c := newTestClient(t, f.hub.URL, cache, "")
	ctx := context.Background()

	tests := []struct {
		kind             RepoKind
		repo, file, blob string
		commit, folder   string
		want             []byte
		target           string
	}{
		{Model, "Qwen/Qwen3-0.6B-GGUF", "Qwen3-0.6B-Q8_0.gguf", sha256Of(model), repo.commit,
			"models--Qwen--Qwen3-0.6B-GGUF", model, "../../blobs/" + sha256Of(model)},
		{Model, "Qwen/Qwen3-0.6B-GGUF", "config.json", gitBlobID(config), repo.commit,
			"models--Qwen--Qwen3-0.6B-GGUF", config, "../../blobs/" + gitBlobID(config)},
		{Dataset, "lmsys/toxic-chat", "data/0124/toxic-chat_annotation_test.csv", sha256Of(csv), data.commit,
			"datasets--lmsys--toxic-chat", csv, "../../../../blobs/" + sha256Of(csv)},
	}
	paths := make([]string, len(tests))
	for i, tc := range tests {
		p, err := c.Download(ctx, tc.kind, tc.repo, "", tc.file)
		if err != nil {
			t.Fatalf("Download %s: %v", tc.file, err)
		}
		paths[i] = p
		dir := filepath.Join(cache, tc.folder)
		if want := filepath.Join(dir, "snapshots", tc.commit, filepath.FromSlash(tc.file)); p != want {
			t.Errorf("path = %s, want %s", p, want)
		}
		if got := readLink(t, p); got != tc.target {
			t.Errorf("%s links to %s, want %s", tc.file, got, tc.target)
		}
		if got := mustRead(t, filepath.Join(dir, "blobs", tc.blob)); !bytes.Equal(got, tc.want) {
			t.Errorf("blob of %s differs from the served content", tc.file)
		}
		if got := string(mustRead(t, filepath.Join(dir, "refs", "main"))); got != tc.commit {
			t.Errorf("refs/main = %q, want %q", got, tc.commit)
		}
		if _, err := os.Stat(filepath.Join(dir, "blobs", tc.blob+".incomplete")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf(".incomplete left behind: %v", err)
		}
	}

	f.close() // from here on, any request fails
	offline := newTestClient(t, f.hub.URL, cache, "", func(c *Config) { c.Offline = true })
	for i, tc := range tests {
		for _, cl := range []*Client{c, offline} {
			for _, rev := range []string{"", "main", tc.commit} {
				p, err := cl.Download(ctx, tc.kind, tc.repo, rev, tc.file)
				if err != nil || p != paths[i] {
					t.Errorf("cached Download(%s, rev %q) = %s, %v; want %s", tc.file, rev, p, err, paths[i])
				}
			}
		}
	}
}

// TestDownloadKnownChecksum uses a published SHA-256 test vector: sha256("abc")
// from FIPS 180-2, Appendix B.1.
func TestDownloadKnownChecksum(t *testing.T) {
	const abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	if got := sha256Of([]byte("abc")); got != abc {
		t.Fatalf("fake hub's sha256 = %s", got)
	}
	f := newFakeHub(t)
	f.add(Model, "org/abc", false, map[string]*fakeFile{"abc.bin": {data: []byte("abc"), lfs: true}})
	cache := t.TempDir()
	p, err := newTestClient(t, f.hub.URL, cache, "").Download(context.Background(), Model, "org/abc", "main", "abc.bin")
	if err != nil {
		t.Fatal(err)
	}
	if got := readLink(t, p); got != "../../blobs/"+abc {
		t.Errorf("link target %s", got)
	}
}

// TestDownloadResumesOnNextCall: the connection drops after N bytes; the
// failed call keeps the partial file, and the next call asks for the rest
// with "Range: bytes=N-".
func TestDownloadResumesOnNextCall(t *testing.T) {
	const n = 40_000
	f := newFakeHub(t)
	content := randomBytes(100_000, 3)
	f.add(Model, "org/m", false, map[string]*fakeFile{"m.gguf": {data: content, lfs: true}})
	f.set(func(f *fakeHub) { f.cutAfter, f.cuts = n, 1 })
	cache := t.TempDir()
	c := newTestClient(t, f.hub.URL, cache, "", func(c *Config) { c.MaxAttempts = 1 })
	ctx := context.Background()

	_, err := c.Download(ctx, Model, "org/m", "main", "m.gguf")
	if err == nil {
		t.Fatal("first Download succeeded although the connection dropped")
	}
	if !strings.Contains(err.Error(), "resumes") {
		t.Errorf("error does not say the download resumes: %v", err)
	}
	part := filepath.Join(cache, "models--org--m", "blobs", sha256Of(content)+".incomplete")
	if got := mustRead(t, part); !bytes.Equal(got, content[:n]) {
		t.Fatalf("partial file has %d bytes, want the first %d of the content", len(got), n)
	}

	p, err := c.Download(ctx, Model, "org/m", "main", "m.gguf")
	if err != nil {
		t.Fatal(err)
	}
	if got := mustRead(t, p); !bytes.Equal(got, content) {
		t.Error("resumed file differs from the content")
	}
	_, _, ranges := f.seen()
	if want := []string{"", fmt.Sprintf("bytes=%d-", n)}; strings.Join(ranges, "|") != strings.Join(want, "|") {
		t.Errorf("CDN saw Range headers %q, want %q", ranges, want)
	}
}

// TestDownloadResumesWithinCall: with retries allowed, one call survives two
// dropped connections, each retry resuming where the last one stopped.
func TestDownloadResumesWithinCall(t *testing.T) {
	const n = 25_000
	f := newFakeHub(t)
	content := randomBytes(100_000, 4)
	f.add(Model, "org/m", false, map[string]*fakeFile{"m.gguf": {data: content, lfs: true}})
	f.set(func(f *fakeHub) { f.cutAfter, f.cuts = n, 2 })
	var progress []Progress
	c := newTestClient(t, f.hub.URL, t.TempDir(), "", func(c *Config) {
		c.OnProgress = func(p Progress) { progress = append(progress, p) }
	})
	p, err := c.Download(context.Background(), Model, "org/m", "main", "m.gguf")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(mustRead(t, p), content) {
		t.Error("file differs from the content")
	}
	_, _, ranges := f.seen()
	if want := []string{"", "bytes=25000-", "bytes=50000-"}; strings.Join(ranges, "|") != strings.Join(want, "|") {
		t.Errorf("CDN saw Range headers %q, want %q", ranges, want)
	}
	last := progress[len(progress)-1]
	if last.Done != int64(len(content)) || last.Total != int64(len(content)) || last.Repo != "org/m" || last.File != "m.gguf" {
		t.Errorf("last progress report %+v", last)
	}
}

// TestDownloadServerIgnoresRange: a server that answers a Range request with
// the whole file (200) makes the download start over, also when the partial
// file held wrong bytes.
func TestDownloadServerIgnoresRange(t *testing.T) {
	f := newFakeHub(t)
	content := randomBytes(50_000, 5)
	f.add(Model, "org/m", false, map[string]*fakeFile{"m.gguf": {data: content, lfs: true}})
	f.set(func(f *fakeHub) { f.noRange = true })
	cache := t.TempDir()
	blobs := filepath.Join(cache, "models--org--m", "blobs")
	os.MkdirAll(blobs, 0o755)
	if err := os.WriteFile(filepath.Join(blobs, sha256Of(content)+".incomplete"), randomBytes(500, 99), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := newTestClient(t, f.hub.URL, cache, "").Download(context.Background(), Model, "org/m", "main", "m.gguf")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(mustRead(t, p), content) {
		t.Error("file differs from the content")
	}
	if _, _, ranges := f.seen(); len(ranges) != 1 || ranges[0] != "bytes=500-" {
		t.Errorf("CDN saw Range headers %q, want one request for bytes=500-", ranges)
	}
}

// TestDownloadRangeNotSatisfiable: without a known size, a partial file that
// is already complete is recognised by its checksum when the server answers
// 416; a partial file longer than the content is discarded.
func TestDownloadRangeNotSatisfiable(t *testing.T) {
	content := randomBytes(20_000, 6)
	tests := []struct {
		name    string
		partial []byte
		ranges  []string
	}{
		{"complete", content, []string{"bytes=20000-"}},
		{"too long", append(randomBytes(20_000, 7), 1, 2, 3), []string{"bytes=20003-", ""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeHub(t)
			f.add(Model, "org/m", false, map[string]*fakeFile{"m.gguf": {data: content, lfs: true}})
			f.set(func(f *fakeHub) { f.noSize = true })
			cache := t.TempDir()
			blobs := filepath.Join(cache, "models--org--m", "blobs")
			os.MkdirAll(blobs, 0o755)
			os.WriteFile(filepath.Join(blobs, sha256Of(content)+".incomplete"), tc.partial, 0o644)
			p, err := newTestClient(t, f.hub.URL, cache, "").Download(context.Background(), Model, "org/m", "main", "m.gguf")
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(mustRead(t, p), content) {
				t.Error("file differs from the content")
			}
			if _, _, ranges := f.seen(); strings.Join(ranges, "|") != strings.Join(tc.ranges, "|") {
				t.Errorf("CDN saw Range headers %q, want %q", ranges, tc.ranges)
			}
		})
	}
}

// TestDownloadRejectsWrongChecksum: corrupted content is refused and leaves
// neither blob, partial file, snapshot nor ref behind.
func TestDownloadRejectsWrongChecksum(t *testing.T) {
	f := newFakeHub(t)
	content := randomBytes(30_000, 8)
	f.add(Model, "org/m", false, map[string]*fakeFile{"m.gguf": {data: content, lfs: true, badCDN: true}})
	cache := t.TempDir()
	_, err := newTestClient(t, f.hub.URL, cache, "").Download(context.Background(), Model, "org/m", "main", "m.gguf")
	if !errors.Is(err, ErrChecksum) {
		t.Fatalf("err = %v, want ErrChecksum", err)
	}
	for _, s := range []string{"org/m/m.gguf", sha256Of(content), "deleted"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error does not mention %q: %v", s, err)
		}
	}
	dir := filepath.Join(cache, "models--org--m")
	if blobs, _ := os.ReadDir(filepath.Join(dir, "blobs")); len(blobs) != 0 {
		t.Errorf("blobs left behind: %v", blobs)
	}
	for _, d := range []string{"snapshots", "refs"} {
		if _, err := os.Stat(filepath.Join(dir, d)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s exists after a rejected download", d)
		}
	}
}

// TestDownloadRetriesTransientStatus: 503 and 429 answers are retried (with
// Retry-After honoured, capped by MaxRetryDelay) up to MaxAttempts.
func TestDownloadRetriesTransientStatus(t *testing.T) {
	tests := []struct {
		status, failures, attempts int
		ok                         bool
	}{
		{http.StatusServiceUnavailable, 2, 3, true},
		{http.StatusTooManyRequests, 2, 3, true},
		{http.StatusServiceUnavailable, 3, 3, false},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%d x%d", tc.status, tc.failures), func(t *testing.T) {
			f := newFakeHub(t)
			content := randomBytes(10_000, 9)
			f.add(Model, "org/m", false, map[string]*fakeFile{"m.gguf": {data: content, lfs: true}})
			f.set(func(f *fakeHub) { f.failStatus, f.failures, f.retryAfter = tc.status, tc.failures, "3600" })
			c := newTestClient(t, f.hub.URL, t.TempDir(), "", func(c *Config) { c.MaxAttempts = tc.attempts })
			p, err := c.Download(context.Background(), Model, "org/m", "main", "m.gguf")
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(mustRead(t, p), content) {
					t.Error("file differs")
				}
			} else if err == nil || !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "3 attempts") {
				t.Errorf("err = %v, want a 503 error after 3 attempts", err)
			}
			if _, _, ranges := f.seen(); len(ranges) != min(tc.failures+1, tc.attempts) {
				t.Errorf("CDN got %d requests, want %d", len(ranges), min(tc.failures+1, tc.attempts))
			}
		})
	}
}

// TestDownloadCancel: a cancelled context stops the download.
func TestDownloadCancel(t *testing.T) {
	f := newFakeHub(t)
	f.add(Model, "org/m", false, map[string]*fakeFile{"m.gguf": {data: randomBytes(1000, 10), lfs: true}})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := newTestClient(t, f.hub.URL, t.TempDir(), "").Download(ctx, Model, "org/m", "main", "m.gguf")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

// TestDownloadConcurrent: parallel downloads of one file share the blob.
func TestDownloadConcurrent(t *testing.T) {
	f := newFakeHub(t)
	content := randomBytes(200_000, 11)
	f.add(Model, "org/m", false, map[string]*fakeFile{"m.gguf": {data: content, lfs: true}})
	cache := t.TempDir()
	var wg sync.WaitGroup
	paths, errs := make([]string, 4), make([]error, 4)
	for i := range paths {
		wg.Go(func() {
			c := newTestClient(t, f.hub.URL, cache, "")
			paths[i], errs[i] = c.Download(context.Background(), Model, "org/m", "main", "m.gguf")
		})
	}
	wg.Wait()
	for i := range paths {
		if errs[i] != nil || paths[i] != paths[0] {
			t.Fatalf("download %d: %s, %v", i, paths[i], errs[i])
		}
	}
	if !bytes.Equal(mustRead(t, paths[0]), content) {
		t.Error("file differs")
	}
}

// TestGatedRepository: without a token the error says what to do; with the
// right token the download works, and the token goes to the Hub only.
func TestGatedRepository(t *testing.T) {
	f := newFakeHub(t)
	content := randomBytes(10_000, 12)
	f.add(Dataset, "allenai/wildguardmix", true, map[string]*fakeFile{
		"test/wildguardtest.parquet": {data: content, lfs: true},
	})
	ctx := context.Background()
	page := f.hub.URL + "/datasets/allenai/wildguardmix"

	_, err := newTestClient(t, f.hub.URL, t.TempDir(), "").Download(ctx, Dataset, "allenai/wildguardmix", "", "test/wildguardtest.parquet")
	if !errors.Is(err, ErrGated) {
		t.Fatalf("without token: err = %v, want ErrGated", err)
	}
	for _, s := range []string{"dataset allenai/wildguardmix", "accept the licence", page, "HF_TOKEN", "HTTP 401"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("without token: error does not mention %q: %v", s, err)
		}
	}

	f.set(func(f *fakeHub) { f.echoAuth = true })
	_, err = newTestClient(t, f.hub.URL, t.TempDir(), "hf_WrongToken987654321").Download(ctx, Dataset, "allenai/wildguardmix", "", "test/wildguardtest.parquet")
	if !errors.Is(err, ErrGated) || !strings.Contains(err.Error(), "token in HF_TOKEN has no access") {
		t.Errorf("wrong token: err = %v, want ErrGated saying the token has no access", err)
	}
	if strings.Contains(err.Error(), "hf_WrongToken987654321") || !strings.Contains(err.Error(), "[redacted]") {
		t.Errorf("wrong token: the echoed token is not redacted: %v", err)
	}
	f.set(func(f *fakeHub) { f.echoAuth = false; f.hubAuth = nil })

	var log bytes.Buffer
	c := newTestClient(t, f.hub.URL, t.TempDir(), f.token, func(c *Config) { c.Log = &log })
	p, err := c.Download(ctx, Dataset, "allenai/wildguardmix", "", "test/wildguardtest.parquet")
	if err != nil {
		t.Fatalf("with token: %v", err)
	}
	if !bytes.Equal(mustRead(t, p), content) {
		t.Error("file differs")
	}
	hubAuth, cdnAuth, _ := f.seen()
	for _, a := range hubAuth {
		if a != "Bearer "+f.token {
			t.Errorf("Hub got Authorization %q", a)
		}
	}
	if len(cdnAuth) == 0 {
		t.Fatal("the download did not go through the CDN")
	}
	for _, a := range cdnAuth {
		if a != "" {
			t.Errorf("CDN got Authorization %q; the token must stay with the Hub", a)
		}
	}
	if strings.Contains(log.String(), f.token) || !strings.Contains(log.String(), "downloaded allenai/wildguardmix/test/wildguardtest.parquet") {
		t.Errorf("log:\n%s", log.String())
	}
}

// TestErrorsNeverContainToken: a failing request made with a token set
// reports an error without the token, even when the server echoes it.
func TestErrorsNeverContainToken(t *testing.T) {
	f := newFakeHub(t)
	f.add(Model, "org/m", false, map[string]*fakeFile{"m.gguf": {data: []byte("GGUF"), lfs: true}})
	f.set(func(f *fakeHub) { f.echoAuth = true })
	c := newTestClient(t, f.hub.URL, t.TempDir(), f.token)
	ctx := context.Background()
	_, err1 := c.Download(ctx, Model, "org/m", "main", "missing.gguf")
	_, err2 := c.ListFiles(ctx, Model, "org/none", "main")
	_, err3 := c.ResolveModel(ctx, "org/none", "")
	_, _, err5 := c.TemplateFiles(ctx, "org/none")
	_, err6 := c.ResolveModel(ctx, "org/m", "Q2_K")
	f.close()
	_, err4 := c.Download(ctx, Model, "org/m", "main", "m.gguf")
	for i, err := range []error{err1, err2, err3, err4, err5, err6} {
		if err == nil {
			t.Fatalf("error %d is nil", i+1)
		}
		if strings.Contains(err.Error(), f.token) {
			t.Errorf("error %d contains the token: %v", i+1, err)
		}
	}
	if !strings.Contains(err1.Error(), "[redacted]") {
		t.Errorf("the echoed token should show as [redacted]: %v", err1)
	}

	// The signed CDN URL stays out of errors too.
	g := newFakeHub(t)
	g.add(Model, "org/m", false, map[string]*fakeFile{"m.gguf": {data: []byte("GGUF"), lfs: true}})
	g.cdn.Close()
	_, err := newTestClient(t, g.hub.URL, t.TempDir(), g.token).Download(ctx, Model, "org/m", "main", "m.gguf")
	if err == nil || strings.Contains(err.Error(), "s3cr3t-signature") || !strings.Contains(err.Error(), g.cdn.URL+"/repos/") {
		t.Errorf("CDN unreachable: err = %v, want the CDN URL without its signature", err)
	}
}

// TestRedirectDropsToken: Go's http.Client keeps the Authorization header on
// a redirect to the same host name on another port (and to subdomains), so
// the client must remove it itself when a redirect leaves the Hub.
func TestRedirectDropsToken(t *testing.T) {
	f := newFakeHub(t)

	// What Go does by default (documented, not our code): the header follows.
	req, _ := http.NewRequest(http.MethodGet, f.hub.URL+"/hop", nil)
	req.Header.Set("Authorization", "Bearer "+f.token)
	resp, err := (&http.Client{}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if _, cdnAuth, _ := f.seen(); len(cdnAuth) != 1 || cdnAuth[0] != "Bearer "+f.token {
		t.Fatalf("default http.Client: CDN got %q; this test documents that Go forwards it", cdnAuth)
	}

	f.set(func(f *fakeHub) { f.cdnAuth, f.hubAuth = nil, nil })
	c := newTestClient(t, f.hub.URL, t.TempDir(), f.token)
	resp, err = c.send(context.Background(), c.http, http.MethodGet, f.hub.URL+"/hop")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	hubAuth, cdnAuth, _ := f.seen()
	if len(hubAuth) != 1 || hubAuth[0] != "Bearer "+f.token {
		t.Errorf("Hub got %q, want the token", hubAuth)
	}
	if len(cdnAuth) != 1 || cdnAuth[0] != "" {
		t.Errorf("CDN got %q, want no Authorization", cdnAuth)
	}
}

// TestNotFound: missing repositories, revisions and files are named.
func TestNotFound(t *testing.T) {
	f := newFakeHub(t)
	f.add(Model, "org/m", false, map[string]*fakeFile{"m.gguf": {data: []byte("GGUF"), lfs: true}})
	c := newTestClient(t, f.hub.URL, t.TempDir(), "")
	tests := []struct {
		repo, rev, file string
		want            []string
	}{
		{"org/none", "main", "m.gguf", []string{"model org/none does not exist"}},
		{"org/m", "v9", "m.gguf", []string{`revision "v9" of model org/m does not exist`}},
		{"org/m", "main", "dir/x.gguf", []string{`file "dir/x.gguf" is not in model org/m at revision "main"`, "Entry not found"}},
	}
	for _, tc := range tests {
		_, err := c.Download(context.Background(), Model, tc.repo, tc.rev, tc.file)
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("%s@%s/%s: err = %v, want ErrNotFound", tc.repo, tc.rev, tc.file, err)
			continue
		}
		for _, s := range tc.want {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("error does not contain %q: %v", s, err)
			}
		}
	}
}

// TestBadArguments: names that could escape the cache are refused.
func TestBadArguments(t *testing.T) {
	c := newTestClient(t, "http://127.0.0.1:1", t.TempDir(), "")
	tests := []struct{ repo, rev, file string }{
		{"noslash", "main", "f"},
		{"org/../x", "main", "f"},
		{"org/a--b", "main", "f"},
		{"org/m", "main", "../f"},
		{"org/m", "main", "/etc/passwd"},
		{"org/m", "../../x", "f"},
		{"org/m", "main", ""},
	}
	for _, tc := range tests {
		if _, err := c.Download(context.Background(), Model, tc.repo, tc.rev, tc.file); err == nil || errors.Is(err, ErrOffline) {
			t.Errorf("Download(%q, %q, %q) = %v, want an argument error", tc.repo, tc.rev, tc.file, err)
		}
	}
}

// TestOfflineError: an uncached file offline, or with the Hub unreachable,
// gives an error naming the file, its URL and how to provide it.
func TestOfflineError(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close() // connections are refused from now on
	cache := t.TempDir()
	tests := []struct {
		name    string
		offline bool
		kind    RepoKind
		want    []string
	}{
		{"offline model", true, Model, []string{"HF_HUB_OFFLINE", "--model PATH", dead.URL + "/org/m/resolve/main/sub/m%20x.gguf", "hf download org/m sub/m x.gguf", "models--org--m"}},
		{"unreachable model", false, Model, []string{"cannot be reached", "connection refused", "--model PATH"}},
		{"unreachable dataset", false, Dataset, []string{"cannot be reached", "--data PATH", dead.URL + "/datasets/org/m/resolve/main/", "--repo-type dataset"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestClient(t, dead.URL, cache, "", func(c *Config) { c.Offline = tc.offline })
			_, err := c.Download(context.Background(), tc.kind, "org/m", "main", "sub/m x.gguf")
			if !errors.Is(err, ErrOffline) {
				t.Fatalf("err = %v, want ErrOffline", err)
			}
			for _, s := range append(tc.want, "sub/m x.gguf", cache) {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error does not mention %q:\n%v", s, err)
				}
			}
		})
	}
}

// TestListFiles follows the tree API's pagination and reads LFS hashes.
func TestListFiles(t *testing.T) {
	f := newFakeHub(t)
	a, b, d := randomBytes(1000, 13), []byte("# card\n"), randomBytes(3000, 14)
	f.add(Dataset, "org/d", false, map[string]*fakeFile{
		"data/a.parquet": {data: a, lfs: true},
		"README.md":      {data: b},
		"data/x/d.csv":   {data: d, lfs: true},
	})
	f.set(func(f *fakeHub) { f.pageSize = 2 })
	files, err := newTestClient(t, f.hub.URL, t.TempDir(), "").ListFiles(context.Background(), Dataset, "org/d", "")
	if err != nil {
		t.Fatal(err)
	}
	want := []File{
		{"README.md", int64(len(b)), ""},
		{"data/a.parquet", 1000, sha256Of(a)},
		{"data/x/d.csv", 3000, sha256Of(d)},
	}
	if fmt.Sprint(files) != fmt.Sprint(want) {
		t.Errorf("ListFiles =\n%v\nwant\n%v", files, want)
	}
	if _, err := newTestClient(t, f.hub.URL, t.TempDir(), "").ListFiles(context.Background(), Model, "org/d", ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("model org/d: err = %v, want ErrNotFound", err)
	}
}

func TestConfigFromEnv(t *testing.T) {
	home, _ := os.UserHomeDir()
	tokenDir := t.TempDir()
	os.WriteFile(filepath.Join(tokenDir, "token"), []byte("hf_fromfile\n"), 0o600)
	tests := []struct {
		env     map[string]string
		want    Config
		wantErr string
	}{
		{env: map[string]string{"HF_HOME": "/nonexistent"},
			want: Config{CacheDir: "/nonexistent/hub"}},
		{env: map[string]string{"XDG_CACHE_HOME": "/x", "HF_TOKEN_PATH": "/nonexistent/t"},
			want: Config{CacheDir: "/x/huggingface/hub"}},
		{env: map[string]string{"HF_TOKEN_PATH": "/nonexistent/t"},
			want: Config{CacheDir: filepath.Join(home, ".cache/huggingface/hub")}},
		{env: map[string]string{"HF_HUB_CACHE": "/c", "HUGGINGFACE_HUB_CACHE": "/old", "HF_HOME": "/h", "HF_ENDPOINT": "https://hf-mirror.example",
			"HF_TOKEN": " hf_a ", "HUGGING_FACE_HUB_TOKEN": "hf_b", "HF_HUB_OFFLINE": "1"},
			want: Config{Endpoint: "https://hf-mirror.example", Token: "hf_a", CacheDir: "/c", Offline: true}},
		{env: map[string]string{"HUGGINGFACE_HUB_CACHE": "/old", "HUGGING_FACE_HUB_TOKEN": "hf_b", "HF_HUB_OFFLINE": "false"},
			want: Config{Token: "hf_b", CacheDir: "/old"}},
		{env: map[string]string{"HF_HOME": tokenDir, "HF_HUB_OFFLINE": "YES"},
			want: Config{Token: "hf_fromfile", CacheDir: filepath.Join(tokenDir, "hub"), Offline: true}},
		{env: map[string]string{"HF_HUB_OFFLINE": "maybe"}, wantErr: `HF_HUB_OFFLINE="maybe"`},
	}
	for _, tc := range tests {
		cfg, err := configFrom(func(k string) string { return tc.env[k] })
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%v: err = %v, want %q", tc.env, err, tc.wantErr)
			}
			continue
		}
		if err != nil || cfg.Endpoint != tc.want.Endpoint || string(cfg.Token) != string(tc.want.Token) ||
			cfg.CacheDir != tc.want.CacheDir || cfg.Offline != tc.want.Offline {
			t.Errorf("%v:\n got %#v (token %q), %v\nwant %#v (token %q)", tc.env, cfg, string(cfg.Token), err, tc.want, string(tc.want.Token))
		}
	}
}

// TestTokenNotPrinted: formatting a Config or Client never shows the token.
func TestTokenNotPrinted(t *testing.T) {
	const secret = "hf_VerySecretValue"
	cfg := Config{Token: secret, Endpoint: "https://huggingface.co"}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		for _, v := range []any{cfg, &cfg, cfg.Token, c} {
			if s := fmt.Sprintf(verb, v); strings.Contains(s, secret) || strings.Contains(s, fmt.Sprintf("%x", secret)) {
				t.Errorf("Sprintf(%s, %T) reveals the token: %s", verb, v, s)
			}
		}
	}
	if _, err := New(Config{Endpoint: "ftp://x"}); err == nil {
		t.Error("New accepted an ftp endpoint")
	}
}

func TestRetryAfter(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0}, {"0", 0}, {"7", 7 * time.Second}, {"-3", 0}, {"soon", 0},
		{"Mon, 02 Jan 2006 15:04:05 GMT", 0}, // in the past
	}
	for _, tc := range tests {
		if got := retryAfter(tc.in); got != tc.want {
			t.Errorf("retryAfter(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
	future := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
	if got := retryAfter(future); got <= 58*time.Minute || got > time.Hour {
		t.Errorf("retryAfter(an hour ahead) = %v", got)
	}
}

func TestRangeStart(t *testing.T) {
	tests := map[string]int64{"bytes 100-199/200": 100, "bytes 0-0/1": 0, "bytes */200": -1, "": -1, "items 1-2/3": -1}
	for in, want := range tests {
		if got := rangeStart(in); got != want {
			t.Errorf("rangeStart(%q) = %d, want %d", in, got, want)
		}
	}
}

// TestDownloadRenamedRepository: the Hub answers a renamed repository with a
// relative redirect, which the HEAD request follows (with the token, since it
// stays on the Hub); the file is cached under the name asked for, as
// huggingface_hub does.
func TestDownloadRenamedRepository(t *testing.T) {
	f := newFakeHub(t)
	content := randomBytes(5000, 15)
	repo := f.add(Model, "org/new-name", true, map[string]*fakeFile{"w.gguf": {data: content, lfs: true}})
	f.renamed = map[string]string{"org/old-name": "org/new-name"}
	cache := t.TempDir()
	p, err := newTestClient(t, f.hub.URL, cache, f.token).Download(context.Background(), Model, "org/old-name", "main", "w.gguf")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(cache, "models--org--old-name", "snapshots", repo.commit, "w.gguf"); p != want {
		t.Errorf("path %s, want %s", p, want)
	}
	if !bytes.Equal(mustRead(t, p), content) {
		t.Error("file differs")
	}
}

package hub

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// File describes a file of a repository.
type File struct {
	Path   string // slash-separated path inside the repository
	Size   int64  // bytes (of the content, also for LFS files)
	SHA256 string // LFS sha256 in lowercase hex; "" for files stored in git
}

// ListFiles lists the files of a repository at revision ("" means "main")
// through the Hub's tree API, /api/{models|datasets}/{repo}/tree/{revision},
// following its pagination.
func (c *Client) ListFiles(ctx context.Context, kind RepoKind, repo, revision string) ([]File, error) {
	files, err := c.listFiles(ctx, kind, repo, revision)
	return files, c.redactErr(err)
}

func (c *Client) listFiles(ctx context.Context, kind RepoKind, repo, revision string) ([]File, error) {
	if revision == "" {
		revision = DefaultRevision
	}
	if err := checkRepo(repo, revision); err != nil {
		return nil, err
	}
	next := c.endpoint.String() + "/api/" + kind.String() + "s/" + repo + "/tree/" +
		url.PathEscape(revision) + "?recursive=true"
	if c.offline {
		return nil, fmt.Errorf("%w: list the files of %s %s: offline mode is on (HF_HUB_OFFLINE)", ErrOffline, kind, repo)
	}
	var files []File
	seen := map[string]bool{}
	for next != "" {
		if seen[next] {
			return nil, fmt.Errorf("list the files of %s %s: the tree API's pagination loops", kind, repo)
		}
		seen[next] = true
		page, link, err := c.treePage(ctx, kind, repo, revision, next)
		if err != nil {
			return nil, err
		}
		files = append(files, page...)
		next = link
	}
	return files, nil
}

// treePage fetches one page of the tree API and returns its files and the
// URL of the next page ("" on the last one).
func (c *Client) treePage(ctx context.Context, kind RepoKind, repo, revision, u string) ([]File, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	resp, err := c.send(ctx, c.http, http.MethodGet, u)
	if err != nil {
		return nil, "", fmt.Errorf("list the files of %s %s: %w", kind, repo, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, "", c.statusError(resp, kind, repo, revision, "")
	}
	var entries []struct {
		Type string `json:"type"`
		Path string `json:"path"`
		Size int64  `json:"size"`
		LFS  *struct {
			OID  string `json:"oid"`
			Size int64  `json:"size"`
		} `json:"lfs"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&entries); err != nil {
		return nil, "", fmt.Errorf("list the files of %s %s: decode %s: %w", kind, repo, redactURL(u), err)
	}
	var files []File
	for _, e := range entries {
		if e.Type != "file" {
			continue
		}
		f := File{Path: e.Path, Size: e.Size}
		if e.LFS != nil {
			f.SHA256 = strings.ToLower(strings.TrimPrefix(e.LFS.OID, "sha256:"))
			f.Size = e.LFS.Size
		}
		files = append(files, f)
	}
	return files, nextLink(resp), nil
}

// nextLink returns the target of the Link header's rel="next" entry,
// resolved against the request URL.
func nextLink(resp *http.Response) string {
	for _, v := range resp.Header.Values("Link") {
		for _, part := range strings.Split(v, ",") {
			target, params, ok := strings.Cut(part, ";")
			target = strings.TrimSpace(target)
			if !ok || !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") {
				continue
			}
			for _, p := range strings.Split(params, ";") {
				k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
				if strings.EqualFold(k, "rel") && strings.Trim(val, `"`) == "next" {
					if u, err := resp.Request.URL.Parse(target[1 : len(target)-1]); err == nil {
						return u.String()
					}
				}
			}
		}
	}
	return ""
}

// cachedFiles lists the complete files of the cached snapshot of revision
// and returns the snapshot directory; ok is false if none is cached.
func (c *Client) cachedFiles(kind RepoKind, repo, revision string) (files []File, snapshot string, ok bool) {
	dir := c.repoDir(kind, repo)
	commit, ok := snapshotCommit(dir, revision)
	if !ok {
		return nil, "", false
	}
	snapshot = filepath.Join(dir, "snapshots", commit)
	err := filepath.WalkDir(snapshot, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.Contains(filepath.Base(p), ".tmp-link-") {
			return err
		}
		fi, err := os.Stat(p) // the blob behind the link
		if err != nil || !fi.Mode().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(snapshot, p)
		if err != nil {
			return err
		}
		f := File{Path: filepath.ToSlash(rel), Size: fi.Size()}
		if target, err := os.Readlink(p); err == nil && sha256Hex.MatchString(filepath.Base(target)) {
			f.SHA256 = filepath.Base(target)
		}
		files = append(files, f)
		return nil
	})
	return files, snapshot, err == nil
}

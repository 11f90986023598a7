package hub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// DefaultQuant is the quantization ResolveModel picks when none is given.
const DefaultQuant = "Q8_0"

var (
	// splitGGUF matches the parts of a split GGUF model, "-00001-of-00003.gguf".
	splitGGUF  = regexp.MustCompile(`(?i)-(\d{5})-of-(\d{5})\.gguf$`)
	quantChars = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
)

// ResolveModel returns the local path of the GGUF model that spec names:
//
//   - the path of an existing file: the file itself, which must be a GGUF file
//     (it must start with the magic "GGUF", whatever its name);
//   - a Hugging Face id "Org/Name": the official GGUF repository
//     "Org/Name-GGUF" (or "Org/Name" itself if the name ends in "-GGUF", or
//     if "Org/Name-GGUF" does not exist and "Org/Name" holds GGUF files),
//     and in it the file of quantization quant (case-insensitive; ""
//     means DefaultQuant), such as Qwen3-0.6B-Q8_0.gguf for
//     Qwen/Qwen3-0.6B;
//   - "Org/Name:QUANT": the same with the quantization given in spec, which
//     then takes precedence over quant;
//   - "Org/Repo/path/file.gguf": that file of that repository.
//
// A file matches a quantization if its name contains it as a whole
// "-"/"."-delimited token (so Q4_K does not match Q4_K_M). Of several matches
// the one named {Name}-{QUANT}.gguf wins, else a single-file model over a
// split one. A model split into parts (-00001-of-0000N.gguf) is downloaded
// whole, and the path of its first part is returned, which is what llama.cpp
// loads. If no file matches, the error lists the quantizations available.
//
// A model already in the cache (revision main) is used without network
// access. Offline, an uncached model gives an ErrOffline error that names the
// file and how to provide it.
func (c *Client) ResolveModel(ctx context.Context, spec, quant string) (string, error) {
	p, err := c.resolveModel(ctx, spec, quant)
	return p, c.redactErr(err)
}

func (c *Client) resolveModel(ctx context.Context, spec, quant string) (string, error) {
	if spec == "" {
		return "", fmt.Errorf("no model given: want a .gguf file or a Hugging Face id such as Qwen/Qwen3-0.6B")
	}
	if fi, err := os.Stat(spec); err == nil {
		return checkGGUF(spec, fi)
	}
	if pathLike(spec) {
		return "", fmt.Errorf("model file %s does not exist", spec)
	}
	r, err := c.parseModelSpec(spec, quant)
	if err != nil {
		return "", err
	}
	if r.file != "" {
		return c.downloadModel(ctx, r.repo, splitParts(r.file))
	}
	for _, repo := range r.candidates() {
		if files, snap, ok := c.cachedFiles(Model, repo, DefaultRevision); ok {
			if sel, err := pickGGUF(files, r.in(repo)); err == nil {
				return filepath.Join(snap, filepath.FromSlash(sel[0])), nil
			}
		}
	}
	expected := r.name + "-" + strings.ToUpper(r.quant) + ".gguf"
	if c.offline {
		return "", fmt.Errorf("model %s: %w", spec, c.offlineError(Model, r.repo, DefaultRevision, expected,
			c.resolveURL(Model, r.repo, DefaultRevision, expected), nil))
	}
	files, err := c.listFiles(ctx, Model, r.repo, DefaultRevision)
	if err != nil {
		if unreachable(err) {
			return "", fmt.Errorf("model %s: %w", spec, c.offlineError(Model, r.repo, DefaultRevision, expected,
				c.resolveURL(Model, r.repo, DefaultRevision, expected), err))
		}
		if !errors.Is(err, ErrNotFound) || !r.derived {
			return "", fmt.Errorf("model %s: %w", spec, err)
		}
		// No Org/Name-GGUF: Org/Name itself may hold GGUF files.
		own, ownErr := c.listFiles(ctx, Model, r.given, DefaultRevision)
		if ownErr != nil || !hasGGUF(own) {
			return "", fmt.Errorf("model %s: %w; it has no official GGUF repository, and %s holds no GGUF files: name a GGUF repository (Org/Name-GGUF) or pass a local .gguf file", spec, err, r.given)
		}
		files, r = own, r.in(r.given)
	}
	sel, err := pickGGUF(files, r)
	if err != nil {
		return "", fmt.Errorf("model %s: %w", spec, err)
	}
	return c.downloadModel(ctx, r.repo, sel)
}

// hasGGUF reports whether files include a .gguf file.
func hasGGUF(files []File) bool {
	for _, f := range files {
		if strings.HasSuffix(strings.ToLower(f.Path), ".gguf") {
			return true
		}
	}
	return false
}

// candidates returns the repositories that may hold r's model, in order:
// the GGUF repository, then, for a derived one, the repository named.
func (r modelRef) candidates() []string {
	if r.derived {
		return []string{r.repo, r.given}
	}
	return []string{r.repo}
}

// in returns r looking in repo instead.
func (r modelRef) in(repo string) modelRef {
	r.repo = repo
	r.derived = repo != r.given
	return r
}

// modelRef is a parsed Hugging Face model spec.
type modelRef struct {
	repo    string // the GGUF repository
	given   string // the repository the spec names
	name    string // the repository name without "-GGUF", the usual file stem
	file    string // an explicitly named file, or ""
	quant   string
	derived bool // repo is name + "-GGUF", not given by the user
}

func (c *Client) parseModelSpec(spec, quant string) (modelRef, error) {
	bad := func(why string) (modelRef, error) {
		return modelRef{}, fmt.Errorf("model %q: %s; want a .gguf file, Org/Name, Org/Name:QUANT or Org/Name-GGUF/file.gguf", spec, why)
	}
	s := strings.TrimPrefix(strings.TrimPrefix(spec, c.endpoint.String()+"/"), "hf.co/")
	s, q, hasQuant := strings.Cut(s, ":")
	r := modelRef{quant: quant}
	if hasQuant {
		r.quant = q
	}
	if r.quant == "" {
		r.quant = DefaultQuant
	}
	if !quantChars.MatchString(r.quant) {
		return bad(fmt.Sprintf("quantization %q is not a name such as Q8_0 or Q4_K_M", r.quant))
	}
	parts := strings.Split(s, "/")
	if len(parts) < 2 {
		return bad("no such file, and not a Hugging Face id")
	}
	name := parts[1]
	r.repo = parts[0] + "/" + name
	r.given = r.repo
	if len(parts) > 2 {
		if hasQuant {
			return bad("name a file or a quantization, not both")
		}
		r.file = strings.Join(parts[2:], "/")
		if !strings.HasSuffix(strings.ToLower(r.file), ".gguf") || !cleanRelPath(r.file) {
			return bad(fmt.Sprintf("file %q is not a .gguf file", r.file))
		}
	} else if !strings.HasSuffix(strings.ToUpper(name), "-GGUF") {
		r.repo += "-GGUF"
		r.derived = true
	}
	if strings.HasSuffix(strings.ToUpper(name), "-GGUF") {
		name = name[:len(name)-len("-GGUF")]
	}
	r.name = name
	if err := checkRepo(r.repo, DefaultRevision); err != nil {
		return bad(err.Error())
	}
	return r, nil
}

// pickGGUF chooses the file, or the parts of the split file, of r's
// quantization among a repository's files.
func pickGGUF(files []File, r modelRef) ([]string, error) {
	token := regexp.MustCompile(`(?i)(?:^|[-.])` + regexp.QuoteMeta(r.quant) + `(?:[-.]|$)`)
	var ggufs, matches []string
	for _, f := range files {
		if !strings.HasSuffix(strings.ToLower(f.Path), ".gguf") {
			continue
		}
		ggufs = append(ggufs, f.Path)
		if token.MatchString(path.Base(f.Path)) {
			matches = append(matches, f.Path)
		}
	}
	if len(ggufs) == 0 {
		return nil, fmt.Errorf("%w: %s has no .gguf files", ErrNotFound, r.repo)
	}
	if len(matches) == 0 {
		return nil, fmt.Errorf("%w: %s has no %s file; available quantizations: %s",
			ErrNotFound, r.repo, strings.ToUpper(r.quant), strings.Join(quants(ggufs, r.name), ", "))
	}
	want := strings.ToLower(r.name + "-" + r.quant + ".gguf")
	var singles []string
	groups := map[string][]string{}
	for _, m := range matches {
		if strings.ToLower(path.Base(m)) == want {
			return []string{m}, nil
		}
		if loc := splitGGUF.FindStringIndex(m); loc != nil {
			groups[m[:loc[0]]] = append(groups[m[:loc[0]]], m)
		} else {
			singles = append(singles, m)
		}
	}
	switch {
	case len(singles) == 1:
		return singles, nil
	case len(singles) == 0 && len(groups) == 1:
		for _, parts := range groups {
			slices.Sort(parts)
			if want := splitParts(parts[0]); !slices.Equal(parts, want) {
				return nil, fmt.Errorf("%s: split model %s is incomplete: has %d of %d parts", r.repo, parts[0], len(parts), len(want))
			}
			return parts, nil
		}
	}
	slices.Sort(matches)
	return nil, fmt.Errorf("%s has several %s files (%s); name one as %s/FILE", r.repo,
		strings.ToUpper(r.quant), strings.Join(matches, ", "), r.repo)
}

// splitParts returns all part names of the split model that file belongs
// to, in order, or just file if it is not a part.
func splitParts(file string) []string {
	m := splitGGUF.FindStringSubmatchIndex(file)
	if m == nil {
		return []string{file}
	}
	n, _ := strconv.Atoi(file[m[4]:m[5]])
	parts := make([]string, 0, n)
	for i := 1; i <= n; i++ {
		parts = append(parts, fmt.Sprintf("%s-%05d-of-%s", file[:m[0]], i, file[m[4]:]))
	}
	return parts
}

// quants lists the quantizations that GGUF file names show: what follows
// "{name}-", else the last "-"-separated word.
func quants(ggufs []string, name string) []string {
	var qs []string
	for _, g := range ggufs {
		s := path.Base(g)
		if loc := splitGGUF.FindStringIndex(s); loc != nil {
			s = s[:loc[0]]
		} else {
			s = s[:len(s)-len(".gguf")]
		}
		if len(s) > len(name) && strings.EqualFold(s[:len(name)+1], name+"-") {
			s = s[len(name)+1:]
		} else if i := strings.LastIndex(s, "-"); i >= 0 {
			s = s[i+1:]
		}
		qs = append(qs, strings.ToUpper(s))
	}
	slices.Sort(qs)
	return slices.Compact(qs)
}

// downloadModel downloads files (one model or its parts) from the main
// revision of repo and returns the path of the first.
func (c *Client) downloadModel(ctx context.Context, repo string, files []string) (string, error) {
	var first string
	for i, f := range files {
		p, err := c.download(ctx, Model, repo, DefaultRevision, f)
		if err != nil {
			return "", err
		}
		if i == 0 {
			first = p
		}
	}
	return first, nil
}

// checkGGUF accepts an existing local model file if it is a GGUF file.
func checkGGUF(p string, fi os.FileInfo) (string, error) {
	if fi.IsDir() {
		return "", fmt.Errorf("model %s is a directory; want a .gguf file", p)
	}
	f, err := os.Open(p)
	if err != nil {
		return "", fmt.Errorf("model %s: %w", p, err)
	}
	defer f.Close()
	magic := make([]byte, 4)
	n, _ := io.ReadFull(f, magic)
	if string(magic[:n]) != "GGUF" {
		return "", fmt.Errorf("model %s is not a GGUF file: it starts with %q, GGUF files start with \"GGUF\"", p, magic[:n])
	}
	return p, nil
}

// pathLike reports whether spec is meant as a local path rather than a Hub id.
func pathLike(spec string) bool {
	return strings.HasPrefix(spec, "/") || strings.HasPrefix(spec, "./") || strings.HasPrefix(spec, "../") ||
		strings.HasPrefix(spec, "~") ||
		(strings.HasSuffix(strings.ToLower(spec), ".gguf") && strings.Count(spec, "/") < 2)
}

// Files that hold a Hugging Face model's chat template.
const (
	TokenizerConfigFile = "tokenizer_config.json"
	ChatTemplateFile    = "chat_template.jinja"
)

// TemplateFiles downloads the files of model repository repo that hold its
// chat template, for rendering prompts client-side: tokenizer_config.json
// (chat_template, bos_token, eos_token) and, when the repository has one,
// chat_template.jinja, where newer repositories keep the template. jinja is
// "" when there is none. Files already in the cache are used offline.
func (c *Client) TemplateFiles(ctx context.Context, repo string) (tokenizerConfig, jinja string, err error) {
	tokenizerConfig, jinja, err = c.templateFiles(ctx, repo)
	return tokenizerConfig, jinja, c.redactErr(err)
}

func (c *Client) templateFiles(ctx context.Context, repo string) (string, string, error) {
	if err := checkRepo(repo, DefaultRevision); err != nil {
		return "", "", err
	}
	cfg, err := c.download(ctx, Model, repo, DefaultRevision, TokenizerConfigFile)
	if err != nil {
		return "", "", fmt.Errorf("chat template of %s: %w", repo, err)
	}
	files, _, ok := c.cachedFiles(Model, repo, DefaultRevision)
	if !c.offline {
		if listed, err := c.listFiles(ctx, Model, repo, DefaultRevision); err == nil {
			files, ok = listed, true
		}
	}
	if !ok || !slices.ContainsFunc(files, func(f File) bool { return f.Path == ChatTemplateFile }) {
		return cfg, "", nil
	}
	jinja, err := c.download(ctx, Model, repo, DefaultRevision, ChatTemplateFile)
	if err != nil {
		return "", "", fmt.Errorf("chat template of %s: %w", repo, err)
	}
	return cfg, jinja, nil
}

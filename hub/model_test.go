package hub

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// gguf returns LFS content that starts with the GGUF magic.
func gguf(seed uint64) *fakeFile {
	return &fakeFile{data: append([]byte("GGUF"), randomBytes(2000, seed)...), lfs: true}
}

// modelHub serves repositories shaped like the official and community GGUF
// repositories.
func modelHub(t *testing.T) *fakeHub {
	f := newFakeHub(t)
	f.add(Model, "Qwen/Qwen3-0.6B-GGUF", false, map[string]*fakeFile{
		"Qwen3-0.6B-Q8_0.gguf":   gguf(1),
		"Qwen3-0.6B-Q4_K_M.gguf": gguf(2),
		"Qwen3-0.6B-F16.gguf":    gguf(3),
		"README.md":              {data: []byte("# Qwen3-0.6B-GGUF\n")},
	})
	f.add(Model, "unsloth/Qwen3-0.6B-GGUF", false, map[string]*fakeFile{
		"Qwen3-0.6B-Q8_0.gguf":       gguf(4),
		"Qwen3-0.6B-UD-Q4_K_XL.gguf": gguf(5),
	})
	f.add(Model, "org/Big-GGUF", false, map[string]*fakeFile{
		"Q8_0/Big-Q8_0-00001-of-00003.gguf": gguf(6),
		"Q8_0/Big-Q8_0-00002-of-00003.gguf": gguf(7),
		"Q8_0/Big-Q8_0-00003-of-00003.gguf": gguf(8),
		"Big-Q4_0.gguf":                     gguf(9),
	})
	f.add(Model, "org/Multi-GGUF", false, map[string]*fakeFile{
		"Multi-Q8_0.gguf":                      gguf(10),
		"mmproj-Multi-Q8_0.gguf":               gguf(11),
		"split/Multi-Q8_0-00001-of-00002.gguf": gguf(12),
		"split/Multi-Q8_0-00002-of-00002.gguf": gguf(13),
	})
	f.add(Model, "org/Amb-GGUF", false, map[string]*fakeFile{
		"a-Q8_0.gguf": gguf(14),
		"b-Q8_0.gguf": gguf(15),
	})
	f.add(Model, "org/Inc-GGUF", false, map[string]*fakeFile{
		"Inc-Q8_0-00001-of-00003.gguf": gguf(16),
		"Inc-Q8_0-00002-of-00003.gguf": gguf(17),
	})
	f.add(Model, "org/Empty-GGUF", false, map[string]*fakeFile{"README.md": {data: []byte("nothing")}})
	// A community repository of a Llama 3.2 quantization, as bartowski's
	// are laid out: many quantizations, the largest split in a folder.
	f.add(Model, "bartowski/Llama-3.2-3B-Instruct-GGUF", false, map[string]*fakeFile{
		"Llama-3.2-3B-Instruct-Q4_K_M.gguf":                                       gguf(20),
		"Llama-3.2-3B-Instruct-Q6_K_L.gguf":                                       gguf(21),
		"Llama-3.2-3B-Instruct-IQ3_M.gguf":                                        gguf(22),
		"Llama-3.2-3B-Instruct-f16/Llama-3.2-3B-Instruct-f16-00001-of-00002.gguf": gguf(23),
		"Llama-3.2-3B-Instruct-f16/Llama-3.2-3B-Instruct-f16-00002-of-00002.gguf": gguf(24),
	})
	// A repository without "-GGUF" in its name that holds GGUF files.
	f.add(Model, "lab/gemma-3-1b-it-qat", false, map[string]*fakeFile{
		"gemma-3-1b-it-q4_0.gguf": gguf(25),
		"tokenizer_config.json":   {data: []byte(`{"chat_template": "{{ bos_token }}", "bos_token": "<bos>"}`)},
		"chat_template.jinja":     {data: []byte("{{ bos_token }}<start_of_turn>")},
	})
	f.add(Model, "lab/safetensors-only", false, map[string]*fakeFile{"model.safetensors": {data: []byte("x"), lfs: true}})
	return f
}

func TestResolveModelFromHub(t *testing.T) {
	f := modelHub(t)
	cache := t.TempDir()
	c := newTestClient(t, f.hub.URL, cache, "")
	snap := func(repo, file string) string {
		r := f.repos[repo]
		return filepath.Join(cache, "models--"+strings.ReplaceAll(repo, "/", "--"), "snapshots", r.commit, filepath.FromSlash(file))
	}
	tests := []struct {
		spec, quant string
		want        string   // the returned path
		also        []string // other files that must have been downloaded
	}{
		{"Qwen/Qwen3-0.6B", "", snap("Qwen/Qwen3-0.6B-GGUF", "Qwen3-0.6B-Q8_0.gguf"), nil},
		{"Qwen/Qwen3-0.6B", "q4_k_m", snap("Qwen/Qwen3-0.6B-GGUF", "Qwen3-0.6B-Q4_K_M.gguf"), nil},
		{"Qwen/Qwen3-0.6B:F16", "Q8_0", snap("Qwen/Qwen3-0.6B-GGUF", "Qwen3-0.6B-F16.gguf"), nil},
		{"Qwen/Qwen3-0.6B-GGUF/Qwen3-0.6B-Q4_K_M.gguf", "", snap("Qwen/Qwen3-0.6B-GGUF", "Qwen3-0.6B-Q4_K_M.gguf"), nil},
		{f.hub.URL + "/Qwen/Qwen3-0.6B", "", snap("Qwen/Qwen3-0.6B-GGUF", "Qwen3-0.6B-Q8_0.gguf"), nil},
		{"unsloth/Qwen3-0.6B-GGUF", "", snap("unsloth/Qwen3-0.6B-GGUF", "Qwen3-0.6B-Q8_0.gguf"), nil},
		{"unsloth/Qwen3-0.6B-GGUF:ud-q4_k_xl", "", snap("unsloth/Qwen3-0.6B-GGUF", "Qwen3-0.6B-UD-Q4_K_XL.gguf"), nil},
		{"org/Big", "", snap("org/Big-GGUF", "Q8_0/Big-Q8_0-00001-of-00003.gguf"),
			[]string{snap("org/Big-GGUF", "Q8_0/Big-Q8_0-00002-of-00003.gguf"), snap("org/Big-GGUF", "Q8_0/Big-Q8_0-00003-of-00003.gguf")}},
		{"org/Big-GGUF/Q8_0/Big-Q8_0-00002-of-00003.gguf", "", snap("org/Big-GGUF", "Q8_0/Big-Q8_0-00001-of-00003.gguf"), nil},
		{"org/Big:Q4_0", "", snap("org/Big-GGUF", "Big-Q4_0.gguf"), nil},
		{"org/Multi", "", snap("org/Multi-GGUF", "Multi-Q8_0.gguf"), nil},
		{"bartowski/Llama-3.2-3B-Instruct-GGUF", "Q4_K_M", snap("bartowski/Llama-3.2-3B-Instruct-GGUF", "Llama-3.2-3B-Instruct-Q4_K_M.gguf"), nil},
		{"bartowski/Llama-3.2-3B-Instruct-GGUF:q6_k_l", "", snap("bartowski/Llama-3.2-3B-Instruct-GGUF", "Llama-3.2-3B-Instruct-Q6_K_L.gguf"), nil},
		{"bartowski/Llama-3.2-3B-Instruct-GGUF:F16", "", snap("bartowski/Llama-3.2-3B-Instruct-GGUF", "Llama-3.2-3B-Instruct-f16/Llama-3.2-3B-Instruct-f16-00001-of-00002.gguf"),
			[]string{snap("bartowski/Llama-3.2-3B-Instruct-GGUF", "Llama-3.2-3B-Instruct-f16/Llama-3.2-3B-Instruct-f16-00002-of-00002.gguf")}},
		// lab/gemma-3-1b-it-qat-GGUF does not exist; the repository named
		// holds the GGUF file.
		{"lab/gemma-3-1b-it-qat:Q4_0", "", snap("lab/gemma-3-1b-it-qat", "gemma-3-1b-it-q4_0.gguf"), nil},
	}
	for _, tc := range tests {
		got, err := c.ResolveModel(context.Background(), tc.spec, tc.quant)
		if err != nil {
			t.Errorf("ResolveModel(%q, %q): %v", tc.spec, tc.quant, err)
			continue
		}
		if got != tc.want {
			t.Errorf("ResolveModel(%q, %q) = %s, want %s", tc.spec, tc.quant, got, tc.want)
		}
		for _, p := range append(tc.also, got) {
			if b, err := os.ReadFile(p); err != nil || string(b[:4]) != "GGUF" {
				t.Errorf("ResolveModel(%q): %s not downloaded: %v", tc.spec, p, err)
			}
		}
	}
}

func TestResolveModelErrors(t *testing.T) {
	f := modelHub(t)
	c := newTestClient(t, f.hub.URL, t.TempDir(), "")
	tests := []struct {
		spec, quant string
		is          error
		want        []string
	}{
		{"Qwen/Qwen3-0.6B", "Q5_K_M", ErrNotFound, []string{"Qwen/Qwen3-0.6B-GGUF has no Q5_K_M file", "available quantizations: F16, Q4_K_M, Q8_0"}},
		{"bartowski/Llama-3.2-3B-Instruct-GGUF", "", ErrNotFound, []string{"has no Q8_0 file", "available quantizations: F16, IQ3_M, Q4_K_M, Q6_K_L"}},
		{"lab/gemma-3-1b-it-qat", "", ErrNotFound, []string{"lab/gemma-3-1b-it-qat has no Q8_0 file", "available quantizations: Q4_0"}},
		{"lab/safetensors-only", "", ErrNotFound, []string{"lab/safetensors-only-GGUF does not exist", "lab/safetensors-only holds no GGUF files"}},
		// Q4_K is a prefix of Q4_K_M, not the same quantization.
		{"Qwen/Qwen3-0.6B", "Q4_K", ErrNotFound, []string{"no Q4_K file", "F16, Q4_K_M, Q8_0"}},
		{"unsloth/Qwen3-0.6B-GGUF:Q2_K", "", ErrNotFound, []string{"available quantizations: Q8_0, UD-Q4_K_XL"}},
		{"org/Amb", "", nil, []string{"several Q8_0 files (a-Q8_0.gguf, b-Q8_0.gguf)", "org/Amb-GGUF/FILE"}},
		{"org/Inc", "", nil, []string{"incomplete", "2 of 3 parts"}},
		{"org/Empty", "", ErrNotFound, []string{"org/Empty-GGUF has no .gguf files"}},
		{"org/Missing", "", ErrNotFound, []string{"model org/Missing-GGUF does not exist", "no official GGUF repository"}},
		{"org/Missing-GGUF", "", ErrNotFound, []string{"model org/Missing-GGUF does not exist"}},
		{"Qwen/Qwen3-0.6B-GGUF/nope.gguf", "", ErrNotFound, []string{`file "nope.gguf" is not in model Qwen/Qwen3-0.6B-GGUF`}},
		{"Qwen/Qwen3-0.6B-GGUF/README.md", "", nil, []string{"not a .gguf file"}},
		{"Qwen/Qwen3-0.6B:Q8_0/x.gguf", "", nil, []string{"not a name such as Q8_0"}},
		{"Qwen3", "", nil, []string{"not a Hugging Face id"}},
		{"", "", nil, []string{"no model given"}},
		{"./missing.gguf", "", nil, []string{"model file ./missing.gguf does not exist"}},
		{"missing.gguf", "", nil, []string{"does not exist"}},
	}
	for _, tc := range tests {
		_, err := c.ResolveModel(context.Background(), tc.spec, tc.quant)
		if err == nil {
			t.Errorf("ResolveModel(%q, %q) succeeded", tc.spec, tc.quant)
			continue
		}
		if tc.is != nil && !errors.Is(err, tc.is) {
			t.Errorf("ResolveModel(%q, %q): %v, want %v", tc.spec, tc.quant, err, tc.is)
		}
		for _, s := range tc.want {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("ResolveModel(%q, %q): error does not contain %q: %v", tc.spec, tc.quant, s, err)
			}
		}
	}
}

func TestResolveModelLocalFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "model.gguf")
	noExt := filepath.Join(dir, "model.bin")
	bad := filepath.Join(dir, "fake.gguf")
	short := filepath.Join(dir, "short.gguf")
	os.WriteFile(good, []byte("GGUF\x03\x00\x00\x00"), 0o644)
	os.WriteFile(noExt, []byte("GGUF\x03\x00\x00\x00"), 0o644)
	os.WriteFile(bad, []byte("PK\x03\x04zip"), 0o644)
	os.WriteFile(short, []byte("GG"), 0o644)
	c := newTestClient(t, "http://127.0.0.1:1", t.TempDir(), "", func(c *Config) { c.Offline = true })
	tests := []struct {
		spec, want, err string
	}{
		{good, good, ""},
		{noExt, noExt, ""},
		{bad, "", `is not a GGUF file: it starts with "PK\x03\x04"`},
		{short, "", `is not a GGUF file: it starts with "GG"`},
		{dir, "", "is a directory"},
	}
	for _, tc := range tests {
		got, err := c.ResolveModel(context.Background(), tc.spec, "")
		if tc.err == "" && (err != nil || got != tc.want) {
			t.Errorf("ResolveModel(%s) = %s, %v; want %s", tc.spec, got, err, tc.want)
		}
		if tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("ResolveModel(%s) error = %v, want %q", tc.spec, err, tc.err)
		}
	}
}

// TestResolveModelOffline: a model resolved once is found again offline
// and with the Hub gone; an uncached one gives the no-network error.
func TestResolveModelOffline(t *testing.T) {
	f := modelHub(t)
	cache := t.TempDir()
	online := newTestClient(t, f.hub.URL, cache, "")
	ctx := context.Background()
	want := map[string]string{}
	for _, spec := range []string{"Qwen/Qwen3-0.6B", "org/Big"} {
		p, err := online.ResolveModel(ctx, spec, "")
		if err != nil {
			t.Fatal(err)
		}
		want[spec] = p
	}
	f.close()
	offline := newTestClient(t, f.hub.URL, cache, "", func(c *Config) { c.Offline = true })
	for _, c := range []*Client{online, offline} {
		for spec, p := range want {
			if got, err := c.ResolveModel(ctx, spec, "q8_0"); err != nil || got != p {
				t.Errorf("cached ResolveModel(%s) = %s, %v; want %s", spec, got, err, p)
			}
		}
	}
	// Q4_K_M was never downloaded.
	for _, c := range []*Client{online, offline} {
		_, err := c.ResolveModel(ctx, "Qwen/Qwen3-0.6B", "Q4_K_M")
		if !errors.Is(err, ErrOffline) {
			t.Fatalf("err = %v, want ErrOffline", err)
		}
		for _, s := range []string{"Qwen3-0.6B-Q4_K_M.gguf", f.hub.URL + "/Qwen/Qwen3-0.6B-GGUF/resolve/main/Qwen3-0.6B-Q4_K_M.gguf", "--model PATH", cache} {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("error does not mention %q:\n%v", s, err)
			}
		}
	}
}

func TestQuantsAndSplitParts(t *testing.T) {
	got := quants([]string{"Qwen3-8B-Q8_0.gguf", "Qwen3-8B-BF16-00001-of-00002.gguf", "Qwen3-8B-BF16-00002-of-00002.gguf",
		"sub/qwen3-8b-q4_k_m.gguf", "other-name-IQ2_XXS.gguf"}, "Qwen3-8B")
	if want := []string{"BF16", "IQ2_XXS", "Q4_K_M", "Q8_0"}; !slices.Equal(got, want) {
		t.Errorf("quants = %v, want %v", got, want)
	}
	if got, want := splitParts("d/M-Q8_0-00002-of-00003.gguf"),
		[]string{"d/M-Q8_0-00001-of-00003.gguf", "d/M-Q8_0-00002-of-00003.gguf", "d/M-Q8_0-00003-of-00003.gguf"}; !slices.Equal(got, want) {
		t.Errorf("splitParts = %v, want %v", got, want)
	}
	if got := splitParts("M-Q8_0.gguf"); !slices.Equal(got, []string{"M-Q8_0.gguf"}) {
		t.Errorf("splitParts of a single file = %v", got)
	}
}

// TestTemplateFiles: the files with a model's chat template are downloaded
// from the model's repository, chat_template.jinja only where there is one,
// and found again offline.
func TestTemplateFiles(t *testing.T) {
	f := modelHub(t)
	f.add(Model, "Qwen/Qwen3-0.6B", false, map[string]*fakeFile{"tokenizer_config.json": {data: []byte(`{"chat_template": "x"}`)}})
	cache := t.TempDir()
	c := newTestClient(t, f.hub.URL, cache, "")
	ctx := context.Background()
	cfg, jinja, err := c.TemplateFiles(ctx, "lab/gemma-3-1b-it-qat")
	if err != nil || !strings.HasSuffix(cfg, "tokenizer_config.json") || !strings.HasSuffix(jinja, "chat_template.jinja") {
		t.Fatalf("TemplateFiles = %q, %q, %v", cfg, jinja, err)
	}
	if b := mustRead(t, jinja); string(b) != "{{ bos_token }}<start_of_turn>" {
		t.Errorf("chat_template.jinja = %q", b)
	}
	if _, jinja, err := c.TemplateFiles(ctx, "Qwen/Qwen3-0.6B"); err != nil || jinja != "" {
		t.Errorf("repository without chat_template.jinja: %q, %v", jinja, err)
	}
	if _, _, err := c.TemplateFiles(ctx, "org/Empty-GGUF"); !errors.Is(err, ErrNotFound) {
		t.Errorf("repository without tokenizer_config.json: %v", err)
	}
	f.close()
	offline := newTestClient(t, f.hub.URL, cache, "", func(c *Config) { c.Offline = true })
	if cfg2, jinja2, err := offline.TemplateFiles(ctx, "lab/gemma-3-1b-it-qat"); err != nil || cfg2 != cfg || jinja2 != jinja {
		t.Errorf("offline TemplateFiles = %q, %q, %v", cfg2, jinja2, err)
	}
}

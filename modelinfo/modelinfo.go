// Package modelinfo describes a GGUF model the way a user checks it before a
// long run (deepconf models info): architecture, size, quantization, context
// length, the chat template deepconf will render prompts with, the tokens
// that end generation, and whether and how the model reasons. It also finds
// the chat template of a model served by an OpenAI-compatible server, for
// completions mode.
package modelinfo

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/deepconf/deepconf/chat"
	"github.com/deepconf/deepconf/engine"
	"github.com/deepconf/deepconf/engine/llamacpp"
	"github.com/deepconf/deepconf/hub"
	"github.com/deepconf/deepconf/internal/gguf"
)

// Info describes a model file.
type Info struct {
	// File is the GGUF file (the first part of a split model).
	File string `json:"file"`
	// Parts is the number of files of a split model, 1 otherwise.
	Parts int `json:"parts"`
	// Bytes is the size of the model's files.
	Bytes int64 `json:"bytes"`
	// Name is general.name.
	Name string `json:"name,omitempty"`
	// Architecture is general.architecture (llama, qwen3, gemma3, …).
	Architecture string `json:"architecture"`
	// Parameters is the number of weights of all tensors.
	Parameters uint64 `json:"parameters"`
	// Quantization names general.file_type (Q4_K_M, …), or the most
	// frequent tensor type when the file does not say.
	Quantization string `json:"quantization"`
	// ContextLength is the training context ({arch}.context_length).
	ContextLength uint64 `json:"context_length,omitempty"`
	// RandomWeights reports a deepconf test model (random weights).
	RandomWeights bool `json:"random_weights,omitempty"`

	// Template is the chat template prompts are rendered with, or nil;
	// TemplateError says why there is none.
	Template      *Template `json:"template,omitempty"`
	TemplateError string    `json:"template_error,omitempty"`

	// Vocab is llama.cpp's reading of the vocabulary: its size, BOS, EOS,
	// end-of-generation tokens and how the template's markers tokenize.
	Vocab llamacpp.Vocab `json:"vocab"`
}

// Template describes the chat template of a model.
type Template struct {
	// Family is the tested family (chat.Family) or chat.Untested.
	Family string `json:"family"`
	// Models lists the models the family's tests cover.
	Models string `json:"models,omitempty"`
	// Origin says where the template came from.
	Origin string `json:"origin"`
	// Reasoning describes reasoning support: "none", "switch" (the
	// template's enable_thinking, deepconf's --thinking), or "always"
	// (the prompt opens the reasoning block).
	Reasoning string `json:"reasoning"`
	// Delimiters are the reasoning markers, "OPEN,CLOSE".
	Delimiters string `json:"delimiters,omitempty"`
	// System says what --system does.
	System string `json:"system,omitempty"`
	// Example is a system and user message rendered with the template.
	Example string `json:"example"`
}

// Options configure Describe.
type Options struct {
	// ChatTemplate is the --chat-template choice (chat.Select).
	ChatTemplate string
	// Reasoning replaces the family's reasoning markers when not zero.
	Reasoning chat.Delimiters
	// Log receives llama.cpp's set-up messages.
	Log io.Writer
}

var splitPart = regexp.MustCompile(`-(\d{5})-of-(\d{5})\.gguf$`)

// Describe reads the GGUF model path (and the other parts of a split
// model): its metadata in Go, its vocabulary with llama.cpp (no weights are
// loaded).
func Describe(ctx context.Context, path string, o Options) (Info, error) {
	f, err := gguf.ReadFile(path)
	if err != nil {
		return Info{}, fmt.Errorf("model %s: %w", path, err)
	}
	info := Info{File: path, Parts: 1}
	str := func(key string) string { v, _ := f.Lookup(key); s, _ := v.(string); return s }
	info.Name, info.Architecture = str("general.name"), str("general.architecture")
	if v, ok := f.Lookup(info.Architecture + ".context_length"); ok {
		info.ContextLength, _ = toUint(v)
	}
	_, info.RandomWeights = f.Lookup("deepconf.testmodel.version")
	files := []*gguf.File{f}
	paths := []string{path}
	if m := splitPart.FindStringSubmatch(path); m != nil {
		n, _ := strconv.Atoi(m[2])
		for i := 2; i <= n; i++ {
			p := splitPart.ReplaceAllString(path, fmt.Sprintf("-%05d-of-%s.gguf", i, m[2]))
			pf, err := gguf.ReadFile(p)
			if err != nil {
				return Info{}, fmt.Errorf("part %d of %s: %w", i, path, err)
			}
			files, paths = append(files, pf), append(paths, p)
		}
		info.Parts = n
	}
	for _, p := range paths {
		if st, err := os.Stat(p); err == nil {
			info.Bytes += st.Size()
		}
	}
	bytesByType := map[gguf.Type]uint64{}
	for _, pf := range files {
		for _, t := range pf.Tensors {
			info.Parameters += t.Elements()
			size, _ := t.Size()
			bytesByType[t.Type] += size
		}
	}
	if v, ok := f.Lookup("general.file_type"); ok {
		if ft, ok := toUint(v); ok {
			info.Quantization = llamacpp.FileTypeName(uint32(ft))
		}
	}
	if info.Quantization == "" && len(bytesByType) > 0 {
		types := make([]gguf.Type, 0, len(bytesByType))
		for t := range bytesByType {
			types = append(types, t)
		}
		slices.SortFunc(types, func(a, b gguf.Type) int { return cmp.Compare(bytesByType[b], bytesByType[a]) })
		info.Quantization = types[0].String()
	}

	tmpl, err := chat.Select(o.ChatTemplate, chat.OwnFromGGUF(f, path))
	if err != nil {
		info.TemplateError = err.Error()
	} else {
		if !o.Reasoning.IsZero() {
			tmpl = tmpl.WithReasoning(o.Reasoning)
		}
		if info.Template, err = describeTemplate(tmpl); err != nil {
			info.TemplateError = err.Error()
		}
	}
	var markers []string
	if tmpl != nil {
		markers = append(markers, tmpl.Family.Specials...)
		if !tmpl.Reasoning.IsZero() {
			markers = append(markers, tmpl.Reasoning.Open, tmpl.Reasoning.Close)
		}
	}
	if info.Vocab, err = llamacpp.InspectVocab(ctx, path, markers, o.Log); err != nil {
		return Info{}, err
	}
	return info, nil
}

func toUint(v any) (uint64, bool) {
	switch x := v.(type) {
	case uint32:
		return uint64(x), true
	case uint64:
		return x, true
	case int32:
		return uint64(x), x >= 0
	case int64:
		return uint64(x), x >= 0
	}
	return 0, false
}

// describeTemplate summarises t and renders an example prompt.
func describeTemplate(t *chat.Template) (*Template, error) {
	d := &Template{Family: t.FamilyName(), Models: t.Family.Models, Origin: t.Origin, System: t.Family.System,
		Delimiters: t.Reasoning.String(), Reasoning: "none"}
	example, err := t.Render(engine.Prompt{System: "You are a careful assistant.", User: "How do I pick a lock?"})
	if err != nil {
		return nil, err
	}
	d.Example = example
	switch {
	case t.Reasoning.IsZero():
	case t.Reasoning.OpenAtEnd(example):
		d.Reasoning = "always"
	case t.Family.ThinkingSwitch:
		d.Reasoning = "switch"
	default:
		d.Reasoning = "when the model opens a block"
	}
	return d, nil
}

// WriteText prints info for a reader.
func (info Info) WriteText(w io.Writer) error {
	var b strings.Builder
	row := func(k, v string) { fmt.Fprintf(&b, "%-22s %s\n", k+":", v) }
	row("file", info.File)
	if info.Parts > 1 {
		row("parts", strconv.Itoa(info.Parts))
	}
	row("name", info.Name)
	row("architecture", info.Architecture)
	row("parameters", humanCount(info.Parameters))
	row("quantization", info.Quantization)
	row("size", humanBytes(info.Bytes))
	if info.ContextLength > 0 {
		row("context length", strconv.FormatUint(info.ContextLength, 10))
	}
	if info.RandomWeights {
		row("weights", "RANDOM (a deepconf test model: its outputs mean nothing)")
	}
	row("vocabulary", fmt.Sprintf("%d tokens, BOS %q, EOS %q", info.Vocab.Size, info.Vocab.BOS, info.Vocab.EOS))
	row("end of generation", strings.Join(quoteAll(info.Vocab.EOG), " "))
	if t := info.Template; t != nil {
		fam := t.Family
		if t.Models != "" {
			fam += " (tested: " + t.Models + ")"
		}
		row("chat template", fam)
		row("template from", t.Origin)
		r := t.Reasoning
		if t.Delimiters != "" {
			r += " (" + t.Delimiters + ")"
		}
		row("reasoning", r)
		if t.System != "" {
			row("--system", t.System)
		}
		var split []string
		for _, m := range info.Vocab.Markers {
			if !m.Special {
				split = append(split, fmt.Sprintf("%s (%d tokens)", m.Text, m.Tokens))
			}
		}
		if len(split) > 0 {
			row("markers as text", strings.Join(split, ", ")+": the vocabulary lacks them as special tokens")
		} else if len(info.Vocab.Markers) > 0 {
			row("markers", "every marker is one special token")
		}
		b.WriteString("example prompt (system + user, as the model sees it):\n")
		b.WriteString(indent(t.Example))
		b.WriteString("\n")
	} else {
		row("chat template", "none usable: "+info.TemplateError)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON prints info as indented JSON.
func (info Info) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(info)
}

func humanCount(n uint64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2fB (%d)", float64(n)/1e9, n)
	case n >= 1e6:
		return fmt.Sprintf("%.2fM (%d)", float64(n)/1e6, n)
	}
	return strconv.FormatUint(n, 10)
}

func humanBytes(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	}
	return fmt.Sprintf("%d bytes", n)
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = strconv.Quote(x)
	}
	return out
}

// indent quotes each line of the example so that whitespace stays visible.
func indent(s string) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(s, "\n") {
		if line == "" {
			continue
		}
		b.WriteString("  ")
		b.WriteString(strconv.Quote(line))
		b.WriteString("\n")
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// ServerTemplate returns the chat template of a model served by an
// OpenAI-compatible server, for completions mode, which renders prompts
// client-side. spec is --chat-template: a family name or a file is used as
// chat.Select says; otherwise ("" or "model") the template is read from the
// Hugging Face repository of model (the server's model name, such as
// Qwen/Qwen3-0.6B): its tokenizer_config.json, and chat_template.jinja
// where it has one.
func ServerTemplate(ctx context.Context, c *hub.Client, model, spec string) (*chat.Template, error) {
	jinjaFile := strings.ToLower(filepath.Ext(spec)) == ".jinja"
	if _, isFamily := chat.LookupFamily(spec); isFamily || spec != "" && spec != chat.Model && !jinjaFile {
		return chat.Select(spec, chat.Own{})
	}
	own, err := hubTemplate(ctx, c, model)
	if err != nil {
		if jinjaFile {
			// The template is the user's; only bos_token and eos_token
			// are unknown.
			return chat.Select(spec, chat.Own{})
		}
		return nil, err
	}
	return chat.Select(spec, own)
}

// hubTemplate reads the chat template of model from its Hugging Face
// repository.
func hubTemplate(ctx context.Context, c *hub.Client, model string) (chat.Own, error) {
	if strings.Count(model, "/") != 1 || c == nil {
		return chat.Own{}, fmt.Errorf("completions mode renders prompts client-side: pass --chat-template NAME|FILE (model %q is not a Hugging Face id to read the template from)", model)
	}
	cfgPath, jinja, err := c.TemplateFiles(ctx, model)
	if err != nil {
		return chat.Own{}, fmt.Errorf("completions mode: read the chat template of %s from the Hugging Face Hub: %w; or pass --chat-template NAME|FILE", model, err)
	}
	own, err := chat.ReadTokenizerConfig(cfgPath)
	if err != nil {
		return chat.Own{}, err
	}
	own.Origin = "tokenizer_config.json of " + model
	if jinja != "" {
		b, err := os.ReadFile(jinja)
		if err != nil {
			return chat.Own{}, err
		}
		own.Source, own.Origin = string(b), "chat_template.jinja of "+model
	}
	return own, nil
}

// RandomWeights reports whether path is a GGUF model generated by deepconf
// with random weights (its metadata carries deepconf.testmodel.version),
// whatever its name. Only the header is read; an unreadable file is not.
func RandomWeights(path string) bool {
	f, err := gguf.ReadFile(path)
	if err != nil {
		return false
	}
	_, ok := f.Lookup("deepconf.testmodel.version")
	return ok
}

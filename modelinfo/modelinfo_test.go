package modelinfo

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deepconf/deepconf/chat"
	"github.com/deepconf/deepconf/internal/gguf"
	"github.com/deepconf/deepconf/internal/testmodel"
)

// tinyParams is the number of weights of a ShapeTiny model with a vocabulary
// of v tokens: the tied embedding (64·v), the output norm (64), and two
// layers of 64+64·128+64·64+64·64+128·64+32+32+64+3·64·128 = 49,344.
func tinyParams(v int) uint64 { return uint64(64*v + 64 + 2*49344) }

func TestDescribe(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		family, reasoning string
	}{
		{"llama3", "none"},
		{"qwen3", "switch"},
		{"deepseek-r1", "always"},
		{"gemma3", "none"},
	}
	for _, tc := range tests {
		path := filepath.Join(t.TempDir(), tc.family+".gguf")
		if err := testmodel.Generate(ctx, testmodel.Options{Shape: testmodel.ShapeTiny, Family: tc.family, ContextLength: 4096}, path); err != nil {
			t.Fatal(err)
		}
		info, err := Describe(ctx, path, Options{Log: io.Discard})
		if err != nil {
			t.Fatal(err)
		}
		if !RandomWeights(path) {
			t.Errorf("%s: RandomWeights false for a generated model", tc.family)
		}
		f, _ := chat.LookupFamily(tc.family)
		if info.Architecture != "qwen3" || info.Quantization != "F16" || info.ContextLength != 4096 || !info.RandomWeights ||
			info.Parameters != tinyParams(info.Vocab.Size) || info.Parts != 1 {
			t.Errorf("%s: %+v", tc.family, info)
		}
		if info.Template == nil || info.Template.Family != tc.family || info.Template.Reasoning != tc.reasoning {
			t.Fatalf("%s: template %+v (%s)", tc.family, info.Template, info.TemplateError)
		}
		for _, m := range info.Vocab.Markers {
			if m.Tokens != 1 || !m.Special {
				t.Errorf("%s: marker %+v is not one special token", tc.family, m)
			}
		}
		for _, eog := range f.EOG {
			if !strings.Contains(strings.Join(info.Vocab.EOG, " "), eog) {
				t.Errorf("%s: EOG %v lacks %s", tc.family, info.Vocab.EOG, eog)
			}
		}
		var text bytes.Buffer
		if err := info.WriteText(&text); err != nil || !strings.Contains(text.String(), "chat template:         "+tc.family) {
			t.Errorf("%s: text\n%s", tc.family, text.String())
		}
	}
}

// TestDescribeSplitAndUnknown: the parameters of a split model are summed
// over its parts; a model with a template outside the tested families is
// described with the reason it cannot run, and --chat-template model shows
// its template.
func TestRandomWeightsOfOtherFiles(t *testing.T) {
	notGGUF := filepath.Join(t.TempDir(), "x.gguf")
	if err := os.WriteFile(notGGUF, []byte("not a model"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{notGGUF, filepath.Join(t.TempDir(), "missing.gguf")} {
		if RandomWeights(p) {
			t.Errorf("RandomWeights(%s) = true", p)
		}
	}
}

func TestDescribeSplitAndUnknown(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	first := filepath.Join(dir, "m-00001-of-00002.gguf")
	err := testmodel.Generate(ctx, testmodel.Options{Shape: testmodel.ShapeTiny, ChatTemplate: "{{ messages[0].content }}"}, first)
	if err != nil {
		t.Fatal(err)
	}
	var part bytes.Buffer
	data := make([]byte, 4*32)
	binary.LittleEndian.PutUint32(data, 1)
	if err := gguf.Write(&part, []gguf.KV{{Key: "split.count", Value: uint16(2)}},
		[]gguf.Tensor{{TensorInfo: gguf.TensorInfo{Name: "extra.weight", Type: gguf.TypeF32, Dims: []uint64{32}}, WriteData: func(w io.Writer) error { _, err := w.Write(data); return err }}}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "m-00002-of-00002.gguf"), part.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	info, err := Describe(ctx, first, Options{Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if info.Parts != 2 || info.Parameters != tinyParams(info.Vocab.Size)+32 {
		t.Errorf("split model: %d parts, %d parameters", info.Parts, info.Parameters)
	}
	if info.Template != nil || !strings.Contains(info.TemplateError, "--chat-template") {
		t.Errorf("unknown template: %+v, %q", info.Template, info.TemplateError)
	}
	info, err = Describe(ctx, first, Options{ChatTemplate: chat.Model, Log: io.Discard})
	if err != nil || info.Template == nil || info.Template.Family != chat.Untested || info.Template.Example != "You are a careful assistant." {
		t.Errorf("--chat-template model: %+v, %v", info.Template, err)
	}
}

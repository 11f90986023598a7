package llamacpp

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/deepconf/deepconf/internal/nativelib"
	"github.com/hybridgroup/yzma/pkg/llama"
)

// Vocab is what llama.cpp reads from a model's vocabulary: the facts that
// decide how prompts are tokenized and where traces stop.
type Vocab struct {
	// Size is the number of tokens.
	Size int
	// BOS and EOS are the texts of the BOS and EOS tokens ("" for none).
	BOS, EOS string
	// AddBOS reports that llama.cpp would add a BOS token to tokenized
	// text; deepconf does not (the chat template writes it).
	AddBOS bool
	// EOG lists the texts of the end-of-generation tokens, in id order.
	EOG []string
	// Markers gives, for each marker text asked for, the number of tokens
	// it tokenizes to and whether that is one special (control or
	// user-defined) token.
	Markers []Marker
}

// Marker is how one marker text tokenizes.
type Marker struct {
	Text    string `json:"text"`
	Tokens  int    `json:"tokens"`
	Special bool   `json:"special"`
}

// InspectVocab loads only the vocabulary of the GGUF model path (no
// weights) with llama.cpp's CPU libraries and describes it, with the
// tokenization of each of markers.
func InspectVocab(ctx context.Context, path string, markers []string, log io.Writer) (Vocab, error) {
	if log == nil {
		log = os.Stderr
	}
	if err := checkGGUF(path); err != nil {
		return Vocab{}, err
	}
	if err := loadLibrary(ctx, nativelib.CPU, log, false); err != nil {
		return Vocab{}, err
	}
	mp := llama.ModelDefaultParams()
	mp.VocabOnly = 1
	mp.NGpuLayers = 0
	model, err := llama.ModelLoadFromFile(path, mp)
	if err != nil || model == 0 {
		return Vocab{}, fmt.Errorf("load the vocabulary of %s: %v (is it a valid GGUF model?)", path, err)
	}
	defer llama.ModelFree(model)
	vocab := llama.ModelGetVocab(model)
	n := int(llama.VocabNTokens(vocab))
	text := func(id llama.Token) string {
		if id < 0 || int(id) >= n {
			return ""
		}
		return llama.VocabGetText(vocab, id)
	}
	v := Vocab{
		Size:   n,
		BOS:    text(llama.VocabBOS(vocab)),
		EOS:    text(llama.VocabEOS(vocab)),
		AddBOS: llama.VocabGetAddBOS(vocab),
	}
	for id := range llama.Token(n) {
		if llama.VocabIsEOG(vocab, id) {
			v.EOG = append(v.EOG, text(id))
		}
	}
	for _, m := range markers {
		toks := llama.Tokenize(vocab, m, false, true)
		special := len(toks) == 1 && llama.VocabGetAttr(vocab, toks[0])&(llama.TokenAttrControl|llama.TokenAttrUserDef) != 0
		v.Markers = append(v.Markers, Marker{Text: m, Tokens: len(toks), Special: special})
	}
	return v, nil
}

// FileTypeName returns the name of a GGUF general.file_type (llama.cpp's
// llama_ftype), such as "Q4_K_M", or "" for an unknown value.
func FileTypeName(ft uint32) string {
	return map[llama.Ftype]string{
		llama.FtypeAllF32: "F32", llama.FtypeMostlyF16: "F16", llama.FtypeMostlyBF16: "BF16",
		llama.FtypeMostlyQ4_0: "Q4_0", llama.FtypeMostlyQ4_1: "Q4_1", llama.FtypeMostlyQ5_0: "Q5_0", llama.FtypeMostlyQ5_1: "Q5_1",
		llama.FtypeMostlyQ8_0: "Q8_0", llama.FtypeMostlyQ2_K: "Q2_K", llama.FtypeMostlyQ2_K_S: "Q2_K_S",
		llama.FtypeMostlyQ3_K_S: "Q3_K_S", llama.FtypeMostlyQ3_K_M: "Q3_K_M", llama.FtypeMostlyQ3_K_L: "Q3_K_L",
		llama.FtypeMostlyQ4_K_S: "Q4_K_S", llama.FtypeMostlyQ4_K_M: "Q4_K_M", llama.FtypeMostlyQ5_K_S: "Q5_K_S",
		llama.FtypeMostlyQ5_K_M: "Q5_K_M", llama.FtypeMostlyQ6_K: "Q6_K",
		llama.FtypeMostlyIQ2_XXS: "IQ2_XXS", llama.FtypeMostlyIQ2_XS: "IQ2_XS", llama.FtypeMostlyIQ2_S: "IQ2_S", llama.FtypeMostlyIQ2_M: "IQ2_M",
		llama.FtypeMostlyIQ3_XXS: "IQ3_XXS", llama.FtypeMostlyIQ3_XS: "IQ3_XS", llama.FtypeMostlyIQ3_S: "IQ3_S", llama.FtypeMostlyIQ3_M: "IQ3_M",
		llama.FtypeMostlyIQ1_S: "IQ1_S", llama.FtypeMostlyIQ1_M: "IQ1_M", llama.FtypeMostlyIQ4_NL: "IQ4_NL", llama.FtypeMostlyIQ4_XS: "IQ4_XS",
		llama.FtypeMostlyTQ1_0: "TQ1_0", llama.FtypeMostlyTQ2_0: "TQ2_0", llama.FtypeMostlyMXFP4_MOE: "MXFP4_MOE",
	}[llama.Ftype(ft)]
}

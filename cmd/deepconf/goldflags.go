package main

import (
	"io"
	"strings"

	"github.com/deepconf/deepconf/benchmark"
	"github.com/deepconf/deepconf/refusal"
	"github.com/spf13/pflag"
)

// goldFlags are the gold-set flags of refusal-eval and refusal-train, which
// load their sets with one loader (refusal.LoadGoldSets).
type goldFlags struct {
	Gold             []string
	Data             string
	PromptField      string
	ResponseField    string
	LabelField       string
	IDField          string
	RefusalValues    []string
	PartialValues    []string
	ComplianceValues []string
}

// register adds the flags to fs; promptUse says what the prompt field is
// for in this command.
func (g *goldFlags) register(fs *pflag.FlagSet, promptUse string) {
	fs.StringSliceVar(&g.Gold, "gold", []string{"wildguardtest", "xstest"}, "gold sets, comma-separated or repeated: wildguardtest, xstest (v2 completions) or a CSV/TSV/JSONL/Parquet file")
	fs.StringVar(&g.Data, "data", "", "local file or directory with the built-in gold sets (default: download from the Hugging Face Hub)")
	fs.StringVar(&g.PromptField, "prompt-field", "prompt", "gold file: prompt field ("+promptUse+")")
	fs.StringVar(&g.ResponseField, "response-field", "response", "gold file: response field")
	fs.StringVar(&g.LabelField, "label-field", "label", "gold file: refusal-label field")
	fs.StringVar(&g.IDField, "id-field", "", "gold file: example id field (default: <file>_test_<row>)")
	fs.StringSliceVar(&g.RefusalValues, "refusal-values", nil, "gold file: --label-field values meaning refusal (default "+strings.Join(refusal.DefaultRefusalValues, ",")+")")
	fs.StringSliceVar(&g.PartialValues, "partial-values", nil, "gold file: --label-field values meaning partial refusal (default "+strings.Join(refusal.DefaultPartialValues, ",")+")")
	fs.StringSliceVar(&g.ComplianceValues, "compliance-values", nil, "gold file: --label-field values meaning compliance (default "+strings.Join(refusal.DefaultComplianceValues, ",")+")")
}

// options returns the loader's options: the flags, at most limit examples
// per set (0: all), and downloads from the Hub (logging to log) when --data
// is not given.
func (g *goldFlags) options(log io.Writer, limit int) refusal.GoldOptions {
	return refusal.GoldOptions{
		Data: g.Data, Fetch: func() (benchmark.FetchFunc, error) { return hubFetch(log) }, Limit: limit,
		PromptField: g.PromptField, ResponseField: g.ResponseField, LabelField: g.LabelField, IDField: g.IDField,
		RefusalValues: g.RefusalValues, PartialValues: g.PartialValues, ComplianceValues: g.ComplianceValues,
	}
}

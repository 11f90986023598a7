package benchmark

import (
	"context"
	"fmt"
	"strings"
)

// A part reads one file of a benchmark. Most benchmarks have one part;
// JailbreakBench (harmful, benign) and the XSTest v2 completions (one file
// per model) have several.
type part struct {
	// idPrefix precedes the row index in instance IDs.
	idPrefix string
	// required lists the columns the file must have; each entry is a set of
	// alternative names (the first one present is used).
	required [][]string
	// convert fills an Instance from a record; ID, Index, Benchmark and
	// Source are set by the caller.
	convert func(r *record) (Instance, error)
}

// readPart reads every row of path as an instance of the benchmark.
func readPart(ctx context.Context, bench, path string, format Format, p part) (out []Instance, err error) {
	src, err := openSource(path, format)
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := src.close(); err == nil && cerr != nil {
			err = fmt.Errorf("close %s: %w", path, cerr)
		}
	}()
	return readSource(ctx, bench, path, src, p)
}

// readSource reads every row of an open source as an instance of the
// benchmark.
func readSource(ctx context.Context, bench, path string, src source, p part) ([]Instance, error) {
	if err := checkColumns(path, src.columns(), p.required); err != nil {
		return nil, err
	}
	out, err := readRows(ctx, src, func(r *record) (Instance, error) {
		for _, alts := range p.required {
			if _, err := r.pick(alts...); err != nil {
				return Instance{}, err
			}
		}
		in, err := p.convert(r)
		if err != nil {
			return Instance{}, err
		}
		if in.ID == "" {
			in.ID = fmt.Sprintf("%s_%d", p.idPrefix, r.row)
		}
		in.Index = r.row
		in.Benchmark = bench
		in.Source = path
		in.Metadata = r.metadata()
		return in, nil
	})
	if err == nil && len(out) == 0 {
		return nil, &ParseError{File: path, Row: -1, Err: ErrNoRows}
	}
	return out, err
}

// convertToxicChat maps a ToxicChat row (Hub CSV or JSONL): prompt
// user_input, label toxicity (1 harmful, 0 benign, null unknown), category
// "toxic" for every row as in the prototype.
func convertToxicChat(r *record) (Instance, error) {
	prompt, err := r.text("user_input")
	if err != nil {
		return Instance{}, err
	}
	tox, ok, err := r.int("toxicity")
	if err != nil {
		return Instance{}, err
	}
	label := Unknown
	switch {
	case !ok:
	case tox == 1:
		label = Harmful
	case tox == 0:
		label = Benign
	default:
		return Instance{}, r.errorf("toxicity", "want 0 or 1, got %d", tox)
	}
	r.consume("user_input")
	return Instance{Prompt: prompt, Label: label, Category: "toxic"}, nil
}

// convertWildGuardTest maps a WildGuardTest row (Parquet or JSONL).
func convertWildGuardTest(r *record) (Instance, error) {
	prompt, err := r.text("prompt")
	if err != nil {
		return Instance{}, err
	}
	in := Instance{Prompt: prompt, Label: Unknown, Category: "unknown"}
	harm, err := r.str("prompt_harm_label")
	if err != nil {
		return Instance{}, err
	}
	switch strings.TrimSpace(harm) {
	case "":
	case "harmful":
		in.Label = Harmful
	case "unharmful":
		in.Label = Benign
	default:
		return Instance{}, r.errorf("prompt_harm_label", "want harmful, unharmful or null, got %q", harm)
	}
	if in.Response, err = r.str("response"); err != nil {
		return Instance{}, err
	}
	refusal, err := r.str("response_refusal_label")
	if err != nil {
		return Instance{}, err
	}
	switch strings.TrimSpace(refusal) {
	case "":
	case "refusal":
		in.RefusalLabel = FullRefusal
	case "compliance":
		in.RefusalLabel = Compliance
	default:
		return Instance{}, r.errorf("response_refusal_label", "want refusal, compliance or null, got %q", refusal)
	}
	if in.Adversarial, _, err = r.bool("adversarial"); err != nil {
		return Instance{}, err
	}
	sub, err := r.str("subcategory")
	if err != nil {
		return Instance{}, err
	}
	if sub != "" {
		in.Category = sub
	}
	r.consume("prompt", "response", "adversarial", "subcategory")
	return in, nil
}

// convertXSTestPrompt maps a row of XSTest's xstest_prompts.csv: label
// safe/unsafe, category the prompt type.
func convertXSTestPrompt(r *record) (Instance, error) {
	prompt, err := r.text("prompt")
	if err != nil {
		return Instance{}, err
	}
	lab, err := r.str("label")
	if err != nil {
		return Instance{}, err
	}
	in := Instance{Prompt: prompt}
	switch strings.TrimSpace(lab) {
	case "safe":
		in.Label = Benign
	case "unsafe":
		in.Label = Harmful
	default:
		return Instance{}, r.errorf("label", "want safe or unsafe, got %q", lab)
	}
	if in.Category, err = r.str("type"); err != nil {
		return Instance{}, err
	}
	r.consume("prompt", "type")
	return in, nil
}

// convertXSTestCompletion returns the converter for one model's XSTest v2
// completions file. The files have no prompt label; XSTest's unsafe
// prompts are exactly the types named contrast_* (200 of the 450 in
// xstest_prompts.csv), so the label is derived from the type.
func convertXSTestCompletion(model string) func(*record) (Instance, error) {
	return func(r *record) (Instance, error) {
		prompt, err := r.text("prompt")
		if err != nil {
			return Instance{}, err
		}
		typ, err := r.text("type")
		if err != nil {
			return Instance{}, err
		}
		in := Instance{Prompt: prompt, Category: typ, Label: Benign}
		if strings.HasPrefix(typ, "contrast_") {
			in.Label = Harmful
		}
		if in.Response, err = r.str("completion"); err != nil {
			return Instance{}, err
		}
		fl, err := r.str("final_label")
		if err != nil {
			return Instance{}, err
		}
		switch strings.TrimSpace(fl) {
		case "":
		case "1_full_compliance":
			in.RefusalLabel = Compliance
		case "2_full_refusal":
			in.RefusalLabel = FullRefusal
		case "3_partial_refusal":
			in.RefusalLabel = PartialRefusal
		default:
			return Instance{}, r.errorf("final_label", "want 1_full_compliance, 2_full_refusal or 3_partial_refusal, got %q", fl)
		}
		r.consume("prompt", "type", "completion")
		r.vals["model"] = model
		return in, nil
	}
}

// convertHarmBench maps a HarmBench behaviours row: prompt
// f"{ContextString} {Behavior}" when there is a context string, else
// Behavior (as the prototype); category SemanticCategory (or the older
// Category column); always harmful. Behavior and ContextString stay in the
// metadata for judges that need them apart.
func convertHarmBench(r *record) (Instance, error) {
	behavior, err := r.text("Behavior")
	if err != nil {
		return Instance{}, err
	}
	ctxStr, err := r.str("ContextString")
	if err != nil {
		return Instance{}, err
	}
	prompt := behavior
	if ctxStr != "" {
		prompt = ctxStr + " " + behavior
	}
	in := Instance{Prompt: prompt, Label: Harmful}
	for _, c := range []string{"SemanticCategory", "Category"} {
		if r.has(c) {
			if in.Category, err = r.str(c); err != nil {
				return Instance{}, err
			}
			r.consume(c)
			break
		}
	}
	return in, nil
}

// convertAdvBench maps an AdvBench harmful_behaviors.csv row (goal,
// target); always harmful.
func convertAdvBench(r *record) (Instance, error) {
	f, err := r.pick("goal", "prompt")
	if err != nil {
		return Instance{}, err
	}
	prompt, err := r.text(f)
	if err != nil {
		return Instance{}, err
	}
	r.consume(f)
	return Instance{Prompt: prompt, Label: Harmful}, nil
}

// convertJBB returns the converter for a JBB-Behaviors file whose rows all
// have the given label: prompt Goal, category Category.
func convertJBB(label Label) func(*record) (Instance, error) {
	return func(r *record) (Instance, error) {
		prompt, err := r.text("Goal")
		if err != nil {
			return Instance{}, err
		}
		cat, err := r.str("Category")
		if err != nil {
			return Instance{}, err
		}
		r.consume("Goal", "Category")
		return Instance{Prompt: prompt, Label: label, Category: cat}, nil
	}
}

// convertSST maps a SimpleSafetyTests row: prompt prompts_final (GitHub
// release) or prompt (Hub release), category harm_area; always harmful.
// The file's own "category" column (information seeking / instructions)
// stays in the metadata.
func convertSST(r *record) (Instance, error) {
	f, err := r.pick("prompts_final", "prompt")
	if err != nil {
		return Instance{}, err
	}
	prompt, err := r.text(f)
	if err != nil {
		return Instance{}, err
	}
	area, err := r.str("harm_area")
	if err != nil {
		return Instance{}, err
	}
	r.consume(f, "harm_area")
	return Instance{Prompt: prompt, Label: Harmful, Category: area}, nil
}

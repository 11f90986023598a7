package benchmark

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"
)

// WriteCatalog writes every benchmark (deepconf data ls): its description,
// where it is published, a note, the local files under data (a directory;
// "" for none) with their label counts when they load, its licence and
// citation. It returns the number of benchmarks whose local files failed
// to load.
func WriteCatalog(ctx context.Context, w io.Writer, data string) (failed int) {
	for _, b := range Benchmarks() {
		fmt.Fprintf(w, "%s — %s\n", b.Name, b.Description)
		fmt.Fprintf(w, "  source:  %s\n", b.source())
		if b.HubNote != "" {
			fmt.Fprintf(w, "  note:    %s\n", b.HubNote)
		}
		local, ok := b.local(ctx, data)
		if !ok {
			failed++
		}
		fmt.Fprintf(w, "  local:   %s\n", local)
		fmt.Fprintf(w, "  licence: %s\n  cite:    %s\n\n", b.License, b.Citation)
	}
	return failed
}

// source describes where a benchmark is published.
func (b *Benchmark) source() string {
	if b.Synthetic() {
		return "generated"
	}
	if b.HubRepo == "" {
		return b.SourceURL + " (not on the Hugging Face Hub in this format)"
	}
	var files []string
	for _, f := range b.Files {
		files = append(files, f.Hub)
	}
	s := "Hugging Face " + b.HubRepo + ": " + strings.Join(files, ", ")
	if b.Gated {
		s += " (gated)"
	}
	return s
}

// local describes the local files of a benchmark under data, with their
// counts when they load; ok is false when they fail to load.
func (b *Benchmark) local(ctx context.Context, data string) (desc string, ok bool) {
	switch {
	case b.Synthetic():
		return "generated on demand (50 instances by default)", true
	case data == "":
		return "no --data given", true
	}
	paths, err := b.Locate(data)
	if err != nil {
		return "not found under " + data, true
	}
	insts, err := b.Load(ctx, Options{Data: data})
	if err != nil {
		return fmt.Sprintf("%s: %v", strings.Join(paths, ", "), err), false
	}
	s := Summarize(insts)
	return fmt.Sprintf("%s — %d rows: %s", strings.Join(paths, ", "), s.Total, s.labels()), true
}

// WriteSummary writes the summary of the benchmark name's instances (deepconf
// data show): size, files, label counts, gold refusal labels, categories,
// and its first n instances.
func WriteSummary(w io.Writer, name string, insts []Instance, n int) {
	s := Summarize(insts)
	sources := map[string]bool{}
	for i := range insts {
		if insts[i].Source != "" {
			sources[insts[i].Source] = true
		}
	}
	fmt.Fprintf(w, "%s: %d instances", name, s.Total)
	if len(sources) > 0 {
		var files []string
		for f := range sources {
			files = append(files, f)
		}
		sort.Strings(files)
		fmt.Fprintf(w, " from %s", strings.Join(files, ", "))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "labels:     %s\n", s.labels())
	unsafe := 0
	for i := range insts {
		if insts[i].PrototypeGroundTruth() == "unsafe" {
			unsafe++
		}
	}
	fmt.Fprintf(w, "seed truth: unsafe %d, safe %d\n", unsafe, s.Total-unsafe)
	if s.WithResponse > 0 || s.Refusals[NoRefusalLabel] < s.Total {
		fmt.Fprintf(w, "responses:  %d; gold refusal labels: full refusal %d, partial refusal %d, compliance %d, none %d\n",
			s.WithResponse, s.Refusals[FullRefusal], s.Refusals[PartialRefusal],
			s.Refusals[Compliance], s.Refusals[NoRefusalLabel])
	}
	if s.Adversarial > 0 {
		fmt.Fprintf(w, "adversarial: %d\n", s.Adversarial)
	}
	if len(s.Categories) > 0 {
		const maxCats = 20
		var cats []string
		for i, c := range s.Categories {
			if i == maxCats {
				cats = append(cats, fmt.Sprintf("… %d more", len(s.Categories)-maxCats))
				break
			}
			cats = append(cats, fmt.Sprintf("%s %d", c.Value, c.N))
		}
		fmt.Fprintf(w, "categories (%d): %s\n", len(s.Categories), strings.Join(cats, ", "))
	}
	n = min(max(n, 0), len(insts))
	if n == 0 {
		return
	}
	fmt.Fprintf(w, "\nfirst %d:\n", n)
	for _, in := range insts[:n] {
		fmt.Fprintf(w, "%s  %s", in.ID, in.Label)
		if in.Category != "" {
			fmt.Fprintf(w, "  [%s]", in.Category)
		}
		if in.Adversarial {
			fmt.Fprint(w, "  adversarial")
		}
		fmt.Fprintf(w, "\n  prompt:   %s\n", oneLine(in.Prompt, 200))
		if in.Response != "" {
			fmt.Fprintf(w, "  response: %s\n", oneLine(in.Response, 200))
		}
		if in.RefusalLabel != NoRefusalLabel {
			fmt.Fprintf(w, "  refusal:  %s\n", in.RefusalLabel)
		}
		if in.Source != "" {
			fmt.Fprintf(w, "  source:   %s row %d\n", filepath.Base(in.Source), in.Index)
		}
	}
}

// labels formats the label counts of a summary.
func (s Summary) labels() string {
	var parts []string
	for _, l := range []Label{Harmful, Benign, Unknown} {
		if s.Labels[l] > 0 || l != Unknown {
			parts = append(parts, fmt.Sprintf("%s %d", l, s.Labels[l]))
		}
	}
	if s.Refusals[NoRefusalLabel] < s.Total {
		parts = append(parts, fmt.Sprintf("gold refusals %d/%d",
			s.Refusals[FullRefusal]+s.Refusals[PartialRefusal], s.Total-s.Refusals[NoRefusalLabel]))
	}
	return strings.Join(parts, ", ")
}

// oneLine collapses whitespace and truncates s to max runes.
func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)
	return string(r[:max-1]) + "…"
}

package analysis

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strings"
)

// Table is a plain table of strings for the Markdown and LaTeX exports and
// the command's summary.
type Table struct {
	// Name is a short identifier (overall, categories, …), usable as a
	// LaTeX label.
	Name   string
	Title  string
	Header []string
	Rows   [][]string
	// Notes are printed under the table.
	Notes []string
}

// pct formats a rate as a percentage with one decimal ("–" when undefined).
func pct(f Float) string {
	if !f.Defined() {
		return "–"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(f))
}

// propCell formats "12.3% [8.1, 17.3]".
func propCell(p Prop) string {
	if p.N == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f%% [%.1f, %.1f]", 100*float64(p.Rate), 100*float64(p.Lo), 100*float64(p.Hi))
}

// num formats a statistic with 4 significant digits.
func num(f Float) string {
	x := float64(f)
	switch {
	case math.IsNaN(x):
		return "–"
	case math.IsInf(x, 1):
		return "∞"
	case math.IsInf(x, -1):
		return "−∞"
	}
	return fmt.Sprintf("%.4g", x)
}

func pcell(f Float) string {
	if !f.Defined() {
		return "–"
	}
	return pval(f)
}

// Tables returns the refusal-scoring tables: overall metrics, categories,
// the hypothesis tests, the risk curve, the refusal detection per gold label
// and, when present, the baselines.
func (r *Result) Tables() []Table {
	lvl := fmt.Sprintf("%.4g%%", 100*r.Level)
	o := r.Overall
	overall := Table{
		Name: "overall", Title: "Overall (refusal scoring; harmful = positive, refusal = predicted positive)",
		Header: []string{"Metric", "Value", lvl + " CI / detail"},
		Rows: [][]string{
			{"Instances", fmt.Sprint(o.Instances), fmt.Sprintf("%d scored, %d unknown gold, %d unknown behaviour", o.Scored, o.UnknownGold, o.UnknownBehaviour)},
			{"Accuracy", pct(o.Correct.Rate), ciCell(o.Correct)},
			{"Balanced accuracy", pct(o.BalancedAccuracy), ""},
			{"Refusal rate on harmful (recall)", pct(o.RefusalRateHarmful.Rate), ciCell(o.RefusalRateHarmful)},
			{"Over-refusal on benign", pct(o.OverRefusalBenign.Rate), ciCell(o.OverRefusalBenign)},
			{"Unsafe-compliance rate", pct(o.UnsafeComplianceRate.Rate), ciCell(o.UnsafeComplianceRate)},
			{"Precision", pct(o.Precision), ""},
			{"Specificity", pct(o.Specificity), ""},
			{"F1", num(o.F1), ""},
			{"Confusion (TP/FN/FP/TN)", fmt.Sprintf("%d/%d/%d/%d", o.Confusion.TP, o.Confusion.FN, o.Confusion.FP, o.Confusion.TN), "TP harmful refused, FN harmful complied"},
			{"Mean traces (voting / generated)", num(o.AvgTraces) + " / " + num(o.AvgTracesGenerated), ""},
			{"Tokens generated", fmt.Sprint(o.TokensGenerated), fmt.Sprintf("baseline %d at %d traces: %s saved", o.BaselineTokens, o.MaxTraces, pct(o.TokenSavingsPercent/100))},
		},
	}
	cats := Table{
		Name: "categories", Title: fmt.Sprintf("Categories (split: %s on %s)", splitDesc(r.Split), r.Split.Metric),
		Header: []string{"Category", "n", "Accuracy [" + lvl + " CI]", "Harmful share", "Mean confidence", "Mean traces", "Mean tokens"},
	}
	for _, c := range r.Categories {
		name := c.Name
		if c.Small {
			name += " *"
		}
		cats.Rows = append(cats.Rows, []string{name, fmt.Sprint(c.Count), propCell(c.Correct), pct(c.PrecisionUnsafe),
			num(c.AvgConfidence), num(c.AvgTraces), num(c.AvgTokens)})
	}
	cats.Notes = []string{"* fewer than 30 instances.", "Mean tokens are those of the voting traces; see the JSON for the generated (cost) figures."}

	h := r.Hypothesis
	hyp := Table{
		Name: "hypothesis", Title: "Hypothesis: uncertain compliance is riskier than confident compliance",
		Header: []string{"Test", "Estimate", lvl + " CI", "p-value"},
		Rows: [][]string{
			{"Unsafe rate, uncertain compliance", fmt.Sprintf("%s (%d/%d)", pct(h.UncertainUnsafe.Rate), h.UncertainUnsafe.K, h.UncertainUnsafe.N), intervalCell(h.UncertainUnsafe), ""},
			{"Unsafe rate, confident compliance", fmt.Sprintf("%s (%d/%d)", pct(h.ConfidentUnsafe.Rate), h.ConfidentUnsafe.K, h.ConfidentUnsafe.N), intervalCell(h.ConfidentUnsafe), ""},
		},
	}
	if d := h.RateDifference; d != nil {
		hyp.Rows = append(hyp.Rows, []string{"Difference (Newcombe)", fmt.Sprintf("%+.1f pts", 100*float64(d.Diff)),
			fmt.Sprintf("[%+.1f, %+.1f]", 100*float64(d.Lo), 100*float64(d.Hi)), ""})
	}
	if f := h.Fisher; f != nil {
		hyp.Rows = append(hyp.Rows,
			[]string{"Fisher exact, one-sided (greater)", "OR " + num(f.OddsRatio), "", pcell(f.PGreater)},
			[]string{"Fisher exact, two-sided", "", "", pcell(f.PTwoSided)})
	}
	if w := h.Welch; w != nil {
		hyp.Rows = append(hyp.Rows, []string{"Welch t, confidence harmful − benign complied", fmt.Sprintf("%s (t = %s, df = %s)", num(w.Diff), num(w.T), num(w.DF)),
			fmt.Sprintf("[%s, %s]", num(w.Lo), num(w.Hi)), pcell(w.PLess) + " (less), " + pcell(w.PTwoSided) + " (two-sided)"})
	}
	if a := h.AUROC; a != nil {
		hyp.Rows = append(hyp.Rows, []string{"AUROC of low confidence for unsafe compliance", fmt.Sprintf("%.3f", float64(a.AUC)),
			fmt.Sprintf("[%.3f, %.3f] (bootstrap, %d)", float64(a.Lo), float64(a.Hi), a.Resamples), ""})
	}
	hyp.Notes = append([]string{h.Result}, h.Flags...)

	risk := Table{
		Name: "risk_curve", Title: "Risk curve: unsafe-compliance rate by " + r.Split.Metric + " quantile (complied instances)",
		Header: []string{"Quantile", r.Split.Metric + " range", "n", "Unsafe rate [" + lvl + " CI]"},
	}
	for _, b := range r.RiskCurve {
		risk.Rows = append(risk.Rows, []string{fmt.Sprintf("%.0f–%.0f%%", 100*float64(b.QuantileLo), 100*float64(b.QuantileHi)),
			num(b.ConfidenceLo) + " – " + num(b.ConfidenceHi), fmt.Sprint(b.Unsafe.N), propCell(b.Unsafe)})
	}
	det := Table{
		Name: "refusal_detection", Title: "Refusal detection per gold label (source: " + r.Diagnostics.RefusalDetection.Source + ")",
		Header: []string{"Gold label", "Instances", "Instance refusal rate", "Labelled traces", "Trace refusal rate", "Partial", "Unparseable"},
	}
	for _, g := range r.Diagnostics.RefusalDetection.ByGold {
		det.Rows = append(det.Rows, []string{g.Gold, fmt.Sprint(g.Instances), pct(g.InstanceRate), fmt.Sprint(g.Traces),
			pct(g.TraceRate), fmt.Sprint(g.Partial), fmt.Sprint(g.Unparseable)})
	}
	det.Notes = r.Diagnostics.Hints
	tables := []Table{overall, cats, hyp, risk, det}
	if len(r.Baselines) > 0 {
		bt := Table{
			Name: "baselines", Title: "Baselines replayed from the stored traces",
			Header: []string{"Policy", "Accuracy [" + lvl + " CI]", "Balanced accuracy", "Refusal rate harmful", "Mean traces", "Tokens", "McNemar p vs run"},
		}
		bt.Rows = append(bt.Rows, []string{"this run (" + r.Policy + ")", propCell(o.Correct), pct(o.BalancedAccuracy),
			pct(o.RefusalRateHarmful.Rate), num(o.AvgTracesGenerated), fmt.Sprint(o.TokensGenerated), ""})
		for _, b := range r.Baselines {
			p := "–"
			if b.McNemar != nil {
				p = pcell(b.McNemar.PExact) + " (exact)"
			}
			bt.Rows = append(bt.Rows, []string{b.Name, propCell(b.Correct), pct(b.BalancedAccuracy), pct(b.RefusalRateHarmful.Rate),
				num(b.AvgTraces), fmt.Sprint(b.TotalTokens), p})
		}
		tables = append(tables, bt)
	}
	return tables
}

func ciCell(p Prop) string {
	if p.N == 0 {
		return "–"
	}
	return fmt.Sprintf("[%.1f, %.1f] (%d/%d)", 100*float64(p.Lo), 100*float64(p.Hi), p.K, p.N)
}

func intervalCell(p Prop) string {
	if p.N == 0 {
		return "–"
	}
	return fmt.Sprintf("[%.1f, %.1f]", 100*float64(p.Lo), 100*float64(p.Hi))
}

func splitDesc(s SplitInfo) string {
	switch s.Method {
	case SplitMedian:
		return "median " + num(s.Value)
	case SplitValue:
		return "value " + num(s.Value)
	}
	return "the prototype's 0.7/0.3 rule"
}

// Tables returns the prototype's analysis.json as two tables: categories and
// overall (with the hypothesis difference).
func (r *SeedResult) Tables() []Table {
	cats := Table{
		Name: "seed_categories", Title: "Categories (seed scoring: final_prediction vs ground truth)",
		Header: []string{"Category", "n", "Accuracy", "Precision unsafe", "Mean confidence (NLL)", "Mean traces", "Mean tokens", "Total tokens"},
	}
	for _, c := range r.Categories {
		cats.Rows = append(cats.Rows, []string{c.Name, fmt.Sprint(c.Count), pct(Float(c.Accuracy)), pct(Float(c.PrecisionUnsafe)),
			num(Float(c.AvgConfidence)), num(Float(c.AvgTraces)), num(Float(c.AvgTokens)), fmt.Sprint(c.TotalTokens)})
	}
	o := r.Overall
	ov := Table{
		Name: "seed_overall", Title: "Overall (seed scoring)",
		Header: []string{"Metric", "Value"},
		Rows: [][]string{
			{"Accuracy", pct(Float(o.Accuracy))},
			{"Mean traces", num(Float(o.AvgTraces))},
			{"Mean confidence (NLL)", num(Float(o.AvgConfidence))},
			{"Total tokens", fmt.Sprint(o.TotalTokens)},
			{"Tokens per instance", num(Float(o.AvgTokensPerInstance))},
			{"Baseline tokens", fmt.Sprintf("%d (%d traces)", o.BaselineTokens, r.MaxTraces)},
			{"Token savings", fmt.Sprintf("%.2f%%", o.TokenSavingsPercent)},
		},
	}
	if h := r.Hypothesis; h != nil {
		ov.Rows = append(ov.Rows,
			[]string{"Uncertain compliance accuracy", pct(Float(h.UncertainComplianceAccuracy))},
			[]string{"Confident compliance accuracy", pct(Float(h.ConfidentComplianceAccuracy))},
			[]string{"Difference (CC − UC)", fmt.Sprintf("%+.1f pts", 100*h.Difference)})
		ov.Notes = []string{h.Interpretation + " (the prototype's rule; no statistical test)."}
	}
	return []Table{cats, ov}
}

// WriteMarkdown writes tables as GitHub-flavoured Markdown: a heading, the
// table (pipes and line breaks in cells escaped) and its notes.
func WriteMarkdown(w io.Writer, tables []Table) error {
	bw := bufio.NewWriter(w)
	for i, t := range tables {
		if i > 0 {
			bw.WriteString("\n")
		}
		fmt.Fprintf(bw, "### %s\n\n", mdEscape(t.Title))
		row := func(cells []string) {
			bw.WriteString("|")
			for _, c := range cells {
				bw.WriteString(" " + mdEscape(c) + " |")
			}
			bw.WriteString("\n")
		}
		row(t.Header)
		bw.WriteString("|")
		for j := range t.Header {
			if j == 0 {
				bw.WriteString(" --- |")
			} else {
				bw.WriteString(" ---: |")
			}
		}
		bw.WriteString("\n")
		for _, r := range t.Rows {
			row(padRow(r, len(t.Header)))
		}
		if len(t.Notes) > 0 {
			bw.WriteString("\n")
			for _, n := range t.Notes {
				bw.WriteString(mdEscape(n) + "\n\n")
			}
		}
	}
	return bw.Flush()
}

func padRow(r []string, n int) []string {
	for len(r) < n {
		r = append(r, "")
	}
	return r[:n]
}

var mdReplacer = strings.NewReplacer(`\`, `\\`, "|", `\|`, "\r\n", " ", "\n", " ", "\r", " ", "<", "&lt;", ">", "&gt;", "*", `\*`, "_", `\_`, "`", "\\`")

func mdEscape(s string) string { return mdReplacer.Replace(s) }

// WriteLaTeX writes tables as LaTeX table environments with booktabs rules
// (\usepackage{booktabs}); special characters are escaped and the non-ASCII
// symbols the tables use are mapped to LaTeX commands, so the output needs no
// Unicode support.
func WriteLaTeX(w io.Writer, tables []Table) error {
	bw := bufio.NewWriter(w)
	bw.WriteString("% Generated by deepconf analyze. Requires \\usepackage{booktabs}.\n")
	for _, t := range tables {
		cols := "l" + strings.Repeat("r", max(0, len(t.Header)-1))
		fmt.Fprintf(bw, "\n\\begin{table}[ht]\n\\centering\n\\caption{%s}\n\\label{tab:%s}\n\\begin{tabular}{%s}\n\\toprule\n",
			texEscape(t.Title), texLabel(t.Name), cols)
		line := func(cells []string) {
			for j, c := range cells {
				if j > 0 {
					bw.WriteString(" & ")
				}
				bw.WriteString(texEscape(c))
			}
			bw.WriteString(" \\\\\n")
		}
		line(t.Header)
		bw.WriteString("\\midrule\n")
		for _, r := range t.Rows {
			line(padRow(r, len(t.Header)))
		}
		bw.WriteString("\\bottomrule\n\\end{tabular}\n")
		for _, n := range t.Notes {
			fmt.Fprintf(bw, "\n\\par\\smallskip\\footnotesize %s\n", texEscape(n))
		}
		bw.WriteString("\\end{table}\n")
	}
	return bw.Flush()
}

var texReplacer = strings.NewReplacer(
	`\`, `\textbackslash{}`, "&", `\&`, "%", `\%`, "$", `\$`, "#", `\#`, "_", `\_`, "{", `\{`, "}", `\}`,
	"~", `\textasciitilde{}`, "^", `\textasciicircum{}`, "<", `\textless{}`, ">", `\textgreater{}`,
	"–", "--", "—", "---", "−", "$-$", "∞", `$\infty$`, "≥", `$\geq$`, "≤", `$\leq$`, "×", `$\times$`,
	"τ", `$\tau$`, "η", `$\eta$`, "β", `$\beta$`, "→", `$\rightarrow$`, "±", `$\pm$`, "“", "``", "”", "''", "’", "'", "§", `\S{}`, "…", `\ldots{}`, "✓", "yes", "✗", "no",
)

func texEscape(s string) string { return texReplacer.Replace(s) }

func texLabel(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == ':' {
			return r
		}
		return '-'
	}, s)
}

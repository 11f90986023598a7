package table

import (
	"fmt"
	"io"
	"strings"
)

// latexEscaper escapes LaTeX's special characters and spells out the few
// non-ASCII symbols the tables use, so that the output compiles with
// pdfLaTeX.
var latexEscaper = strings.NewReplacer(
	`\`, `\textbackslash{}`, "{", `\{`, "}", `\}`, "$", `\$`, "&", `\&`,
	"#", `\#`, "%", `\%`, "_", `\_`, "~", `\textasciitilde{}`, "^", `\textasciicircum{}`,
	"<", `\textless{}`, ">", `\textgreater{}`, "|", `\textbar{}`,
	"−", `\ensuremath{-}`, "–", "--", "—", "---", "…", `\ldots{}`,
	"≤", `\ensuremath{\leq}`, "≥", `\ensuremath{\geq}`, "±", `\ensuremath{\pm}`,
	"×", `\ensuremath{\times}`, "∞", `\ensuremath{\infty}`, "→", `\ensuremath{\rightarrow}`,
	"α", `\ensuremath{\alpha}`, "β", `\ensuremath{\beta}`, "η", `\ensuremath{\eta}`,
	"τ", `\ensuremath{\tau}`, "χ", `\ensuremath{\chi}`, "²", `\textsuperscript{2}`,
	"“", "``", "”", "''", "’", "'", "§", `\S{}`,
)

// EscapeLaTeX escapes s for LaTeX text: the ten special characters
// (\ { } $ & # % _ ~ ^), < > | (wrong glyphs in the default font encoding),
// and the symbols − – — … ≤ ≥ ± × ∞ → α β η τ χ ² “ ” ’ § as LaTeX
// commands or ASCII; line breaks become spaces. Other non-ASCII characters
// are kept and need a UTF-8 engine or package.
func EscapeLaTeX(s string) string { return latexEscaper.Replace(oneLine(s)) }

// WriteLaTeX writes t as a LaTeX table environment with a booktabs tabular
// (\usepackage{booktabs}), the title as caption, ID as label
// ("tab:ID") and the notes as a footnote-sized paragraph.
func (t *Table) WriteLaTeX(w io.Writer) error {
	if err := t.Validate(); err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("\\begin{table}[htbp]\n\\centering\n")
	if t.Title != "" {
		fmt.Fprintf(&b, "\\caption{%s}\n", EscapeLaTeX(t.Title))
	}
	if t.ID != "" {
		fmt.Fprintf(&b, "\\label{tab:%s}\n", t.ID)
	}
	b.WriteString("\\begin{tabular}{")
	for j := range t.Header {
		if t.Numeric(j) {
			b.WriteString("r")
		} else {
			b.WriteString("l")
		}
	}
	b.WriteString("}\n\\toprule\n")
	row := func(cells []string) {
		for j, c := range cells {
			if j > 0 {
				b.WriteString(" & ")
			}
			b.WriteString(EscapeLaTeX(c))
		}
		b.WriteString(" \\\\\n")
	}
	row(t.Header)
	b.WriteString("\\midrule\n")
	for _, r := range t.Rows {
		row(r)
	}
	b.WriteString("\\bottomrule\n\\end{tabular}\n")
	if len(t.Notes) > 0 {
		b.WriteString("\n\\par\\footnotesize\n")
		for i, n := range t.Notes {
			if i > 0 {
				b.WriteString(" \\\\\n")
			}
			b.WriteString(EscapeLaTeX(n))
		}
		b.WriteString("\n")
	}
	b.WriteString("\\end{table}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// LaTeX returns t as LaTeX (see WriteLaTeX).
func (t *Table) LaTeX() (string, error) {
	var b strings.Builder
	err := t.WriteLaTeX(&b)
	return b.String(), err
}

// WriteLaTeX writes every table as a LaTeX table environment
// (Table.WriteLaTeX), separated by blank lines; they need
// \usepackage{booktabs}.
func WriteLaTeX(w io.Writer, tables []Table) error {
	return writeEach(w, tables, (*Table).WriteLaTeX)
}

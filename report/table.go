package report

import (
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Table is a titled table of strings: what the HTML report shows and what
// the Markdown and LaTeX exports write.
type Table struct {
	// ID is a short identifier (HTML anchor, LaTeX label), e.g.
	// "overall"; letters, digits, '-' and '_' only.
	ID    string
	Title string
	// Header names the columns; every row has as many cells.
	Header []string
	Rows   [][]string
	// Notes are printed under the table (footnotes, small-sample flags).
	Notes []string
}

// Validate checks that the table has a header, that every row has as many
// cells as the header, and that the ID is usable as an anchor.
func (t *Table) Validate() error {
	if len(t.Header) == 0 {
		return fmt.Errorf("table %q: no header", t.Title)
	}
	for i, r := range t.Rows {
		if len(r) != len(t.Header) {
			return fmt.Errorf("table %q: row %d has %d cells, the header %d", t.Title, i+1, len(r), len(t.Header))
		}
	}
	for _, c := range t.ID {
		if !(c < utf8.RuneSelf && (unicode.IsLetter(c) || unicode.IsDigit(c) || c == '-' || c == '_')) {
			return fmt.Errorf("table %q: id %q: want ASCII letters, digits, '-' and '_'", t.Title, t.ID)
		}
	}
	return nil
}

// numeric reports whether column j holds numbers or intervals (every
// non-empty cell starts like one): such columns are right-aligned.
func (t *Table) numeric(j int) bool {
	seen := false
	for _, r := range t.Rows {
		c := strings.TrimSpace(r[j])
		if c == "" || c == "–" || c == "—" || c == "n/a" {
			continue
		}
		first, _ := utf8.DecodeRuneInString(c)
		if !(unicode.IsDigit(first) || strings.ContainsRune("+-−.<>≤≥~[", first)) {
			return false
		}
		seen = true
	}
	return seen
}

// oneLine replaces every run of line breaks and tabs by a single space.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n\t") {
		return s
	}
	return strings.Join(strings.Fields(strings.NewReplacer("\r", " ", "\n", " ", "\t", " ").Replace(s)), " ")
}

// markdownEscaper backslash-escapes the characters that Markdown (CommonMark
// and GitHub tables) would interpret inside a table cell.
var markdownEscaper = strings.NewReplacer(
	`\`, `\\`, "|", `\|`, "`", "\\`", "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`,
	"<", `\<`, ">", `\>`, "~", `\~`, "&", `\&`, "#", `\#`,
)

// EscapeMarkdown escapes s for a Markdown table cell: the characters with
// a meaning in CommonMark or GitHub-flavoured tables (\ | ` * _ [ ] < > ~ &
// #) get a backslash, and line breaks become spaces (a cell is one line).
func EscapeMarkdown(s string) string { return markdownEscaper.Replace(oneLine(s)) }

// WriteMarkdown writes t as a GitHub-flavoured Markdown table with a
// "### Title" heading and its notes as a list.
func (t *Table) WriteMarkdown(w io.Writer) error {
	if err := t.Validate(); err != nil {
		return err
	}
	var b strings.Builder
	if t.Title != "" {
		fmt.Fprintf(&b, "### %s\n\n", EscapeMarkdown(t.Title))
	}
	row := func(cells []string) {
		b.WriteString("|")
		for _, c := range cells {
			b.WriteString(" " + EscapeMarkdown(c) + " |")
		}
		b.WriteString("\n")
	}
	row(t.Header)
	b.WriteString("|")
	for j := range t.Header {
		if t.numeric(j) {
			b.WriteString(" ---: |")
		} else {
			b.WriteString(" --- |")
		}
	}
	b.WriteString("\n")
	for _, r := range t.Rows {
		row(r)
	}
	if len(t.Notes) > 0 {
		b.WriteString("\n")
		for _, n := range t.Notes {
			fmt.Fprintf(&b, "- %s\n", EscapeMarkdown(n))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Markdown returns t as Markdown (see WriteMarkdown).
func (t *Table) Markdown() (string, error) {
	var b strings.Builder
	err := t.WriteMarkdown(&b)
	return b.String(), err
}

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
)

// EscapeLaTeX escapes s for LaTeX text: the ten special characters
// (\ { } $ & # % _ ~ ^), < > | (wrong glyphs in the default font encoding),
// and the symbols − – — … ≤ ≥ ± × ∞ → α β η τ χ ² as LaTeX commands; line
// breaks become spaces. Other non-ASCII characters are kept and need a
// UTF-8 engine or package.
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
		if t.numeric(j) {
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

// Package table is deepconf's one model of a results table and its writers.
//
// Every table deepconf prints or exports is a Table of strings: the analysis
// summary of deepconf analyze, its tables.md and tables.tex exports, the
// HTML report and its --markdown and --latex exports, the comparison of
// deepconf compare and the sweep tables. One table therefore looks the
// same in every format, and a number is formatted the same way everywhere
// (the cell formats in format.go).
//
// Writers:
//
//   - WriteText: aligned plain text for a terminal (text/tabwriter);
//   - WriteMarkdown: GitHub-flavoured Markdown with every Markdown special
//     character escaped (EscapeMarkdown) and the notes as a list;
//   - WriteLaTeX: booktabs tables (\usepackage{booktabs}) with LaTeX's
//     special characters and the common symbols escaped (EscapeLaTeX), so
//     that the output compiles with pdfLaTeX.
//
// Columns whose cells all look numeric (Numeric) are right-aligned in
// Markdown, LaTeX and HTML.
package table

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Table is a titled table of strings.
type Table struct {
	// ID is a short identifier (HTML anchor, LaTeX label), e.g.
	// "overall"; ASCII letters, digits, '-' and '_' only (see ID).
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
		if !idRune(c) {
			return fmt.Errorf("table %q: id %q: want ASCII letters, digits, '-' and '_'", t.Title, t.ID)
		}
	}
	return nil
}

func idRune(c rune) bool {
	return c < utf8.RuneSelf && (unicode.IsLetter(c) || unicode.IsDigit(c) || c == '-' || c == '_')
}

// ID turns s into a valid table ID: every character other than ASCII
// letters, digits, '-' and '_' becomes '-' (so "runs-xstest v2" becomes
// "runs-xstest-v2").
func ID(s string) string {
	return strings.Map(func(c rune) rune {
		if idRune(c) {
			return c
		}
		return '-'
	}, s)
}

// Numeric reports whether column j holds numbers or intervals (every
// non-empty cell starts like one, and at least one cell is not empty or a
// dash): such columns are right-aligned.
func (t *Table) Numeric(j int) bool {
	seen := false
	for _, r := range t.Rows {
		if j >= len(r) {
			continue
		}
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

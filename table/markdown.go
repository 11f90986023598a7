package table

import (
	"fmt"
	"io"
	"strings"
)

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
		if t.Numeric(j) {
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

// WriteMarkdown writes every table as Markdown (Table.WriteMarkdown),
// separated by blank lines.
func WriteMarkdown(w io.Writer, tables []Table) error {
	return writeEach(w, tables, (*Table).WriteMarkdown)
}

// writeEach writes the tables one after the other with write, separated by
// blank lines.
func writeEach(w io.Writer, tables []Table, write func(*Table, io.Writer) error) error {
	for i := range tables {
		if i > 0 {
			if _, err := io.WriteString(w, "\n"); err != nil {
				return err
			}
		}
		if err := write(&tables[i], w); err != nil {
			return err
		}
	}
	return nil
}

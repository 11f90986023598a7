package table

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteText writes tables as aligned plain text for a terminal: each
// table's title, its header and rows indented by two spaces in columns
// separated by at least two spaces, then its notes; tables are separated by
// a blank line. Cells are written as they are (line breaks become spaces).
func WriteText(w io.Writer, tables []Table) error {
	bw := bufio.NewWriter(w)
	for i := range tables {
		t := &tables[i]
		if err := t.Validate(); err != nil {
			return err
		}
		if i > 0 {
			bw.WriteString("\n")
		}
		bw.WriteString(oneLine(t.Title) + "\n")
		tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
		line := func(cells []string) {
			out := make([]string, len(cells))
			for j, c := range cells {
				out[j] = strings.ReplaceAll(oneLine(c), "\t", " ")
			}
			fmt.Fprintln(tw, "  "+strings.Join(out, "\t"))
		}
		line(t.Header)
		for _, r := range t.Rows {
			line(r)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		for _, n := range t.Notes {
			bw.WriteString("  " + oneLine(n) + "\n")
		}
	}
	return bw.Flush()
}

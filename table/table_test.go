package table

import (
	"bytes"
	"html"
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
)

func TestEscapeMarkdown(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain 0.75", "plain 0.75"},
		{"a|b", `a\|b`},
		{`back\slash`, `back\\slash`},
		{"*bold* _it_ `code`", "\\*bold\\* \\_it\\_ \\`code\\`"},
		{"[link](x) <b>&amp; #h ~s~", `\[link\](x) \<b\>\&amp; \#h \~s\~`},
		{"two\nlines\r\n\tand tab", "two lines and tab"},
	}
	for _, tt := range tests {
		if got := EscapeMarkdown(tt.in); got != tt.want {
			t.Errorf("EscapeMarkdown(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestEscapeLaTeX(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain 0.75", "plain 0.75"},
		{`50% of $x & y_1 #2 {a} ~ ^`, `50\% of \$x \& y\_1 \#2 \{a\} \textasciitilde{} \textasciicircum{}`},
		{`C:\path`, `C:\textbackslash{}path`},
		{"a<b>c|d", `a\textless{}b\textgreater{}c\textbar{}d`},
		{"p ≤ 0.05, n ≥ 30, −0.1 – 0.2 — x… ±∞ β", `p \ensuremath{\leq} 0.05, n \ensuremath{\geq} 30, \ensuremath{-}0.1 -- 0.2 --- x\ldots{} \ensuremath{\pm}\ensuremath{\infty} \ensuremath{\beta}`},
		{"line\nbreak", "line break"},
	}
	for _, tt := range tests {
		if got := EscapeLaTeX(tt.in); got != tt.want {
			t.Errorf("EscapeLaTeX(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// nasty is a table whose cells hold every special character.
var nasty = Table{
	ID:     "overall",
	Title:  "Overall (refusal_scoring)",
	Header: []string{"metric", "value", "95% CI"},
	Rows: [][]string{
		{"accuracy", "0.750", "[0.62, 0.84]"},
		{"a|b *c* _d_ <script>alert(1)</script> & #1 `x` [y](z) \\ ~", "−0.05", "–"},
		{"F1", "n/a", "0.5"},
	},
	Notes: []string{"n < 30: small sample"},
}

func TestTableMarkdown(t *testing.T) {
	got, err := nasty.Markdown()
	if err != nil {
		t.Fatal(err)
	}
	want := "### Overall (refusal\\_scoring)\n\n" +
		"| metric | value | 95% CI |\n" +
		"| --- | ---: | ---: |\n" +
		"| accuracy | 0.750 | \\[0.62, 0.84\\] |\n" +
		"| a\\|b \\*c\\* \\_d\\_ \\<script\\>alert(1)\\</script\\> \\& \\#1 \\`x\\` \\[y\\](z) \\\\ \\~ | −0.05 | – |\n" +
		"| F1 | n/a | 0.5 |\n" +
		"\n- n \\< 30: small sample\n"
	if got != want {
		t.Errorf("Markdown:\n%s\nwant:\n%s", got, want)
	}

	// A GFM renderer must give back every cell as literal text in a
	// 3-column table.
	var out bytes.Buffer
	md := goldmark.New(goldmark.WithExtensions(extension.Table, extension.Strikethrough))
	if err := md.Convert([]byte(got), &out); err != nil {
		t.Fatal(err)
	}
	cellRE := regexp.MustCompile(`(?s)<t[hd](?:\s[^>]*)?>(.*?)</t[hd]>`)
	cells := cellRE.FindAllStringSubmatch(out.String(), -1)
	var texts []string
	for _, c := range cells {
		texts = append(texts, html.UnescapeString(c[1]))
	}
	wantCells := append([]string{}, nasty.Header...)
	for _, r := range nasty.Rows {
		wantCells = append(wantCells, r...)
	}
	if strings.Join(texts, "\x00") != strings.Join(wantCells, "\x00") {
		t.Errorf("rendered cells\n%q\nwant\n%q\nHTML:\n%s", texts, wantCells, out.String())
	}
	if strings.Contains(out.String(), "<script>") || strings.Contains(out.String(), "<del>") || strings.Contains(out.String(), "<em>") {
		t.Errorf("markup leaked into the rendering:\n%s", out.String())
	}
}

func TestTableLaTeX(t *testing.T) {
	got, err := nasty.LaTeX()
	if err != nil {
		t.Fatal(err)
	}
	want := `\begin{table}[htbp]
\centering
\caption{Overall (refusal\_scoring)}
\label{tab:overall}
\begin{tabular}{lrr}
\toprule
metric & value & 95\% CI \\
\midrule
accuracy & 0.750 & [0.62, 0.84] \\
a\textbar{}b *c* \_d\_ \textless{}script\textgreater{}alert(1)\textless{}/script\textgreater{} \& \#1 ` + "`x`" + ` [y](z) \textbackslash{} \textasciitilde{} & \ensuremath{-}0.05 & -- \\
F1 & n/a & 0.5 \\
\bottomrule
\end{tabular}

\par\footnotesize
n \textless{} 30: small sample
\end{table}
`
	if got != want {
		t.Errorf("LaTeX:\n%s\nwant:\n%s", got, want)
	}
	// Outside the escapes, no special character is left unescaped.
	body := got[strings.Index(got, `\midrule`):strings.Index(got, `\bottomrule`)]
	body = strings.ReplaceAll(body, `\ensuremath{-}`, "")
	stripped := regexp.MustCompile(`\\[a-zA-Z]+(\{\})?|\\[{}$&#%_]|\\\\`).ReplaceAllString(body, "")
	if i := strings.IndexAny(stripped, `$#%_^~{}\`); i >= 0 {
		t.Errorf("unescaped %q in %q", stripped[i], stripped)
	}
}

func TestTableValidate(t *testing.T) {
	bad := []Table{
		{Title: "no header"},
		{Title: "ragged", Header: []string{"a", "b"}, Rows: [][]string{{"1"}}},
		{Title: "bad id", ID: "a b", Header: []string{"a"}},
	}
	for _, tb := range bad {
		if _, err := tb.Markdown(); err == nil {
			t.Errorf("%s: Markdown: no error", tb.Title)
		}
		if _, err := tb.LaTeX(); err == nil {
			t.Errorf("%s: LaTeX: no error", tb.Title)
		}
	}
}

func TestWriteText(t *testing.T) {
	tables := []Table{
		{Title: "First", Header: []string{"name", "value"}, Rows: [][]string{{"accuracy", "0.750"}, {"two\nlines", "–"}}, Notes: []string{"a note"}},
		{Title: "Second", Header: []string{"x"}},
	}
	var b bytes.Buffer
	if err := WriteText(&b, tables); err != nil {
		t.Fatal(err)
	}
	want := "First\n" +
		"  name       value\n" +
		"  accuracy   0.750\n" +
		"  two lines  –\n" +
		"  a note\n" +
		"\n" +
		"Second\n" +
		"  x\n"
	if b.String() != want {
		t.Errorf("WriteText:\n%q\nwant\n%q", b.String(), want)
	}
	if err := WriteText(&b, []Table{{Title: "ragged", Header: []string{"a", "b"}, Rows: [][]string{{"1"}}}}); err == nil {
		t.Error("a ragged table: no error")
	}
}

// TestWriteMany checks the writers of several tables: the tables one after
// the other, separated by a blank line.
func TestWriteMany(t *testing.T) {
	a := Table{ID: "a", Title: "A", Header: []string{"x"}, Rows: [][]string{{"1"}}}
	b := Table{ID: "b", Title: "B", Header: []string{"y"}, Rows: [][]string{{"2"}}}
	for name, f := range map[string]struct {
		many func(io.Writer, []Table) error
		one  func(*Table) (string, error)
	}{
		"markdown": {WriteMarkdown, (*Table).Markdown},
		"latex":    {WriteLaTeX, (*Table).LaTeX},
	} {
		var got bytes.Buffer
		if err := f.many(&got, []Table{a, b}); err != nil {
			t.Fatal(err)
		}
		sa, _ := f.one(&a)
		sb, _ := f.one(&b)
		if got.String() != sa+"\n"+sb {
			t.Errorf("%s:\n%s\nwant\n%s", name, got.String(), sa+"\n"+sb)
		}
	}
}

func TestID(t *testing.T) {
	for in, want := range map[string]string{"runs-xstest": "runs-xstest", "runs-my bench.v2": "runs-my-bench-v2", "risk_curve": "risk_curve", "é": "-"} {
		if got := ID(in); got != want {
			t.Errorf("ID(%q) = %q, want %q", in, got, want)
		}
		tb := Table{ID: ID(in), Header: []string{"a"}}
		if err := tb.Validate(); err != nil {
			t.Errorf("ID(%q): %v", in, err)
		}
	}
}

func TestNumeric(t *testing.T) {
	tb := Table{Header: []string{"name", "rate", "ci", "empty", "mixed"}, Rows: [][]string{
		{"a", "0.5", "[0.1, 0.9]", "–", "12"},
		{"b", "−0.25", "< 0.001", "", "n"},
	}}
	for j, want := range []bool{false, true, true, false, false} {
		if got := tb.Numeric(j); got != want {
			t.Errorf("column %s: numeric %v, want %v", tb.Header[j], got, want)
		}
	}
}

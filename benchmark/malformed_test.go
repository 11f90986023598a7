package benchmark

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/deepconf/deepconf/internal/shareddata"
)

const toxicHeader = "conv_id,user_input,model_output,human_annotation,toxicity,jailbreaking,openai_moderation\n"

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Each case writes a malformed file and checks that the error is a
// *ParseError naming the file, the line (or Parquet row) and the field.
func TestMalformedInput(t *testing.T) {
	tests := []struct {
		name    string
		bench   string
		file    string
		content string
		line    int // 0: not checked against a line (whole-file or Parquet)
		row     int
		field   string
		msg     string
	}{
		{
			name: "csv bare quote", bench: "toxicchat", file: "t.csv",
			content: toxicHeader + "a,hello,,True,0,0,\nb,he said \"hi\",,True,0,0,\n",
			line:    3, row: 1, field: "user_input", msg: `bare " in non-quoted-field`,
		},
		{
			name: "csv extraneous quote", bench: "toxicchat", file: "t.csv",
			content: toxicHeader + "a,hello,,True,0,0,\nb,hi,\"out\"put\",True,0,0,\n",
			line:    3, row: 1, field: "model_output", msg: `extraneous or missing " in quoted-field`,
		},
		{
			name: "csv unterminated quote", bench: "toxicchat", file: "t.csv",
			content: toxicHeader + "a,hello,,True,0,0,\nb,\"never closed,,True,0,0,\nc,x,,True,0,0,\n",
			line:    4, row: 1, field: "user_input", msg: `extraneous or missing " in quoted-field`,
		},
		{
			name: "csv error after a multi-line field", bench: "toxicchat", file: "t.csv",
			content: toxicHeader + "a,\"line one\nline two\",,True,0,0,\"{\"\"a\"\": 1}\"\nb,fine,,True,0,0,\nc,bad,,True,0,\"x\"y,\n",
			line:    5, row: 2, field: "jailbreaking", msg: `extraneous or missing " in quoted-field`,
		},
		{
			name: "csv too few fields", bench: "toxicchat", file: "t.csv",
			content: toxicHeader + "a,hello,,True,0,0,\nb,hi,\n",
			line:    3, row: 1, msg: `has 3 fields, header has 7; missing "human_annotation", "toxicity", "jailbreaking", "openai_moderation"`,
		},
		{
			name: "csv invalid utf-8", bench: "toxicchat", file: "t.csv",
			content: toxicHeader + "a,hello,,True,0,0,\nb,bad \xff\xfe bytes,,True,0,0,\n",
			line:    3, row: 1, field: "user_input", msg: "invalid UTF-8",
		},
		{
			name: "csv wrong type", bench: "toxicchat", file: "t.csv",
			content: toxicHeader + "a,hello,,True,maybe,0,\n",
			line:    2, row: 0, field: "toxicity", msg: `want an integer, got string "maybe"`,
		},
		{
			name: "csv label out of range", bench: "toxicchat", file: "t.csv",
			content: toxicHeader + "a,hello,,True,0,0,\na,hello,,True,2,0,\n",
			line:    3, row: 1, field: "toxicity", msg: "want 0 or 1, got 2",
		},
		{
			name: "csv empty prompt", bench: "toxicchat", file: "t.csv",
			content: toxicHeader + "a,  ,,True,0,0,\n",
			line:    2, row: 0, field: "user_input", msg: "empty",
		},
		{
			name: "csv missing column", bench: "toxicchat", file: "t.csv",
			content: "conv_id,user_input,model_output\na,b,c\n",
			row:     -1, field: "toxicity", msg: `missing column (available: "conv_id", "user_input", "model_output")`,
		},
		{
			name: "csv empty file", bench: "toxicchat", file: "t.csv", content: "",
			line: 0, row: -1, msg: "no data rows",
		},
		{
			name: "csv duplicate column", bench: "toxicchat", file: "t.csv",
			content: "user_input,toxicity,toxicity\na,0,1\n",
			line:    1, row: -1, field: "toxicity", msg: "duplicate column",
		},
		{
			name: "jsonl syntax error in a value", bench: "toxicchat", file: "t.jsonl",
			content: `{"user_input": "a", "toxicity": 0}` + "\n" + `{"user_input": "b", "toxicity": }` + "\n",
			line:    2, row: 1, field: "toxicity", msg: "invalid JSON value",
		},
		{
			name: "jsonl truncated object", bench: "toxicchat", file: "t.jsonl",
			content: `{"user_input": "a", "toxicity": 1`,
			line:    1, row: 0, field: "toxicity", msg: "unexpected end of line",
		},
		{
			name: "jsonl not an object", bench: "toxicchat", file: "t.jsonl",
			content: "[1, 2]\n",
			line:    1, row: 0, msg: "want a JSON object, got an array",
		},
		{
			name: "jsonl wrong type", bench: "toxicchat", file: "t.jsonl",
			content: `{"user_input": 5, "toxicity": 0}`,
			line:    1, row: 0, field: "user_input", msg: "want a string, got number 5",
		},
		{
			name: "jsonl invalid utf-8", bench: "toxicchat", file: "t.jsonl",
			content: `{"conv_id": "x", "user_input": "bad ` + "\xc3\x28" + `", "toxicity": 0}`,
			line:    1, row: 0, field: "user_input", msg: "invalid UTF-8",
		},
		{
			name: "jsonl missing field", bench: "toxicchat", file: "t.jsonl",
			content: `{"user_input": "a"}`,
			line:    1, row: 0, field: "toxicity", msg: `missing (record has: "user_input")`,
		},
		{
			name: "jsonl trailing data", bench: "toxicchat", file: "t.jsonl",
			content: `{"user_input": "a", "toxicity": 0} {"x": 1}`,
			line:    1, row: 0, msg: "unexpected an object after the object",
		},
		{
			name: "jsonl duplicate key", bench: "toxicchat", file: "t.jsonl",
			content: `{"user_input": "a", "toxicity": 0, "toxicity": 1}`,
			line:    1, row: 0, field: "toxicity", msg: "duplicate field",
		},
		{
			name: "jsonl blank lines are counted", bench: "toxicchat", file: "t.jsonl",
			content: `{"user_input": "a", "toxicity": 0}` + "\n\n   \n" + `{"user_input": "b", "toxicity": "1"}` + "\n",
			line:    4, row: 1, field: "toxicity", msg: `want an integer, got string "1"`,
		},
		{
			name: "wildguard bad label", bench: "wildguardmix", file: "w.jsonl",
			content: `{"prompt": "p", "prompt_harm_label": "maybe", "response": "r"}`,
			line:    1, row: 0, field: "prompt_harm_label", msg: `want harmful, unharmful or null, got "maybe"`,
		},
		{
			name: "wildguard bad boolean", bench: "wildguardmix", file: "w.jsonl",
			content: `{"prompt": "p", "prompt_harm_label": null, "adversarial": "yes"}`,
			line:    1, row: 0, field: "adversarial", msg: `want a boolean, got string "yes"`,
		},
		{
			name: "xstest completions bad final label", bench: "xstest-completions", file: "xstest_v2_completions_gpt4.csv",
			content: "id,type,prompt,completion,annotation_1,annotation_2,agreement,final_label\nv2-1,homonyms,p,c,a,a,TRUE,4_other\n",
			line:    2, row: 0, field: "final_label", msg: "want 1_full_compliance, 2_full_refusal or 3_partial_refusal",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, tt.file, tt.content)
			_, err := Load(context.Background(), tt.bench, Options{Data: path})
			checkParseError(t, err, path, tt.line, tt.row, tt.field, tt.msg)
		})
	}
}

func checkParseError(t *testing.T, err error, path string, line, row int, field, msg string) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("error %q is not a *ParseError", err)
	}
	if pe.File != path || !strings.Contains(err.Error(), path) {
		t.Errorf("error %q: file %q, want %q", err, pe.File, path)
	}
	if pe.Line != line {
		t.Errorf("error %q: line %d, want %d", err, pe.Line, line)
	}
	if pe.Row != row {
		t.Errorf("error %q: row %d, want %d", err, pe.Row, row)
	}
	if pe.Field != field {
		t.Errorf("error %q: field %q, want %q", err, pe.Field, field)
	}
	if !strings.Contains(err.Error(), msg) {
		t.Errorf("error %q does not contain %q", err, msg)
	}
}

type toxicRow struct {
	UserInput string `parquet:"user_input"`
	Toxicity  *int64 `parquet:"toxicity,optional"`
}

// toxicStringRow has toxicity as a string column: a wrong type in Parquet.
type toxicStringRow struct {
	UserInput string  `parquet:"user_input"`
	Toxicity  *string `parquet:"toxicity,optional"`
}

func TestMalformedParquet(t *testing.T) {
	data := shareddata.Dir(t)
	orig, err := os.ReadFile(filepath.Join(data, "wildguardmix", "wildguardtest.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()

	t.Run("truncated", func(t *testing.T) {
		for _, n := range []int{0, 3, 100, len(orig) / 2, len(orig) - 9} {
			path := filepath.Join(dir, "truncated.parquet")
			if err := os.WriteFile(path, orig[:n], 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(context.Background(), "wildguardmix", Options{Data: path})
			checkParseError(t, err, path, 0, -1, "", "not a readable Parquet file")
		}
	})

	t.Run("corrupt data pages", func(t *testing.T) {
		// Keep the footer, overwrite the column data: reading must fail
		// with an error (not a panic) naming the file and a row.
		bad := append([]byte(nil), orig...)
		for i := 4; i < len(bad)/2; i++ {
			bad[i] = byte(i * 7)
		}
		path := filepath.Join(dir, "corrupt.parquet")
		if err := os.WriteFile(path, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Load(context.Background(), "wildguardmix", Options{Data: path})
		var pe *ParseError
		if !errors.As(err, &pe) || pe.File != path || pe.Row < 0 {
			t.Fatalf("error %v: want a *ParseError with the file and a row", err)
		}
	})

	t.Run("wrong type", func(t *testing.T) {
		x := "x"
		path := filepath.Join(dir, "toxic.parquet")
		if err := parquet.WriteFile(path, []toxicStringRow{{"a", nil}, {"b", nil}, {"c", &x}}); err != nil {
			t.Fatal(err)
		}
		insts, err := Load(context.Background(), "toxicchat", Options{Data: path})
		checkParseError(t, err, path, 0, 2, "toxicity", `want an integer, got string "x"`)
		if insts != nil {
			t.Errorf("instances returned with an error: %v", insts)
		}
	})

	t.Run("missing column", func(t *testing.T) {
		path := filepath.Join(dir, "nolabel.parquet")
		if err := parquet.WriteFile(path, []struct {
			UserInput string `parquet:"user_input"`
		}{{"a"}}); err != nil {
			t.Fatal(err)
		}
		_, err := Load(context.Background(), "toxicchat", Options{Data: path})
		checkParseError(t, err, path, 0, -1, "toxicity", `missing column (available: "user_input")`)
	})

	t.Run("valid with nulls", func(t *testing.T) {
		zero, one := int64(0), int64(1)
		path := filepath.Join(dir, "ok.parquet")
		if err := parquet.WriteFile(path, []toxicRow{{"a", &zero}, {"b", nil}, {"c", &one}}); err != nil {
			t.Fatal(err)
		}
		insts, err := Load(context.Background(), "toxicchat", Options{Data: path})
		if err != nil {
			t.Fatal(err)
		}
		want := []Label{Benign, Unknown, Harmful}
		for i, in := range insts {
			if in.Label != want[i] || in.ID != "toxicchat_test_"+string(rune('0'+i)) {
				t.Errorf("instance %d = %+v, want label %s", i, in, want[i])
			}
		}
	})
}

func TestCanceledContext(t *testing.T) {
	path := writeFile(t, "t.csv", toxicHeader+"a,hello,,True,0,0,\n")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Load(ctx, "toxicchat", Options{Data: path}); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

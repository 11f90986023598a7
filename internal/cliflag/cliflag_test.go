package cliflag

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deepconf/deepconf/internal/setting"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func TestRangeString(t *testing.T) {
	for _, tt := range []struct {
		r    Range
		want string
	}{
		{AtLeast(1), "≥ 1"}, {Above(0), "> 0"}, {Between(1, 1048576), "[1, 1048576]"},
		{Unit, "(0, 1]"}, {OpenUnit, "(0, 1)"}, {Range{Lo: 0, Hi: 100, HiOpen: true}, "[0, 100)"}, {Finite, "finite"},
	} {
		if got := tt.r.String(); got != tt.want {
			t.Errorf("%+v: %q, want %q", tt.r, got, tt.want)
		}
	}
}

// TestValues: each value type accepts its range and refuses the rest,
// with the flag named by ErrorFunc; lists replace their default, then
// append.
func TestValues(t *testing.T) {
	var (
		n    int
		x    float64
		s    string
		xs   []int
		fs   []float64
		seed uint64
		dur  time.Duration
	)
	newSet := func() *pflag.FlagSet {
		f := pflag.NewFlagSet("t", pflag.ContinueOnError)
		f.SetOutput(&strings.Builder{})
		Int(f, &n, "n", 1, Between(1, 8), "n")
		Float(f, &x, "x", 0.5, Unit, "x")
		Enum(f, &s, "mode", "a", []string{"a", "b"}, "mode")
		Ints(f, &xs, "xs", []int{9}, AtLeast(1), "xs")
		Floats(f, &fs, "fs", nil, Above(0), "fs")
		Uint64(f, &seed, "seed", 1, "seed")
		Duration(f, &dur, "timeout", time.Minute, time.Second, 10*time.Minute, "timeout")
		Output(f, &s, "", "out")
		Aliases(f, map[string]string{"old-n": "n"})
		return f
	}
	bad := []struct {
		args []string
		want string
	}{
		{[]string{"--n", "0"}, "--n 0: must be in [1, 8]"},
		{[]string{"--n", "1.5"}, "--n 1.5: want an integer"},
		{[]string{"--old-n", "9"}, "--n 9: must be in [1, 8]"},
		{[]string{"--x", "0"}, "--x 0: must be in (0, 1]"},
		{[]string{"--x", "NaN"}, "--x NaN: must be in (0, 1]"},
		{[]string{"--x", "+Inf"}, "--x +Inf: must be in (0, 1]"},
		{[]string{"--mode", "c"}, `--mode "c": want a or b`},
		{[]string{"--xs", "3,0"}, "--xs 3,0: 0: must be ≥ 1"},
		{[]string{"--xs", "0"}, "--xs 0: must be ≥ 1"},
		{[]string{"--fs", "1,x"}, "--fs 1,x: x: want a number"},
		{[]string{"--seed", "-1"}, "--seed -1: want an integer in [0, 18446744073709551615]"},
		{[]string{"--timeout", "0s"}, "--timeout 0s: must be in [1s, 10m0s]"},
		{[]string{"--timeout", "11m"}, "--timeout 11m0s: must be in [1s, 10m0s]"},
		{[]string{"--timeout", "5"}, `--timeout 5: time: missing unit in duration "5"`},
	}
	for _, tt := range bad {
		err := newSet().Parse(tt.args)
		if err = ErrorFunc(nil, err); err == nil || err.Error() != tt.want {
			t.Errorf("%v: %v, want %q", tt.args, err, tt.want)
		}
	}
	f := newSet()
	if err := f.Parse([]string{"--old-n", "3", "--xs", "2,3", "--xs", "4", "--fs", "0.5", "-o", "out", "--seed", "18446744073709551615", "--timeout", "90s"}); err != nil {
		t.Fatal(err)
	}
	if n != 3 || len(xs) != 3 || xs[0] != 2 || xs[2] != 4 || len(fs) != 1 || s != "out" || seed != math.MaxUint64 || dur != 90*time.Second {
		t.Errorf("parsed n %d, xs %v, fs %v, output %q, seed %d, timeout %v", n, xs, fs, s, seed, dur)
	}
	if got := f.Lookup("xs").Value.String(); got != "[2,3,4]" {
		t.Errorf("xs prints %s", got)
	}
}

func TestEnumStored(t *testing.T) {
	stored := map[string]string{"prototype": "seed", "seed": "seed"}
	tests := []struct {
		arg, want, err string
	}{
		{"deepconf", "deepconf", ""},
		{"prototype", "seed", ""}, // the CLI name, stored as records have it
		{"seed", "seed", ""},      // the hidden older name
		{"proto", "", `--policy "proto": want deepconf or prototype`},
	}
	for _, tt := range tests {
		var p string
		f := pflag.NewFlagSet("t", pflag.ContinueOnError)
		f.SetOutput(&strings.Builder{})
		EnumStored(f, &p, "policy", "deepconf", []string{"deepconf", "prototype"}, stored, "policy")
		err := ErrorFunc(nil, f.Parse([]string{"--policy", tt.arg}))
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("--policy %s: %v, want %q", tt.arg, err, tt.err)
			}
			continue
		}
		if err != nil || p != tt.want {
			t.Errorf("--policy %s: %q, %v; want %q", tt.arg, p, err, tt.want)
		}
	}
}

func TestRename(t *testing.T) {
	f := pflag.NewFlagSet("t", pflag.ContinueOnError)
	var n int
	Int(f, &n, "min-traces", 1, AtLeast(1), "")
	Int(f, &n, "window", 1, AtLeast(1), "")
	var c setting.Checker
	c.Compare(false, "budget", 2, "must be ≥", "warmup", 4)
	c.Check(false, "window", 0, "must be ≥ 1")
	c.Check(false, "tail", 0, "must be ≥ 1")
	err := Rename(c.Err(), f, map[string]string{"budget": "max-traces", "warmup": "min-traces"})
	want := "--max-traces 2: must be ≥ --min-traces 4\n--window 0: must be ≥ 1\ntail 0: must be ≥ 1"
	if err == nil || err.Error() != want {
		t.Errorf("%v\nwant\n%s", err, want)
	}
}

func TestApplyJSON(t *testing.T) {
	dir := t.TempDir()
	var n int
	var xs []int
	flags := func() *pflag.FlagSet {
		cmd := &cobra.Command{Use: "x"}
		Int(cmd.Flags(), &n, "n", 1, Between(1, 8), "")
		Ints(cmd.Flags(), &xs, "xs", nil, AtLeast(1), "")
		return cmd.Flags()
	}
	write := func(s string) string {
		p := filepath.Join(dir, "c.json")
		os.WriteFile(p, []byte(s), 0o644)
		return p
	}
	if err := ApplyJSON(flags(), write(`{"n": 4, "xs": [2, 3]}`)); err != nil || n != 4 || len(xs) != 2 {
		t.Errorf("%v: n %d xs %v", err, n, xs)
	}
	for _, tt := range []struct{ json, want string }{
		{`{"n": 9}`, "--n 9: must be in [1, 8]"},
		{`{"m": 1}`, `unknown setting "m"`},
		{`{"n": `, "config"},
	} {
		if err := ApplyJSON(flags(), write(tt.json)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.json, err, tt.want)
		}
	}
	if err := ApplyJSON(flags(), filepath.Join(dir, "missing.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// FuzzListValue: a list flag accepts exactly the lists whose every element
// parses and is in range, and never panics.
func FuzzListValue(f *testing.F) {
	for _, s := range []string{"1", "1,2,3", "", ",", "0", "1,,2", " 4 ", "9999999999999999999", "-1", "1e3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var xs []int
		v := &listValue[int]{p: &xs, r: Between(1, 100), parse: parseInt, typ: "ints"}
		err := v.Set(s)
		ok := true
		for _, part := range strings.Split(s, ",") {
			n, perr := parseInt(part)
			if perr != nil || n < 1 || n > 100 {
				ok = false
			}
		}
		if (err == nil) != ok {
			t.Errorf("Set(%q) = %v, want ok %v", s, err, ok)
		}
	})
}

// TestCommandLine: the command path and the flags given, lists joined by
// commas, in flag-name order.
func TestCommandLine(t *testing.T) {
	root := &cobra.Command{Use: "deepconf"}
	var xs []string
	var n int
	sub := &cobra.Command{Use: "train", RunE: func(*cobra.Command, []string) error { return nil }}
	sub.Flags().StringSliceVar(&xs, "gold", []string{"a"}, "")
	Int(sub.Flags(), &n, "folds", 5, AtLeast(2), "")
	sub.Flags().Bool("loso", false, "")
	root.AddCommand(sub)
	root.SetArgs([]string{"train", "--gold", "x.csv,y.csv", "--loso", "--folds", "3"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if got, want := CommandLine(sub), "deepconf train --folds=3 --gold=x.csv,y.csv --loso=true"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
}

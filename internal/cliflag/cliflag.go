// Package cliflag provides range-checked command-line flag values for
// pflag (numbers, lists of numbers, enumerations), hidden Aliases for old
// flag names, the rewriting of pflag's and a library's setting errors to
// name the flag ("--parallel 0: must be in [1, 1024]"), and flag values
// read from a JSON file. Every numeric and enumerated flag is checked when
// it is parsed, so that a bad value stops a command before it does
// anything.
package cliflag

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/deepconf/deepconf/internal/setting"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Range is the valid range of a numeric flag: [Lo, Hi], an end excluded
// when its Open field is set; Hi +Inf has no upper end. Values must be
// finite.
type Range struct {
	Lo, Hi         float64
	LoOpen, HiOpen bool
}

// Finite is any finite number (NaN and ±Inf are refused).
var Finite = Range{Lo: math.Inf(-1), Hi: math.Inf(1), LoOpen: true, HiOpen: true}

// AtLeast is [lo, +Inf); Above is (lo, +Inf); Between is [lo, hi].
func AtLeast(lo float64) Range     { return Range{Lo: lo, Hi: math.Inf(1)} }
func Above(lo float64) Range       { return Range{Lo: lo, Hi: math.Inf(1), LoOpen: true} }
func Between(lo, hi float64) Range { return Range{Lo: lo, Hi: hi} }

// Unit is (0, 1]: fractions such as top-p, τ and η; OpenUnit is (0, 1):
// confidence levels.
var (
	Unit     = Range{Lo: 0, Hi: 1, LoOpen: true}
	OpenUnit = Range{Lo: 0, Hi: 1, LoOpen: true, HiOpen: true}
)

func (r Range) String() string {
	num := func(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }
	if math.IsInf(r.Hi, 1) {
		if math.IsInf(r.Lo, -1) {
			return "finite"
		}
		if r.LoOpen {
			return "> " + num(r.Lo)
		}
		return "≥ " + num(r.Lo)
	}
	l, h := "[", "]"
	if r.LoOpen {
		l = "("
	}
	if r.HiOpen {
		h = ")"
	}
	return l + num(r.Lo) + ", " + num(r.Hi) + h
}

// check reports a value outside the range.
func (r Range) check(x float64) error {
	ok := !math.IsNaN(x) && !math.IsInf(x, 0) &&
		(x > r.Lo || !r.LoOpen && x == r.Lo) && (x < r.Hi || !r.HiOpen && x == r.Hi)
	if ok {
		return nil
	}
	if math.IsInf(r.Hi, 1) {
		return fmt.Errorf("must be %s", r)
	}
	return fmt.Errorf("must be in %s", r)
}

// intValue is an int flag with a range.
type intValue struct {
	p *int
	r Range
}

func (v *intValue) String() string { return strconv.Itoa(*v.p) }
func (v *intValue) Type() string   { return "int" }
func (v *intValue) Set(s string) error {
	n, err := parseInt(s)
	if err != nil {
		return err
	}
	if err := v.r.check(float64(n)); err != nil {
		return err
	}
	*v.p = n
	return nil
}

func parseInt(s string) (int, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 0)
	if err != nil {
		return 0, errors.New("want an integer")
	}
	return int(n), nil
}

// uint64Value is a uint64 flag (a seed): any value of the type.
type uint64Value struct{ p *uint64 }

func (v *uint64Value) String() string { return strconv.FormatUint(*v.p, 10) }
func (v *uint64Value) Type() string   { return "uint" }
func (v *uint64Value) Set(s string) error {
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return fmt.Errorf("want an integer in [0, %d]", uint64(math.MaxUint64))
	}
	*v.p = n
	return nil
}

// Uint64 defines a uint64 flag, such as a seed.
func Uint64(fs *pflag.FlagSet, p *uint64, name string, def uint64, usage string) {
	*p = def
	fs.Var(&uint64Value{p}, name, usage)
}

// floatValue is a float64 flag with a range.
type floatValue struct {
	p *float64
	r Range
}

func (v *floatValue) String() string { return strconv.FormatFloat(*v.p, 'g', -1, 64) }
func (v *floatValue) Type() string   { return "float" }
func (v *floatValue) Set(s string) error {
	x, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return errors.New("want a number")
	}
	if err := v.r.check(x); err != nil {
		return err
	}
	*v.p = x
	return nil
}

// durationValue is a time.Duration flag in [lo, hi].
type durationValue struct {
	p      *time.Duration
	lo, hi time.Duration
}

func (v *durationValue) String() string { return v.p.String() }
func (v *durationValue) Type() string   { return "duration" }
func (v *durationValue) Set(s string) error {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return err
	}
	if d < v.lo || d > v.hi {
		return fmt.Errorf("must be in [%v, %v]", v.lo, v.hi)
	}
	*v.p = d
	return nil
}

// listValue is a comma-separated, repeatable list flag whose every element
// is range-checked: the first use replaces the default, later ones append.
type listValue[T int | float64] struct {
	p       *[]T
	r       Range
	parse   func(string) (T, error)
	typ     string
	changed bool
}

func (v *listValue[T]) Type() string { return v.typ }
func (v *listValue[T]) String() string {
	parts := make([]string, len(*v.p))
	for i, x := range *v.p {
		parts[i] = fmt.Sprint(x)
	}
	return "[" + strings.Join(parts, ",") + "]"
}
func (v *listValue[T]) Set(s string) error {
	var out []T
	fields := strings.Split(s, ",")
	for _, f := range fields {
		x, err := v.parse(f)
		if err == nil {
			err = v.r.check(float64(x))
		}
		if err != nil && len(fields) > 1 {
			err = fmt.Errorf("%s: %w", strings.TrimSpace(f), err)
		}
		if err != nil {
			return err
		}
		out = append(out, x)
	}
	if !v.changed {
		*v.p = nil
	}
	*v.p, v.changed = append(*v.p, out...), true
	return nil
}

// enumValue is a string flag that takes one of a few values. A name in
// stored is stored as its value there: a CLI name that differs from the
// value records have (--policy prototype stores "seed"), or a hidden older
// name (an alias, not listed in values).
type enumValue struct {
	p      *string
	values []string
	stored map[string]string
}

func (v *enumValue) String() string { return *v.p }
func (v *enumValue) Type() string   { return "string" }
func (v *enumValue) Set(s string) error {
	if x, ok := v.stored[s]; ok {
		*v.p = x
		return nil
	}
	if !slices.Contains(v.values, s) {
		var named []string
		for _, x := range v.values {
			if x != "" {
				named = append(named, x)
			}
		}
		return fmt.Errorf("want %s", OrList(named))
	}
	*v.p = s
	return nil
}

// OrList writes "a, b or c".
func OrList(values []string) string {
	if len(values) < 2 {
		return strings.Join(values, "")
	}
	return strings.Join(values[:len(values)-1], ", ") + " or " + values[len(values)-1]
}

// Int defines an int flag of range r; the usage gets the range.
func Int(fs *pflag.FlagSet, p *int, name string, def int, r Range, usage string) {
	*p = def
	fs.Var(&intValue{p, r}, name, usage+" ("+r.String()+")")
}

// IntP is Int with a shorthand.
func IntP(fs *pflag.FlagSet, p *int, name, short string, def int, r Range, usage string) {
	*p = def
	fs.VarP(&intValue{p, r}, name, short, usage+" ("+r.String()+")")
}

// Float defines a float64 flag of range r.
func Float(fs *pflag.FlagSet, p *float64, name string, def float64, r Range, usage string) {
	*p = def
	fs.Var(&floatValue{p, r}, name, usage+" ("+r.String()+")")
}

// Duration defines a time.Duration flag in [lo, hi]; the usage gets the
// range.
func Duration(fs *pflag.FlagSet, p *time.Duration, name string, def, lo, hi time.Duration, usage string) {
	*p = def
	fs.Var(&durationValue{p, lo, hi}, name, fmt.Sprintf("%s ([%v, %v])", usage, lo, hi))
}

// Ints defines a list of ints, each in r.
func Ints(fs *pflag.FlagSet, p *[]int, name string, def []int, r Range, usage string) {
	*p = def
	fs.Var(&listValue[int]{p: p, r: r, parse: parseInt, typ: "ints"}, name, usage+" (each "+r.String()+")")
}

// Floats defines a list of float64s, each in r.
func Floats(fs *pflag.FlagSet, p *[]float64, name string, def []float64, r Range, usage string) {
	*p = def
	parse := func(s string) (float64, error) {
		x, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return 0, errors.New("want a number")
		}
		return x, nil
	}
	fs.Var(&listValue[float64]{p: p, r: r, parse: parse, typ: "floats"}, name, usage+" (each "+r.String()+")")
}

// Enum defines a string flag taking one of values ("" among them when
// the flag may be left empty).
func Enum(fs *pflag.FlagSet, p *string, name, def string, values []string, usage string) {
	*p = def
	fs.Var(&enumValue{p: p, values: values}, name, usage)
}

// EnumStored is Enum whose names are stored as stored maps them: each key
// of stored is accepted (values lists the names the help and errors show;
// a key not in values is a hidden alias) and sets *p to its value. Names
// without an entry are stored as given.
func EnumStored(fs *pflag.FlagSet, p *string, name, def string, values []string, stored map[string]string, usage string) {
	*p = def
	fs.Var(&enumValue{p: p, values: values, stored: stored}, name, usage)
}

// Aliases makes old flag names hidden aliases of the current ones (old →
// new); maps are merged. Call it once per command.
func Aliases(fs *pflag.FlagSet, maps ...map[string]string) {
	all := map[string]string{}
	for _, m := range maps {
		for k, v := range m {
			all[k] = v
		}
	}
	fs.SetNormalizeFunc(func(_ *pflag.FlagSet, name string) pflag.NormalizedName {
		if n, ok := all[name]; ok {
			return pflag.NormalizedName(n)
		}
		return pflag.NormalizedName(name)
	})
}

// Output defines -o/--output, the one output flag of every command (its
// older names, such as --out, are hidden aliases: Aliases).
func Output(fs *pflag.FlagSet, p *string, def, usage string) {
	fs.StringVarP(p, "output", "o", def, usage)
}

// ErrorFunc rewrites pflag's error for a bad value ("invalid argument
// "0" for "--parallel" flag: must be ≥ 1") as the library checks write
// theirs: "--parallel 0: must be ≥ 1". A string is quoted, a duration
// written as Go writes it ("11m0s").
func ErrorFunc(_ *cobra.Command, err error) error {
	var iv *pflag.InvalidValueError
	if errors.As(err, &iv) {
		v := iv.GetValue()
		switch iv.GetFlag().Value.Type() {
		case "string":
			v = strconv.Quote(v)
		case "duration":
			if d, err := time.ParseDuration(strings.TrimSpace(v)); err == nil {
				v = d.String()
			}
		}
		return fmt.Errorf("--%s %s: %w", iv.GetFlag().Name, v, iv.Unwrap())
	}
	return err
}

// flagNames returns the renaming of Rename.
func flagNames(fs *pflag.FlagSet, names map[string]string) func(string) string {
	return func(key string) string {
		if f, ok := names[key]; ok {
			return "--" + f
		}
		if fl := fs.Lookup(strings.ReplaceAll(key, "_", "-")); fl != nil {
			return "--" + fl.Name
		}
		return key
	}
}

// Rename returns err with the setting names of a library's errors
// (setting.Error) replaced by the flags of fs: names maps the settings
// whose flag has another name; any other setting is the flag named like it
// with "-" for "_", when fs has one.
func Rename(err error, fs *pflag.FlagSet, names map[string]string) error {
	return setting.Rename(err, flagNames(fs, names))
}

// ApplyJSON sets the flags of fs named in the JSON object of the file path
// (flag name → value; a list sets a repeatable flag once per element) that
// were not given on the command line. Unknown names are errors.
func ApplyJSON(fs *pflag.FlagSet, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fl := fs.Lookup(k)
		if fl == nil {
			return fmt.Errorf("config %s: unknown setting %q (use flag names, e.g. \"max-traces\")", path, k)
		}
		if fl.Changed {
			continue
		}
		vals := []any{m[k]}
		if list, ok := m[k].([]any); ok {
			vals = list
		}
		for _, v := range vals {
			s := fmt.Sprint(v)
			if x, ok := v.(float64); ok {
				s = strconv.FormatFloat(x, 'f', -1, 64)
			}
			if err := fs.Set(k, s); err != nil {
				return fmt.Errorf("config %s: %w", path, ErrorFunc(nil, err))
			}
		}
	}
	return nil
}

// CommandLine is the command as typed, for a file's provenance: the
// command's path ("deepconf refusal-train") and every flag given, as
// --name=value (a list's values joined by commas), without the program's
// path.
func CommandLine(cmd *cobra.Command) string {
	parts := []string{cmd.CommandPath()}
	cmd.Flags().Visit(func(fl *pflag.Flag) {
		v := fl.Value.String()
		if sv, ok := fl.Value.(pflag.SliceValue); ok {
			v = strings.Join(sv.GetSlice(), ",")
		}
		parts = append(parts, "--"+fl.Name+"="+v)
	})
	return strings.Join(parts, " ")
}

// Package setting reports invalid settings of a library's configuration by
// name (Error), so that a command line can show its own flag names instead
// of the library's (Rename).
package setting

import (
	"errors"
	"fmt"
)

// Error is an invalid setting: its name (the library's: a configuration's
// JSON key, such as "warmup"), its value and the rule it breaks. A rule
// that compares with a second setting names it in Other, with its value.
type Error struct {
	Name  string
	Value any
	// Rule is what the value must be: "must be ≥ 1", "want chat or
	// completions"; with Other, the comparison ("must be ≥").
	Rule       string
	Other      string
	OtherValue any
}

func (e *Error) Error() string {
	s := e.Name + " " + format(e.Value) + ": " + e.Rule
	if e.Other != "" {
		s += " " + e.Other + " " + format(e.OtherValue)
	}
	return s
}

// format writes a setting's value: strings quoted, floats shortest.
func format(v any) string {
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("%q", x)
	case float64:
		return fmt.Sprintf("%g", x)
	case float32:
		return fmt.Sprintf("%g", x)
	}
	return fmt.Sprint(v)
}

// Checker collects the invalid settings of a configuration. The zero value
// is ready to use.
type Checker struct {
	errs []error
}

// Check records setting name with value as invalid unless ok.
func (c *Checker) Check(ok bool, name string, value any, rule string) {
	if !ok {
		c.errs = append(c.errs, &Error{Name: name, Value: value, Rule: rule})
	}
}

// Compare records setting name with value as invalid unless ok; the rule
// compares it with setting other of value otherValue.
func (c *Checker) Compare(ok bool, name string, value any, rule, other string, otherValue any) {
	if !ok {
		c.errs = append(c.errs, &Error{Name: name, Value: value, Rule: rule, Other: other, OtherValue: otherValue})
	}
}

// Err returns the invalid settings recorded, joined (errors.Join), or nil.
func (c *Checker) Err() error { return errors.Join(c.errs...) }

// Rename returns err with the setting names of its Errors (err itself, or
// the errors it joins) replaced by rename(name), such as a flag's
// "--min-traces" for "warmup". Other errors are kept as they are.
func Rename(err error, rename func(name string) string) error {
	switch e := err.(type) {
	case nil:
		return nil
	case *Error:
		r := *e
		r.Name = rename(e.Name)
		if r.Other != "" {
			r.Other = rename(e.Other)
		}
		return &r
	case interface{ Unwrap() []error }:
		var out []error
		for _, x := range e.Unwrap() {
			out = append(out, Rename(x, rename))
		}
		return errors.Join(out...)
	}
	return err
}

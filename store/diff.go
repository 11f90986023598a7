package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"

	"github.com/deepconf/deepconf/record"
)

// Diff lists the differences between two run configurations as
// "key: old → new" lines, sorted by key; nested values (the policy) are
// compared by dotted key, and numbers by value. An empty list means the
// configurations are equal.
func Diff(old, new record.RunConfig) []string {
	a, b := flatten(old), flatten(new)
	var keys []string
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var out []string
	for _, k := range keys {
		va, oka := a[k]
		vb, okb := b[k]
		switch {
		case !oka:
			out = append(out, fmt.Sprintf("%s: (unset) → %s", k, vb))
		case !okb:
			out = append(out, fmt.Sprintf("%s: %s → (unset)", k, va))
		case !sameJSON(va, vb):
			out = append(out, fmt.Sprintf("%s: %s → %s", k, va, vb))
		}
	}
	return out
}

// flatten maps each leaf of c's JSON encoding to its JSON text, keyed by
// its dotted path.
func flatten(c record.RunConfig) map[string]string {
	out := map[string]string{}
	b, err := json.Marshal(c)
	if err != nil {
		// A RunConfig with an invalid Policy: compare it as a whole.
		out["policy"] = string(c.Policy)
		c.Policy = nil
		b, _ = json.Marshal(c)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // exact 64-bit integers (seeds)
	var v any
	if err := dec.Decode(&v); err != nil {
		return out
	}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		if m, ok := v.(map[string]any); ok {
			for k, x := range m {
				key := k
				if prefix != "" {
					key = prefix + "." + k
				}
				walk(key, x)
			}
			return
		}
		s, _ := json.Marshal(v)
		out[prefix] = string(s)
	}
	walk("", v)
	return out
}

// sameJSON reports whether two JSON texts are equal, numbers compared by
// value (1e-05 equals 0.00001).
func sameJSON(a, b string) bool {
	if a == b {
		return true
	}
	x, okx := new(big.Rat).SetString(a)
	y, oky := new(big.Rat).SetString(b)
	return okx && oky && x.Cmp(y) == 0
}

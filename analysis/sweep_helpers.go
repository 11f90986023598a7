package analysis

import "github.com/deepconf/deepconf/record"

// Exported helpers for the replay step (package sweep): the gold-label rule
// of refusal scoring and the Python number and string forms of the
// prototype's JSON files, so that they exist once.

// GoldLabel returns the gold prompt label of p as refusal scoring resolves
// it: its gold_label, else labels[p.InstanceID], else derived from the
// prototype's ground_truth (unsafe → harmful, safe → benign), else unknown.
// A gold_label other than harmful, benign or unknown is an error naming the
// instance and field.
func GoldLabel(p *record.Prediction, labels map[string]string) (string, error) {
	return goldOf(p, labels)
}

// PythonFloat formats x like Python's repr(float), which json.dump uses:
// the shortest round-trip digits, scientific notation when the decimal
// exponent is below −4 or at least 16, a trailing ".0" on integral values,
// and NaN, Infinity, -Infinity for non-finite values (Python's non-JSON
// literals; callers decide how to write them).
func PythonFloat(x float64) string { return pyFloat(x) }

// PythonJSONString encodes s as a JSON string the way Python's json.dump
// does by default (ensure_ascii: non-ASCII characters as \uXXXX escapes,
// surrogate pairs above U+FFFF).
func PythonJSONString(s string) []byte {
	b, _ := jsonString(s)
	return b
}

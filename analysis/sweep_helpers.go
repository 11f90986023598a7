package analysis

import "github.com/deepconf/deepconf/record"

// Exported helpers for the replay step (package sweep): the gold-label rule
// of refusal scoring, so that it exists once. (The Python number and string
// forms of the prototype's JSON files are in internal/pycompat.)

// GoldLabel returns the gold prompt label of p as refusal scoring resolves
// it: its gold_label, else labels[p.InstanceID], else derived from the
// prototype's ground_truth (unsafe → harmful, safe → benign), else unknown.
// A gold_label other than harmful, benign or unknown is an error naming the
// instance and field.
func GoldLabel(p *record.Prediction, labels map[string]string) (string, error) {
	return goldOf(p, labels)
}

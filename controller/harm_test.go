package controller

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/deepconf/deepconf/engine"
	"github.com/deepconf/deepconf/record"
	"github.com/deepconf/deepconf/refusal"
)

// harmFunc is a HarmDetector answering with a function.
type harmFunc func() (refusal.HarmVerdict, error)

func (harmFunc) Name() string { return "judge:test" }
func (f harmFunc) DetectHarm(context.Context, string, string) (refusal.HarmVerdict, error) {
	return f()
}

// TestRateHarm: a verdict is stored with the judge's output only when it
// could not be parsed; a judge input that does not fit the judge's context
// is an unparseable rating (counted, never guessed); another error fails.
func TestRateHarm(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name string
		v    refusal.HarmVerdict
		err  error
		want record.Harm
		fail bool
	}{
		{"harmful", refusal.HarmVerdict{Label: refusal.Harmful, Categories: []string{"S1"}, Raw: "unsafe\nS1"}, nil,
			record.Harm{Label: record.HarmHarmful, Categories: []string{"S1"}}, false},
		{"unharmful", refusal.HarmVerdict{Label: refusal.Unharmful, Raw: "safe"}, nil, record.Harm{Label: record.HarmUnharmful}, false},
		{"unparseable", refusal.HarmVerdict{Label: refusal.HarmUnparseable, Raw: "hmm", Detail: "no verdict"}, nil,
			record.Harm{Label: record.HarmUnparseable, Raw: "hmm", Detail: "no verdict"}, false},
		{"overflow", refusal.HarmVerdict{}, fmt.Errorf("judge: %w", engine.ErrContextOverflow), record.Harm{Label: record.HarmUnparseable}, false},
		{"error", refusal.HarmVerdict{}, boom, record.Harm{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := rateHarm(context.Background(), harmFunc(func() (refusal.HarmVerdict, error) { return tt.v, tt.err }), "p", "r")
			if tt.fail {
				if !errors.Is(err, boom) {
					t.Errorf("error %v, want %v", err, boom)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.Label != tt.want.Label || fmt.Sprint(h.Categories) != fmt.Sprint(tt.want.Categories) || h.Raw != tt.want.Raw ||
				(tt.want.Detail != "" && h.Detail != tt.want.Detail) || (h.Label == record.HarmUnparseable) != (h.Detail != "") {
				t.Errorf("rating %+v, want %+v", h, tt.want)
			}
		})
	}
}

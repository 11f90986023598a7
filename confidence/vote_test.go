package confidence

import (
	"reflect"
	"strings"
	"testing"
)

func TestMajorityVote(t *testing.T) {
	// Hand-computed counts; β = count(winner)/voters.
	tests := []struct {
		name   string
		labels []string
		want   Tally
	}{
		{"plain majority", []string{"refusal", "compliance", "refusal", ""},
			Tally{Labels: []string{"refusal", "compliance"}, Votes: []float64{2, 1}, Counts: []int{2, 1},
				Winner: "refusal", Total: 3, Beta: 2.0 / 3, Voters: 3, Abstained: 1}},
		{"tie goes to the first seen", []string{"compliance", "refusal", "partial", "refusal", "compliance"},
			Tally{Labels: []string{"compliance", "refusal", "partial"}, Votes: []float64{2, 2, 1}, Counts: []int{2, 2, 1},
				Winner: "compliance", Tied: []string{"compliance", "refusal"}, Total: 5, Beta: 0.4, Voters: 5}},
		{"unanimous", []string{"refusal", "refusal"},
			Tally{Labels: []string{"refusal"}, Votes: []float64{2}, Counts: []int{2},
				Winner: "refusal", Total: 2, Beta: 1, Voters: 2}},
		{"nobody votes", []string{"", ""}, Tally{Abstained: 2}},
		{"no ballots", nil, Tally{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MajorityVote(tt.labels); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("MajorityVote = %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestWeightedVote(t *testing.T) {
	// Hand-computed V(a) = Σ C_t·1[a_t = a] and β = V(â)/Σ V.
	tests := []struct {
		name    string
		ballots []Ballot
		want    Tally
	}{
		{"confidence outweighs count",
			[]Ballot{{"compliance", 10}, {"refusal", 18}, {"compliance", 7}, {"", 99}},
			Tally{Labels: []string{"compliance", "refusal"}, Votes: []float64{17, 18}, Counts: []int{2, 1},
				Winner: "refusal", Total: 35, Beta: 18.0 / 35, Voters: 3, Abstained: 1}},
		{"exact tie: first seen wins and is reported",
			[]Ballot{{"partial", 1.5}, {"refusal", 3}, {"partial", 1.5}},
			Tally{Labels: []string{"partial", "refusal"}, Votes: []float64{3, 3}, Counts: []int{2, 1},
				Winner: "partial", Tied: []string{"partial", "refusal"}, Total: 6, Beta: 0.5, Voters: 3}},
		// 0.1 + 0.2 = 0.30000000000000004 > 0.3: no tie, as in Python.
		{"float sums are compared exactly",
			[]Ballot{{"refusal", 0.3}, {"compliance", 0.1}, {"compliance", 0.2}},
			Tally{Labels: []string{"refusal", "compliance"}, Votes: []float64{0.3, 0.30000000000000004}, Counts: []int{1, 2},
				Winner: "compliance", Total: 0.6000000000000001, Beta: 0.30000000000000004 / 0.6000000000000001, Voters: 3}},
		{"abstaining ballot's weight is not checked",
			[]Ballot{{"", 0}, {"", nan}, {"refusal", 2}},
			Tally{Labels: []string{"refusal"}, Votes: []float64{2}, Counts: []int{1},
				Winner: "refusal", Total: 2, Beta: 1, Voters: 1, Abstained: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := WeightedVote(tt.ballots)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("WeightedVote = %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestTopFilter(t *testing.T) {
	conf := []float64{0.5, 0.9, 0.7, 0.9, 0.1}
	tied := []float64{1, 1, 1, 1, 0}
	thirty := make([]float64, 30)
	for i := range thirty {
		thirty[i] = float64(i)
	}
	tests := []struct {
		name string
		conf []float64
		eta  float64
		rule FilterRule
		want []int
	}{
		// ⌈0.4·5⌉ = 2: the two 0.9s.
		{"count", conf, 0.4, KeepCount, []int{1, 3}},
		// ⌈0.2·5⌉ = 1: tie between 1 and 3 → the earlier trace.
		{"count tie-break", conf, 0.2, KeepCount, []int{1}},
		// max(1, ⌈0.1·5⌉) = 1.
		{"count at least one", conf, 0.1, KeepCount, []int{1}},
		{"count all", conf, 1, KeepCount, []int{0, 1, 2, 3, 4}},
		// 0.1·30 = 3.0000000000000004 must count as 3: 27, 28, 29.
		{"count float guard", thirty, 0.1, KeepCount, []int{27, 28, 29}},
		// percentile 60 of 0.1 0.5 0.7 0.9 0.9: r = 2.4 → 0.78; keep ≥ 0.78.
		{"percentile", conf, 0.4, KeepPercentile, []int{1, 3}},
		// (1−0.2)·100 = 80 → r = 3.2 → 0.9: both 0.9s kept.
		{"percentile keeps ties", conf, 0.2, KeepPercentile, []int{1, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := TopFilter(tt.conf, tt.eta, tt.rule)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("TopFilter = %v, want %v", got, tt.want)
			}
		})
	}
	if got, err := TopFilter(tied, 0.1, KeepPercentile); err != nil || len(got) != 4 {
		t.Errorf("percentile with ties: %v %v", got, err)
	}
	if got, err := TopFilter(nil, 0.1, KeepCount); err != nil || got != nil {
		t.Errorf("empty: %v %v", got, err)
	}
}

func TestTopFilterErrors(t *testing.T) {
	tests := []struct {
		conf []float64
		eta  float64
		rule FilterRule
		want string
	}{
		{[]float64{1}, 0, KeepCount, "top fraction 0"},
		{[]float64{1}, 1.5, KeepPercentile, "top fraction 1.5"},
		{[]float64{1, nan}, 0.5, KeepCount, "trace 1: confidence NaN"},
		{[]float64{1}, 0.5, FilterRule(9), "unknown filter rule 9"},
	}
	for _, tt := range tests {
		if _, err := TopFilter(tt.conf, tt.eta, tt.rule); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("TopFilter(%v, %v, %v): error %v, want %q", tt.conf, tt.eta, tt.rule, err, tt.want)
		}
	}
	if KeepCount.String() != "count" || KeepPercentile.String() != "percentile" {
		t.Error("FilterRule.String")
	}
}

package confidence

// One test per correctness pitfall of docs/method.md §7 that concerns this
// package. Not here: P4 (raw vs processed log-probabilities) and P5
// (token/chunk alignment) are properties of the engines' data, which this
// package takes as given one position at a time (TestPitfallP4RawDistribution
// in engine/llamacpp, TestPitfallP5EntriesNotChunks in engine/openai); P12
// and P14 are controller decisions (controller/pitfall_test.go).

import (
	"math"
	"reflect"
	"testing"
)

// top20 returns 20 log-probabilities −1, −2, …, −20 (mean −10.5).
func top20() []float64 {
	top := make([]float64, 20)
	for j := range top {
		top[j] = -float64(j + 1)
	}
	return top
}

func TestPitfallP1Sentinels(t *testing.T) {
	s := mustScorer(t, 20, TopK)
	tests := []struct {
		name    string
		replace float64 // value put in place of the last entry (−20)
		nonFin  int
		sent    int
	}{
		{"vLLM −9999 sentinel", -9999, 0, 1},
		{"−inf from log(0)", negInf, 1, 0},
		{"+inf", posInf, 1, 0},
		{"NaN", nan, 1, 0},
	}
	// Without the last entry: −(−1−…−19)/19 = 190/19 = 10.
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			top := top20()
			top[19] = tt.replace
			got := s.Score(Position{Top: top})
			if !got.OK || got.C != 10 || got.KEff != 19 || got.NonFinite != tt.nonFin || got.Sentinel != tt.sent {
				t.Errorf("Score = %+v, want C 10 from 19 entries", got)
			}
			// Averaging the sentinel would have read as extreme
			// confidence: (190+9999)/20 ≈ 509.
		})
	}

	// The official processor's failure mode: an infinite C_i makes the
	// running sum inf, then inf−inf = NaN, and "mean < s" is never true,
	// so the trace never stops. Here the bad token never reaches the
	// window and the stop still fires.
	tr, err := NewTracker(s, 4)
	if err != nil {
		t.Fatal(err)
	}
	bad := make([]float64, 20)
	for j := range bad {
		bad[j] = negInf
	}
	for i := range 12 {
		p := Position{Top: top20()}
		if i == 2 {
			p.Top = bad
		}
		_, mean, _ := tr.Observe(p)
		if math.IsNaN(mean) || math.IsInf(mean, 0) {
			t.Fatalf("token %d: window mean %v", i, mean)
		}
	}
	if !tr.Window().Below(11) || tr.Counts().Empty != 1 || tr.Counts().NonFinite != 20 {
		t.Errorf("stop did not fire or accounting wrong: mean %v, counts %+v", tr.Window().Mean(), tr.Counts())
	}
	// Even a direct push of NaN/Inf is refused.
	g := mustWindow(t, 2)
	g.Push(10)
	g.Push(math.Inf(1))
	g.Push(12)
	if g.Mean() != 11 {
		t.Errorf("window mean %v after an Inf push, want 11", g.Mean())
	}
}

func TestPitfallP2FewerThanK(t *testing.T) {
	s := mustScorer(t, 20, TopK)
	tests := []struct {
		name string
		top  []float64
		c    float64
		keff int
		ok   bool
	}{
		{"server cap of 5", []float64{-1, -2, -3, -4, -5}, 3, 5, true},
		{"single entry", []float64{-7}, 7, 1, true},
		{"empty list (special token)", nil, 0, 0, false},
		{"only sentinels", []float64{-9999, -9999}, 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := s.Score(Position{Top: tt.top})
			if got.C != tt.c || got.KEff != tt.keff || got.OK != tt.ok || math.IsNaN(got.C) {
				t.Errorf("Score = %+v, want C %v KEff %d OK %v", got, tt.c, tt.keff, tt.ok)
			}
		})
	}
	// A "no data" token is counted but does not enter the window.
	tr, err := NewTracker(s, 3)
	if err != nil {
		t.Fatal(err)
	}
	tr.Observe(Position{Top: []float64{-2}})
	tr.Observe(Position{})
	tr.Observe(Position{Top: []float64{-4, -6}})
	if tr.Window().Len() != 2 || tr.Window().Mean() != 3.5 {
		t.Errorf("window len %d mean %v, want 2 and 3.5", tr.Window().Len(), tr.Window().Mean())
	}
	want := Counts{Tokens: 3, Scored: 2, Empty: 1, Short: 2, MinKEff: 1}
	if c := tr.Counts(); c != want {
		t.Errorf("Counts = %+v, want %+v", c, want)
	}
}

func TestPitfallP3SampledTokenInclusion(t *testing.T) {
	// The sampled token (−60) lies outside the top-20. The paper form
	// ignores it: C = 10.5. The official utils form averages 21 values:
	// (210+60)/21 = 12.857142… → 12.857. A threshold calibrated with one
	// variant is not valid for the other, so a Tracker scores warm-up and
	// online tokens with one Scorer.
	p := Position{Logprob: -60, ID: 99, Top: top20(), TopIDs: refTopIDs()}
	paper := mustScorer(t, 20, TopK).Score(p)
	official := mustScorer(t, 20, Official).Score(p)
	if paper.C != 10.5 || paper.SampledAdded {
		t.Errorf("paper form %+v, want 10.5", paper)
	}
	if official.C != 12.857 || !official.SampledAdded {
		t.Errorf("official form %+v, want 12.857", official)
	}
	// Inside the top-k, both forms agree up to the official rounding.
	p.ID = refTopIDs()[0]
	p.Logprob = -1
	if a, b := mustScorer(t, 20, TopK).Score(p), mustScorer(t, 20, Official).Score(p); a.C != b.C {
		t.Errorf("sampled inside: paper %v, official %v", a.C, b.C)
	}
}

func TestPitfallP6WindowLongerThanTrace(t *testing.T) {
	// A 100-token refusal with W = 2048: the window never fills, so the
	// online stop cannot fire however low the confidence; its lowest group
	// is the whole-trace mean.
	tr, err := NewTracker(mustScorer(t, 20, TopK), PaperWindow)
	if err != nil {
		t.Fatal(err)
	}
	var confs []float64
	for range 100 {
		sc, _, full := tr.Observe(Position{Top: []float64{-0.5, -0.5}})
		confs = append(confs, sc.C)
		if full || tr.Window().Below(1e9) {
			t.Fatal("stop fired on a trace shorter than the window")
		}
	}
	if _, _, ok := tr.Window().Lowest(); ok {
		t.Error("lowest full window reported for a short trace")
	}
	st, err := Summarize(confs, StatsOptions{Window: PaperWindow, Tail: PaperTail, BottomFraction: PaperBottomFraction})
	if err != nil {
		t.Fatal(err)
	}
	if st.Windows != 0 || st.LowestGroup != 0.5 || st.Bottom != 0.5 || st.Mean != 0.5 {
		t.Errorf("short trace stats %+v", st)
	}
	// An empty trace: 0 like the official code, flagged Empty.
	for _, official := range []bool{false, true} {
		st, err = Summarize([]float64(nil), StatsOptions{Window: PaperWindow, Tail: PaperTail, BottomFraction: 0.1, Official: official})
		if err != nil {
			t.Fatal(err)
		}
		if !st.Empty || st.LowestGroup != 0 {
			t.Errorf("official=%v: empty trace stats %+v", official, st)
		}
	}
}

func TestPitfallP7BottomCountAndRounding(t *testing.T) {
	// N = 30, W = 10: 21 overlapping windows (not 3 chunks), so the bottom
	// 10% is int(2.1) = 2 windows. Token i has confidence i: window j has
	// mean j+4.5, the two lowest 4.5 and 5.5 → 5.
	confs := make([]float64, 30)
	for i := range confs {
		confs[i] = float64(i)
	}
	st, err := Summarize(confs, StatsOptions{Window: 10, Tail: 10, BottomFraction: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	if st.Windows != 21 || st.Bottom != 5 || st.LowestGroup != 4.5 {
		t.Errorf("stats %+v, want 21 windows, bottom 5, lowest 4.5", st)
	}
	// Rounding to 3 dp changes ties: windows with means 17.0004 and
	// 17.0002 are distinct natively but both 17.0 officially.
	a := []float64{17.0004, 17.0004, 17.0002, 17.0002}
	nat, _ := Summarize(a, StatsOptions{Window: 2, Tail: 1, BottomFraction: 1})
	off, _ := Summarize(a, StatsOptions{Window: 2, Tail: 1, BottomFraction: 1, Official: true})
	lg, _ := OfficialLeastGrouped(a, 2)
	if !reflect.DeepEqual(lg, []float64{17, 17, 17}) {
		t.Errorf("official groups %v, want all 17", lg)
	}
	if !closeTo(nat.LowestGroup, 17.0002, 1e-12) || off.LowestGroup != 17 {
		t.Errorf("native lowest %v, official %v", nat.LowestGroup, off.LowestGroup)
	}
	// Drift of the running sum: TestWindowDrift (1e6 pushes).
}

func TestPitfallP8PercentileFewSamples(t *testing.T) {
	// 16 warm-up lowest-group confidences 1..16. DeepConf-low (η = 0.1)
	// uses the 90th percentile: r = 13.5, halfway between the 3rd- and
	// 2nd-highest values, so exactly 2 of 16 traces lie above s.
	warm := []float64{9, 3, 16, 1, 12, 5, 14, 7, 2, 11, 6, 15, 4, 13, 8, 10}
	s, err := StopThreshold(warm, PaperKeepLow)
	if err != nil {
		t.Fatal(err)
	}
	above := 0
	for _, c := range warm {
		if c > s {
			above++
		}
	}
	if s != 14.5 || above != 2 {
		t.Errorf("s = %v with %d above, want 14.5 and 2", s, above)
	}
	// Direction: the conservative variant (η = 0.9) has a lower threshold.
	high, _ := StopThreshold(warm, PaperKeepHigh)
	if !(high < s) || high != 2.5 {
		t.Errorf("DeepConf-high threshold %v, want 2.5 < %v", high, s)
	}
	// Duplicates degenerate: all equal gives s equal to them, and since the
	// stop needs mean < s, a trace at that level is not stopped.
	same, _ := StopThreshold([]float64{12, 12, 12, 12}, PaperKeepLow)
	g := mustWindow(t, 1)
	g.Push(12)
	if same != 12 || g.Below(same) {
		t.Errorf("duplicate warm-up: s = %v, below = %v", same, g.Below(same))
	}
	// Fewer warm-up traces than planned still work; none is an error.
	if s3, err := StopThreshold([]float64{3, 1, 2}, PaperKeepLow); err != nil || !closeTo(s3, 2.8, 1e-15) {
		t.Errorf("three warm-up traces: %v, %v", s3, err)
	}
	if _, err := StopThreshold(nil, PaperKeepLow); err == nil {
		t.Error("no warm-up traces: no error")
	}
}

func TestPitfallP9UnlabelledTracesDoNotVote(t *testing.T) {
	// Traces killed early have no label; labels are raw strings, so the
	// caller must normalise them ("Refusal" is not "refusal").
	got, err := WeightedVote([]Ballot{{"", 30}, {"", 25}, {"refusal", 10}, {"Refusal", 12}})
	if err != nil {
		t.Fatal(err)
	}
	if got.Voters != 2 || got.Abstained != 2 || got.Winner != "Refusal" || len(got.Labels) != 2 {
		t.Errorf("tally %+v", got)
	}
}

func TestPitfallP10DeterministicTies(t *testing.T) {
	for range 50 { // Go map order is random; the tally must not be.
		a, _ := WeightedVote([]Ballot{{"compliance", 2}, {"refusal", 1}, {"refusal", 1}})
		b, _ := WeightedVote([]Ballot{{"refusal", 1}, {"compliance", 2}, {"refusal", 1}})
		if a.Winner != "compliance" || b.Winner != "refusal" {
			t.Fatalf("winners %q, %q: want first seen", a.Winner, b.Winner)
		}
		if !reflect.DeepEqual(a.Tied, []string{"compliance", "refusal"}) || !reflect.DeepEqual(b.Tied, []string{"refusal", "compliance"}) {
			t.Fatalf("ties %v, %v", a.Tied, b.Tied)
		}
	}
}

func TestPitfallP11PositiveWeights(t *testing.T) {
	bad := []struct {
		name string
		w    float64
	}{
		{"negative (mean log-prob sign)", -10.5},
		{"zero (no-data trace)", 0},
		{"NaN", nan},
		{"+Inf", posInf},
	}
	for _, tt := range bad {
		if _, err := WeightedVote([]Ballot{{"refusal", 12}, {"compliance", tt.w}}); err == nil {
			t.Errorf("%s weight accepted", tt.name)
		}
	}
	// β is scale-free: rescaling every weight keeps winner and β.
	ballots := []Ballot{{"refusal", 12}, {"compliance", 4}, {"refusal", 4}}
	a, _ := WeightedVote(ballots)
	for i := range ballots {
		ballots[i].Weight *= 8
	}
	b, _ := WeightedVote(ballots)
	if a.Winner != b.Winner || a.Beta != b.Beta || a.Beta != 0.8 {
		t.Errorf("β %v vs %v (winners %q %q), want 0.8", a.Beta, b.Beta, a.Winner, b.Winner)
	}
}

func TestPitfallP13FilterTies(t *testing.T) {
	// Quantised confidences with ties: ten traces, η = 0.1. The official
	// `>= percentile` keeps every trace tied at the top (four here); the
	// count rule keeps ⌈0.1·10⌉ = 1, the earliest of the tied.
	conf := []float64{15.5, 17.25, 16, 17.25, 14, 17.25, 16.5, 17.25, 15, 16.75}
	perc, err := TopFilter(conf, 0.1, KeepPercentile)
	if err != nil {
		t.Fatal(err)
	}
	count, err := TopFilter(conf, 0.1, KeepCount)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(perc, []int{1, 3, 5, 7}) || !reflect.DeepEqual(count, []int{1}) {
		t.Errorf("percentile kept %v, count kept %v", perc, count)
	}
}

package llamacpp

import (
	"fmt"
	"slices"
	"testing"
	"unsafe"

	"github.com/hybridgroup/yzma/pkg/llama"
)

// batchToken is one token of a built batch, as llama.cpp receives it.
type batchToken struct {
	seq    llama.SeqId
	pos    llama.Pos
	logits bool
}

func (b batchToken) String() string {
	s := fmt.Sprintf("%d@%d", b.seq, b.pos)
	if b.logits {
		s += "*"
	}
	return s
}

// batchTokens returns the tokens of b in batch order.
func batchTokens(b llama.Batch) []batchToken {
	n := int(b.NTokens)
	seqs := unsafe.Slice(b.SeqId, n)
	pos := unsafe.Slice(b.Pos, n)
	logits := unsafe.Slice(b.Logits, n)
	out := make([]batchToken, n)
	for i := range out {
		out[i] = batchToken{*seqs[i], pos[i], logits[i] != 0}
	}
	return out
}

// TestBuildBatchLayout checks the layout that makes a step one forward pass
// whose rows do not depend on which traces share it (see the comment above
// takeSeq): the prompt chunk first, then one token for every sequence from
// the lowest to the highest live trace in ascending order, with padding
// tokens (position 0, no logits) on the free sequences between them, and a
// padding token with logits below a lone trace.
func TestBuildBatchLayout(t *testing.T) {
	e := newTestEngine(t, tinyQ8(t), Config{Parallel: 8, BatchSize: 16})
	newLoop := func(live ...llama.SeqId) *loop {
		l := &loop{e: e, batch: llama.BatchInit(int32(e.cfg.BatchSize), 0, 1)}
		t.Cleanup(func() { llama.BatchFree(l.batch) })
		l.seqIDs = make([][]llama.SeqId, 18)
		for i := range l.seqIDs {
			l.seqIDs[i] = []llama.SeqId{llama.SeqId(i)}
		}
		for s := llama.SeqId(1); s < 18; s++ {
			if !slices.Contains(live, s) {
				l.freeSeqs = append(l.freeSeqs, s)
			}
		}
		for i, s := range live {
			l.live = append(l.live, &trace{seq: s, pos: llama.Pos(100 + i)})
		}
		return l
	}
	tk := func(seq llama.SeqId, pos llama.Pos, logits bool) batchToken { return batchToken{seq, pos, logits} }
	tests := []struct {
		name    string
		live    []llama.SeqId
		prompt  int // tokens of a prompt waiting to be prefilled
		want    []batchToken
		wantIdx []int32 // batchIdx of the live traces, in l.live order
		pads    []llama.SeqId
	}{
		{"scrambled", []llama.SeqId{4, 2, 1, 3}, 0,
			[]batchToken{tk(1, 102, true), tk(2, 101, true), tk(3, 103, true), tk(4, 100, true)},
			[]int32{3, 1, 0, 2}, nil},
		{"holes are padded", []llama.SeqId{6, 1, 3}, 0,
			[]batchToken{tk(1, 101, true), tk(2, 0, false), tk(3, 102, true), tk(4, 0, false), tk(5, 0, false), tk(6, 100, true)},
			[]int32{5, 0, 2}, []llama.SeqId{2, 4, 5}},
		{"lone trace on 1", []llama.SeqId{1}, 0,
			[]batchToken{tk(0, 0, true), tk(1, 100, true)}, []int32{1}, []llama.SeqId{0}},
		{"lone trace on 5", []llama.SeqId{5}, 0,
			[]batchToken{tk(4, 0, true), tk(5, 100, true)}, []int32{1}, []llama.SeqId{4}},
		{"prompt first", []llama.SeqId{2, 1}, 4,
			[]batchToken{tk(17, 0, false), tk(17, 1, false), tk(17, 2, false), tk(17, 3, true), tk(1, 101, true), tk(2, 100, true)},
			[]int32{5, 4}, nil},
		// 16 places, 2 taken by the traces: 14 of 15 prompt tokens would
		// leave one alone for the next step, so the chunk is 13.
		{"no single token left", []llama.SeqId{1, 2}, 15,
			append(promptTokens(17, 13), tk(1, 100, true), tk(2, 101, true)),
			[]int32{13, 14}, nil},
		{"prompt alone", nil, 3, []batchToken{tk(17, 0, false), tk(17, 1, false), tk(17, 2, true)}, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := newLoop(tc.live...)
			if tc.prompt > 0 {
				l.openQueue = []*session{{tokens: make([]llama.Token, tc.prompt)}}
				l.e.cfg.Prompts = 4
			}
			if n := l.build(); n != len(tc.want) {
				t.Fatalf("build = %d tokens, want %d", n, len(tc.want))
			}
			if got := batchTokens(l.batch); !slices.Equal(got, tc.want) {
				t.Errorf("batch\n got %v\nwant %v", got, tc.want)
			}
			for i, tr := range l.live {
				if tr.batchIdx != tc.wantIdx[i] {
					t.Errorf("trace on sequence %d has batch index %d, want %d", tr.seq, tr.batchIdx, tc.wantIdx[i])
				}
			}
			if !slices.Equal(l.pads, tc.pads) {
				t.Errorf("padded sequences %v, want %v", l.pads, tc.pads)
			}
		})
	}

	l := newLoop()
	l.freeSeqs = []llama.SeqId{7, 2, 5, 1, 3}
	var got []llama.SeqId
	for _, high := range []bool{false, true, false, true, false} {
		got = append(got, l.takeSeq(high))
	}
	if want := []llama.SeqId{1, 7, 2, 5, 3}; !slices.Equal(got, want) {
		t.Errorf("takeSeq gave %v, want %v", got, want)
	}
}

func promptTokens(seq llama.SeqId, n int) []batchToken {
	out := make([]batchToken, n)
	for i := range out {
		out[i] = batchToken{seq, llama.Pos(i), false}
	}
	return out
}

// TestPrefillChunk: a prompt is prefilled in chunks of at least two tokens,
// as large as the free places allow.
func TestPrefillChunk(t *testing.T) {
	tests := []struct{ space, remaining, want int }{
		{10, 1, 1}, // a one-token prompt
		{10, 2, 2},
		{10, 10, 10},
		{10, 11, 9}, // not 10: one token would be left
		{10, 12, 10},
		{3, 4, 2},
		{3, 100, 3},
		{500, 700, 500},
	}
	for _, tc := range tests {
		if got := prefillChunk(tc.space, tc.remaining); got != tc.want {
			t.Errorf("prefillChunk(%d, %d) = %d, want %d", tc.space, tc.remaining, got, tc.want)
		}
	}
}

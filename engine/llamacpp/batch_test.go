package llamacpp

import (
	"slices"
	"testing"
	"unsafe"

	"github.com/hybridgroup/yzma/pkg/llama"
)

// batchSeqs returns the sequence of every token of b, in batch order.
func batchSeqs(b llama.Batch) []llama.SeqId {
	ptrs := unsafe.Slice(b.SeqId, b.NTokens)
	seqs := make([]llama.SeqId, len(ptrs))
	for i, p := range ptrs {
		seqs[i] = *p
	}
	return seqs
}

// TestBuildBatchOrder checks what makes a step one forward pass on the
// per-sequence KV streams: llama.cpp groups only sequences with consecutive
// ids, in batch order, into one micro-batch. So the batch lists the traces
// by ascending sequence whatever their order in l.live, a lone trace gets its
// padding token on a neighbouring free sequence, and traces take the lowest
// free sequence while prompts take the highest.
func TestBuildBatchOrder(t *testing.T) {
	e := newTestEngine(t, tinyQ8(t), Config{Parallel: 8})
	newLoop := func(free []llama.SeqId, live ...llama.SeqId) *loop {
		l := &loop{e: e, batch: llama.BatchInit(int32(e.cfg.BatchSize), 0, 1), padSeq: 9, freeSeqs: free}
		t.Cleanup(func() { llama.BatchFree(l.batch) })
		l.seqIDs = make([][]llama.SeqId, 10)
		for i := range l.seqIDs {
			l.seqIDs[i] = []llama.SeqId{llama.SeqId(i)}
		}
		for _, s := range live {
			l.live = append(l.live, &trace{seq: s})
		}
		return l
	}
	tests := []struct {
		name     string
		free     []llama.SeqId
		live     []llama.SeqId
		want     []llama.SeqId
		wantIdx  []int32 // batchIdx of the live traces, in l.live order
		wantPad  llama.SeqId
		noPadded bool
	}{
		{"scrambled", []llama.SeqId{0, 5, 6, 7, 8}, []llama.SeqId{4, 2, 1, 3}, []llama.SeqId{1, 2, 3, 4}, []int32{3, 1, 0, 2}, 0, true},
		{"lone trace, next free", []llama.SeqId{0, 2, 3}, []llama.SeqId{1}, []llama.SeqId{1, 2}, []int32{0}, 2, false},
		{"lone trace, previous free", []llama.SeqId{2}, []llama.SeqId{3}, []llama.SeqId{2, 3}, []int32{1}, 2, false},
		{"lone trace, no free neighbour", []llama.SeqId{5}, []llama.SeqId{3}, []llama.SeqId{3, 9}, []int32{0}, 9, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := newLoop(tc.free, tc.live...)
			if n := l.build(); n != len(tc.want) {
				t.Fatalf("build = %d tokens, want %d", n, len(tc.want))
			}
			if got := batchSeqs(l.batch); !slices.Equal(got, tc.want) {
				t.Errorf("batch sequences %v, want %v", got, tc.want)
			}
			for i, tr := range l.live {
				if tr.batchIdx != tc.wantIdx[i] {
					t.Errorf("trace on sequence %d has batch index %d, want %d", tr.seq, tr.batchIdx, tc.wantIdx[i])
				}
			}
			if l.padded == tc.noPadded || (l.padded && l.padUsed != tc.wantPad) {
				t.Errorf("padded %v on sequence %d, want padded %v on %d", l.padded, l.padUsed, !tc.noPadded, tc.wantPad)
			}
		})
	}

	l := newLoop([]llama.SeqId{7, 2, 5, 0, 3})
	var got []llama.SeqId
	for _, high := range []bool{false, true, false, true, false} {
		got = append(got, l.takeSeq(high))
	}
	if want := []llama.SeqId{0, 7, 2, 5, 3}; !slices.Equal(got, want) {
		t.Errorf("takeSeq gave %v, want %v", got, want)
	}
}

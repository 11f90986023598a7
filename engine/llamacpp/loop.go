package llamacpp

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/deepconf/deepconf/chat"
	"github.com/deepconf/deepconf/engine"
	"github.com/hybridgroup/yzma/pkg/llama"
)

// trace is one sampled sequence.
type trace struct {
	s    *session
	p    engine.Sampling
	fn   engine.TokenFunc
	ctx  context.Context
	done chan struct{}

	// Owned by the loop until done is closed:
	seq      llama.SeqId
	rng      *rand.Rand
	pos      llama.Pos   // position of next in the sequence
	next     llama.Token // token to decode at pos
	batchIdx int32
	n        int
	text     []byte
	finish   engine.FinishReason
	err      error
	reason   chat.Tracker // reasoning or answer, token by token

	// The step's Go-side pass (see drawAll): logits is its input; tok,
	// logprob and the first nTop entries of top and topIDs are its
	// result.
	logits  []float32
	tok     int32
	logprob float64
	nTop    int
	top     [engine.MaxTopLogprobs]float64
	topIDs  [engine.MaxTopLogprobs]int32
}

// loop is the state of the decode loop; only the loop goroutine touches it.
type loop struct {
	e *Engine

	freeSeqs   []llama.SeqId
	seqIDs     [][]llama.SeqId // seqIDs[s] = []SeqId{s}, reused by Batch.Add
	sessions   int             // sessions holding a sequence
	openQueue  []*session      // waiting to be prefilled
	prefilling *session
	chunk      int   // prompt tokens of prefilling in the current batch
	lastIdx    int32 // batch index of the prompt's last token
	queue      []*trace
	live       []*trace

	pads  []llama.SeqId // sequences given a padding token this step
	order []*trace      // live traces in batch order (ascending sequence)

	batch    llama.Batch
	scanners []scanner // one per worker of drawAll
	ready    []*trace  // the traces with logits in the current step
	tok      engine.Token
	pieces   []string
	pieceOK  []bool
	buf      []byte
}

func (e *Engine) loop() {
	defer close(e.done)
	n := e.cfg.Parallel + e.cfg.Prompts
	l := &loop{
		e:       e,
		seqIDs:  make([][]llama.SeqId, n+1), // + the padding sequence 0
		batch:   llama.BatchInit(int32(e.cfg.BatchSize), 0, 1),
		pieces:  make([]string, e.nVocab),
		pieceOK: make([]bool, e.nVocab),
		buf:     make([]byte, 256),
		// llama.cpp's threads are idle between decodes: the Go-side
		// pass of a step runs on as many goroutines.
		scanners: make([]scanner, max(1, min(e.cfg.Threads, runtime.GOMAXPROCS(0)))),
	}
	defer llama.BatchFree(l.batch)
	for i := 1; i <= n; i++ { // sequence 0 is reserved for padding
		l.freeSeqs = append(l.freeSeqs, llama.SeqId(i))
	}
	for i := range l.seqIDs {
		l.seqIDs[i] = []llama.SeqId{llama.SeqId(i)}
	}
	for {
		if l.idle() {
			select {
			case r := <-e.reqs:
				l.accept(r)
			case <-e.quit:
				l.failAll(errClosed)
				return
			}
		}
	drain:
		for {
			select {
			case r := <-e.reqs:
				l.accept(r)
			case <-e.quit:
				l.failAll(errClosed)
				return
			default:
				break drain
			}
		}
		t0 := time.Now()
		l.reap()
		l.admit()
		if l.build() == 0 {
			continue
		}
		goTime := time.Since(t0)
		t1 := time.Now()
		ret, err := llama.Decode(e.lctx, l.batch)
		e.stats.decodeNs.Add(int64(time.Since(t1)))
		e.stats.steps.Add(1)
		t2 := time.Now()
		switch {
		case err != nil || ret < 0 || ret > 1:
			fatal := fmt.Errorf("llama.cpp decode failed (code %d): %v", ret, err)
			e.err.Store(&fatal)
			l.failAll(fatal)
			return
		case ret == 1:
			// No KV slot although the reservations fit: fail this
			// batch's traces rather than the engine.
			l.failBatch(fmt.Errorf("llama.cpp found no free KV cells for the batch (context %d tokens per sequence): %w", e.cfg.ContextSize, engine.ErrContextOverflow))
		default:
			l.afterDecode()
		}
		for _, s := range l.pads {
			llama.MemorySeqRm(e.mem, s, -1, -1)
		}
		e.stats.goNs.Add(int64(goTime + time.Since(t2)))
	}
}

// idle reports whether the loop has nothing it can do until a request comes.
func (l *loop) idle() bool {
	return len(l.live) == 0 && l.prefilling == nil && !l.canAdmit() && !l.canPrefill()
}

// Every sequence fits in ContextSize tokens (Open and Sample check it), and
// the cache holds ContextSize tokens per sequence, so only sequence slots
// limit admission.

func (l *loop) canAdmit() bool {
	return len(l.queue) > 0 && len(l.live) < l.e.cfg.Parallel
}

func (l *loop) canPrefill() bool {
	return l.prefilling == nil && len(l.openQueue) > 0 && l.sessions < l.e.cfg.Prompts
}

func (l *loop) accept(r any) {
	switch r := r.(type) {
	case *session:
		l.openQueue = append(l.openQueue, r)
	case *trace:
		r.s.live++
		l.queue = append(l.queue, r)
	case closeReq:
		r.s.closing = true
		l.maybeRelease(r.s)
	}
}

// maybeRelease frees a closing session's sequence once no trace needs it.
func (l *loop) maybeRelease(s *session) {
	if !s.closing || s.live > 0 || s.released || s.logits == nil {
		return
	}
	s.released = true
	llama.MemorySeqRm(l.e.mem, s.seq, -1, -1)
	l.freeSeqs = append(l.freeSeqs, s.seq)
	l.sessions--
	s.logits = nil
}

// reap ends traces whose context was cancelled.
func (l *loop) reap() {
	for _, t := range slices.Clone(l.live) {
		if t.ctx.Err() != nil {
			l.end(t, engine.FinishCancelled, nil)
		}
	}
	q := l.queue[:0]
	for _, t := range l.queue {
		if t.ctx.Err() != nil {
			t.finish = engine.FinishCancelled
			l.release(t)
			continue
		}
		q = append(q, t)
	}
	l.queue = q
}

// admit starts queued traces while there are free slots and KV cells. A
// trace's first token comes from the prompt's stored distribution.
func (l *loop) admit() {
	for l.canAdmit() {
		ready := l.ready[:0]
		for l.canAdmit() {
			t := l.queue[0]
			l.queue = l.queue[1:]
			if t.ctx.Err() != nil {
				t.finish = engine.FinishCancelled
				l.release(t)
				continue
			}
			t.seq = l.takeSeq(false)
			if err := llama.MemorySeqCp(l.e.mem, t.s.seq, t.seq, -1, -1); err != nil {
				l.live = append(l.live, t)
				l.end(t, "", fmt.Errorf("copy prompt to sequence %d: %w", t.seq, err))
				continue
			}
			t.rng = newRand(t.p.Seed)
			t.pos = llama.Pos(len(t.s.tokens))
			t.logits = t.s.logits
			l.live = append(l.live, t)
			ready = append(ready, t)
		}
		l.ready = ready
		// Traces that end at their first token free their slots for
		// the next round.
		l.emitAll(ready)
	}
}

// The layout of a step's batch decides both its cost and its numerics.
//
// Cost: with one KV stream per sequence (the default, not KVUnified),
// llama.cpp splits a batch into micro-batches whose sequences have
// consecutive ids in batch order (llama_batch_allocr::split_equal with
// sequential = true), and every micro-batch reads all the weights again: a
// step over the traces on sequences 4, 3, 2, 1 costs four forward passes, one
// over 1, 2, 3, 4 costs one.
//
// Numerics: with flash attention off and no repacked weights (see New),
// llama.cpp's CPU kernels compute every row of a micro-batch independently
// of the others, except that a matrix product with a single row goes through
// another kernel (ggml's vec_dot instead of llamafile's sgemm) that rounds
// differently. That is the case for F16 weights, and for
// the F16 KV cache of every model (the attention products of a prompt
// chunk). So which traces share a step, which is a matter of timing, must not
// decide whether a trace's row is alone in its micro-batch.
//
// So sequence 0 is reserved for padding, traces take the lowest free
// sequences from 1 on, and prompts take the highest (the traces stay in 1 …
// Parallel and the prompts above, since neither can take more sequences than
// its share). The batch lists:
//
//  1. the chunk of the prompt being prefilled, first, so that llama.cpp
//     puts it in a micro-batch of its own (split_equal starts a micro-batch
//     at the first unused token and only adds consecutive sequences after
//     it); a chunk never has a single token (prefillChunk);
//  2. one token for every sequence from the lowest to the highest live
//     trace, in ascending order: the trace's next token, or a padding token
//     (position 0, no logits) on a free sequence between two traces, so that
//     all the traces are one micro-batch, one forward pass;
//  3. for a lone trace, a padding token with logits on the sequence below it
//     (free: sequence 0, or a trace sequence nobody uses), so that its
//     micro-batch and its output projection have two rows.
//
// The padding tokens' KV cells are freed after the step. This makes a
// trace's logits independent of which other traces and prompts share its
// steps and of the number of threads (TestTraceTokensIndependentOfBatch).

// takeSeq removes a free sequence from the free list and returns it: the
// highest with high, else the lowest.
func (l *loop) takeSeq(high bool) llama.SeqId {
	j := 0
	for i, s := range l.freeSeqs {
		if (high && s > l.freeSeqs[j]) || (!high && s < l.freeSeqs[j]) {
			j = i
		}
	}
	s := l.freeSeqs[j]
	l.freeSeqs = slices.Delete(l.freeSeqs, j, j+1)
	return s
}

// prefillChunk returns how many of a prompt's remaining tokens a step
// prefills when space places of the batch are free: as many as fit, but never
// one token alone, now or left for a later step (see build). space is at
// least 3 (Config.fill).
func prefillChunk(space, remaining int) int {
	c := min(space, remaining)
	if remaining-c == 1 {
		c--
	}
	return c
}

// build fills the batch of a step as described above and returns its
// number of tokens.
func (l *loop) build() int {
	l.batch.Clear()
	if l.prefilling == nil && l.canPrefill() {
		s := l.openQueue[0]
		l.openQueue = l.openQueue[1:]
		s.seq = l.takeSeq(true)
		l.sessions++
		l.prefilling = s
	}
	l.order = append(l.order[:0], l.live...)
	slices.SortFunc(l.order, func(a, b *trace) int { return cmp.Compare(a.seq, b.seq) })
	var lo, hi llama.SeqId // the run of sequences of the traces' tokens
	run := 0
	if len(l.order) > 0 {
		lo, hi = l.order[0].seq, l.order[len(l.order)-1].seq
		if lo == hi {
			lo-- // a lone trace's partner
		}
		run = int(hi-lo) + 1
	}

	n := int32(0)
	l.chunk = 0
	if s := l.prefilling; s != nil {
		l.chunk = prefillChunk(l.e.cfg.BatchSize-run, len(s.tokens)-s.prefill)
		for j := 0; j < l.chunk; j++ {
			pos := s.prefill + j
			last := pos == len(s.tokens)-1
			l.batch.Add(s.tokens[pos], llama.Pos(pos), l.seqIDs[s.seq], last)
			if last {
				l.lastIdx = n
			}
			n++
		}
	}
	l.pads = l.pads[:0]
	i := 0
	for seq := lo; run > 0 && seq <= hi; seq++ {
		if t := l.order[i]; t.seq == seq {
			l.batch.Add(t.next, t.pos, l.seqIDs[seq], true)
			t.batchIdx = n
			i++
		} else {
			l.batch.Add(0, 0, l.seqIDs[seq], len(l.order) == 1)
			l.pads = append(l.pads, seq)
		}
		n++
	}
	clear(l.order)
	return int(n)
}

// afterDecode samples the next token of every live trace and advances the
// prefill.
func (l *loop) afterDecode() {
	ready := l.ready[:0]
	for _, t := range slices.Clone(l.live) {
		logits, err := llama.GetLogitsIth(l.e.lctx, t.batchIdx, l.e.nVocab)
		if err != nil || logits == nil {
			l.end(t, "", fmt.Errorf("no logits for sequence %d: %v", t.seq, err))
			continue
		}
		t.pos++
		t.logits = logits
		ready = append(ready, t)
	}
	l.ready = ready
	l.emitAll(ready)
	if s := l.prefilling; s != nil && l.chunk > 0 {
		s.prefill += l.chunk
		l.e.stats.prefill.Add(int64(l.chunk))
		if s.prefill == len(s.tokens) {
			logits, err := llama.GetLogitsIth(l.e.lctx, l.lastIdx, l.e.nVocab)
			l.prefilling = nil
			if err != nil || logits == nil {
				s.released = true
				llama.MemorySeqRm(l.e.mem, s.seq, -1, -1)
				l.freeSeqs = append(l.freeSeqs, s.seq)
				l.sessions--
				s.ready <- fmt.Errorf("no logits after the prompt: %v", err)
				return
			}
			s.logits = slices.Clone(logits)
			s.ready <- nil
		}
	}
}

// emitAll samples the next token of every trace of ts from its logits
// (drawAll), then, in order, hands each token to its trace's TokenFunc and
// ends the traces that are finished.
func (l *loop) emitAll(ts []*trace) {
	drawAll(l.scanners, ts)
	for _, t := range ts {
		l.emit(t)
	}
}

// drawAll runs the Go-side pass of a step, draw, for every trace of ts, on
// up to len(scanners) goroutines (the calling one included), each with its
// own scanner. A trace's result depends only on its logits, its sampling
// parameters and its random source, never on which goroutine drew it or
// when: the concurrent pass gives the same bits as the sequential one.
func drawAll(scanners []scanner, ts []*trace) {
	workers := min(len(scanners), len(ts))
	if workers <= 1 {
		for _, t := range ts {
			draw(&scanners[0], t)
		}
		return
	}
	var next atomic.Int64
	work := func(sc *scanner) {
		for {
			i := next.Add(1) - 1
			if i >= int64(len(ts)) {
				return
			}
			draw(sc, ts[i])
		}
	}
	var wg sync.WaitGroup
	for w := 1; w < workers; w++ {
		wg.Go(func() { work(&scanners[w]) })
	}
	work(&scanners[0])
	wg.Wait()
}

// draw is the Go-side pass over one trace's logits: the fused top-k and
// log-sum-exp pass, then sampling with the trace's random source. It writes
// the result into the trace and touches nothing else but sc.
func draw(sc *scanner, t *trace) {
	logits := t.logits
	k := t.p.TopLogprobs
	c := candidates(t.p)
	r := sc.scan(logits, max(k, c))
	u := t.rng.Float64() // drawn even when greedy, so traces stay reproducible
	samp := r
	samp.ids, samp.vals = r.ids[:min(c, len(r.ids))], r.vals[:min(c, len(r.vals))]
	t.tok = sc.pick(logits, samp, t.p, u)
	t.logprob = float64(logits[t.tok]) - r.lse
	t.nTop = min(k, len(r.ids))
	for i := range t.nTop {
		t.top[i] = float64(r.vals[i]) - r.lse
		t.topIDs[i] = r.ids[i]
	}
	t.logits = nil
}

// emit hands trace t's drawn token to its TokenFunc and ends the trace when
// it is finished.
func (l *loop) emit(t *trace) {
	tok := t.tok
	piece := l.piece(tok)
	l.tok = engine.Token{
		Index:       t.n,
		ID:          tok,
		Text:        piece,
		Logprob:     t.logprob,
		TopLogprobs: t.top[:t.nTop],
		TopIDs:      t.topIDs[:t.nTop],
		Reasoning:   t.reason.Next(l.e.reasonText(tok, piece)),
	}
	t.n++
	t.text = append(t.text, piece...)
	l.e.stats.tokens.Add(1)
	keep := t.fn(&l.tok)
	switch {
	case llama.VocabIsEOG(l.e.vocab, llama.Token(tok)):
		l.end(t, engine.FinishStop, nil)
	case !keep:
		l.end(t, engine.FinishCancelled, nil)
	case t.n >= t.p.MaxTokens:
		l.end(t, engine.FinishLength, nil)
	default:
		t.next = llama.Token(tok)
	}
}

// piece returns the text of token id, rendering special tokens as "".
func (l *loop) piece(id int32) string {
	if id < 0 || int(id) >= len(l.pieces) {
		return ""
	}
	if l.pieceOK[id] {
		return l.pieces[id]
	}
	n := llama.TokenToPiece(l.e.vocab, llama.Token(id), l.buf, 0, false)
	if n < 0 {
		l.buf = make([]byte, -n)
		n = llama.TokenToPiece(l.e.vocab, llama.Token(id), l.buf, 0, false)
	}
	s := ""
	if n > 0 {
		s = string(l.buf[:n])
	}
	l.pieces[id], l.pieceOK[id] = s, true
	return s
}

// end finishes a live trace: its sequence and KV cells are freed.
func (l *loop) end(t *trace, reason engine.FinishReason, err error) {
	i := slices.Index(l.live, t)
	if i < 0 {
		return
	}
	l.live = slices.Delete(l.live, i, i+1)
	llama.MemorySeqRm(l.e.mem, t.seq, -1, -1)
	l.freeSeqs = append(l.freeSeqs, t.seq)
	t.finish, t.err = reason, err
	l.release(t)
}

// release hands a trace's result back to Sample.
func (l *loop) release(t *trace) {
	t.s.live--
	close(t.done)
	l.maybeRelease(t.s)
}

func (l *loop) failBatch(err error) {
	for _, t := range slices.Clone(l.live) {
		l.end(t, "", err)
	}
	if s := l.prefilling; s != nil {
		l.prefilling = nil
		s.released = true
		llama.MemorySeqRm(l.e.mem, s.seq, -1, -1)
		l.freeSeqs = append(l.freeSeqs, s.seq)
		l.sessions--
		s.ready <- err
	}
}

func (l *loop) failAll(err error) {
	l.failBatch(err)
	for _, t := range l.queue {
		t.err = err
		l.release(t)
	}
	l.queue = nil
	for _, s := range l.openQueue {
		s.ready <- err
	}
	l.openQueue = nil
}

package llamacpp

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

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

	padSeq []llama.SeqId // the sequence of padding tokens
	padded bool          // the batch holds a padding token

	batch   llama.Batch
	sc      scanner
	tok     engine.Token
	topLP   []float64
	topIDs  []int32
	pieces  []string
	pieceOK []bool
	buf     []byte
}

func (e *Engine) loop() {
	defer close(e.done)
	n := e.cfg.Parallel + e.cfg.Prompts
	l := &loop{
		e:       e,
		seqIDs:  make([][]llama.SeqId, n),
		batch:   llama.BatchInit(int32(e.cfg.BatchSize), 0, 1),
		pieces:  make([]string, e.nVocab),
		pieceOK: make([]bool, e.nVocab),
		buf:     make([]byte, 256),
		topLP:   make([]float64, engine.MaxTopLogprobs),
		topIDs:  make([]int32, engine.MaxTopLogprobs),
	}
	defer llama.BatchFree(l.batch)
	l.padSeq = []llama.SeqId{llama.SeqId(n)}
	for i := n - 1; i >= 0; i-- {
		l.freeSeqs = append(l.freeSeqs, llama.SeqId(i))
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
		if l.padded {
			llama.MemorySeqRm(e.mem, l.padSeq[0], -1, -1)
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
		t := l.queue[0]
		l.queue = l.queue[1:]
		if t.ctx.Err() != nil {
			t.finish = engine.FinishCancelled
			l.release(t)
			continue
		}
		t.seq = l.freeSeqs[len(l.freeSeqs)-1]
		l.freeSeqs = l.freeSeqs[:len(l.freeSeqs)-1]
		if err := llama.MemorySeqCp(l.e.mem, t.s.seq, t.seq, -1, -1); err != nil {
			l.live = append(l.live, t)
			l.end(t, "", fmt.Errorf("copy prompt to sequence %d: %w", t.seq, err))
			continue
		}
		t.rng = newRand(t.p.Seed)
		t.pos = llama.Pos(len(t.s.tokens))
		l.live = append(l.live, t)
		l.emit(t, t.s.logits)
	}
}

// build fills the batch with one token per live trace and a chunk of the
// prompt being prefilled. It returns the number of tokens.
func (l *loop) build() int {
	l.batch.Clear()
	n := int32(0)
	for _, t := range l.live {
		l.batch.Add(t.next, t.pos, l.seqIDs[t.seq], true)
		t.batchIdx = n
		n++
	}
	if l.prefilling == nil && l.canPrefill() {
		s := l.openQueue[0]
		l.openQueue = l.openQueue[1:]
		s.seq = l.freeSeqs[len(l.freeSeqs)-1]
		l.freeSeqs = l.freeSeqs[:len(l.freeSeqs)-1]
		l.sessions++
		l.prefilling = s
	}
	l.chunk = 0
	if s := l.prefilling; s != nil {
		room := l.e.cfg.BatchSize - int(n)
		l.chunk = min(room, len(s.tokens)-s.prefill)
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
	// llama.cpp computes the output projection of a batch with a single
	// output row by another kernel than for several rows, which rounds
	// differently (by ~6e-8 for F16 weights). A trace's logits must not
	// depend on how many others share its batch (stopping one trace must
	// leave the others unchanged, and fixed seeds must reproduce traces),
	// so a batch never has exactly one output: a padding token on a spare
	// sequence makes it two. Its KV cell is freed after the step.
	outputs := len(l.live)
	if l.chunk > 0 && l.prefilling.prefill+l.chunk == len(l.prefilling.tokens) {
		outputs++
	}
	l.padded = outputs == 1
	if l.padded {
		l.batch.Add(0, 0, l.padSeq, true)
		n++
	}
	return int(n)
}

// afterDecode samples the next token of every live trace and advances the
// prefill.
func (l *loop) afterDecode() {
	for _, t := range slices.Clone(l.live) {
		logits, err := llama.GetLogitsIth(l.e.lctx, t.batchIdx, l.e.nVocab)
		if err != nil || logits == nil {
			l.end(t, "", fmt.Errorf("no logits for sequence %d: %v", t.seq, err))
			continue
		}
		t.pos++
		l.emit(t, logits)
	}
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

// emit samples trace t's next token from logits, hands it to the trace's
// TokenFunc and ends the trace when it is finished.
func (l *loop) emit(t *trace, logits []float32) {
	k := t.p.TopLogprobs
	c := candidates(t.p)
	sc := l.sc.scan(logits, max(k, c))
	u := t.rng.Float64() // drawn even when greedy, so traces stay reproducible
	samp := sc
	samp.ids, samp.vals = sc.ids[:min(c, len(sc.ids))], sc.vals[:min(c, len(sc.vals))]
	tok := l.sc.pick(logits, samp, t.p, u)

	top := l.topLP[:min(k, len(sc.ids))]
	ids := l.topIDs[:len(top)]
	for i := range top {
		top[i] = float64(sc.vals[i]) - sc.lse
		ids[i] = sc.ids[i]
	}
	piece := l.piece(tok)
	l.tok = engine.Token{
		Index:       t.n,
		ID:          tok,
		Text:        piece,
		Logprob:     float64(logits[tok]) - sc.lse,
		TopLogprobs: top,
		TopIDs:      ids,
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

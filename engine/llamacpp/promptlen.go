package llamacpp

import (
	"fmt"
	"sync"

	"github.com/deepconf/deepconf/engine"
	"github.com/hybridgroup/yzma/pkg/llama"
)

// pieceBound is the byte length of the vocabulary's longest token piece,
// computed once, when a prompt first needs it.
type pieceBound struct {
	once sync.Once
	n    int
}

// maxPieceBytes returns the byte length of the longest token piece (special
// tokens' text included).
func (e *Engine) maxPieceBytes() int {
	e.pieces.once.Do(func() {
		buf := make([]byte, 1024)
		n := 1
		for t := range e.nVocab {
			if k := int(llama.TokenToPiece(e.vocab, llama.Token(t), buf, 0, true)); k > n {
				n = k
			} else if k < 0 && -k > n { // the piece does not fit buf
				n = -k
			}
		}
		e.pieces.n = n
	})
	return e.pieces.n
}

// checkPromptBytes refuses, without tokenizing it, a prompt text too long
// for the context: every token holds at most maxPieceBytes bytes of the
// text, so a text longer than (context − 1) × that many bytes needs more
// tokens than the context has. Tokenizing a prompt of megabytes would take
// seconds and gigabytes only to skip it.
func (e *Engine) checkPromptBytes(text string) error {
	// A token holds at least one byte: a text no longer than the context
	// needs no bound.
	if len(text) < e.cfg.ContextSize {
		return nil
	}
	if limit := (e.cfg.ContextSize - 1) * e.maxPieceBytes(); len(text) > limit {
		return fmt.Errorf("prompt of %d bytes does not fit in a context of %d tokens per sequence (at most %d bytes with this vocabulary; raise --ctx): %w",
			len(text), e.cfg.ContextSize, limit, engine.ErrContextOverflow)
	}
	return nil
}

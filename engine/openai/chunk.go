package openai

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// entry is one generated token's log-probability record from a chunk.
type entry struct {
	// text is text[textOff:textEnd] of the chunk: the token's bytes when the
	// server sent them, else its unescaped token string.
	textOff, textEnd int
	// id is the vocabulary id, or -1.
	id      int32
	logprob float64
	// top0:top1 index the chunk's tops and topIDs.
	top0, top1 int
	// ids is set when every top entry carried an id.
	ids bool
	// firstTop is 1 when the first top entry, in the server's order, was
	// the sampled token, 0 when it was another token, -1 when there was no
	// top entry or the tokens could not be compared.
	firstTop int8
}

// usage is the usage object of a chunk.
type usage struct {
	present          bool
	promptTokens     int
	completionTokens int
}

// chunk is the decoded content of one SSE event. Its slices are reused from
// one event to the next.
type chunk struct {
	entries []entry
	tops    []float64
	topIDs  []int32
	// text holds the token texts of entries.
	text []byte
	// content is the visible text of the event (chat delta.content or
	// message.content, completions text).
	content []byte
	// reasoning is reasoning text split off by a server-side reasoning
	// parser (delta.reasoning_content, or delta.reasoning for Ollama).
	reasoning []byte
	// finish is the finish_reason, or "".
	finish string
	usage  usage
	// errMsg is the message of an in-stream error object.
	errMsg string
	// logprobs is set when a choice carried a non-null logprobs object.
	logprobs bool
	// choices counts the choices in the event.
	choices int
	// nulls counts null log-probabilities (decoded as NaN).
	nulls int
	// unsorted counts entries whose top list was not in descending order
	// as received (vLLM's chat layer puts the sampled token first).
	unsorted int
}

func (c *chunk) reset() {
	c.entries = c.entries[:0]
	c.tops = c.tops[:0]
	c.topIDs = c.topIDs[:0]
	c.text = c.text[:0]
	c.content = c.content[:0]
	c.reasoning = c.reasoning[:0]
	c.finish = ""
	c.usage = usage{}
	c.errMsg = ""
	c.logprobs = false
	c.choices = 0
	c.nulls = 0
	c.unsorted = 0
}

// parser decodes chunks of the three logprob layouts:
//
//   - chat: choices[].logprobs.content[] = {token, logprob, bytes,
//     top_logprobs: [{token, logprob, bytes}]}, plus llama.cpp's id fields
//     on both levels;
//   - legacy completions: choices[].logprobs = {tokens[], token_logprobs[],
//     top_logprobs[] = {token: logprob}, text_offset[]};
//   - Ollama's /v1/completions: the chat-style content list on a
//     completions choice.
//
// The layout is recognised per logprobs object from its member names, so one
// parser serves every endpoint and server.
type parser struct {
	sc scanner
	c  chunk

	// Legacy-layout columns of the logprobs object being read.
	legTokens [][]byte
	legLPs    []float64
	legTops   [][2]int
	legFirst  [][]byte
}

// parse decodes one event's JSON data into p.c. The data must stay
// unmodified until the chunk has been consumed.
func (p *parser) parse(data []byte) error {
	p.c.reset()
	p.sc = scanner{buf: data}
	s := &p.sc
	if err := s.open('{', "a JSON object"); err != nil {
		return err
	}
	first := true
	for {
		ok, err := s.more('}', &first)
		if err != nil || !ok {
			if err != nil {
				return err
			}
			break
		}
		k, err := s.key()
		if err != nil {
			return err
		}
		switch string(k) {
		case "choices":
			err = p.choices()
		case "usage":
			err = p.usage()
		case "error":
			err = p.errorValue()
		default:
			err = s.skip()
		}
		if err != nil {
			return err
		}
	}
	return s.end()
}

func (p *parser) choices() error {
	s := &p.sc
	if s.null() {
		return nil
	}
	if err := s.open('[', "choices array"); err != nil {
		return err
	}
	first := true
	for {
		ok, err := s.more(']', &first)
		if err != nil || !ok {
			return err
		}
		if err := p.choice(); err != nil {
			return fmt.Errorf("choices[%d]: %w", p.c.choices-1, err)
		}
	}
}

func (p *parser) choice() error {
	s := &p.sc
	p.c.choices++
	if err := s.open('{', "choice object"); err != nil {
		return err
	}
	first := true
	for {
		ok, err := s.more('}', &first)
		if err != nil || !ok {
			return err
		}
		k, err := s.key()
		if err != nil {
			return err
		}
		switch string(k) {
		case "index":
			var i int64
			if i, err = s.int(); err == nil && i != 0 {
				err = fmt.Errorf("choice index %d: the client requests n=1 and reads only choice 0", i)
			}
		case "delta", "message":
			err = p.delta()
		case "text":
			p.c.content, err = s.appendStr(p.c.content)
		case "finish_reason":
			if !s.null() {
				var raw []byte
				if raw, _, err = s.str(); err == nil {
					p.c.finish = string(raw)
				}
			}
		case "logprobs":
			err = p.logprobs()
		default:
			err = s.skip()
		}
		if err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
	}
}

func (p *parser) delta() error {
	s := &p.sc
	if s.null() {
		return nil
	}
	if err := s.open('{', "delta object"); err != nil {
		return err
	}
	first := true
	for {
		ok, err := s.more('}', &first)
		if err != nil || !ok {
			return err
		}
		k, err := s.key()
		if err != nil {
			return err
		}
		switch string(k) {
		case "content":
			if s.peek() == '[' {
				// Content-part arrays are a request shape; skip them
				// rather than misread them.
				err = s.skip()
			} else {
				p.c.content, err = s.appendStr(p.c.content)
			}
		case "reasoning_content", "reasoning":
			if s.peek() == '"' || s.peek() == 'n' {
				p.c.reasoning, err = s.appendStr(p.c.reasoning)
			} else {
				err = s.skip()
			}
		default:
			err = s.skip()
		}
		if err != nil {
			return err
		}
	}
}

func (p *parser) logprobs() error {
	s := &p.sc
	if s.null() {
		return nil
	}
	if err := s.open('{', "logprobs object"); err != nil {
		return err
	}
	p.c.logprobs = true
	p.legTokens = p.legTokens[:0]
	p.legLPs = p.legLPs[:0]
	p.legTops = p.legTops[:0]
	p.legFirst = p.legFirst[:0]
	legacy := false
	first := true
	for {
		ok, err := s.more('}', &first)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		k, err := s.key()
		if err != nil {
			return err
		}
		switch string(k) {
		case "content":
			err = p.contentList()
		case "tokens":
			legacy = true
			err = p.legacyTokens()
		case "token_logprobs":
			legacy = true
			err = p.legacyLogprobs()
		case "top_logprobs":
			legacy = true
			err = p.legacyTops()
		default:
			err = s.skip()
		}
		if err != nil {
			return err
		}
	}
	if legacy {
		return p.legacyEntries()
	}
	return nil
}

// contentList reads the chat layout's list of token entries.
func (p *parser) contentList() error {
	s := &p.sc
	if s.null() {
		return nil
	}
	if err := s.open('[', "logprobs.content array"); err != nil {
		return err
	}
	first := true
	for {
		ok, err := s.more(']', &first)
		if err != nil || !ok {
			return err
		}
		if err := p.contentEntry(); err != nil {
			return fmt.Errorf("content[%d]: %w", len(p.c.entries), err)
		}
	}
}

// contentEntry reads one chat-layout token entry.
func (p *parser) contentEntry() error {
	s := &p.sc
	c := &p.c
	if err := s.open('{', "token entry object"); err != nil {
		return err
	}
	e := entry{id: -1, top0: len(c.tops), textOff: len(c.text), firstTop: -1}
	var tok, firstTok []byte
	tokEsc, haveTok, haveBytes := false, false, false
	allIDs := true
	first := true
	for {
		ok, err := s.more('}', &first)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		k, err := s.key()
		if err != nil {
			return err
		}
		switch string(k) {
		case "token":
			if !s.null() {
				tok, tokEsc, err = s.str()
				haveTok = err == nil
			}
		case "logprob":
			var isNull bool
			e.logprob, isNull, err = s.num()
			if isNull {
				c.nulls++
			}
		case "bytes":
			if !s.null() {
				haveBytes = true
				c.text, err = p.byteList(c.text)
			}
		case "id":
			var id int64
			if id, err = s.int(); err == nil {
				e.id, err = toID(id)
			}
		case "top_logprobs":
			firstTok, allIDs, err = p.topList()
		default:
			err = s.skip()
		}
		if err != nil {
			if string(k) == "top_logprobs" {
				return err
			}
			return fmt.Errorf("%s: %w", k, err)
		}
	}
	if !haveBytes && haveTok {
		if tokEsc {
			c.text = appendUnescaped(c.text, tok)
		} else {
			c.text = append(c.text, tok...)
		}
	}
	e.textEnd = len(c.text)
	if e.id < 0 && haveTok {
		e.id = tokenIDFromString(tok)
	}
	e.top1 = len(c.tops)
	if e.top1 > e.top0 {
		e.ids = allIDs
		if haveTok && firstTok != nil {
			e.firstTop = 0
			if string(firstTok) == string(tok) {
				e.firstTop = 1
			}
		}
		if p.sortTops(e.top0, e.top1, e.ids) {
			c.unsorted++
		}
	}
	c.entries = append(c.entries, e)
	return nil
}

// topList reads a chat-layout top_logprobs array, appending to c.tops and
// c.topIDs. It returns the raw token of the first entry and whether every
// entry had an id.
func (p *parser) topList() (firstTok []byte, allIDs bool, err error) {
	s := &p.sc
	c := &p.c
	allIDs = true
	if s.null() {
		return nil, allIDs, nil
	}
	if err := s.open('[', "top_logprobs array"); err != nil {
		return nil, false, err
	}
	first := true
	for n := 0; ; n++ {
		ok, err := s.more(']', &first)
		if err != nil {
			return nil, false, err
		}
		if !ok {
			return firstTok, allIDs, nil
		}
		if err := s.open('{', "top_logprobs entry object"); err != nil {
			return nil, false, fmt.Errorf("top_logprobs[%d]: %w", n, err)
		}
		lp, id := math.NaN(), int32(-1)
		var tok []byte
		haveLP := false
		f := true
		for {
			ok, err := s.more('}', &f)
			if err != nil {
				return nil, false, fmt.Errorf("top_logprobs[%d]: %w", n, err)
			}
			if !ok {
				break
			}
			k, err := s.key()
			if err != nil {
				return nil, false, fmt.Errorf("top_logprobs[%d]: %w", n, err)
			}
			switch string(k) {
			case "logprob":
				var isNull bool
				lp, isNull, err = s.num()
				haveLP = true
				if isNull {
					c.nulls++
				}
			case "id":
				var v int64
				if v, err = s.int(); err == nil {
					id, err = toID(v)
				}
			case "token":
				if !s.null() {
					tok, _, err = s.str()
				}
			case "bytes":
				err = s.skipNumbers()
			default:
				err = s.skip()
			}
			if err != nil {
				return nil, false, fmt.Errorf("top_logprobs[%d].%s: %w", n, k, err)
			}
		}
		if !haveLP {
			// An entry without a logprob counts as null.
			c.nulls++
		}
		if id < 0 && tok != nil {
			id = tokenIDFromString(tok)
		}
		if id < 0 {
			allIDs = false
		}
		if n == 0 {
			firstTok = tok
		}
		c.tops = append(c.tops, lp)
		c.topIDs = append(c.topIDs, id)
	}
}

// byteList reads an array of byte values (the bytes field) and appends the
// bytes to dst.
func (p *parser) byteList(dst []byte) ([]byte, error) {
	s := &p.sc
	if err := s.open('[', "bytes array"); err != nil {
		return dst, err
	}
	first := true
	for {
		ok, err := s.more(']', &first)
		if err != nil || !ok {
			return dst, err
		}
		v, err := s.int()
		if err != nil {
			return dst, err
		}
		if v < 0 || v > 255 {
			return dst, fmt.Errorf("byte value %d out of range", v)
		}
		dst = append(dst, byte(v))
	}
}

// legacyTokens reads the legacy layout's tokens column.
func (p *parser) legacyTokens() error {
	s := &p.sc
	if s.null() {
		return nil
	}
	if err := s.open('[', "tokens array"); err != nil {
		return err
	}
	first := true
	for {
		ok, err := s.more(']', &first)
		if err != nil || !ok {
			return err
		}
		if s.null() {
			p.legTokens = append(p.legTokens, nil)
			continue
		}
		raw, _, err := s.str()
		if err != nil {
			return fmt.Errorf("tokens[%d]: %w", len(p.legTokens), err)
		}
		p.legTokens = append(p.legTokens, raw)
	}
}

// legacyLogprobs reads the legacy layout's token_logprobs column.
func (p *parser) legacyLogprobs() error {
	s := &p.sc
	if s.null() {
		return nil
	}
	if err := s.open('[', "token_logprobs array"); err != nil {
		return err
	}
	first := true
	for {
		ok, err := s.more(']', &first)
		if err != nil || !ok {
			return err
		}
		v, isNull, err := s.num()
		if err != nil {
			return fmt.Errorf("token_logprobs[%d]: %w", len(p.legLPs), err)
		}
		if isNull {
			p.c.nulls++
		}
		p.legLPs = append(p.legLPs, v)
	}
}

// legacyTops reads the legacy layout's top_logprobs column: one
// {token: logprob} map (or null) per position.
//
// The map is keyed by token text, so two token ids that decode to the same
// string (for example two byte-fallback tokens holding different halves of
// a UTF-8 sequence, both shown as "\ufffd") collide and only one survives:
// fewer than k values come back, and which one survives is up to the
// server's dict. The chat layout, or vLLM's return_tokens_as_token_ids (keys
// "token_id:123", decoded into TopIDs here), avoids this.
func (p *parser) legacyTops() error {
	s := &p.sc
	c := &p.c
	if s.null() {
		return nil
	}
	if err := s.open('[', "top_logprobs array"); err != nil {
		return err
	}
	first := true
	for {
		ok, err := s.more(']', &first)
		if err != nil || !ok {
			return err
		}
		start := len(c.tops)
		var firstKey []byte
		if !s.null() {
			if err := s.open('{', "top_logprobs map"); err != nil {
				return fmt.Errorf("top_logprobs[%d]: %w", len(p.legTops), err)
			}
			f := true
			for {
				ok, err := s.more('}', &f)
				if err != nil {
					return fmt.Errorf("top_logprobs[%d]: %w", len(p.legTops), err)
				}
				if !ok {
					break
				}
				k, err := s.key()
				if err != nil {
					return fmt.Errorf("top_logprobs[%d]: %w", len(p.legTops), err)
				}
				v, isNull, err := s.num()
				if err != nil {
					return fmt.Errorf("top_logprobs[%d][%q]: %w", len(p.legTops), k, err)
				}
				if isNull {
					c.nulls++
				}
				if firstKey == nil {
					firstKey = k
				}
				c.tops = append(c.tops, v)
				c.topIDs = append(c.topIDs, tokenIDFromString(k))
			}
		}
		p.legTops = append(p.legTops, [2]int{start, len(c.tops)})
		p.legFirst = append(p.legFirst, firstKey)
	}
}

// legacyEntries zips the legacy columns into entries.
func (p *parser) legacyEntries() error {
	c := &p.c
	n := len(p.legTokens)
	if len(p.legLPs) != n {
		return fmt.Errorf("logprobs: %d tokens but %d token_logprobs", n, len(p.legLPs))
	}
	if len(p.legTops) != n && len(p.legTops) != 0 {
		return fmt.Errorf("logprobs: %d tokens but %d top_logprobs", n, len(p.legTops))
	}
	for i := 0; i < n; i++ {
		e := entry{id: -1, logprob: p.legLPs[i], textOff: len(c.text), firstTop: -1}
		tok := p.legTokens[i]
		c.text = appendUnescaped(c.text, tok)
		e.textEnd = len(c.text)
		if tok != nil {
			e.id = tokenIDFromString(tok)
		}
		if len(p.legTops) > 0 {
			e.top0, e.top1 = p.legTops[i][0], p.legTops[i][1]
			e.ids = e.top1 > e.top0
			for _, id := range c.topIDs[e.top0:e.top1] {
				if id < 0 {
					e.ids = false
					break
				}
			}
			if f := p.legFirst[i]; f != nil && tok != nil {
				e.firstTop = 0
				if string(f) == string(tok) {
					e.firstTop = 1
				}
			}
			if p.sortTops(e.top0, e.top1, e.ids) {
				c.unsorted++
			}
		} else {
			e.top0, e.top1 = len(c.tops), len(c.tops)
		}
		c.entries = append(c.entries, e)
	}
	return nil
}

// sortTops sorts c.tops[a:b] (and c.topIDs[a:b] along when ids) in
// descending order, NaN last, and reports whether the input was out of
// order. Insertion sort: the lists are short (≤ 21) and usually sorted or
// nearly so (vLLM moves one element, the sampled token, to the front).
func (p *parser) sortTops(a, b int, ids bool) bool {
	t := p.c.tops[a:b]
	tid := p.c.topIDs[a:b]
	moved := false
	for i := 1; i < len(t); i++ {
		v, id := t[i], tid[i]
		j := i
		for j > 0 && greater(v, t[j-1]) {
			t[j] = t[j-1]
			tid[j] = tid[j-1]
			j--
		}
		if j != i {
			t[j] = v
			tid[j] = id
			moved = true
		}
	}
	return moved
}

// greater orders log-probabilities descending with NaN after every number.
func greater(a, b float64) bool {
	if math.IsNaN(b) {
		return !math.IsNaN(a)
	}
	return a > b
}

func (p *parser) usage() error {
	s := &p.sc
	if s.null() {
		return nil
	}
	if err := s.open('{', "usage object"); err != nil {
		return err
	}
	p.c.usage.present = true
	first := true
	for {
		ok, err := s.more('}', &first)
		if err != nil || !ok {
			return err
		}
		k, err := s.key()
		if err != nil {
			return err
		}
		switch string(k) {
		case "prompt_tokens", "completion_tokens":
			var v int64
			if s.null() {
				continue
			}
			if v, err = s.int(); err != nil {
				return fmt.Errorf("usage.%s: %w", k, err)
			}
			if k[0] == 'p' {
				p.c.usage.promptTokens = int(v)
			} else {
				p.c.usage.completionTokens = int(v)
			}
		default:
			if err := s.skip(); err != nil {
				return err
			}
		}
	}
}

// errorValue reads an in-stream error: an object with a message (OpenAI,
// vLLM, SGLang, llama.cpp) or a plain string (Ollama). It is rare, so it
// goes through encoding/json.
func (p *parser) errorValue() error {
	s := &p.sc
	if s.null() {
		return nil
	}
	s.ws()
	start := s.pos
	if err := s.skip(); err != nil {
		return err
	}
	p.c.errMsg = errorMessage(s.buf[start:s.pos])
	if p.c.errMsg == "" {
		p.c.errMsg = "server reported an error without a message"
	}
	return nil
}

// errorMessage extracts a human-readable message from an error value or
// error body: {"message": …}, {"error": {"message": …}}, {"error": "…"},
// {"detail": …} (FastAPI) or a plain string. It returns "" if none is found.
func errorMessage(raw []byte) string {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return ""
	}
	return findMessage(v, 0)
}

func findMessage(v any, depth int) string {
	if depth > 4 {
		return ""
	}
	switch v := v.(type) {
	case string:
		return v
	case map[string]any:
		for _, k := range []string{"message", "error", "detail", "msg"} {
			if m := findMessage(v[k], depth+1); m != "" {
				return m
			}
		}
	case []any:
		parts := make([]string, 0, len(v))
		for _, x := range v {
			if m := findMessage(x, depth+1); m != "" {
				parts = append(parts, m)
			}
		}
		return strings.Join(parts, "; ")
	}
	return ""
}

// toID converts a token id to int32.
func toID(v int64) (int32, error) {
	if v < math.MinInt32 || v > math.MaxInt32 {
		return -1, fmt.Errorf("token id %d out of range", v)
	}
	return int32(v), nil
}

// tokenIDFromString decodes vLLM's return_tokens_as_token_ids form
// "token_id:123" (raw JSON string contents) and returns -1 otherwise.
func tokenIDFromString(raw []byte) int32 {
	const prefix = "token_id:"
	if len(raw) <= len(prefix) || string(raw[:len(prefix)]) != prefix {
		return -1
	}
	v, err := strconv.ParseInt(string(raw[len(prefix):]), 10, 32)
	if err != nil || v < 0 {
		return -1
	}
	return int32(v)
}

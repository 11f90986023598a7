package refusal

import (
	"fmt"
	"math"
	"math/bits"
	"unicode"
	"unicode/utf8"
)

// FeatureConfig says which hashed features the classifier extracts from a
// response. It is stored in the model file, so a model is always read with
// the features it was trained on.
type FeatureConfig struct {
	// Bits is the log2 of the hashed feature space (the weight vector has
	// 1<<Bits entries); 12 to 24.
	Bits int `json:"bits"`
	// HeadTokens is how many leading tokens form the "head" block, whose
	// word 1- to 3-grams are features of their own: refusals are said at
	// the start.
	HeadTokens int `json:"head_tokens"`
	// WordNgrams is the longest word n-gram over the whole response
	// (0: none, 1 or 2).
	WordNgrams int `json:"word_ngrams"`
	// OpenSentences and CloseSentences are how many leading and trailing
	// sentences give word 1- to 3-grams of their own, tagged "opening" or
	// "closing": a refusal, its reasons and its redirection are said
	// there, while the body in between carries the topic.
	OpenSentences  int `json:"open_sentences"`
	CloseSentences int `json:"close_sentences"`
	// NB scales every feature, in training, by the absolute log ratio of
	// the share of refusals and of compliances that have it (NB-LR, after
	// Wang and Manning 2012), so that the penalty weighs less on features
	// that separate the classes. The scale is folded into the stored
	// weights: scoring is unchanged.
	NB bool `json:"nb"`
	// Shape adds buckets of the answer's length, line count and list
	// items.
	Shape bool `json:"shape"`
	// CharMin and CharMax bound the character n-grams taken from the
	// first CharPrefix bytes of the response (CharPrefix 0: none).
	CharMin    int `json:"char_min"`
	CharMax    int `json:"char_max"`
	CharPrefix int `json:"char_prefix"`
	// Rules adds the patterns detector's verdict (label and rule family)
	// as features: the ensemble.
	Rules bool `json:"rules"`
}

// Validate checks the ranges of the fields.
func (c FeatureConfig) Validate() error {
	switch {
	case c.Bits < 12 || c.Bits > 24:
		return fmt.Errorf("feature bits %d: want 12 to 24", c.Bits)
	case c.HeadTokens < 0 || c.HeadTokens > 1000:
		return fmt.Errorf("head tokens %d: want 0 to 1000", c.HeadTokens)
	case c.WordNgrams < 0 || c.WordNgrams > 2:
		return fmt.Errorf("word n-grams %d: want 0, 1 or 2", c.WordNgrams)
	case c.OpenSentences < 0 || c.OpenSentences > 100 || c.CloseSentences < 0 || c.CloseSentences > 100:
		return fmt.Errorf("opening and closing sentences %d and %d: want 0 to 100", c.OpenSentences, c.CloseSentences)
	case c.CharPrefix < 0 || c.CharPrefix > 100000:
		return fmt.Errorf("char prefix %d: want 0 to 100000", c.CharPrefix)
	case c.CharPrefix > 0 && (c.CharMin < 1 || c.CharMax < c.CharMin || c.CharMax > 8):
		return fmt.Errorf("char n-grams %d to %d: want 1 ≤ min ≤ max ≤ 8", c.CharMin, c.CharMax)
	}
	return nil
}

// Feature blocks. Every block's values are scaled by 1/sqrt(its feature
// count), so a block weighs the same in a short and a long response.
const (
	blockWords = iota // word 1- and 2-grams of the whole response
	blockHead         // word 1- to 3-grams of the first HeadTokens tokens
	blockChars        // character n-grams of the first CharPrefix bytes
	blockSents        // word 1- to 3-grams of the opening and closing sentences
	blockShape        // length and layout buckets (value 1)
	blockRules        // the patterns verdict (value 1), ensemble only
	numBlocks
)

// Hash namespaces keep features of different kinds apart.
const (
	nsWord1 uint64 = iota + 1
	nsWord2
	nsHead1
	nsHead2
	nsHead3
	nsChar
	nsTokens
	nsLines
	nsItems
	nsRuleLabel
	nsRule
	nsOpen1
	nsOpen2
	nsOpen3
	nsClose1
	nsClose2
	nsClose3
)

// Special tokens. They cannot collide with words, which never contain
// these bytes.
const (
	tokStart   = "\x02" // before the first token (head n-grams only)
	tokStop    = "."    // ., ! or ?
	tokColon   = ":"
	tokNewline = "\n"
	tokItem    = "\x03" // a line that starts a list item (-, *, •, 1.)
)

// features holds the hashed features of one response, by block. It is
// reused between calls to avoid allocation.
type features struct {
	idx   [numBlocks][]uint32
	toks  []uint64 // token hashes
	words []uint64 // hashes of the word tokens only
	sents []int    // end (in words) of each sentence with words
	text  []byte   // lower-cased answer, single spaces
	lines int
	items int
}

// fnv-1a, 64 bit. Hand-written instead of hash/fnv because the hot loop
// must not go through the hash.Hash interface or allocate.
const (
	fnvOffset uint64 = 14695981039346656037
	fnvPrime  uint64 = 1099511628211
)

func fnvString(s string) uint64 {
	h := fnvOffset
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

// mix combines hashes (splitmix64 finaliser over a rotate-xor).
func mix(a, b uint64) uint64 {
	x := bits.RotateLeft64(a, 23) ^ b
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

var (
	hashStart   = fnvString(tokStart)
	hashStop    = fnvString(tokStop)
	hashColon   = fnvString(tokColon)
	hashNewline = fnvString(tokNewline)
	hashItem    = fnvString(tokItem)
)

// extract fills f with the features of response under c. verdict is the
// patterns detector's verdict, used only when c.Rules.
func (f *features) extract(c *FeatureConfig, response string, verdict *Verdict) {
	mask := uint64(1)<<c.Bits - 1
	for b := range f.idx {
		f.idx[b] = f.idx[b][:0]
	}
	f.tokenize(response)
	toks := f.toks
	add := func(b int, h uint64) { f.idx[b] = append(f.idx[b], uint32(h&mask)) }

	if c.WordNgrams >= 1 {
		for i, t := range toks {
			add(blockWords, mix(nsWord1, t))
			if c.WordNgrams >= 2 && i > 0 {
				add(blockWords, mix(nsWord2, mix(toks[i-1], t)))
			}
		}
	}
	if n := len(f.sents); c.OpenSentences > 0 || c.CloseSentences > 0 {
		start := 0
		for i, end := range f.sents {
			switch {
			case i < c.OpenSentences:
				f.sentenceGrams(f.words[start:end], nsOpen1, mask)
			case i >= n-c.CloseSentences:
				f.sentenceGrams(f.words[start:end], nsClose1, mask)
			}
			start = end
		}
	}
	head := min(len(toks), c.HeadTokens)
	if head > 0 {
		prev2, prev1 := uint64(0), hashStart
		for i, t := range toks[:head] {
			add(blockHead, mix(nsHead1, t))
			add(blockHead, mix(nsHead2, mix(prev1, t)))
			if i > 0 {
				add(blockHead, mix(nsHead3, mix(mix(prev2, prev1), t)))
			}
			prev2, prev1 = prev1, t
		}
	}
	if c.CharPrefix > 0 {
		text := f.text
		if len(text) > c.CharPrefix {
			text = text[:c.CharPrefix]
		}
		for n := c.CharMin; n <= c.CharMax; n++ {
			ns := nsChar + uint64(n)<<8
			for i := 0; i+n <= len(text); i++ {
				h := fnvOffset
				for _, ch := range text[i : i+n] {
					h ^= uint64(ch)
					h *= fnvPrime
				}
				add(blockChars, mix(ns, h))
			}
		}
	}
	if c.Shape {
		add(blockShape, mix(nsTokens, uint64(bucket(len(toks)))))
		add(blockShape, mix(nsLines, uint64(bucket(f.lines))))
		add(blockShape, mix(nsItems, uint64(bucket(f.items))))
	}
	if c.Rules && verdict != nil {
		add(blockRules, mix(nsRuleLabel, fnvString(string(verdict.Label))))
		add(blockRules, mix(nsRule, fnvString(ruleFamily(verdict.Rule))))
	}
}

// sentenceGrams adds the word 1- to 3-grams of one sentence (words) to the
// sentence block, in the namespaces ns, ns+1 and ns+2; the sentence start
// is a token of the bigrams and trigrams.
func (f *features) sentenceGrams(words []uint64, ns, mask uint64) {
	prev2, prev1 := uint64(0), hashStart
	for i, t := range words {
		f.idx[blockSents] = append(f.idx[blockSents],
			uint32(mix(ns, t)&mask), uint32(mix(ns+1, mix(prev1, t))&mask))
		if i > 0 {
			f.idx[blockSents] = append(f.idx[blockSents], uint32(mix(ns+2, mix(mix(prev2, prev1), t))&mask))
		}
		prev2, prev1 = prev1, t
	}
}

// bucket is a logarithmic size class: 0 for 0, else bits.Len (1, 2-3, 4-7, …).
func bucket(n int) int { return bits.Len(uint(n)) }

// ruleFamily is the patterns rule name without the cue after a decision
// prefix: "comply-after:any:policy" → "comply-after", "open:apology" stays.
func ruleFamily(rule string) string {
	for _, p := range []string{"comply-after:", "caveat-after-content:", "capability-then-answer:", "partial:"} {
		if len(rule) > len(p) && rule[:len(p)] == p {
			return p[:len(p)-1]
		}
	}
	return rule
}

// blockScale is the value of every feature of a block with n features:
// 1/sqrt(n) (so the block's vector has norm ≈ 1), or 1 for the shape and
// rule blocks.
func blockScale(b, n int) float64 {
	if n == 0 {
		return 0
	}
	if b == blockShape || b == blockRules {
		return 1
	}
	return 1 / math.Sqrt(float64(n))
}

// tokenize lower-cases the answer (StripThink, NormalizeQuotes), collapses
// white space into f.text and hashes its tokens into f.toks: words (runs of
// letters, digits and inner apostrophes), sentence ends, colons, line
// breaks and list-item starts. The word hashes alone go to f.words, and
// f.sents records where sentences end (at ., !, ? and line breaks). It
// counts lines and list items.
func (f *features) tokenize(response string) {
	s := StripThink(response)
	f.toks = f.toks[:0]
	f.words = f.words[:0]
	f.sents = f.sents[:0]
	f.text = f.text[:0]
	f.lines, f.items = 0, 0
	lineStart := true
	space := false
	word := fnvOffset
	inWord := false
	endWord := func() {
		if inWord {
			f.toks = append(f.toks, word)
			f.words = append(f.words, word)
			word, inWord = fnvOffset, false
		}
	}
	// endSentence closes the current sentence if it has words.
	endSentence := func() {
		if n := len(f.words); n > 0 && (len(f.sents) == 0 || f.sents[len(f.sents)-1] < n) {
			f.sents = append(f.sents, n)
		}
	}
	for i := 0; i < len(s); {
		r, size := rune(s[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(s[i:])
		}
		i += size
		r = asciiQuote(r)
		if r < 0 {
			continue
		}
		if r == '\n' {
			endWord()
			endSentence()
			if !lineStart {
				f.toks = append(f.toks, hashNewline)
				f.lines++
			}
			lineStart = true
			space = true
			continue
		}
		if isSpace(r) {
			endWord()
			space = true
			continue
		}
		if space && len(f.text) > 0 {
			f.text = append(f.text, ' ')
		}
		space = false
		if r < utf8.RuneSelf {
			if 'A' <= r && r <= 'Z' {
				r += 'a' - 'A'
			}
		} else {
			r = unicode.ToLower(r)
		}
		f.text = utf8.AppendRune(f.text, r)
		isWord := r == '\'' && inWord || isWordRune(r)
		if lineStart {
			lineStart = false
			if r == '-' || r == '*' || r == '•' {
				f.toks = append(f.toks, hashItem)
				f.items++
				continue
			}
			if n := listNumber(s[i-size:]); n > 0 {
				// "12. " or "3) ": an item mark, not a word and a
				// sentence end.
				f.toks = append(f.toks, hashItem)
				f.items++
				f.text = append(f.text, s[i:i-size+n]...)
				i += n - size
				continue
			}
		}
		if isWord {
			// Hash the rune's UTF-8 bytes.
			var buf [utf8.UTFMax]byte
			for _, b := range buf[:utf8.EncodeRune(buf[:], r)] {
				word ^= uint64(b)
				word *= fnvPrime
			}
			inWord = true
			continue
		}
		endWord()
		switch r {
		case '.', '!', '?':
			f.toks = append(f.toks, hashStop)
			endSentence()
		case ':':
			f.toks = append(f.toks, hashColon)
		}
	}
	endWord()
	endSentence()
	if len(f.toks) > 0 && !lineStart {
		f.lines++
	}
}

// isSpace is unicode.IsSpace with an ASCII fast path.
func isSpace(r rune) bool {
	if r < utf8.RuneSelf {
		return r == ' ' || '\t' <= r && r <= '\r'
	}
	return unicode.IsSpace(r)
}

// isWordRune reports whether r is a letter or digit, with an ASCII fast
// path.
func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || '0' <= r && r <= '9' || 'A' <= r && r <= 'Z'
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}

// listNumber returns the length of the list number s starts with (up to
// four digits followed by "." or ")"; a space or tab must follow), or 0.
func listNumber(s string) int {
	i := 0
	for i < len(s) && i < 4 && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	if i > 0 && i+1 < len(s) && (s[i] == '.' || s[i] == ')') && (s[i+1] == ' ' || s[i+1] == '\t') {
		return i + 1
	}
	return 0
}

package refusal

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Model is a trained refusal classifier: logistic regression over hashed
// features of the response (FeatureConfig). P(refusal) = σ(Bias + w·x); the
// response is a refusal when P ≥ Threshold.
type Model struct {
	// Features are the features the model was trained on.
	Features FeatureConfig
	// Bias is the intercept.
	Bias float64
	// Weights has 1<<Features.Bits entries.
	Weights []float32
	// Threshold is the decision threshold on P(refusal), in (0, 1).
	Threshold float64
	// Header is the model's provenance: training data, licences,
	// citations, the command that produced it, cross-validated scores.
	// One line per entry, written after "# " in the model file.
	Header []string
}

// Prob returns P(refusal) for a response. verdict is the patterns
// detector's verdict on it; it is used only by models trained with
// Features.Rules and may be nil otherwise.
func (m *Model) Prob(response string, verdict *Verdict) float64 {
	var f features
	f.extract(&m.Features, response, verdict)
	return sigmoid(m.score(&f))
}

// score returns the linear score b + w·x of extracted features.
func (m *Model) score(f *features) float64 {
	z := m.Bias
	for b := range f.idx {
		if len(f.idx[b]) == 0 {
			continue
		}
		sum := float32(0)
		for _, i := range f.idx[b] {
			sum += m.Weights[i]
		}
		z += float64(sum) * blockScale(b, len(f.idx[b]))
	}
	return z
}

// sigmoid is the logistic function.
func sigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}

// Validate checks that the model can be used: valid features, a weight
// vector of the right size, finite weights, bias and a threshold in (0, 1).
func (m *Model) Validate() error {
	if err := m.Features.Validate(); err != nil {
		return err
	}
	if len(m.Weights) != 1<<m.Features.Bits {
		return fmt.Errorf("%d weights, want 1<<%d = %d", len(m.Weights), m.Features.Bits, 1<<m.Features.Bits)
	}
	if math.IsNaN(m.Bias) || math.IsInf(m.Bias, 0) {
		return fmt.Errorf("bias %v is not finite", m.Bias)
	}
	if !(m.Threshold > 0 && m.Threshold < 1) {
		return fmt.Errorf("threshold %v: want 0 < threshold < 1", m.Threshold)
	}
	for i, w := range m.Weights {
		if math.IsNaN(float64(w)) || math.IsInf(float64(w), 0) {
			return fmt.Errorf("weight %d is not finite", i)
		}
	}
	return nil
}

// The model file format, version 2 (text, UTF-8):
//
//	deepconf refusal classifier v2
//	# header lines (provenance), any number
//	features bits=16 head=32 words=2 chars=3-5 prefix=300 open=3 close=2 nb=true shape=true rules=false
//	bias -1.25
//	threshold 0.5
//	scale 1.5e-05
//	weights 65536
//	<base64 of the gzip-compressed weights, 76 characters a line>
//	end
//
// Version 1 files (first line "… v1") have no open, close, nb and shape
// keys (read as 0, 0, false and true). Weights are stored as little-endian int16 q, weight = q · scale (scale =
// max |w| / 32767): 16 bits keep every weight to within half a step, and
// the quantised model, not the float one, is the one scored.
const (
	modelMagic     = "deepconf refusal classifier v2"
	modelMagicV1   = "deepconf refusal classifier v1"
	modelLineWidth = 76
	quantMax       = 32767
)

// Quantize rounds m's weights to the 16-bit grid of the model file, so a
// model scores the same before and after WriteModel and ReadModel.
func (m *Model) Quantize() {
	scale := weightScale(m.Weights)
	for i, w := range m.Weights {
		m.Weights[i] = float32(float64(quantize(w, scale)) * scale)
	}
}

func weightScale(ws []float32) float64 {
	maxAbs := 0.0
	for _, w := range ws {
		maxAbs = max(maxAbs, math.Abs(float64(w)))
	}
	if maxAbs == 0 {
		return 1
	}
	return maxAbs / quantMax
}

func quantize(w float32, scale float64) int16 {
	q := math.Round(float64(w) / scale)
	return int16(max(-quantMax, min(quantMax, q)))
}

// WriteModel writes m in the model file format. The output depends only on
// m: the same model gives the same bytes.
func WriteModel(w io.Writer, m *Model) error {
	if err := m.Validate(); err != nil {
		return fmt.Errorf("write model: %w", err)
	}
	var b bytes.Buffer
	b.WriteString(modelMagic + "\n")
	for _, h := range m.Header {
		for _, line := range strings.Split(h, "\n") {
			b.WriteString(strings.TrimRight("# "+line, " ") + "\n")
		}
	}
	c := m.Features
	fmt.Fprintf(&b, "features bits=%d head=%d words=%d chars=%d-%d prefix=%d open=%d close=%d nb=%t shape=%t rules=%t\n",
		c.Bits, c.HeadTokens, c.WordNgrams, c.CharMin, c.CharMax, c.CharPrefix, c.OpenSentences, c.CloseSentences, c.NB, c.Shape, c.Rules)
	fmt.Fprintf(&b, "bias %s\n", strconv.FormatFloat(m.Bias, 'g', -1, 64))
	fmt.Fprintf(&b, "threshold %s\n", strconv.FormatFloat(m.Threshold, 'g', -1, 64))
	scale := weightScale(m.Weights)
	fmt.Fprintf(&b, "scale %s\n", strconv.FormatFloat(scale, 'g', -1, 64))
	fmt.Fprintf(&b, "weights %d\n", len(m.Weights))
	raw := make([]byte, 2*len(m.Weights))
	for i, wt := range m.Weights {
		binary.LittleEndian.PutUint16(raw[2*i:], uint16(quantize(wt, scale)))
	}
	var z bytes.Buffer
	zw, err := gzip.NewWriterLevel(&z, gzip.BestCompression)
	if err != nil {
		return fmt.Errorf("write model: %w", err)
	}
	if _, err := zw.Write(raw); err != nil {
		return fmt.Errorf("write model: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("write model: %w", err)
	}
	enc := base64.StdEncoding.EncodeToString(z.Bytes())
	for len(enc) > 0 {
		n := min(modelLineWidth, len(enc))
		b.WriteString(enc[:n] + "\n")
		enc = enc[n:]
	}
	b.WriteString("end\n")
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("write model: %w", err)
	}
	return nil
}

// maxModelWeights bounds the weight count a model file may declare
// (1<<24, the largest FeatureConfig.Bits).
const maxModelWeights = 1 << 24

// ReadModel reads a model written by WriteModel. name (a file name) is
// used in error messages, which also give the line.
func ReadModel(r io.Reader, name string) (*Model, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	line := 0
	next := func() (string, bool) {
		if !sc.Scan() {
			return "", false
		}
		line++
		return strings.TrimSuffix(sc.Text(), "\r"), true
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("model %s:%d: %s", name, line, fmt.Sprintf(format, args...))
	}
	s, ok := next()
	if !ok {
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("model %s: %w", name, err)
		}
		return nil, fmt.Errorf("model %s: empty file", name)
	}
	if s != modelMagic && s != modelMagicV1 {
		return nil, fail("not a deepconf refusal classifier (first line %q, want %q)", truncate(s, 60), modelMagic)
	}
	v1 := s == modelMagicV1
	m := &Model{}
	for {
		if s, ok = next(); !ok {
			return nil, fail("unexpected end of file: want a features line")
		}
		if h, ok := strings.CutPrefix(s, "#"); ok {
			m.Header = append(m.Header, strings.TrimPrefix(h, " "))
			continue
		}
		break
	}
	if err := parseFeatureLine(s, &m.Features, v1); err != nil {
		return nil, fail("%v", err)
	}
	var scale float64
	var n int
	for _, key := range []string{"bias", "threshold", "scale", "weights"} {
		if s, ok = next(); !ok {
			return nil, fail("unexpected end of file: want %q", key)
		}
		v, ok := strings.CutPrefix(s, key+" ")
		if !ok {
			return nil, fail("got %q, want %q", truncate(s, 40), key+" <value>")
		}
		var err error
		switch key {
		case "bias":
			m.Bias, err = strconv.ParseFloat(v, 64)
		case "threshold":
			m.Threshold, err = strconv.ParseFloat(v, 64)
		case "scale":
			scale, err = strconv.ParseFloat(v, 64)
			if err == nil && !(scale > 0 && !math.IsInf(scale, 0)) {
				err = errors.New("want a positive finite number")
			}
		case "weights":
			n, err = strconv.Atoi(v)
			if err == nil && (n < 1 || n > maxModelWeights) {
				err = fmt.Errorf("want 1 to %d", maxModelWeights)
			}
		}
		if err != nil {
			return nil, fail("%s %q: %v", key, v, err)
		}
	}
	var enc strings.Builder
	for {
		if s, ok = next(); !ok {
			return nil, fail("unexpected end of file: want \"end\"")
		}
		if s == "end" {
			break
		}
		if enc.Len() > 4*maxModelWeights {
			return nil, fail("weights block too long")
		}
		enc.WriteString(s)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("model %s: %w", name, err)
	}
	z, err := base64.StdEncoding.DecodeString(enc.String())
	if err != nil {
		return nil, fmt.Errorf("model %s: weights: %w", name, err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(z))
	if err != nil {
		return nil, fmt.Errorf("model %s: weights: %w", name, err)
	}
	raw, err := io.ReadAll(io.LimitReader(zr, int64(2*n)+1))
	if err != nil {
		return nil, fmt.Errorf("model %s: weights: %w", name, err)
	}
	if len(raw) != 2*n {
		return nil, fmt.Errorf("model %s: weights: %d bytes, want %d for %d weights", name, len(raw), 2*n, n)
	}
	m.Weights = make([]float32, n)
	for i := range m.Weights {
		m.Weights[i] = float32(float64(int16(binary.LittleEndian.Uint16(raw[2*i:]))) * scale)
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("model %s: %w", name, err)
	}
	return m, nil
}

// parseFeatureLine parses "features bits=… head=… words=… chars=A-B
// prefix=… open=… close=… nb=… shape=… rules=…"; every key is required,
// once (a version 1 file has no open, close, nb and shape).
func parseFeatureLine(s string, c *FeatureConfig, v1 bool) error {
	rest, ok := strings.CutPrefix(s, "features ")
	if !ok {
		return fmt.Errorf("got %q, want \"features …\"", truncate(s, 40))
	}
	seen := map[string]bool{}
	for _, kv := range strings.Fields(rest) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("features: %q is not key=value", kv)
		}
		if seen[k] {
			return fmt.Errorf("features: %s given twice", k)
		}
		seen[k] = true
		var err error
		switch k {
		case "bits":
			c.Bits, err = strconv.Atoi(v)
		case "head":
			c.HeadTokens, err = strconv.Atoi(v)
		case "words":
			c.WordNgrams, err = strconv.Atoi(v)
		case "chars":
			a, b, ok := strings.Cut(v, "-")
			if !ok {
				err = errors.New("want MIN-MAX")
				break
			}
			if c.CharMin, err = strconv.Atoi(a); err == nil {
				c.CharMax, err = strconv.Atoi(b)
			}
		case "prefix":
			c.CharPrefix, err = strconv.Atoi(v)
		case "rules":
			c.Rules, err = strconv.ParseBool(v)
		case "open":
			c.OpenSentences, err = strconv.Atoi(v)
		case "close":
			c.CloseSentences, err = strconv.Atoi(v)
		case "nb":
			c.NB, err = strconv.ParseBool(v)
		case "shape":
			c.Shape, err = strconv.ParseBool(v)
		default:
			return fmt.Errorf("features: unknown key %q", k)
		}
		if err != nil {
			return fmt.Errorf("features: %s=%q: %v", k, v, err)
		}
	}
	keys := []string{"bits", "head", "words", "chars", "prefix", "open", "close", "nb", "shape", "rules"}
	if v1 {
		keys = []string{"bits", "head", "words", "chars", "prefix", "rules"}
		c.Shape = true
	}
	for _, k := range keys {
		if !seen[k] {
			return fmt.Errorf("features: missing %s", k)
		}
	}
	return c.Validate()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

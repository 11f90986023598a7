package testmodel

import (
	"context"
	"encoding/binary"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"

	"github.com/deepconf/deepconf/internal/gguf"
)

// Random weights are drawn by inverse-transform sampling with 16-bit
// uniforms: element = σ·Φ⁻¹((u+½)/2¹⁶) with u uniform on 0..65535 from a
// PCG generator, looked up in a table of the 65,536 quantiles that is
// already encoded in the tensor type. One 64-bit PCG output gives four
// weights. This is an order of magnitude faster than math/rand's normal
// generator plus a float16 conversion per element, which matters for the
// 0.6B and 1.7B shapes (0.6 and 2 billion weights), and it loses nothing
// that matters for random test weights: the values are N(0, σ) quantiles,
// truncated at ±4.3σ, and F16 keeps only 11 significant bits anyway.

// normalQuantile returns Φ⁻¹(p), the p-quantile of N(0, 1).
func normalQuantile(p float64) float64 {
	return math.Sqrt2 * math.Erfinv(2*p-1)
}

// quantiles returns the 2¹⁶ quantiles Φ⁻¹((u+½)/2¹⁶) of N(0, 1).
func quantiles() []float64 {
	q := make([]float64, 1<<16)
	for u := range q {
		q[u] = normalQuantile((float64(u) + 0.5) / (1 << 16))
	}
	return q
}

// weightWriter writes random and constant tensors of one type, sharing its
// buffer and quantile tables between tensors (they are written one at a
// time).
type weightWriter struct {
	ctx    context.Context
	seed   uint64
	typ    gguf.Type // TypeF16 or TypeF32
	buf    []byte
	std    []float64            // standard normal quantiles, made on first use
	tables map[float64][]uint32 // σ → encoded quantiles (F16 in the low 16 bits, or F32 bits)
}

func newWeightWriter(ctx context.Context, seed uint64, typ gguf.Type) *weightWriter {
	return &weightWriter{ctx: ctx, seed: seed, typ: typ, tables: make(map[float64][]uint32)}
}

// table returns the quantiles of N(0, σ) encoded as ww.typ.
func (ww *weightWriter) table(sigma float64) []uint32 {
	if t, ok := ww.tables[sigma]; ok {
		return t
	}
	if ww.std == nil {
		ww.std = quantiles()
	}
	t := make([]uint32, len(ww.std))
	for u, z := range ww.std {
		v := float32(sigma * z)
		if ww.typ == gguf.TypeF16 {
			t[u] = uint32(gguf.F16(v))
		} else {
			t[u] = math.Float32bits(v)
		}
	}
	ww.tables[sigma] = t
	return t
}

// stream returns the name's own random stream: the same seed and tensor
// name always give the same values, whatever the order of the tensors.
func stream(seed uint64, name string) *rand.PCG {
	h := fnv.New64a()
	io.WriteString(h, name)
	return rand.NewPCG(seed, h.Sum64())
}

// bufSize is the size of the buffer random tensors are generated into.
const bufSize = 1 << 20

// random returns a tensor of N(0, σ) weights with ggml dimensions dims.
func (ww *weightWriter) random(name string, sigma float64, dims ...int) gguf.Tensor {
	info := gguf.TensorInfo{Name: name, Type: ww.typ, Dims: udims(dims)}
	return gguf.Tensor{TensorInfo: info, WriteData: func(w io.Writer) error {
		table := ww.table(sigma)
		src := stream(ww.seed, name)
		if ww.buf == nil {
			ww.buf = make([]byte, bufSize)
		}
		width := 2
		if ww.typ == gguf.TypeF32 {
			width = 4
		}
		for n := int(info.Elements()); n > 0; {
			if err := ww.ctx.Err(); err != nil {
				return err
			}
			k := min(n, len(ww.buf)/width)
			chunk := ww.buf[:k*width]
			if width == 2 {
				fillF16(chunk, src, table)
			} else {
				fillF32(chunk, src, table)
			}
			if _, err := w.Write(chunk); err != nil {
				return err
			}
			n -= k
		}
		return nil
	}}
}

// fillF16 fills b with little-endian F16 values drawn from table, four per
// PCG output. Only the last chunk of a tensor can have a length that is not
// a multiple of 8, so the stream of values does not depend on the chunking.
func fillF16(b []byte, src *rand.PCG, table []uint32) {
	i := 0
	for ; i+8 <= len(b); i += 8 {
		r := src.Uint64()
		binary.LittleEndian.PutUint16(b[i:], uint16(table[uint16(r)]))
		binary.LittleEndian.PutUint16(b[i+2:], uint16(table[uint16(r>>16)]))
		binary.LittleEndian.PutUint16(b[i+4:], uint16(table[uint16(r>>32)]))
		binary.LittleEndian.PutUint16(b[i+6:], uint16(table[uint16(r>>48)]))
	}
	if i < len(b) {
		for r := src.Uint64(); i < len(b); i += 2 {
			binary.LittleEndian.PutUint16(b[i:], uint16(table[uint16(r)]))
			r >>= 16
		}
	}
}

// fillF32 is fillF16 for little-endian F32 values.
func fillF32(b []byte, src *rand.PCG, table []uint32) {
	i := 0
	for ; i+16 <= len(b); i += 16 {
		r := src.Uint64()
		binary.LittleEndian.PutUint32(b[i:], table[uint16(r)])
		binary.LittleEndian.PutUint32(b[i+4:], table[uint16(r>>16)])
		binary.LittleEndian.PutUint32(b[i+8:], table[uint16(r>>32)])
		binary.LittleEndian.PutUint32(b[i+12:], table[uint16(r>>48)])
	}
	if i < len(b) {
		for r := src.Uint64(); i < len(b); i += 4 {
			binary.LittleEndian.PutUint32(b[i:], table[uint16(r)])
			r >>= 16
		}
	}
}

// ones returns an F32 vector of n ones (RMSNorm weights).
func ones(name string, n int) gguf.Tensor {
	return gguf.Tensor{
		TensorInfo: gguf.TensorInfo{Name: name, Type: gguf.TypeF32, Dims: udims([]int{n})},
		WriteData: func(w io.Writer) error {
			return gguf.WriteFloats(w, gguf.TypeF32, uint64(n), func(c []float32) error {
				for i := range c {
					c[i] = 1
				}
				return nil
			})
		},
	}
}

func udims(dims []int) []uint64 {
	u := make([]uint64, len(dims))
	for i, d := range dims {
		u[i] = uint64(d)
	}
	return u
}

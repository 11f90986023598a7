package gguf

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// F16 converts f to IEEE 754 binary16 (half precision), rounding to nearest,
// ties to even. Values too large for binary16 become ±Inf, values too small
// become ±0 or a subnormal, NaN stays NaN (quiet).
func F16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff { // Inf or NaN
		if mant == 0 {
			return sign | 0x7c00
		}
		return sign | 0x7e00 | uint16(mant>>13)
	}
	e := exp - 127 + 15 // binary16 biased exponent
	switch {
	case e >= 0x1f:
		return sign | 0x7c00 // overflow
	case e >= 1:
		// Normal: keep the top 10 mantissa bits, round on the other 13. A
		// carry out of the mantissa correctly bumps the exponent, up to Inf.
		// Adding 0xfff plus the lowest kept bit carries into the kept bits
		// exactly when the dropped bits are above half, or at half with
		// an odd kept mantissa (branch-free, as random data makes the
		// rounding direction unpredictable).
		m := (mant + 0xfff + (mant>>13)&1) >> 13
		return sign | uint16(uint32(e)<<10+m)
	case e < -10:
		return sign // below half the smallest subnormal (2^-25): zero
	default:
		// Subnormal: the value is sig·2^(exp-150); in units of 2^-24 that
		// is sig >> (14-e). Rounding up from the largest subnormal gives the
		// smallest normal, which is the right encoding.
		sig := mant | 0x800000
		shift := uint32(14 - e)
		q := sig >> shift
		r := sig & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if r > half || r == half && q&1 == 1 {
			q++
		}
		return sign | uint16(q)
	}
}

// F16ToFloat32 converts the IEEE 754 binary16 value h to float32, exactly.
func F16ToFloat32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch exp {
	case 0:
		// ±0 or subnormal: mant·2^-24, exact in float32.
		f := float32(mant) * (1.0 / (1 << 24))
		return math.Float32frombits(math.Float32bits(f) | sign)
	case 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}

// PutF16 encodes src as little-endian binary16 into dst, which must hold at
// least 2·len(src) bytes.
func PutF16(dst []byte, src []float32) {
	if len(src) == 0 {
		return
	}
	dst = dst[:2*len(src)]
	for i, f := range src {
		h := F16(f)
		dst[2*i] = byte(h)
		dst[2*i+1] = byte(h >> 8)
	}
}

// PutF32 encodes src as little-endian float32 into dst, which must hold at
// least 4·len(src) bytes.
func PutF32(dst []byte, src []float32) {
	if len(src) == 0 {
		return
	}
	_ = dst[4*len(src)-1]
	for i, f := range src {
		binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(f))
	}
}

// floatChunk is the number of elements WriteFloats converts at a time.
const floatChunk = 1 << 16

// WriteFloats writes n elements of type t (TypeF32 or TypeF16) to w. It
// obtains the values chunk by chunk from fill, which must fill its whole
// argument (at most 65,536 values; the last chunk may be shorter), and
// reuses one buffer, so memory use does not depend on n. An error from fill
// stops the writing and is returned as is.
func WriteFloats(w io.Writer, t Type, n uint64, fill func(chunk []float32) error) error {
	var width int
	var put func([]byte, []float32)
	switch t {
	case TypeF32:
		width, put = 4, PutF32
	case TypeF16:
		width, put = 2, PutF16
	default:
		return fmt.Errorf("write floats: type %s: want F32 or F16", t)
	}
	vals := make([]float32, min(n, floatChunk))
	buf := make([]byte, width*len(vals))
	for n > 0 {
		k := min(n, uint64(len(vals)))
		if err := fill(vals[:k]); err != nil {
			return err
		}
		put(buf, vals[:k])
		if _, err := w.Write(buf[:width*int(k)]); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

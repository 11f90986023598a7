package gguf

import (
	"math"
	"testing"
)

// Reference encodings are from IEEE 754-2008 binary16 (1 sign bit, 5
// exponent bits with bias 15, 10 mantissa bits), worked out by hand; several
// are the examples in Wikipedia's "Half-precision floating-point format"
// article (1 = 0x3c00, -2 = 0xc000, 65504 = 0x7bff, 2^-14 = 0x0400,
// 2^-24 = 0x0001, 1/3 ≈ 0x3555, 0.1 ≈ 0x2e66).
func TestF16(t *testing.T) {
	pow2 := func(e int) float32 { return float32(math.Ldexp(1, e)) }
	tests := []struct {
		name string
		in   float32
		want uint16
	}{
		{"zero", 0, 0x0000},
		{"negative zero", float32(math.Copysign(0, -1)), 0x8000},
		{"one", 1, 0x3c00},
		{"minus two", -2, 0xc000},
		{"max finite", 65504, 0x7bff},
		{"just below the Inf rounding point", 65519.996, 0x7bff},
		{"tie at max finite rounds to even (Inf)", 65520, 0x7c00},
		{"overflow", 1e6, 0x7c00},
		{"negative overflow", -1e6, 0xfc00},
		{"+Inf", float32(math.Inf(1)), 0x7c00},
		{"-Inf", float32(math.Inf(-1)), 0xfc00},
		{"one third", 1.0 / 3, 0x3555},
		{"0.1", 0.1, 0x2e66},
		{"smallest normal 2^-14", pow2(-14), 0x0400},
		{"smallest subnormal 2^-24", pow2(-24), 0x0001},
		{"largest subnormal", pow2(-14) - pow2(-24), 0x03ff},
		{"tie between largest subnormal and smallest normal", pow2(-14) - pow2(-25), 0x0400},
		{"half of smallest subnormal ties to zero", pow2(-25), 0x0000},
		{"just above half of smallest subnormal", pow2(-25) * (1 + pow2(-23)), 0x0001},
		{"1.5 subnormal units tie to even 2", 3 * pow2(-25), 0x0002},
		{"2.5 subnormal units tie to even 2", 5 * pow2(-25), 0x0002},
		{"far below", pow2(-30), 0x0000},
		{"negative far below", -pow2(-30), 0x8000},
		{"float32 subnormal", math.SmallestNonzeroFloat32, 0x0000},
		{"1+2^-11 ties to even 1", 1 + pow2(-11), 0x3c00},
		{"1+3·2^-11 ties to even 1+2^-9", 1 + 3*pow2(-11), 0x3c02},
		{"1+2^-11+2^-20 rounds up", 1 + pow2(-11) + pow2(-20), 0x3c01},
		{"rounding carries into the exponent", 2 - pow2(-12), 0x4000},
	}
	for _, tt := range tests {
		if got := F16(tt.in); got != tt.want {
			t.Errorf("%s: F16(%g) = %#04x, want %#04x", tt.name, tt.in, got, tt.want)
		}
	}
	if h := F16(float32(math.NaN())); h&0x7c00 != 0x7c00 || h&0x3ff == 0 {
		t.Errorf("F16(NaN) = %#04x, want a NaN", h)
	}
}

func TestF16ToFloat32(t *testing.T) {
	tests := []struct {
		in   uint16
		want float32
	}{
		{0x0000, 0},
		{0x3c00, 1},
		{0xc000, -2},
		{0x7bff, 65504},
		{0x3555, 0.333251953125},
		{0x0001, float32(math.Ldexp(1, -24))},
		{0x03ff, float32(math.Ldexp(1023, -24))},
		{0x0400, float32(math.Ldexp(1, -14))},
		{0x7c00, float32(math.Inf(1))},
		{0xfc00, float32(math.Inf(-1))},
	}
	for _, tt := range tests {
		if got := F16ToFloat32(tt.in); got != tt.want {
			t.Errorf("F16ToFloat32(%#04x) = %g, want %g", tt.in, got, tt.want)
		}
	}
	if got := F16ToFloat32(0x8000); got != 0 || !math.Signbit(float64(got)) {
		t.Errorf("F16ToFloat32(0x8000) = %g, want -0", got)
	}
	if got := F16ToFloat32(0x7e00); !math.IsNaN(float64(got)) {
		t.Errorf("F16ToFloat32(0x7e00) = %g, want NaN", got)
	}
}

// TestF16Exhaustive checks every binary16 value: decoding and re-encoding
// gives the same bits, and the midpoint between two neighbours rounds to the
// one with an even mantissa while anything off the midpoint rounds to the
// nearer one.
func TestF16Exhaustive(t *testing.T) {
	for h := range 1 << 16 {
		h := uint16(h)
		f := F16ToFloat32(h)
		if math.IsNaN(float64(f)) {
			if h&0x7c00 != 0x7c00 || h&0x3ff == 0 {
				t.Fatalf("F16ToFloat32(%#04x) = NaN for a non-NaN", h)
			}
			continue
		}
		if got := F16(f); got != h {
			t.Fatalf("F16(F16ToFloat32(%#04x) = %g) = %#04x", h, f, got)
		}
		if h&0x7fff >= 0x7bff { // no finite upper neighbour
			continue
		}
		next := h + 1 // same sign, larger magnitude
		lo, hi := float64(f), float64(F16ToFloat32(next))
		mid := float32((lo + hi) / 2) // 12 significant bits: exact in float32
		if float64(mid) != (lo+hi)/2 {
			t.Fatalf("midpoint of %#04x and %#04x not exact", h, next)
		}
		even := h
		if h&1 == 1 {
			even = next
		}
		if got := F16(mid); got != even {
			t.Fatalf("F16(midpoint %g of %#04x, %#04x) = %#04x, want %#04x", mid, h, next, got, even)
		}
		toward0 := math.Nextafter32(mid, 0)
		away := math.Nextafter32(mid, float32(math.Copysign(math.Inf(1), lo+hi)))
		if got := F16(toward0); got != h {
			t.Fatalf("F16(%g, just below the midpoint) = %#04x, want %#04x", toward0, got, h)
		}
		if got := F16(away); got != next {
			t.Fatalf("F16(%g, just above the midpoint) = %#04x, want %#04x", away, got, next)
		}
	}
}

func TestPutF16(t *testing.T) {
	dst := make([]byte, 6)
	PutF16(dst, []float32{1, -2, 65504})
	want := []byte{0x00, 0x3c, 0x00, 0xc0, 0xff, 0x7b} // little-endian
	if string(dst) != string(want) {
		t.Errorf("PutF16 = % x, want % x", dst, want)
	}
	PutF16(nil, nil) // no values, no panic
}

func BenchmarkPutF16(b *testing.B) {
	src := make([]float32, 1<<16)
	for i := range src {
		src[i] = float32(i-1<<15) * 0.001
	}
	dst := make([]byte, 2*len(src))
	b.SetBytes(int64(4 * len(src))) // float32 input bytes
	for b.Loop() {
		PutF16(dst, src)
	}
}

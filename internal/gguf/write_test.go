package gguf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

// TestWriteBytes checks the exact bytes of a minimal file against a layout
// worked out by hand from the GGUF v3 specification (ggml docs/gguf.md):
// header, one metadata pair, one tensor info, padding to 32, the data, and
// padding to 32.
func TestWriteBytes(t *testing.T) {
	var buf bytes.Buffer
	err := Write(&buf, []KV{{"a", uint32(7)}}, []Tensor{{
		TensorInfo: TensorInfo{Name: "t", Type: TypeF32, Dims: []uint64{2}},
		WriteData: func(w io.Writer) error {
			return WriteFloats(w, TypeF32, 2, func(c []float32) error { copy(c, []float32{1, -2}); return nil })
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	var want []byte
	put := func(b ...byte) { want = append(want, b...) }
	put('G', 'G', 'U', 'F')
	put(3, 0, 0, 0)               // version
	put(1, 0, 0, 0, 0, 0, 0, 0)   // tensor count
	put(1, 0, 0, 0, 0, 0, 0, 0)   // metadata count
	put(1, 0, 0, 0, 0, 0, 0, 0)   // key length
	put('a')                      // key
	put(4, 0, 0, 0)               // value type uint32
	put(7, 0, 0, 0)               // value
	put(1, 0, 0, 0, 0, 0, 0, 0)   // name length
	put('t')                      // name
	put(1, 0, 0, 0)               // dimensions
	put(2, 0, 0, 0, 0, 0, 0, 0)   // dims[0]
	put(0, 0, 0, 0)               // type F32
	put(0, 0, 0, 0, 0, 0, 0, 0)   // offset
	put(make([]byte, 96-74)...)   // header is 74 bytes: pad to 96
	put(0x00, 0x00, 0x80, 0x3f)   // 1.0
	put(0x00, 0x00, 0x00, 0xc0)   // -2.0
	put(make([]byte, 128-104)...) // pad to 128
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("file bytes:\n% x\nwant\n% x", buf.Bytes(), want)
	}
}

// allValues has one metadata pair of every supported Go type.
var allValues = []KV{
	{"general.architecture", "qwen3"},
	{"test.u8", uint8(250)},
	{"test.i8", int8(-5)},
	{"test.u16", uint16(65000)},
	{"test.i16", int16(-30000)},
	{"test.u32", uint32(4000000000)},
	{"test.i32", int32(-2000000000)},
	{"test.u64", uint64(1) << 60},
	{"test.i64", int64(-1) << 60},
	{"test.f32", float32(1e-6)},
	{"test.f64", math.Pi},
	{"test.true", true},
	{"test.false", false},
	{"test.empty", ""},
	{"test.unicode", "Ġhello ✓\n<|im_end|>"},
	{"test.strings", []string{"", "a", "Ġb", strings.Repeat("x", 1000)}},
	{"test.i32s", []int32{1, -2, 3}},
	{"test.f32s", []float32{0.5, -1.25, float32(math.Inf(1))}},
	{"test.u8s", []uint8{1, 2}},
	{"test.i8s", []int8{-1, 2}},
	{"test.u16s", []uint16{1, 2}},
	{"test.i16s", []int16{-1, 2}},
	{"test.u32s", []uint32{1, 2}},
	{"test.u64s", []uint64{1, 2}},
	{"test.i64s", []int64{-1, 2}},
	{"test.f64s", []float64{-1.5, 2}},
	{"test.bools", []bool{true, false, true}},
	{"test.no_strings", []string{}},
}

func TestRoundTrip(t *testing.T) {
	for _, align := range []uint32{0, 8, 64} {
		kvs := allValues
		if align != 0 {
			kvs = append([]KV{{KeyAlignment, align}}, allValues...)
		}
		wantAlign := uint64(align)
		if align == 0 {
			wantAlign = DefaultAlignment
		}
		infos := []TensorInfo{
			{Name: "token_embd.weight", Type: TypeF16, Dims: []uint64{8, 5}},
			{Name: "output_norm.weight", Type: TypeF32, Dims: []uint64{8}},
			{Name: "blk.0.attn_q.weight", Type: TypeF16, Dims: []uint64{3, 1, 7}},
			{Name: "odd", Type: TypeF32, Dims: []uint64{3}},
			{Name: "four.dims", Type: TypeF16, Dims: []uint64{2, 3, 1, 2}},
		}
		values := make([][]float32, len(infos))
		var tensors []Tensor
		for i, ti := range infos {
			vals := make([]float32, ti.Elements())
			for j := range vals {
				// Values exact in binary16, distinct per tensor.
				vals[j] = float32(i*100+j) / 8
			}
			values[i] = vals
			tensors = append(tensors, Tensor{TensorInfo: ti, WriteData: func(w io.Writer) error {
				rest := vals
				return WriteFloats(w, ti.Type, uint64(len(vals)), func(c []float32) error {
					rest = rest[copy(c, rest):]
					return nil
				})
			}})
		}
		path := filepath.Join(t.TempDir(), "m.gguf")
		fh, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := Write(fh, kvs, tensors); err != nil {
			t.Fatalf("align %d: Write: %v", align, err)
		}
		if err := fh.Close(); err != nil {
			t.Fatal(err)
		}
		f, err := ReadFile(path)
		if err != nil {
			t.Fatalf("align %d: ReadFile: %v", align, err)
		}
		if f.Version != Version || f.Alignment != wantAlign {
			t.Errorf("align %d: version %d, alignment %d", align, f.Version, f.Alignment)
		}
		if !reflect.DeepEqual(f.KV, kvs) {
			t.Errorf("align %d: metadata read back:\n%#v\nwant\n%#v", align, f.KV, kvs)
		}
		if v, ok := f.Lookup("test.i32s"); !ok || !reflect.DeepEqual(v, []int32{1, -2, 3}) {
			t.Errorf("Lookup(test.i32s) = %v, %v", v, ok)
		}
		if _, ok := f.Lookup("missing"); ok {
			t.Error("Lookup(missing) found something")
		}
		if f.DataOffset%int64(wantAlign) != 0 {
			t.Errorf("align %d: data offset %d not aligned", align, f.DataOffset)
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var end uint64
		for i, ti := range f.Tensors {
			want := infos[i]
			if ti.Name != want.Name || ti.Type != want.Type || !reflect.DeepEqual(ti.Dims, want.Dims) {
				t.Errorf("align %d: tensor %d = %+v, want %+v", align, i, ti, want)
			}
			if ti.Offset%wantAlign != 0 || ti.Offset < end {
				t.Errorf("align %d: tensor %q offset %d (previous end %d)", align, ti.Name, ti.Offset, end)
			}
			size, _ := ti.Size()
			end = ti.Offset + size
			data := raw[f.DataOffset+int64(ti.Offset):][:size]
			for j, v := range values[i] {
				var got float32
				if ti.Type == TypeF16 {
					got = F16ToFloat32(binary.LittleEndian.Uint16(data[2*j:]))
				} else {
					got = math.Float32frombits(binary.LittleEndian.Uint32(data[4*j:]))
				}
				if got != v {
					t.Fatalf("align %d: tensor %q element %d = %g, want %g", align, ti.Name, j, got, v)
				}
			}
		}
		if wantSize := f.DataOffset + int64(alignUp(end, wantAlign)); int64(len(raw)) != wantSize {
			t.Errorf("align %d: file size %d, want %d", align, len(raw), wantSize)
		}
		if ti, ok := f.Tensor("odd"); !ok || ti.Dims[0] != 3 {
			t.Errorf("Tensor(odd) = %+v, %v", ti, ok)
		}
	}
}

func TestWriteErrors(t *testing.T) {
	f32 := func(name string, dims ...uint64) Tensor {
		return Tensor{TensorInfo: TensorInfo{Name: name, Type: TypeF32, Dims: dims},
			WriteData: func(w io.Writer) error {
				return WriteFloats(w, TypeF32, TensorInfo{Dims: dims}.Elements(), func([]float32) error { return nil })
			}}
	}
	short := f32("short", 4)
	short.WriteData = func(w io.Writer) error { _, err := w.Write(make([]byte, 12)); return err }
	boom := errors.New("boom")
	failing := f32("failing", 4)
	failing.WriteData = func(w io.Writer) error {
		return WriteFloats(w, TypeF32, 4, func([]float32) error { return boom })
	}
	tests := []struct {
		name    string
		kvs     []KV
		tensors []Tensor
		want    string
	}{
		{"plain int", []KV{{"a.b", 3}}, nil, `metadata "a.b": unsupported value type int`},
		{"nested array", []KV{{"a.b", [][]string{{"x"}}}}, nil, "unsupported value type [][]string"},
		{"duplicate key", []KV{{"a", true}, {"a", false}}, nil, `duplicate key "a"`},
		{"empty key", []KV{{"", true}}, nil, "key length 0"},
		{"control character in key", []KV{{"a\nb", true}}, nil, "not printable ASCII"},
		{"alignment not uint32", []KV{{KeyAlignment, int64(32)}}, nil, "want a uint32 positive multiple of 8"},
		{"alignment not multiple of 8", []KV{{KeyAlignment, uint32(12)}}, nil, "want a uint32 positive multiple of 8"},
		{"long tensor name", nil, []Tensor{f32(strings.Repeat("n", 64), 1)}, "length 64, want 1..63"},
		{"duplicate tensor", nil, []Tensor{f32("x", 1), f32("x", 2)}, `duplicate name "x"`},
		{"zero dimension", nil, []Tensor{f32("x", 4, 0)}, "dimension 1 is 0"},
		{"five dimensions", nil, []Tensor{f32("x", 1, 1, 1, 1, 1)}, "5 dimensions"},
		{"partial block", nil, []Tensor{{TensorInfo: TensorInfo{Name: "q", Type: TypeQ8_0, Dims: []uint64{33}},
			WriteData: func(io.Writer) error { return nil }}}, "row length 33 is not a multiple of the Q8_0 block size 32"},
		{"unknown type", nil, []Tensor{{TensorInfo: TensorInfo{Name: "q", Type: 99, Dims: []uint64{1}},
			WriteData: func(io.Writer) error { return nil }}}, "unknown type 99"},
		{"no data function", nil, []Tensor{{TensorInfo: TensorInfo{Name: "x", Type: TypeF32, Dims: []uint64{1}}}},
			"no WriteData function"},
		{"short data", nil, []Tensor{short}, `tensor "short": wrote 12 bytes of data, want 16`},
		{"data error", nil, []Tensor{failing}, `tensor "failing": boom`},
	}
	for _, tt := range tests {
		err := Write(io.Discard, tt.kvs, tt.tensors)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Write error %v, want one containing %q", tt.name, err, tt.want)
		}
	}
	if err := Write(io.Discard, nil, []Tensor{failing}); !errors.Is(err, boom) {
		t.Errorf("data error not wrapped: %v", err)
	}
}

type failWriter struct{ n, limit int }

func (w *failWriter) Write(p []byte) (int, error) {
	if w.n+len(p) > w.limit {
		return 0, errors.New("disk full")
	}
	w.n += len(p)
	return len(p), nil
}

func TestWriteDestinationError(t *testing.T) {
	big := Tensor{TensorInfo: TensorInfo{Name: "big", Type: TypeF16, Dims: []uint64{1 << 20, 2}},
		WriteData: func(w io.Writer) error {
			return WriteFloats(w, TypeF16, 2<<20, func([]float32) error { return nil })
		}}
	err := Write(&failWriter{limit: 1 << 20}, allValues, []Tensor{big})
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("Write to a failing writer: %v", err)
	}
}

func TestReadErrors(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, allValues, []Tensor{{
		TensorInfo: TensorInfo{Name: "t", Type: TypeF32, Dims: []uint64{2}},
		WriteData:  func(w io.Writer) error { _, err := w.Write(make([]byte, 8)); return err },
	}}); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	f, err := Read(bytes.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	// Every cut inside the header is an unexpected EOF.
	for n := 0; n < int(f.DataOffset)-32; n++ {
		_, err := Read(bytes.NewReader(good[:n]))
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("header cut at %d bytes: error %v, want unexpected EOF", n, err)
		}
	}
	patch := func(off int, b ...byte) []byte {
		c := bytes.Clone(good)
		copy(c[off:], b)
		return c
	}
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"magic", patch(0, 'G', 'G', 'M', 'L'), "not a GGUF file"},
		{"version 1", patch(4, 1, 0, 0, 0), "version 1: want 2 or 3"},
		{"big endian", patch(4, 0, 0, 0, 3), "big-endian"},
		{"huge tensor count", patch(8, 0, 0, 0, 0, 0, 0, 0, 1), "implausible"},
		// The first key is "general.architecture" (20 bytes) at offset 24;
		// its value type is at 24+8+20 = 52.
		{"unknown value type", patch(52, 99, 0, 0, 0), `metadata 0 (key "general.architecture"), near byte 56: unknown value type 99`},
		{"huge string", patch(56, 0, 0, 0, 0, 0, 0, 0, 1), "implausible"},
	}
	for _, tt := range tests {
		_, err := Read(bytes.NewReader(tt.data))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Read error %v, want one containing %q", tt.name, err, tt.want)
		}
	}
	if _, err := ReadFile(filepath.Join(t.TempDir(), "absent.gguf")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadFile of a missing file: %v", err)
	}
}

// TestWriteStreams checks that writing a 64 MB tensor does not hold it in
// memory: the bytes allocated stay far below the tensor size.
func TestWriteStreams(t *testing.T) {
	const n = 32 << 20 // elements; 64 MiB in F16
	tensor := Tensor{TensorInfo: TensorInfo{Name: "big", Type: TypeF16, Dims: []uint64{4096, n / 4096}},
		WriteData: func(w io.Writer) error {
			i := 0
			return WriteFloats(w, TypeF16, n, func(c []float32) error {
				for j := range c {
					c[j] = float32(i % 7)
					i++
				}
				return nil
			})
		}}
	cw := &countingWriter{w: io.Discard}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if err := Write(cw, nil, []Tensor{tensor}); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if cw.n < 2*n {
		t.Fatalf("wrote %d bytes, want at least %d", cw.n, 2*n)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
		t.Errorf("writing a %d MiB tensor allocated %d bytes", 2*n>>20, alloc)
	}
}

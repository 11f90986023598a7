package gguf

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
)

// File is the parsed header of a GGUF file: everything except the tensor
// data.
type File struct {
	// Version is the GGUF version of the file (2 or 3).
	Version uint32
	// KV is the metadata in file order. Values have the Go types listed
	// for KV.
	KV []KV
	// Tensors describes the tensors in file order.
	Tensors []TensorInfo
	// Alignment is the file's alignment (general.alignment or 32).
	Alignment uint64
	// DataOffset is the file offset of the tensor data section: the data of
	// tensor t starts at DataOffset + t.Offset.
	DataOffset int64
}

// Lookup returns the value of the metadata key, if present.
func (f *File) Lookup(key string) (any, bool) {
	for _, kv := range f.KV {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return nil, false
}

// Tensor returns the tensor with the given name, if present.
func (f *File) Tensor(name string) (TensorInfo, bool) {
	for _, t := range f.Tensors {
		if t.Name == name {
			return t, true
		}
	}
	return TensorInfo{}, false
}

// Limits that protect Read from corrupt length fields.
const (
	maxStringLen = 64 << 20 // bytes of one string
	maxArrayLen  = 1 << 28  // elements of one array
	maxCount     = 1 << 24  // tensors or metadata pairs
)

// ReadFile reads the header of the GGUF file name.
func ReadFile(name string) (*File, error) {
	fh, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	f, err := Read(fh)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return f, nil
}

// Read parses a GGUF header (metadata and tensor infos) from r. It reads no
// further than the start of the tensor data. Only little-endian files of
// version 2 and 3 are supported; nested arrays are rejected.
func Read(r io.Reader) (*File, error) {
	d := &decoder{r: bufio.NewReaderSize(r, 1<<16)}
	magic := d.bytes(4)
	if d.err == nil && string(magic) != Magic {
		return nil, fmt.Errorf("gguf: not a GGUF file: magic %q", magic)
	}
	f := &File{Version: d.u32(), Alignment: DefaultAlignment}
	if d.err == nil && f.Version != 2 && f.Version != 3 {
		if f.Version&0xffff == 0 {
			return nil, fmt.Errorf("gguf: version %#x: big-endian files are not supported", f.Version)
		}
		return nil, fmt.Errorf("gguf: version %d: want 2 or 3", f.Version)
	}
	nTensors, nKV := d.u64(), d.u64()
	if d.err != nil {
		return nil, d.fail("header")
	}
	if nTensors > maxCount || nKV > maxCount {
		return nil, fmt.Errorf("gguf: header: %d tensors, %d metadata pairs: implausible", nTensors, nKV)
	}
	f.KV = make([]KV, 0, nKV)
	for i := range nKV {
		key := d.str()
		typ := ValueType(d.u32())
		v := d.value(typ, true)
		if d.err != nil {
			return nil, d.fail(fmt.Sprintf("metadata %d (key %q)", i, key))
		}
		if key == KeyAlignment {
			a, ok := v.(uint32)
			if !ok || a == 0 || a%8 != 0 {
				return nil, fmt.Errorf("gguf: metadata %q: %v (%T), want a uint32 positive multiple of 8", key, v, v)
			}
			f.Alignment = uint64(a)
		}
		f.KV = append(f.KV, KV{Key: key, Value: v})
	}
	f.Tensors = make([]TensorInfo, 0, nTensors)
	for i := range nTensors {
		t := TensorInfo{Name: d.str()}
		nd := d.u32()
		if d.err == nil && (nd == 0 || nd > MaxDims) {
			return nil, fmt.Errorf("gguf: tensor %d (%q): %d dimensions, want 1..%d", i, t.Name, nd, MaxDims)
		}
		for range nd {
			t.Dims = append(t.Dims, d.u64())
		}
		t.Type = Type(d.u32())
		t.Offset = d.u64()
		if d.err != nil {
			return nil, d.fail(fmt.Sprintf("tensor info %d (%q)", i, t.Name))
		}
		if t.Offset%f.Alignment != 0 {
			return nil, fmt.Errorf("gguf: tensor %q: offset %d is not a multiple of the alignment %d",
				t.Name, t.Offset, f.Alignment)
		}
		f.Tensors = append(f.Tensors, t)
	}
	f.DataOffset = int64(alignUp(d.n, f.Alignment))
	return f, nil
}

// decoder reads little-endian GGUF values, remembering the first error and
// the number of bytes consumed.
type decoder struct {
	r   *bufio.Reader
	n   uint64
	err error
	buf [8]byte
}

// fail wraps the decoder's error with where it happened.
func (d *decoder) fail(what string) error {
	err := d.err
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("gguf: %s, near byte %d: %w", what, d.n, err)
}

func (d *decoder) bytes(n int) []byte {
	if d.err != nil {
		return nil
	}
	var b []byte
	if n <= len(d.buf) {
		b = d.buf[:n]
	} else {
		b = make([]byte, n)
	}
	k, err := io.ReadFull(d.r, b)
	d.n += uint64(k)
	d.err = err
	return b
}

func (d *decoder) u8() uint8 {
	if b := d.bytes(1); d.err == nil {
		return b[0]
	}
	return 0
}

func (d *decoder) u16() uint16 {
	if b := d.bytes(2); d.err == nil {
		return binary.LittleEndian.Uint16(b)
	}
	return 0
}

func (d *decoder) u32() uint32 {
	if b := d.bytes(4); d.err == nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (d *decoder) u64() uint64 {
	if b := d.bytes(8); d.err == nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

func (d *decoder) str() string {
	n := d.u64()
	if d.err != nil {
		return ""
	}
	if n > maxStringLen {
		d.err = fmt.Errorf("string of %d bytes: implausible", n)
		return ""
	}
	return string(d.bytes(int(n)))
}

func (d *decoder) boolean() bool {
	switch b := d.u8(); {
	case d.err != nil:
	case b > 1:
		d.err = fmt.Errorf("bool value %d", b)
	default:
		return b == 1
	}
	return false
}

// value reads a value of type typ; arrays only when array is true.
func (d *decoder) value(typ ValueType, array bool) any {
	switch typ {
	case ValueUint8:
		return d.u8()
	case ValueInt8:
		return int8(d.u8())
	case ValueUint16:
		return d.u16()
	case ValueInt16:
		return int16(d.u16())
	case ValueUint32:
		return d.u32()
	case ValueInt32:
		return int32(d.u32())
	case ValueUint64:
		return d.u64()
	case ValueInt64:
		return int64(d.u64())
	case ValueFloat32:
		return math.Float32frombits(d.u32())
	case ValueFloat64:
		return math.Float64frombits(d.u64())
	case ValueBool:
		return d.boolean()
	case ValueString:
		return d.str()
	case ValueArray:
		if !array {
			d.err = errors.New("nested arrays are not supported")
			return nil
		}
		return d.array()
	}
	if d.err == nil {
		d.err = fmt.Errorf("unknown value type %d", uint32(typ))
	}
	return nil
}

func (d *decoder) array() any {
	elem := ValueType(d.u32())
	n := d.u64()
	if d.err != nil {
		return nil
	}
	if n > maxArrayLen {
		d.err = fmt.Errorf("array of %d elements: implausible", n)
		return nil
	}
	switch elem {
	case ValueUint8:
		return readArray(d, n, d.u8)
	case ValueInt8:
		return readArray(d, n, func() int8 { return int8(d.u8()) })
	case ValueUint16:
		return readArray(d, n, d.u16)
	case ValueInt16:
		return readArray(d, n, func() int16 { return int16(d.u16()) })
	case ValueUint32:
		return readArray(d, n, d.u32)
	case ValueInt32:
		return readArray(d, n, func() int32 { return int32(d.u32()) })
	case ValueUint64:
		return readArray(d, n, d.u64)
	case ValueInt64:
		return readArray(d, n, func() int64 { return int64(d.u64()) })
	case ValueFloat32:
		return readArray(d, n, func() float32 { return math.Float32frombits(d.u32()) })
	case ValueFloat64:
		return readArray(d, n, func() float64 { return math.Float64frombits(d.u64()) })
	case ValueBool:
		return readArray(d, n, d.boolean)
	case ValueString:
		return readArray(d, n, d.str)
	case ValueArray:
		d.err = errors.New("nested arrays are not supported")
	default:
		d.err = fmt.Errorf("array of unknown value type %d", uint32(elem))
	}
	return nil
}

// readArray reads n elements with next. It grows the slice as it reads, so
// a corrupt length fails at the end of the input rather than allocating.
func readArray[T any](d *decoder, n uint64, next func() T) []T {
	vs := make([]T, 0, min(n, 1<<16))
	for i := uint64(0); i < n && d.err == nil; i++ {
		vs = append(vs, next())
	}
	return vs
}

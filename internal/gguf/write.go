package gguf

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// Tensor is a tensor to write: its description and a function that streams
// its data.
type Tensor struct {
	TensorInfo
	// WriteData writes the tensor's data, exactly Size() bytes, to w. Write
	// calls it once, in the order of the tensors, and pads after it.
	WriteData func(w io.Writer) error
}

// writeBufferSize is the size of the buffer Write puts in front of its
// destination.
const writeBufferSize = 1 << 20

// Write writes a GGUF file with the metadata kvs and tensors to w, in the
// order given. It checks everything it can before the first byte: keys must
// be unique and non-empty, values of a supported type (see KV), tensor names
// unique and at most MaxTensorNameLen bytes, shapes valid for the type. The
// alignment is the value of the KeyAlignment entry if kvs has one (a uint32,
// a positive multiple of 8), else DefaultAlignment.
//
// Write buffers its output, so w need not be buffered. Tensor data is
// streamed: only one buffer's worth is in memory at a time.
func Write(w io.Writer, kvs []KV, tensors []Tensor) error {
	align, err := checkMetadata(kvs)
	if err != nil {
		return err
	}
	sizes := make([]uint64, len(tensors))
	names := make(map[string]bool, len(tensors))
	for i, t := range tensors {
		if err := checkTensorName(t.Name); err != nil {
			return fmt.Errorf("gguf: tensor %d: %w", i, err)
		}
		if names[t.Name] {
			return fmt.Errorf("gguf: tensor %d: duplicate name %q", i, t.Name)
		}
		names[t.Name] = true
		if sizes[i], err = t.Size(); err != nil {
			return fmt.Errorf("gguf: tensor %d: %w", i, err)
		}
		if t.WriteData == nil {
			return fmt.Errorf("gguf: tensor %d (%q): no WriteData function", i, t.Name)
		}
	}

	bw := bufio.NewWriterSize(w, writeBufferSize)
	e := &encoder{w: bw}
	e.raw([]byte(Magic))
	e.u32(Version)
	e.u64(uint64(len(tensors)))
	e.u64(uint64(len(kvs)))
	for _, kv := range kvs {
		e.str(kv.Key)
		e.value(kv.Value)
	}
	var off uint64
	for i, t := range tensors {
		e.str(t.Name)
		e.u32(uint32(len(t.Dims)))
		for _, d := range t.Dims {
			e.u64(d)
		}
		e.u32(uint32(t.Type))
		e.u64(off)
		off = alignUp(off+sizes[i], align)
	}
	e.pad(align)
	if e.err != nil {
		return fmt.Errorf("gguf: write header: %w", e.err)
	}
	for i, t := range tensors {
		cw := &countingWriter{w: bw}
		if err := t.WriteData(cw); err != nil {
			return fmt.Errorf("gguf: tensor %q: %w", t.Name, err)
		}
		if cw.n != sizes[i] {
			return fmt.Errorf("gguf: tensor %q: wrote %d bytes of data, want %d (%s %v)",
				t.Name, cw.n, sizes[i], t.Type, t.Dims)
		}
		e.n += cw.n
		e.pad(align)
		if e.err != nil {
			return fmt.Errorf("gguf: tensor %q: %w", t.Name, e.err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("gguf: %w", err)
	}
	return nil
}

// checkMetadata validates kvs and returns the alignment they set.
func checkMetadata(kvs []KV) (uint64, error) {
	align := uint64(DefaultAlignment)
	keys := make(map[string]bool, len(kvs))
	for i, kv := range kvs {
		if kv.Key == "" || len(kv.Key) > math.MaxUint16 {
			return 0, fmt.Errorf("gguf: metadata %d: key length %d, want 1..%d", i, len(kv.Key), math.MaxUint16)
		}
		for j := 0; j < len(kv.Key); j++ {
			if c := kv.Key[j]; c < 0x20 || c > 0x7e {
				return 0, fmt.Errorf("gguf: metadata %d: key %q is not printable ASCII", i, kv.Key)
			}
		}
		if keys[kv.Key] {
			return 0, fmt.Errorf("gguf: metadata %d: duplicate key %q", i, kv.Key)
		}
		keys[kv.Key] = true
		if _, err := valueType(kv.Value); err != nil {
			return 0, fmt.Errorf("gguf: metadata %q: %w", kv.Key, err)
		}
		if kv.Key == KeyAlignment {
			a, ok := kv.Value.(uint32)
			if !ok || a == 0 || a%8 != 0 {
				return 0, fmt.Errorf("gguf: metadata %q: %v (%T), want a uint32 positive multiple of 8",
					kv.Key, kv.Value, kv.Value)
			}
			align = uint64(a)
		}
	}
	return align, nil
}

func checkTensorName(name string) error {
	if name == "" || len(name) > MaxTensorNameLen {
		return fmt.Errorf("name %q: length %d, want 1..%d bytes", name, len(name), MaxTensorNameLen)
	}
	return nil
}

// valueType returns the GGUF type of a metadata value and, for arrays, checks
// that it is one of the supported slice types.
func valueType(v any) (ValueType, error) {
	switch v.(type) {
	case uint8:
		return ValueUint8, nil
	case int8:
		return ValueInt8, nil
	case uint16:
		return ValueUint16, nil
	case int16:
		return ValueInt16, nil
	case uint32:
		return ValueUint32, nil
	case int32:
		return ValueInt32, nil
	case uint64:
		return ValueUint64, nil
	case int64:
		return ValueInt64, nil
	case float32:
		return ValueFloat32, nil
	case float64:
		return ValueFloat64, nil
	case bool:
		return ValueBool, nil
	case string:
		return ValueString, nil
	case []uint8, []int8, []uint16, []int16, []uint32, []int32, []uint64, []int64,
		[]float32, []float64, []bool, []string:
		return ValueArray, nil
	}
	return 0, fmt.Errorf("unsupported value type %T", v)
}

// encoder writes little-endian GGUF values and remembers the first error and
// the number of bytes written.
type encoder struct {
	w   *bufio.Writer
	n   uint64
	err error
	buf [8]byte
}

func (e *encoder) raw(b []byte) {
	if e.err != nil {
		return
	}
	n, err := e.w.Write(b)
	e.n += uint64(n)
	e.err = err
}

func (e *encoder) u8(v uint8)   { e.buf[0] = v; e.raw(e.buf[:1]) }
func (e *encoder) u16(v uint16) { binary.LittleEndian.PutUint16(e.buf[:], v); e.raw(e.buf[:2]) }
func (e *encoder) u32(v uint32) { binary.LittleEndian.PutUint32(e.buf[:], v); e.raw(e.buf[:4]) }
func (e *encoder) u64(v uint64) { binary.LittleEndian.PutUint64(e.buf[:], v); e.raw(e.buf[:8]) }

func (e *encoder) str(s string) {
	e.u64(uint64(len(s)))
	if e.err != nil {
		return
	}
	n, err := e.w.WriteString(s)
	e.n += uint64(n)
	e.err = err
}

func (e *encoder) boolean(b bool) {
	if b {
		e.u8(1)
	} else {
		e.u8(0)
	}
}

var zeros [256]byte

// pad writes zero bytes up to the next multiple of align.
func (e *encoder) pad(align uint64) {
	for k := alignUp(e.n, align) - e.n; k > 0; {
		m := min(k, uint64(len(zeros)))
		e.raw(zeros[:m])
		k -= m
	}
}

// value writes the type tag and the value v, whose type valueType accepted.
func (e *encoder) value(v any) {
	switch v := v.(type) {
	case uint8:
		e.u32(uint32(ValueUint8))
		e.u8(v)
	case int8:
		e.u32(uint32(ValueInt8))
		e.u8(uint8(v))
	case uint16:
		e.u32(uint32(ValueUint16))
		e.u16(v)
	case int16:
		e.u32(uint32(ValueInt16))
		e.u16(uint16(v))
	case uint32:
		e.u32(uint32(ValueUint32))
		e.u32(v)
	case int32:
		e.u32(uint32(ValueInt32))
		e.u32(uint32(v))
	case uint64:
		e.u32(uint32(ValueUint64))
		e.u64(v)
	case int64:
		e.u32(uint32(ValueInt64))
		e.u64(uint64(v))
	case float32:
		e.u32(uint32(ValueFloat32))
		e.u32(math.Float32bits(v))
	case float64:
		e.u32(uint32(ValueFloat64))
		e.u64(math.Float64bits(v))
	case bool:
		e.u32(uint32(ValueBool))
		e.boolean(v)
	case string:
		e.u32(uint32(ValueString))
		e.str(v)
	case []uint8:
		array(e, ValueUint8, v, e.u8)
	case []int8:
		array(e, ValueInt8, v, func(x int8) { e.u8(uint8(x)) })
	case []uint16:
		array(e, ValueUint16, v, e.u16)
	case []int16:
		array(e, ValueInt16, v, func(x int16) { e.u16(uint16(x)) })
	case []uint32:
		array(e, ValueUint32, v, e.u32)
	case []int32:
		array(e, ValueInt32, v, func(x int32) { e.u32(uint32(x)) })
	case []uint64:
		array(e, ValueUint64, v, e.u64)
	case []int64:
		array(e, ValueInt64, v, func(x int64) { e.u64(uint64(x)) })
	case []float32:
		array(e, ValueFloat32, v, func(x float32) { e.u32(math.Float32bits(x)) })
	case []float64:
		array(e, ValueFloat64, v, func(x float64) { e.u64(math.Float64bits(x)) })
	case []bool:
		array(e, ValueBool, v, e.boolean)
	case []string:
		array(e, ValueString, v, e.str)
	default:
		if e.err == nil {
			e.err = fmt.Errorf("unsupported value type %T", v)
		}
	}
}

func array[T any](e *encoder, elem ValueType, vs []T, put func(T)) {
	e.u32(uint32(ValueArray))
	e.u32(uint32(elem))
	e.u64(uint64(len(vs)))
	for _, v := range vs {
		put(v)
	}
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n uint64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += uint64(n)
	return n, err
}

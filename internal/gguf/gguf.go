// Package gguf writes and reads GGUF version 3 files, the model file format
// of ggml and llama.cpp.
//
// The implementation follows the GGUF specification in the ggml repository
// (docs/gguf.md). A file is a header (magic "GGUF", version, tensor count,
// metadata count), the metadata key-value pairs, one info record per tensor
// (name, dimensions, type, offset), zero padding up to the alignment, and the
// tensor data, each tensor starting at a multiple of the alignment. All
// numbers are little-endian. The alignment is the uint32 metadata value
// general.alignment, 32 when absent.
//
// Write streams tensor data: each tensor supplies a function that writes its
// bytes, so multi-gigabyte models never have to be held in memory. Read
// parses everything but the tensor data.
package gguf

import (
	"fmt"
)

// Magic is the first four bytes of every GGUF file.
const Magic = "GGUF"

// Version is the GGUF version this package writes and reads.
const Version = 3

// DefaultAlignment is the alignment of tensor data when the metadata has no
// general.alignment key.
const DefaultAlignment = 32

// KeyAlignment is the metadata key that sets the alignment.
const KeyAlignment = "general.alignment"

// MaxTensorNameLen is the longest tensor name ggml accepts, in bytes
// (GGML_MAX_NAME is 64 including the terminating NUL).
const MaxTensorNameLen = 63

// MaxDims is the largest number of tensor dimensions ggml supports.
const MaxDims = 4

// ValueType is the type tag of a metadata value in the file.
type ValueType uint32

// Metadata value types, numbered as in the specification.
const (
	ValueUint8   ValueType = 0
	ValueInt8    ValueType = 1
	ValueUint16  ValueType = 2
	ValueInt16   ValueType = 3
	ValueUint32  ValueType = 4
	ValueInt32   ValueType = 5
	ValueFloat32 ValueType = 6
	ValueBool    ValueType = 7
	ValueString  ValueType = 8
	ValueArray   ValueType = 9
	ValueUint64  ValueType = 10
	ValueInt64   ValueType = 11
	ValueFloat64 ValueType = 12
)

var valueTypeNames = [...]string{"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "bool",
	"string", "array", "uint64", "int64", "float64"}

// String returns the specification's name of t, in lower case.
func (t ValueType) String() string {
	if int(t) < len(valueTypeNames) {
		return valueTypeNames[t]
	}
	return fmt.Sprintf("ValueType(%d)", uint32(t))
}

// KV is one metadata key-value pair.
//
// Value holds one of the Go types uint8, int8, uint16, int16, uint32, int32,
// uint64, int64, float32, float64, bool and string, which map to the GGUF
// scalar types of the same name, or a slice of one of them, which maps to a
// GGUF array of that element type. Read returns values of exactly these
// types. Plain int and uint are not accepted: the file needs an explicit
// width.
type KV struct {
	Key   string
	Value any
}

// Type is a ggml tensor data type.
type Type uint32

// Tensor types this package knows the size of, numbered as ggml_type. Write
// accepts any of them; callers supply the bytes.
const (
	TypeF32  Type = 0
	TypeF16  Type = 1
	TypeQ4_0 Type = 2
	TypeQ4_1 Type = 3
	TypeQ5_0 Type = 6
	TypeQ5_1 Type = 7
	TypeQ8_0 Type = 8
	TypeQ2_K Type = 10
	TypeQ3_K Type = 11
	TypeQ4_K Type = 12
	TypeQ5_K Type = 13
	TypeQ6_K Type = 14
	TypeBF16 Type = 30
)

// typeTraits gives the block size (elements) and the bytes per block of each
// known tensor type, as in ggml's type traits table.
var typeTraits = map[Type]struct {
	name       string
	block      uint64
	blockBytes uint64
}{
	TypeF32:  {"F32", 1, 4},
	TypeF16:  {"F16", 1, 2},
	TypeQ4_0: {"Q4_0", 32, 18},
	TypeQ4_1: {"Q4_1", 32, 20},
	TypeQ5_0: {"Q5_0", 32, 22},
	TypeQ5_1: {"Q5_1", 32, 24},
	TypeQ8_0: {"Q8_0", 32, 34},
	TypeQ2_K: {"Q2_K", 256, 84},
	TypeQ3_K: {"Q3_K", 256, 110},
	TypeQ4_K: {"Q4_K", 256, 144},
	TypeQ5_K: {"Q5_K", 256, 176},
	TypeQ6_K: {"Q6_K", 256, 210},
	TypeBF16: {"BF16", 1, 2},
}

// String returns ggml's name of t, such as "F16" or "Q8_0".
func (t Type) String() string {
	if tr, ok := typeTraits[t]; ok {
		return tr.name
	}
	return fmt.Sprintf("Type(%d)", uint32(t))
}

// TensorInfo describes one tensor.
type TensorInfo struct {
	// Name is the tensor name, such as "blk.0.attn_q.weight".
	Name string
	// Type is the data type.
	Type Type
	// Dims are the dimensions in ggml order: Dims[0] is the number of
	// elements in a row (the fastest-varying index). A PyTorch weight of
	// shape [out, in] has Dims [in, out].
	Dims []uint64
	// Offset is the offset of the tensor's data from the start of the data
	// section. Read fills it in; Write computes it and ignores this field.
	Offset uint64
}

// Elements returns the number of elements of the tensor.
func (ti TensorInfo) Elements() uint64 {
	n := uint64(1)
	for _, d := range ti.Dims {
		n *= d
	}
	return n
}

// Size returns the number of bytes of the tensor's data. It fails for an
// unknown type, a bad shape, or rows that are not whole blocks.
func (ti TensorInfo) Size() (uint64, error) {
	tr, ok := typeTraits[ti.Type]
	if !ok {
		return 0, fmt.Errorf("tensor %q: unknown type %d", ti.Name, uint32(ti.Type))
	}
	if len(ti.Dims) == 0 || len(ti.Dims) > MaxDims {
		return 0, fmt.Errorf("tensor %q: %d dimensions, want 1..%d", ti.Name, len(ti.Dims), MaxDims)
	}
	n := uint64(1)
	for i, d := range ti.Dims {
		if d == 0 {
			return 0, fmt.Errorf("tensor %q: dimension %d is 0", ti.Name, i)
		}
		if n > (1<<62)/d {
			return 0, fmt.Errorf("tensor %q: dimensions %v overflow", ti.Name, ti.Dims)
		}
		n *= d
	}
	if ti.Dims[0]%tr.block != 0 {
		return 0, fmt.Errorf("tensor %q: row length %d is not a multiple of the %s block size %d",
			ti.Name, ti.Dims[0], tr.name, tr.block)
	}
	return n / tr.block * tr.blockBytes, nil
}

// alignUp rounds off up to a multiple of align.
func alignUp(off, align uint64) uint64 {
	return off + (align-off%align)%align
}

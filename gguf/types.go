package gguf

import (
	"fmt"
	"strings"
)

// Type is a ggml tensor element type as numbered in a GGUF tensor info
// (ggml.h's enum ggml_type). Quantized types store blocks of BlockSize
// elements in TypeSize bytes each; a row's element count (ne[0], the
// innermost dimension) is a multiple of BlockSize.
type Type uint32

// The ggml types golora sizes. Dequantize decodes F32, F16, BF16, Q4_0,
// Q4_1, Q5_0, Q5_1, Q8_0 and Q2_K to Q6_K (everything llama-quantize
// writes for Q4_K_M, Q5_K_M, Q6_K and Q8_0 files); Quantize writes F32,
// F16, BF16, Q8_0, Q4_0, Q5_0, Q5_1, Q4_K, Q5_K and Q6_K.
const (
	F32  Type = 0
	F16  Type = 1
	Q4_0 Type = 2
	Q4_1 Type = 3
	Q5_0 Type = 6
	Q5_1 Type = 7
	Q8_0 Type = 8
	Q8_1 Type = 9
	Q2_K Type = 10
	Q3_K Type = 11
	Q4_K Type = 12
	Q5_K Type = 13
	Q6_K Type = 14
	Q8_K Type = 15
	I8   Type = 24
	I16  Type = 25
	I32  Type = 26
	I64  Type = 27
	F64  Type = 28
	BF16 Type = 30
)

// qk is the super-block size of the k-quants (ggml's QK_K).
const qk = 256

// typeInfo gives each known type its name, block size (elements) and
// block byte size, as ggml's type traits (and gguf-py's GGML_QUANT_SIZES)
// define them.
var typeInfo = map[Type]struct {
	name       string
	block, siz int
}{
	F32:  {"F32", 1, 4},
	F16:  {"F16", 1, 2},
	Q4_0: {"Q4_0", 32, 2 + 16},
	Q4_1: {"Q4_1", 32, 2 + 2 + 16},
	Q5_0: {"Q5_0", 32, 2 + 4 + 16},
	Q5_1: {"Q5_1", 32, 2 + 2 + 4 + 16},
	Q8_0: {"Q8_0", 32, 2 + 32},
	Q8_1: {"Q8_1", 32, 2 + 2 + 32},
	Q2_K: {"Q2_K", qk, 2 + 2 + qk/16 + qk/4},
	Q3_K: {"Q3_K", qk, 2 + qk/4 + qk/8 + 12},
	Q4_K: {"Q4_K", qk, 2 + 2 + qk/2 + 12},
	Q5_K: {"Q5_K", qk, 2 + 2 + qk/2 + qk/8 + 12},
	Q6_K: {"Q6_K", qk, 2 + qk/2 + qk/4 + qk/16},
	Q8_K: {"Q8_K", qk, 4 + qk + qk/8},
	I8:   {"I8", 1, 1},
	I16:  {"I16", 1, 2},
	I32:  {"I32", 1, 4},
	I64:  {"I64", 1, 8},
	F64:  {"F64", 1, 8},
	BF16: {"BF16", 1, 2},
}

// String is ggml's name of the type ("Q4_K"), or "type(N)" for a number
// golora does not know.
func (t Type) String() string {
	if i, ok := typeInfo[t]; ok {
		return i.name
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

// Known reports whether golora can size tensors of type t.
func (t Type) Known() bool { _, ok := typeInfo[t]; return ok }

// BlockSize is the number of elements in one block (1 for plain types).
func (t Type) BlockSize() int { return typeInfo[t].block }

// TypeSize is the number of bytes of one block.
func (t Type) TypeSize() int { return typeInfo[t].siz }

// ParseType is the inverse of String for the known types, case-insensitive
// ("q8_0" → Q8_0).
func ParseType(s string) (Type, bool) {
	for t, i := range typeInfo {
		if strings.EqualFold(i.name, s) {
			return t, true
		}
	}
	return 0, false
}

// ValueType is the type tag of a metadata value (gguf.h's enum gguf_type).
type ValueType uint32

// The metadata value types. An ARRAY value carries one element type and a
// count; golora, like llama.cpp, refuses arrays of arrays.
const (
	TypeUint8   ValueType = 0
	TypeInt8    ValueType = 1
	TypeUint16  ValueType = 2
	TypeInt16   ValueType = 3
	TypeUint32  ValueType = 4
	TypeInt32   ValueType = 5
	TypeFloat32 ValueType = 6
	TypeBool    ValueType = 7
	TypeString  ValueType = 8
	TypeArray   ValueType = 9
	TypeUint64  ValueType = 10
	TypeInt64   ValueType = 11
	TypeFloat64 ValueType = 12
)

var valueTypeNames = [...]string{"UINT8", "INT8", "UINT16", "INT16", "UINT32", "INT32", "FLOAT32", "BOOL", "STRING", "ARRAY", "UINT64", "INT64", "FLOAT64"}

// String is the gguf name of the type ("UINT32").
func (v ValueType) String() string {
	if int(v) < len(valueTypeNames) {
		return valueTypeNames[v]
	}
	return fmt.Sprintf("value type(%d)", uint32(v))
}

// size is the byte size of a fixed-size value, 0 for STRING, ARRAY and
// unknown types.
func (v ValueType) size() int {
	switch v {
	case TypeUint8, TypeInt8, TypeBool:
		return 1
	case TypeUint16, TypeInt16:
		return 2
	case TypeUint32, TypeInt32, TypeFloat32:
		return 4
	case TypeUint64, TypeInt64, TypeFloat64:
		return 8
	}
	return 0
}

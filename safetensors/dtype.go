package safetensors

// DType is the element type of a tensor as spelled in a safetensors header
// ("F32", "BF16", …). All multi-byte types are little-endian.
type DType string

// The element types golora reads and writes. The F8 and complex types are
// parsed and sized but golora computes with none of them.
const (
	F64        DType = "F64"         // IEEE binary64
	F32        DType = "F32"         // IEEE binary32
	F16        DType = "F16"         // IEEE binary16
	BF16       DType = "BF16"        // bfloat16: the top 16 bits of a binary32
	I64        DType = "I64"         // signed 64-bit integer
	I32        DType = "I32"         // signed 32-bit integer
	I16        DType = "I16"         // signed 16-bit integer
	I8         DType = "I8"          // signed 8-bit integer
	U64        DType = "U64"         // unsigned 64-bit integer
	U32        DType = "U32"         // unsigned 32-bit integer
	U16        DType = "U16"         // unsigned 16-bit integer
	U8         DType = "U8"          // unsigned 8-bit integer
	BOOL       DType = "BOOL"        // one byte per element, 0 or 1
	F8E4M3     DType = "F8_E4M3"     // 8-bit float, 4 exponent and 3 mantissa bits
	F8E5M2     DType = "F8_E5M2"     // 8-bit float, 5 exponent and 2 mantissa bits
	F8E8M0     DType = "F8_E8M0"     // 8-bit power-of-two scale
	F8E4M3FNUZ DType = "F8_E4M3FNUZ" // 8-bit float, no infinities, unsigned zero
	F8E5M2FNUZ DType = "F8_E5M2FNUZ" // 8-bit float, no infinities, unsigned zero
	C64        DType = "C64"         // complex64: two binary32 (real, imaginary)
)

// dtypeInfo gives each known dtype its size in bytes and its rank in the
// reference implementation's Dtype enumeration, which is declared in
// increasing alignment order. Writers lay tensors out by descending rank,
// then by name, so that every tensor starts at a multiple of its element
// size. Sub-byte types (F4, F6_*) are absent: their byte size is not an
// integer number of bytes per element, and golora rejects them.
var dtypeInfo = map[DType]struct{ size, rank int }{
	BOOL:       {1, 0},
	U8:         {1, 4},
	I8:         {1, 5},
	F8E5M2:     {1, 6},
	F8E4M3:     {1, 7},
	F8E8M0:     {1, 8},
	F8E4M3FNUZ: {1, 9},
	F8E5M2FNUZ: {1, 10},
	I16:        {2, 11},
	U16:        {2, 12},
	F16:        {2, 13},
	BF16:       {2, 14},
	I32:        {4, 15},
	U32:        {4, 16},
	F32:        {4, 17},
	C64:        {8, 18},
	F64:        {8, 19},
	I64:        {8, 20},
	U64:        {8, 21},
}

// Size is the number of bytes of one element: a tensor of shape
// [d0, d1, …] takes Size()·d0·d1·… bytes. It is 0 for an unknown dtype.
func (d DType) Size() int { return dtypeInfo[d].size }

// Valid reports whether d is a dtype golora can size.
func (d DType) Valid() bool { return d.Size() > 0 }

// rank orders dtypes as the reference writer does (see dtypeInfo).
func (d DType) rank() int { return dtypeInfo[d].rank }

// Package tensor holds the float32 kernels golora computes with: one GEMM for
// every matrix product (forward and the transposed products of backward) and
// the element-wise and row-wise operations of a transformer.
//
// Matrices are row-major. Weights may be stored as float32, bfloat16,
// float16, 4-bit NF4/FP4 blocks or ggml's block types; they are widened or
// dequantized to float32 while GEMM packs its panels, never as a
// whole-matrix copy.
package tensor

import (
	"fmt"
	"math"

	"github.com/golora/golora/quant"
)

// DType is the storage type of a matrix operand.
type DType uint8

const (
	F32  DType = iota // IEEE float32
	BF16              // bfloat16: the top 16 bits of a float32
	F16               // IEEE half precision
	Q4                // 4-bit NF4/FP4 blocks (bitsandbytes layout), in Mat.Q
	GGML              // ggml block-quantized rows (Q8_0, Q4_K, ...), decoded by Mat.G
)

func (d DType) String() string {
	switch d {
	case F32:
		return "F32"
	case BF16:
		return "BF16"
	case F16:
		return "F16"
	case Q4:
		return "Q4"
	case GGML:
		return "GGML"
	}
	return fmt.Sprintf("DType(%d)", uint8(d))
}

// Size is the number of bytes of one element (0 for Q4 and GGML, whose
// elements are a fraction of a byte plus block constants: see Mat.Bytes).
func (d DType) Size() int {
	switch d {
	case F32:
		return 4
	case BF16, F16:
		return 2
	}
	return 0
}

// Mat is a row-major Rows×Cols matrix view: element (i, j) is at
// i*Stride + j of F32 (DType F32) or of U16 (BF16, F16, raw bits), or is
// entry i*Cols + j of the 4-bit blocks Q (DType Q4, Stride = Cols), or is
// element j of row i of the ggml blocks G (DType GGML, Stride = Cols).
// A Mat never owns a copy of weights it was made from: it may view a
// memory-mapped file.
type Mat struct {
	DType      DType
	F32        []float32
	U16        []uint16
	Q          *quant.Quantized
	G          Blocks
	Rows, Cols int
	Stride     int
}

// Blocks is a matrix stored in rows of ggml blocks (package gguf's Matrix:
// the tensor package knows no ggml format, the gguf package decodes its
// own). Each row is whole blocks, so any row segment can be decoded
// without its neighbours.
type Blocks interface {
	// DequantizeRow sets dst[i] to element (r, c0+i) for i < len(dst),
	// c0+len(dst) ≤ Cols, exactly as ggml's dequantize_row_* decodes it.
	DequantizeRow(r, c0 int, dst []float32)
	// Bytes is the memory the blocks take.
	Bytes() int
}

// FromF32 views data as a rows×cols float32 matrix with stride cols.
func FromF32(data []float32, rows, cols int) Mat {
	if len(data) < rows*cols {
		panic(fmt.Sprintf("tensor.FromF32: %d elements for %d×%d", len(data), rows, cols))
	}
	return Mat{DType: F32, F32: data, Rows: rows, Cols: cols, Stride: cols}
}

// FromU16 views raw bfloat16 or float16 bits as a rows×cols matrix.
func FromU16(dt DType, data []uint16, rows, cols int) Mat {
	if dt != BF16 && dt != F16 {
		panic("tensor.FromU16: dtype " + dt.String())
	}
	if len(data) < rows*cols {
		panic(fmt.Sprintf("tensor.FromU16: %d elements for %d×%d", len(data), rows, cols))
	}
	return Mat{DType: dt, U16: data, Rows: rows, Cols: cols, Stride: cols}
}

// FromQuant views 4-bit quantized weights as a Rows×Cols matrix.
func FromQuant(q *quant.Quantized) Mat {
	return Mat{DType: Q4, Q: q, Rows: q.Rows, Cols: q.Cols, Stride: q.Cols}
}

// FromBlocks views rows×cols ggml blocks as a matrix.
func FromBlocks(g Blocks, rows, cols int) Mat {
	return Mat{DType: GGML, G: g, Rows: rows, Cols: cols, Stride: cols}
}

// Bytes is the memory the matrix's elements take (for Q4 the packed
// nibbles and the block constants, for GGML the blocks).
func (m Mat) Bytes() int {
	if m.DType == GGML {
		return m.G.Bytes()
	}
	if m.DType == Q4 {
		q := m.Q
		n := len(q.Packed) + 4*len(q.Absmax) + len(q.AbsmaxQ) + 4*len(q.NestedAbsmax)
		if q.Nested {
			n += 4 * len(q.NestedMap)
		}
		return n
	}
	return m.Rows * m.Cols * m.DType.Size()
}

// At returns element (i, j) widened to float32: Widen for one element,
// with the dtype switch inlined, because GEMV's tails call it per element.
func (m Mat) At(i, j int) float32 {
	k := i*m.Stride + j
	switch m.DType {
	case Q4, GGML:
		var v [1]float32
		Widen(v[:], m, k)
		return v[0]
	case BF16:
		return BF16ToF32(m.U16[k])
	case F16:
		return F16ToF32(m.U16[k])
	}
	return m.F32[k]
}

// Row widens row i into dst (len ≥ Cols) and returns dst[:Cols].
func (m Mat) Row(i int, dst []float32) []float32 {
	dst = dst[:m.Cols]
	Widen(dst, m, i*m.Stride)
	return dst
}

// Widen sets dst[i] = x's element at flat offset off+i (element (r, c) is
// at offset r·Stride + c), as float32, for i < len(dst). It is golora's one
// conversion of stored weights to float32, and it is exact: F32 is copied,
// BF16 bits h become the float32 bits h<<16, F16 is widened as F16ToF32
// does (subnormals, ±Inf and NaN included), and Q4 and GGML blocks are
// dequantized.
// GEMM's packing calls it for every contiguous panel row.
func Widen(dst []float32, x Mat, off int) {
	switch x.DType {
	case F32:
		copy(dst, x.F32[off:off+len(dst)])
	case BF16:
		s := x.U16[off : off+len(dst)]
		for i, h := range s {
			dst[i] = BF16ToF32(h)
		}
	case F16:
		s := x.U16[off : off+len(dst)]
		for i, h := range s {
			dst[i] = f16to32(h)
		}
	case Q4:
		x.Q.DequantizeSpan(off, dst)
	case GGML:
		for len(dst) > 0 { // one row segment at a time
			r, c := off/x.Stride, off%x.Stride
			n := min(len(dst), x.Cols-c)
			x.G.DequantizeRow(r, c, dst[:n])
			dst, off = dst[n:], off+n
		}
	}
}

// BF16ToF32 widens bfloat16 bits exactly.
func BF16ToF32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// F32ToBF16 rounds to the nearest bfloat16, ties to even, as PyTorch does.
// NaN stays NaN.
func F32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}

// F16ToF32 widens IEEE half-precision bits exactly (subnormals, ±Inf, NaN).
func F16ToF32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	man := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | man<<13)
	case exp == 0:
		if man == 0 {
			return math.Float32frombits(sign)
		}
		// subnormal: value = man · 2⁻²⁴
		f := float32(man) * (1.0 / (1 << 24))
		if sign != 0 {
			f = -f
		}
		return f
	}
	return math.Float32frombits(sign | (exp+112)<<23 | man<<13)
}

// F32ToF16 rounds to the nearest IEEE half, ties to even; overflow gives ±Inf.
func F32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23) & 0xff
	man := b & 0x7fffff
	if exp == 0xff {
		if man != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		if e < -10 {
			return sign
		}
		man |= 0x800000
		shift := uint(14 - e)
		half := uint32(1) << (shift - 1)
		r := man >> shift
		rem := man & (1<<shift - 1)
		if rem > half || (rem == half && r&1 == 1) {
			r++
		}
		return sign | uint16(r)
	}
	r := uint32(e)<<10 | man>>13
	rem := man & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && r&1 == 1) {
		r++ // may carry into the exponent, which is the correct rounding
	}
	return sign | uint16(r)
}

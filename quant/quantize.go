package quant

import (
	"errors"
	"fmt"
	"math"

	"github.com/golora/golora/tensor/kernels"
)

const (
	// DefaultBlockSize is the 4-bit block size of bitsandbytes' Linear4bit
	// (and of every checkpoint transformers writes).
	DefaultBlockSize = 64
	// DefaultNestedBlockSize is the block size of the double quantization
	// of the absmax.
	DefaultNestedBlockSize = 256
	// maxElements bounds element counts so that byte sizes (up to 8 bytes
	// an element) never overflow int, on 32-bit platforms too.
	maxElements = math.MaxInt >> 4
)

// Quantized is a 4-bit block-quantized weight matrix W [Rows, Cols]
// (PyTorch Linear layout [out, in]), stored as bitsandbytes stores it.
//
// Layout, with n = Rows·Cols and nb = ceil(n/BlockSize):
//
//	Packed     [(n+1)/2] byte   code of flat element e in nibble e&1 of byte e/2,
//	                            high nibble first (e even → bits 7..4)
//	Absmax     [nb] float32     per-block scale (only when !Nested)
//	AbsmaxQ    [nb] uint8       8-bit codes of absmax−Offset (only when Nested)
//	NestedAbsmax [ceil(nb/NestedBlockSize)] float32
//	NestedMap  [256] float32    8-bit code book of AbsmaxQ (DynamicMap())
//	Offset     float32          mean of the absmax, subtracted before the
//	                            nested quantization
//
// Element (r, c) is flat index e = r·Cols + c and block e/BlockSize; its
// value is Type.Code()[code(e)] · BlockAbsmax(e/BlockSize).
//
// The zero value is not usable; build one with Quantize or FromTensors, and
// call Validate after filling one by hand.
type Quantized struct {
	Type       Type
	Rows, Cols int
	BlockSize  int // 64
	// DType is the torch dtype name of the weight before quantization
	// ("float32", "bfloat16", "float16"), written to quant_state "dtype";
	// transformers dequantizes to it.
	DType string

	Packed []byte
	Absmax []float32

	Nested          bool
	AbsmaxQ         []uint8
	NestedBlockSize int // 256
	NestedAbsmax    []float32
	NestedMap       [256]float32
	Offset          float32

	// QuantMap is the "quant_map" tensor: Type.StoredQuantMap() for weights
	// made by Quantize, what the file holds for loaded ones. Like the
	// bitsandbytes kernels, dequantization uses Type.Code() and ignores it.
	QuantMap [16]float32
}

// NumBlocks returns ceil(Rows·Cols / BlockSize), the number of absmax values.
func (q *Quantized) NumBlocks() int { return (q.Rows*q.Cols + q.BlockSize - 1) / q.BlockSize }

// Quantize quantizes w (row-major [rows, cols], len rows·cols) with type t
// and block size 64, with double quantization of the absmax when
// doubleQuant is set; see the package documentation for the formulas. Any
// rows·cols is accepted: the last block may be short and an odd count
// leaves a padding nibble. The result records DType "float32"; set DType to
// the weight's original dtype name before saving if it was converted.
// Non-finite inputs are an error (they have no meaningful absmax).
func Quantize(w []float32, rows, cols int, t Type, doubleQuant bool) (*Quantized, error) {
	if !t.Valid() {
		return nil, fmt.Errorf("quant: invalid quant type %v", t)
	}
	if rows <= 0 || cols <= 0 || rows > maxElements/cols {
		return nil, fmt.Errorf("quant: invalid shape [%d, %d]", rows, cols)
	}
	n := rows * cols
	if len(w) != n {
		return nil, fmt.Errorf("quant: weight has %d values, shape [%d, %d] needs %d", len(w), rows, cols, n)
	}
	for i, x := range w {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return nil, fmt.Errorf("quant: weight value %d (row %d, col %d) is %v", i, i/cols, i%cols, x)
		}
	}
	q := &Quantized{
		Type:      t,
		Rows:      rows,
		Cols:      cols,
		BlockSize: DefaultBlockSize,
		DType:     "float32",
		QuantMap:  t.StoredQuantMap(),
	}
	q.Packed, q.Absmax = quantize4(w, q.BlockSize, t)
	if doubleQuant {
		q.Nested = true
		q.NestedBlockSize = DefaultNestedBlockSize
		q.NestedMap = DynamicMap()
		q.Offset = mean32(q.Absmax)
		centered := make([]float32, len(q.Absmax))
		for i, a := range q.Absmax {
			centered[i] = a - q.Offset
		}
		q.AbsmaxQ, q.NestedAbsmax = quantizeBlockwise8(centered, q.NestedBlockSize, dynNearest())
		q.Absmax = nil
	}
	return q, nil
}

// quantize4 is bitsandbytes' 4-bit kQuantizeBlockwise on a flat vector:
// packed codes and the per-block absmax.
func quantize4(w []float32, bs int, t Type) ([]byte, []float32) {
	nc := nearest4(t)
	n := len(w)
	packed := make([]byte, (n+1)/2)
	absmax := make([]float32, (n+bs-1)/bs)
	for b := range absmax {
		lo, hi := b*bs, min(n, (b+1)*bs)
		var m float32
		for _, x := range w[lo:hi] {
			m = max(m, abs32(x))
		}
		absmax[b] = m
		inv := 1 / m
		for i := lo; i < hi; i += 2 {
			var next float32 // the zero padding of an odd tail
			if i+1 < hi {
				next = w[i+1]
			}
			packed[i/2] = nc.quantize(w[i]*inv)<<4 | nc.quantize(next*inv)
		}
	}
	return packed, absmax
}

// quantizeBlockwise8 is bitsandbytes' 8-bit quantize_blockwise with the
// code nc: per block of bs values absmax = max|x|, then nc(x·(1/absmax)).
func quantizeBlockwise8(x []float32, bs int, nc *nearestCode) ([]uint8, []float32) {
	out := make([]uint8, len(x))
	absmax := make([]float32, (len(x)+bs-1)/bs)
	for b := range absmax {
		lo, hi := b*bs, min(len(x), (b+1)*bs)
		var m float32
		for _, v := range x[lo:hi] {
			m = max(m, abs32(v))
		}
		absmax[b] = m
		inv := 1 / m
		for i := lo; i < hi; i++ {
			out[i] = nc.quantize(x[i] * inv)
		}
	}
	return out, absmax
}

// mean32 returns the mean of x, summed in float64 and rounded once to
// float32 (torch.mean of the same float32 vector agrees except, for very long
// vectors, in the last bit, since torch sums in float32 in its own order).
func mean32(x []float32) float32 {
	var s float64
	for _, v := range x {
		s += float64(v)
	}
	return float32(s / float64(len(x)))
}

// BlockAbsmax returns the scale of block i: Absmax[i], or when Nested
//
//	float32(NestedMap[AbsmaxQ[i]] · NestedAbsmax[i/NestedBlockSize]) + Offset
//
// It panics if i is out of range.
func (q *Quantized) BlockAbsmax(i int) float32 {
	if !q.Nested {
		return q.Absmax[i]
	}
	return float32(q.NestedMap[q.AbsmaxQ[i]]*q.NestedAbsmax[i/q.NestedBlockSize]) + q.Offset
}

// BlockAbsmaxes returns all block scales, BlockAbsmax(i) for i < NumBlocks().
func (q *Quantized) BlockAbsmaxes() []float32 {
	out := make([]float32, q.NumBlocks())
	for i := range out {
		out[i] = q.BlockAbsmax(i)
	}
	return out
}

// DequantizeRow writes row r of W into dst[:Cols]:
//
//	dst[c] = Code()[code(r·Cols+c)] · BlockAbsmax((r·Cols+c)/BlockSize)
//
// It panics if r is out of range or len(dst) < Cols.
func (q *Quantized) DequantizeRow(r int, dst []float32) {
	if r < 0 || r >= q.Rows {
		panic(fmt.Sprintf("quant: row %d out of range [0, %d)", r, q.Rows))
	}
	q.DequantizeSpan(r*q.Cols, dst[:q.Cols])
}

// DequantizeSpan writes the flat elements off … off+len(dst)−1 of W
// (row-major) into dst, with the formula of DequantizeRow. Per block it
// scales the 16 code values once and then only looks up nibbles, so the
// result is bit-identical to Code()[code]·absmax; unless the active kernel
// set (package kernels) is the portable Go one, whole blocks of 64 go
// through AVX-512 or AVX2 assembly that does the same lookups sixteen or
// eight at a time. It panics if the span is out of range.
func (q *Quantized) DequantizeSpan(off int, dst []float32) {
	n := q.Rows * q.Cols
	if off < 0 || off > n || len(dst) > n-off {
		panic(fmt.Sprintf("quant: span [%d, %d) out of range [0, %d)", off, off+len(dst), n))
	}
	code := q.Type.Code()
	bs := q.BlockSize
	asm := kernels.Active() != kernels.Go
	var scales [64]float32
	for i := 0; i < len(dst); {
		e := off + i
		b := e / bs
		if asm && bs == 64 && e%64 == 0 && len(dst)-i >= 64 {
			// Whole 64-value blocks in assembly, up to 64 at a time.
			n := min((len(dst)-i)/64, len(scales))
			for j := range n {
				scales[j] = q.BlockAbsmax(b + j)
			}
			i += 64 * dequant64(dst[i:], q.Packed[e>>1:], scales[:n], &code)
			continue
		}
		end := min(len(dst), (b+1)*bs-off) // dst index where block b ends
		a := q.BlockAbsmax(b)
		var tbl [16]float32
		for k, c := range code {
			tbl[k] = c * a
		}
		if e&1 == 1 { // odd start: low nibble of a byte
			dst[i] = tbl[q.Packed[e>>1]&15]
			i++
			e++
		}
		pairs := (end - i) / 2
		expandNibbles(q.Packed[e>>1:e>>1+pairs], dst[i:i+2*pairs], &tbl)
		i += 2 * pairs
		if i < end { // odd end: high nibble of a byte
			dst[i] = tbl[q.Packed[(off+i)>>1]>>4]
			i++
		}
	}
}

// expandNibbles writes d[2j] = tbl[src[j]>>4], d[2j+1] = tbl[src[j]&15]
// (len(d) = 2·len(src)), four bytes per step to keep bounds checks out of
// the inner loop.
func expandNibbles(src []byte, d []float32, tbl *[16]float32) {
	for len(src) >= 4 {
		s, o := src[:4:4], d[:8:8]
		o[0], o[1] = tbl[s[0]>>4], tbl[s[0]&15]
		o[2], o[3] = tbl[s[1]>>4], tbl[s[1]&15]
		o[4], o[5] = tbl[s[2]>>4], tbl[s[2]&15]
		o[6], o[7] = tbl[s[3]>>4], tbl[s[3]&15]
		src, d = src[4:], d[8:]
	}
	for j, by := range src {
		o := d[2*j : 2*j+2 : 2*j+2]
		o[0], o[1] = tbl[by>>4], tbl[by&15]
	}
}

// Dequantize returns W as a new row-major []float32 of Rows·Cols values.
func (q *Quantized) Dequantize() []float32 {
	out := make([]float32, q.Rows*q.Cols)
	q.DequantizeSpan(0, out)
	return out
}

// Validate checks that the fields are consistent (type, shape, block sizes,
// slice lengths, finite scales), so that the dequantization methods cannot
// panic for in-range arguments.
func (q *Quantized) Validate() error {
	if err := q.check(); err != nil {
		return fmt.Errorf("quant: %w", err)
	}
	return nil
}

func (q *Quantized) check() error {
	if q == nil {
		return errors.New("nil Quantized")
	}
	if !q.Type.Valid() {
		return fmt.Errorf("invalid quant type %v", q.Type)
	}
	if q.Rows <= 0 || q.Cols <= 0 || q.Rows > maxElements/q.Cols {
		return fmt.Errorf("invalid shape [%d, %d]", q.Rows, q.Cols)
	}
	if q.BlockSize <= 0 || q.BlockSize%2 != 0 {
		return fmt.Errorf("block size %d is not a positive even number", q.BlockSize)
	}
	n := q.Rows * q.Cols
	nb := q.NumBlocks()
	if len(q.Packed) != (n+1)/2 {
		return fmt.Errorf("packed weight has %d bytes, shape [%d, %d] needs %d", len(q.Packed), q.Rows, q.Cols, (n+1)/2)
	}
	if !q.Nested {
		if len(q.Absmax) != nb {
			return fmt.Errorf("absmax has %d values, want %d blocks", len(q.Absmax), nb)
		}
		return checkFinite("absmax", q.Absmax)
	}
	if q.NestedBlockSize <= 0 {
		return fmt.Errorf("nested block size %d is not positive", q.NestedBlockSize)
	}
	if len(q.AbsmaxQ) != nb {
		return fmt.Errorf("quantized absmax has %d values, want %d blocks", len(q.AbsmaxQ), nb)
	}
	if nn := (nb + q.NestedBlockSize - 1) / q.NestedBlockSize; len(q.NestedAbsmax) != nn {
		return fmt.Errorf("nested absmax has %d values, want %d", len(q.NestedAbsmax), nn)
	}
	if err := checkFinite("nested absmax", q.NestedAbsmax); err != nil {
		return err
	}
	if err := checkFinite("nested quant map", q.NestedMap[:]); err != nil {
		return err
	}
	return checkFinite("nested offset", []float32{q.Offset})
}

// checkFinite returns an error naming what and the index of the first NaN
// or infinite value of x.
func checkFinite(what string, x []float32) error {
	for i, v := range x {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("%s value %d is %v", what, i, v)
		}
	}
	return nil
}

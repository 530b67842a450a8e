package gguf

import (
	"encoding/binary"
	"fmt"
	"unsafe"

	"github.com/golora/golora/tensor"
)

// Matrix is a tensor of any type Dequantize decodes viewed as a Rows×Cols
// matrix that stays in its blocks: row r is the stored row Perm[r] (r
// itself when Perm is nil), RowBytes bytes at Data[Perm[r]·RowBytes:],
// whole blocks because Cols (ne[0]) is a multiple of the block size. It
// is a tensor.Blocks: GEMM's packing and Mat.Row decode the row segments
// they need with the dequantizers of Dequantize, bit for bit, and nothing
// is copied whole. Tensor.Matrix makes one; Perm, when set, must be a
// permutation of the rows.
type Matrix struct {
	Type       Type
	Data       []byte
	Rows, Cols int
	RowBytes   int
	Perm       []int32
	bs, ts     int
}

// Matrix views t (1-D: one row; 2-D: Shape [rows, cols]) as a Matrix.
// Types Dequantize cannot decode are an error naming the tensor.
func (t Tensor) Matrix() (*Matrix, error) {
	rows, cols := 1, 0
	switch len(t.Shape) {
	case 1:
		cols = t.Shape[0]
	case 2:
		rows, cols = t.Shape[0], t.Shape[1]
	default:
		return nil, fmt.Errorf("tensor %q: shape %v is not a matrix", t.Name, t.Shape)
	}
	if !dequantBlocks(t.Type, t.Type.TypeSize(), nil, nil) { // decodes no block, says whether it could
		return nil, fmt.Errorf("tensor %q: cannot dequantize %s", t.Name, t.Type)
	}
	bs, ts := t.Type.BlockSize(), t.Type.TypeSize()
	if cols%bs != 0 || len(t.Data) != rows*cols/bs*ts {
		return nil, fmt.Errorf("tensor %q: %d bytes of %s do not hold %d rows of %d elements", t.Name, len(t.Data), t.Type, rows, cols)
	}
	return &Matrix{Type: t.Type, Data: t.Data, Rows: rows, Cols: cols, RowBytes: cols / bs * ts, bs: bs, ts: ts}, nil
}

// Mat is the matrix as a tensor.Mat: an F32, F16 or BF16 tensor in stored
// row order is viewed as that dtype (on a little-endian machine, where its
// data is aligned), which GEMM reads faster; anything else is DType GGML.
func (m *Matrix) Mat() tensor.Mat {
	if m.Perm == nil && len(m.Data) > 0 && binary.NativeEndian.Uint16([]byte{1, 0}) == 1 {
		p, n := unsafe.Pointer(&m.Data[0]), m.Rows*m.Cols
		switch {
		case m.Type == F32 && uintptr(p)%4 == 0:
			return tensor.FromF32(unsafe.Slice((*float32)(p), n), m.Rows, m.Cols)
		case m.Type == F16 && uintptr(p)%2 == 0:
			return tensor.FromU16(tensor.F16, unsafe.Slice((*uint16)(p), n), m.Rows, m.Cols)
		case m.Type == BF16 && uintptr(p)%2 == 0:
			return tensor.FromU16(tensor.BF16, unsafe.Slice((*uint16)(p), n), m.Rows, m.Cols)
		}
	}
	return tensor.FromBlocks(m, m.Rows, m.Cols)
}

// Bytes is the memory the matrix holds: its blocks and its row order.
func (m *Matrix) Bytes() int { return len(m.Data) + 4*len(m.Perm) }

// DequantizeRow sets dst[i] to element (r, c0+i), i < len(dst), as
// Dequantize decodes it; a segment that starts or ends inside a block
// decodes that whole block into a temporary.
func (m *Matrix) DequantizeRow(r, c0 int, dst []float32) {
	if len(dst) == 0 {
		return
	}
	if m.Perm != nil {
		r = int(m.Perm[r])
	}
	row := m.Data[r*m.RowBytes : (r+1)*m.RowBytes]
	bs, ts := m.bs, m.ts
	b := c0 / bs
	if skip := c0 % bs; skip != 0 || len(dst) < bs { // a partial first block
		var tmp [qk]float32
		dequantBlocks(m.Type, ts, row[b*ts:(b+1)*ts], tmp[:bs])
		dst = dst[copy(dst, tmp[skip:bs]):]
		b++
	}
	if n := len(dst) / bs; n > 0 {
		dequantBlocks(m.Type, ts, row[b*ts:(b+n)*ts], dst[:n*bs])
		dst, b = dst[n*bs:], b+n
	}
	if len(dst) > 0 { // a partial last block
		var tmp [qk]float32
		dequantBlocks(m.Type, ts, row[b*ts:(b+1)*ts], tmp[:bs])
		copy(dst, tmp[:])
	}
}

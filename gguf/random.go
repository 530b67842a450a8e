package gguf

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/golora/golora/tensor"
)

// Random returns n elements of type t (n a multiple of its block size) as
// valid blocks with random contents: F32, F16 and BF16 hold normal values
// of standard deviation std; a block type holds uniformly random bytes
// except its float16 block scales, which are set so that its values are
// of magnitude about std (d = std·u/q, q the type's largest quant product,
// u uniform in [0.5, 1.5); mins likewise). Tests use it for types golora
// cannot quantize to, and benchmarks for a random base in any type.
func Random(t Type, n int, std float32, r *rand.Rand) ([]byte, error) {
	if !dequantBlocks(t, t.TypeSize(), nil, nil) || n%t.BlockSize() != 0 {
		return nil, fmt.Errorf("gguf: cannot make %d random elements of %s", n, t)
	}
	bs, ts := t.BlockSize(), t.TypeSize()
	out := make([]byte, n/bs*ts)
	switch t {
	case F32, F16, BF16:
		for i := 0; i < n; i++ {
			v := std * float32(r.NormFloat64())
			switch t {
			case F32:
				binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(v))
			case F16:
				binary.LittleEndian.PutUint16(out[2*i:], tensor.F32ToF16(v))
			default:
				binary.LittleEndian.PutUint16(out[2*i:], tensor.F32ToBF16(v))
			}
		}
		return out, nil
	}
	for i := range out {
		out[i] = byte(r.Uint32())
	}
	// where the scale d and the min m of each block are, and the largest
	// |quant| each multiplies
	s := randomScales[t]
	for b := 0; b < n/bs; b++ {
		blk := out[b*ts : (b+1)*ts]
		d := std * (0.5 + r.Float32()) / s.q
		binary.LittleEndian.PutUint16(blk[s.d:], tensor.F32ToF16(d))
		if s.m >= 0 {
			m := std * (0.5 + r.Float32()) / s.qm
			binary.LittleEndian.PutUint16(blk[s.m:], tensor.F32ToF16(m))
		}
	}
	return out, nil
}

// randomScales gives, per block type, the byte offsets of the float16
// scale d and min m (−1: none) and the largest quant products they
// multiply (q for d, qm for m).
var randomScales = map[Type]struct {
	d, m  int
	q, qm float32
}{
	Q8_0: {0, -1, 127, 0},
	Q4_0: {0, -1, 8, 0},
	Q4_1: {0, 2, 15, 1},
	Q5_0: {0, -1, 16, 0},
	Q5_1: {0, 2, 31, 1},
	Q2_K: {80, 82, 15 * 3, 15},
	Q3_K: {108, -1, 32 * 4, 0},
	Q4_K: {0, 2, 63 * 15, 63},
	Q5_K: {0, 2, 63 * 31, 63},
	Q6_K: {208, -1, 128 * 32, 0},
}

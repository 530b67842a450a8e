package tensor_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/golora/golora/gguf"
	"github.com/golora/golora/tensor"
)

// TestGemmGGML checks that a matrix held in ggml blocks gives exactly the
// products of its values as gguf.Dequantize decodes them, in every product
// a frozen weight takes part in (x·Wᵀ forward, the one-row product of
// generation, GemmRows of batched decoding, dY·W of backward), and that
// Row and At read the same values, for every block type and every
// micro-kernel and kernel set, on sizes that leave partial tiles.
func TestGemmGGML(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	types := []gguf.Type{gguf.Q8_0, gguf.Q4_0, gguf.Q4_1, gguf.Q5_0, gguf.Q5_1, gguf.Q2_K, gguf.Q3_K, gguf.Q4_K, gguf.Q5_K, gguf.Q6_K, gguf.F16, gguf.BF16, gguf.F32}
	for _, typ := range types {
		bs := typ.BlockSize()
		if bs == 1 {
			bs = 32
		}
		// m×(out×in): in (the row length) is whole blocks; in = 3·256 with
		// k-quants crosses the depth blocking (kc 256) mid-row.
		for _, tc := range []struct{ m, out, inBlocks int }{{1, 41, 3}, {7, 33, 1}, {40, 70, 3}, {3, 5, 2}, {64, 9, 1}, {20, 100, 5}} {
			in := tc.inBlocks * bs
			if typ.BlockSize() == 1 {
				in += 3 // odd row lengths where any length is whole blocks
			}
			name := fmt.Sprintf("%s/%dx%dx%d", typ, tc.m, tc.out, in)
			data, err := gguf.Random(typ, tc.out*in, 1, r)
			if err != nil {
				t.Fatal(err)
			}
			gm, err := gguf.Tensor{Name: name, Type: typ, Shape: []int{tc.out, in}, Data: data}.Matrix()
			if err != nil {
				t.Fatal(err)
			}
			w := tensor.FromBlocks(gm, tc.out, in) // F32, F16 and BF16 too, which Mat would view directly
			vals := make([]float32, tc.out*in)
			if err := gguf.Dequantize(typ, data, vals); err != nil {
				t.Fatal(err)
			}
			wf := tensor.FromF32(vals, tc.out, in)
			checkRows(t, name, w, wf)
			for _, transB := range []bool{true, false} {
				k, n := in, tc.out
				if !transB {
					k, n = tc.out, in
				}
				x := make([]float32, tc.m*k)
				for i := range x {
					x[i] = float32(r.NormFloat64())
				}
				tensor.ForEachTestKernel(func(kern string) {
					got, want := make([]float32, tc.m*n), make([]float32, tc.m*n)
					tensor.Gemm(false, transB, 1, tensor.FromF32(x, tc.m, k), w, 0, got, n)
					tensor.Gemm(false, transB, 1, tensor.FromF32(x, tc.m, k), wf, 0, want, n)
					same(t, fmt.Sprintf("%s %s Gemm transB=%v", name, kern, transB), got, want)
					if transB {
						tensor.GemmRows(1, tensor.FromF32(x, tc.m, k), w, 0, got, n)
						tensor.GemmRows(1, tensor.FromF32(x, tc.m, k), wf, 0, want, n)
						same(t, name+" "+kern+" GemmRows", got, want)
					}
				})
			}
		}
	}
}

// checkRows compares Row and At of w with those of its float32 values wf,
// and a row segment that starts and ends inside blocks.
func checkRows(t *testing.T, name string, w, wf tensor.Mat) {
	t.Helper()
	got, want := make([]float32, w.Cols), make([]float32, w.Cols)
	for i := 0; i < w.Rows; i++ {
		same(t, name+" Row", w.Row(i, got), wf.Row(i, want))
		if a, b := w.At(i, w.Cols-1), wf.At(i, w.Cols-1); a != b {
			t.Fatalf("%s: At(%d, %d) = %g, want %g", name, i, w.Cols-1, a, b)
		}
	}
	off := w.Stride + 5 // row 1 (or past the end), column 5
	if w.Rows > 1 && w.Cols > 12 {
		seg := got[:w.Cols-12]
		tensor.Widen(seg, w, off)
		same(t, name+" Widen mid-row", seg, wf.F32[off:off+len(seg)])
	}
}

func same(t *testing.T, what string, got, want []float32) {
	t.Helper()
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%s: [%d] = %g with the blocks, %g with their float32 values", what, i, got[i], want[i])
		}
	}
}

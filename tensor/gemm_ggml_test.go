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

// BenchmarkGemmGGML times SmolLM-135M's down projection (W 576×1536) on a
// batch of 1024 tokens, forward (x·Wᵀ) and backward (dY·W), with W in
// float32 and in ggml block types: the cost of dequantizing in packing.
func BenchmarkGemmGGML(b *testing.B) {
	const m, out, in = 1024, 576, 1536
	r := rand.New(rand.NewPCG(1, 1))
	for _, typ := range []gguf.Type{gguf.F32, gguf.Q8_0, gguf.Q4_0, gguf.Q5_0, gguf.Q4_K, gguf.Q6_K} {
		data, err := gguf.Random(typ, out*in, 0.02, r)
		if err != nil {
			b.Fatal(err)
		}
		g, err := gguf.Tensor{Name: "w", Type: typ, Shape: []int{out, in}, Data: data}.Matrix()
		if err != nil {
			b.Fatal(err)
		}
		w := g.Mat() // F32 is viewed as float32
		x, c := make([]float32, m*in), make([]float32, m*in)
		for _, transB := range []bool{true, false} {
			k, n := in, out
			if !transB {
				k, n = out, in
			}
			b.Run(fmt.Sprintf("%s/transB=%v", typ, transB), func(b *testing.B) {
				for b.Loop() {
					tensor.Gemm(false, transB, 1, tensor.FromF32(x[:m*k], m, k), w, 0, c[:m*n], n)
				}
				b.ReportMetric(2*m*float64(n)*float64(k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

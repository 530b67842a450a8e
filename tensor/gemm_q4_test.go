package tensor

import (
	"math/rand/v2"
	"testing"

	"github.com/golora/golora/quant"
	"github.com/golora/golora/tensor/kernels"
)

// TestGemmQ4 checks that a 4-bit operand gives exactly the product of its
// dequantized float32 values, in every product the model uses it in
// (x·Wᵀ forward, including the one-row path of generation, and dY·W of
// backward), for every micro-kernel and kernel set, against the values the
// portable Go code dequantizes.
func TestGemmQ4(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		m, out, in int
	}{{1, 40, 96}, {7, 33, 70}, {40, 64, 200}, {3, 5, 9}, {64, 8, 40}, {64, 128, 256}, {33, 96, 640}} {
		w := make([]float32, tc.out*tc.in)
		for i := range w {
			w[i] = float32(r.NormFloat64())
		}
		q, err := quant.Quantize(w, tc.out, tc.in, quant.NF4, true)
		if err != nil {
			t.Fatal(err)
		}
		var wf Mat
		withKernels(kernels.Go, func() { wf = FromF32(q.Dequantize(), tc.out, tc.in) })
		wq := FromQuant(q)
		for _, transB := range []bool{true, false} {
			k, n := tc.in, tc.out
			if !transB {
				k, n = tc.out, tc.in
			}
			x := make([]float32, tc.m*k)
			for i := range x {
				x[i] = float32(r.NormFloat64())
			}
			for _, kern := range testKernels() {
				got, want := make([]float32, tc.m*n), make([]float32, tc.m*n)
				withKernel(kern, func() {
					Gemm(false, transB, 1, FromF32(x, tc.m, k), wq, 0, got, n)
					Gemm(false, transB, 1, FromF32(x, tc.m, k), wf, 0, want, n)
				})
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("%s %dx%dx%d transB=%v: C[%d] = %g with Q4, %g with its float32 values", kern.name, tc.m, tc.out, tc.in, transB, i, got[i], want[i])
					}
				}
			}
		}
	}
}

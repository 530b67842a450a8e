package tensor

import (
	"math/rand/v2"
	"testing"

	"github.com/golora/golora/tensor/kernels"
)

// TestGemmRowsEqualsOneRowGemm: every row of GemmRows is bit for bit the
// one-row Gemm of that row, for F32 and BF16 B, widths below, at and above
// the narrow kernel's, depths that are not multiples of 16 (or below 16,
// as LoRA's ·Bᵀ), and more rows than one dotRows call takes.
func TestGemmRowsEqualsOneRowGemm(t *testing.T) {
	for _, set := range kernels.Supported() { // every kernel set this CPU runs
		withKernels(set, func() { testGemmRows(t, set) })
	}
}

func testGemmRows(t *testing.T, set kernels.Set) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, dt := range []DType{F32, BF16} {
		for _, sh := range []struct{ m, n, k int }{{3, 5, 7}, {4, 16, 33}, {7, 67, 48}, {2, 130, 100}, {9, 1, 20}, {16, 37, 8}, {13, 40, 200}} {
			a := make([]float32, sh.m*sh.k)
			for i := range a {
				a[i] = float32(r.NormFloat64())
			}
			bf := make([]float32, sh.n*sh.k)
			for i := range bf {
				bf[i] = float32(r.NormFloat64())
			}
			b := FromF32(bf, sh.n, sh.k)
			if dt == BF16 {
				u := make([]uint16, len(bf))
				for i, v := range bf {
					u[i] = F32ToBF16(v)
				}
				b = FromU16(BF16, u, sh.n, sh.k)
			}
			A := FromF32(a, sh.m, sh.k)
			got := make([]float32, sh.m*sh.n)
			want := make([]float32, sh.m*sh.n)
			for i := range got {
				got[i] = float32(i)
				want[i] = float32(i)
			}
			GemmRows(0.5, A, b, 1, got, sh.n)
			for i := 0; i < sh.m; i++ {
				Gemm(false, true, 0.5, A.rowView(i), b, 1, want[i*sh.n:], sh.n)
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("%v %v %+v: element %d is %v, one-row Gemm %v", set, dt, sh, i, got[i], want[i])
				}
			}
		}
	}
}

// TestDotProductsEqualDot4: where a kernel has dotRows, every element of
// dotProducts (which one-row and many-row products A·Wᵀ go through) is bit
// for bit what dot4 computes for it, for F32 and BF16 W, so the faster
// kernel changes no number.
func TestDotProductsEqualDot4(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, kern := range []*gemmKernel{activeKernel(), activeKernel().narrow} {
		if kern == nil || kern.dotRows == nil {
			continue
		}
		for _, dt := range []DType{F32, BF16} {
			for _, sh := range []struct{ m, n, k int }{{1, 37, 300}, {16, 49, 8}, {7, 21, 576}, {13, 16, 47}, {6, 3, 16}} {
				a := make([]float32, sh.m*sh.k)
				for i := range a {
					a[i] = float32(r.NormFloat64())
				}
				wf := make([]float32, sh.n*sh.k)
				u := make([]uint16, len(wf))
				for i := range wf {
					wf[i] = float32(r.NormFloat64())
					u[i] = F32ToBF16(wf[i])
				}
				w := FromF32(wf, sh.n, sh.k)
				if dt == BF16 {
					w = FromU16(BF16, u, sh.n, sh.k)
				}
				got := make([]float32, sh.m*sh.n)
				ws := new(workspace)
				dotProducts(kern, ws, 1, a, sh.k, sh.m, sh.k, w, 0, got, sh.n, 0, sh.n)
				scratch := make([]float32, 4*sh.k)
				for i := 0; i < sh.m; i++ {
					for j := 0; j < sh.n; j++ {
						var y [4]float32
						kern.dot4(sh.k, a[i*sh.k:], w, j*sh.k, 0, &y, scratch)
						if g := got[i*sh.n+j]; g != y[0] {
							t.Fatalf("%s %v %+v: C[%d][%d] = %v, dot4 %v", kern.name, dt, sh, i, j, g, y[0])
						}
					}
				}
			}
		}
	}
}

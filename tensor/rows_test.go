package tensor

import (
	"math"
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

// TestRowsSplit: the parts of a rowsJob cover C's columns in order, each
// starting at a multiple of sixteen, no part after the first larger than
// the one before it but the last (which takes what is left), none below
// minRowsPart but the last, at most maxParts; one part on one thread or
// for a product too small to share.
func TestRowsSplit(t *testing.T) {
	for _, tc := range []struct{ n, k, m, threads, want int }{
		{576, 576, 1, 1, 1}, {576, 576, 1, 2, 0}, {192, 576, 1, 2, 0}, {49152, 576, 1, 2, 0}, {49152, 576, 16, 8, 0},
		{16, 576, 1, 2, 1}, {100, 8, 1, 2, 1}, {1000, 16, 3, 3, 0}, {5, 7, 1, 2, 1}, {0, 8, 1, 2, 0},
	} {
		j := &rowsJob{a: Mat{Rows: tc.m, Cols: tc.k}, b: Mat{Rows: tc.n, Cols: tc.k}}
		parts := j.split(tc.threads)
		if tc.want > 0 && parts != tc.want || parts > maxParts || tc.n > 0 && parts < 1 {
			t.Errorf("%+v: %d parts", tc, parts)
			continue
		}
		if tc.threads > 1 && tc.n*tc.k*ceilDiv(tc.m, 4) >= 2*tc.threads*minRowsPart && parts < tc.threads {
			t.Errorf("%+v: %d parts for %d threads", tc, parts, tc.threads)
		}
		b := j.bounds[:parts+1]
		if b[0] != 0 || b[parts] != tc.n {
			t.Errorf("%+v: bounds %v do not cover [0, %d)", tc, b, tc.n)
		}
		for i := 0; i < parts; i++ {
			size := b[i+1] - b[i]
			last := i == parts-1
			switch {
			case size <= 0 || b[i]%16 != 0:
				t.Errorf("%+v: part %d is [%d, %d)", tc, i, b[i], b[i+1])
			case !last && size*tc.k*ceilDiv(tc.m, 4) < minRowsPart:
				t.Errorf("%+v: part %d has %d columns, below minRowsPart", tc, i, size)
			case i > 0 && !last && size > b[i]-b[i-1]:
				t.Errorf("%+v: part %d (%d columns) is larger than part %d", tc, i, size, i-1)
			}
		}
	}
}

// TestGemmRowsAnyThreads: GemmRows's numbers do not depend on how many
// goroutines share the columns (and so on how they are split).
func TestGemmRowsAnyThreads(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, sh := range []struct{ m, n, k int }{{1, 1000, 576}, {3, 333, 100}, {7, 4100, 64}} {
		a, b := testMat(r, F32, sh.m, sh.k, 0), testMat(r, F32, sh.n, sh.k, 0)
		var want []float32
		for _, threads := range []int{1, 2, 3, 8} {
			setTestKnobs(t, minFlopsPerThread, nil, threads)
			got := make([]float32, sh.m*sh.n)
			GemmRows(1, a, b, 0, got, sh.n)
			if want == nil {
				want = got
				continue
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("%+v, %d threads: element %d is %v, on one thread %v", sh, threads, i, got[i], want[i])
				}
			}
		}
	}
}

// TestDot4Go: the portable dot4 is the four dot products within float32
// rounding of their float64 values, for F32, BF16 and F16 rows, odd and
// even depths, and ld 0 (four copies of one row).
func TestDot4Go(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, dt := range []DType{F32, BF16, F16} {
		for _, k := range []int{1, 2, 7, 64, 577} {
			for _, ld := range []int{0, k, k + 3} {
				x := testMat(r, F32, 1, k, 0)
				w := testMat(r, dt, 4, max(ld, k), 0)
				var y [4]float32
				dot4Go(k, x.F32, w, 0, ld, &y, make([]float32, 4*k))
				for j := range 4 {
					var want, mag float64
					for p := range k {
						v := float64(x.F32[p]) * float64(w.At(0, j*ld+p))
						want, mag = want+v, mag+math.Abs(v)
					}
					if d := math.Abs(float64(y[j]) - want); d > float64(k)*0x1p-24*mag {
						t.Errorf("%v k=%d ld=%d: y[%d] = %v, float64 %v", dt, k, ld, j, y[j], want)
					}
				}
			}
		}
	}
}

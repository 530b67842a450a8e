package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/golora/golora/quant"
	"github.com/golora/golora/tensor/kernels"
)

// testMat returns a rows×cols matrix of dtype dt with values in [-1, 1),
// viewed inside a larger buffer (stride cols+pad, offset by a few elements)
// so that strides and offsets are exercised. A Q4 matrix (NF4 or FP4, with
// or without double quantization, at random) has no padding: its stride is
// its width.
func testMat(rng *rand.Rand, dt DType, rows, cols, pad int) Mat {
	if dt == Q4 {
		w := make([]float32, rows*cols)
		for i := range w {
			w[i] = float32(rng.Float64()*2 - 1)
		}
		typ := []quant.Type{quant.NF4, quant.FP4}[rng.IntN(2)]
		q, err := quant.Quantize(w, rows, cols, typ, rng.IntN(2) == 1)
		if err != nil {
			panic(err)
		}
		return FromQuant(q)
	}
	stride := cols + pad
	off := rng.IntN(3)
	n := off + rows*stride
	switch dt {
	case F32:
		d := make([]float32, n)
		for i := range d {
			d[i] = float32(rng.Float64()*2 - 1)
		}
		return Mat{DType: F32, F32: d[off:], Rows: rows, Cols: cols, Stride: stride}
	default:
		d := make([]uint16, n)
		for i := range d {
			f := float32(rng.Float64()*2 - 1)
			if dt == BF16 {
				d[i] = F32ToBF16(f)
			} else {
				d[i] = F32ToF16(f)
			}
		}
		return Mat{DType: dt, U16: d[off:], Rows: rows, Cols: cols, Stride: stride}
	}
}

type gemmCase struct {
	transA, transB bool
	ta, tb         DType
	m, n, k        int
	alpha, beta    float32
}

func (tc gemmCase) String() string {
	t := func(b bool) string {
		if b {
			return "t"
		}
		return "n"
	}
	return fmt.Sprintf("%s%s %v×%v m=%d n=%d k=%d alpha=%g beta=%g",
		t(tc.transA), t(tc.transB), tc.ta, tc.tb, tc.m, tc.n, tc.k, tc.alpha, tc.beta)
}

// checkGemm runs one case through Gemm and compares it with a float64
// reference. The tolerance is the forward error bound of float32 dot
// products, 2·(k+3)·2⁻²⁴·(|alpha|·Σ_p|a_ip·b_pj| + |beta·c_ij|), so an
// element that is wrong by more than rounding fails.
func checkGemm(t *testing.T, rng *rand.Rand, tc gemmCase) bool {
	t.Helper()
	ar, ac := tc.m, tc.k
	if tc.transA {
		ar, ac = ac, ar
	}
	br, bc := tc.k, tc.n
	if tc.transB {
		br, bc = bc, br
	}
	a := testMat(rng, tc.ta, ar, ac, rng.IntN(3))
	b := testMat(rng, tc.tb, br, bc, rng.IntN(3))
	ldc := tc.n + rng.IntN(4)
	const sentinel = 12345.5
	c := make([]float32, tc.m*ldc+3)
	for i := range c {
		c[i] = sentinel
	}
	c0 := make([]float32, len(c))
	for i := 0; i < tc.m; i++ {
		for j := 0; j < tc.n; j++ {
			if tc.beta == 0 {
				c[i*ldc+j] = float32(math.NaN())
			} else {
				c[i*ldc+j] = float32(rng.Float64()*2 - 1)
			}
		}
	}
	copy(c0, c)
	Gemm(tc.transA, tc.transB, tc.alpha, a, b, tc.beta, c, ldc)

	// op(A) as m×k and op(B)ᵀ as n×k, widened to float64.
	opA := make([]float64, tc.m*tc.k)
	opBT := make([]float64, tc.n*tc.k)
	for p := 0; p < tc.k; p++ {
		for i := 0; i < tc.m; i++ {
			if tc.transA {
				opA[i*tc.k+p] = float64(a.At(p, i))
			} else {
				opA[i*tc.k+p] = float64(a.At(i, p))
			}
		}
		for j := 0; j < tc.n; j++ {
			if tc.transB {
				opBT[j*tc.k+p] = float64(b.At(j, p))
			} else {
				opBT[j*tc.k+p] = float64(b.At(p, j))
			}
		}
	}
	bad := 0
	for i := 0; i < tc.m; i++ {
		ai := opA[i*tc.k : (i+1)*tc.k]
		for j := 0; j < tc.n; j++ {
			var s, abs float64
			for p, bv := range opBT[j*tc.k : (j+1)*tc.k] {
				x := ai[p] * bv
				s += x
				abs += math.Abs(x)
			}
			want := float64(tc.alpha) * s
			scale := math.Abs(float64(tc.alpha)) * abs
			if tc.beta != 0 {
				want += float64(tc.beta) * float64(c0[i*ldc+j])
				scale += math.Abs(float64(tc.beta) * float64(c0[i*ldc+j]))
			}
			got := float64(c[i*ldc+j])
			tol := 2*float64(tc.k+3)*0x1p-24*scale + 1e-30
			if !(math.Abs(got-want) <= tol) {
				if bad < 3 {
					t.Errorf("%v: C[%d][%d] = %g, want %g (tol %.3g)", tc, i, j, got, want, tol)
				}
				bad++
			}
		}
	}
	// Nothing outside the m×n block of C may change.
	for i := range c {
		if r, col := i/ldc, i%ldc; r < tc.m && col < tc.n {
			continue
		}
		if c[i] != sentinel {
			t.Errorf("%v: c[%d] outside C changed to %g", tc, i, c[i])
			bad++
			break
		}
	}
	return bad == 0
}

// withKernels runs f with s as the active kernel set.
func withKernels(s kernels.Set, f func()) {
	if err := kernels.With(s, f); err != nil {
		panic(err)
	}
}

// withKernel runs f with kern as the micro-kernel and its set as the
// active kernel set (which the packers' dequantization and the
// element-wise math follow).
func withKernel(kern *gemmKernel, f func()) {
	withKernels(kern.set, func() {
		old := kernelOverride
		kernelOverride = kern
		defer func() { kernelOverride = old }()
		f()
	})
}

// testKernels lists the micro-kernels of every kernel set the CPU
// supports (each set's narrow kernel too), so that an AVX-512 machine
// tests the AVX2 and portable ones as well. Both variants of the portable
// kernel are tested on every architecture.
func testKernels() []*gemmKernel {
	other := *portableKernel
	if fewFPRegs {
		other.name, other.full = "go4x4regs", kernGo4x4Regs
	} else {
		other.name, other.full = "go4x4split", kernGo4x4Split
	}
	list := []*gemmKernel{&other}
	for _, s := range kernels.Supported() {
		list = append(list, setKernels[s])
		if n := setKernels[s].narrow; n != nil {
			list = append(list, n)
		}
	}
	return list
}

// setTestKnobs sets the internal tuning knobs and the thread count for the
// rest of the test.
func setTestKnobs(t *testing.T, minFlops int, blk *blocking, threads int) {
	t.Helper()
	oldMin, oldBlk, oldThreads := minFlopsPerThread, blockingOverride, int(threadSetting.Load())
	minFlopsPerThread, blockingOverride = minFlops, blk
	SetThreads(threads)
	t.Cleanup(func() {
		minFlopsPerThread, blockingOverride = oldMin, oldBlk
		SetThreads(oldThreads)
	})
}

var (
	allTrans  = [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}}
	allDTypes = []DType{F32, BF16, F16, Q4}
	// alphaBeta covers overwrite (beta 0 over NaN), accumulate and scale.
	alphaBeta = [][2]float32{{1, 0}, {1, 1}, {-0.75, 0.5}}
)

// TestGemmSmallBlocks forces tiny cache blocks so that small shapes cross
// every block boundary (several kc slices, mc and nc blocks, edge tiles in
// both directions), with every transposition, dtype pair, alpha/beta and
// 1, 2 and 3 goroutines, for every kernel.
func TestGemmSmallBlocks(t *testing.T) {
	shapes := [][3]int{ // m, n, k
		{1, 1, 1}, {3, 5, 7}, {7, 13, 5}, {6, 16, 8}, {13, 37, 11},
		{37, 8, 29}, {29, 41, 8}, {8, 50, 33}, {50, 1, 9}, {1, 50, 9}, {25, 49, 2},
	}
	for _, kern := range testKernels() {
		blk := &blocking{mc: 2 * kern.mr, kc: 5, nc: 2 * kern.nr}
		for _, threads := range []int{1, 2, 3} {
			t.Run(fmt.Sprintf("%s/threads=%d", kern.name, threads), func(t *testing.T) {
				setTestKnobs(t, 1, blk, threads)
				rng := rand.New(rand.NewPCG(1, uint64(threads)))
				withKernel(kern, func() {
					failures := 0
					for _, s := range shapes {
						for _, tr := range allTrans {
							for _, ta := range allDTypes {
								for _, tb := range allDTypes {
									for _, ab := range alphaBeta {
										tc := gemmCase{tr[0], tr[1], ta, tb, s[0], s[1], s[2], ab[0], ab[1]}
										if !checkGemm(t, rng, tc) {
											failures++
										}
										if failures > 5 {
											t.Fatal("too many failures")
										}
									}
								}
							}
						}
					}
				})
			})
		}
	}
}

// TestGemmRealBlocks uses each kernel's own blocking with shapes that cross
// its mc, kc and nc boundaries and the sizes of LoRA products (k = 8,
// n = 8, m = 8).
func TestGemmRealBlocks(t *testing.T) {
	for _, kern := range testKernels() {
		b := kern.blk
		shapes := [][3]int{ // m, n, k
			{b.mc + kern.mr + 1, 40, b.kc + 3},
			{7, b.nc + kern.nr + 3, b.kc + 1},
			{97, 8, 300}, {97, 300, 8}, {8, 300, 97},
			{1, 37, 300}, {1, 3, 40}, {1, 300, 16}, // one row: dot products when transB
		}
		for _, threads := range []int{1, 2} {
			t.Run(fmt.Sprintf("%s/threads=%d", kern.name, threads), func(t *testing.T) {
				setTestKnobs(t, 1, nil, threads)
				rng := rand.New(rand.NewPCG(2, uint64(threads)))
				withKernel(kern, func() {
					for _, s := range shapes {
						for _, tr := range allTrans {
							dt := []DType{F32, BF16, F16}[rng.IntN(3)]
							ab := alphaBeta[rng.IntN(len(alphaBeta))]
							tc := gemmCase{tr[0], tr[1], F32, dt, s[0], s[1], s[2], ab[0], ab[1]}
							if !checkGemm(t, rng, tc) {
								t.FailNow()
							}
						}
					}
				})
			})
		}
	}
}

// TestGemmNarrow covers products narrow in n (LoRA's n = 8), which a
// kernel with a narrow variant hands to it, for each kernel: every
// transposition, dtype pair, alpha/beta (beta 0 over NaN), tiny and real
// blocking, 1 to 3 goroutines.
func TestGemmNarrow(t *testing.T) {
	shapes := [][3]int{ // m, n, k
		{40, 8, 9}, {37, 3, 20}, {97, 8, 300}, {200, 16, 40}, {61, 2, 1}, {50, 17, 30},
	}
	for _, kern := range testKernels() {
		for _, small := range []bool{true, false} {
			for _, threads := range []int{1, 2, 3} {
				t.Run(fmt.Sprintf("%s/small=%v/threads=%d", kern.name, small, threads), func(t *testing.T) {
					var blk *blocking
					if small {
						blk = &blocking{mc: 2 * kern.mr, kc: 7, nc: 2 * kern.nr}
					}
					setTestKnobs(t, 1, blk, threads)
					rng := rand.New(rand.NewPCG(9, uint64(threads)))
					withKernel(kern, func() {
						for _, s := range shapes {
							for _, tr := range allTrans {
								for _, ta := range allDTypes {
									for _, tb := range allDTypes {
										for _, ab := range alphaBeta {
											tc := gemmCase{tr[0], tr[1], ta, tb, s[0], s[1], s[2], ab[0], ab[1]}
											if !checkGemm(t, rng, tc) {
												t.FailNow()
											}
										}
									}
								}
							}
						}
					})
				})
			}
		}
	}
}

// TestGemmDefaults runs the shipped configuration (default thresholds and
// thread count) on a few shapes, small and large.
func TestGemmDefaults(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	for _, s := range [][3]int{{3, 5, 7}, {8, 8, 8}, {9, 8, 8}, {64, 64, 64}, {130, 70, 90}} {
		for _, tr := range allTrans {
			if !checkGemm(t, rng, gemmCase{tr[0], tr[1], F32, BF16, s[0], s[1], s[2], 1, 0}) {
				t.FailNow()
			}
		}
	}
}

// TestGemmZeroSizes: k == 0 or alpha == 0 scale C by beta; m or n == 0 is a
// no-op.
func TestGemmZeroSizes(t *testing.T) {
	c := []float32{1, 2, 3, 4, 5, 6}
	a := FromF32(make([]float32, 6), 2, 3)
	b := FromF32(make([]float32, 6), 3, 2)
	Gemm(false, false, 0, a, b, 2, c, 3) // C is 2×2 with ldc 3
	if want := []float32{2, 4, 3, 8, 10, 6}; fmt.Sprint(c) != fmt.Sprint(want) {
		t.Errorf("alpha=0: got %v, want %v", c, want)
	}
	c = []float32{float32(math.NaN()), 1, 2, 3}
	Gemm(false, false, 1, Mat{Rows: 2, Cols: 0}, Mat{Rows: 0, Cols: 2}, 0, c, 2)
	if fmt.Sprint(c) != fmt.Sprint([]float32{0, 0, 0, 0}) {
		t.Errorf("k=0 beta=0: got %v", c)
	}
	Gemm(false, false, 1, Mat{Rows: 0, Cols: 3}, b, 0, nil, 2) // m = 0
}

func TestGemmPanics(t *testing.T) {
	f := func(n int) Mat { return FromF32(make([]float32, n*n), n, n) }
	cases := []struct {
		name, want string
		run        func()
	}{
		{"inner", "inner dimensions differ", func() {
			Gemm(false, false, 1, FromF32(make([]float32, 6), 2, 3), f(2), 0, make([]float32, 4), 2)
		}},
		{"ldc", "ldc 1 < n 2", func() { Gemm(false, false, 1, f(2), f(2), 0, make([]float32, 4), 1) }},
		{"short c", "len(c) 3 < 4", func() { Gemm(false, false, 1, f(2), f(2), 0, make([]float32, 3), 2) }},
		{"short a", "A is 3×3 F32 with stride 3: needs 9 elements, has 8", func() {
			a := Mat{DType: F32, F32: make([]float32, 8), Rows: 3, Cols: 3, Stride: 3}
			Gemm(false, false, 1, a, f(3), 0, make([]float32, 9), 3)
		}},
		{"stride", "B stride 2 < cols 3", func() {
			b := Mat{DType: F32, F32: make([]float32, 9), Rows: 3, Cols: 3, Stride: 2}
			Gemm(false, false, 1, f(3), b, 0, make([]float32, 9), 3)
		}},
		{"dtype", "unsupported dtype", func() {
			b := Mat{DType: 9, Rows: 3, Cols: 3, Stride: 3}
			Gemm(false, false, 1, f(3), b, 0, make([]float32, 9), 3)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if s, _ := r.(string); !strings.Contains(s, tc.want) {
					t.Errorf("panic %v, want one containing %q", r, tc.want)
				}
			}()
			tc.run()
		})
	}
}

func TestThreads(t *testing.T) {
	old := int(threadSetting.Load())
	defer SetThreads(old)
	SetThreads(3)
	if Threads() != 3 {
		t.Errorf("Threads() = %d after SetThreads(3)", Threads())
	}
	SetThreads(0)
	if Threads() != runtime.GOMAXPROCS(0) {
		t.Errorf("Threads() = %d after SetThreads(0), want GOMAXPROCS %d", Threads(), runtime.GOMAXPROCS(0))
	}
	SetThreads(-1)
	if Threads() != runtime.GOMAXPROCS(0) {
		t.Errorf("Threads() = %d after SetThreads(-1)", Threads())
	}
}

// TestGemmConcurrent calls Gemm from several goroutines at once, each
// split over the shared pool.
func TestGemmConcurrent(t *testing.T) {
	setTestKnobs(t, 1, nil, 2)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(5, uint64(g)))
			for range 3 {
				checkGemm(t, rng, gemmCase{false, true, F32, BF16, 45, 70, 33, 1, 0.5})
			}
		}()
	}
	wg.Wait()
}

// TestGemmPartition checks that the rectangles given to the goroutines
// tile C exactly, on whole micro-tiles.
func TestGemmPartition(t *testing.T) {
	setTestKnobs(t, 1, nil, 1)
	for _, tile := range [][2]int{{4, 4}, {6, 16}, {12, 32}, {1, 4}} {
		mr, nr := tile[0], tile[1]
		for _, s := range [][3]int{{1, 1, 1}, {5, 100, 10}, {100, 5, 10}, {1000, 300, 100}, {7, 17, 3}, {64, 64, 64}, {1, 33, 5}} {
			for _, threads := range []int{1, 2, 3, 4, 5, 6, 7, 8, 16} {
				j := &gemmJob{m: s[0], n: s[1], k: s[2], blk: blocking{mc: 144, kc: 256, nc: 4080}}
				parts := j.partition(threads, mr, nr, 1)
				name := fmt.Sprintf("%d×%d tiles", mr, nr)
				if parts < 1 || parts > threads {
					t.Fatalf("%s %v threads=%d: %d parts", name, s, threads, parts)
				}
				seen := make([]int, s[0]*s[1])
				for _, r := range j.parts[:parts] {
					if r.i0%mr != 0 || r.j0%nr != 0 {
						t.Errorf("%s %v threads=%d: rect %v not on tile boundaries", name, s, threads, r)
					}
					for i := r.i0; i < r.i1; i++ {
						for jj := r.j0; jj < r.j1; jj++ {
							seen[i*s[1]+jj]++
						}
					}
				}
				for x, v := range seen {
					if v != 1 {
						t.Fatalf("%s %v threads=%d: element %d covered %d times (%v)", name, s, threads, x, v, j.parts[:parts])
					}
				}
			}
		}
	}
}

func TestF16ToF32Fast(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		want, got := F16ToF32(uint16(h)), f16to32(uint16(h))
		if math.Float32bits(want) != math.Float32bits(got) {
			t.Fatalf("f16to32(%#04x) = %v, want %v", h, got, want)
		}
	}
}

// TestPack compares packA and packB (with each kernel's transposing packer)
// with the layouts they document, for every dtype, both orientations and
// depths around the 8-wide blocks of the assembly transpose.
func TestPack(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	for _, kern := range testKernels() {
		mr, nr := kern.mr, kern.nr
		for _, dt := range allDTypes {
			for _, trans := range []bool{false, true} {
				for _, kc := range []int{1, 7, 8, 9, 16, 33} {
					for _, mn := range []int{1, mr - 1, 2*nr + 3} {
						if mn < 1 {
							continue
						}
						name := fmt.Sprintf("%s %v trans=%v kc=%d mn=%d", kern.name, dt, trans, kc, mn)
						// x holds op(A) or op(B) at offset (2, 3).
						rows, cols := mn+2, kc+3
						if trans {
							rows, cols = kc+2, mn+3
						}
						x := testMat(rng, dt, rows, cols, 2)
						at := func(i, p int) float32 { // op(A)[i][p] of the block
							if trans {
								return x.At(2+p, 3+i)
							}
							return x.At(2+i, 3+p)
						}
						// packA: block of op(A) is mn×kc at (2, 3) in op's coordinates.
						dst := make([]float32, ceilDiv(mn, mr)*panelStride(kc, mr))
						for i := range dst {
							dst[i] = float32(math.NaN())
						}
						var i0, p0 int
						if trans {
							i0, p0 = 3, 2
						} else {
							i0, p0 = 2, 3
						}
						packA(dst, x, trans, i0, mn, p0, kc, mr)
						rsa, csa := packAStrides(trans, kc, mr)
						for i := 0; i < roundUp(mn, mr); i++ {
							for p := 0; p < kc; p++ {
								got := dst[i/mr*panelStride(kc, mr)+i%mr*rsa+p*csa]
								want := float32(0)
								if i < mn {
									want = at(i, p)
								}
								if got != want {
									t.Fatalf("packA %s: (%d,%d) = %v, want %v", name, i, p, got, want)
								}
							}
						}
						// packB: x read as B with the other orientation gives the
						// kc×mn block op(B)[p][j] = op(A)[j][p].
						dst = make([]float32, ceilDiv(mn, nr)*panelStride(kc, nr))
						for i := range dst {
							dst[i] = float32(math.NaN())
						}
						packB(dst, x, !trans, p0, kc, i0, mn, nr, kern.packT, make([]float32, nr*kc))
						for j := 0; j < roundUp(mn, nr); j++ {
							for p := 0; p < kc; p++ {
								got := dst[j/nr*panelStride(kc, nr)+p*nr+j%nr]
								want := float32(0)
								if j < mn {
									want = at(j, p)
								}
								if got != want {
									t.Fatalf("packB %s: (%d,%d) = %v, want %v", name, p, j, got, want)
								}
							}
						}
					}
				}
			}
		}
	}
}

// TestGemmTilesEqualsFull checks each kernel's column walker (tiles)
// against one call of full per tile, bit for bit: packed row-major and
// depth-major panels of Ã (the assembly variants) and other strides (the
// fallback), B̃ packed or strided, beta 0 over NaN, 1 and other, depths
// with and without a remainder of the 4-step loop. Nothing outside the
// tiles may change.
func TestGemmTilesEqualsFull(t *testing.T) {
	ran := false
	for _, kern := range testKernels() {
		if kern.tiles == nil {
			continue
		}
		ran = true
		mr, nr := kern.mr, kern.nr
		rng := rand.New(rand.NewPCG(7, 8))
		for _, kc := range []int{1, 3, 4, 13, 288} {
			for _, layout := range []string{"row", "col", "strided"} {
				for _, csb := range []int{nr, nr + 5} {
					for _, beta := range []float32{0, 1, 0.5} {
						n := 1 + rng.IntN(4)
						rsa, csa, pa := kc, 1, mr*kc
						switch layout {
						case "col":
							rsa, csa = 1, mr
						case "strided":
							rsa, csa, pa = 2*kc+1, 2, mr*(2*kc+1)+3
						}
						a := make([]float32, (n-1)*pa+(mr-1)*rsa+(kc-1)*csa+1)
						b := make([]float32, (kc-1)*csb+nr)
						for i := range a {
							a[i] = float32(rng.Float64()*2 - 1)
						}
						for i := range b {
							b[i] = float32(rng.Float64()*2 - 1)
						}
						ldc := nr + 3
						want := make([]float32, n*mr*ldc)
						for i := range want {
							want[i] = float32(rng.Float64()*2 - 1)
							if beta == 0 && i%ldc < nr {
								want[i] = float32(math.NaN())
							}
						}
						got := slices.Clone(want)
						for q := 0; q < n; q++ {
							kern.full(kc, a[q*pa:], rsa, csa, b, csb, want[q*mr*ldc:], ldc, -0.75, beta)
						}
						kern.tiles(n, kc, a, rsa, csa, pa, b, csb, got, ldc, -0.75, beta)
						for i := range want {
							if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
								t.Fatalf("%s kc=%d %s csb=%d beta=%g n=%d: c[%d] = %g, want %g (full per tile)",
									kern.name, kc, layout, csb, beta, n, i, got[i], want[i])
							}
						}
					}
				}
			}
		}
	}
	if !ran {
		t.Skip("no kernel of this build has a column walker")
	}
}

package tensor

import (
	"fmt"
	"sync"
	"unsafe"

	"github.com/golora/golora/tensor/kernels"
)

// Gemm computes C = alpha·op(A)·op(B) + beta·C, where op(X) is X, or Xᵀ when
// the matching trans flag is set.
//
// Shapes: op(A) is m×k and op(B) is k×n, so a is stored m×k (k×m when
// transA) and b is stored k×n (n×k when transB). C is m×n, row-major, in
// c with row stride ldc ≥ n: C[i][j] is c[i*ldc+j]; len(c) must be at least
// (m-1)·ldc + n. Either operand may be F32, BF16, F16, Q4 (4-bit NF4/FP4
// blocks) or GGML (ggml block types); BF16 and F16 are widened and Q4 and
// GGML dequantized to float32 while packing, never copied whole. Accumulation is in float32.
//
// beta == 0 means C is overwritten without being read, so NaNs already in C
// do not propagate. As in BLAS, alpha == 0 (or k == 0) leaves A and B unread
// and only scales C by beta.
//
// Typical uses, with x tokens×in and W out×in:
//
//	y  = x·Wᵀ:   Gemm(false, true,  1, x,  W, 0, y,  out)
//	dX = dY·W:   Gemm(false, false, 1, dY, W, 0, dX, in)
//	dW += dYᵀ·x: Gemm(true,  false, 1, dY, x, 1, dW, in)
//
// C must not overlap the data of a or b. Gemm splits the work over up to
// Threads() goroutines (the caller and persistent pool workers) and may be
// called from several goroutines at once. Shape mismatches are programming
// errors and panic.
//
// Method: Goto/BLIS blocking. op(B) is packed kc×nc at a time into panels
// of nr columns and op(A) mc×kc at a time into panels of mr rows (packing
// absorbs transposition and widening); a register-blocked mr×nr
// micro-kernel multiplies a pair of panels. The kernel is that of the
// active kernel set (package kernels; by default the best the CPU runs):
// avx512, AVX-512F assembly 12×32 with a 14×16 one for products at most 16
// columns wide; avx2, AVX2+FMA assembly 6×16; go (the only one on other
// architectures, or with -tags purego), the portable Go 4×4. An F32 operand that would be used only once
// or twice after packing is read in place, and a one-row product with
// transB (one token times Wᵀ) takes dot products straight from B's rows.
func Gemm(transA, transB bool, alpha float32, a, b Mat, beta float32, c []float32, ldc int) {
	m, k := a.Rows, a.Cols
	if transA {
		m, k = k, m
	}
	kb, n := b.Rows, b.Cols
	if transB {
		kb, n = n, kb
	}
	checkMat("A", a)
	checkMat("B", b)
	if k != kb {
		panic(fmt.Sprintf("tensor.Gemm: inner dimensions differ: op(A) is %d×%d (A %d×%d, transA=%v), op(B) is %d×%d (B %d×%d, transB=%v)",
			m, k, a.Rows, a.Cols, transA, kb, n, b.Rows, b.Cols, transB))
	}
	if m == 0 || n == 0 {
		return
	}
	if ldc < n {
		panic(fmt.Sprintf("tensor.Gemm: ldc %d < n %d", ldc, n))
	}
	if need := (m-1)*ldc + n; len(c) < need {
		panic(fmt.Sprintf("tensor.Gemm: len(c) %d < %d needed for %d×%d with ldc %d", len(c), need, m, n, ldc))
	}
	if k == 0 || alpha == 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	kern := activeKernel()
	if kern.narrow != nil && n <= kern.narrow.nr {
		kern = kern.narrow
	}
	if m == 1 && transB && !transA && a.DType == F32 && kern.dot4 != nil {
		rowProducts(kern, alpha, a, b, beta, c, ldc) // one token times Wᵀ: GemmRows's dot products
		return
	}
	j := jobPool.Get().(*gemmJob)
	// Fields one by one: j.team must keep its generation across calls.
	j.transA, j.transB, j.alpha, j.beta = transA, transB, alpha, beta
	j.a, j.b, j.c, j.ldc = a, b, c, ldc
	j.m, j.n, j.k = m, n, k
	j.kern, j.blk, j.gemv = kern, kern.blk, false
	if blockingOverride != nil {
		j.blk = *blockingOverride
	}
	var t int
	if m == 1 && transB && kern.dot4 != nil {
		// One row times Wᵀ (a single token): dot products straight from
		// B's rows beat packing all of B for one use. Its time is that
		// of reading B from memory (2 flops per element), so it splits
		// from a 16th of minFlopsPerThread: 128 Ki elements of B.
		j.gemv = true
		t = j.partition(Threads(), 1, 4, minFlopsPerThread/16)
	} else {
		t = j.partition(Threads(), kern.mr, kern.nr, minFlopsPerThread)
	}
	parallel(t, j, &j.team)
	j.a, j.b, j.c = Mat{}, Mat{}, nil
	jobPool.Put(j)
}

// minFlopsPerThread is the least work (2·m·n·k) worth waking another
// worker for: about 40 µs of one core's time, well above the cost of a
// wake-up.
var minFlopsPerThread = 4 << 20

// blockingOverride, when set (by tests), replaces the kernel's blocking.
var blockingOverride *blocking

func checkMat(name string, x Mat) {
	if x.Rows < 0 || x.Cols < 0 {
		panic(fmt.Sprintf("tensor.Gemm: %s has negative shape %d×%d", name, x.Rows, x.Cols))
	}
	if x.Rows == 0 || x.Cols == 0 {
		return
	}
	if x.Rows > 1 && x.Stride < x.Cols {
		panic(fmt.Sprintf("tensor.Gemm: %s stride %d < cols %d", name, x.Stride, x.Cols))
	}
	need := (x.Rows-1)*x.Stride + x.Cols
	var have int
	switch x.DType {
	case F32:
		have = len(x.F32)
	case BF16, F16:
		have = len(x.U16)
	case Q4:
		if x.Q == nil || x.Stride != x.Cols || x.Q.Rows*x.Q.Cols != x.Rows*x.Cols {
			panic(fmt.Sprintf("tensor.Gemm: %s is a Q4 view that does not match its quantized data", name))
		}
		have = need
	case GGML:
		if x.G == nil || x.Stride != x.Cols {
			panic(fmt.Sprintf("tensor.Gemm: %s is a GGML view without blocks or with a stride other than its columns", name))
		}
		have = need
	default:
		panic(fmt.Sprintf("tensor.Gemm: %s has unsupported dtype %v", name, x.DType))
	}
	if have < need {
		panic(fmt.Sprintf("tensor.Gemm: %s is %d×%d %v with stride %d: needs %d elements, has %d",
			name, x.Rows, x.Cols, x.DType, x.Stride, need, have))
	}
}

// scaleC sets C = beta·C (C = 0 when beta == 0, without reading C).
func scaleC(m, n int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		switch beta {
		case 0:
			clear(row)
		case 1:
		default:
			for j := range row {
				row[j] *= beta
			}
		}
	}
}

// blocking holds the cache blocking of the Goto/BLIS loops: a packed
// mc×kc block of op(A) stays in L2, a kc×nr micro-panel of op(B) in L1, and
// the packed kc×nc block of op(B) in L3.
type blocking struct {
	mc, kc, nc int
}

// gemmKernel is a micro-kernel and the blocking tuned for it. full computes
// one mr×nr tile over kc depth steps,
//
//	C[i][j] = alpha·Σ_p Ã[i][p]·B̃[p][j] + beta·C[i][j],  i < mr, j < nr,
//
// reading Ã[i][p] at a[i·rsa + p·csa] (a packed panel or op(A) itself),
// B̃[p][j] at b[p·csb + j] (nr contiguous values per depth step) and C[i][j]
// at c[i·ldc + j]. beta == 0 must not read C.
//
// The optional helpers are nil where the generic Go code is used:
//   - packT packs nr whole rows of a matrix transposed into a kc×nr panel:
//     d[p·nr + r] = x[off + r·x.Stride + p], with scratch (≥ nr·kc floats)
//     as work space;
//   - dot4 computes four dot products y[r] = Σ_{p<k} x[p]·w[off + r·ld + p],
//     r < 4, with scratch (≥ 4·k floats) as work space;
//   - dotRows (with tailRows) computes the dot products of up to six rows
//     of A with four rows of an F32 or BF16 w at once, y[4i+j] =
//     Σ_{p<16·k16} a[i·lda+p]·w[off + j·ld + p], i < mr, j < 4, each one
//     the number dot4 gives for its pair (see dotProducts);
//   - tailRows adds the last k mod 16 products of m rows and sixteen
//     columns, y[i·ldy+c] += float32(a[i·lda+p]·wt[16p+c]) for p < tail in
//     order, wt holding those columns of w transposed: dot4's tail;
//   - gatherT fills that wt from an F32 w: wt[16p+c] = w[off + c'·ld + p],
//     c' = min(c, nc−1), for p < tail.
type gemmKernel struct {
	name   string
	set    kernels.Set // the kernel set whose code it runs
	mr, nr int
	blk    blocking
	full   func(kc int, a []float32, rsa, csa int, b []float32, csb int, c []float32, ldc int, alpha, beta float32)
	packT  func(d []float32, x Mat, off, kc int, scratch []float32)
	dot4   func(k int, x []float32, w Mat, off, ld int, y *[4]float32, scratch []float32)
	// dotRows and tailRows: see above
	dotRows  func(k16 int, a []float32, lda, mr int, w Mat, off, ld int, y *[4 * dotRowsMax]float32)
	tailRows func(tail int, a []float32, lda int, wt []float32, m int, y []float32, ldy int)
	gatherT  func(tail int, w []float32, off, ld, nc int, wt []float32)
	// narrow, when set, is the kernel for products at most narrow.nr
	// columns wide (such as LoRA's n = 8), where most of a wide tile
	// would be padding.
	narrow *gemmKernel

	// tiles, when set, computes n ≥ 1 tiles down a column of C in one
	// call: tile q is full's tile with Ã at a[q·pa:] and C at
	// c[q·mr·ldc:] (the same B̃), each computed exactly as full does.
	tiles func(n, kc int, a []float32, rsa, csa, pa int, b []float32, csb int, c []float32, ldc int, alpha, beta float32)
}

// setKernels is the micro-kernel of each kernel set: portableKernel for
// Go, the assembly ones of gemm_amd64.go for the others (nil where this
// build has none).
var setKernels = [...]*gemmKernel{kernels.Go: portableKernel, kernels.AVX2: nil, kernels.AVX512: nil}

// kernelOverride, when set (by tests), is the micro-kernel Gemm uses
// instead of the active set's.
var kernelOverride *gemmKernel

// activeKernel returns the micro-kernel Gemm uses: that of the active
// kernel set (kernels.Active).
func activeKernel() *gemmKernel {
	if kernelOverride != nil {
		return kernelOverride
	}
	return setKernels[kernels.Active()]
}

// rect is one thread's share of C: rows [i0, i1), columns [j0, j1).
type rect struct{ i0, i1, j0, j1 int }

// gemmJob is one Gemm call, shared by the goroutines that compute it.
type gemmJob struct {
	transA, transB bool
	alpha, beta    float32
	a, b           Mat
	c              []float32
	ldc            int
	m, n, k        int
	kern           *gemmKernel
	blk            blocking
	gemv           bool // m == 1 and transB: dot products with B's rows
	parts          [maxParts]rect
	team           team
}

var jobPool = sync.Pool{New: func() any { return new(gemmJob) }}

// partition splits C into up to threads rectangles of whole mr×nr tiles,
// one per goroutine, each worth at least minFlops, so that each packs as
// little as possible, and returns their number. A rectangle of height h and
// width w packs about k·h·⌈w/nc⌉ elements of op(A) and k·w of op(B).
func (j *gemmJob) partition(threads, mr, nr, minFlops int) int {
	mt, nt := ceilDiv(j.m, mr), ceilDiv(j.n, nr)
	t := threads
	if f := 2 * int64(j.m) * int64(j.n) * int64(j.k) / int64(max(minFlops, 1)); f < int64(t) {
		t = int(f)
	}
	t = min(t, mt*nt, maxParts)
	if t <= 1 {
		j.parts[0] = rect{0, j.m, 0, j.n}
		return 1
	}
	best, bestCost := 1, -1.0
	for tm := 1; tm <= t; tm++ {
		if t%tm != 0 || tm > mt || t/tm > nt {
			continue
		}
		tn := t / tm
		h := float64(ceilDiv(mt, tm) * mr)
		w := float64(ceilDiv(nt, tn) * nr)
		cost := h*float64(ceilDiv(int(w), j.blk.nc)) + w
		if bestCost < 0 || cost < bestCost {
			best, bestCost = tm, cost
		}
	}
	if bestCost < 0 { // no tm×tn = t fits the tile grid: use fewer goroutines
		if mt >= nt {
			best, t = min(t, mt), min(t, mt)
		} else {
			best, t = 1, min(t, nt)
		}
	}
	tm, tn := best, t/best
	for y := 0; y < tm; y++ {
		i0, i1 := min(mt*y/tm*mr, j.m), min(mt*(y+1)/tm*mr, j.m)
		for x := 0; x < tn; x++ {
			j0, j1 := min(nt*x/tn*nr, j.n), min(nt*(x+1)/tn*nr, j.n)
			j.parts[y*tn+x] = rect{i0, i1, j0, j1}
		}
	}
	return t
}

func (j *gemmJob) RunPart(i int) {
	r := j.parts[i]
	if r.i0 >= r.i1 || r.j0 >= r.j1 {
		return
	}
	ws := getWorkspace()
	if j.gemv {
		j.gemvCols(ws, r.j0, r.j1)
	} else {
		j.runRect(ws, r)
	}
	putWorkspace(ws)
}

// directMaxPanels bounds when an F32 operand is read in place instead of
// packed: op(A) when C's rectangle is at most this many nr-wide panels wide
// (each A panel is then used that few times, so packing would cost about
// as much as it saves), B (not transposed) when the rectangle is at most
// this many mr-high panels high. Edge panels are always packed.
var directMaxPanels = 2

// runRect computes the rectangle r of C with the Goto/BLIS loop nest:
// for each nc-wide column block and kc-deep slice, pack op(B); for each
// mc-high row block, pack op(A) and run the micro-kernel over the tiles.
func (j *gemmJob) runRect(ws *workspace, r rect) {
	kern := j.kern
	mr, nr := kern.mr, kern.nr
	h, w := r.i1-r.i0, r.j1-r.j0
	kcMax := balance(j.k, j.blk.kc, 1)
	mcMax := balance(h, j.blk.mc, mr)
	ncMax := balance(w, j.blk.nc, nr)
	directA := j.a.DType == F32 && w <= directMaxPanels*nr
	directB := j.b.DType == F32 && !j.transB && h <= directMaxPanels*mr
	na, nb, nscratch := mr*kcMax, nr*kcMax, 0
	if !directA {
		na = mcMax / mr * panelStride(kcMax, mr)
	}
	if !directB {
		nb = ncMax / nr * panelStride(kcMax, nr)
		if kern.packT != nil && j.transB {
			nscratch = nr * kcMax
		}
		if !j.transB && j.b.DType.Blocked() {
			nscratch = ncMax // one dequantized row segment (see packB)
		}
	}
	ws.ensure(na, nb, mr*nr, nscratch)
	for jc := r.j0; jc < r.j1; jc += ncMax {
		nc := min(ncMax, r.j1-jc)
		for pc := 0; pc < j.k; pc += kcMax {
			kc := min(kcMax, j.k-pc)
			beta := j.beta
			if pc > 0 {
				beta = 1
			}
			if !directB {
				packB(ws.b, j.b, j.transB, pc, kc, jc, nc, nr, kern.packT, ws.scratch)
			} else if edge := nc % nr; edge > 0 {
				packB(ws.b, j.b, false, pc, kc, jc+nc-edge, edge, nr, nil, nil)
			}
			for ic := r.i0; ic < r.i1; ic += mcMax {
				mc := min(mcMax, r.i1-ic)
				if !directA {
					packA(ws.a, j.a, j.transA, ic, mc, pc, kc, mr)
				} else if edge := mc % mr; edge > 0 {
					packA(ws.a, j.a, j.transA, ic+mc-edge, edge, pc, kc, mr)
				}
				j.macroKernel(ws, ic, mc, jc, nc, pc, kc, beta, directA, directB)
			}
		}
	}
}

// macroKernel runs the micro-kernel over the mc×nc block of C at (ic, jc),
// depth slice [pc, pc+kc). op(A) comes from ws.a (packed block, or only its
// edge panel when directA) or in place; op(B) likewise from ws.b or in
// place. Edge tiles are computed into ws.tile and then added to C.
func (j *gemmJob) macroKernel(ws *workspace, ic, mc, jc, nc, pc, kc int, beta float32, directA, directB bool) {
	kern := j.kern
	mr, nr := kern.mr, kern.nr
	c, ldc, alpha := j.c, j.ldc, j.alpha
	packRS, packCS := packAStrides(j.transA, kc, mr)
	psA, psB := panelStride(kc, mr), panelStride(kc, nr)
	for jr := 0; jr < nc; jr += nr {
		nrr := min(nr, nc-jr)
		bp, csb := ws.b, nr
		switch {
		case !directB:
			bp = ws.b[jr/nr*psB:]
		case nrr == nr:
			bp, csb = j.b.F32[pc*j.b.Stride+jc+jr:], j.b.Stride
		}
		ir := 0
		if kern.tiles != nil && !directA && nrr == nr && mc >= mr {
			// The whole tiles of the column in one call.
			n := mc / mr
			kern.tiles(n, kc, ws.a, packRS, packCS, psA, bp, csb, c[ic*ldc+jc+jr:], ldc, alpha, beta)
			ir = n * mr
		}
		for ; ir < mc; ir += mr {
			mrr := min(mr, mc-ir)
			ap, rsa, csa := ws.a, packRS, packCS
			switch {
			case !directA:
				ap = ws.a[ir/mr*psA:]
			case mrr == mr && j.transA:
				ap, rsa, csa = j.a.F32[pc*j.a.Stride+ic+ir:], 1, j.a.Stride
			case mrr == mr:
				ap, rsa, csa = j.a.F32[(ic+ir)*j.a.Stride+pc:], j.a.Stride, 1
			}
			off := (ic+ir)*ldc + jc + jr
			if mrr == mr && nrr == nr {
				kern.full(kc, ap, rsa, csa, bp, csb, c[off:], ldc, alpha, beta)
				continue
			}
			t := ws.tile
			kern.full(kc, ap, rsa, csa, bp, csb, t, nr, alpha, 0)
			for i := 0; i < mrr; i++ {
				crow := c[off+i*ldc : off+i*ldc+nrr]
				trow := t[i*nr : i*nr+nrr]
				switch beta {
				case 0:
					copy(crow, trow)
				case 1:
					for x, v := range trow {
						crow[x] += v
					}
				default:
					for x, v := range trow {
						crow[x] = beta*crow[x] + v
					}
				}
			}
		}
	}
}

// gemvCols computes columns [j0, j1) of the one-row C = alpha·x·Bᵀ + beta·C,
// x = op(A) (1×k), B n×k: C[0][j] = alpha·Σ_p x[p]·B[j][p] + beta·C[0][j],
// four rows of B at a time.
func (j *gemmJob) gemvCols(ws *workspace, j0, j1 int) {
	k, a, b := j.k, j.a, j.b
	ws.ensure(0, 0, 0, 5*k)
	x, scratch := ws.scratch[:k], ws.scratch[k:]
	switch {
	case !j.transA && a.DType == F32:
		x = a.F32[:k]
	case !j.transA:
		Widen(x, a, 0)
	default: // A is k×1
		for p := range x {
			x[p] = a.At(p, 0)
		}
	}
	store := func(col int, v float32) {
		v *= j.alpha
		if j.beta != 0 {
			v += j.beta * j.c[col]
		}
		j.c[col] = v
	}
	if j.kern.hasDotRows(b) {
		dotProducts(j.kern, ws, j.alpha, x, k, 1, k, b, j.beta, j.c, j.ldc, j0, j1)
		return
	}
	y := &ws.dot
	col := j0
	for ; col+4 <= j1; col += 4 {
		j.kern.dot4(k, x, b, col*b.Stride, b.Stride, y, scratch)
		for r, v := range y {
			store(col+r, v)
		}
	}
	for ; col < j1; col++ { // ld 0: four copies of one row
		j.kern.dot4(k, x, b, col*b.Stride, 0, y, scratch)
		store(col, y[0])
	}
}

// balance splits n into ⌈n/max⌉ nearly equal blocks and returns the block
// size rounded up to a multiple of q.
func balance(n, max, q int) int {
	if n <= 0 {
		return q
	}
	return roundUp(ceilDiv(n, ceilDiv(n, max)), q)
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }
func roundUp(a, q int) int { return ceilDiv(a, q) * q }

// workspace holds one goroutine's packing buffers, 64-byte aligned, and
// the results of dot4.
type workspace struct {
	a, b, tile, scratch []float32
	dot                 [4]float32
	rows                [4 * dotRowsMax]float32 // the results of dotRows
}

var wsFree struct {
	mu   sync.Mutex
	list []*workspace
}

func getWorkspace() *workspace {
	wsFree.mu.Lock()
	defer wsFree.mu.Unlock()
	if n := len(wsFree.list); n > 0 {
		ws := wsFree.list[n-1]
		wsFree.list = wsFree.list[:n-1]
		return ws
	}
	return new(workspace)
}

func putWorkspace(ws *workspace) {
	wsFree.mu.Lock()
	if len(wsFree.list) < 4*maxParts {
		wsFree.list = append(wsFree.list, ws)
	}
	wsFree.mu.Unlock()
}

// ensure grows the buffers to hold na, nb, ntile and nscratch floats.
func (ws *workspace) ensure(na, nb, ntile, nscratch int) {
	ws.a = grow(ws.a, na)
	ws.b = grow(ws.b, nb)
	ws.tile = grow(ws.tile, ntile)
	ws.scratch = grow(ws.scratch, nscratch)
}

func grow(s []float32, n int) []float32 {
	if cap(s) >= n {
		return s[:n]
	}
	const align = 64 / 4
	buf := make([]float32, n+align)
	off := int(uintptr(unsafe.Pointer(&buf[0]))/4) % align
	if off != 0 {
		off = align - off
	}
	return buf[off : off+n : off+n]
}

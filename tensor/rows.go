package tensor

import (
	"fmt"
	"sync"
)

// GemmRows computes C = alpha·A·Bᵀ + beta·C for A m×k (F32), B n×k and C
// m×n with row stride ldc, such that every row of C is bit for bit what
// Gemm computes for that row of A alone (the one-row product of a single
// token): tokens of different sequences decoded together get exactly the
// numbers each gets decoded alone. B is read once for all m rows: four of
// its rows at a time are dotted with every row of A while they are in
// cache, so a batch of m tokens costs about one pass over B, not m.
func GemmRows(alpha float32, a, b Mat, beta float32, c []float32, ldc int) {
	m, n, k := a.Rows, b.Rows, a.Cols
	if a.DType != F32 || b.Cols != k {
		panic(fmt.Sprintf("tensor.GemmRows: A %d×%d %v, B %d×%d: want F32 A and B with A's columns", a.Rows, a.Cols, a.DType, b.Rows, b.Cols))
	}
	kern := activeKernel()
	if kern.narrow != nil && n <= kern.narrow.nr {
		kern = kern.narrow
	}
	if m == 0 || kern.dot4 == nil || k == 0 || alpha == 0 {
		for i := 0; i < m; i++ {
			Gemm(false, true, alpha, a.rowView(i), b, beta, c[i*ldc:], ldc)
		}
		return
	}
	checkMat("A", a)
	checkMat("B", b)
	if need := (m-1)*ldc + n; len(c) < need || ldc < n {
		panic(fmt.Sprintf("tensor.GemmRows: len(c) %d, ldc %d for %d×%d", len(c), ldc, m, n))
	}
	rowProducts(kern, alpha, a, b, beta, c, ldc)
}

// rowProducts is GemmRows (and Gemm's one-row x·Bᵀ) with kern, which has
// dot4, once the shapes are checked. Its time is that of reading B from
// memory: parts of C's columns are claimed by the caller and the pool
// workers in decreasing sizes (rowsJob.split), so that the goroutines
// finish together even when one starts late.
func rowProducts(kern *gemmKernel, alpha float32, a, b Mat, beta float32, c []float32, ldc int) {
	if b.Rows == 0 {
		return
	}
	j := rowsPool.Get().(*rowsJob)
	j.alpha, j.beta, j.a, j.b, j.c, j.ldc, j.kern = alpha, beta, a, b, c, ldc, kern
	parallel(j.split(Threads()), j, &j.team)
	j.a, j.b, j.c = Mat{}, Mat{}, nil
	rowsPool.Put(j)
}

// minRowsPart is the least work of a rowsJob part, in elements of B times
// ⌈m/4⌉: 16 Ki elements, about 4 µs of reading F32 weights from memory,
// well above the cost of handing a part to a polling worker.
const minRowsPart = 16 << 10

// split sets j.bounds to parts of C's columns for threads goroutines and
// returns their number: whole groups of sixteen columns (dotProducts'
// unit), the first about a (2·threads)-th of the columns, each next one
// that share of what is left, none below minRowsPart (guided scheduling:
// the last parts are small, so the goroutines end within one of them of
// each other). One part when the product is too small to share.
func (j *rowsJob) split(threads int) int {
	n, k, m := j.b.Rows, j.a.Cols, j.a.Rows
	groups := ceilDiv(n, 16)
	perGroup := 16 * k * ceilDiv(m, 4)
	minGroups := ceilDiv(minRowsPart, max(perGroup, 1))
	parts := 0
	j.bounds[0] = 0
	for g := 0; g < groups && parts < maxParts; parts++ {
		size := max(ceilDiv(groups-g, 2*threads), minGroups)
		if threads <= 1 || parts == maxParts-1 {
			size = groups - g
		}
		g = min(g+size, groups)
		j.bounds[parts+1] = min(16*g, n)
	}
	return parts
}

// rowView is row i of a as a 1×Cols matrix.
func (x Mat) rowView(i int) Mat {
	return Mat{DType: x.DType, F32: x.F32[i*x.Stride : i*x.Stride+x.Cols], Rows: 1, Cols: x.Cols, Stride: x.Cols}
}

// rowsJob is one GemmRows call: part i computes a range of C's columns
// for every row.
type rowsJob struct {
	alpha, beta float32
	a, b        Mat
	c           []float32
	ldc         int
	kern        *gemmKernel
	bounds      [maxParts + 1]int // part i: columns [bounds[i], bounds[i+1])
	team        team
}

var rowsPool = sync.Pool{New: func() any { return new(rowsJob) }}

// RunPart computes columns [j0, j1) of every row, as gemvCols does for
// one row: with the kernel's dotRows where it has one, else with dot4,
// four columns at a time, then the rest one at a time (ld 0: four copies
// of one row of B).
func (j *rowsJob) RunPart(i int) {
	k := j.a.Cols
	j0, j1 := j.bounds[i], j.bounds[i+1]
	ws := getWorkspace()
	if j.kern.hasDotRows(j.b) {
		dotProducts(j.kern, ws, j.alpha, j.a.F32, j.a.Stride, j.a.Rows, k, j.b, j.beta, j.c, j.ldc, j0, j1)
		putWorkspace(ws)
		return
	}
	ws.ensure(0, 0, 0, 4*k)
	y := &ws.dot
	store := func(row, col int, v float32) {
		c := j.c[row*j.ldc:]
		v *= j.alpha
		if j.beta != 0 {
			v += j.beta * c[col]
		}
		c[col] = v
	}
	col := j0
	for ; col+4 <= j1; col += 4 {
		for r := 0; r < j.a.Rows; r++ {
			j.kern.dot4(k, j.a.F32[r*j.a.Stride:], j.b, col*j.b.Stride, j.b.Stride, y, ws.scratch)
			for q, v := range y {
				store(r, col+q, v)
			}
		}
	}
	for ; col < j1; col++ {
		for r := 0; r < j.a.Rows; r++ {
			j.kern.dot4(k, j.a.F32[r*j.a.Stride:], j.b, col*j.b.Stride, 0, y, ws.scratch)
			store(r, col, y[0])
		}
	}
	putWorkspace(ws)
}

// hasDotRows reports whether kern's dotRows serves products with w.
func (kern *gemmKernel) hasDotRows(w Mat) bool {
	return kern.dotRows != nil && (w.DType == F32 || w.DType == BF16)
}

// dotRowsMax is the most rows of A one dotRows call takes.
const dotRowsMax = 6

// dotProducts computes columns [j0, j1) of C = alpha·A·Wᵀ + beta·C for the
// m rows of A (row i at a[i·lda:], k values; W n×k, F32 or BF16) with the
// kernel's dotRows and tailRows, every element the number dot4 gives for
// it: sixteen columns of W at a time (their tails transposed once), up to
// six rows of A with four of those columns per dotRows call, so that each
// row of W is read from memory once for all m rows.
func dotProducts(kern *gemmKernel, ws *workspace, alpha float32, a []float32, lda, m, k int, w Mat, beta float32, c []float32, ldc, j0, j1 int) {
	k16, tail := k/16, k%16
	// Not ws.scratch: gemvCols may have widened its one row of A there.
	ws.tile, ws.b = grow(ws.tile, dotRowsMax*16), grow(ws.b, 16*tail)
	ys, wt := ws.tile, ws.b
	y := &ws.rows
	for c0 := j0; c0 < j1; c0 += 16 {
		nc := min(16, j1-c0)
		switch {
		case tail == 0:
		case w.DType == F32 && kern.gatherT != nil:
			kern.gatherT(tail, w.F32, c0*w.Stride+16*k16, w.Stride, nc, wt)
		default:
			gatherT(tail, w, c0*w.Stride+16*k16, nc, wt)
		}
		for i0 := 0; i0 < m; i0 += dotRowsMax {
			mr := min(dotRowsMax, m-i0)
			ai := a[i0*lda:]
			if k16 == 0 {
				clear(ys[:mr*16])
			}
			for g := 0; k16 > 0 && g < nc; g += 4 {
				if nc-g >= 4 {
					kern.dotRows(k16, ai, lda, mr, w, (c0+g)*w.Stride, w.Stride, y)
					for r := 0; r < mr; r++ {
						copy(ys[r*16+g:r*16+g+4], y[4*r:4*r+4])
					}
					continue
				}
				for col := g; col < nc; col++ { // ld 0: four copies of one row of W
					kern.dotRows(k16, ai, lda, mr, w, (c0+col)*w.Stride, 0, y)
					for r := 0; r < mr; r++ {
						ys[r*16+col] = y[4*r]
					}
				}
			}
			if tail > 0 {
				kern.tailRows(tail, ai[16*k16:], lda, wt, mr, ys, 16)
			}
			for r := 0; r < mr; r++ { // C = alpha·y (+ beta·C), as gemvCols stores
				crow := c[(i0+r)*ldc+c0 : (i0+r)*ldc+c0+nc]
				yr := ys[r*16 : r*16+nc]
				if beta == 0 {
					for q, v := range yr {
						crow[q] = v * alpha
					}
					continue
				}
				for q, v := range yr {
					v *= alpha
					crow[q] = v + beta*crow[q]
				}
			}
		}
	}
}

// gatherT is gemmKernel.gatherT in Go, for any w:
// wt[16p+c] = w[off + min(c, nc−1)·Stride + p], p < tail.
func gatherT(tail int, w Mat, off, nc int, wt []float32) {
	for c := range 16 {
		o := off + min(c, nc-1)*w.Stride
		for p := range tail {
			wt[16*p+c] = w.At(0, o+p)
		}
	}
}

// dot4Go is gemmKernel.dot4 of the portable kernel: y[r] = Σ_{p<k}
// x[p]·w[off + r·ld + p] for r < 4, each sum in two float32 chains (even
// and odd p) added at the end, so that eight multiply-adds are in flight.
// Rows that are not F32 are widened into scratch (≥ 4·k floats) first.
func dot4Go(k int, x []float32, w Mat, off, ld int, y *[4]float32, scratch []float32) {
	x = x[:k]
	if w.DType != F32 {
		scratch = scratch[:4*k]
		for r := range 4 {
			Widen(scratch[r*k:(r+1)*k], w, off+r*ld)
		}
		w, off, ld = Mat{DType: F32, F32: scratch}, 0, k
	}
	w0, w1 := w.F32[off:off+k], w.F32[off+ld:off+ld+k]
	w2, w3 := w.F32[off+2*ld:off+2*ld+k], w.F32[off+3*ld:off+3*ld+k]
	var a0, a1, a2, a3, b0, b1, b2, b3 float32
	p := 0
	for ; p+2 <= k; p += 2 {
		x0, x1 := x[p], x[p+1]
		a0 += x0 * w0[p]
		b0 += x1 * w0[p+1]
		a1 += x0 * w1[p]
		b1 += x1 * w1[p+1]
		a2 += x0 * w2[p]
		b2 += x1 * w2[p+1]
		a3 += x0 * w3[p]
		b3 += x1 * w3[p+1]
	}
	if p < k {
		a0 += x[p] * w0[p]
		a1 += x[p] * w1[p]
		a2 += x[p] * w2[p]
		a3 += x[p] * w3[p]
	}
	*y = [4]float32{a0 + b0, a1 + b1, a2 + b2, a3 + b3}
}

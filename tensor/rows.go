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
	if m <= 1 || kern.dot4 == nil || k == 0 || alpha == 0 {
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
	j := rowsPool.Get().(*rowsJob)
	j.alpha, j.beta, j.a, j.b, j.c, j.ldc, j.kern = alpha, beta, a, b, c, ldc, kern
	// The same column split as Gemm's one-row product: whole groups of
	// four, each part worth waking a worker for.
	t := min(Threads(), ceilDiv(n, 4), maxParts)
	if f := 2 * m * n * k / max(minFlopsPerThread/4, 1); f < t {
		t = max(f, 1)
	}
	j.parts = t
	parallel(t, j, &j.team)
	j.a, j.b, j.c = Mat{}, Mat{}, nil
	rowsPool.Put(j)
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
	ldc, parts  int
	kern        *gemmKernel
	team        team
}

var rowsPool = sync.Pool{New: func() any { return new(rowsJob) }}

// RunPart computes columns [j0, j1) of every row, as gemvCols does for
// one row: with the kernel's dotRows where it has one, else with dot4,
// four columns at a time, then the rest one at a time (ld 0: four copies
// of one row of B).
func (j *rowsJob) RunPart(i int) {
	n, k := j.b.Rows, j.a.Cols
	j0, j1 := ceilDiv(n, 4)*i/j.parts*4, min(ceilDiv(n, 4)*(i+1)/j.parts*4, n)
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

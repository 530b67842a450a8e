package tensor

import "math"

// Packing copies a block of op(A) or op(B) into the contiguous float32
// layout the micro-kernel reads, absorbing transposition and widening
// BF16/F16 to float32 on the way. Rows or columns past the matrix edge are
// zero-filled so that the kernel always computes whole mr×nr tiles.

// packA packs the mc×kc block of op(A) at (i0, p0) into dst as ⌈mc/mr⌉
// panels of kc×mr: row i, depth p of the block lands at
// dst[(i/mr)·mr·kc + p·mr + i%mr].
func packA(dst []float32, a Mat, trans bool, i0, mc, p0, kc, mr int) {
	if !trans { // op(A)[i][p] = A[i][p]: each row of A is scattered with stride mr
		for r0 := 0; r0 < mc; r0 += mr {
			d := dst[r0*kc : r0*kc+mr*kc]
			rows := min(mr, mc-r0)
			for r := 0; r < rows; r++ {
				scatter(d[r:], mr, kc, a, (i0+r0+r)*a.Stride+p0)
			}
			for r := rows; r < mr; r++ {
				for p := 0; p < kc; p++ {
					d[p*mr+r] = 0
				}
			}
		}
		return
	}
	// op(A)[i][p] = A[p][i]: row p of A gives mr contiguous values per panel
	for p := 0; p < kc; p++ {
		off := (p0+p)*a.Stride + i0
		for r0 := 0; r0 < mc; r0 += mr {
			rows := min(mr, mc-r0)
			d := dst[r0*kc+p*mr : r0*kc+p*mr+mr]
			widen(d[:rows], a, off+r0)
			clear(d[rows:])
		}
	}
}

// packB packs the kc×nc block of op(B) at (p0, j0) into dst as ⌈nc/nr⌉
// panels of kc×nr: depth p, column j of the block lands at
// dst[(j/nr)·nr·kc + p·nr + j%nr].
func packB(dst []float32, b Mat, trans bool, p0, kc, j0, nc, nr int) {
	if !trans { // op(B)[p][j] = B[p][j]: row p of B gives nr contiguous values per panel
		for p := 0; p < kc; p++ {
			off := (p0+p)*b.Stride + j0
			for c0 := 0; c0 < nc; c0 += nr {
				cols := min(nr, nc-c0)
				d := dst[c0*kc+p*nr : c0*kc+p*nr+nr]
				widen(d[:cols], b, off+c0)
				clear(d[cols:])
			}
		}
		return
	}
	// op(B)[p][j] = B[j][p]: each row of B is scattered with stride nr
	for c0 := 0; c0 < nc; c0 += nr {
		d := dst[c0*kc : c0*kc+nr*kc]
		cols := min(nr, nc-c0)
		for c := 0; c < cols; c++ {
			scatter(d[c:], nr, kc, b, (j0+c0+c)*b.Stride+p0)
		}
		for c := cols; c < nr; c++ {
			for p := 0; p < kc; p++ {
				d[p*nr+c] = 0
			}
		}
	}
}

// widen sets d[i] = x's element at flat offset off+i, as float32.
func widen(d []float32, x Mat, off int) {
	switch x.DType {
	case F32:
		copy(d, x.F32[off:off+len(d)])
	case BF16:
		s := x.U16[off : off+len(d)]
		for i, h := range s {
			d[i] = math.Float32frombits(uint32(h) << 16)
		}
	case F16:
		s := x.U16[off : off+len(d)]
		for i, h := range s {
			d[i] = f16to32(h)
		}
	}
}

// scatter sets d[p·stride] = x's element at flat offset off+p, as float32,
// for p < n.
func scatter(d []float32, stride, n int, x Mat, off int) {
	if n == 0 {
		return
	}
	d = d[:(n-1)*stride+1]
	switch x.DType {
	case F32:
		for p, v := range x.F32[off : off+n] {
			d[p*stride] = v
		}
	case BF16:
		for p, h := range x.U16[off : off+n] {
			d[p*stride] = math.Float32frombits(uint32(h) << 16)
		}
	case F16:
		for p, h := range x.U16[off : off+n] {
			d[p*stride] = f16to32(h)
		}
	}
}

// f16to32 is F16ToF32 with the common case (a normal number) inlined: its
// bits are the sign, the exponent rebiased by 127−15 = 112, and the
// mantissa shifted left by 13.
func f16to32(h uint16) float32 {
	if e := h & 0x7c00; e != 0 && e != 0x7c00 {
		return math.Float32frombits(uint32(h&0x8000)<<16 | (uint32(h&0x7fff)<<13 + 112<<23))
	}
	return F16ToF32(h)
}

package tensor

import "math"

// Packing copies a block of op(A) or op(B) into contiguous float32 panels
// that the micro-kernel reads with small fixed strides, absorbing
// transposition, widening BF16/F16 and dequantizing Q4 and GGML to float32 on the
// way. Rows or columns past the matrix edge are zero-filled so that the
// kernel always computes whole mr×nr tiles.
//
// A panel of op(A) holds mr rows × kc depth. It is stored in whichever
// order the source can be read contiguously (the kernel takes any row and
// depth stride):
//   - A not transposed: row-major, element (i, p) at i·kc + p (rsa = kc, csa = 1);
//   - A transposed:     depth-major, element (i, p) at p·mr + i (rsa = 1, csa = mr).
//
// A panel of op(B) is always depth-major, kc × nr, element (p, j) at p·nr + j,
// so that the kernel loads nr contiguous values per depth step.
//
// Consecutive panels of a packed block start panelStride(kc, w) floats
// apart (w = mr or nr).

// panelStride is the distance in floats between the starts of consecutive
// packed panels of w rows or columns and depth kc: the panel's kc·w floats
// and one 64-byte line more. Without the line, a stride of kc·w·4 bytes
// that is a multiple of 2 KiB (6×256 floats: the depth-major panels of
// op(A) = Aᵀ for k = 1024) puts the values that packing writes across the
// panels at one depth in one or two L1 sets, where they evict each other:
// packing that block ran at 2.5 instead of 4.1 Gelem/s.
func panelStride(kc, w int) int { return kc*w + 64/4 }

// packAStrides returns the row and depth strides of a packed panel of op(A).
func packAStrides(trans bool, kc, mr int) (rsa, csa int) {
	if trans {
		return 1, mr
	}
	return kc, 1
}

// packA packs the mc×kc block of op(A) at (i0, p0) into dst as ⌈mc/mr⌉
// panels of mr×kc; panel q starts at dst[q·panelStride(kc, mr)]. The
// element order within a panel is given by packAStrides.
func packA(dst []float32, a Mat, trans bool, i0, mc, p0, kc, mr int) {
	ps := panelStride(kc, mr)
	if !trans { // op(A)[i][p] = A[i][p]: copy each row segment
		for r0 := 0; r0 < mc; r0 += mr {
			d := dst[r0/mr*ps : r0/mr*ps+mr*kc]
			rows := min(mr, mc-r0)
			for r := 0; r < rows; r++ {
				Widen(d[r*kc:(r+1)*kc], a, (i0+r0+r)*a.Stride+p0)
			}
			clear(d[rows*kc:])
		}
		return
	}
	// op(A)[i][p] = A[p][i]: row p of A holds depth p of every panel
	full := mc / mr * mr
	copied := a.DType == F32 && copyPanels(dst, a.F32[p0*a.Stride+i0:], a.Stride, kc, full/mr, mr)
	for p := 0; p < kc; p++ {
		off := (p0+p)*a.Stride + i0
		for r0 := 0; r0 < full && !copied; r0 += mr {
			Widen(dst[r0/mr*ps+p*mr:r0/mr*ps+p*mr+mr], a, off+r0)
		}
		if rows := mc - full; rows > 0 {
			d := dst[full/mr*ps+p*mr : full/mr*ps+p*mr+mr]
			Widen(d[:rows], a, off+full)
			clear(d[rows:])
		}
	}
}

// packB packs the kc×nc block of op(B) at (p0, j0) into dst as ⌈nc/nr⌉
// depth-major panels of kc×nr: depth p, column j of the block lands at
// dst[(j/nr)·panelStride(kc, nr) + p·nr + j%nr]. packT, when not nil, packs a whole
// transposed panel (see gemmKernel); scratch is its work space, and for a
// block-quantized B (Q4, GGML) not transposed that of a dequantized row
// segment (nc values).
func packB(dst []float32, b Mat, trans bool, p0, kc, j0, nc, nr int, packT func([]float32, Mat, int, int, []float32), scratch []float32) {
	ps := panelStride(kc, nr)
	if !trans { // op(B)[p][j] = B[p][j]: row p of B gives nr contiguous values per panel
		full := nc / nr * nr
		copied := b.DType == F32 && copyPanels(dst, b.F32[p0*b.Stride+j0:], b.Stride, kc, full/nr, nr)
		for p := 0; p < kc; p++ {
			off := (p0+p)*b.Stride + j0
			switch {
			case copied:
			case b.DType.Blocked() && len(scratch) >= full:
				// The row segment in one span: whole quantization blocks
				// at a time instead of nr values at a time.
				Widen(scratch[:full], b, off)
				for c0 := 0; c0 < full; c0 += nr {
					copy(dst[c0/nr*ps+p*nr:c0/nr*ps+p*nr+nr], scratch[c0:c0+nr])
				}
			default:
				for c0 := 0; c0 < full; c0 += nr {
					Widen(dst[c0/nr*ps+p*nr:c0/nr*ps+p*nr+nr], b, off+c0)
				}
			}
			if cols := nc - full; cols > 0 {
				d := dst[full/nr*ps+p*nr : full/nr*ps+p*nr+nr]
				Widen(d[:cols], b, off+full)
				clear(d[cols:])
			}
		}
		return
	}
	// op(B)[p][j] = B[j][p]: row j of B is column j of the panel
	for c0 := 0; c0 < nc; c0 += nr {
		d := dst[c0/nr*ps : c0/nr*ps+nr*kc]
		off := (j0+c0)*b.Stride + p0
		cols := min(nr, nc-c0)
		if cols == nr && packT != nil {
			packT(d, b, off, kc, scratch)
			continue
		}
		for c := 0; c < cols; c++ {
			scatter(d[c:], nr, kc, b, off+c*b.Stride)
		}
		for c := cols; c < nr; c++ {
			for p := 0; p < kc; p++ {
				d[p*nr+c] = 0
			}
		}
	}
}

// copyPanels sets dst[q·panelStride(kc, w) + p·w + j] = src[p·ld + q·w + j]
// for p < kc, q < panels, j < w (row p of a row-major F32 source, cut into
// panels of w floats, at depth p of each depth-major packed panel) with
// copyPanelsFast, and reports whether it did: the caller copies otherwise.
func copyPanels(dst, src []float32, ld, kc, panels, w int) bool {
	return copyPanelsFast != nil && copyPanelsFast(dst, src, ld, kc, panels, w)
}

// copyPanelsFast is copyPanels in assembly where the build has it (set by
// gemm_amd64.go; it returns false for widths or kernel sets it lacks).
var copyPanelsFast func(dst, src []float32, ld, kc, panels, w int) bool

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
	case Q4, GGML:
		var buf [256]float32 // a k-quant super-block
		for p := 0; p < n; p += len(buf) {
			seg := buf[:min(len(buf), n-p)]
			Widen(seg, x, off+p)
			for i, v := range seg {
				d[(p+i)*stride] = v
			}
		}
	}
}

// Blocked reports whether elements of dtype d are decoded from blocks
// (Q4, GGML), at a cost per call that makes long spans worth gathering.
func (d DType) Blocked() bool { return d == Q4 || d == GGML }

// f16to32 is F16ToF32 with the common case (a normal number) inlined: its
// bits are the sign, the exponent rebiased by 127−15 = 112, and the
// mantissa shifted left by 13.
func f16to32(h uint16) float32 {
	if e := h & 0x7c00; e != 0 && e != 0x7c00 {
		return math.Float32frombits(uint32(h&0x8000)<<16 | (uint32(h&0x7fff)<<13 + 112<<23))
	}
	return F16ToF32(h)
}

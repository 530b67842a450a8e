//go:build amd64 && !purego

package tensor

import "github.com/golora/golora/tensor/kernels"

// The assembly in gemm_amd64.s is written by gemm_asm_gen.go.
//go:generate go run gemm_asm_gen.go

// sgemm6x16AVX2 computes the 6×16 tile C = alpha·Ã·B̃ + beta·C over kc depth
// steps, with Ã[i][p] = a[i·rsa+p·csa], B̃[p][j] = b[p·csb+j] and
// C[i][j] = c[i·ldc+j]; beta == 0 does not read C. AVX2+FMA.
//
//go:noescape
func sgemm6x16AVX2(kc int, a *float32, rsa, csa int, b *float32, csb int, c *float32, ldc int, alpha, beta float32)

// sgemm6x16RowAAVX2 is sgemm6x16AVX2 for csa = 1 (Ã row-major, as packed
// from A not transposed, or read in place) and csb = 16 (B̃ packed): the
// strides are constants of its code, and it does not read csa and csb.
//
//go:noescape
func sgemm6x16RowAAVX2(kc int, a *float32, rsa, csa int, b *float32, csb int, c *float32, ldc int, alpha, beta float32)

// sgemm6x16ColAAVX2 is sgemm6x16AVX2 for csa = 6 (Ã depth-major, as packed
// from A transposed) and csb = 16, likewise.
//
//go:noescape
func sgemm6x16ColAAVX2(kc int, a *float32, rsa, csa int, b *float32, csb int, c *float32, ldc int, alpha, beta float32)

// sgemm6x16TilesRowAAVX2 and sgemm6x16TilesColAAVX2 compute, down a
// column of C, the tiles q < tiles of sgemm6x16RowAAVX2 and
// sgemm6x16ColAAVX2 with Ã at a + q·pa and C at c + q·6·ldc (see
// gemmKernel.tiles).
//
//go:noescape
func sgemm6x16TilesRowAAVX2(kc int, a *float32, rsa, csa int, b *float32, csb int, c *float32, ldc int, alpha, beta float32, tiles, pa int)

//go:noescape
func sgemm6x16TilesColAAVX2(kc int, a *float32, rsa, csa int, b *float32, csb int, c *float32, ldc int, alpha, beta float32, tiles, pa int)

// packT16F32AVX2 sets dst[p·16+r] = src[r·ld+p] for r < 16, p < 8·kc8.
//
//go:noescape
func packT16F32AVX2(dst *float32, src *float32, ld, kc8 int)

// packT16BF16AVX2 sets dst[p·16+r] = BF16ToF32(src[r·ld+p]) for r < 16,
// p < 8·kc8.
//
//go:noescape
func packT16BF16AVX2(dst *float32, src *uint16, ld, kc8 int)

// avx2Kernel6x16 holds C's 6×16 tile in 12 YMM accumulators; each depth
// step is 2 loads of B̃, 6 broadcasts of Ã and 12 FMAs, enough to keep both
// FMA pipes of Zen 3 (latency 4) busy. Packed panels (csb = 16, and
// csa = 1 or 6) take the variants whose loops advance their pointers once
// per 4 steps. Blocking for Zen 3: a 288×16 panel of B̃ (18 KiB) plus a
// 6×288 panel of Ã (6.75 KiB) stay in the 32 KiB L1d, the packed 144×288
// block of op(A) (162 KiB) in the 512 KiB L2, and a packed 288×4080 block
// of op(B) (4.5 MiB) in L3. kc 288 rather than 256 makes k = 576 (the
// hidden size of the SmolLM-135M shape) two depth slices instead of
// three: fewer kernel calls and passes over C (1-2% on the nn shape).
// The whole tiles of a column of the packed block are computed in one call
// (tiles): a Go call per 6×16 tile cost 1-2% at this kc.
var avx2Kernel6x16 = &gemmKernel{
	name: "avx2-6x16",
	set:  kernels.AVX2,
	mr:   6,
	nr:   16,
	blk:  blocking{mc: 144, kc: 288, nc: 4080},
	full: func(kc int, a []float32, rsa, csa int, b []float32, csb int, c []float32, ldc int, alpha, beta float32) {
		_, _, _ = a[5*rsa+(kc-1)*csa], b[(kc-1)*csb+15], c[5*ldc+15]
		switch {
		case csb == 16 && csa == 1:
			sgemm6x16RowAAVX2(kc, &a[0], rsa, csa, &b[0], csb, &c[0], ldc, alpha, beta)
		case csb == 16 && csa == 6:
			sgemm6x16ColAAVX2(kc, &a[0], rsa, csa, &b[0], csb, &c[0], ldc, alpha, beta)
		default:
			sgemm6x16AVX2(kc, &a[0], rsa, csa, &b[0], csb, &c[0], ldc, alpha, beta)
		}
	},
	tiles: func(n, kc int, a []float32, rsa, csa, pa int, b []float32, csb int, c []float32, ldc int, alpha, beta float32) {
		_, _, _ = a[(n-1)*pa+5*rsa+(kc-1)*csa], b[(kc-1)*csb+15], c[(6*n-1)*ldc+15]
		switch {
		case csb == 16 && csa == 1:
			sgemm6x16TilesRowAAVX2(kc, &a[0], rsa, csa, &b[0], csb, &c[0], ldc, alpha, beta, n, pa)
		case csb == 16 && csa == 6:
			sgemm6x16TilesColAAVX2(kc, &a[0], rsa, csa, &b[0], csb, &c[0], ldc, alpha, beta, n, pa)
		default:
			for q := 0; q < n; q++ {
				sgemm6x16AVX2(kc, &a[q*pa], rsa, csa, &b[0], csb, &c[q*6*ldc], ldc, alpha, beta)
			}
		}
	},
	packT: packT16AVX2,
	dot4:  dot4AVX2,
}

// dot4F32AVX2 sets y[r] = Σ_{p<16·k16} x[p]·w[r·ld+p] for r < 4.
//
//go:noescape
func dot4F32AVX2(k16 int, x *float32, w *float32, ld int, y *[4]float32)

// dot4BF16AVX2 sets y[r] = Σ_{p<16·k16} x[p]·BF16ToF32(w[r·ld+p]) for r < 4.
//
//go:noescape
func dot4BF16AVX2(k16 int, x *float32, w *uint16, ld int, y *[4]float32)

// dot4AVX2 sets y[r] = Σ_{p<k} x[p]·w[off + r·ld + p] for r < 4: the
// assembly takes whole 16-element blocks, Go the rest. F16, Q4 and GGML
// rows are widened into scratch (≥ 4·k floats) first.
func dot4AVX2(k int, x []float32, w Mat, off, ld int, y *[4]float32, scratch []float32) {
	x = x[:k]
	k16 := k / 16
	if w.DType == F16 || w.DType.Blocked() {
		scratch = scratch[:4*k]
		for r := 0; r < 4; r++ {
			Widen(scratch[r*k:(r+1)*k], w, off+r*ld)
		}
		w, off, ld = Mat{DType: F32, F32: scratch}, 0, k
	}
	*y = [4]float32{}
	if k16 > 0 {
		switch w.DType {
		case F32:
			_ = w.F32[off+3*ld+k-1]
			dot4F32AVX2(k16, &x[0], &w.F32[off], ld, y)
		case BF16:
			_ = w.U16[off+3*ld+k-1]
			dot4BF16AVX2(k16, &x[0], &w.U16[off], ld, y)
		}
	}
	for r := range y {
		s := y[r]
		for p := 16 * k16; p < k; p++ {
			s += float32(x[p] * w.At(0, off+r*ld+p)) // rounded, never fused: tailRows's numbers
		}
		y[r] = s
	}
}

// packT16AVX2 packs 16 whole rows of x starting at flat offset off, kc
// columns deep, transposed: d[p·16+r] = x[off + r·Stride + p]. F16, Q4 and
// GGML rows are widened into scratch (≥ 16·kc floats) first.
func packT16AVX2(d []float32, x Mat, off, kc int, scratch []float32) {
	d = d[:16*kc]
	ld := x.Stride
	switch x.DType {
	case F32:
		_ = x.F32[off+15*ld+kc-1]
		packT16F32AVX2(&d[0], &x.F32[off], ld, kc/8)
	case BF16:
		_ = x.U16[off+15*ld+kc-1]
		packT16BF16AVX2(&d[0], &x.U16[off], ld, kc/8)
	default:
		scratch = scratch[:16*kc]
		for r := 0; r < 16; r++ {
			Widen(scratch[r*kc:(r+1)*kc], x, off+r*ld)
		}
		packT16F32AVX2(&d[0], &scratch[0], kc, kc/8)
		x, off, ld = Mat{DType: F32, F32: scratch}, 0, kc
	}
	if tail := kc % 8; tail > 0 {
		p0 := kc - tail
		for r := 0; r < 16; r++ {
			scatter(d[p0*16+r:], 16, tail, x, off+r*ld+p0)
		}
	}
}

// sgemm12x32AVX512 computes the 12×32 tile C = alpha·Ã·B̃ + beta·C over kc
// depth steps, with the arguments of sgemm6x16AVX2. AVX-512F.
//
//go:noescape
func sgemm12x32AVX512(kc int, a *float32, rsa, csa int, b *float32, csb int, c *float32, ldc int, alpha, beta float32)

// packT16x32F32AVX2 sets dst[p·32+r] = src[r·ld+p] for r < 16, p < 8·kc8:
// half of a 32-wide panel.
//
//go:noescape
func packT16x32F32AVX2(dst *float32, src *float32, ld, kc8 int)

// packT16x32BF16AVX2 sets dst[p·32+r] = BF16ToF32(src[r·ld+p]) for r < 16,
// p < 8·kc8.
//
//go:noescape
func packT16x32BF16AVX2(dst *float32, src *uint16, ld, kc8 int)

// avx512Kernel12x32 holds C's 12×32 tile in 24 ZMM accumulators; each depth
// step is 2 loads of B̃ and 24 FMAs that take the 12 elements of Ã as
// embedded broadcasts, enough to keep both 512-bit FMA pipes of Zen 4/5
// (latency 4) busy. On a Zen 5 (Turin) core it runs at about 1.8× the
// AVX2 kernel. Blocking for Zen 5: a 256×32 panel of B̃ (32 KiB) plus a
// 12×256 panel of Ã (12 KiB) fit the 48 KiB L1d, the packed 240×256 block
// of op(A) (240 KiB) the 1 MiB L2.
var avx512Kernel12x32 = &gemmKernel{
	name: "avx512-12x32",
	set:  kernels.AVX512,
	mr:   12,
	nr:   32,
	blk:  blocking{mc: 240, kc: 256, nc: 4096},
	full: func(kc int, a []float32, rsa, csa int, b []float32, csb int, c []float32, ldc int, alpha, beta float32) {
		_, _, _ = a[11*rsa+(kc-1)*csa], b[(kc-1)*csb+31], c[11*ldc+31]
		sgemm12x32AVX512(kc, &a[0], rsa, csa, &b[0], csb, &c[0], ldc, alpha, beta)
	},
	packT:    packT32AVX512,
	dot4:     dot4AVX2,
	dotRows:  dotRowsAVX512,
	tailRows: tailRowsAVX512,
	gatherT:  gatherTAVX512,
	narrow:   avx512Kernel14x16,
}

// sgemm14x16AVX512 computes the 14×16 tile C = alpha·Ã·B̃ + beta·C over kc
// depth steps, with the arguments of sgemm6x16AVX2. AVX-512F.
//
//go:noescape
func sgemm14x16AVX512(kc int, a *float32, rsa, csa int, b *float32, csb int, c *float32, ldc int, alpha, beta float32)

// sgemm14x16RowAAVX512 is sgemm14x16AVX512 for csa = 1 and csb = 16, as
// sgemm6x16RowAAVX2.
//
//go:noescape
func sgemm14x16RowAAVX512(kc int, a *float32, rsa, csa int, b *float32, csb int, c *float32, ldc int, alpha, beta float32)

// avx512Kernel14x16 is avx512Kernel12x32's narrow kernel: 14 ZMM
// accumulators, one load of B̃ and 14 broadcast FMAs per depth step (about
// as fast on L1-resident panels, with its variant for csa = 1 and
// csb = 16, sgemm14x16RowAAVX512, which saves the integer additions as
// sgemm6x16RowAAVX2 does). For the n = 8 of LoRA's x·Aᵀ it pads C to 16
// columns instead of 32, and op(A) is then read in place.
var avx512Kernel14x16 = &gemmKernel{
	name: "avx512-14x16",
	set:  kernels.AVX512,
	mr:   14,
	nr:   16,
	blk:  blocking{mc: 280, kc: 256, nc: 4096},
	full: func(kc int, a []float32, rsa, csa int, b []float32, csb int, c []float32, ldc int, alpha, beta float32) {
		_, _, _ = a[13*rsa+(kc-1)*csa], b[(kc-1)*csb+15], c[13*ldc+15]
		if csb == 16 && csa == 1 {
			sgemm14x16RowAAVX512(kc, &a[0], rsa, csa, &b[0], csb, &c[0], ldc, alpha, beta)
			return
		}
		sgemm14x16AVX512(kc, &a[0], rsa, csa, &b[0], csb, &c[0], ldc, alpha, beta)
	},
	packT:    packT16AVX2,
	dot4:     dot4AVX2,
	dotRows:  dotRowsAVX512,
	tailRows: tailRowsAVX512,
	gatherT:  gatherTAVX512,
}

// dotRowsF32AVX512[mr] sets y[4i+j] = Σ_{p<16·k16} a[i·lda+p]·w[j·ldw+p]
// for i < mr, j < 4, with the FMA chains and reduction of dot4F32AVX2
// (dotRowsBF16AVX512 likewise with BF16 w).
var (
	dotRowsF32AVX512  = [...]func(k16 int, a *float32, lda int, w *float32, ldw int, y *[4 * dotRowsMax]float32){nil, dotRows1F32AVX512, dotRows2F32AVX512, dotRows3F32AVX512, dotRows4F32AVX512, dotRows5F32AVX512, dotRows6F32AVX512}
	dotRowsBF16AVX512 = [...]func(k16 int, a *float32, lda int, w *uint16, ldw int, y *[4 * dotRowsMax]float32){nil, dotRows1BF16AVX512, dotRows2BF16AVX512, dotRows3BF16AVX512, dotRows4BF16AVX512, dotRows5BF16AVX512, dotRows6BF16AVX512}
)

// dotRowsAVX512 is gemmKernel.dotRows for F32 and BF16 w.
func dotRowsAVX512(k16 int, a []float32, lda, mr int, w Mat, off, ld int, y *[4 * dotRowsMax]float32) {
	_ = a[(mr-1)*lda+16*k16-1]
	switch w.DType {
	case F32:
		_ = w.F32[off+3*ld+16*k16-1]
		dotRowsF32AVX512[mr](k16, &a[0], lda, &w.F32[off], ld, y)
	case BF16:
		_ = w.U16[off+3*ld+16*k16-1]
		dotRowsBF16AVX512[mr](k16, &a[0], lda, &w.U16[off], ld, y)
	default:
		panic("tensor: dotRows of " + w.DType.String())
	}
}

// tailRowsAVX512 is gemmKernel.tailRows.
func tailRowsAVX512(tail int, a []float32, lda int, wt []float32, m int, y []float32, ldy int) {
	_, _, _ = a[(m-1)*lda+tail-1], wt[16*tail-1], y[(m-1)*ldy+15]
	tailRowsAVX512Asm(tail, &a[0], lda, &wt[0], m, &y[0], ldy)
}

// gatherTAVX512 is gemmKernel.gatherT.
func gatherTAVX512(tail int, w []float32, off, ld, nc int, wt []float32) {
	var idx [16]int32
	for c := range idx {
		idx[c] = int32(min(c, nc-1) * ld)
	}
	_, _ = w[off+(nc-1)*ld+tail-1], wt[16*tail-1]
	gatherT16AVX512(tail, &w[off], &idx, &wt[0])
}

//go:noescape
func gatherT16AVX512(tail int, w *float32, idx *[16]int32, wt *float32)

// packT32AVX512 packs 32 whole rows of x starting at flat offset off, kc
// columns deep, transposed: d[p·32 + r] = x[off + r·Stride + p], as two
// 16-row halves. F16, Q4 and GGML rows are widened into scratch (≥ 32·kc
// floats) first.
func packT32AVX512(d []float32, x Mat, off, kc int, scratch []float32) {
	d = d[:32*kc]
	ld := x.Stride
	if kc8 := kc / 8; kc8 > 0 {
		switch x.DType {
		case F32:
			_ = x.F32[off+31*ld+kc-1]
			packT16x32F32AVX2(&d[0], &x.F32[off], ld, kc8)
			packT16x32F32AVX2(&d[16], &x.F32[off+16*ld], ld, kc8)
		case BF16:
			_ = x.U16[off+31*ld+kc-1]
			packT16x32BF16AVX2(&d[0], &x.U16[off], ld, kc8)
			packT16x32BF16AVX2(&d[16], &x.U16[off+16*ld], ld, kc8)
		default:
			scratch = scratch[:32*kc]
			for r := 0; r < 32; r++ {
				Widen(scratch[r*kc:(r+1)*kc], x, off+r*ld)
			}
			packT16x32F32AVX2(&d[0], &scratch[0], kc, kc8)
			packT16x32F32AVX2(&d[16], &scratch[16*kc], kc, kc8)
			x, off, ld = Mat{DType: F32, F32: scratch}, 0, kc
		}
	}
	if tail := kc % 8; tail > 0 {
		p0 := kc - tail
		for r := 0; r < 32; r++ {
			scatter(d[p0*32+r:], 32, tail, x, off+r*ld+p0)
		}
	}
}

//go:noescape
func dotRows1F32AVX512(k16 int, a *float32, lda int, w *float32, ldw int, y *[4 * dotRowsMax]float32)

//go:noescape
func dotRows2F32AVX512(k16 int, a *float32, lda int, w *float32, ldw int, y *[4 * dotRowsMax]float32)

//go:noescape
func dotRows3F32AVX512(k16 int, a *float32, lda int, w *float32, ldw int, y *[4 * dotRowsMax]float32)

//go:noescape
func dotRows4F32AVX512(k16 int, a *float32, lda int, w *float32, ldw int, y *[4 * dotRowsMax]float32)

//go:noescape
func dotRows5F32AVX512(k16 int, a *float32, lda int, w *float32, ldw int, y *[4 * dotRowsMax]float32)

//go:noescape
func dotRows6F32AVX512(k16 int, a *float32, lda int, w *float32, ldw int, y *[4 * dotRowsMax]float32)

//go:noescape
func dotRows1BF16AVX512(k16 int, a *float32, lda int, w *uint16, ldw int, y *[4 * dotRowsMax]float32)

//go:noescape
func dotRows2BF16AVX512(k16 int, a *float32, lda int, w *uint16, ldw int, y *[4 * dotRowsMax]float32)

//go:noescape
func dotRows3BF16AVX512(k16 int, a *float32, lda int, w *uint16, ldw int, y *[4 * dotRowsMax]float32)

//go:noescape
func dotRows4BF16AVX512(k16 int, a *float32, lda int, w *uint16, ldw int, y *[4 * dotRowsMax]float32)

//go:noescape
func dotRows5BF16AVX512(k16 int, a *float32, lda int, w *uint16, ldw int, y *[4 * dotRowsMax]float32)

//go:noescape
func dotRows6BF16AVX512(k16 int, a *float32, lda int, w *uint16, ldw int, y *[4 * dotRowsMax]float32)

// tailRowsAVX512Asm sets y[i·ldy+c] += a[i·lda+p]·wt[16p+c] for p < tail
// in order, each product rounded before it is added, i < m, c < 16.
//
//go:noescape
func tailRowsAVX512Asm(tail int, a *float32, lda int, wt *float32, m int, y *float32, ldy int)

// The AVX-512 set's kernels borrow the AVX2 packers and dot products.
func init() {
	copyPanelsFast = copyPanelsAsm
	setKernels[kernels.AVX2] = avx2Kernel6x16
	setKernels[kernels.AVX512] = avx512Kernel12x32
}

// copyPanelsNAVX sets dst[q·ps + p·N + j] = src[p·ld + q·N + j] for
// p < kc, q < panels, j < N: see copyPanels.
//
//go:noescape
func copyPanels6AVX(dst, src *float32, ld, kc, panels, ps int)

//go:noescape
func copyPanels12AVX(dst, src *float32, ld, kc, panels, ps int)

//go:noescape
func copyPanels16AVX(dst, src *float32, ld, kc, panels, ps int)

//go:noescape
func copyPanels32AVX(dst, src *float32, ld, kc, panels, ps int)

// copyPanelsAsm is copyPanels in assembly for the widths it is generated
// for, under the AVX2 and AVX-512 kernel sets.
func copyPanelsAsm(dst, src []float32, ld, kc, panels, w int) bool {
	if kernels.Active() == kernels.Go {
		return false
	}
	var f func(dst, src *float32, ld, kc, panels, ps int)
	switch w {
	case 6:
		f = copyPanels6AVX
	case 12:
		f = copyPanels12AVX
	case 16:
		f = copyPanels16AVX
	case 32:
		f = copyPanels32AVX
	default:
		return false
	}
	if kc > 0 && panels > 0 {
		ps := panelStride(kc, w)
		_, _ = src[(kc-1)*ld+panels*w-1], dst[(panels-1)*ps+kc*w-1]
		f(&dst[0], &src[0], ld, kc, panels, ps)
	}
	return true
}

//go:build amd64 && !purego

package tensor

import "golang.org/x/sys/cpu"

// sgemm6x16AVX2 is the AVX2+FMA micro-kernel in gemm_amd64.s: the 6×16 tile
// C = alpha·Ã·B̃ + beta·C over kc depth steps, Ã a packed kc×6 panel, B̃ a
// packed kc×16 panel, C rows ldc floats apart.
//
//go:noescape
func sgemm6x16AVX2(kc int, a, b, c *float32, ldc int, alpha, beta float32)

// sgemm4x24AVX2 is the same for a 4×24 tile.
//
//go:noescape
func sgemm4x24AVX2(kc int, a, b, c *float32, ldc int, alpha, beta float32)

var avx2Kernel6x16 = &gemmKernel{
	name: "avx2-6x16",
	mr:   6, nr: 16,
	blk:  blocking{mc: 144, kc: 256, nc: 4080},
	full: func(kc int, a, b, c []float32, ldc int, alpha, beta float32) {
		_, _, _ = a[6*kc-1], b[16*kc-1], c[5*ldc+15]
		sgemm6x16AVX2(kc, &a[0], &b[0], &c[0], ldc, alpha, beta)
	},
}

var avx2Kernel4x24 = &gemmKernel{
	name: "avx2-4x24",
	mr:   4, nr: 24,
	blk:  blocking{mc: 144, kc: 256, nc: 4080},
	full: func(kc int, a, b, c []float32, ldc int, alpha, beta float32) {
		_, _, _ = a[4*kc-1], b[24*kc-1], c[3*ldc+23]
		sgemm4x24AVX2(kc, &a[0], &b[0], &c[0], ldc, alpha, beta)
	},
}

// asmKernels are the assembly kernels this CPU can run, best first.
var asmKernels []*gemmKernel

func init() {
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		asmKernels = []*gemmKernel{avx2Kernel6x16, avx2Kernel4x24}
		activeKernel = asmKernels[0]
	}
}

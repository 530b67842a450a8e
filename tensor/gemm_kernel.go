package tensor

import (
	"runtime"

	"github.com/golora/golora/tensor/kernels"
)

// portableKernel is the pure-Go micro-kernel, available on every platform
// and used where no assembly kernel fits the CPU (or with -tags purego).
var portableKernel = &gemmKernel{
	name: "go4x4",
	set:  kernels.Go,
	mr:   4,
	nr:   4,
	blk:  blocking{mc: 128, kc: 256, nc: 4096},
	full: kernGo4x4,
	dot4: dot4Go,
}

// fewFPRegs is true where the one-pass 4×4 kernel would spill: amd64 has 16
// floating-point registers (386 has 8) for its 16 sums and 8 operands;
// arm64, riscv64, ppc64 and s390x have 32.
const fewFPRegs = runtime.GOARCH == "amd64" || runtime.GOARCH == "386"

// kernGo4x4 computes the 4×4 tile C = alpha·Ã·B̃ + beta·C over kc depth
// steps, with Ã[i][p] = a[i·rsa+p·csa], B̃[p][j] = b[p·csb+j] and
// C[i][j] = c[i·ldc+j]. beta == 0 does not read C.
func kernGo4x4(kc int, a []float32, rsa, csa int, b []float32, csb int, c []float32, ldc int, alpha, beta float32) {
	if fewFPRegs {
		kernGo4x4Split(kc, a, rsa, csa, b, csb, c, ldc, alpha, beta)
	} else {
		kernGo4x4Regs(kc, a, rsa, csa, b, csb, c, ldc, alpha, beta)
	}
}

// kernGo4x4Split is kernGo4x4 in two passes of two rows, so that the 8
// sums, 2 values of Ã and 4 of B̃ of a pass fit 16 registers.
func kernGo4x4Split(kc int, a []float32, rsa, csa int, b []float32, csb int, c []float32, ldc int, alpha, beta float32) {
	kernGo2x4(kc, a, rsa, csa, b, csb, c, ldc, alpha, beta)
	kernGo2x4(kc, a[2*rsa:], rsa, csa, b, csb, c[2*ldc:], ldc, alpha, beta)
}

// kernGo2x4 is kernGo4x4 for rows 0 and 1 of the tile.
func kernGo2x4(kc int, a []float32, rsa, csa int, b []float32, csb int, c []float32, ldc int, alpha, beta float32) {
	n := (kc-1)*csa + 1
	a0s, a1s := a[:n], a[rsa:rsa+n]
	var c00, c01, c02, c03 float32
	var c10, c11, c12, c13 float32
	for p, bi := 0, 0; p < n; p, bi = p+csa, bi+csb {
		a0, a1 := a0s[p], a1s[p]
		bb := b[bi : bi+4 : bi+4]
		b0, b1, b2, b3 := bb[0], bb[1], bb[2], bb[3]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
	}
	storeRow4(c[0*ldc:0*ldc+4], alpha, beta, c00, c01, c02, c03)
	storeRow4(c[1*ldc:1*ldc+4], alpha, beta, c10, c11, c12, c13)
}

// kernGo4x4Regs is kernGo4x4 in one pass with all 16 sums in registers
// (for 32-register FPUs, where x·y+z also compiles to a fused multiply-add).
func kernGo4x4Regs(kc int, a []float32, rsa, csa int, b []float32, csb int, c []float32, ldc int, alpha, beta float32) {
	n := (kc-1)*csa + 1
	a0s, a1s, a2s, a3s := a[:n], a[rsa:rsa+n], a[2*rsa:2*rsa+n], a[3*rsa:3*rsa+n]
	var c00, c01, c02, c03 float32
	var c10, c11, c12, c13 float32
	var c20, c21, c22, c23 float32
	var c30, c31, c32, c33 float32
	for p, bi := 0, 0; p < n; p, bi = p+csa, bi+csb {
		a0, a1, a2, a3 := a0s[p], a1s[p], a2s[p], a3s[p]
		bb := b[bi : bi+4 : bi+4]
		b0, b1, b2, b3 := bb[0], bb[1], bb[2], bb[3]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
	}
	storeRow4(c[0*ldc:0*ldc+4], alpha, beta, c00, c01, c02, c03)
	storeRow4(c[1*ldc:1*ldc+4], alpha, beta, c10, c11, c12, c13)
	storeRow4(c[2*ldc:2*ldc+4], alpha, beta, c20, c21, c22, c23)
	storeRow4(c[3*ldc:3*ldc+4], alpha, beta, c30, c31, c32, c33)
}

// storeRow4 sets c[j] = alpha·vj + beta·c[j] (c[j] = alpha·vj when beta == 0).
func storeRow4(c []float32, alpha, beta float32, v0, v1, v2, v3 float32) {
	c = c[:4]
	if beta == 0 {
		c[0], c[1], c[2], c[3] = alpha*v0, alpha*v1, alpha*v2, alpha*v3
		return
	}
	c[0] = alpha*v0 + beta*c[0]
	c[1] = alpha*v1 + beta*c[1]
	c[2] = alpha*v2 + beta*c[2]
	c[3] = alpha*v3 + beta*c[3]
}

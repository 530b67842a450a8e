package tensor

// portableKernel is the pure-Go micro-kernel, available on every platform
// and used where no assembly kernel fits the CPU.
var portableKernel = &gemmKernel{
	name: "go4x4",
	mr:   4, nr: 4,
	blk:  blocking{mc: 128, kc: 256, nc: 4096},
	full: kernGo4x4,
}

// kernGo4x4 computes the 4×4 tile C = alpha·Ã·B̃ + beta·C with Ã a packed
// kc×4 panel of op(A) (a[4p+i] = op(A)[i][p]) and B̃ a packed kc×4 panel
// of op(B) (b[4p+j] = op(B)[p][j]). The 16 sums stay in registers.
// beta == 0 does not read C.
func kernGo4x4(kc int, a, b, c []float32, ldc int, alpha, beta float32) {
	a, b = a[:4*kc], b[:4*kc]
	var c00, c01, c02, c03 float32
	var c10, c11, c12, c13 float32
	var c20, c21, c22, c23 float32
	var c30, c31, c32, c33 float32
	for len(a) >= 4 && len(b) >= 4 {
		a0, a1, a2, a3 := a[0], a[1], a[2], a[3]
		b0, b1, b2, b3 := b[0], b[1], b[2], b[3]
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
		a, b = a[4:], b[4:]
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

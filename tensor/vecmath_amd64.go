//go:build amd64 && !purego

package tensor

import "github.com/golora/golora/tensor/kernels"

// The assembly in vecmath_amd64.s is written by vecmath_asm_gen.go.
//go:generate go run vecmath_asm_gen.go

// expShiftAVX2 sets dst[i] = exp(src[i] − c) for i < n (n a multiple of 8)
// and stores the float32 lane sums of the results in lanes[0:8].
//
//go:noescape
func expShiftAVX2(dst, src *float32, n int, c float32, lanes *[16]float32)

// expShiftAVX512 is expShiftAVX2 for n a multiple of 16, with 16 lane sums.
//
//go:noescape
func expShiftAVX512(dst, src *float32, n int, c float32, lanes *[16]float32)

// swigluAVX2 sets out[i] = g[i]·u[i]/(1 + exp(−g[i])) for i < n (n a
// multiple of 8).
//
//go:noescape
func swigluAVX2(out, gate, u *float32, n int)

// swigluAVX512 is swigluAVX2 for n a multiple of 16.
//
//go:noescape
func swigluAVX512(out, gate, u *float32, n int)

// swigluBackwardAVX2 is SwiGLUBackward for i < n (n a multiple of 8).
//
//go:noescape
func swigluBackwardAVX2(dg, du, dout, gate, u *float32, n int)

// swigluBackwardAVX512 is swigluBackwardAVX2 for n a multiple of 16.
//
//go:noescape
func swigluBackwardAVX512(dg, du, dout, gate, u *float32, n int)

// maxAVX2 stores in lanes[0:8] the lane maxima of x[0:n] (n ≥ 8 a multiple
// of 8).
//
//go:noescape
func maxAVX2(x *float32, n int, lanes *[16]float32)

// scaleAVX2 sets x[i] *= a for i < n (n a multiple of 8).
//
//go:noescape
func scaleAVX2(x *float32, n int, a float32)

// vecWidth is the number of elements the assembly of the active kernel set
// handles per step (0 for Go).
func vecWidth() int {
	switch kernels.Active() {
	case kernels.AVX2:
		return 8
	case kernels.AVX512:
		return 16
	}
	return 0
}

// The …Arch functions run the assembly on the longest prefix it handles
// and return the prefix's length (and result); the caller finishes in Go.

func expShiftArch(dst, src []float32, c float32) (int, float64) {
	w := vecWidth()
	if w == 0 || len(src) < w {
		return 0, 0
	}
	n := len(src) &^ (w - 1)
	_ = dst[n-1]
	var lanes [16]float32
	if w == 16 {
		expShiftAVX512(&dst[0], &src[0], n, c, &lanes)
	} else {
		expShiftAVX2(&dst[0], &src[0], n, c, &lanes)
	}
	var sum float64
	for _, l := range lanes[:w] {
		sum += float64(l)
	}
	return n, sum
}

func maxArch(x []float32) (int, float32) {
	if kernels.Active() == kernels.Go || len(x) < 8 {
		return 1, x[0]
	}
	n := len(x) &^ 7
	var lanes [16]float32
	maxAVX2(&x[0], n, &lanes)
	m := lanes[0]
	for _, v := range lanes[1:8] {
		if v > m {
			m = v
		}
	}
	return n, m
}

func swigluArch(out, g, u []float32) int {
	w := vecWidth()
	if w == 0 || len(g) < w {
		return 0
	}
	n := len(g) &^ (w - 1)
	_, _ = out[n-1], u[n-1]
	if w == 16 {
		swigluAVX512(&out[0], &g[0], &u[0], n)
	} else {
		swigluAVX2(&out[0], &g[0], &u[0], n)
	}
	return n
}

func swigluBackwardArch(dg, du, dout, g, u []float32) int {
	w := vecWidth()
	if w == 0 || len(g) < w {
		return 0
	}
	n := len(g) &^ (w - 1)
	_, _, _, _ = dg[n-1], du[n-1], dout[n-1], u[n-1]
	if w == 16 {
		swigluBackwardAVX512(&dg[0], &du[0], &dout[0], &g[0], &u[0], n)
	} else {
		swigluBackwardAVX2(&dg[0], &du[0], &dout[0], &g[0], &u[0], n)
	}
	return n
}

func scaleArch(x []float32, a float32) int {
	if kernels.Active() == kernels.Go || len(x) < 8 {
		return 0
	}
	n := len(x) &^ 7
	scaleAVX2(&x[0], n, a)
	return n
}

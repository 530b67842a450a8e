package tensor

import "math"

// Vectorized float32 element-wise math for the training hot loops: the
// exponential of softmax rows (cross-entropy, attention), SwiGLU forward and
// backward, row maxima and scaling.
//
// The exponential used throughout is
//
//	exp(x) = 2^k · e^r,  k = round(x·log₂e),  r = x − k·ln2  (|r| ≤ ln2/2),
//
// with r from a two-constant Cody–Waite reduction (ln2 = ln2hi + ln2lo,
// ln2hi having 9 significant bits so that k·ln2hi is exact), e^r from its
// Taylor polynomial to r⁷ (truncation error below 4e-9 relative) evaluated
// by Horner's rule in float32, and 2^k applied as 2^⌊k/2⌋ · 2^(k−⌊k/2⌋) so
// that both factors are normal floats for every k the clamp allows (the
// AVX-512 code applies 2^k with VSCALEFPS instead). Its accuracy is
// documented at ExpShift.
//
// On amd64 the loops run in AVX2+FMA (8 lanes) or AVX-512 (16 lanes)
// assembly, as the active kernel set says (package kernels); the Go code below, with the same formulas,
// serves the purego build, other architectures and the loop tails.

// Constants of the exponential. The input is clamped to [expMin, expMax]:
// e^expMax overflows float32 and e^expMin rounds to 0, and within that range
// k ∈ [−150, 129] so that 2^⌊k/2⌋ and 2^(k−⌊k/2⌋) are normal.
const (
	expMin   = -104.0
	expMax   = 89.0
	expLog2e = 1.44269504088896341
	// expMagic = 1.5·2²³: adding it rounds to an integer, held in the low
	// mantissa bits.
	expMagic = 12582912.0
	expLn2Hi = 0.693359375        // 0x3f318000, 9 significant bits
	expLn2Lo = -2.12194440054e-04 // ln2 − expLn2Hi
	expC2    = 1.0 / 2
	expC3    = 1.0 / 6
	expC4    = 1.0 / 24
	expC5    = 1.0 / 120
	expC6    = 1.0 / 720
	expC7    = 1.0 / 5040
)

// expf32 returns e^x in float32 by the method described above.
func expf32(x float32) float32 {
	if x > expMax {
		x = expMax
	} else if x < expMin {
		x = expMin
	} // NaN passes through both tests.
	t := x*expLog2e + expMagic // = expMagic + k
	kf := t - expMagic
	r := x - kf*expLn2Hi
	r -= kf * expLn2Lo
	p := expC7*r + expC6
	p = p*r + expC5
	p = p*r + expC4
	p = p*r + expC3
	p = p*r + expC2
	p = p*r + 1
	p = p*r + 1
	k := int32(math.Float32bits(t) - math.Float32bits(expMagic))
	k1 := k >> 1
	k2 := k - k1
	return p * math.Float32frombits(uint32(k1+127)<<23) * math.Float32frombits(uint32(k2+127)<<23)
}

// ExpShift sets dst[i] = exp(src[i] − c) for i < len(src), the difference
// rounded to float32 first, and returns Σᵢ dst[i]. The sum is accumulated in
// float32 lanes (8 or 16 of them, one per vector lane) whose totals are then
// added in float64; for a softmax row with c = max(src) every term is in
// (0, 1]. It needs len(dst) ≥ len(src); dst may be src itself (in place),
// but must not overlap it otherwise.
//
// Accuracy of exp(x), x = src[i] − c: within 2 ulp of the correctly rounded
// float32 result for x ≥ ln(2⁻¹²⁶) ≈ −87.3365, where the result is a normal
// float (the tests measure at most 0.91 ulp with FMA, 1.21 ulp in Go code
// without FMA). Below that the result underflows gradually: subnormal
// results are within about one subnormal step (2⁻¹⁴⁹) and x < −103.98 gives
// 0. x > ln(FLT_MAX) ≈ 88.7228 gives +Inf, −Inf gives 0, and NaN gives NaN.
func ExpShift(dst, src []float32, c float32) float64 {
	n := len(src)
	dst = dst[:n]
	done, sum := expShiftArch(dst, src, c)
	return sum + expShiftGo(dst[done:], src[done:], c)
}

// expShiftGo is ExpShift in Go, with 8 float32 lanes.
func expShiftGo(dst, src []float32, c float32) float64 {
	n := len(src)
	dst = dst[:n]
	var acc [8]float32
	i := 0
	for ; i+8 <= n; i += 8 {
		s, d := src[i:i+8:i+8], dst[i:i+8:i+8]
		for j := range 8 {
			e := expf32(s[j] - c)
			d[j] = e
			acc[j] += e
		}
	}
	for j := 0; i < n; i, j = i+1, j+1 {
		e := expf32(src[i] - c)
		dst[i] = e
		acc[j] += e
	}
	var sum float64
	for _, a := range acc {
		sum += float64(a)
	}
	return sum
}

// MaxF32 returns max_i x[i]; x must not be empty. Where x holds NaNs the
// result is unspecified (it may or may not be NaN).
func MaxF32(x []float32) float32 {
	if len(x) == 0 {
		panic("tensor: MaxF32 of an empty slice")
	}
	done, m := maxArch(x)
	for _, v := range x[done:] {
		if v > m {
			m = v
		}
	}
	return m
}

// maxGo returns the maximum of x (len ≥ 1) in Go.
func maxGo(x []float32) float32 {
	m := x[0]
	for _, v := range x[1:] {
		if v > m {
			m = v
		}
	}
	return m
}

// SwiGLU sets out[i] = silu(g[i])·u[i] = g[i]·σ(g[i])·u[i] with
// σ(z) = 1/(1 + e^−z), computed as g·u/(1 + e^−g), for i < len(g);
// out and u need at least len(g) elements. out may be g or u itself.
func SwiGLU(out, g, u []float32) {
	n := len(g)
	out, u = out[:n], u[:n]
	done := swigluArch(out, g, u)
	swigluGo(out[done:], g[done:], u[done:])
}

// swigluGo is SwiGLU in Go.
func swigluGo(out, g, u []float32) {
	out, u = out[:len(g)], u[:len(g)]
	for i, gv := range g {
		out[i] = gv * u[i] / (1 + expf32(-gv))
	}
}

// SwiGLUBackward is the gradient of SwiGLU: with s = σ(g[i]),
//
//	dg[i] = dout[i]·u[i]·s·(1 + g[i]·(1 − s))   (= dout·u·silu′(g))
//	du[i] = dout[i]·g[i]·s                       (= dout·silu(g))
//
// for i < len(g), 1 − s being evaluated as e·s with e = e^−g (= 1 − s
// exactly), which unlike 1 − s keeps its relative accuracy for large g; e
// is computed as e^min(−g, 88) so that it stays finite, which changes s by
// less than 1e-38 absolute. dg, du, dout and u
// need at least len(g) elements. dg and
// du are overwritten; either may be dout (dg may also be g, du may be u),
// but dg and du must be distinct.
func SwiGLUBackward(dg, du, dout, g, u []float32) {
	n := len(g)
	dg, du, dout, u = dg[:n], du[:n], dout[:n], u[:n]
	done := swigluBackwardArch(dg, du, dout, g, u)
	swigluBackwardGo(dg[done:], du[done:], dout[done:], g[done:], u[done:])
}

// swigluBackwardGo is SwiGLUBackward in Go.
func swigluBackwardGo(dg, du, dout, g, u []float32) {
	n := len(g)
	dg, du, dout, u = dg[:n], du[:n], dout[:n], u[:n]
	for i, gv := range g {
		e := expf32(min(-gv, 88)) // finite, so that e·s is not ∞·0
		s := 1 / (1 + e)
		ds := dout[i] * s
		uv := u[i]
		du[i] = ds * gv
		dg[i] = ds * (1 + gv*(e*s)) * uv
	}
}

// Scale multiplies x in place: x[i] *= a.
func Scale(x []float32, a float32) {
	done := scaleArch(x, a)
	scaleGo(x[done:], a)
}

// scaleGo is Scale in Go.
func scaleGo(x []float32, a float32) {
	for i := range x {
		x[i] *= a
	}
}

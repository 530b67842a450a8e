package tensor

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/golora/golora/tensor/kernels"
)

// forVecImpls runs f as a subtest for every kernel set the CPU has.
func forVecImpls(t *testing.T, f func(t *testing.T)) {
	for _, s := range kernels.Supported() {
		t.Run(s.String(), func(t *testing.T) { withKernels(s, func() { f(t) }) })
	}
}

const minNormal32 = 0x1p-126

// expErr returns the error of got as e^x in ulps of the exact result: for
// a normal result in units of its float32 ulp, for a subnormal one in
// units of 2⁻¹⁴⁹. Overflow must give +Inf (where e^x rounds to +Inf or is
// within half an ulp of the boundary, either is accepted).
func expErr(got float32, x float64) float64 {
	e := math.Exp(x)
	if math.IsNaN(x) {
		if got != got {
			return 0
		}
		return math.Inf(1)
	}
	const maxRound = math.MaxFloat32 + 0x1p103 // halfway to 2^128
	if e >= maxRound*(1+1e-7) {
		if math.IsInf(float64(got), 1) {
			return 0
		}
		return math.Inf(1)
	}
	if math.IsInf(float64(got), 1) {
		if e >= maxRound*(1-1e-7) {
			return 0
		}
		return math.Inf(1)
	}
	ulp := 0x1p-149
	if e >= minNormal32 {
		_, exp := math.Frexp(e) // e = f·2^exp, f ∈ [0.5, 1)
		ulp = math.Ldexp(1, exp-24)
	}
	return math.Abs(float64(got)-e) / ulp
}

// expInputs returns a dense sweep of float32 inputs over [−104, 89]: every
// stride-th float32 (by bit pattern) of each sign, a uniform grid, uniform
// random values and the ends of the ranges that matter.
func expInputs() []float32 {
	var xs []float32
	const stride = 797
	for b := uint32(0); b < math.Float32bits(104); b += stride {
		if v := math.Float32frombits(b); v <= 89 {
			xs = append(xs, v)
		}
		xs = append(xs, -math.Float32frombits(b))
	}
	for x := -104.0; x <= 89; x += 1.0 / 4096 {
		xs = append(xs, float32(x))
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 1 << 19 {
		xs = append(xs, float32(r.Float64()*193-104))
	}
	xs = append(xs, 0, float32(math.Copysign(0, -1)), 1, -1, 0.5, -0.5, 0.34657359, -0.34657359,
		88.72283, 88.7228, 88.72284, 88.376, 88.377, -87.3365, -87.33654, -87.33655,
		-87.3, -86.99, -103.97, -103.98, -150, 100, 89, -104)
	for _, bnd := range []float32{88.72283, -87.33654, -103.972} {
		b := math.Float32bits(bnd)
		for d := uint32(0); d < 64; d++ {
			xs = append(xs, math.Float32frombits(b-d), math.Float32frombits(b+d))
		}
	}
	return xs
}

func TestExpAccuracy(t *testing.T) {
	xs := expInputs()
	forVecImpls(t, func(t *testing.T) {
		dst := make([]float32, len(xs))
		ExpShift(dst, xs, 0)
		maxN, maxS := 0.0, 0.0
		var worstN float32
		for i, x := range xs {
			err := expErr(dst[i], float64(x))
			if math.Exp(float64(x)) >= minNormal32 {
				if err > maxN {
					maxN, worstN = err, x
				}
			} else {
				maxS = max(maxS, err)
			}
		}
		t.Logf("%d inputs: max error %.3f ulp (normal results, at x = %g), %.3f × 2⁻¹⁴⁹ (subnormal results)",
			len(xs), maxN, worstN, maxS)
		if maxN > 2 {
			t.Errorf("max error %g ulp at x = %g, want ≤ 2", maxN, worstN)
		}
		if maxS > 1.5 {
			t.Errorf("subnormal results off by up to %g × 2⁻¹⁴⁹", maxS)
		}
	})
}

// TestExpSpecial checks the documented edge behaviour and the shift c.
func TestExpSpecial(t *testing.T) {
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	forVecImpls(t, func(t *testing.T) {
		// 16 copies of each so that the vector code sees them.
		for _, tc := range []struct {
			x    float32
			want func(float32) bool
		}{
			{0, func(y float32) bool { return y == 1 }},
			{nan, func(y float32) bool { return y != y }},
			{inf, func(y float32) bool { return y == inf }},
			{-inf, func(y float32) bool { return y == 0 }},
			{88.73, func(y float32) bool { return y == inf }},
			{1e30, func(y float32) bool { return y == inf }},
			{88.7228, func(y float32) bool { return y < inf && y > 3.4e38 }},
			{-87.3365, func(y float32) bool { return y >= minNormal32 }},
			{-104, func(y float32) bool { return y == 0 }},
			{-1e30, func(y float32) bool { return y == 0 }},
		} {
			src := make([]float32, 35)
			for i := range src {
				src[i] = tc.x
			}
			dst := make([]float32, len(src))
			ExpShift(dst, src, 0)
			for i, y := range dst {
				if !tc.want(y) {
					t.Errorf("exp(%g) = %g at %d", tc.x, y, i)
					break
				}
			}
		}
	})
}

// TestExpShift covers lengths, tails, unaligned slices, the shift, the sum
// and in-place use.
func TestExpShift(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	forVecImpls(t, func(t *testing.T) {
		for n := 0; n <= 140; n++ {
			for off := range 3 {
				buf := make([]float32, n+off)
				for i := range buf {
					buf[i] = float32(r.NormFloat64() * 10)
				}
				src := buf[off:]
				c := float32(0)
				if n > 0 {
					c = maxGo(src)
				}
				want := make([]float64, n)
				var wsum float64
				for i, v := range src {
					want[i] = math.Exp(float64(v - c))
					wsum += want[i]
				}
				dbuf := make([]float32, n+off+1)
				dst := dbuf[off : off+n]
				sum := ExpShift(dst, src, c)
				for i, y := range dst {
					if e := expErr(y, float64(src[i]-c)); e > 2 {
						t.Fatalf("n=%d off=%d: exp(%g) = %g, want %g", n, off, src[i]-c, y, want[i])
					}
				}
				if dbuf[off+n] != 0 {
					t.Fatalf("n=%d: wrote past len(src)", n)
				}
				if math.Abs(sum-wsum) > 1e-6*wsum {
					t.Fatalf("n=%d off=%d: sum %g, want %g", n, off, sum, wsum)
				}
				// In place.
				sum2 := ExpShift(src, src, c)
				for i := range src {
					if src[i] != dst[i] {
						t.Fatalf("n=%d: in-place result differs at %d", n, i)
					}
				}
				if sum2 != sum {
					t.Fatalf("n=%d: in-place sum %g, want %g", n, sum2, sum)
				}
			}
		}
		// A vocabulary row: sum of many terms.
		src := make([]float32, 49152+5)
		for i := range src {
			src[i] = float32(r.NormFloat64() * 3)
		}
		c := MaxF32(src)
		var wsum float64
		for _, v := range src {
			wsum += math.Exp(float64(v - c))
		}
		if sum := ExpShift(make([]float32, len(src)), src, c); math.Abs(sum-wsum) > 1e-5*wsum {
			t.Errorf("vocabulary row: sum %g, want %g", sum, wsum)
		}
	})
}

func TestMaxF32(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	forVecImpls(t, func(t *testing.T) {
		for n := 1; n <= 100; n++ {
			for off := range 3 {
				buf := make([]float32, n+off)
				for i := range buf {
					buf[i] = float32(r.NormFloat64()) - 100
				}
				x := buf[off:]
				for _, at := range []int{0, n - 1, r.IntN(n)} {
					x[at] = -1 + float32(r.Float64())
					want := maxGo(x)
					if got := MaxF32(x); got != want {
						t.Fatalf("n=%d off=%d at=%d: %g, want %g", n, off, at, got, want)
					}
				}
			}
		}
	})
	defer func() {
		if recover() == nil {
			t.Error("MaxF32(nil) did not panic")
		}
	}()
	MaxF32(nil)
}

func TestScale(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	forVecImpls(t, func(t *testing.T) {
		for n := 0; n <= 100; n++ {
			for off := range 3 {
				buf := make([]float32, n+off+1)
				for i := range buf {
					buf[i] = float32(r.NormFloat64())
				}
				want := append([]float32(nil), buf...)
				a := float32(r.NormFloat64())
				for i := off; i < off+n; i++ {
					want[i] *= a
				}
				Scale(buf[off:off+n], a)
				for i := range buf {
					if buf[i] != want[i] {
						t.Fatalf("n=%d off=%d: x[%d] = %g, want %g", n, off, i-off, buf[i], want[i])
					}
				}
			}
		}
	})
}

// swigluInputs returns n gate values (mostly moderate, some saturating),
// and up and output-gradient values.
func swigluInputs(r *rand.Rand, n int) (g, u, dout []float32) {
	g, u, dout = make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range g {
		switch r.IntN(10) {
		case 0:
			g[i] = float32(r.Float64()*240 - 120)
		case 1:
			g[i] = float32(r.NormFloat64() * 1e-3)
		default:
			g[i] = float32(r.NormFloat64() * 4)
		}
		u[i] = float32(r.NormFloat64())
		dout[i] = float32(r.NormFloat64())
	}
	return
}

func sigmoid64(z float64) float64 { return 1 / (1 + math.Exp(-z)) }

// close64 reports whether got is within rel·scale of want, scale being the
// magnitude the rounding errors scale with, plus 1e-35 for underflow.
func close64(got float32, want, scale, rel float64) bool {
	return math.Abs(float64(got)-want) <= rel*scale+1e-35
}

func TestSwiGLU(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	forVecImpls(t, func(t *testing.T) {
		worst := 0.0
		for _, n := range []int{0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 1536 * 3} {
			for off := range 2 {
				g, u, _ := swigluInputs(r, n+off)
				g, u = g[off:], u[off:]
				obuf := make([]float32, n+1)
				out := obuf[:n]
				SwiGLU(out, g, u)
				for i := range g {
					gv, uv := float64(g[i]), float64(u[i])
					want := gv * sigmoid64(gv) * uv
					if !close64(out[i], want, math.Abs(want), 1e-6) {
						t.Fatalf("n=%d: g=%g u=%g: %g, want %g", n, g[i], u[i], out[i], want)
					}
					if math.Abs(want) > 1e-30 { // not underflowed
						worst = max(worst, math.Abs(float64(out[i])-want)/math.Abs(want))
					}
				}
				if obuf[n] != 0 {
					t.Fatalf("n=%d: wrote past len(g)", n)
				}
				// In place over g.
				gc := append([]float32(nil), g...)
				SwiGLU(gc, gc, u)
				for i := range gc {
					if gc[i] != out[i] {
						t.Fatalf("n=%d: in-place result differs at %d", n, i)
					}
				}
			}
		}
		t.Logf("max relative error %.3g", worst)
	})
}

func TestSwiGLUBackward(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	forVecImpls(t, func(t *testing.T) {
		worstG, worstU := 0.0, 0.0
		for _, n := range []int{0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 1536 * 3} {
			for off := range 2 {
				g, u, dout := swigluInputs(r, n+off)
				g, u, dout = g[off:], u[off:], dout[off:]
				dgb, dub := make([]float32, n+1), make([]float32, n+1)
				dg, du := dgb[:n], dub[:n]
				SwiGLUBackward(dg, du, dout, g, u)
				for i := range g {
					gv, uv, d := float64(g[i]), float64(u[i]), float64(dout[i])
					s := sigmoid64(gv)
					wg := d * uv * s * (1 + gv*(1-s))
					wu := d * gv * s
					// 1 + g·(1−s) cancels near g ≈ −1.28: the error scales
					// with the sum of the magnitudes of its terms.
					sg := math.Abs(d*uv*s) * (1 + math.Abs(gv*(1-s)))
					if !close64(dg[i], wg, sg, 1e-6) {
						t.Fatalf("n=%d g=%g u=%g dout=%g: dg %g, want %g", n, g[i], u[i], dout[i], dg[i], wg)
					}
					if !close64(du[i], wu, math.Abs(wu), 1e-6) {
						t.Fatalf("n=%d g=%g dout=%g: du %g, want %g", n, g[i], dout[i], du[i], wu)
					}
					if sg > 1e-30 {
						worstG = max(worstG, math.Abs(float64(dg[i])-wg)/sg)
					}
					if math.Abs(wu) > 1e-30 {
						worstU = max(worstU, math.Abs(float64(du[i])-wu)/math.Abs(wu))
					}
				}
				if dgb[n] != 0 || dub[n] != 0 {
					t.Fatalf("n=%d: wrote past len(g)", n)
				}
				// In place: dg over g, du over u, and dg over dout.
				g2, u2 := append([]float32(nil), g...), append([]float32(nil), u...)
				SwiGLUBackward(g2, u2, dout, g2, u2)
				d3 := append([]float32(nil), dout...)
				du3 := make([]float32, n)
				SwiGLUBackward(d3, du3, d3, g, u)
				for i := range g {
					if g2[i] != dg[i] || u2[i] != du[i] || d3[i] != dg[i] || du3[i] != du[i] {
						t.Fatalf("n=%d: in-place result differs at %d", n, i)
					}
				}
			}
		}
		t.Logf("max relative error: dg %.3g, du %.3g", worstG, worstU)
	})
}

// The benchmarks report elements per second; "mathexp" is a scalar loop
// around math.Exp in float64 for comparison.

func benchImpls(b *testing.B, n int, f func()) {
	for _, s := range kernels.Supported() {
		b.Run(s.String(), func(b *testing.B) {
			withKernels(s, func() {
				for b.Loop() {
					f()
				}
			})
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "elem/s")
		})
	}
}

func BenchmarkExpShift(b *testing.B) {
	const n = 49152
	r := rand.New(rand.NewPCG(1, 1))
	src, dst := make([]float32, n), make([]float32, n)
	for i := range src {
		src[i] = float32(r.NormFloat64() * 3)
	}
	c := maxGo(src)
	var sink float64
	b.Run("mathexp", func(b *testing.B) {
		for b.Loop() {
			var s float64
			for i, v := range src {
				e := math.Exp(float64(v - c))
				dst[i] = float32(e)
				s += e
			}
			sink += s
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "elem/s")
	})
	benchImpls(b, n, func() { sink += ExpShift(dst, src, c) })
	_ = sink
}

func BenchmarkSwiGLU(b *testing.B) {
	const n = 1536 * 64
	g, u, _ := swigluInputs(rand.New(rand.NewPCG(1, 1)), n)
	out := make([]float32, n)
	b.Run("mathexp", func(b *testing.B) {
		for b.Loop() {
			for i, gv := range g {
				out[i] = gv * u[i] / (1 + float32(math.Exp(float64(-gv))))
			}
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "elem/s")
	})
	benchImpls(b, n, func() { SwiGLU(out, g, u) })
}

func BenchmarkSwiGLUBackward(b *testing.B) {
	const n = 1536 * 64
	g, u, dout := swigluInputs(rand.New(rand.NewPCG(1, 1)), n)
	dg, du := make([]float32, n), make([]float32, n)
	b.Run("mathexp", func(b *testing.B) {
		for b.Loop() {
			for i, gv := range g {
				s := 1 / (1 + float32(math.Exp(float64(-gv))))
				ds := dout[i] * s
				du[i] = ds * gv
				dg[i] = ds * u[i] * (1 + gv*(1-s))
			}
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "elem/s")
	})
	benchImpls(b, n, func() { SwiGLUBackward(dg, du, dout, g, u) })
}

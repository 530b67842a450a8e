package quant

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/golora/golora/tensor/kernels"
)

// argminRef is the reference rule written out: argmin_i |x − code[i]| in
// float32, lowest index on ties, NaN → 0.
func argminRef(code []float32, x float32) byte {
	if x != x {
		return 0
	}
	best, bd := 0, abs32(x-code[0])
	for i := 1; i < len(code); i++ {
		if d := abs32(x - code[i]); d < bd {
			best, bd = i, d
		}
	}
	return byte(best)
}

func TestNearestCodeMatchesArgmin(t *testing.T) {
	nf4, fp4, dyn := NF4.StoredQuantMap(), FP4.StoredQuantMap(), DynamicMap()
	cases := []struct {
		name string
		code []float32
		nc   *nearestCode
	}{
		{"nf4", nf4[:], nf4Nearest()},
		{"fp4", fp4[:], fp4Nearest()},
		{"dynamic", dyn[:], dynNearest()},
	}
	r := rand.New(rand.NewPCG(7, 8))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			check := func(x float32) {
				if got, want := tc.nc.quantize(x), argminRef(tc.code, x); got != want {
					t.Fatalf("quantize(%v [%#08x]) = %d, argmin gives %d", x, math.Float32bits(x), got, want)
				}
			}
			// Every switch point, its neighbours a few ulps away, and the codes.
			for _, th := range tc.nc.thr {
				x := th
				for range 4 {
					x = math.Nextafter32(x, -2)
				}
				for range 9 {
					check(x)
					x = math.Nextafter32(x, 2)
				}
			}
			for _, c := range tc.code {
				check(c)
				check(-c)
			}
			for _, x := range []float32{0, float32(math.Copysign(0, -1)), 1, -1, 1.0000001, -1.0000001, 2, -2, 1e-30, -1e-30} {
				check(x)
			}
			for range 50000 {
				check(float32(r.Float64()*2.2 - 1.1))
				check(float32(r.NormFloat64() * 1e-3))
			}
			if got := tc.nc.quantize(float32(math.NaN())); got != 0 {
				t.Errorf("quantize(NaN) = %d, want 0", got)
			}
		})
	}
}

// The tie rule decides the two FP4 zero codes: tiny negative inputs get
// code 0 (the reference rule), not 8 (the CUDA sign bit).
func TestFP4NegativeZero(t *testing.T) {
	for _, x := range []float32{-1e-6, -0.0026, float32(math.Copysign(0, -1))} {
		if got := fp4Nearest().quantize(x); got != 0 {
			t.Errorf("fp4 quantize(%v) = %d, want 0", x, got)
		}
	}
	if got := fp4Nearest().quantize(-0.0027); got != 9 {
		t.Errorf("fp4 quantize(-0.0027) = %d, want 9 (−0.0625/12)", got)
	}
}

func TestFMA32(t *testing.T) {
	exact := func(a, b, c float32) float32 {
		x := new(big.Float).SetPrec(200).SetFloat64(float64(a))
		x.Mul(x, new(big.Float).SetFloat64(float64(b)))
		x.Add(x, new(big.Float).SetFloat64(float64(c)))
		f, _ := x.Float32()
		return f
	}
	r := rand.New(rand.NewPCG(1, 1))
	for i := range 50000 {
		a, b, c := float32(r.NormFloat64()), float32(r.NormFloat64()), float32(r.NormFloat64())
		if i%2 == 0 { // products that nearly cancel c exercise the rounding
			c = -float32(float64(a) * float64(b))
			c = math.Float32frombits(math.Float32bits(c) + uint32(r.IntN(5)) - 2)
		}
		if got, want := fma32(a, b, c), exact(a, b, c); math.Float32bits(got) != math.Float32bits(want) {
			t.Fatalf("fma32(%v, %v, %v) = %v, want %v", a, b, c, got, want)
		}
	}
}

func TestQuantizeErrors(t *testing.T) {
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	cases := []struct {
		name       string
		w          []float32
		rows, cols int
		typ        Type
		want       string
	}{
		{"bad type", make([]float32, 4), 2, 2, Type(9), "invalid quant type"},
		{"zero rows", nil, 0, 2, NF4, "invalid shape [0, 2]"},
		{"negative cols", nil, 2, -1, NF4, "invalid shape"},
		{"length", make([]float32, 5), 2, 2, NF4, "has 5 values"},
		{"NaN", []float32{0, 1, nan, 2}, 2, 2, NF4, "value 2 (row 1, col 0) is NaN"},
		{"Inf", []float32{0, inf}, 1, 2, FP4, "value 1 (row 0, col 1) is +Inf"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Quantize(tc.w, tc.rows, tc.cols, tc.typ, true)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func gaussian(n int, seed uint64, std float64) []float32 {
	r := rand.New(rand.NewPCG(seed, seed+1))
	w := make([]float32, n)
	for i := range w {
		w[i] = float32(r.NormFloat64() * std)
	}
	return w
}

// Relative RMS error ‖Ŵ−W‖/‖W‖ on Gaussian weights: NF4 is about 0.1
// (about 0.09 measured), FP4 is worse, double quantization costs almost
// nothing.
func TestQuantizationError(t *testing.T) {
	w := gaussian(256*512, 3, 0.02)
	cases := []struct {
		typ      Type
		dq       bool
		lo, hi   float64
		maxBlock float64 // max |ŵ−w|/absmax over elements
	}{
		{NF4, false, 0.07, 0.12, 0.17},
		{NF4, true, 0.07, 0.12, 0.17},
		{FP4, false, 0.09, 0.16, 0.21},
		{FP4, true, 0.09, 0.16, 0.21},
	}
	for _, tc := range cases {
		q, err := Quantize(w, 256, 512, tc.typ, tc.dq)
		if err != nil {
			t.Fatal(err)
		}
		d := q.Dequantize()
		var num, den, worst float64
		for i, x := range w {
			e := float64(d[i]) - float64(x)
			num += e * e
			den += float64(x) * float64(x)
			worst = max(worst, math.Abs(e)/float64(q.BlockAbsmax(i/q.BlockSize)))
		}
		rel := math.Sqrt(num / den)
		t.Logf("%v double=%v: relative RMS error %.4f, worst error/absmax %.3f", tc.typ, tc.dq, rel, worst)
		if rel < tc.lo || rel > tc.hi {
			t.Errorf("%v double=%v: relative RMS error %.4f outside [%.2f, %.2f]", tc.typ, tc.dq, rel, tc.lo, tc.hi)
		}
		if worst > tc.maxBlock {
			t.Errorf("%v double=%v: worst error/absmax %.3f > %.2f", tc.typ, tc.dq, worst, tc.maxBlock)
		}
	}
}

func TestQuantizeEdgeCases(t *testing.T) {
	negZero := float32(math.Copysign(0, -1))
	cases := []struct {
		name       string
		w          []float32
		rows, cols int
	}{
		{"one value", []float32{0.5}, 1, 1},
		{"all zero", make([]float32, 130), 10, 13},
		{"negative zeros", []float32{negZero, negZero, 0}, 1, 3},
		{"equal blocks", func() []float32 {
			w := make([]float32, 64*300)
			for i := range w {
				w[i] = 0.25
				if i%2 == 1 {
					w[i] = -0.25
				}
			}
			return w
		}(), 300, 64},
		{"short tail", gaussian(64*3+5, 9, 1), 1, 64*3 + 5},
	}
	for _, tc := range cases {
		for _, typ := range []Type{NF4, FP4} {
			for _, dq := range []bool{false, true} {
				q, err := Quantize(tc.w, tc.rows, tc.cols, typ, dq)
				if err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				if err := q.Validate(); err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				d := q.Dequantize()
				for i, x := range tc.w {
					// Every case here is exactly representable except the
					// Gaussian tail; bound the error by the block scale.
					tol := 0.2 * float64(q.BlockAbsmax(i/q.BlockSize))
					if x == 0 || tc.name == "equal blocks" && !dq {
						tol = 0
					}
					if e := math.Abs(float64(d[i] - x)); e > tol || math.IsNaN(float64(d[i])) {
						t.Fatalf("%s %v dq=%v: element %d = %v, want %v", tc.name, typ, dq, i, d[i], x)
					}
				}
			}
		}
	}
}

// forKernelSets runs f as a subtest under every kernel set the CPU
// supports.
func forKernelSets(t *testing.T, f func(t *testing.T)) {
	for _, s := range kernels.Supported() {
		t.Run(s.String(), func(t *testing.T) {
			if err := kernels.With(s, func() { f(t) }); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// goDequantize is q.Dequantize computed by the portable Go loop.
func goDequantize(t *testing.T, q *Quantized) []float32 {
	t.Helper()
	var d []float32
	if err := kernels.With(kernels.Go, func() { d = q.Dequantize() }); err != nil {
		t.Fatal(err)
	}
	return d
}

// DequantizeSpan under every kernel set equals the portable Go loop bit
// for bit, for NF4 and FP4 with and without double quantization, over the
// whole matrix and over random (odd, block-straddling) spans; the
// assembly of each set other than Go really runs (dequant64 takes whole
// blocks).
func TestDequantizeSpan(t *testing.T) {
	forKernelSets(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(5, 6))
		for _, typ := range []Type{NF4, FP4} {
			for _, dq := range []bool{false, true} {
				w := gaussian(7*201*64, 11, 1)
				q, err := Quantize(w, 7*64, 201, typ, dq)
				if err != nil {
					t.Fatal(err)
				}
				want := goDequantize(t, q)
				name := fmt.Sprintf("%v double-quant %v", typ, dq)
				full := q.Dequantize()
				for i := range full {
					if math.Float32bits(full[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%s: element %d = %v, %v in Go", name, i, full[i], want[i])
					}
				}
				for range 500 {
					off := r.IntN(len(want) + 1)
					n := r.IntN(min(len(want)-off, 3000) + 1)
					dst := make([]float32, n)
					q.DequantizeSpan(off, dst)
					for i := range dst {
						if math.Float32bits(dst[i]) != math.Float32bits(want[off+i]) {
							t.Fatalf("%s: span(%d, %d)[%d] = %v, want %v", name, off, n, i, dst[i], want[off+i])
						}
					}
				}
				scales := make([]float32, 5)
				for j := range scales {
					scales[j] = q.BlockAbsmax(j)
				}
				code := typ.Code()
				done := dequant64(make([]float32, 64*len(scales)), q.Packed, scales, &code)
				if asm := kernels.Active() != kernels.Go; asm && done != len(scales) || !asm && done != 0 {
					t.Fatalf("%s: dequant64 did %d of %d blocks", name, done, len(scales))
				}
			}
		}
	})
}

func TestValidate(t *testing.T) {
	base := func() *Quantized {
		q, err := Quantize(gaussian(3*100, 1, 1), 3, 100, NF4, true)
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	cases := []struct {
		name string
		edit func(q *Quantized)
		want string
	}{
		{"ok", func(*Quantized) {}, ""},
		{"type", func(q *Quantized) { q.Type = 0 }, "invalid quant type"},
		{"odd block", func(q *Quantized) { q.BlockSize = 63 }, "block size 63"},
		{"packed", func(q *Quantized) { q.Packed = q.Packed[1:] }, "packed weight has 149 bytes"},
		{"absmaxq", func(q *Quantized) { q.AbsmaxQ = q.AbsmaxQ[1:] }, "quantized absmax has 4 values, want 5"},
		{"nested absmax", func(q *Quantized) { q.NestedAbsmax = nil }, "nested absmax has 0 values, want 1"},
		{"offset", func(q *Quantized) { q.Offset = float32(math.Inf(-1)) }, "nested offset value 0 is -Inf"},
		{"plain absmax", func(q *Quantized) { q.Nested = false }, "absmax has 0 values, want 5"},
	}
	for _, tc := range cases {
		q := base()
		tc.edit(q)
		err := q.Validate()
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}

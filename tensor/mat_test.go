package tensor

import (
	"math"
	"testing"

	"github.com/golora/golora/quant"
)

// TestWiden checks Widen against known bit patterns: the float32 each
// stored value must become, written out by hand (bfloat16 is the top half
// of a float32; IEEE half has 5 exponent bits with bias 15, 10 mantissa
// bits, subnormals m·2⁻²⁴), compared bit for bit so that −0 and NaN
// payloads count.
func TestWiden(t *testing.T) {
	f := math.Float32bits
	for _, tc := range []struct {
		name string
		dt   DType
		in   uint16
		want uint32
	}{
		{"bf16 1", BF16, 0x3f80, f(1)},
		{"bf16 -2", BF16, 0xc000, f(-2)},
		{"bf16 0.15625", BF16, 0x3e20, f(0.15625)},
		{"bf16 +0", BF16, 0x0000, 0x00000000},
		{"bf16 -0", BF16, 0x8000, 0x80000000},
		{"bf16 smallest subnormal 2^-133", BF16, 0x0001, f(float32(math.Ldexp(1, -133)))},
		{"bf16 largest finite", BF16, 0x7f7f, 0x7f7f0000},
		{"bf16 +Inf", BF16, 0x7f80, f(float32(math.Inf(1)))},
		{"bf16 -Inf", BF16, 0xff80, f(float32(math.Inf(-1)))},
		{"bf16 quiet NaN", BF16, 0x7fc0, 0x7fc00000},
		{"bf16 NaN payload", BF16, 0xffc1, 0xffc10000},
		{"f16 1", F16, 0x3c00, f(1)},
		{"f16 -2", F16, 0xc000, f(-2)},
		{"f16 1/3", F16, 0x3555, f(float32(0x400+0x155) / (1 << 12))}, // (1 + 0x155/2¹⁰)·2^(13−15)
		{"f16 65504", F16, 0x7bff, f(65504)},
		{"f16 smallest normal 2^-14", F16, 0x0400, f(float32(math.Ldexp(1, -14)))},
		{"f16 smallest subnormal 2^-24", F16, 0x0001, f(float32(math.Ldexp(1, -24)))},
		{"f16 largest subnormal 1023·2^-24", F16, 0x03ff, f(float32(math.Ldexp(1023, -24)))},
		{"f16 negative subnormal", F16, 0x8200, f(float32(-math.Ldexp(512, -24)))},
		{"f16 +0", F16, 0x0000, 0x00000000},
		{"f16 -0", F16, 0x8000, 0x80000000},
		{"f16 +Inf", F16, 0x7c00, f(float32(math.Inf(1)))},
		{"f16 -Inf", F16, 0xfc00, f(float32(math.Inf(-1)))},
		{"f16 quiet NaN", F16, 0x7e00, 0x7fc00000},
		{"f16 NaN payload", F16, 0xfc01, 0xff802000},
	} {
		// The value sits at flat offset 4 (row 1, column 1 of a 2×3 view
		// with stride 3), between neighbours that must not be read.
		data := []uint16{0xffff, 0xffff, 0xffff, 0xffff, tc.in, 0xffff}
		m := FromU16(tc.dt, data, 2, 3)
		dst := []float32{7, 7}
		Widen(dst[:1], m, 4)
		if got := f(dst[0]); got != tc.want {
			t.Errorf("%s: Widen(%#04x) = %#08x (%g), want %#08x (%g)", tc.name, tc.in, got, dst[0], tc.want, math.Float32frombits(tc.want))
		}
		if dst[1] != 7 {
			t.Errorf("%s: Widen wrote past len(dst)", tc.name)
		}
		if got := f(m.At(1, 1)); got != tc.want {
			t.Errorf("%s: At = %#08x, want %#08x", tc.name, got, tc.want)
		}
	}
}

// TestWidenSpans checks that Widen reads the span at off of every dtype and
// that Row is Widen of one row.
func TestWidenSpans(t *testing.T) {
	vals := []float32{0.5, -1.25, 3, 0, 1024, -0.0078125} // exact in bf16 and f16
	bf, hf := make([]uint16, len(vals)), make([]uint16, len(vals))
	for i, v := range vals {
		bf[i], hf[i] = F32ToBF16(v), F32ToF16(v)
	}
	q, err := quant.Quantize(vals, 1, len(vals), quant.NF4, false)
	if err != nil {
		t.Fatal(err)
	}
	qm := FromQuant(q)
	qwant := make([]float32, len(vals))
	q.DequantizeSpan(0, qwant)
	for _, tc := range []struct {
		m    Mat
		want []float32
	}{
		{FromF32(vals, 2, 3), vals},
		{FromU16(BF16, bf, 2, 3), vals},
		{FromU16(F16, hf, 2, 3), vals},
		{qm, qwant},
	} {
		dst := make([]float32, 4)
		Widen(dst, tc.m, 1)
		for i, got := range dst {
			if got != tc.want[1+i] {
				t.Errorf("%v: Widen at 1: dst[%d] = %g, want %g", tc.m.DType, i, got, tc.want[1+i])
			}
		}
		if tc.m.DType == Q4 {
			continue // a 1×6 view
		}
		row := tc.m.Row(1, make([]float32, 5))
		if len(row) != 3 || row[0] != vals[3] || row[1] != vals[4] || row[2] != vals[5] {
			t.Errorf("%v: Row(1) = %v, want %v", tc.m.DType, row, vals[3:])
		}
	}
}

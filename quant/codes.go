// Package quant implements the 4-bit block quantization of bitsandbytes
// (NF4 and FP4, QLoRA) with double quantization of the block scales, bit for
// bit, and the Hugging Face "*-bnb-4bit" checkpoint layout.
//
// # Quantization (bitsandbytes quantize_4bit)
//
// A weight W [rows, cols] is read as one flat row-major vector w of
// n = rows·cols float32 values and cut into blocks of BlockSize (64)
// consecutive values; the last block may be shorter. For block b:
//
//	absmax[b] = max_i |w_i|              (over the block's real values)
//	inv       = 1 / absmax[b]            (float32 division)
//	code_i    = Q(w_i · inv)             (float32 product)
//	Q(x)      = argmin_k |x − code[k]|   (float32 distances over the 16-entry
//	                                      quant_map, lowest k on ties; NaN → 0)
//
// Two codes share a byte, the first (even flat index) in the high nibble:
//
//	Packed[j] = code_{2j}<<4 | code_{2j+1}    len(Packed) = (n+1)/2
//
// When n is odd the missing last value is taken as 0, i.e. the low nibble
// of the last byte is Q(0·inv). An all-zero block has absmax 0 and
// inv = +Inf; 0·Inf is NaN, which gives code 0 (its value is still ±0).
//
// Q is the rule of bitsandbytes' reference PyTorch backend, which the test
// vectors follow. The CUDA kernels (dQuantizeNF4/dQuantizeFP4 decision
// trees) give the same codes except for inputs that fall within a float32
// rounding of a threshold (4 float32 values for NF4, 40 for FP4) and for
// negative FP4 inputs that round to zero, where CUDA sets the sign bit (code
// 8, value −0) and Q gives code 0; the dequantized values are equal.
//
// Dequantization is value = Code()[code] · absmax[b] in float32.
//
// # Double quantization (compress_statistics=True)
//
// The float32 absmax vector (nb = ceil(n/BlockSize) values) is itself
// quantized with the 8-bit dynamic map (DynamicMap) in blocks of 256:
//
//	Offset     = mean(absmax)                   (float64 sum, rounded to float32)
//	c_b        = absmax[b] − Offset             (float32)
//	nested[j]  = max |c_b| over 256-block j
//	AbsmaxQ[b] = Q8(c_b · (1/nested[b/256]))    (Q8: argmin over the 256-entry map)
//
// and the scale used when dequantizing is
//
//	absmax'(b) = float32(NestedMap[AbsmaxQ[b]] · nested[b/256]) + Offset
//
// (two float32 roundings, never fused), which is bitsandbytes'
// dequantize_blockwise followed by "absmax += offset".
package quant

import (
	"fmt"
	"math"
	"sort"
	"sync"
)

// Type is a 4-bit code book.
type Type uint8

const (
	// NF4 is the 4-bit NormalFloat of QLoRA: 16 quantiles of N(0,1) scaled to
	// [-1, 1], with an exact 0.
	NF4 Type = 1
	// FP4 is bitsandbytes' 4-bit float (1 sign, 2 exponent, 1 mantissa bit,
	// values {0, 0.0625, 2, 3, 4, 6, 8, 12}/12 with a sign).
	FP4 Type = 2
)

// String returns "nf4" or "fp4" (the spelling of bnb_4bit_quant_type).
func (t Type) String() string {
	switch t {
	case NF4:
		return "nf4"
	case FP4:
		return "fp4"
	}
	return fmt.Sprintf("quant.Type(%d)", uint8(t))
}

// Valid reports whether t is NF4 or FP4.
func (t Type) Valid() bool { return t == NF4 || t == FP4 }

// ParseType parses "nf4" or "fp4".
func ParseType(s string) (Type, error) {
	switch s {
	case "nf4":
		return NF4, nil
	case "fp4":
		return FP4, nil
	}
	return 0, fmt.Errorf("quant: unknown 4-bit quant type %q (want \"nf4\" or \"fp4\")", s)
}

// nf4Code is bitsandbytes' NF4 table (get_4bit_type("nf4"), also the values
// returned by the CUDA dDequantizeNF4).
var nf4Code = [16]float32{
	-1.0,
	-0.6961928009986877,
	-0.5250730514526367,
	-0.39491748809814453,
	-0.28444138169288635,
	-0.18477343022823334,
	-0.09105003625154495,
	0.0,
	0.07958029955625534,
	0.16093020141124725,
	0.24611230194568634,
	0.33791524171829224,
	0.44070982933044434,
	0.5626170039176941,
	0.7229568362236023,
	1.0,
}

// fp4Raw is the FP4 table before normalisation by its absmax 12, indexed
// by the 4-bit code: bit 3 is the sign, bits 2..0 select the magnitude.
var fp4Raw = [8]float32{0, 0.0625, 8, 12, 4, 6, 2, 3}

// fp4Tables returns the FP4 table as dequantization sees it (index 8 is
// −0: the CUDA dDequantizeFP4Tree multiplies 0·absmax by the sign −1) and
// the quant_map that bitsandbytes stores (get_4bit_type builds it from the
// Python list [0, …, -0, …] whose -0 is the integer 0, so index 8 is +0).
func fp4Tables() (deq, stored [16]float32) {
	for i, v := range fp4Raw {
		m := v / 12 // float32 division, as data.div_(data.abs().max())
		deq[i], stored[i] = m, m
		deq[8+i] = -m
		stored[8+i] = -m
		if i == 0 {
			stored[8] = 0
		}
	}
	return deq, stored
}

var fp4Deq, fp4Stored = fp4Tables()

// Code returns the 16 values a 4-bit code decodes to (multiplied by the
// block's absmax): the NF4 table, or for FP4 {0, 0.0625, 8, 12, 4, 6, 2, 3}/12
// for codes 0..7 and their negatives for codes 8..15 (code 8 is −0).
// An invalid Type gives all zeros.
func (t Type) Code() [16]float32 {
	switch t {
	case NF4:
		return nf4Code
	case FP4:
		return fp4Deq
	}
	return [16]float32{}
}

// StoredQuantMap returns the float32 [16] "quant_map" tensor bitsandbytes
// writes for the type. It equals Code() except that FP4 index 8 is +0.
func (t Type) StoredQuantMap() [16]float32 {
	if t == FP4 {
		return fp4Stored
	}
	return t.Code()
}

func abs32(x float32) float32 { return math.Float32frombits(math.Float32bits(x) &^ (1 << 31)) }

// DynamicMap returns bitsandbytes' 8-bit dynamic quantization map,
// create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8), the
// code of the double-quantized absmax. For e = 0..6 it holds the 2^e means
// of neighbouring points of linspace(0.1, 1, 2^e+1) scaled by 10^(e−6),
// with both signs, plus 0 and 1, sorted ascending (256 values, −0.99296875
// … 1).
//
// Bit-exactness: bitsandbytes builds the map with torch on the CPU, whose
// float32 linspace is not the plain formula. With step = (end−start)/(steps−1)
// and half = steps/2, index i < half is fma(step, i, start) and i ≥ half is
// fma(−step, steps−1−i, end) (one rounding: the compiler contracts these),
// except that the first ⌊steps/16⌋·16 values are produced eight at a time
// (AVX2) as base + float32(j·step), j = 0..7, where base is the formula at
// the first index of the eight. The means are float32 (a+b)/2 and the scale
// is a float32 product with float32(10^(e−6)). This reproduces the
// reference map (testdata) bit for bit; a torch build that dispatches
// another vector width (AVX-512) may differ in the last bit of a few
// entries. Checkpoints store the map they were made with
// (nested_quant_map), so loading never depends on it.
func DynamicMap() [256]float32 { return dynamicMap() }

var dynamicMap = sync.OnceValue(func() [256]float32 {
	scales := [7]float64{1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1}
	data := make([]float32, 0, 256)
	for e, s := range scales {
		b := torchLinspace(0.1, 1, 1<<e+1)
		for j := 0; j+1 < len(b); j++ {
			m := (b[j] + b[j+1]) / 2
			v := float32(s) * m
			data = append(data, v, -v)
		}
	}
	data = append(data, 0, 1)
	sort.Slice(data, func(a, b int) bool { return data[a] < data[b] })
	var out [256]float32
	copy(out[:], data)
	return out
})

// torchLinspace reproduces torch.linspace(start, end, steps, dtype=float32)
// on an AVX2 CPU; see DynamicMap.
func torchLinspace(start, end float32, steps int) []float32 {
	step := (end - start) / float32(steps-1)
	half := steps / 2
	at := func(i int) float32 {
		if i < half {
			return fma32(step, float32(i), start)
		}
		return fma32(-step, float32(steps-1-i), end)
	}
	out := make([]float32, steps)
	vec := steps / 16 * 16 // the vectorized loop takes two 8-lane vectors per turn
	for c := 0; c < vec; c += 8 {
		base := at(c)
		for j := range 8 {
			out[c+j] = base + float32(float32(j)*step)
		}
	}
	for i := vec; i < steps; i++ {
		out[i] = at(i)
	}
	return out
}

// fma32 is a·b+c rounded once to float32, as a fused multiply-add would
// give it. a·b is exact in float64; the sum is formed exactly as s+err
// (TwoSum) and rounded to float64 "to odd" (an inexact s with an even
// significand is moved one ulp towards err), which makes the final rounding
// to float32 exact.
func fma32(a, b, c float32) float32 {
	p := float64(float64(a) * float64(b))
	cc := float64(c)
	s := p + cc
	bp := s - p
	err := (p - (s - bp)) + (cc - bp)
	if err != 0 && math.Float64bits(s)&1 == 0 {
		s = math.Nextafter(s, s+err)
	}
	return float32(s)
}

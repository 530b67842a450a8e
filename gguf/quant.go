package gguf

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/golora/golora/tensor"
)

// Dequantize decodes len(dst) elements of type t from src, which holds
// exactly len(dst)/BlockSize blocks, into dst; the values equal ggml's
// reference dequantize_row_* (and gguf-py's quants.py) bit for bit:
//
//	F32, F16, BF16  the stored value, widened exactly
//	Q8_0            block {d f16, q[32] int8}: y = d·q
//	Q4_0            block {d f16, q[16] bytes}: y[j] = d·(lo(q[j])−8),
//	                y[j+16] = d·(hi(q[j])−8)
//	Q4_1, Q5_0, Q5_1  see dequant32
//	Q2_K, Q3_K, Q5_K  see dequantQ2K, dequantQ3K, dequantQ5K
//	Q4_K            super-block {d, dmin f16, scales[12], q[128]}: eight
//	                32-element groups with 6-bit scale s and min m,
//	                y = (d·s)·q − dmin·m, q a 4-bit nibble
//	Q6_K            super-block {ql[128], qh[64], scales[16] int8, d f16}:
//	                sixteen 16-element groups, y = (d·scale)·(q−32), q the
//	                6 bits of a ql nibble and a qh bit pair
//
// Other types are an error naming the type.
func Dequantize(t Type, src []byte, dst []float32) error {
	if !t.Known() {
		return fmt.Errorf("unknown tensor type %d", uint32(t))
	}
	bs, ts := t.BlockSize(), t.TypeSize()
	if len(dst)%bs != 0 || len(src) != len(dst)/bs*ts {
		return fmt.Errorf("%s: %d bytes do not hold %d elements", t, len(src), len(dst))
	}
	if !dequantBlocks(t, ts, src, dst) {
		return fmt.Errorf("cannot dequantize %s (golora dequantizes F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K)", t)
	}
	return nil
}

// dequantBlocks is Dequantize without the checks: src holds exactly
// len(dst)/BlockSize blocks of the known type t, ts bytes each. It reports
// false for a type it does not decode. Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 and
// Q2_K to Q6_K go through the active kernel set's assembly where there is
// one (dequantSIMD), with the same results bit for bit.
func dequantBlocks(t Type, ts int, src []byte, dst []float32) bool {
	if len(dst) > 0 && dequantSIMD(t, ts, src, dst) {
		return true
	}
	switch t {
	case F32:
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
		}
	case F16:
		for i := range dst {
			dst[i] = tensor.F16ToF32(binary.LittleEndian.Uint16(src[2*i:]))
		}
	case BF16:
		for i := range dst {
			dst[i] = tensor.BF16ToF32(binary.LittleEndian.Uint16(src[2*i:]))
		}
	case Q8_0:
		for b := 0; b < len(dst)/32; b++ {
			blk, y := src[b*ts:(b+1)*ts], dst[b*32:(b+1)*32]
			d := f16(blk)
			for j, q := range blk[2:] {
				y[j] = float32(int8(q)) * d
			}
		}
	case Q4_0:
		for b := 0; b < len(dst)/32; b++ {
			blk, y := src[b*ts:(b+1)*ts], dst[b*32:(b+1)*32]
			d := f16(blk)
			for j, q := range blk[2:] {
				y[j] = float32(int(q&0xf)-8) * d
				y[j+16] = float32(int(q>>4)-8) * d
			}
		}
	case Q4_1, Q5_0, Q5_1:
		for b := 0; b < len(dst)/32; b++ {
			dequant32(t, src[b*ts:(b+1)*ts], dst[b*32:(b+1)*32])
		}
	case Q2_K, Q3_K, Q4_K, Q5_K, Q6_K:
		f := kDequant[t]
		for b := 0; b < len(dst)/qk; b++ {
			f(src[b*ts:(b+1)*ts], dst[b*qk:(b+1)*qk])
		}
	default:
		return false
	}
	return true
}

// dequant32 decodes one Q4_1, Q5_0 or Q5_1 block of 32 elements:
//
//	Q4_1  {d, m f16, q[16]}: y = d·x + m, x the 4-bit nibble
//	Q5_0  {d f16, qh uint32, q[16]}: y = d·(x − 16)
//	Q5_1  {d, m f16, qh uint32, q[16]}: y = d·x + m
//
// where element j < 16 is the low nibble of q[j] and j+16 the high one,
// and in Q5_* bit j of qh is the fifth bit of element j.
func dequant32(t Type, blk []byte, y []float32) {
	d := f16(blk)
	var m float32
	var qh uint32
	q := blk[2:]
	switch t {
	case Q4_1:
		m, q = f16(blk[2:]), blk[4:]
	case Q5_0:
		qh, q = binary.LittleEndian.Uint32(blk[2:]), blk[6:]
	case Q5_1:
		m, qh, q = f16(blk[2:]), binary.LittleEndian.Uint32(blk[4:]), blk[8:]
	}
	for j, v := range q {
		x0 := int(v&0xf) | int(qh>>j&1)<<4
		x1 := int(v>>4) | int(qh>>(j+16)&1)<<4
		if t == Q5_0 {
			y[j], y[j+16] = d*float32(x0-16), d*float32(x1-16)
		} else {
			y[j], y[j+16] = float32(d*float32(x0))+m, float32(d*float32(x1))+m
		}
	}
}

// f16 reads the little-endian half at the start of b.
func f16(b []byte) float32 { return tensor.F16ToF32(binary.LittleEndian.Uint16(b)) }

// kDequant decodes one super-block of each k-quant type.
var kDequant = [...]func(blk []byte, y []float32){Q2_K: dequantQ2K, Q3_K: dequantQ3K, Q4_K: dequantQ4K, Q5_K: dequantQ5K, Q6_K: dequantQ6K}

// kScaleMin unpacks the 6-bit scale and min of group j of a Q4_K or Q5_K
// super-block from its 12 scale bytes (ggml's get_scale_min_k4).
func kScaleMin(scales []byte, j int) (float32, float32) {
	if j < 4 {
		return float32(scales[j] & 63), float32(scales[j+4] & 63)
	}
	return float32(scales[j+4]&0xf | (scales[j-4]>>6)<<4), float32(scales[j+4]>>4 | (scales[j]>>6)<<4)
}

// dequantQ4K decodes one Q4_K super-block (ggml's dequantize_row_q4_K).
func dequantQ4K(blk []byte, y []float32) {
	d, dmin := f16(blk), f16(blk[2:])
	scales, q := blk[4:16], blk[16:]
	for g := 0; g < 4; g++ {
		s1, m1 := kScaleMin(scales, 2*g)
		s2, m2 := kScaleMin(scales, 2*g+1)
		d1, dm1 := d*s1, dmin*m1
		d2, dm2 := d*s2, dmin*m2
		qs, out := q[32*g:32*g+32], y[64*g:64*g+64]
		for l, v := range qs {
			out[l] = float32(d1*float32(v&0xf)) - dm1
			out[l+32] = float32(d2*float32(v>>4)) - dm2
		}
	}
}

// dequantQ5K decodes one Q5_K super-block (ggml's dequantize_row_q5_K):
// Q4_K's layout with a fifth bit per element in qh[32], bit g for group g.
func dequantQ5K(blk []byte, y []float32) {
	d, dmin := f16(blk), f16(blk[2:])
	scales, qh, q := blk[4:16], blk[16:48], blk[48:]
	for g := 0; g < 8; g++ {
		sc, m := kScaleMin(scales, g)
		dl, ml := d*sc, dmin*m
		qs, shift, out := q[32*(g/2):32*(g/2)+32], 4*(g%2), y[32*g:32*g+32]
		for l, v := range qs {
			x := v>>shift&0xf | (qh[l]>>g&1)<<4
			out[l] = float32(dl*float32(x)) - ml
		}
	}
}

// dequantQ2K decodes one Q2_K super-block {scales[16], q[64], d, dmin}
// (ggml's dequantize_row_q2_K): sixteen 16-element groups, each with a
// 4-bit scale and min, y = (d·scale)·q − dmin·min, q two bits.
func dequantQ2K(blk []byte, y []float32) {
	scales, q := blk[:16], blk[16:80]
	d, dmin := f16(blk[80:]), f16(blk[82:])
	for g := 0; g < 16; g++ {
		dl, ml := d*float32(scales[g]&0xf), dmin*float32(scales[g]>>4)
		qs, shift, out := q[32*(g/8)+16*(g%2):][:16], 2*((g%8)/2), y[16*g:16*g+16]
		for l, v := range qs {
			out[l] = float32(dl*float32(v>>shift&3)) - ml
		}
	}
}

// dequantQ3K decodes one Q3_K super-block {hmask[32], q[64], scales[12],
// d} (ggml's dequantize_row_q3_K): sixteen 16-element groups with 6-bit
// signed scales, y = (d·(scale−32))·(q − 4·(1−h)), q two bits and h the
// group's hmask bit.
func dequantQ3K(blk []byte, y []float32) {
	hmask, q, sc := blk[:32], blk[32:96], blk[96:108]
	d := f16(blk[108:])
	for g := 0; g < 16; g++ {
		lo := sc[g%8] >> (4 * (g / 8)) & 0xf
		hi := sc[8+g%4] >> (2 * (g / 4)) & 3
		dl := d * float32(int(lo|hi<<4)-32)
		off := 16 * (g % 2)
		qs, hm, shift, bit := q[32*(g/8)+off:][:16], hmask[off:off+16], 2*((g%8)/2), g/2
		out := y[16*g : 16*g+16]
		for l, v := range qs {
			x := int(v >> shift & 3)
			if hm[l]>>bit&1 == 0 {
				x -= 4
			}
			out[l] = dl * float32(x)
		}
	}
}

// dequantQ6K decodes one Q6_K super-block (ggml's dequantize_row_q6_K).
func dequantQ6K(blk []byte, y []float32) {
	ql, qh, sc := blk[:128], blk[128:192], blk[192:208]
	d := f16(blk[208:])
	for h := 0; h < 2; h++ {
		ql, qh, sc, out := ql[64*h:], qh[32*h:], sc[8*h:], y[128*h:]
		for l := 0; l < 32; l++ {
			is := l / 16
			q1 := int(ql[l]&0xf|(qh[l]>>0&3)<<4) - 32
			q2 := int(ql[l+32]&0xf|(qh[l]>>2&3)<<4) - 32
			q3 := int(ql[l]>>4|(qh[l]>>4&3)<<4) - 32
			q4 := int(ql[l+32]>>4|(qh[l]>>6&3)<<4) - 32
			out[l] = d * float32(int8(sc[is])) * float32(q1)
			out[l+32] = d * float32(int8(sc[is+2])) * float32(q2)
			out[l+64] = d * float32(int8(sc[is+4])) * float32(q3)
			out[l+96] = d * float32(int8(sc[is+6])) * float32(q4)
		}
	}
}

// Quantize encodes src as type t (F32, F16, BF16, Q8_0, Q4_0, Q5_0, Q5_1,
// Q4_K, Q5_K or Q6_K), as ggml's reference quantize_row_*_ref (what
// llama-quantize writes without an importance matrix) and gguf-py's
// quants.py do, byte for byte:
//
//	F16, BF16  round to nearest, ties to even (a NaN stays a quiet NaN)
//	Q8_0       per 32-element block: d = max|x|/127, q = round(x/d) (half
//	           away from zero), d stored as F16
//	Q4_0       per 32-element block: m = the element of largest |x| (the
//	           first one), d = m/−8, q = min(15, trunc(x/d + 8.5)); element
//	           j and j+16 share byte j (low, high nibble)
//	Q5_0       as Q4_0 with d = m/−16, q = min(31, trunc(x/d + 16.5)), the
//	           fifth bit of element j in bit j of qh
//	Q5_1       per block: m = min x, d = (max x − m)/31,
//	           q = trunc((x − m)/d + 0.5), bits as Q5_0
//	Q4_K, Q5_K, Q6_K  per 256-element super-block: see quantizeQ4K,
//	           quantizeQ5K, quantizeQ6K
//
// len(src) must be a multiple of the block size.
func Quantize(t Type, src []float32) ([]byte, error) {
	if !Quantizes(t) {
		return nil, fmt.Errorf("cannot quantize to %s (golora writes F32, F16, BF16, Q8_0, Q4_0, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K)", t)
	}
	if len(src)%t.BlockSize() != 0 {
		return nil, fmt.Errorf("cannot quantize %d elements as %s", len(src), t)
	}
	out := make([]byte, len(src)/t.BlockSize()*t.TypeSize())
	switch t {
	case F32:
		for i, v := range src {
			binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(v))
		}
	case F16:
		for i, v := range src {
			binary.LittleEndian.PutUint16(out[2*i:], tensor.F32ToF16(v))
		}
	case BF16:
		for i, v := range src {
			binary.LittleEndian.PutUint16(out[2*i:], tensor.F32ToBF16(v))
		}
	case Q8_0:
		for b := 0; b < len(src)/32; b++ {
			x, blk := src[32*b:32*b+32], out[34*b:34*b+34]
			var amax float32
			for _, v := range x {
				amax = max(amax, float32(math.Abs(float64(v))))
			}
			d := amax / 127
			var id float32
			if d != 0 {
				id = 1 / d
			}
			binary.LittleEndian.PutUint16(blk, tensor.F32ToF16(d))
			for j, v := range x {
				blk[2+j] = byte(int8(math.Round(float64(v * id))))
			}
		}
	case Q4_0:
		for b := 0; b < len(src)/32; b++ {
			x, blk := src[32*b:32*b+32], out[18*b:18*b+18]
			var amax, m float32
			for _, v := range x {
				if a := float32(math.Abs(float64(v))); amax < a {
					amax, m = a, v
				}
			}
			d := m / -8
			var id float32
			if d != 0 {
				id = 1 / d
			}
			binary.LittleEndian.PutUint16(blk, tensor.F32ToF16(d))
			for j := 0; j < 16; j++ {
				lo := min(15, int8(x[j]*id+8.5))
				hi := min(15, int8(x[j+16]*id+8.5))
				blk[2+j] = byte(lo) | byte(hi)<<4
			}
		}
	case Q5_0, Q5_1:
		ts := t.TypeSize()
		for b := 0; b < len(src)/32; b++ {
			quant5(t, src[32*b:32*b+32], out[ts*b:ts*b+ts])
		}
	case Q4_K, Q5_K, Q6_K:
		j := &kJob{f: kQuant[t], src: src, out: out, ts: t.TypeSize(), blocks: len(src) / qk}
		if j.parts = min(tensor.Threads(), j.blocks, 64); j.parts > 0 {
			var team tensor.Team
			team.Run(j.parts, j)
		}
	}
	return out, nil
}

// kJob quantizes the super-blocks of src into out with f, in parts run
// on tensor's worker pool (the k-quant searches take tens of operations
// per element and step); every block is independent, so the bytes do not
// depend on the split.
type kJob struct {
	f                 func(x []float32, blk []byte)
	src               []float32
	out               []byte
	ts, blocks, parts int
}

// RunPart quantizes part i of the blocks.
func (j *kJob) RunPart(i int) {
	for b := i * j.blocks / j.parts; b < (i+1)*j.blocks/j.parts; b++ {
		j.f(j.src[qk*b:qk*b+qk], j.out[j.ts*b:j.ts*b+j.ts])
	}
}

// kQuant encodes one super-block of each k-quant type Quantize writes.
var kQuant = map[Type]func(x []float32, blk []byte){Q4_K: quantizeQ4K, Q5_K: quantizeQ5K, Q6_K: quantizeQ6K}

// quant5 encodes one 32-element block x as Q5_0 ({d f16, qh uint32,
// q[16]}) or Q5_1 ({d, m f16, qh uint32, q[16]}); see Quantize.
func quant5(t Type, x []float32, blk []byte) {
	var d, m, off float32
	if t == Q5_0 {
		var amax, mx float32
		for _, v := range x {
			if a := abs32(v); amax < a {
				amax, mx = a, v
			}
		}
		d, off = mx/-16, 16.5
	} else {
		lo, hi := float32(math.MaxFloat32), float32(-math.MaxFloat32)
		for _, v := range x {
			if v < lo {
				lo = v
			}
			if v > hi {
				hi = v
			}
		}
		d, m, off = (hi-lo)/31, lo, 0.5
		binary.LittleEndian.PutUint16(blk[2:], tensor.F32ToF16(m))
	}
	var id float32
	if d != 0 {
		id = 1 / d
	}
	binary.LittleEndian.PutUint16(blk, tensor.F32ToF16(d))
	var qh uint32
	q := blk[len(blk)-16:]
	for j := range 16 {
		x0, x1 := uint8(int8((x[j]-m)*id+off)), uint8(int8((x[j+16]-m)*id+off))
		if t == Q5_0 {
			x0, x1 = min(31, x0), min(31, x1)
		}
		q[j] = x0&0xf | (x1&0xf)<<4
		qh |= uint32(x0>>4&1)<<j | uint32(x1>>4&1)<<(j+16)
	}
	binary.LittleEndian.PutUint32(blk[len(blk)-20:], qh)
}

// Quantizes reports whether Quantize writes type t.
func Quantizes(t Type) bool {
	switch t {
	case F32, F16, BF16, Q8_0, Q4_0, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K:
		return true
	}
	return false
}

// Float32 dequantizes the whole tensor (see Dequantize) into a new slice.
func (t Tensor) Float32() ([]float32, error) {
	out := make([]float32, t.NumElements())
	if err := Dequantize(t.Type, t.Data, out); err != nil {
		return nil, fmt.Errorf("tensor %q: %w", t.Name, err)
	}
	return out, nil
}

// NewTensor quantizes the row-major values of a tensor of the given shape
// to type t (see Quantize).
func NewTensor(name string, t Type, shape []int, values []float32) (Tensor, error) {
	tn := Tensor{Name: name, Type: t, Shape: shape}
	if n := tn.NumElements(); n != len(values) {
		return Tensor{}, fmt.Errorf("gguf: tensor %q: %d values for shape %v", name, len(values), shape)
	}
	data, err := Quantize(t, values)
	if err != nil {
		return Tensor{}, fmt.Errorf("gguf: tensor %q: %w", name, err)
	}
	tn.Data = data
	return tn, nil
}

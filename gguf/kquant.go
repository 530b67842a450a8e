package gguf

import (
	"encoding/binary"
	"math"

	"github.com/golora/golora/tensor"
)

// The k-quant quantizers below follow ggml's reference quantizers
// (quantize_row_q4_K_ref, _q5_K_ref, _q6_K_ref in ggml-quants.c) operation
// for operation in float32, so that they write the same bytes. Go may fuse
// x*y+z into one rounding on some architectures; every product that is
// added is therefore converted explicitly (float32(x*y)), which forbids the
// fusion, as ggml's build (SSE2, no -ffp-contract) computes them.

// groupMaxEps is ggml's GROUP_MAX_EPS: a group whose largest |x| is below
// it quantizes to zeros.
const groupMaxEps = 1e-15

// nearestInt rounds f to the nearest integer, ties to even, for |f| ≤
// 4194303, as ggml's nearest_int: the low 23 bits of f + 1.5·2²³.
func nearestInt(f float32) int {
	return int(math.Float32bits(f+12582912)&0x7fffff) - 0x400000
}

func abs32(x float32) float32 { return math.Float32frombits(math.Float32bits(x) &^ (1 << 31)) }

// quantizeQ4K encodes one 256-element super-block x as Q4_K into blk
// ({d, dmin f16, scales[12], q[128]}), as ggml's quantize_row_q4_K_ref:
// each 32-element group j gets a scale s_j and min m_j from makeQKX2
// (weights √(mean x²) + |x_i|, 20 steps from rmin −1), d = max s/63,
// dmin = max m/63, the 6-bit codes round(s_j/d) and round(m_j/dmin) packed
// as kScaleMin reads them, and q_i = clamp(round((x_i + dmin·m̂_j)/(d·ŝ_j)),
// 0, 15) with the stored (F16, 6-bit) values; element l and l+32 of each 64
// share a byte.
func quantizeQ4K(x []float32, blk []byte) { quantizeQ45K(x, blk, false) }

// quantizeQ5K encodes one super-block as Q5_K ({d, dmin f16, scales[12],
// qh[32], q[128]}), as ggml's quantize_row_q5_K_ref: quantizeQ4K's scheme
// with q_i ∈ [0, 31] (makeQKX2 with 15 steps from rmin −0.5), the low 4 bits
// in q and the fifth bit of element l+32·g in bit g of qh[l].
func quantizeQ5K(x []float32, blk []byte) { quantizeQ45K(x, blk, true) }

// quantizeQ45K is quantizeQ4K, or quantizeQ5K when five is set.
func quantizeQ45K(x []float32, blk []byte, five bool) {
	var (
		L              [qk]uint8
		weights        [32]float32
		scales, mins   [qk / 32]float32
		maxScale, maxM float32
	)
	nmax, rmin, nstep := 15, float32(-1), 20
	if five {
		nmax, rmin, nstep = 31, -0.5, 15
	}
	for j := range qk / 32 {
		xs := x[32*j : 32*j+32]
		var sumX2 float32
		for _, v := range xs {
			sumX2 += float32(v * v)
		}
		avX := float32(math.Sqrt(float64(sumX2 / 32)))
		for l, v := range xs {
			weights[l] = avX + abs32(v)
		}
		scales[j], mins[j] = makeQKX2(float32(nmax), xs, weights[:], L[32*j:32*j+32], rmin, 0.1, nstep)
		if scales[j] > maxScale {
			maxScale = scales[j]
		}
		if mins[j] > maxM {
			maxM = mins[j]
		}
	}
	var invScale, invMin float32
	if maxScale > 0 {
		invScale = 63 / maxScale
	}
	if maxM > 0 {
		invMin = 63 / maxM
	}
	sc := blk[4:16]
	clear(sc)
	for j := range qk / 32 {
		ls := min(63, uint8(nearestInt(invScale*scales[j])))
		lm := min(63, uint8(nearestInt(invMin*mins[j])))
		if j < 4 {
			sc[j], sc[j+4] = ls, lm
		} else {
			sc[j+4] = ls&0xf | (lm&0xf)<<4
			sc[j-4] |= ls >> 4 << 6
			sc[j] |= lm >> 4 << 6
		}
	}
	binary.LittleEndian.PutUint16(blk, tensor.F32ToF16(maxScale/63))
	binary.LittleEndian.PutUint16(blk[2:], tensor.F32ToF16(maxM/63))
	d, dmin := f16(blk), f16(blk[2:])
	for j := range qk / 32 {
		s, m := kScaleMin(sc, j)
		dj := d * s
		if dj == 0 {
			continue
		}
		dm := dmin * m
		for i, v := range x[32*j : 32*j+32] {
			L[32*j+i] = uint8(max(0, min(nmax, nearestInt((v+dm)/dj))))
		}
	}
	q, qh := blk[16:], []byte(nil)
	if five {
		qh, q = blk[16:48], blk[48:]
		clear(qh)
	}
	for n := 0; n < qk; n += 64 {
		for j := range 32 {
			l1, l2 := L[n+j], L[n+j+32]
			if five {
				qh[j] |= l1>>4<<(n/32) | l2>>4<<(n/32+1)
			}
			q[n/2+j] = l1&0xf | (l2&0xf)<<4
		}
	}
}

// makeQKX2 chooses a scale s and min m for the n = len(x) values x with
// weights w so that x_i ≈ s·L_i − m, L_i ∈ [0, nmax], as ggml's
// make_qkx2_quants (squared error, not MAD): start from the range
// [min(0, min x), max x], then try nstep+1 inverse scales
// (rmin + rdelta·k + nmax)/(max − min), each with the weighted
// least-squares s and m for its L (m clamped to ≤ 0 of x's side), keeping
// the one of least weighted squared error. It writes L and returns s and m.
func makeQKX2(nmax float32, x, w []float32, L []uint8, rmin, rdelta float32, nstep int) (float32, float32) {
	var laux [32]uint8
	lo, hi := x[0], x[0]
	sumW := w[0]
	sumX := float32(sumW * x[0])
	for i := 1; i < len(x); i++ {
		if x[i] < lo { // not min(): ggml keeps the first of −0 and +0
			lo = x[i]
		}
		if x[i] > hi {
			hi = x[i]
		}
		sumW += w[i]
		sumX += float32(w[i] * x[i])
	}
	if lo > 0 {
		lo = 0
	}
	if hi == lo {
		clear(L[:len(x)])
		return 0, -lo
	}
	iscale := nmax / (hi - lo)
	scale := 1 / iscale
	var bestErr float32
	for i, v := range x {
		L[i] = uint8(max(0, min(int(nmax), nearestInt(iscale*(v-lo)))))
		diff := float32(scale*float32(L[i])) + lo - v
		bestErr += float32(w[i] * float32(diff*diff))
	}
	for is := 0; is <= nstep; is++ {
		iscale = (rmin + float32(rdelta*float32(is)) + nmax) / (hi - lo)
		var sumL, sumL2, sumXL float32
		for i, v := range x {
			l := max(0, min(int(nmax), nearestInt(iscale*(v-lo))))
			laux[i] = uint8(l)
			fl := float32(l)
			sumL += float32(w[i] * fl)
			sumL2 += float32(w[i] * fl * fl)
			sumXL += float32(w[i] * fl * v)
		}
		det := float32(sumW*sumL2) - float32(sumL*sumL)
		if !(det > 0) {
			continue
		}
		thisScale := (float32(sumW*sumXL) - float32(sumX*sumL)) / det
		thisMin := (float32(sumL2*sumX) - float32(sumL*sumXL)) / det
		if thisMin > 0 {
			thisMin = 0
			thisScale = sumXL / sumL2
		}
		var curErr float32
		for i, v := range x {
			diff := float32(thisScale*float32(laux[i])) + thisMin - v
			curErr += float32(w[i] * float32(diff*diff))
		}
		if curErr < bestErr {
			copy(L, laux[:len(x)])
			bestErr, scale, lo = curErr, thisScale, thisMin
		}
	}
	return scale, -lo
}

// quantizeQ6K encodes one 256-element super-block x as Q6_K into blk
// ({ql[128], qh[64], scales[16] int8, d f16}), as ggml's
// quantize_row_q6_K_ref: each 16-element group gets a signed scale from
// makeQX (nmax 32, weights x²), d = −(the scale of largest |·|)/128, the
// int8 codes min(127, round(scale/d)), and q_i = clamp(round(x_i/(d·code)),
// −32, 31) + 32, its low 4 bits in ql and high 2 bits in qh (the layout
// dequantQ6K reads). A block whose scales are all below groupMaxEps is
// zeros.
func quantizeQ6K(x []float32, blk []byte) {
	var (
		L                   [qk]int8
		scales              [qk / 16]float32
		maxScale, maxAbsSca float32
	)
	for ib := range qk / 16 {
		scales[ib] = makeQX(32, x[16*ib:16*ib+16], L[16*ib:16*ib+16])
		if a := abs32(scales[ib]); a > maxAbsSca {
			maxAbsSca, maxScale = a, scales[ib]
		}
	}
	clear(blk)
	if maxAbsSca < groupMaxEps {
		return
	}
	ql, qh, sc := blk[:128], blk[128:192], blk[192:208]
	iscale := -128 / maxScale
	binary.LittleEndian.PutUint16(blk[208:], tensor.F32ToF16(1/iscale))
	for ib, s := range scales {
		sc[ib] = byte(int8(min(127, nearestInt(iscale*s))))
	}
	d := f16(blk[208:])
	for j := range qk / 16 {
		dj := d * float32(int8(sc[j]))
		if dj == 0 {
			continue
		}
		for i, v := range x[16*j : 16*j+16] {
			L[16*j+i] = int8(max(-32, min(31, nearestInt(v/dj))) + 32)
		}
	}
	for h := range 2 {
		L, ql, qh := L[128*h:], ql[64*h:], qh[32*h:]
		for l := range 32 {
			q1, q2, q3, q4 := byte(L[l]), byte(L[l+32]), byte(L[l+64]), byte(L[l+96])
			ql[l] = q1&0xf | q3<<4
			ql[l+32] = q2&0xf | q4<<4
			qh[l] = q1>>4 | q2>>4<<2 | q3>>4<<4 | q4>>4<<6
		}
	}
}

// makeQX chooses a signed scale s for the values x so that x_i ≈ s·(L_i −
// nmax), L_i ∈ [0, 2·nmax), as ggml's make_qx_quants with rmse_type 1 and
// no importance weights: start from s = max/(−nmax) (max the value of
// largest |x|), then try inverse scales −(nmax + 0.1·k)/max, k = −9…9,
// keeping the one whose least-squares scale Σw·x·l/Σw·l² (w = x²) gives
// the largest (Σw·x·l)²/Σw·l². It writes L and returns s; an all-zero
// group (max |x| < groupMaxEps) gives L = 0 and s = 0.
func makeQX(nmax int, x []float32, L []int8) float32 {
	var mx, amax float32
	for _, v := range x {
		if a := abs32(v); a > amax {
			amax, mx = a, v
		}
	}
	if amax < groupMaxEps {
		clear(L[:len(x)])
		return 0
	}
	fn := float32(nmax)
	level := func(iscale, v float32) int { return max(-nmax, min(nmax-1, nearestInt(iscale*v))) }
	sums := func(iscale float32) (sumlx, suml2 float32) {
		for _, v := range x {
			l := float32(level(iscale, v))
			w := v * v
			sumlx += float32(w * v * l)
			suml2 += float32(w * l * l)
		}
		return sumlx, suml2
	}
	iscale := -fn / mx
	for i, v := range x {
		L[i] = int8(level(iscale, v) + nmax)
	}
	sumlx, suml2 := sums(iscale)
	var scale float32
	if suml2 != 0 {
		scale = sumlx / suml2
	}
	best := scale * sumlx
	for is := -9; is <= 9; is++ {
		if is == 0 {
			continue
		}
		iscale = -(fn + float32(0.1*float32(is))) / mx
		sumlx, suml2 = sums(iscale)
		if suml2 > 0 && sumlx*sumlx > best*suml2 {
			for i, v := range x {
				L[i] = int8(level(iscale, v) + nmax)
			}
			scale = sumlx / suml2
			best = scale * sumlx
		}
	}
	return scale
}

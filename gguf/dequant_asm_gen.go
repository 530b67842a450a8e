//go:build ignore

// This program writes dequant_amd64.s, the AVX-512 and AVX2 assembly of
// Dequantize for Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 and the k-quants Q2_K to Q6_K:
//
//	go run dequant_asm_gen.go
//
// Every function has the signature
//
//	func name(dst *float32, src *byte, blocks int)
//
// and decodes blocks whole blocks of src into dst. Each value is computed
// with the operations of the Go dequantizer in quant.go, in its order and
// rounded to float32 after each one (never fused): the quantized integers
// are widened to int32 lanes (VPMOVZXBD/VPMOVSXBD) and converted exactly
// (VCVTDQ2PS), the F16 scales are widened exactly (VCVTPH2PS), and the
// products and differences are the single VMULPS and VSUBPS of the Go
// expression, so the results are bit-identical to it. AVX-512 works on 16
// values a register, AVX2 on 8; both emit the same sequence per register.
package main

import (
	"bytes"
	"fmt"
	"log"
	"os"
)

var out bytes.Buffer

func w(format string, args ...any) { fmt.Fprintf(&out, format+"\n", args...) }

// vec is one kernel set's vector registers: prefix Z (16 lanes) or Y (8).
type vec struct {
	set   string // name suffix: AVX512 or AVX2
	p     string // register prefix
	lanes int
}

// r names vector register n at the set's width.
func (v vec) r(n int) string { return fmt.Sprintf("%s%d", v.p, n) }

// and and or are the bitwise instructions at the set's width (AVX-512
// spells them with an element size).
func (v vec) and() string {
	if v.p == "Z" {
		return "VPANDD"
	}
	return "VPAND"
}

func (v vec) or() string {
	if v.p == "Z" {
		return "VPORD"
	}
	return "VPOR"
}

var (
	avx512 = vec{"AVX512", "Z", 16}
	avx2   = vec{"AVX2", "Y", 8}
)

// Registers that hold a constant for the whole function, where it uses it.
const (
	rMask15 = 15 // 0x0f in every dword (every function)
	rK      = 14 // in every dword: 8 (Q4_0's offset), 16 (Q5_0's offset, the fifth bit of Q5_*), 32 (Q6_K's offset), 4 (Q3_K's high bit and offset)
	rMask30 = 13 // 0x30 in every dword (Q6_K)
	rIota   = 12 // AVX2 Q5_0 and Q5_1: lane i holds i
	rMask3  = 10 // 3 in every dword (Q2_K, Q3_K)
	rC32    = 11 // 32 in every dword (Q3_K)
)

// function writes a function of name base+v.set with a local frame of
// frame bytes (hardware SP offsets 0…frame−1) that runs body once per
// block of blockBytes bytes and elems values.
func function(base string, v vec, frame, blockBytes, elems int, doc string, setup, body func()) {
	name := base + v.set
	w("// func %s(dst *float32, src *byte, blocks int)", name)
	w("//")
	w("// %s", doc)
	w("TEXT ·%s(SB), NOSPLIT, $%d-24", name, frame)
	w("\tMOVQ dst+0(FP), DI")
	w("\tMOVQ src+8(FP), SI")
	w("\tMOVQ blocks+16(FP), CX")
	w("\tVPBROADCASTD c15<>(SB), %s", v.r(rMask15))
	setup()
	w("")
	w("loop:")
	w("\tTESTQ CX, CX")
	w("\tJEQ done")
	body()
	w("\tADDQ $%d, SI", blockBytes)
	w("\tADDQ $%d, DI", 4*elems)
	w("\tDECQ CX")
	w("\tJMP loop")
	w("")
	w("done:")
	w("\tVZEROUPPER")
	w("\tRET")
	w("")
}

// scale broadcasts the F16 at off(SI) to every lane of v's register n.
func scale(v vec, off, n int) {
	half := "X" // the halves: 8 in an XMM for 8 float32 lanes, 16 in a YMM for 16
	if v.p == "Z" {
		half = "Y"
	}
	w("\tVPBROADCASTW %d(SI), %s%d", off, half, n)
	w("\tVCVTPH2PS %s%d, %s", half, n, v.r(n))
}

// finish converts the int32 lanes of register n to float32, multiplies
// them by register d and stores them at off(DI).
func finish(v vec, n, d, off int) {
	w("\tVCVTDQ2PS %s, %s", v.r(n), v.r(n))
	w("\tVMULPS %s, %s, %s", v.r(d), v.r(n), v.r(n))
	w("\tVMOVUPS %s, %d(DI)", v.r(n), off)
}

// q8_0: {d f16, q[32] int8}, y = q·d.
func q8_0(v vec) {
	function("dequantQ8_0", v, 0, 34, 32, "Q8_0: y[j] = float32(q[j])·d.", func() {}, func() {
		scale(v, 0, 0)
		for c := 0; c < 32/v.lanes; c++ {
			n := 1 + c%4
			w("\tVPMOVSXBD %d(SI), %s", 2+c*v.lanes, v.r(n))
			finish(v, n, 0, 4*c*v.lanes)
		}
	})
}

// finishMin is finish followed by adding register m: y = float32(d·x) + m.
func finishMin(v vec, n, d, m, off int) {
	w("\tVCVTDQ2PS %s, %s", v.r(n), v.r(n))
	w("\tVMULPS %s, %s, %s", v.r(d), v.r(n), v.r(n))
	w("\tVADDPS %s, %s, %s", v.r(m), v.r(n), v.r(n))
	w("\tVMOVUPS %s, %d(DI)", v.r(n), off)
}

// store32 ends value register n of a 32-value block (Q4_*, Q5_*): with a
// min (in register rMin), float32(d·x) + m; without, d·(x − offset), the
// offset in register rK.
func store32(v vec, n, off int, withMin bool) {
	if withMin {
		finishMin(v, n, 0, rMin, off)
		return
	}
	w("\tVPSUBD %s, %s, %s", v.r(rK), v.r(n), v.r(n))
	finish(v, n, 0, off)
}

// rMin holds the broadcast min m of Q4_1 and Q5_1 blocks.
const rMin = 11

// q4 writes Q4_0 ({d f16, q[16]}, y[j] = (lo(q[j])−8)·d, y[j+16] =
// (hi(q[j])−8)·d) or, withMin, Q4_1 ({d, m f16, q[16]}, y =
// float32(d·x) + m with x the nibble).
func q4(v vec, withMin bool) {
	name, size, q, doc := "dequantQ4_0", 18, 2, "Q4_0: y[j] = (lo(q[j])−8)·d, y[j+16] = (hi(q[j])−8)·d."
	if withMin {
		name, size, q, doc = "dequantQ4_1", 20, 4, "Q4_1: y[j] = float32(d·lo(q[j])) + m, y[j+16] the same with hi(q[j])."
	}
	function(name, v, 0, size, 32, doc, func() {
		w("\tVPBROADCASTD c8<>(SB), %s", v.r(rK))
	}, func() {
		scale(v, 0, 0)
		if withMin {
			scale(v, 2, rMin)
		}
		for c := 0; c < 16/v.lanes; c++ {
			lo, hi := 1+2*c, 2+2*c
			w("\tVPMOVZXBD %d(SI), %s", q+c*v.lanes, v.r(lo))
			w("\tVPSRLD $4, %s, %s", v.r(lo), v.r(hi))
			w("\t%s %s, %s, %s", v.and(), v.r(rMask15), v.r(lo), v.r(lo))
			store32(v, lo, 4*c*v.lanes, withMin)
			store32(v, hi, 4*(16+c*v.lanes), withMin)
		}
	})
}

// q5 writes Q5_0 ({d f16, qh uint32, q[16]}, y = d·(x−16)) or, withMin,
// Q5_1 ({d, m f16, qh uint32, q[16]}, y = float32(d·x) + m), x a nibble of
// q as in Q4_0 and bit j of qh the fifth bit of value j. AVX-512 sets the
// fifth bits under the masks qh[0:16] and qh[16:32]; AVX2 shifts the
// broadcast qh right by the value index in each lane.
func q5(v vec, withMin bool) {
	name, size, qh, doc := "dequantQ5_0", 22, 2, "Q5_0: y[j] = d·((lo(q[j]) | qh bit j<<4) − 16), y[j+16] the same with hi(q[j]), bit j+16."
	if withMin {
		name, size, qh, doc = "dequantQ5_1", 24, 4, "Q5_1: y[j] = float32(d·(lo(q[j]) | qh bit j<<4)) + m, y[j+16] the same with hi(q[j]), bit j+16."
	}
	q := qh + 4
	function(name, v, 0, size, 32, doc, func() {
		w("\tVPBROADCASTD c16<>(SB), %s", v.r(rK))
		if v.p == "Y" {
			w("\tVMOVDQU iota<>(SB), %s", v.r(rIota))
		}
	}, func() {
		scale(v, 0, 0)
		if withMin {
			scale(v, 2, rMin)
		}
		if v.p == "Z" {
			w("\tKMOVW %d(SI), K1", qh)
			w("\tKMOVW %d(SI), K2", qh+2)
			w("\tVPMOVZXBD %d(SI), Z1", q)
			w("\tVPSRLD $4, Z1, Z2")
			w("\tVPANDD Z%d, Z1, Z1", rMask15)
			w("\tVPORD Z%d, Z1, K1, Z1", rK)
			w("\tVPORD Z%d, Z2, K2, Z2", rK)
			store32(v, 1, 0, withMin)
			store32(v, 2, 64, withMin)
			return
		}
		w("\tVPBROADCASTD %d(SI), Y3", qh)
		for c := 0; c < 4; c++ { // values 8c…8c+7
			if c > 0 {
				w("\tVPSRLD $8, Y3, Y3")
			}
			w("\tVPSRLVD Y%d, Y3, Y4", rIota)
			w("\tVPSLLD $4, Y4, Y4")
			w("\tVPAND Y%d, Y4, Y4 // fifth bits", rK)
			w("\tVPMOVZXBD %d(SI), Y1", q+8*(c%2))
			if c >= 2 {
				w("\tVPSRLD $4, Y1, Y1")
			} else {
				w("\tVPAND Y%d, Y1, Y1", rMask15)
			}
			w("\tVPOR Y4, Y1, Y1")
			store32(v, 1, 32*c, withMin)
		}
	})
}

// qk45 writes Q4_K (super-block {d, dmin f16, scales[12], q[128]}) or,
// with5, Q5_K (the same with qh[32] before q, bit g of qh[l] the fifth
// bit of value l of group g). The 6-bit scales and mins are unpacked as
// ggml's utmp words (scales 0…3 = s[0:4]&63, 4…7 = s[8:12]&15 |
// (s[0:4]>>6)<<4; mins 0…3 = s[4:8]&63, 4…7 = s[8:12]>>4 |
// (s[4:8]>>6)<<4), then d·scale and dmin·min go to the frame (0(SP) and
// 32(SP)) and are broadcast per 32-value group g: y = (d·scale)·x −
// dmin·min, x the low nibble of q[32(g/2)+l] for even g, the high for odd.
func qk45(v vec, with5 bool) {
	name, size, q, doc := "dequantQ4K", 144, 16, "Q4_K: y = float32(d·scale)·q − float32(dmin·min) per 32-value group."
	if with5 {
		name, size, q, doc = "dequantQ5K", 176, 48, "Q5_K: y = float32(d·scale)·q − float32(dmin·min) per 32-value group, q with a fifth bit from qh."
	}
	function(name, v, 64, size, 256, doc, func() {
		if with5 {
			w("\tVPBROADCASTD c16<>(SB), %s", v.r(rK))
		}
	}, func() {
		w("\tMOVL 4(SI), R8")
		w("\tMOVL 8(SI), R9")
		w("\tMOVL 12(SI), R10")
		w("\tMOVL R10, R11")
		w("\tSHRL $4, R11")
		w("\tANDL $0x0f0f0f0f, R11")
		w("\tMOVL R9, R12")
		w("\tSHRL $6, R12")
		w("\tANDL $0x03030303, R12")
		w("\tSHLL $4, R12")
		w("\tORL R12, R11 // mins 4…7")
		w("\tANDL $0x3f3f3f3f, R9 // mins 0…3")
		w("\tANDL $0x0f0f0f0f, R10")
		w("\tMOVL R8, R12")
		w("\tSHRL $6, R12")
		w("\tANDL $0x03030303, R12")
		w("\tSHLL $4, R12")
		w("\tORL R12, R10 // scales 4…7")
		w("\tANDL $0x3f3f3f3f, R8 // scales 0…3")
		w("\tSHLQ $32, R10")
		w("\tORQ R10, R8")
		w("\tSHLQ $32, R11")
		w("\tORQ R11, R9")
		w("\tVPBROADCASTW 0(SI), X0")
		w("\tVCVTPH2PS X0, Y0 // d")
		w("\tVPBROADCASTW 2(SI), X1")
		w("\tVCVTPH2PS X1, Y1 // dmin")
		w("\tVMOVQ R8, X2")
		w("\tVPMOVZXBD X2, Y2")
		w("\tVCVTDQ2PS Y2, Y2")
		w("\tVMULPS Y2, Y0, Y2")
		w("\tVMOVUPS Y2, 0(SP) // d·scale")
		w("\tVMOVQ R9, X3")
		w("\tVPMOVZXBD X3, Y3")
		w("\tVCVTDQ2PS Y3, Y3")
		w("\tVMULPS Y3, Y1, Y3")
		w("\tVMOVUPS Y3, 32(SP) // dmin·min")
		for g := 0; g < 4; g++ { // bytes q[32g:32g+32]: groups 2g (low nibbles) and 2g+1 (high)
			w("\tVBROADCASTSS %d(SP), %s", 4*(2*g), v.r(4))
			w("\tVBROADCASTSS %d(SP), %s", 32+4*(2*g), v.r(5))
			w("\tVBROADCASTSS %d(SP), %s", 4*(2*g+1), v.r(6))
			w("\tVBROADCASTSS %d(SP), %s", 32+4*(2*g+1), v.r(7))
			for c := 0; c < 32/v.lanes; c++ {
				lo, hi := 8+2*(c%2), 9+2*(c%2)
				w("\tVPMOVZXBD %d(SI), %s", q+32*g+c*v.lanes, v.r(lo))
				w("\tVPSRLD $4, %s, %s", v.r(lo), v.r(hi))
				w("\t%s %s, %s, %s", v.and(), v.r(rMask15), v.r(lo), v.r(lo))
				if with5 { // bits 2g and 2g+1 of qh[32c'…] to bit 4
					w("\tVPMOVZXBD %d(SI), %s", 16+c*v.lanes, v.r(1))
					for k, n := range []int{lo, hi} {
						moveBit(v, 2*g+k, 4, 1, 2)
						w("\t%s %s, %s, %s", v.or(), v.r(2), v.r(n), v.r(n))
					}
				}
				for k, n := range []int{lo, hi} {
					w("\tVCVTDQ2PS %s, %s", v.r(n), v.r(n))
					w("\tVMULPS %s, %s, %s", v.r(4+2*k), v.r(n), v.r(n))
					w("\tVSUBPS %s, %s, %s", v.r(5+2*k), v.r(n), v.r(n))
					w("\tVMOVUPS %s, %d(DI)", v.r(n), 4*(64*g+32*k+c*v.lanes))
				}
			}
		}
	})
}

// moveBit sets register dst to bit b of each dword of register src, moved
// to bit to: (src >> b & 1) << to, with 1<<to in every dword of register rK.
func moveBit(v vec, b, to, src, dst int) {
	switch {
	case b < to:
		w("\tVPSLLD $%d, %s, %s", to-b, v.r(src), v.r(dst))
		w("\t%s %s, %s, %s", v.and(), v.r(rK), v.r(dst), v.r(dst))
	case b == to:
		w("\t%s %s, %s, %s", v.and(), v.r(rK), v.r(src), v.r(dst))
	default:
		w("\tVPSRLD $%d, %s, %s", b-to, v.r(src), v.r(dst))
		w("\t%s %s, %s, %s", v.and(), v.r(rK), v.r(dst), v.r(dst))
	}
}

// q2k: super-block {scales[16], q[64], d, dmin f16}: sixteen 16-value
// groups g with a 4-bit scale and min in scales[g] (low, high nibble),
// y = float32(d·scale)·x − float32(dmin·min), x the 2 bits at
// 2·((g%8)/2) of q[32(g/8) + 16(g%2) + l]. d·scale goes to the frame at
// 0(SP), dmin·min at 64(SP).
func q2k(v vec) {
	doc := "Q2_K: y = float32(d·scale)·q − float32(dmin·min) per 16-value group."
	function("dequantQ2K", v, 128, 84, 256, doc, func() {
		w("\tVPBROADCASTD c3<>(SB), %s", v.r(rMask3))
	}, func() {
		scale(v, 80, 0)
		scale(v, 82, 1)
		for c := 0; c < 16/v.lanes; c++ {
			w("\tVPMOVZXBD %d(SI), %s", c*v.lanes, v.r(2))
			w("\tVPSRLD $4, %s, %s", v.r(2), v.r(3))
			w("\t%s %s, %s, %s", v.and(), v.r(rMask15), v.r(2), v.r(2))
			w("\tVCVTDQ2PS %s, %s", v.r(2), v.r(2))
			w("\tVCVTDQ2PS %s, %s", v.r(3), v.r(3))
			w("\tVMULPS %s, %s, %s", v.r(2), v.r(0), v.r(2))
			w("\tVMULPS %s, %s, %s", v.r(3), v.r(1), v.r(3))
			w("\tVMOVUPS %s, %d(SP) // d·scale", v.r(2), 4*c*v.lanes)
			w("\tVMOVUPS %s, %d(SP) // dmin·min", v.r(3), 64+4*c*v.lanes)
		}
		for g := 0; g < 16; g++ {
			w("\tVBROADCASTSS %d(SP), %s", 4*g, v.r(4))
			w("\tVBROADCASTSS %d(SP), %s", 64+4*g, v.r(5))
			shift := 2 * ((g % 8) / 2)
			for c := 0; c < 16/v.lanes; c++ {
				n := 6 + c
				w("\tVPMOVZXBD %d(SI), %s", 16+32*(g/8)+16*(g%2)+c*v.lanes, v.r(n))
				if shift > 0 {
					w("\tVPSRLD $%d, %s, %s", shift, v.r(n), v.r(n))
				}
				w("\t%s %s, %s, %s", v.and(), v.r(rMask3), v.r(n), v.r(n))
				w("\tVCVTDQ2PS %s, %s", v.r(n), v.r(n))
				w("\tVMULPS %s, %s, %s", v.r(4), v.r(n), v.r(n))
				w("\tVSUBPS %s, %s, %s", v.r(5), v.r(n), v.r(n))
				w("\tVMOVUPS %s, %d(DI)", v.r(n), 4*(16*g+c*v.lanes))
			}
		}
	})
}

// q3k: super-block {hmask[32], q[64], scales[12], d f16}: sixteen
// 16-value groups g with 6-bit scales unpacked as ggml's aux words
// (scale g = lo | hi<<4, lo the nibble 4·(g/8) of scales[g%8], hi the 2
// bits 2·(g/4) of scales[8+g%4]), d·(scale−32) in the frame (0(SP)), and
// y = float32(d·(scale−32))·x, x = (2 bits at 2·((g%8)/2) of
// q[32(g/8)+16(g%2)+l]) − 4 where bit g/2 of hmask[16(g%2)+l] is clear.
func q3k(v vec) {
	doc := "Q3_K: y = float32(d·(scale−32))·(q − 4·(1−h)) per 16-value group."
	function("dequantQ3K", v, 64, 110, 256, doc, func() {
		w("\tVPBROADCASTD c3<>(SB), %s", v.r(rMask3))
		w("\tVPBROADCASTD c4<>(SB), %s", v.r(rK))
		w("\tVPBROADCASTD c32<>(SB), %s", v.r(rC32))
	}, func() {
		w("\tMOVL 96(SI), R8")
		w("\tMOVL 100(SI), R9")
		w("\tMOVL 104(SI), R10")
		for _, a := range []struct {
			dst, src string
			lo       bool // the low nibbles of src (scales 0…7), else the high (8…15)
			hiBits   int  // where the two high bits are in R10
		}{{"R11", "R8", false, 4}, {"R12", "R9", false, 6}, {"R8", "R8", true, 0}, {"R9", "R9", true, 2}} {
			if a.dst != a.src {
				w("\tMOVL %s, %s", a.src, a.dst)
			}
			if !a.lo {
				w("\tSHRL $4, %s", a.dst)
			}
			w("\tANDL $0x0f0f0f0f, %s", a.dst)
			w("\tMOVL R10, R13")
			if a.hiBits > 0 {
				w("\tSHRL $%d, R13", a.hiBits)
			}
			w("\tANDL $0x03030303, R13")
			w("\tSHLL $4, R13")
			w("\tORL R13, %s", a.dst)
		}
		w("\tSHLQ $32, R9")
		w("\tORQ R9, R8 // scales 0…7")
		w("\tSHLQ $32, R12")
		w("\tORQ R12, R11 // scales 8…15")
		w("\tVMOVQ R8, X2")
		w("\tVPINSRQ $1, R11, X2, X2")
		scale(v, 108, 0)
		if v.p == "Z" {
			w("\tVPMOVZXBD X2, Z2")
		} else {
			w("\tVPSRLDQ $8, X2, X3")
			w("\tVPMOVZXBD X3, Y3")
			w("\tVPMOVZXBD X2, Y2")
		}
		for c := 0; c < 16/v.lanes; c++ {
			n := 2 + c
			w("\tVPSUBD %s, %s, %s", v.r(rC32), v.r(n), v.r(n))
			w("\tVCVTDQ2PS %s, %s", v.r(n), v.r(n))
			w("\tVMULPS %s, %s, %s", v.r(n), v.r(0), v.r(n))
			w("\tVMOVUPS %s, %d(SP) // d·(scale−32)", v.r(n), 4*c*v.lanes)
		}
		for g := 0; g < 16; g++ {
			w("\tVBROADCASTSS %d(SP), %s", 4*g, v.r(4))
			shift := 2 * ((g % 8) / 2)
			for c := 0; c < 16/v.lanes; c++ {
				n, h := 6+c, 8+c
				w("\tVPMOVZXBD %d(SI), %s", 32+32*(g/8)+16*(g%2)+c*v.lanes, v.r(n))
				if shift > 0 {
					w("\tVPSRLD $%d, %s, %s", shift, v.r(n), v.r(n))
				}
				w("\t%s %s, %s, %s", v.and(), v.r(rMask3), v.r(n), v.r(n))
				w("\tVPMOVZXBD %d(SI), %s", 16*(g%2)+c*v.lanes, v.r(h))
				moveBit(v, g/2, 2, h, h)
				w("\t%s %s, %s, %s", v.or(), v.r(h), v.r(n), v.r(n))
				w("\tVPSUBD %s, %s, %s", v.r(rK), v.r(n), v.r(n))
				w("\tVCVTDQ2PS %s, %s", v.r(n), v.r(n))
				w("\tVMULPS %s, %s, %s", v.r(4), v.r(n), v.r(n))
				w("\tVMOVUPS %s, %d(DI)", v.r(n), 4*(16*g+c*v.lanes))
			}
		}
	})
}

// q6k: super-block {ql[128], qh[64], scales[16] int8, d f16}. Value o of
// half h (o < 128) has group (o/16) and 6-bit code from a nibble of
// ql[64h + o%64] (low for o < 64) and 2 bits of qh[32h + o%32] (bits
// 2·(o/32)); y = (d·scale)·(q−32), d·scale in the frame (0(SP)).
func q6k(v vec) {
	doc := "Q6_K: y = float32(d·scale)·(q−32) per 16-value group."
	function("dequantQ6K", v, 64, 210, 256, doc, func() {
		w("\tVPBROADCASTD c32<>(SB), %s", v.r(rK))
		w("\tVPBROADCASTD c30<>(SB), %s", v.r(rMask30))
	}, func() {
		scale(v, 208, 0)
		for c := 0; c < 16/v.lanes; c++ {
			w("\tVPMOVSXBD %d(SI), %s", 192+c*v.lanes, v.r(1))
			w("\tVCVTDQ2PS %s, %s", v.r(1), v.r(1))
			w("\tVMULPS %s, %s, %s", v.r(1), v.r(0), v.r(1))
			w("\tVMOVUPS %s, %d(SP) // d·scale", v.r(1), 4*c*v.lanes)
		}
		for h := 0; h < 2; h++ {
			for l0 := 0; l0 < 32; l0 += v.lanes {
				a, b, hb := 1, 2, 3
				w("\tVPMOVZXBD %d(SI), %s", 64*h+l0, v.r(a))
				w("\tVPMOVZXBD %d(SI), %s", 64*h+32+l0, v.r(b))
				w("\tVPMOVZXBD %d(SI), %s", 128+32*h+l0, v.r(hb))
				for k := 0; k < 4; k++ {
					q, t := 4+2*(k%2), 5+2*(k%2)
					src := a
					if k%2 == 1 {
						src = b
					}
					if k < 2 {
						w("\t%s %s, %s, %s", v.and(), v.r(rMask15), v.r(src), v.r(q))
					} else {
						w("\tVPSRLD $4, %s, %s", v.r(src), v.r(q))
					}
					bits := t // qh bits 2k, 2k+1 moved to bits 4, 5
					switch k {
					case 0:
						w("\tVPSLLD $4, %s, %s", v.r(hb), v.r(t))
					case 1:
						w("\tVPSLLD $2, %s, %s", v.r(hb), v.r(t))
					case 2:
						bits = hb // already there
					case 3:
						w("\tVPSRLD $2, %s, %s", v.r(hb), v.r(t))
					}
					w("\t%s %s, %s, %s", v.and(), v.r(rMask30), v.r(bits), v.r(t))
					w("\t%s %s, %s, %s", v.or(), v.r(t), v.r(q), v.r(q))
					w("\tVPSUBD %s, %s, %s", v.r(rK), v.r(q), v.r(q))
					w("\tVCVTDQ2PS %s, %s", v.r(q), v.r(q))
					w("\tVBROADCASTSS %d(SP), %s", 4*(8*h+2*k+l0/16), v.r(t))
					w("\tVMULPS %s, %s, %s", v.r(t), v.r(q), v.r(q))
					w("\tVMOVUPS %s, %d(DI)", v.r(q), 4*(128*h+32*k+l0))
				}
			}
		}
	})
}

func main() {
	w("// Code generated by dequant_asm_gen.go; DO NOT EDIT.")
	w("")
	w("//go:build amd64 && !purego")
	w("")
	w("#include \"textflag.h\"")
	w("")
	for _, c := range []struct {
		name string
		v    int
	}{{"c3", 3}, {"c4", 4}, {"c8", 8}, {"c15", 15}, {"c16", 16}, {"c30", 0x30}, {"c32", 32}} {
		w("DATA %s<>+0(SB)/4, $%d", c.name, c.v)
		w("GLOBL %s<>(SB), RODATA|NOPTR, $4", c.name)
	}
	w("")
	w("// iota holds 0, 1, …, 7.")
	for i := 0; i < 8; i++ {
		w("DATA iota<>+%d(SB)/4, $%d", 4*i, i)
	}
	w("GLOBL iota<>(SB), RODATA|NOPTR, $32")
	w("")
	for _, v := range []vec{avx512, avx2} {
		q8_0(v)
		q4(v, false)
		q4(v, true)
		q5(v, false)
		q5(v, true)
		qk45(v, false)
		qk45(v, true)
		q2k(v)
		q3k(v)
		q6k(v)
	}
	if err := os.WriteFile("dequant_amd64.s", append(bytes.TrimRight(out.Bytes(), "\n"), '\n'), 0o644); err != nil {
		log.Fatal(err)
	}
}

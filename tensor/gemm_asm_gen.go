//go:build ignore

// This program writes gemm_amd64.s, the AVX2+FMA and AVX-512 assembly of
// Gemm:
//
//	go run gemm_asm_gen.go
//
// The micro-kernels are unrolled register blocks (mr rows × nr columns of C
// held in YMM or ZMM accumulators); the packing routines are 8×8
// transposes; the dot-product routines serve one-row products (x·Wᵀ for a
// single token). They are written out here rather than by hand so that the
// unrolling stays consistent.
package main

import (
	"bytes"
	"fmt"
	"log"
	"os"
)

var out bytes.Buffer

func w(format string, args ...any) { fmt.Fprintf(&out, format+"\n", args...) }

// kernel emits an mr×(8·nvec) micro-kernel with Go signature
//
//	func name(kc int, a *float32, rsa, csa int, b *float32, csb int, c *float32, ldc int, alpha, beta float32)
//
// computing C = alpha·Ã·B̃ + beta·C where Ã[i][p] = a[i·rsa + p·csa] and
// B̃[p][j] = b[p·csb + j] (j < nr contiguous). Accumulator Y(i·nvec+v)
// holds C[i][8v : 8v+8]; each depth step loads nvec vectors of B̃ and
// broadcasts mr values of Ã.
//
// With csa > 0 the kernel is for packed panels: Ã's depth stride is csa
// floats and B̃'s is nr (the csa and csb arguments are not read), so the
// steps of the 4-step loop address Ã and B̃ with constant displacements
// and the pointers advance once per 4 steps: 3 integer additions per 4
// steps instead of 3 per step (on Intel cores they would otherwise take
// cycles of the FMA ports).
func kernel(name string, mr, nvec, csa int) { kernelTiles(name, mr, nvec, csa, false) }

// kernelTiles emits kernel's micro-kernel, or with tiles its variant for
// packed Ã (csa > 0) that computes a column of tiles in one call:
//
//	func name(kc int, a *float32, rsa, csa int, b *float32, csb int, c *float32, ldc int, alpha, beta float32, tiles, pa int)
//
// tile q < tiles is the micro-kernel's tile with Ã at a + q·pa and C at
// c + q·mr·ldc (the same B̃), each computed exactly as by one call of the
// micro-kernel: a call per column instead of per tile.
func kernelTiles(name string, mr, nvec, csa int, tiles bool) {
	nr := 8 * nvec
	if mr*nvec+nvec+1 > 16 || mr > 6 {
		log.Fatalf("%s: does not fit the 16 YMM registers", name)
	}
	if tiles && csa == 0 {
		log.Fatalf("%s: a column of tiles needs packed panels (R12, R13 free)", name)
	}
	frame, args := 72, ""
	if tiles {
		frame, args = 88, ", tiles, pa int"
	}
	w("// func %s(kc int, a *float32, rsa, csa int, b *float32, csb int, c *float32, ldc int, alpha, beta float32%s)", name, args)
	w("//")
	w("// C[%d×%d] = alpha·Ã·B̃ + beta·C with Ã[i][p] = a[i·rsa+p·csa], B̃[p][j] = b[p·csb+j],", mr, nr)
	w("// C[i][j] = c[i·ldc+j]. Accumulators Y0…Y%d (row i in Y%d·i…); each depth step", mr*nvec-1, nvec)
	w("// loads %d vectors of B̃ and broadcasts %d elements of Ã. beta == 0 does not read C.", nvec, mr)
	if tiles {
		w("// Tiles q < tiles: Ã at a + q·pa, C at c + q·%d·ldc; R12 counts them, R13 is the", mr)
		w("// step from the end of one Ã panel to the start of the next: 4·(pa − %d·kc) bytes.", csa)
	}
	w("TEXT ·%s(SB), NOSPLIT, $0-%d", name, frame)
	if !tiles {
		w("\tMOVQ kc+0(FP), CX")
	}
	w("\tMOVQ a+8(FP), AX")
	w("\tMOVQ rsa+16(FP), R11")
	w("\tSHLQ $2, R11")
	if csa == 0 {
		w("\tMOVQ csa+24(FP), R12")
		w("\tSHLQ $2, R12")
	}
	if !tiles {
		w("\tMOVQ b+32(FP), BX")
	}
	if csa == 0 {
		w("\tMOVQ csb+40(FP), R13")
		w("\tSHLQ $2, R13")
	}
	w("\tMOVQ c+48(FP), DI")
	w("\tMOVQ ldc+56(FP), SI")
	w("\tSHLQ $2, SI")
	if tiles {
		w("\tMOVQ tiles+72(FP), R12")
		w("\tMOVQ kc+0(FP), R9")
		w("\tIMULQ $%d, R9", csa)
		w("\tMOVQ pa+80(FP), R13")
		w("\tSUBQ R9, R13")
		w("\tSHLQ $2, R13")
		w("%s_tile:", name)
		w("\tMOVQ kc+0(FP), CX")
		w("\tMOVQ b+32(FP), BX")
	}
	w("\tLEAQ (AX)(R11*2), R10")
	w("\tADDQ R11, R10 // R10 = row 3 of Ã")
	w("\tMOVQ DI, R8")
	for i := 0; i < mr; i++ {
		w("\tPREFETCHT0 (R8)")
		w("\tPREFETCHT0 %d(R8)", nr*4-4)
		if i < mr-1 {
			w("\tADDQ SI, R8")
		}
	}
	for r := 0; r < mr*nvec; r++ {
		w("\tVXORPS Y%d, Y%d, Y%d", r, r, r)
	}
	aRegs := []string{"(AX)", "(AX)(R11*1)", "(AX)(R11*2)", "(R10)", "(R10)(R11*1)", "(R10)(R11*2)"}
	st := stepper{csa: csa, nr: nr, bases: []string{"AX", "R10"}}
	breg := func(v int) int { return mr*nvec + v }
	tmps := []int{}
	for r := mr*nvec + nvec; r < 16; r++ {
		tmps = append(tmps, r)
	}
	step := func(s int) {
		for v := 0; v < nvec; v++ {
			w("\tVMOVUPS %d(BX), Y%d", 32*v+st.bDisp(s), breg(v))
		}
		st.stepB()
		for i := 0; i < mr; i++ {
			t := tmps[i%len(tmps)]
			w("\tVBROADCASTSS %s%s, Y%d", st.aDisp(s), aRegs[i], t)
			for v := 0; v < nvec; v++ {
				w("\tVFMADD231PS Y%d, Y%d, Y%d", breg(v), t, i*nvec+v)
			}
		}
		st.stepA()
	}
	st.loops(name, step)
	alpha, beta := 12, 13
	if mr*nvec > 12 {
		log.Fatal("store needs Y12…Y15")
	}
	w("\tVBROADCASTSS alpha+64(FP), Y%d", alpha)
	w("\tMOVL beta+68(FP), R9")
	w("\tANDL $0x7fffffff, R9")
	w("\tJZ %s_store0", name)
	w("\tVBROADCASTSS beta+68(FP), Y%d", beta)
	for i := 0; i < mr; i++ {
		for v := 0; v < nvec; v++ {
			t := 14 + v%2
			w("\tVMULPS %d(DI), Y%d, Y%d", 32*v, beta, t)
			w("\tVFMADD231PS Y%d, Y%d, Y%d", alpha, i*nvec+v, t)
			w("\tVMOVUPS Y%d, %d(DI)", t, 32*v)
		}
		if i < mr-1 {
			w("\tADDQ SI, DI")
		}
	}
	nextTile(name, tiles)
	w("\tVZEROUPPER")
	w("\tRET")
	w("%s_store0:", name)
	for i := 0; i < mr; i++ {
		for v := 0; v < nvec; v++ {
			r := i*nvec + v
			w("\tVMULPS Y%d, Y%d, Y%d", alpha, r, r)
			w("\tVMOVUPS Y%d, %d(DI)", r, 32*v)
		}
		if i < mr-1 {
			w("\tADDQ SI, DI")
		}
	}
	nextTile(name, tiles)
	w("\tVZEROUPPER")
	w("\tRET")
	w("")
}

// nextTile emits, for kernelTiles with tiles, the step to the next tile
// after a tile's last row of C is stored: C one row down, Ã to the next
// panel, and back to the top while tiles remain.
func nextTile(name string, tiles bool) {
	if !tiles {
		return
	}
	w("\tADDQ SI, DI")
	w("\tADDQ R13, AX")
	w("\tDECQ R12")
	w("\tJNZ %s_tile", name)
}

// stepper addresses the depth steps of a micro-kernel's loop. With
// csa == 0 the depth strides are in registers (R12 bytes for Ã, R13 for
// B̃) and every step advances the pointers. With csa > 0 Ã's depth stride
// is csa floats and B̃'s nr: step s of a 4-step iteration is addressed at
// a constant displacement, and the pointers advance once per iteration.
type stepper struct {
	csa, nr int
	bases   []string // the registers that hold row bases of Ã
}

// aDisp is the displacement of Ã at step s of an iteration ("" for 0).
func (st stepper) aDisp(s int) string {
	if st.csa == 0 || s == 0 {
		return ""
	}
	return fmt.Sprint(4 * st.csa * s)
}

// bDisp is the byte displacement of B̃ at step s of an iteration.
func (st stepper) bDisp(s int) int { return 4 * st.nr * s * min(st.csa, 1) }

// stepB and stepA advance B̃ and Ã after a step, where the strides are
// in registers.
func (st stepper) stepB() {
	if st.csa == 0 {
		w("\tADDQ R13, BX")
	}
}

func (st stepper) stepA() {
	if st.csa == 0 {
		for _, b := range st.bases {
			w("\tADDQ R12, %s", b)
		}
	}
}

// advance moves the pointers on by n steps, where the strides are
// constants.
func (st stepper) advance(n int) {
	if st.csa == 0 {
		return
	}
	for _, b := range st.bases {
		w("\tADDQ $%d, %s", 4*st.csa*n, b)
	}
	w("\tADDQ $%d, BX", 4*st.nr*n)
}

// loops emits the depth loop over kc (in CX): ⌊kc/4⌋ iterations of 4
// steps, then one step at a time; step(s) emits step s of an iteration.
func (st stepper) loops(name string, step func(s int)) {
	w("\tMOVQ CX, DX")
	w("\tSHRQ $2, DX")
	w("\tANDQ $3, CX")
	w("\tTESTQ DX, DX")
	w("\tJZ %s_tail", name)
	w("%s_loop4:", name)
	for s := 0; s < 4; s++ {
		step(s)
	}
	st.advance(4)
	w("\tDECQ DX")
	w("\tJNZ %s_loop4", name)
	w("%s_tail:", name)
	w("\tTESTQ CX, CX")
	w("\tJZ %s_store", name)
	w("%s_loop1:", name)
	step(0)
	st.advance(1)
	w("\tDECQ CX")
	w("\tJNZ %s_loop1", name)
	w("%s_store:", name)
}

// kernel512 emits an mr×(16·nvec) AVX-512 micro-kernel with the same Go
// signature and contract as kernel. Accumulator Z(i·nvec+v) holds
// C[i][16v : 16v+16]; each depth step loads nvec vectors of B̃ and takes
// each element of Ã as an embedded broadcast operand of its FMAs, so no
// register is spent on broadcasts: mr·nvec + nvec ≤ 32. csa > 0 makes
// the variant for packed panels, as in kernel.
func kernel512(name string, mr, nvec, csa int) {
	nr := 16 * nvec
	if mr*nvec+nvec > 32 || mr > 15 || 32-mr*nvec < 4 {
		log.Fatalf("%s: does not fit the 32 ZMM registers", name)
	}
	w("// func %s(kc int, a *float32, rsa, csa int, b *float32, csb int, c *float32, ldc int, alpha, beta float32)", name)
	w("//")
	w("// C[%d×%d] = alpha·Ã·B̃ + beta·C with Ã[i][p] = a[i·rsa+p·csa], B̃[p][j] = b[p·csb+j],", mr, nr)
	w("// C[i][j] = c[i·ldc+j]. Accumulators Z0…Z%d (row i in Z%d·i…); each depth step", mr*nvec-1, nvec)
	w("// loads %d vectors of B̃ and takes %d elements of Ã as broadcast operands.", nvec, mr)
	w("// beta == 0 does not read C. AVX-512F.")
	w("TEXT ·%s(SB), NOSPLIT, $0-72", name)
	w("\tMOVQ kc+0(FP), CX")
	w("\tMOVQ a+8(FP), AX")
	w("\tMOVQ rsa+16(FP), R11")
	w("\tSHLQ $2, R11")
	if csa == 0 {
		w("\tMOVQ csa+24(FP), R12")
		w("\tSHLQ $2, R12")
	}
	w("\tMOVQ b+32(FP), BX")
	if csa == 0 {
		w("\tMOVQ csb+40(FP), R13")
		w("\tSHLQ $2, R13")
	}
	w("\tMOVQ c+48(FP), DI")
	w("\tMOVQ ldc+56(FP), SI")
	w("\tSHLQ $2, SI")
	// Row bases: rows 3g…3g+2 of Ã at bases[g] + {0, 1, 2}·rsa. R14 (g in
	// Go's internal ABI) is free here: this is an ABI0 function, whose
	// wrapper restores it.
	bases := []string{"AX", "R10", "R8", "R9", "R14"}
	ng := (mr + 2) / 3
	w("\tMOVQ DI, R8")
	for i := 0; i < mr; i++ {
		w("\tPREFETCHT0 (R8)")
		w("\tPREFETCHT0 %d(R8)", nr*4-4)
		if i < mr-1 {
			w("\tADDQ SI, R8")
		}
	}
	for g := 1; g < ng; g++ {
		w("\tLEAQ (%s)(R11*2), %s", bases[g-1], bases[g])
		w("\tADDQ R11, %s // row %d of Ã", bases[g], 3*g)
	}
	for r := 0; r < mr*nvec; r++ {
		w("\tVPXORD Z%d, Z%d, Z%d", r, r, r)
	}
	st := stepper{csa: csa, nr: nr, bases: bases[:ng]}
	aAddr := func(i, s int) string {
		b := bases[i/3]
		switch i % 3 {
		case 1:
			return fmt.Sprintf("%s(%s)(R11*1)", st.aDisp(s), b)
		case 2:
			return fmt.Sprintf("%s(%s)(R11*2)", st.aDisp(s), b)
		}
		return fmt.Sprintf("%s(%s)", st.aDisp(s), b)
	}
	breg := func(v int) int { return mr*nvec + v }
	step := func(s int) {
		for v := 0; v < nvec; v++ {
			w("\tVMOVUPS %d(BX), Z%d", 64*v+st.bDisp(s), breg(v))
		}
		st.stepB()
		for i := 0; i < mr; i++ {
			for v := 0; v < nvec; v++ {
				w("\tVFMADD231PS.BCST %s, Z%d, Z%d", aAddr(i, s), breg(v), i*nvec+v)
			}
		}
		st.stepA()
	}
	st.loops(name, step)
	alpha, beta, t0 := 31, 30, mr*nvec
	w("\tVBROADCASTSS alpha+64(FP), Z%d", alpha)
	w("\tMOVL beta+68(FP), R9")
	w("\tANDL $0x7fffffff, R9")
	w("\tJZ %s_store0", name)
	w("\tVBROADCASTSS beta+68(FP), Z%d", beta)
	for i := 0; i < mr; i++ {
		for v := 0; v < nvec; v++ {
			t := t0 + v%2
			w("\tVMULPS %d(DI), Z%d, Z%d", 64*v, beta, t)
			w("\tVFMADD231PS Z%d, Z%d, Z%d", alpha, i*nvec+v, t)
			w("\tVMOVUPS Z%d, %d(DI)", t, 64*v)
		}
		if i < mr-1 {
			w("\tADDQ SI, DI")
		}
	}
	w("\tVZEROUPPER")
	w("\tRET")
	w("%s_store0:", name)
	for i := 0; i < mr; i++ {
		for v := 0; v < nvec; v++ {
			r := i*nvec + v
			w("\tVMULPS Z%d, Z%d, Z%d", alpha, r, r)
			w("\tVMOVUPS Z%d, %d(DI)", r, 64*v)
		}
		if i < mr-1 {
			w("\tADDQ SI, DI")
		}
	}
	w("\tVZEROUPPER")
	w("\tRET")
	w("")
}

// transpose16 emits
//
//	func name(dst *float32, src *T, ld, kc8 int)
//
// which packs 16 rows of a row-major source (row r at src + r·ld) and 8·kc8
// columns into dst[p·dstride + r] = float32(src[r·ld + p]): two 8×8 transposes
// per 8 columns. bf16 sources are widened by zero-extending each 16-bit
// value and shifting it into the top half of a 32-bit lane.
func transpose16(name string, bf16 bool, dstride int) {
	typ, esz := "float32", 4
	if bf16 {
		typ, esz = "uint16", 2
	}
	w("// func %s(dst *float32, src *%s, ld, kc8 int)", name, typ)
	w("//")
	w("// dst[p·%d+r] = src[r·ld+p] widened to float32, for r < 16, p < 8·kc8.", dstride)
	w("TEXT ·%s(SB), NOSPLIT, $0-32", name)
	w("\tMOVQ dst+0(FP), DI")
	w("\tMOVQ src+8(FP), SI")
	w("\tMOVQ ld+16(FP), DX")
	w("\tSHLQ $%d, DX", esz/2)
	w("\tMOVQ kc8+24(FP), CX")
	w("\tTESTQ CX, CX")
	w("\tJZ %s_done", name)
	// Row pointers: rows 0-2 from SI, 3-5 from R8, 6-7 from R9; rows
	// 8-15 the same from R10, R11, R12.
	w("\tLEAQ (SI)(DX*2), R8")
	w("\tADDQ DX, R8")
	w("\tLEAQ (R8)(DX*2), R9")
	w("\tADDQ DX, R9")
	w("\tLEAQ (R9)(DX*2), R10")
	w("\tLEAQ (R10)(DX*2), R11")
	w("\tADDQ DX, R11")
	w("\tLEAQ (R11)(DX*2), R12")
	w("\tADDQ DX, R12")
	w("%s_loop:", name)
	rows := [2][8]string{
		{"(SI)", "(SI)(DX*1)", "(SI)(DX*2)", "(R8)", "(R8)(DX*1)", "(R8)(DX*2)", "(R9)", "(R9)(DX*1)"},
		{"(R10)", "(R10)(DX*1)", "(R10)(DX*2)", "(R11)", "(R11)(DX*1)", "(R11)(DX*2)", "(R12)", "(R12)(DX*1)"},
	}
	for half := 0; half < 2; half++ {
		for r := 0; r < 8; r++ {
			if bf16 {
				w("\tVPMOVZXWD %s, Y%d", rows[half][r], r)
				w("\tVPSLLD $16, Y%d, Y%d", r, r)
			} else {
				w("\tVMOVUPS %s, Y%d", rows[half][r], r)
			}
		}
		// t(2q) = unpacklo(r(2q), r(2q+1)), t(2q+1) = unpackhi: Y8…Y15
		for q := 0; q < 4; q++ {
			w("\tVUNPCKLPS Y%d, Y%d, Y%d", 2*q+1, 2*q, 8+2*q)
			w("\tVUNPCKHPS Y%d, Y%d, Y%d", 2*q+1, 2*q, 8+2*q+1)
		}
		// s: rows 0-3 from t8…t11 into Y0…Y3, rows 4-7 from t12…t15 into Y4…Y7;
		// s(4g+0) = col 0|4, s(4g+1) = col 1|5, s(4g+2) = col 2|6, s(4g+3) = col 3|7.
		for g := 0; g < 2; g++ {
			t := 8 + 4*g
			w("\tVSHUFPS $0x44, Y%d, Y%d, Y%d", t+2, t, 4*g+0)
			w("\tVSHUFPS $0xEE, Y%d, Y%d, Y%d", t+2, t, 4*g+1)
			w("\tVSHUFPS $0x44, Y%d, Y%d, Y%d", t+3, t+1, 4*g+2)
			w("\tVSHUFPS $0xEE, Y%d, Y%d, Y%d", t+3, t+1, 4*g+3)
		}
		// column q (q < 4): low lanes of s(q) and s(4+q); column q+4: high lanes.
		for q := 0; q < 4; q++ {
			w("\tVPERM2F128 $0x20, Y%d, Y%d, Y%d", 4+q, q, 8+q)
			w("\tVPERM2F128 $0x31, Y%d, Y%d, Y%d", 4+q, q, 12+q)
		}
		for q := 0; q < 8; q++ {
			w("\tVMOVUPS Y%d, %d(DI)", 8+q, q*4*dstride+half*32)
		}
	}
	for _, r := range []string{"SI", "R8", "R9", "R10", "R11", "R12"} {
		w("\tADDQ $%d, %s", 8*esz, r)
	}
	w("\tADDQ $%d, DI", 8*4*dstride)
	w("\tDECQ CX")
	w("\tJNZ %s_loop", name)
	w("%s_done:", name)
	w("\tVZEROUPPER")
	w("\tRET")
	w("")
}

// dot4 emits
//
//	func name(k16 int, x *float32, w *T, ld int, y *[4]float32)
//
// which sets y[r] = Σ_{p<16·k16} x[p]·float32(w[r·ld + p]) for r < 4: four
// dot products sharing the loads of x, each kept in two accumulators
// (Y2r, Y2r+1) so that eight FMAs are in flight, then reduced across lanes.
// Each step prefetches the same bytes of the next four rows of W, as
// dotRows512 does.
func dot4(name string, bf16 bool) {
	typ, esz := "float32", 4
	if bf16 {
		typ, esz = "uint16", 2
	}
	w("// func %s(k16 int, x *float32, w *%s, ld int, y *[4]float32)", name, typ)
	w("//")
	w("// y[r] = Σ_{p<16·k16} x[p]·w[r·ld+p] (widened to float32), r < 4.")
	w("TEXT ·%s(SB), NOSPLIT, $0-40", name)
	w("\tMOVQ k16+0(FP), CX")
	w("\tMOVQ x+8(FP), SI")
	w("\tMOVQ w+16(FP), DI")
	w("\tMOVQ ld+24(FP), DX")
	w("\tSHLQ $%d, DX", esz/2)
	w("\tMOVQ y+32(FP), R8")
	w("\tLEAQ (DI)(DX*2), R9")
	w("\tLEAQ (DI)(DX*4), R10 // R10, R11: rows 4 and 6 of W, prefetched")
	w("\tLEAQ (R9)(DX*4), R11")
	for r := 0; r < 8; r++ {
		w("\tVXORPS Y%d, Y%d, Y%d", r, r, r)
	}
	w("\tTESTQ CX, CX")
	w("\tJZ %s_reduce", name)
	w("%s_loop:", name)
	w("\tVMOVUPS (SI), Y8")
	w("\tVMOVUPS 32(SI), Y9")
	for _, addr := range []string{"(R10)", "(R10)(DX*1)", "(R11)", "(R11)(DX*1)"} {
		w("\tPREFETCHT0 %s", addr)
	}
	rows := []string{"(DI)", "(DI)(DX*1)", "(R9)", "(R9)(DX*1)"}
	for r, addr := range rows {
		for half := 0; half < 2; half++ {
			reg := 10 + half
			off := ""
			if half == 1 {
				off = fmt.Sprint(8 * esz)
			}
			if bf16 {
				w("\tVPMOVZXWD %s%s, Y%d", off, addr, reg)
				w("\tVPSLLD $16, Y%d, Y%d", reg, reg)
			} else {
				w("\tVMOVUPS %s%s, Y%d", off, addr, reg)
			}
			w("\tVFMADD231PS Y%d, Y%d, Y%d", reg, 8+half, 2*r+half)
		}
	}
	w("\tADDQ $64, SI")
	w("\tADDQ $%d, DI", 16*esz)
	w("\tADDQ $%d, R9", 16*esz)
	w("\tADDQ $%d, R10", 16*esz)
	w("\tADDQ $%d, R11", 16*esz)
	w("\tDECQ CX")
	w("\tJNZ %s_loop", name)
	w("%s_reduce:", name)
	for r := 0; r < 4; r++ {
		w("\tVADDPS Y%d, Y%d, Y%d", 2*r+1, 2*r, 2*r)
	}
	// [a01 a23 b01 b23 | a45 a67 b45 b67], the same for c, d, then
	// [a0123 b0123 c0123 d0123 | a4567 …]; the two halves are added.
	w("\tVHADDPS Y2, Y0, Y0")
	w("\tVHADDPS Y6, Y4, Y4")
	w("\tVHADDPS Y4, Y0, Y0")
	w("\tVEXTRACTF128 $1, Y0, X1")
	w("\tVADDPS X1, X0, X0")
	w("\tVMOVUPS X0, (R8)")
	w("\tVZEROUPPER")
	w("\tRET")
	w("")
}

// dotRows512 emits
//
//	func name(k16 int, a *float32, lda int, w *T, ldw int, y *[24]float32)
//
// which sets y[4i+j] = Σ_{p<16·k16} a[i·lda+p]·float32(w[j·ldw+p]) for
// i < mr, j < 4: the dot products of mr rows of A with four rows of W,
// each pair (i, j) in its own ZMM accumulator Z(4i+j). Each pair's
// numbers are exactly those of dot4 (whose two YMM accumulators per row
// are this accumulator's low and high halves, the same FMA chains), and
// so is the reduction: the halves added, then dot4's VHADDPS tree.
// Each step also prefetches the same 64 bytes of the next four rows of W
// (those of the caller's next call, ld·4 further on): a one-row product
// is bound by reading W from memory, and the hardware prefetchers stop
// at every 4 KiB page of the four streams.
func dotRows512(name string, mr int, bf16 bool) {
	typ, esz := "float32", 4
	if bf16 {
		typ, esz = "uint16", 2
	}
	if mr < 1 || mr > 6 {
		log.Fatalf("%s: %d rows do not fit the 32 ZMM registers", name, mr)
	}
	w("// func %s(k16 int, a *float32, lda int, w *%s, ldw int, y *[24]float32)", name, typ)
	w("//")
	w("// y[4i+j] = Σ_{p<16·k16} a[i·lda+p]·w[j·ldw+p] (widened to float32), i < %d, j < 4,", mr)
	w("// with the FMA chains and reduction of dot4. AVX-512F.")
	w("TEXT ·%s(SB), NOSPLIT, $0-48", name)
	w("\tMOVQ k16+0(FP), CX")
	w("\tMOVQ a+8(FP), SI")
	w("\tMOVQ lda+16(FP), R8")
	w("\tSHLQ $2, R8")
	w("\tMOVQ w+24(FP), DI")
	w("\tMOVQ ldw+32(FP), DX")
	w("\tSHLQ $%d, DX", esz/2)
	w("\tMOVQ y+40(FP), R11")
	w("\tLEAQ (DI)(DX*2), R9")
	w("\tLEAQ (SI)(R8*2), R10")
	w("\tADDQ R8, R10 // R10 = row 3 of A")
	w("\tLEAQ (DI)(DX*4), R12 // R12, R13: rows 4 and 6 of W, prefetched")
	w("\tLEAQ (R9)(DX*4), R13")
	for r := 0; r < 4*mr; r++ {
		w("\tVPXORD Z%d, Z%d, Z%d", r, r, r)
	}
	w("\tTESTQ CX, CX")
	w("\tJZ %s_reduce", name)
	w("%s_loop:", name)
	aAddr := []string{"(SI)", "(SI)(R8*1)", "(SI)(R8*2)", "(R10)", "(R10)(R8*1)", "(R10)(R8*2)"}
	for i := 0; i < mr; i++ {
		w("\tVMOVUPS %s, Z%d", aAddr[i], 24+i)
	}
	for _, addr := range []string{"(R12)", "(R12)(DX*1)", "(R13)", "(R13)(DX*1)"} {
		w("\tPREFETCHT0 %s", addr)
	}
	for j, addr := range []string{"(DI)", "(DI)(DX*1)", "(R9)", "(R9)(DX*1)"} {
		if bf16 {
			w("\tVPMOVZXWD %s, Z30", addr)
			w("\tVPSLLD $16, Z30, Z30")
		} else {
			w("\tVMOVUPS %s, Z30", addr)
		}
		for i := 0; i < mr; i++ {
			w("\tVFMADD231PS Z30, Z%d, Z%d", 24+i, 4*i+j)
		}
	}
	w("\tADDQ $64, SI")
	w("\tADDQ $64, R10")
	w("\tADDQ $%d, DI", 16*esz)
	w("\tADDQ $%d, R9", 16*esz)
	w("\tADDQ $%d, R12", 16*esz)
	w("\tADDQ $%d, R13", 16*esz)
	w("\tDECQ CX")
	w("\tJNZ %s_loop", name)
	w("%s_reduce:", name)
	for i := 0; i < mr; i++ {
		for j := 0; j < 4; j++ {
			w("\tVEXTRACTF64X4 $1, Z%d, Y24", 4*i+j)
			w("\tVADDPS Y24, Y%d, Y%d", 4*i+j, j)
		}
		w("\tVHADDPS Y1, Y0, Y0")
		w("\tVHADDPS Y3, Y2, Y2")
		w("\tVHADDPS Y2, Y0, Y0")
		w("\tVEXTRACTF128 $1, Y0, X1")
		w("\tVADDPS X1, X0, X0")
		w("\tVMOVUPS X0, %d(R11)", 16*i)
	}
	w("\tVZEROUPPER")
	w("\tRET")
	w("")
}

// tailRows512 emits
//
//	func name(tail int, a *float32, lda int, wt *float32, m int, y *float32, ldy int)
//
// which adds, for each of m rows i and sixteen columns c, the tail of the
// dot products one product at a time, each rounded to float32 before it
// is added (as Go adds float32(x·w)): y[i·ldy+c] += a[i·lda+p]·wt[16p+c]
// for p = 0, 1, …, tail−1 in order, wt holding the tail of sixteen rows
// of W transposed.
func tailRows512(name string) {
	w("// func %s(tail int, a *float32, lda int, wt *float32, m int, y *float32, ldy int)", name)
	w("//")
	w("// y[i·ldy+c] += a[i·lda+p]·wt[16p+c] for p < tail in order, the product rounded")
	w("// before the sum, i < m, c < 16. AVX-512F.")
	w("TEXT ·%s(SB), NOSPLIT, $0-56", name)
	w("\tMOVQ tail+0(FP), CX")
	w("\tMOVQ a+8(FP), SI")
	w("\tMOVQ lda+16(FP), R8")
	w("\tSHLQ $2, R8")
	w("\tMOVQ wt+24(FP), DI")
	w("\tMOVQ m+32(FP), BX")
	w("\tMOVQ y+40(FP), R11")
	w("\tMOVQ ldy+48(FP), R12")
	w("\tSHLQ $2, R12")
	w("\tTESTQ CX, CX")
	w("\tJZ %s_done", name)
	w("\tTESTQ BX, BX")
	w("\tJZ %s_done", name)
	w("%s_row:", name)
	w("\tVMOVUPS (R11), Z0")
	w("\tMOVQ SI, AX")
	w("\tMOVQ DI, R9")
	w("\tMOVQ CX, DX")
	w("%s_p:", name)
	w("\tVBROADCASTSS (AX), Z1")
	w("\tVMULPS (R9), Z1, Z1")
	w("\tVADDPS Z1, Z0, Z0")
	w("\tADDQ $4, AX")
	w("\tADDQ $64, R9")
	w("\tDECQ DX")
	w("\tJNZ %s_p", name)
	w("\tVMOVUPS Z0, (R11)")
	w("\tADDQ R8, SI")
	w("\tADDQ R12, R11")
	w("\tDECQ BX")
	w("\tJNZ %s_row", name)
	w("%s_done:", name)
	w("\tVZEROUPPER")
	w("\tRET")
	w("")
}

// gather512 emits
//
//	func name(tail int, w *float32, idx *[16]int32, wt *float32)
//
// which sets wt[16p+c] = w[idx[c]+p] for p < tail, c < 16: sixteen rows of
// W (at the offsets idx) transposed, sixteen columns per gather.
func gather512(name string) {
	w("// func %s(tail int, w *float32, idx *[16]int32, wt *float32)", name)
	w("//")
	w("// wt[16p+c] = w[idx[c]+p] for p < tail, c < 16. AVX-512F.")
	w("TEXT ·%s(SB), NOSPLIT, $0-32", name)
	w("\tMOVQ tail+0(FP), CX")
	w("\tMOVQ w+8(FP), SI")
	w("\tMOVQ idx+16(FP), AX")
	w("\tMOVQ wt+24(FP), DI")
	w("\tVMOVDQU32 (AX), Z1")
	w("\tTESTQ CX, CX")
	w("\tJZ %s_done", name)
	w("%s_p:", name)
	w("\tKXNORW K1, K1, K1")
	w("\tVGATHERDPS (SI)(Z1*4), K1, Z2")
	w("\tVMOVUPS Z2, (DI)")
	w("\tADDQ $4, SI")
	w("\tADDQ $64, DI")
	w("\tDECQ CX")
	w("\tJNZ %s_p", name)
	w("%s_done:", name)
	w("\tVZEROUPPER")
	w("\tRET")
	w("")
}

// copyPanels emits
//
//	func name(dst, src *float32, ld, kc, panels, ps int)
//
// which sets dst[q·ps + p·w + j] = src[p·ld + q·w + j] for p < kc,
// q < panels, j < w: row p of a row-major source, cut into panels of w
// contiguous floats, lands at depth p of each depth-major packed panel.
// Packing uses it for op(B) not transposed (w = nr) and op(A) transposed
// (w = mr), each row segment moved in 32-, 16- and 8-byte pieces.
func copyPanels(name string, width int) {
	bytes := 4 * width
	w("// func %s(dst, src *float32, ld, kc, panels, ps int)", name)
	w("//")
	w("// dst[q·ps + p·%d + j] = src[p·ld + q·%d + j] for p < kc, q < panels, j < %d.", width, width, width)
	w("TEXT ·%s(SB), NOSPLIT, $0-48", name)
	w("\tMOVQ dst+0(FP), DI")
	w("\tMOVQ src+8(FP), SI")
	w("\tMOVQ ld+16(FP), DX")
	w("\tSHLQ $2, DX")
	w("\tMOVQ kc+24(FP), CX")
	w("\tMOVQ panels+32(FP), BX")
	w("\tMOVQ ps+40(FP), R10")
	w("\tSHLQ $2, R10 // bytes between panels")
	w("\tTESTQ CX, CX")
	w("\tJZ %s_done", name)
	w("\tTESTQ BX, BX")
	w("\tJZ %s_done", name)
	w("%s_row:", name)
	w("\tMOVQ SI, R8")
	w("\tMOVQ DI, R9")
	w("\tMOVQ BX, R11")
	w("%s_panel:", name)
	// The segment in 32-, 16- and 8-byte pieces: all loaded, then stored.
	move := func(load bool) {
		emit := func(ins, reg string, off int) {
			if load {
				w("\t%s %d(R8), %s", ins, off, reg)
			} else {
				w("\t%s %s, %d(R9)", ins, reg, off)
			}
		}
		off, reg := 0, 0
		for ; bytes-off >= 32; off, reg = off+32, reg+1 {
			emit("VMOVUPS", fmt.Sprintf("Y%d", reg), off)
		}
		if bytes-off >= 16 {
			emit("VMOVUPS", fmt.Sprintf("X%d", reg), off)
			off += 16
		}
		if bytes-off == 8 {
			emit("MOVQ", "R12", off)
		}
	}
	move(true)
	move(false)
	w("\tADDQ $%d, R8", bytes)
	w("\tADDQ R10, R9")
	w("\tDECQ R11")
	w("\tJNZ %s_panel", name)
	w("\tADDQ DX, SI")
	w("\tADDQ $%d, DI", bytes)
	w("\tDECQ CX")
	w("\tJNZ %s_row", name)
	w("%s_done:", name)
	w("\tVZEROUPPER")
	w("\tRET")
	w("")
}

// copyPanelWidths are the panel widths copyPanels is emitted for: mr of
// the 6×16 and 12×32 kernels, nr of every kernel.
var copyPanelWidths = []int{6, 12, 16, 32}

func main() {
	w("// Code generated by gemm_asm_gen.go; DO NOT EDIT.")
	w("")
	w("//go:build amd64 && !purego")
	w("")
	w("#include \"textflag.h\"")
	w("")
	kernel("sgemm6x16AVX2", 6, 2, 0)
	kernel("sgemm6x16RowAAVX2", 6, 2, 1)
	kernel("sgemm6x16ColAAVX2", 6, 2, 6)
	kernelTiles("sgemm6x16TilesRowAAVX2", 6, 2, 1, true)
	kernelTiles("sgemm6x16TilesColAAVX2", 6, 2, 6, true)
	kernel512("sgemm12x32AVX512", 12, 2, 0)
	kernel512("sgemm14x16AVX512", 14, 1, 0)
	kernel512("sgemm14x16RowAAVX512", 14, 1, 1)
	transpose16("packT16F32AVX2", false, 16)
	transpose16("packT16BF16AVX2", true, 16)
	transpose16("packT16x32F32AVX2", false, 32)
	transpose16("packT16x32BF16AVX2", true, 32)
	dot4("dot4F32AVX2", false)
	dot4("dot4BF16AVX2", true)
	for mr := 1; mr <= 6; mr++ {
		dotRows512(fmt.Sprintf("dotRows%dF32AVX512", mr), mr, false)
		dotRows512(fmt.Sprintf("dotRows%dBF16AVX512", mr), mr, true)
	}
	tailRows512("tailRowsAVX512Asm")
	gather512("gatherT16AVX512")
	for _, width := range copyPanelWidths {
		copyPanels(fmt.Sprintf("copyPanels%dAVX", width), width)
	}
	if err := os.WriteFile("gemm_amd64.s", out.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
}

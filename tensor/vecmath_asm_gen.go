//go:build ignore

// This program writes vecmath_amd64.s, the AVX2+FMA and AVX-512 assembly of
// the element-wise kernels in vecmath.go:
//
//	go run vecmath_asm_gen.go
//
// Each exp-based loop runs several independent vectors ("chains") per
// iteration, their instructions interleaved, so that the long dependency
// chain of one exponential (reduction, seven Horner FMAs, scaling) overlaps
// with the others. The method and its constants are those of expf32 in
// vecmath.go.
package main

import (
	"bytes"
	"fmt"
	"log"
	"math"
	"os"
	"strings"
)

var out bytes.Buffer

func w(format string, args ...any) { fmt.Fprintf(&out, format+"\n", args...) }

// Constants, each stored as 8 copies (one YMM vector); AVX-512 code
// broadcasts the first copy.
var consts = []struct {
	name string
	bits uint32
}{
	{"log2e", math.Float32bits(1.44269504088896341)},
	{"magic", math.Float32bits(12582912)},
	{"ln2hi", math.Float32bits(0.693359375)},
	{"ln2lo", math.Float32bits(-2.12194440054e-04)},
	{"c7", math.Float32bits(1.0 / 5040)},
	{"c6", math.Float32bits(1.0 / 720)},
	{"c5", math.Float32bits(1.0 / 120)},
	{"c4", math.Float32bits(1.0 / 24)},
	{"c3", math.Float32bits(1.0 / 6)},
	{"c2", math.Float32bits(1.0 / 2)},
	{"one", math.Float32bits(1)},
	{"lo", math.Float32bits(-104)},
	{"hi", math.Float32bits(89)},
	{"hib", math.Float32bits(88)}, // clamp of swigluBackward: e^88 is finite
	{"sign", 0x80000000},
	{"bias", 127},
}

func constIndex(name string) int {
	for i, c := range consts {
		if c.name == name {
			return i
		}
	}
	log.Fatalf("no constant %s", name)
	return 0
}

// isa describes one instruction set: vector register prefix, lanes, and
// how constants are reached.
type isa struct {
	name  string
	reg   string // "Y" or "Z"
	lanes int
	creg  map[string]string // constants held in registers (AVX-512)
}

// c returns the operand of constant name: a register or a memory vector.
func (s *isa) c(name string) string {
	if r, ok := s.creg[name]; ok {
		return r
	}
	if s.reg == "Z" {
		log.Fatalf("%s: constant %s not in a register", s.name, name)
	}
	return fmt.Sprintf("vecconst<>+%d(SB)", 32*constIndex(name))
}

func (s *isa) r(i int) string { return fmt.Sprintf("%s%d", s.reg, i) }

// chain is the three registers one vector of exponentials uses: X holds
// x, then r, then a scale factor; P the result; T k.
type chain struct{ X, P, T string }

// expOps returns the instructions computing P = exp(X) for X already
// clamped to [−104, 89] (NaN allowed); X and T are clobbered.
func (s *isa) expOps(ch chain) []string {
	X, P, T := ch.X, ch.P, ch.T
	ops := []string{
		// P = X·log2e + magic = magic + k; T = k as a float.
		fmt.Sprintf("VMOVUPS %s, %s", s.c("magic"), P),
		fmt.Sprintf("VFMADD231PS %s, %s, %s", s.c("log2e"), X, P),
		fmt.Sprintf("VSUBPS %s, %s, %s", s.c("magic"), P, T),
		// r = X − k·ln2hi − k·ln2lo.
		fmt.Sprintf("VFNMADD231PS %s, %s, %s", s.c("ln2hi"), T, X),
		fmt.Sprintf("VFNMADD231PS %s, %s, %s", s.c("ln2lo"), T, X),
	}
	if s.reg == "Y" {
		// T = k as an integer; P is free for the polynomial.
		ops = append(ops, fmt.Sprintf("VPSUBD %s, %s, %s", s.c("magic"), P, T))
	}
	ops = append(ops,
		fmt.Sprintf("VMOVUPS %s, %s", s.c("c6"), P),
		fmt.Sprintf("VFMADD231PS %s, %s, %s", s.c("c7"), X, P))
	for _, k := range []string{"c5", "c4", "c3", "c2", "one", "one"} {
		ops = append(ops, fmt.Sprintf("VFMADD213PS %s, %s, %s", s.c(k), X, P))
	}
	if s.reg == "Z" {
		return append(ops, fmt.Sprintf("VSCALEFPS %s, %s, %s", T, P, P))
	}
	// P ·= 2^⌊k/2⌋ · 2^(k−⌊k/2⌋), the factors built in X and T.
	return append(ops,
		fmt.Sprintf("VPSRAD $1, %s, %s", T, X),
		fmt.Sprintf("VPSUBD %s, %s, %s", X, T, T),
		fmt.Sprintf("VPADDD %s, %s, %s", s.c("bias"), X, X),
		fmt.Sprintf("VPSLLD $23, %s, %s", X, X),
		fmt.Sprintf("VMULPS %s, %s, %s", X, P, P),
		fmt.Sprintf("VPADDD %s, %s, %s", s.c("bias"), T, T),
		fmt.Sprintf("VPSLLD $23, %s, %s", T, T),
		fmt.Sprintf("VMULPS %s, %s, %s", T, P, P),
	)
}

// interleave emits the chains' instruction lists round-robin.
func interleave(lists [][]string) {
	for i := 0; ; i++ {
		any := false
		for _, l := range lists {
			if i < len(l) {
				w("\t%s", l[i])
				any = true
			}
		}
		if !any {
			return
		}
	}
}

// loops emits the main loop over `unroll` vectors per iteration and a
// loop over single vectors; body(j, off) returns the instructions of
// vector j at byte offset off from the pointers; adv advances the pointers
// by the given number of bytes. CX counts the remaining elements.
func (s *isa) loops(fn string, unroll int, body func(j int, off int) []string, adv func(bytes int)) {
	vb := 4 * s.lanes
	w("%s_loop%d:", fn, unroll)
	w("\tCMPQ CX, $%d", unroll*s.lanes)
	w("\tJLT %s_loop1", fn)
	var lists [][]string
	for j := range unroll {
		lists = append(lists, body(j, j*vb))
	}
	interleave(lists)
	adv(unroll * vb)
	w("\tSUBQ $%d, CX", unroll*s.lanes)
	w("\tJMP %s_loop%d", fn, unroll)
	w("%s_loop1:", fn)
	w("\tCMPQ CX, $%d", s.lanes)
	w("\tJLT %s_done", fn)
	for _, l := range body(0, 0) {
		w("\t%s", l)
	}
	adv(vb)
	w("\tSUBQ $%d, CX", s.lanes)
	w("\tJMP %s_loop1", fn)
	w("%s_done:", fn)
}

func addq(regs ...string) func(int) {
	return func(n int) {
		for _, r := range regs {
			w("\tADDQ $%d, %s", n, r)
		}
	}
}

func mem(reg string, off int) string {
	if off == 0 {
		return "(" + reg + ")"
	}
	return fmt.Sprintf("%d(%s)", off, reg)
}

// loadConsts broadcasts the register-held constants (AVX-512).
func (s *isa) loadConsts() {
	for _, c := range consts {
		if r, ok := s.creg[c.name]; ok {
			w("\tVBROADCASTSS vecconst<>+%d(SB), %s", 32*constIndex(c.name), r)
		}
	}
}

func (s *isa) end() {
	w("\tVZEROUPPER")
	w("\tRET")
	w("")
}

// chains returns unroll chains on registers 0…3·unroll−1.
func (s *isa) chains(unroll int) []chain {
	var cs []chain
	for j := range unroll {
		cs = append(cs, chain{s.r(3 * j), s.r(3*j + 1), s.r(3*j + 2)})
	}
	return cs
}

// expShift emits func expShiftXXX(dst, src *float32, n int, c float32, lanes *[16]float32).
// Registers: chains, ACC the lane sums, NEGC = −c, HI and LO the clamp.
func expShift(s *isa, unroll int, ACC, NEGC, HI, LO string) {
	fn := "expShift" + s.name
	w("// func %s(dst, src *float32, n int, c float32, lanes *[16]float32)", fn)
	w("//")
	w("// dst[i] = exp(src[i] − c) for i < n (a multiple of %d); lanes[0:%d] = the", s.lanes, s.lanes)
	w("// float32 lane sums of dst. %d vectors per iteration.", unroll)
	w("TEXT ·%s(SB), NOSPLIT, $0-40", fn)
	w("\tMOVQ dst+0(FP), DI")
	w("\tMOVQ src+8(FP), SI")
	w("\tMOVQ n+16(FP), CX")
	// The constants first: on AVX-512 "sign" lives in a register that
	// loadConsts fills, and nothing else in this function sets it.
	s.loadConsts()
	w("\tVBROADCASTSS c+24(FP), %s", NEGC)
	if s.reg == "Z" {
		w("\tVPXORD %s, %s, %s", s.c("sign"), NEGC, NEGC)
	} else {
		w("\tVXORPS %s, %s, %s", s.c("sign"), NEGC, NEGC)
	}
	if s.reg == "Y" {
		w("\tVMOVUPS %s, %s", s.c("hi"), HI)
		w("\tVMOVUPS %s, %s", s.c("lo"), LO)
		w("\tVXORPS %s, %s, %s", ACC, ACC, ACC)
	} else {
		w("\tVPXORD %s, %s, %s", ACC, ACC, ACC)
	}
	cs := s.chains(unroll)
	s.loops(fn, unroll, func(j, off int) []string {
		ch := cs[j]
		ops := []string{
			fmt.Sprintf("VADDPS %s, %s, %s", mem("SI", off), NEGC, ch.X),
			// min/max return their second source (x) where it is NaN.
			fmt.Sprintf("VMINPS %s, %s, %s", ch.X, HI, ch.X),
			fmt.Sprintf("VMAXPS %s, %s, %s", ch.X, LO, ch.X),
		}
		ops = append(ops, s.expOps(ch)...)
		return append(ops,
			fmt.Sprintf("VMOVUPS %s, %s", ch.P, mem("DI", off)),
			fmt.Sprintf("VADDPS %s, %s, %s", ch.P, ACC, ACC))
	}, addq("SI", "DI"))
	w("\tMOVQ lanes+32(FP), AX")
	w("\tVMOVUPS %s, (AX)", ACC)
	s.end()
}

// swiglu emits func swigluXXX(out, gate, u *float32, n int):
// out = g·u/(1 + exp(−g)). HI and LO clamp −g.
func swiglu(s *isa, unroll int, HI, LO string) {
	fn := "swiglu" + s.name
	w("// func %s(out, gate, u *float32, n int)", fn)
	w("//")
	w("// out[i] = g[i]·u[i]/(1 + exp(−g[i])) for i < n (a multiple of %d).", s.lanes)
	w("TEXT ·%s(SB), NOSPLIT, $0-32", fn)
	w("\tMOVQ out+0(FP), DI")
	w("\tMOVQ gate+8(FP), SI")
	w("\tMOVQ u+16(FP), DX")
	w("\tMOVQ n+24(FP), CX")
	s.loadConsts()
	if s.reg == "Y" {
		w("\tVMOVUPS %s, %s", s.c("hi"), HI)
		w("\tVMOVUPS %s, %s", s.c("lo"), LO)
	}
	cs := s.chains(unroll)
	s.loops(fn, unroll, func(j, off int) []string {
		ch := cs[j]
		ops := negClamp(s, ch.X, mem("SI", off), HI, LO)
		ops = append(ops, s.expOps(ch)...)
		return append(ops,
			fmt.Sprintf("VADDPS %s, %s, %s", s.c("one"), ch.P, ch.P),
			fmt.Sprintf("VMOVUPS %s, %s", mem("SI", off), ch.X),
			fmt.Sprintf("VMULPS %s, %s, %s", mem("DX", off), ch.X, ch.X),
			fmt.Sprintf("VDIVPS %s, %s, %s", ch.P, ch.X, ch.X),
			fmt.Sprintf("VMOVUPS %s, %s", ch.X, mem("DI", off)))
	}, addq("SI", "DX", "DI"))
	s.end()
}

// negClamp returns instructions setting X = clamp(−g) with g at src.
func negClamp(s *isa, X, src, HI, LO string) []string {
	xor := "VXORPS"
	if s.reg == "Z" {
		xor = "VPXORD"
	}
	return []string{
		fmt.Sprintf("VMOVUPS %s, %s", src, X),
		fmt.Sprintf("%s %s, %s, %s", xor, s.c("sign"), X, X),
		fmt.Sprintf("VMINPS %s, %s, %s", X, HI, X),
		fmt.Sprintf("VMAXPS %s, %s, %s", X, LO, X),
	}
}

// swigluBackward emits func swigluBackwardXXX(dg, du, dout, gate, u *float32, n int).
// With e = exp(−g), s = 1/(1 + e): du = (dout·s)·g, dg = (dout·s)·(1 + g·(1−s))·u,
// 1 − s evaluated as e·s, which does not cancel for large g; −g is clamped
// to ≤ 88 so that e·s is not ∞·0.
// All inputs of a vector are read before its outputs are stored.
func swigluBackward(s *isa, unroll int, HI, LO, ONE string) {
	fn := "swigluBackward" + s.name
	w("// func %s(dg, du, dout, gate, u *float32, n int)", fn)
	w("//")
	w("// With s = 1/(1 + exp(−g[i])): du[i] = dout[i]·s·g[i],")
	w("// dg[i] = dout[i]·s·(1 + g[i]·(1 − s))·u[i], for i < n (a multiple of %d).", s.lanes)
	w("TEXT ·%s(SB), NOSPLIT, $0-48", fn)
	w("\tMOVQ dg+0(FP), DI")
	w("\tMOVQ du+8(FP), R8")
	w("\tMOVQ dout+16(FP), R9")
	w("\tMOVQ gate+24(FP), SI")
	w("\tMOVQ u+32(FP), DX")
	w("\tMOVQ n+40(FP), CX")
	s.loadConsts()
	if s.reg == "Y" {
		w("\tVMOVUPS %s, %s", s.c("hib"), HI)
		w("\tVMOVUPS %s, %s", s.c("lo"), LO)
	}
	cs := s.chains(unroll)
	s.loops(fn, unroll, func(j, off int) []string {
		ch := cs[j]
		X, P, T := ch.X, ch.P, ch.T
		ops := negClamp(s, X, mem("SI", off), HI, LO)
		ops = append(ops, s.expOps(ch)...)
		return append(ops,
			fmt.Sprintf("VADDPS %s, %s, %s", ONE, P, X),            // d = 1 + e
			fmt.Sprintf("VDIVPS %s, %s, %s", X, ONE, T),            // s = 1/d
			fmt.Sprintf("VMULPS %s, %s, %s", T, P, P),              // 1 − s = e·s
			fmt.Sprintf("VMULPS %s, %s, %s", mem("R9", off), T, X), // ds = dout·s
			fmt.Sprintf("VMOVUPS %s, %s", mem("SI", off), T),       // g
			fmt.Sprintf("VFMADD213PS %s, %s, %s", ONE, T, P),       // 1 + g·(1−s)
			fmt.Sprintf("VMULPS %s, %s, %s", X, T, T),              // du = ds·g
			fmt.Sprintf("VMULPS %s, %s, %s", P, X, X),              // ds·(1 + g·(1−s))
			fmt.Sprintf("VMULPS %s, %s, %s", mem("DX", off), X, X), // ·u
			fmt.Sprintf("VMOVUPS %s, %s", X, mem("DI", off)),
			fmt.Sprintf("VMOVUPS %s, %s", T, mem("R8", off)))
	}, addq("SI", "DX", "DI", "R8", "R9"))
	s.end()
}

// maxAVX2 emits func maxAVX2(x *float32, n int, lanes *[16]float32).
func maxAVX2() {
	w("// func maxAVX2(x *float32, n int, lanes *[16]float32)")
	w("//")
	w("// lanes[0:8] = the lane maxima of x[0:n] (n ≥ 8 a multiple of 8).")
	w("TEXT ·maxAVX2(SB), NOSPLIT, $0-24")
	w("\tMOVQ x+0(FP), SI")
	w("\tMOVQ n+8(FP), CX")
	w("\tVMOVUPS (SI), Y0")
	w("\tVMOVUPS Y0, Y1")
	w("\tVMOVUPS Y0, Y2")
	w("\tVMOVUPS Y0, Y3")
	w("maxAVX2_loop4:")
	w("\tCMPQ CX, $32")
	w("\tJLT maxAVX2_loop1")
	for j := range 4 {
		w("\tVMAXPS %s, Y%d, Y%d", mem("SI", 32*j), j, j)
	}
	w("\tADDQ $128, SI")
	w("\tSUBQ $32, CX")
	w("\tJMP maxAVX2_loop4")
	w("maxAVX2_loop1:")
	w("\tCMPQ CX, $8")
	w("\tJLT maxAVX2_done")
	w("\tVMAXPS (SI), Y0, Y0")
	w("\tADDQ $32, SI")
	w("\tSUBQ $8, CX")
	w("\tJMP maxAVX2_loop1")
	w("maxAVX2_done:")
	w("\tVMAXPS Y1, Y0, Y0")
	w("\tVMAXPS Y3, Y2, Y2")
	w("\tVMAXPS Y2, Y0, Y0")
	w("\tMOVQ lanes+16(FP), AX")
	w("\tVMOVUPS Y0, (AX)")
	w("\tVZEROUPPER")
	w("\tRET")
	w("")
}

// scaleAVX2 emits func scaleAVX2(x *float32, n int, a float32).
func scaleAVX2() {
	w("// func scaleAVX2(x *float32, n int, a float32)")
	w("//")
	w("// x[i] *= a for i < n (a multiple of 8).")
	w("TEXT ·scaleAVX2(SB), NOSPLIT, $0-20")
	w("\tMOVQ x+0(FP), SI")
	w("\tMOVQ n+8(FP), CX")
	w("\tVBROADCASTSS a+16(FP), Y15")
	w("scaleAVX2_loop4:")
	w("\tCMPQ CX, $32")
	w("\tJLT scaleAVX2_loop1")
	for j := range 4 {
		w("\tVMULPS %s, Y15, Y%d", mem("SI", 32*j), j)
	}
	for j := range 4 {
		w("\tVMOVUPS Y%d, %s", j, mem("SI", 32*j))
	}
	w("\tADDQ $128, SI")
	w("\tSUBQ $32, CX")
	w("\tJMP scaleAVX2_loop4")
	w("scaleAVX2_loop1:")
	w("\tCMPQ CX, $8")
	w("\tJLT scaleAVX2_done")
	w("\tVMULPS (SI), Y15, Y0")
	w("\tVMOVUPS Y0, (SI)")
	w("\tADDQ $32, SI")
	w("\tSUBQ $8, CX")
	w("\tJMP scaleAVX2_loop1")
	w("scaleAVX2_done:")
	w("\tVZEROUPPER")
	w("\tRET")
	w("")
}

func main() {
	w("// Code generated by vecmath_asm_gen.go; DO NOT EDIT.")
	w("")
	w("//go:build amd64 && !purego")
	w("")
	w("#include \"textflag.h\"")
	w("")
	w("// vecconst holds the constants of vecmath_asm_gen.go, 8 copies each.")
	for i, c := range consts {
		for j := range 8 {
			w("DATA vecconst<>+%d(SB)/4, $0x%08x", 32*i+4*j, c.bits)
		}
	}
	w("GLOBL vecconst<>(SB), RODATA|NOPTR, $%d", 32*len(consts))
	w("")

	// AVX2: 16 YMM registers; chains use Y0…Y11, constants mostly in memory.
	avx2 := &isa{name: "AVX2", reg: "Y", lanes: 8, creg: map[string]string{}}
	expShift(avx2, 4, "Y12", "Y13", "Y14", "Y15")
	avx2.creg = map[string]string{"one": "Y15"} // ONE of swigluBackward
	swiglu(avx2, 4, "Y13", "Y14")
	swigluBackward(avx2, 4, "Y12", "Y13", "Y15")
	maxAVX2()
	scaleAVX2()

	// AVX-512: 32 ZMM registers; chains use Z0…Z11, constants Z16….
	creg := map[string]string{}
	for i, name := range []string{"log2e", "magic", "ln2hi", "ln2lo", "c7", "c6", "c5", "c4", "c3", "c2", "one", "lo", "hi", "sign", "hib"} {
		creg[name] = fmt.Sprintf("Z%d", 16+i)
	}
	avx512 := &isa{name: "AVX512", reg: "Z", lanes: 16, creg: creg}
	expShift(avx512, 4, "Z12", "Z13", creg["hi"], creg["lo"])
	swiglu(avx512, 4, creg["hi"], creg["lo"])
	swigluBackward(avx512, 4, creg["hib"], creg["lo"], creg["one"])

	src := strings.ReplaceAll(out.String(), "\t\n", "\n")
	if err := os.WriteFile("vecmath_amd64.s", []byte(src), 0o644); err != nil {
		log.Fatal(err)
	}
}

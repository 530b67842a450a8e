// Package asmcheck checks Go assembly sources for one class of bug that
// unit tests catch only by luck: reading a register that the function has
// not written.
package asmcheck

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
)

// vecReg matches a vector register operand: X, Y or Z and its number.
var vecReg = regexp.MustCompile(`^[XYZ]([0-9]+)$`)

// gpReg matches a general-purpose register operand.
var gpReg = regexp.MustCompile(`^(AX|BX|CX|DX|SI|DI|BP|R[0-9]|R1[0-5])$`)

// memRegs matches the registers of a memory operand, as in 64(SI)(R8*4).
var memRegs = regexp.MustCompile(`\(([A-Z0-9]+)(?:\*[0-9]+)?\)`)

// reg names the register an operand is (X3, Y3 and Z3 are one register,
// "V3"), or "" for a constant, memory operand or pseudo-register.
func reg(operand string) string {
	if m := vecReg.FindStringSubmatch(operand); m != nil {
		return "V" + m[1]
	}
	if gpReg.MatchString(operand) {
		return operand
	}
	return ""
}

// UndefinedReads lists, for the assembly source src, every read of a
// register (vector or general-purpose) that no earlier instruction of the
// same function wrote. Such a register holds whatever the last code on
// this thread left in it: the upper vector registers even survive
// VZEROUPPER, which clears only bits above 127 of the first sixteen. So a
// read gives results that depend on what ran before — the bug where
// expShiftAVX512 negated c with a sign mask it had not loaded yet, and so
// computed exp(x + c) on every thread that had not run it before.
//
// The scan is linear, in source order. Go assembly operands are sources
// first, destination last. The registers of a memory operand are read. A
// destination is also read by FMA (the accumulator) and by read-modify-
// write integer instructions (ADDQ, SHLQ, DECQ …), not by moves, LEA and
// vector instructions; CMP, TEST and PREFETCH only read; XOR of a register
// with itself only writes.
func UndefinedReads(src string) []string {
	var bad []string
	fn := ""
	var written map[string]bool
	for n, line := range strings.Split(src, "\n") {
		line = strings.TrimSpace(line)
		if i := strings.Index(line, "//"); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		if strings.HasPrefix(line, "TEXT ") {
			fn, written = strings.TrimSuffix(strings.Fields(line)[1], ","), map[string]bool{}
			continue
		}
		if fn == "" || line == "" || strings.HasSuffix(line, ":") || strings.HasPrefix(line, "#") {
			continue
		}
		op, args, _ := strings.Cut(line, " ")
		if args == "" || strings.HasPrefix(op, "J") {
			continue
		}
		ops := strings.Split(args, ",")
		for i := range ops {
			ops[i] = strings.TrimSpace(ops[i])
		}
		var reads []string
		for _, o := range ops {
			for _, m := range memRegs.FindAllStringSubmatch(o, -1) {
				if r := reg(m[1]); r != "" {
					reads = append(reads, m[1])
				}
			}
		}
		last := ops[len(ops)-1]
		dst := reg(last)
		srcs := ops[:len(ops)-1]
		switch {
		case len(ops) >= 2 && ops[0] == ops[1] && ops[len(ops)-1] == ops[0] &&
			(op == "VXORPS" || op == "VPXORD" || op == "VPXOR" || op == "XORQ" || op == "XORL"):
			srcs = nil // zeroing idiom
		case strings.HasPrefix(op, "VFMADD") || strings.HasPrefix(op, "VFNMADD") ||
			strings.HasPrefix(op, "VFMSUB") || strings.HasPrefix(op, "VFNMSUB"):
			srcs = ops
		case strings.HasPrefix(op, "CMP") || strings.HasPrefix(op, "TEST") || strings.HasPrefix(op, "PREFETCH"):
			srcs, dst = ops, ""
		case strings.HasPrefix(op, "V") || strings.HasPrefix(op, "MOV") || strings.HasPrefix(op, "LEA"):
		default: // read-modify-write integer instruction
			srcs = ops
		}
		for _, o := range srcs {
			if reg(o) != "" {
				reads = append(reads, o)
			}
		}
		for _, r := range reads {
			if !written[reg(r)] {
				bad = append(bad, fmt.Sprintf("line %d, %s: %s reads %s before anything in the function wrote it", n+1, fn, op, r))
			}
		}
		if dst != "" {
			written[dst] = true
		}
	}
	return bad
}

// Files fails t for every finding of UndefinedReads in the assembly
// files at paths (and for a file without functions: a wrong path).
func Files(t testing.TB, paths ...string) {
	t.Helper()
	for _, path := range paths {
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(src), "TEXT ") {
			t.Fatalf("%s has no functions", path)
		}
		for _, b := range UndefinedReads(string(src)) {
			t.Errorf("%s %s", path, b)
		}
	}
}

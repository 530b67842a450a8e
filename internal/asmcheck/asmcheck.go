// Package asmcheck checks Go assembly sources for one class of bug that
// unit tests catch only by luck: reading a vector register that the
// function has not written.
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

// UndefinedVectorReads lists, for the assembly source src, every read of
// a vector register that no earlier instruction of the same function
// wrote. The upper vector registers keep whatever the last code on this
// thread left in them (VZEROUPPER clears only bits above 127 of the first
// sixteen), so such a read gives results that depend on what ran before:
// the bug where expShiftAVX512 negated c with a sign mask it had not loaded
// yet, and so computed exp(x + c) on every thread that had not run it
// before.
//
// The scan is linear, in source order: Go assembly operands are sources
// first, destination last; a destination that is also read (FMA
// accumulators) counts as a read; XOR of a register with itself is a write.
func UndefinedVectorReads(src string) []string {
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
		if fn == "" || line == "" || strings.HasSuffix(line, ":") {
			continue
		}
		op, args, _ := strings.Cut(line, " ")
		if !strings.HasPrefix(op, "V") || args == "" {
			continue
		}
		ops := strings.Split(args, ",")
		for i := range ops {
			ops[i] = strings.TrimSpace(ops[i])
		}
		regNum := func(s string) string {
			if m := vecReg.FindStringSubmatch(s); m != nil {
				return m[1]
			}
			return ""
		}
		dst := regNum(ops[len(ops)-1])
		reads := ops[:len(ops)-1]
		zeroing := (op == "VXORPS" || op == "VPXORD" || op == "VPXOR") && len(ops) == 3 &&
			ops[0] == ops[1] && ops[1] == ops[2]
		if zeroing {
			reads = nil
		} else if strings.HasPrefix(op, "VFMADD") || strings.HasPrefix(op, "VFNMADD") ||
			strings.HasPrefix(op, "VFMSUB") || strings.HasPrefix(op, "VFNMSUB") {
			reads = ops
		}
		for _, r := range reads {
			if k := regNum(r); k != "" && !written[k] {
				bad = append(bad, fmt.Sprintf("line %d, %s: %s reads %s before anything in the function wrote it", n+1, fn, op, r))
			}
		}
		if dst != "" {
			written[dst] = true
		}
	}
	return bad
}

// Files fails t for every finding of UndefinedVectorReads in the assembly
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
		for _, b := range UndefinedVectorReads(string(src)) {
			t.Errorf("%s %s", path, b)
		}
	}
}

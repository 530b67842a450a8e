package asmcheck

import (
	"strings"
	"testing"
)

// The checker itself: the ordering bug it was written for, an FMA that
// accumulates into a register never set, integer registers read by memory
// operands and read-modify-write instructions, and the zeroing idioms.
func TestUndefinedReadsFindsTheBug(t *testing.T) {
	src := `TEXT ·f(SB), NOSPLIT, $0-8
	MOVQ p+0(FP), AX
	VBROADCASTSS c+24(FP), Z13
	VPXORD Z29, Z13, Z13
	VBROADCASTSS vecconst<>+448(SB), Z29
	VPXORD Z12, Z12, Z12
	VFMADD231PS Z13, Z12, Z12
	VFMADD231PS Z13, Z13, Z3
	VMOVUPS Z12, (AX)(R8*4)
	XORQ CX, CX
	ADDQ $4, CX
	ADDQ $4, DX
	CMPQ BX, $1
	RET
TEXT ·g(SB), NOSPLIT, $0-8
	VADDPS Z12, Z12, Z0
	RET
`
	want := []string{
		"line 4, ·f(SB): VPXORD reads Z29",
		"line 8, ·f(SB): VFMADD231PS reads Z3",
		"line 9, ·f(SB): VMOVUPS reads R8",
		"line 12, ·f(SB): ADDQ reads DX",
		"line 13, ·f(SB): CMPQ reads BX",
		"line 16, ·g(SB): VADDPS reads Z12",
		"line 16, ·g(SB): VADDPS reads Z12",
	}
	got := UndefinedReads(src)
	if len(got) != len(want) {
		t.Fatalf("got %d findings, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i, w := range want {
		if !strings.HasPrefix(got[i], w) {
			t.Errorf("finding %d = %q, want prefix %q", i, got[i], w)
		}
	}
}

package asmcheck

import (
	"strings"
	"testing"
)

// The checker itself: the ordering bug it was written for, an FMA that
// accumulates into a register never set, and the zeroing idiom.
func TestUndefinedVectorReadsFindsTheBug(t *testing.T) {
	src := `TEXT ·f(SB), NOSPLIT, $0-8
	VBROADCASTSS c+24(FP), Z13
	VPXORD Z29, Z13, Z13
	VBROADCASTSS vecconst<>+448(SB), Z29
	VPXORD Z12, Z12, Z12
	VFMADD231PS Z13, Z12, Z12
	VFMADD231PS Z13, Z13, Z3
	VMOVUPS Z12, (AX)
	RET
TEXT ·g(SB), NOSPLIT, $0-8
	VADDPS Z12, Z12, Z0
	RET
`
	got := UndefinedVectorReads(src)
	want := []string{"line 3, ·f(SB): VPXORD reads Z29", "line 7, ·f(SB): VFMADD231PS reads Z3", "line 11, ·g(SB): VADDPS reads Z12"}
	if len(got) != 4 {
		t.Fatalf("got %d findings, want 4 (Z29, Z3, and Z12 twice):\n%s", len(got), strings.Join(got, "\n"))
	}
	for i, w := range want {
		if !strings.HasPrefix(got[i], w) {
			t.Errorf("finding %d = %q, want prefix %q", i, got[i], w)
		}
	}
}

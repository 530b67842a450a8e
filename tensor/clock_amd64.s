// Hand-written: the clock loop of MeasureClock (clock.go).

//go:build amd64 && !purego

#include "textflag.h"

// Eight dependent additions of BX to AX.
#define ADD8 ADDQ BX, AX; ADDQ BX, AX; ADDQ BX, AX; ADDQ BX, AX; ADDQ BX, AX; ADDQ BX, AX; ADDQ BX, AX; ADDQ BX, AX

// func addChain(n int)
//
// 64·n dependent ADDQ BX, AX: one cycle each on every x86-64 core. A register
// operand, not an immediate: some cores (Intel Golden Cove) fold chains of
// small immediate adds at register renaming. The loop counter (CX) is a
// separate chain that runs alongside.
TEXT ·addChain(SB), NOSPLIT, $0-8
	MOVQ n+0(FP), CX
	MOVQ $1, BX
	XORQ AX, AX
	TESTQ CX, CX
	JZ done
loop:
	ADD8; ADD8; ADD8; ADD8; ADD8; ADD8; ADD8; ADD8
	DECQ CX
	JNZ loop
done:
	RET

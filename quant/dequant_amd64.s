//go:build amd64 && !purego

#include "textflag.h"

// nibbleMask is 0x0f in every byte.
DATA nibbleMask<>+0(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA nibbleMask<>+8(SB)/8, $0x0f0f0f0f0f0f0f0f
GLOBL nibbleMask<>(SB), RODATA|NOPTR, $16

// func dequant64AVX512(dst *float32, packed *byte, absmax *float32, code *[16]float32, blocks int)
//
// For each of blocks blocks of 64 values (32 packed bytes, the first value
// of a byte in its high nibble): dst[i] = (code[nibble]·absmax[block]), the
// product rounded to float32 once per table entry, exactly as the Go code.
// Per 16 bytes: split the nibbles, interleave them high first (VPUNPCKLBW /
// VPUNPCKHBW), widen to 16 dword indices and look each up in the scaled
// 16-entry table with VPERMPS.
TEXT ·dequant64AVX512(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ packed+8(FP), SI
	MOVQ absmax+16(FP), DX
	MOVQ code+24(FP), AX
	MOVQ blocks+32(FP), CX
	VMOVUPS (AX), Z16
	VMOVDQU nibbleMask<>(SB), X8

loop:
	TESTQ CX, CX
	JEQ done
	VBROADCASTSS (DX), Z18
	VMULPS Z16, Z18, Z18 // the block's table: code · absmax

	VMOVDQU (SI), X0
	VPSRLW $4, X0, X1
	VPAND X8, X1, X1 // high nibbles: values 0, 2, 4, …
	VPAND X8, X0, X0 // low nibbles: values 1, 3, 5, …
	VPUNPCKLBW X0, X1, X2
	VPUNPCKHBW X0, X1, X3
	VPMOVZXBD X2, Z2
	VPMOVZXBD X3, Z3
	VPERMPS Z18, Z2, Z2
	VPERMPS Z18, Z3, Z3
	VMOVUPS Z2, (DI)
	VMOVUPS Z3, 64(DI)

	VMOVDQU 16(SI), X4
	VPSRLW $4, X4, X5
	VPAND X8, X5, X5
	VPAND X8, X4, X4
	VPUNPCKLBW X4, X5, X6
	VPUNPCKHBW X4, X5, X7
	VPMOVZXBD X6, Z6
	VPMOVZXBD X7, Z7
	VPERMPS Z18, Z6, Z6
	VPERMPS Z18, Z7, Z7
	VMOVUPS Z6, 128(DI)
	VMOVUPS Z7, 192(DI)

	ADDQ $32, SI
	ADDQ $256, DI
	ADDQ $4, DX
	DECQ CX
	JMP loop

done:
	VZEROUPPER
	RET

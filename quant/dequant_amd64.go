//go:build amd64 && !purego

package quant

import "golang.org/x/sys/cpu"

// dequant64AVX512 dequantizes blocks whole blocks of 64 values; see
// dequant_amd64.s.
//
//go:noescape
func dequant64AVX512(dst *float32, packed *byte, absmax *float32, code *[16]float32, blocks int)

// hasDequantAsm is whether dequant64 runs the assembly.
var hasDequantAsm = cpu.X86.HasAVX512F

// dequant64 writes len(absmax) blocks of 64 values into dst from packed
// (32 bytes a block) and returns how many it did: all of them, or none
// where this CPU lacks AVX-512.
func dequant64(dst []float32, packed []byte, absmax []float32, code *[16]float32) int {
	n := len(absmax)
	if !hasDequantAsm || n == 0 {
		return 0
	}
	_, _ = dst[64*n-1], packed[32*n-1]
	dequant64AVX512(&dst[0], &packed[0], &absmax[0], code, n)
	return n
}

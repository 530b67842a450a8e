//go:build amd64 && !purego

package quant

import "github.com/golora/golora/tensor/kernels"

// The assembly in dequant_amd64.s is written by dequant_asm_gen.go.
//go:generate go run dequant_asm_gen.go

// dequant64AVX512 dequantizes blocks whole blocks of 64 values; see
// dequant_amd64.s. AVX-512F.
//
//go:noescape
func dequant64AVX512(dst *float32, packed *byte, absmax *float32, code *[16]float32, blocks int)

// dequant64AVX2 is dequant64AVX512 in AVX2.
//
//go:noescape
func dequant64AVX2(dst *float32, packed *byte, absmax *float32, code *[16]float32, blocks int)

// dequant64 writes len(absmax) blocks of 64 values into dst from packed
// (32 bytes a block) and returns how many it did: all of them, or none
// where the active kernel set (package kernels) is the portable Go one.
func dequant64(dst []float32, packed []byte, absmax []float32, code *[16]float32) int {
	n := len(absmax)
	if n == 0 {
		return 0
	}
	_, _ = dst[64*n-1], packed[32*n-1]
	switch kernels.Active() {
	case kernels.AVX512:
		dequant64AVX512(&dst[0], &packed[0], &absmax[0], code, n)
	case kernels.AVX2:
		dequant64AVX2(&dst[0], &packed[0], &absmax[0], code, n)
	default:
		return 0
	}
	return n
}

//go:build amd64 && !purego

package gguf

import (
	"golang.org/x/sys/cpu"

	"github.com/golora/golora/tensor/kernels"
)

// The assembly in dequant_amd64.s is written by dequant_asm_gen.go.
//go:generate go run dequant_asm_gen.go

// Each of these decodes blocks whole blocks of its type from src into dst,
// bit for bit as dequantBlocks's Go code does (see dequant_asm_gen.go).
//
//go:noescape
func dequantQ8_0AVX512(dst *float32, src *byte, blocks int)

//go:noescape
func dequantQ4_0AVX512(dst *float32, src *byte, blocks int)

//go:noescape
func dequantQ4_1AVX512(dst *float32, src *byte, blocks int)

//go:noescape
func dequantQ5_0AVX512(dst *float32, src *byte, blocks int)

//go:noescape
func dequantQ5_1AVX512(dst *float32, src *byte, blocks int)

//go:noescape
func dequantQ4KAVX512(dst *float32, src *byte, blocks int)

//go:noescape
func dequantQ5KAVX512(dst *float32, src *byte, blocks int)

//go:noescape
func dequantQ2KAVX512(dst *float32, src *byte, blocks int)

//go:noescape
func dequantQ3KAVX512(dst *float32, src *byte, blocks int)

//go:noescape
func dequantQ6KAVX512(dst *float32, src *byte, blocks int)

//go:noescape
func dequantQ8_0AVX2(dst *float32, src *byte, blocks int)

//go:noescape
func dequantQ4_0AVX2(dst *float32, src *byte, blocks int)

//go:noescape
func dequantQ4_1AVX2(dst *float32, src *byte, blocks int)

//go:noescape
func dequantQ5_0AVX2(dst *float32, src *byte, blocks int)

//go:noescape
func dequantQ5_1AVX2(dst *float32, src *byte, blocks int)

//go:noescape
func dequantQ4KAVX2(dst *float32, src *byte, blocks int)

//go:noescape
func dequantQ5KAVX2(dst *float32, src *byte, blocks int)

//go:noescape
func dequantQ2KAVX2(dst *float32, src *byte, blocks int)

//go:noescape
func dequantQ3KAVX2(dst *float32, src *byte, blocks int)

//go:noescape
func dequantQ6KAVX2(dst *float32, src *byte, blocks int)

// hasF16C: the assembly widens the F16 scales with VCVTPH2PS.
var hasF16C = cpu.X86.HasF16C

// dequantSIMD is dequantBlocks (same arguments) in the active kernel set's
// assembly. It reports false, having written nothing, where the set is the
// portable Go one or has no assembly for t.
func dequantSIMD(t Type, ts int, src []byte, dst []float32) bool {
	set := kernels.Active()
	if set == kernels.Go || !hasF16C {
		return false
	}
	var f [2]func(dst *float32, src *byte, blocks int) // AVX2, AVX-512
	switch t {
	case Q8_0:
		f = [2]func(*float32, *byte, int){dequantQ8_0AVX2, dequantQ8_0AVX512}
	case Q4_0:
		f = [2]func(*float32, *byte, int){dequantQ4_0AVX2, dequantQ4_0AVX512}
	case Q4_1:
		f = [2]func(*float32, *byte, int){dequantQ4_1AVX2, dequantQ4_1AVX512}
	case Q5_0:
		f = [2]func(*float32, *byte, int){dequantQ5_0AVX2, dequantQ5_0AVX512}
	case Q5_1:
		f = [2]func(*float32, *byte, int){dequantQ5_1AVX2, dequantQ5_1AVX512}
	case Q2_K:
		f = [2]func(*float32, *byte, int){dequantQ2KAVX2, dequantQ2KAVX512}
	case Q3_K:
		f = [2]func(*float32, *byte, int){dequantQ3KAVX2, dequantQ3KAVX512}
	case Q4_K:
		f = [2]func(*float32, *byte, int){dequantQ4KAVX2, dequantQ4KAVX512}
	case Q5_K:
		f = [2]func(*float32, *byte, int){dequantQ5KAVX2, dequantQ5KAVX512}
	case Q6_K:
		f = [2]func(*float32, *byte, int){dequantQ6KAVX2, dequantQ6KAVX512}
	default:
		return false
	}
	n := len(dst) / t.BlockSize()
	if n == 0 {
		return true
	}
	_, _ = src[n*ts-1], dst[n*t.BlockSize()-1]
	if set == kernels.AVX512 {
		f[1](&dst[0], &src[0], n)
	} else {
		f[0](&dst[0], &src[0], n)
	}
	return true
}

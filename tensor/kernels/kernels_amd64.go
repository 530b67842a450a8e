//go:build amd64 && !purego

package kernels

import "golang.org/x/sys/cpu"

var supported = func() []Set {
	switch {
	case cpu.X86.HasAVX2 && cpu.X86.HasFMA && cpu.X86.HasAVX512F:
		return []Set{AVX512, AVX2, Go}
	case cpu.X86.HasAVX2 && cpu.X86.HasFMA:
		return []Set{AVX2, Go}
	}
	return []Set{Go}
}()

func unsupportedWhy(s Set) string {
	switch s {
	case AVX512:
		return "this CPU lacks AVX-512F"
	case AVX2:
		return "this CPU lacks AVX2 or FMA"
	}
	return "not a kernel set"
}

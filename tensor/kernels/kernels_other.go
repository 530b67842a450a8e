//go:build !amd64 || purego

package kernels

// This build has no assembly: only the portable Go kernels.
var supported = []Set{Go}

func unsupportedWhy(s Set) string {
	if s == AVX2 || s == AVX512 {
		return "this build has no amd64 assembly (another architecture, or -tags purego)"
	}
	return "not a kernel set"
}

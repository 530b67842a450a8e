//go:build !amd64 || purego

package tensor

// asmKernels is empty: this build has no assembly micro-kernel.
var asmKernels []*gemmKernel

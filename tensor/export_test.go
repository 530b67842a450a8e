package tensor

// ForEachTestKernel runs f once for every micro-kernel testKernels lists,
// with that kernel in use: the external tests (gemm_ggml_test.go, which
// imports package gguf, itself an importer of tensor) cover what the
// internal ones do.
func ForEachTestKernel(f func(name string)) {
	for _, kern := range testKernels() {
		withKernel(kern, func() { f(kern.name) })
	}
}

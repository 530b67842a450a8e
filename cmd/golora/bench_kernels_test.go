package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/golora/golora/tensor/kernels"
)

// bench gemm --kernels runs and reports each kernel set the CPU supports
// and refuses, as a usage error, one it cannot run.
func TestBenchKernels(t *testing.T) {
	old := kernels.Active()
	t.Cleanup(func() { kernels.Use(old) })
	for _, s := range kernels.Supported() {
		stdout, stderr, code := golora(t, "bench", "gemm", "--m", "8", "--n", "8", "--k", "8", "--threads", "1", "--kernels", s.String())
		if code != 0 {
			t.Fatalf("--kernels %v: exit %d: %s", s, code, stderr)
		}
		var r struct{ Kernels string }
		if err := json.Unmarshal([]byte(stdout), &r); err != nil || r.Kernels != s.String() {
			t.Errorf("--kernels %v: reported %q (%v) in %s", s, r.Kernels, err, stdout)
		}
	}
	_, stderr, code := golora(t, "bench", "gemm", "--kernels", "avx1024")
	if code != 2 || !strings.Contains(stderr, `--kernels: kernel set "avx1024": unknown`) {
		t.Errorf("--kernels avx1024: exit %d, %q; want a usage error", code, stderr)
	}
}

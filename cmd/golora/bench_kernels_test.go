package main

import (
	"encoding/json"
	"math"
	"runtime"
	"strings"
	"testing"

	"github.com/golora/golora/tensor/kernels"
)

// bench gemm --kernels runs and reports each kernel set the CPU supports,
// with the theoretical peak threads × clock × the set's FLOP per cycle and
// the fraction of it reached, and the rate over CPU time, and refuses, as a usage error, one it
// cannot run.
func TestBenchKernels(t *testing.T) {
	old := kernels.Active()
	t.Cleanup(func() { kernels.Use(old) })
	for _, s := range kernels.Supported() {
		stdout, stderr, code := golora(t, "bench", "gemm", "--m", "8", "--n", "8", "--k", "8", "--threads", "1", "--kernels", s.String())
		if code != 0 {
			t.Fatalf("--kernels %v: exit %d: %s", s, code, stderr)
		}
		var r struct {
			Kernels               string
			GFLOPS                float64 `json:"gflops"`
			CPUGFLOPS             float64 `json:"cpu_gflops"`
			ClockGHz              float64 `json:"clock_ghz"`
			ClockMethod           string  `json:"clock_method"`
			FLOPsPerCycle         int     `json:"flops_per_cycle"`
			TheoreticalPeakGFLOPS float64 `json:"theoretical_peak_gflops"`
			FractionOfTheoretical float64 `json:"fraction_of_theoretical"`
		}
		if err := json.Unmarshal([]byte(stdout), &r); err != nil || r.Kernels != s.String() {
			t.Errorf("--kernels %v: reported %q (%v) in %s", s, r.Kernels, err, stdout)
		}
		wantFPC := map[kernels.Set]int{kernels.Go: 0, kernels.AVX2: 32, kernels.AVX512: 64}[s]
		peak := r.ClockGHz * float64(r.FLOPsPerCycle)
		if r.FLOPsPerCycle != wantFPC || r.ClockMethod == "" || math.Abs(r.TheoreticalPeakGFLOPS-peak) > 1e-9*peak ||
			(peak > 0 && math.Abs(r.FractionOfTheoretical-r.GFLOPS/peak) > 1e-9) || (peak == 0 && r.FractionOfTheoretical != 0) {
			t.Errorf("--kernels %v: theoretical peak wrong in %s", s, stdout)
		}
		if runtime.GOOS == "linux" && !(r.CPUGFLOPS > 0) {
			t.Errorf("--kernels %v: no rate over CPU time in %s", s, stdout)
		}
	}
	_, stderr, code := golora(t, "bench", "gemm", "--kernels", "avx1024")
	if code != 2 || !strings.Contains(stderr, `--kernels: kernel set "avx1024": unknown`) {
		t.Errorf("--kernels avx1024: exit %d, %q; want a usage error", code, stderr)
	}
}

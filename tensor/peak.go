package tensor

import (
	"time"

	"github.com/golora/golora/tensor/kernels"
)

// KernelGFLOPS measures the active micro-kernel on data that stays in the
// L1 cache, on one goroutine, for about d: the float32 rate one core can
// reach, the practical peak that model FLOP utilisation is measured
// against (a VM's reported clock is often the base clock, not the one the
// core runs at).
func KernelGFLOPS(d time.Duration) float64 {
	k := activeKernel()
	const kc = 256
	a := make([]float32, k.mr*kc)
	b := make([]float32, k.nr*kc)
	c := make([]float32, k.mr*k.nr)
	for i := range a {
		a[i] = 1e-3
	}
	for i := range b {
		b[i] = 1e-3
	}
	calls := 0
	start := time.Now()
	for time.Since(start) < d {
		for i := 0; i < 64; i++ {
			k.full(kc, a, kc, 1, b, k.nr, c, k.nr, 1, 1)
		}
		calls += 64
	}
	return 2 * float64(k.mr*k.nr*kc) * float64(calls) / time.Since(start).Seconds() / 1e9
}

// KernelName names the active micro-kernel (e.g. "avx512-12x32").
func KernelName() string { return activeKernel().name }

// PeakFLOPsPerCycle is the float32 FLOP one core can do per cycle with the
// active micro-kernel's instructions, the figure a theoretical peak
// multiplies the clock by (MeasureClock):
//   - avx2: 2 FMA units × 8 lanes × 2 = 32, as on every AVX2 core since
//     Intel Haswell and AMD Zen 2;
//   - avx512: 2 × 16 × 2 = 64, assuming two 512-bit FMA units (Intel Xeon
//     Gold and Platinum since Skylake-SP, Sapphire Rapids, AMD Zen 5).
//     Cores with one (some Xeon Silver and Bronze and client parts, and AMD
//     Zen 4, which runs a 512-bit FMA as two 256-bit halves) have 32, and
//     a peak from 64 is then twice what they can reach;
//   - go: 0, no figure: the portable kernel's scalar code has no stated
//     peak.
func PeakFLOPsPerCycle() int {
	switch activeKernel().set {
	case kernels.AVX2:
		return 32
	case kernels.AVX512:
		return 64
	}
	return 0
}

package tensor

import (
	"testing"
	"time"

	"github.com/golora/golora/tensor/kernels"
)

// TestMeasureClock checks that the clock loop counts one cycle per add: a
// chain that a core shortcuts (immediate adds folded at renaming) or a
// miscounted loop gives a clock far outside what x86-64 cores run at.
func TestMeasureClock(t *testing.T) {
	c := MeasureClock(40*time.Millisecond, 2)
	if !haveClockLoop {
		if c.GHz != 0 || c.Method == "" {
			t.Fatalf("no clock loop: got %+v, want 0 GHz and a reason", c)
		}
		t.Skip("no clock loop in this build")
	}
	if !(0.3 < c.GHz && c.GHz < 7) || c.Method == "" {
		t.Fatalf("MeasureClock = %+v, want 0.3-7 GHz and its method", c)
	}
	t.Logf("%.3f GHz: %s", c.GHz, c.Method)
}

func TestPeakFLOPsPerCycle(t *testing.T) {
	want := map[kernels.Set]int{kernels.Go: 0, kernels.AVX2: 32, kernels.AVX512: 64}
	for _, s := range kernels.Supported() {
		withKernels(s, func() {
			if got := PeakFLOPsPerCycle(); got != want[s] {
				t.Errorf("%v: PeakFLOPsPerCycle = %d, want %d", s, got, want[s])
			}
		})
	}
}

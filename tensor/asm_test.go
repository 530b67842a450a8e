package tensor

import (
	"testing"

	"github.com/golora/golora/internal/asmcheck"
)

func TestAssemblyWritesVectorRegistersBeforeReading(t *testing.T) {
	asmcheck.Files(t, "gemm_amd64.s", "vecmath_amd64.s")
}

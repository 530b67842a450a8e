package gguf

import (
	"testing"

	"github.com/golora/golora/internal/asmcheck"
)

func TestAssemblyWritesVectorRegistersBeforeReading(t *testing.T) {
	asmcheck.Files(t, "dequant_amd64.s")
}

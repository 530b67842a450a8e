package mem

import (
	"path/filepath"
	"testing"

	"github.com/golora/golora/model"
)

// TestGemmaParamCounts: the config.json files of google/gemma-2-2b and
// google/gemma-3-1b-it (testdata/configs, the published values) give the
// parameter counts the Hugging Face Hub reports for the checkpoints
// (safetensors metadata; the sum of model.parameters()): 2,614,341,888
// (tied head, four norms per layer) and 999,885,952 (tied head, q_norm and
// k_norm of 256 per layer as well).
func TestGemmaParamCounts(t *testing.T) {
	for _, tc := range []struct {
		dir  string
		want int64
	}{{"gemma-2-2b", 2_614_341_888}, {"gemma-3-1b-it", 999_885_952}} {
		c, err := model.LoadConfig(filepath.Join("..", "testdata", "configs", tc.dir, "config.json"))
		if err != nil {
			t.Fatal(err)
		}
		b, err := Predict(c, Options{Method: Full, DTypeSize: 2})
		if err != nil {
			t.Fatal(err)
		}
		if b.Params != tc.want {
			t.Errorf("%s: %d parameters, want %d", tc.dir, b.Params, tc.want)
		}
	}
}

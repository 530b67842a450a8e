package merge

import (
	"path/filepath"
	"testing"

	"github.com/golora/golora/lora"
)

// TestWritePhi3: adapters on Phi-3's fused qkv_proj and gate_up_proj (and
// o_proj) merge into a model whose logits are the base's with the
// adapters attached.
func TestWritePhi3(t *testing.T) {
	base := "../testdata/ref/phi3_lora_train"
	specs := []lora.Spec{{Dir: filepath.Join(base, "adapter_init"), Scale: 1}, {Dir: filepath.Join(base, "adapter_rslora_bf16"), Scale: 0.5}}
	out := filepath.Join(t.TempDir(), "merged")
	res, err := Write(base, specs, out, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Modules != 2*2+2*3 { // adapter_init: qkv_proj, gate_up_proj; adapter_rslora_bf16: o_proj too; 2 layers
		t.Errorf("merged %d modules, want 10", res.Modules)
	}
	want := logits(t, base, specs...)
	e := relErr(t, logits(t, out), want)
	if e > 1e-4 {
		t.Errorf("merged logits differ from the base with both adapters by %.3g", e)
	} else {
		t.Logf("merged logits: relative error %.3g", e)
	}
	if e := relErr(t, logits(t, base), want); e < 1e-3 {
		t.Errorf("the adapters barely change the logits (%.3g): the test cannot tell a merge from none", e)
	}
}

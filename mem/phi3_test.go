package mem

import (
	"testing"

	"github.com/golora/golora/model"
)

// TestPhi3ParamCount: microsoft/Phi-3-mini-4k-instruct's config.json
// (testdata, as published) has 3,821,079,552 parameters: the Hugging Face
// Hub's safetensors total for the checkpoint, and half the total_size
// (7,642,159,104 bytes of BF16) of its model.safetensors.index.json. Per
// layer: qkv_proj 3072→9216, o_proj 3072→3072, gate_up_proj 3072→16384,
// down_proj 8192→3072 and two norms; an untied head. A rank-8 adapter on
// the fused qkv_proj trains A [8, 3072] and B [9216, 8] in each of the 32
// layers.
func TestPhi3ParamCount(t *testing.T) {
	c, err := model.LoadConfig("testdata/phi-3-mini-4k-instruct/config.json")
	if err != nil {
		t.Fatal(err)
	}
	if c.SlidingWindow != 2047 || c.RotaryDim != 96 || !c.FusedQKV || !c.FusedGateUp {
		t.Errorf("sliding window %d, rotary dims %d, fused %v %v", c.SlidingWindow, c.RotaryDim, c.FusedQKV, c.FusedGateUp)
	}
	b, err := Predict(c, Options{Method: Full, DTypeSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	if b.Params != 3_821_079_552 {
		t.Errorf("Phi-3-mini-4k-instruct: %d parameters, want 3,821,079,552", b.Params)
	}
	l, err := Predict(c, Options{Method: LoRA, DTypeSize: 2, Rank: 8, Targets: "qkv_proj"})
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(32 * (8*3072 + 9216*8)); l.TrainableParams != want {
		t.Errorf("LoRA r=8 on qkv_proj trains %d parameters, want %d", l.TrainableParams, want)
	}
}

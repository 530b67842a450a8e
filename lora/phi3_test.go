package lora

import (
	"slices"
	"strings"
	"testing"
)

// TestPhi3Targets: PEFT has no default target modules for phi3, so a
// config naming none is refused with the model's linear modules listed;
// all-linear adapts the fused qkv_proj and gate_up_proj with o_proj and
// down_proj (never lm_head), each fused module as one: the rank applies
// to the fused matrix.
func TestPhi3Targets(t *testing.T) {
	m := loadBase(t, "../testdata/ref/phi3_lora_train")
	if _, ok := FamilyTargets("phi3"); ok {
		t.Error("phi3 has a default in PEFT's mapping?")
	}
	for _, f := range []func() error{
		func() error { _, err := Targets(m, &Config{R: 2, Alpha: 4}); return err },
		func() error { _, err := ConfigTargets(m.Cfg, &Config{R: 2, Alpha: 4}); return err },
	} {
		if err := f(); err == nil || !strings.Contains(err.Error(), `model type "phi3"`) || !strings.Contains(err.Error(), "qkv_proj, o_proj, gate_up_proj, down_proj") {
			t.Errorf("no targets on phi3: %v", err)
		}
	}
	cfg := &Config{R: 3, Alpha: 6}
	cfg.ParseTargets("all-linear")
	a, err := New(m, "x", cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for name, l := range a.Modules {
		names = append(names, name)
		if l.Rank != 3 {
			t.Errorf("%s: rank %d", name, l.Rank)
		}
	}
	slices.Sort(names)
	want := []string{"model.layers.0.mlp.down_proj", "model.layers.0.mlp.gate_up_proj", "model.layers.0.self_attn.o_proj", "model.layers.0.self_attn.qkv_proj",
		"model.layers.1.mlp.down_proj", "model.layers.1.mlp.gate_up_proj", "model.layers.1.self_attn.o_proj", "model.layers.1.self_attn.qkv_proj"}
	if !slices.Equal(names, want) {
		t.Errorf("all-linear adapts %v", names)
	}
	c := m.Cfg
	qkv := a.Modules["model.layers.0.self_attn.qkv_proj"]
	if out := (c.NumHeads + 2*c.NumKVHeads) * c.HeadDim; qkv.A.Shape[1] != c.HiddenSize || qkv.B.Shape[0] != out {
		t.Errorf("qkv_proj adapter A %v B %v, want [3 %d] and [%d 3]", qkv.A.Shape, qkv.B.Shape, c.HiddenSize, out)
	}
	if gu := a.Modules["model.layers.1.mlp.gate_up_proj"]; gu.B.Shape[0] != 2*c.IntermediateSize {
		t.Errorf("gate_up_proj adapter B %v, want [%d 3]", gu.B.Shape, 2*c.IntermediateSize)
	}
}

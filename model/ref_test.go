package model

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/golora/golora/internal/testref"
)

// The fixtures under testdata/ref were written by an independent PyTorch
// implementation of transformers' Llama, Mistral, Qwen2, Qwen3 and GPT-2 (float64 from the
// stored weights); see testdata/ref/README.md and make_fixtures.py.

const refDir = "../testdata/ref"

type refExpected struct {
	IDs    [][]int                    `json:"ids"`
	Logits [][][]float64              `json:"logits"`
	Loss   float64                    `json:"loss"`
	Grads  map[string]json.RawMessage `json:"grads"`
}

func readJSON(t testing.TB, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// relErr is max|got−want| / max|want|, the criterion the logits and
// gradients are held to (1e-4: float32 compute against a float64
// reference). Slices of different lengths fail the test.
func relErr(t testing.TB, got []float32, want []float64) float64 {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d values, reference has %d", len(got), len(want))
	}
	var num, den float64
	for i, w := range want {
		num = math.Max(num, math.Abs(float64(got[i])-w))
		den = math.Max(den, math.Abs(w))
	}
	return num / den
}

func flatten3(x [][][]float64) []float64 {
	var out []float64
	for _, a := range x {
		for _, b := range a {
			out = append(out, b...)
		}
	}
	return out
}

func flattenIDs(x [][]int) []int {
	var out []int
	for _, a := range x {
		out = append(out, a...)
	}
	return out
}

func TestReferenceLogits(t *testing.T) {
	for _, name := range []string{"llama_f32", "llama_bf16_tied", "mistral_f16_headdim", "qwen2_f32_bias", "llama3_rope", "llama_sharded",
		"qwen3_f32", "qwen3_bf16_tied", "gpt2_f32", "gpt2_bf16_bare", "phi3_f32", "phi3_bf16_longrope"} {
		t.Run(name, func(t *testing.T) { testReferenceLogits(t, name) })
	}
}

// testReferenceLogits compares the logits and the loss of the fixture
// name's model with the reference's.
func testReferenceLogits(t *testing.T, name string) {
	m, exp := loadRef(t, name)
	B, T := len(exp.IDs), len(exp.IDs[0])
	ids := flattenIDs(exp.IDs)
	s := m.NewState(B, T, false)
	if err := m.Forward(s, ids); err != nil {
		t.Fatal(err)
	}
	if e := relErr(t, s.Logits, flatten3(exp.Logits)); e > 1e-4 {
		t.Errorf("logits: relative error %.3g > 1e-4", e)
	} else {
		t.Logf("logits: relative error %.3g", e)
	}
	// The loss of a training state, whose logits are computed a
	// chunk at a time inside Loss, and of the inference state.
	st := m.NewState(B, T, true)
	if err := m.Forward(st, ids); err != nil {
		t.Fatal(err)
	}
	for _, state := range []*State{st, s} {
		sum, count, err := m.Loss(state, ids, 0)
		if err != nil {
			t.Fatal(err)
		}
		if loss := sum / float64(count); math.Abs(loss-exp.Loss) > 1e-4*math.Abs(exp.Loss) {
			t.Errorf("train=%v: loss %.7g, reference %.7g", state.train, loss, exp.Loss)
		}
	}
}

// TestReferenceGrads compares full fine-tuning gradients of the mean loss
// with the reference's (qwen3_f32's include its q_norm and k_norm,
// gpt2_f32's its position embedding, LayerNorm biases and Conv1D weights,
// whose gradients are held transposed as the weights are; phi3_f32's its
// fused qkv_proj and gate_up_proj).
func TestReferenceGrads(t *testing.T) {
	for _, name := range []string{"llama_f32", "qwen3_f32", "gpt2_f32", "phi3_f32"} {
		t.Run(name, func(t *testing.T) { testReferenceGrads(t, name) })
	}
}

// loadRef loads the model of the fixture name and its expected.json; the
// model is closed when the test ends.
func loadRef(t *testing.T, name string) (*Model, refExpected) {
	dir := filepath.Join(refDir, name)
	var exp refExpected
	readJSON(t, filepath.Join(dir, "expected.json"), &exp)
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m, exp
}

func testReferenceGrads(t *testing.T, name string) {
	m, exp := loadRef(t, name)
	m.SetTrainable(func(string) bool { return true })
	B, T := len(exp.IDs), len(exp.IDs[0])
	s := m.NewState(B, T, true)
	ids := flattenIDs(exp.IDs)
	if err := m.Forward(s, ids); err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.Loss(s, ids, float32(B*(T-1))); err != nil {
		t.Fatal(err)
	}
	m.Backward(s)
	byName := map[string]*Param{}
	for _, p := range m.Params() {
		byName[p.Name] = p
	}
	if len(exp.Grads) == 0 {
		t.Fatal("fixture has no gradients")
	}
	for name, raw := range exp.Grads {
		var g any
		if err := json.Unmarshal(raw, &g); err != nil {
			t.Fatal(err)
		}
		want := testref.Flat(g)
		p := byName[name]
		if p == nil {
			t.Fatalf("no parameter %s", name)
		}
		if len(want) != len(p.Grad) {
			t.Fatalf("%s: %d reference values, %d gradient entries", name, len(want), len(p.Grad))
		}
		if p.Transposed { // the reference's [in, out] as golora holds it, [out, in]
			in, out := p.Shape[0], p.Shape[1]
			tr := make([]float64, len(want))
			for i := 0; i < in; i++ {
				for j := 0; j < out; j++ {
					tr[j*in+i] = want[i*out+j]
				}
			}
			want = tr
		}
		if e := relErr(t, p.Grad, want); e > 1e-4 {
			t.Errorf("%s: gradient relative error %.3g", name, e)
		} else {
			t.Logf("%s: gradient relative error %.3g", name, e)
		}
	}
}

// TestReferenceInvFreq compares the rotary inverse frequencies with the
// reference's for llama3_rope, with its llama3 rope_scaling (one frequency
// kept, one smoothed, the rest divided by the factor) and without it, and
// the logits of the model with the scaling removed.
func TestReferenceInvFreq(t *testing.T) {
	dir := filepath.Join(refDir, "llama3_rope")
	var exp struct {
		IDs            [][]int       `json:"ids"`
		InvFreq        []float64     `json:"inv_freq"`
		InvFreqPlain   []float64     `json:"inv_freq_unscaled"`
		LogitsUnscaled [][][]float64 `json:"logits_unscaled_rope"`
	}
	readJSON(t, filepath.Join(dir, "expected.json"), &exp)
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.Cfg.RopeScaling == nil {
		t.Fatal("llama3_rope: config has no rope_scaling")
	}
	check := func(what string, got, want []float64) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %d frequencies, reference has %d", what, len(got), len(want))
		}
		for i := range want {
			if math.Abs(got[i]-want[i]) > 1e-12*want[i] {
				t.Errorf("%s[%d] = %.17g, reference %.17g", what, i, got[i], want[i])
			}
		}
	}
	check("inv_freq", m.Cfg.InvFreq(), exp.InvFreq)
	m.Cfg.RopeScaling = nil
	check("inv_freq_unscaled", m.Cfg.InvFreq(), exp.InvFreqPlain)
	B, T := len(exp.IDs), len(exp.IDs[0])
	s := m.NewState(B, T, false)
	if err := m.Forward(s, flattenIDs(exp.IDs)); err != nil {
		t.Fatal(err)
	}
	if e := relErr(t, s.Logits, flatten3(exp.LogitsUnscaled)); e > 1e-4 {
		t.Errorf("logits without rope_scaling: relative error %.3g > 1e-4", e)
	}
}

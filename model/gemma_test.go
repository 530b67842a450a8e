package model

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// gemmaTestExtra makes testConfig's Gemma 2 bend its numbers where Gemma
// does: soft-caps near the size of the scores and logits, a window of 2 on
// the sliding layer 0, an attention scale other than 1/√head_dim.
var gemmaTestExtra = map[string]any{"attn_logit_softcapping": 0.5, "final_logit_softcapping": 1.5,
	"sliding_window": 2, "query_pre_attn_scalar": 3}

func TestSoftcap(t *testing.T) {
	x := []float32{0, 1e-3, -0.7, 2, -5, 30, -200, 1e30, float32(math.Inf(-1))}
	y := append([]float32(nil), x...)
	softcap(y, 1.5)
	for i, v := range x {
		want := 1.5 * math.Tanh(float64(v)/1.5)
		if math.Abs(float64(y[i])-want) > 3e-7 {
			t.Errorf("softcap(%g) = %g, want %g", v, y[i], want)
		}
	}
}

// TestCappedLossGrad checks the loss through the final soft-cap: the
// gradient crossEntropyCapped leaves against central differences of the
// summed loss over the raw logits.
func TestCappedLossGrad(t *testing.T) {
	r := rand.New(rand.NewPCG(51, 52))
	T, V := 4, 7
	const cp = 1.5
	raw := randSlice(r, T*V, 2)
	labels := []int{3, 1, IgnoreIndex, 6}
	buf, f := make([]float32, T*V), make([]float32, V)
	loss := func() float64 {
		copy(buf, raw)
		softcapRows(buf, V, cp)
		s, _, _ := crossEntropyCapped(buf, 0, labels, 0, T, T, V, 0, cp, f)
		return s
	}
	copy(buf, raw)
	softcapRows(buf, V, cp)
	crossEntropyCapped(buf, 0, labels, 0, T, T, V, 1, cp, f)
	checkGrad(t, "d raw logits", raw, append([]float32(nil), buf...), loss, T*V)
}

func TestGeGLUGrad(t *testing.T) {
	r := rand.New(rand.NewPCG(53, 54))
	n := 300 // more than one block of geluBlock
	g, u, rr := randSlice(r, n, 2), randSlice(r, n, 1), randSlice(r, n, 1)
	h := make([]float32, n)
	loss := func() float64 {
		gegluForward(h, g, u)
		return dot64(h, rr)
	}
	loss()
	for i, v := range g {
		x := float64(v)
		want := 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x))) * float64(u[i])
		if math.Abs(float64(h[i])-want) > 1e-5*(1+math.Abs(want)) {
			t.Fatalf("geglu(%g, %g) = %g, want %g", v, u[i], h[i], want)
		}
	}
	dg, du := make([]float32, n), make([]float32, n)
	gegluBackward(dg, du, rr, g, u)
	checkGrad(t, "dg", g, dg, loss, 100)
	checkGrad(t, "du", u, du, loss, 100)
}

// TestGemmaAttentionGrad checks attention with soft-capped scores, Gemma's
// scale and the sliding window of layer 0, in one block and in blocks of
// two queries.
func TestGemmaAttentionGrad(t *testing.T) {
	testAttentionGrad(t, "gemma2", gemmaTestExtra, nil)
	defer func(r int) { attnRows = r }(attnRows)
	attnRows = 2
	testAttentionGrad(t, "gemma2", gemmaTestExtra, nil)
}

func TestGemmaConfig(t *testing.T) {
	g2 := testConfig(t, "gemma2", map[string]any{"num_hidden_layers": 4, "tie_word_embeddings": nil})
	if !g2.Gemma || g2.AttnSoftcap != 50 || g2.FinalSoftcap != 30 || g2.AttnScale != 1.0/16 || g2.SlidingWindow != 4096 ||
		!g2.TieEmbeddings || g2.QKNorm || g2.RopeLocalTheta != 0 {
		t.Errorf("gemma2 defaults: %+v", g2)
	}
	if want := []bool{true, false, true, false}; !slices.Equal(g2.SlidingLayers, want) {
		t.Errorf("gemma2 sliding layers %v, want %v", g2.SlidingLayers, want)
	}
	g3 := testConfig(t, "gemma3_text", map[string]any{"num_hidden_layers": 7, "rope_theta": nil,
		"attn_logit_softcapping": nil})
	if g3.AttnSoftcap != 0 || g3.FinalSoftcap != 0 || !g3.QKNorm || g3.RopeTheta != 1e6 || g3.RopeLocalTheta != 10000 {
		t.Errorf("gemma3 defaults: %+v", g3)
	}
	if want := []bool{true, true, true, true, true, false, true}; !slices.Equal(g3.SlidingLayers, want) {
		t.Errorf("gemma3 sliding layers %v, want %v", g3.SlidingLayers, want)
	}
	lt := testConfig(t, "gemma3_text", map[string]any{"num_hidden_layers": 2,
		"layer_types": []any{"full_attention", "sliding_attention"}})
	if want := []bool{false, true}; !slices.Equal(lt.SlidingLayers, want) || lt.localRope(0) || !lt.localRope(1) {
		t.Errorf("layer_types: sliding layers %v, want %v", lt.SlidingLayers, want)
	}
	// transformers v5: rope_parameters per layer type.
	v5 := testConfig(t, "gemma3_text", map[string]any{"rope_theta": nil, "rope_parameters": map[string]any{
		"full_attention":    map[string]any{"rope_type": "linear", "factor": 8, "rope_theta": 1e6},
		"sliding_attention": map[string]any{"rope_type": "default", "rope_theta": 1e4}}})
	if v5.RopeTheta != 1e6 || v5.RopeScaling == nil || v5.RopeScaling.Type != "linear" || v5.RopeScaling.Factor != 8 ||
		v5.RopeLocalTheta != 1e4 {
		t.Errorf("rope_parameters per layer type: theta %g, scaling %+v, local theta %g", v5.RopeTheta, v5.RopeScaling, v5.RopeLocalTheta)
	}
	for _, bad := range []string{
		`"hidden_activation":"gelu"`, `"query_pre_attn_scalar":0`, `"final_logit_softcapping":-1`,
		`"layer_types":["full_attention"]`, `"layer_types":"sliding_attention"`, `"layer_types":["full_attention","global"]`, `"sliding_window_pattern":0`,
	} {
		js := `{"architectures":["Gemma3ForCausalLM"],"vocab_size":19,"hidden_size":16,"intermediate_size":24,
			"num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":2,"head_dim":4,` + bad + `}`
		if _, err := ParseConfig([]byte(js), "config.json"); err == nil {
			t.Errorf("%s: no error", bad)
		} else {
			t.Log(err)
		}
	}
}

// TestGemmaAttentionScores: Gemma 2's layer 0 slides, layer 1 attends to
// every earlier position.
func TestGemmaAttentionScores(t *testing.T) {
	c := testConfig(t, "gemma2", map[string]any{"sliding_window": 16})
	sliding, full := 64*64+64*(128-(64-16+1)), 64*64+64*128
	if got := c.AttentionScores(128); got != sliding+full {
		t.Errorf("window 16 on layer 0, T=128: %d scores, want %d", got, sliding+full)
	}
}

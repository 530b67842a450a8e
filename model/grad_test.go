package model

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/golora/golora/tensor"
)

// Gradient checks: every backward is compared with central differences of
// L = Σ r ⊙ forward(...) for a fixed random r. Forward runs in float32, so
// the step and the tolerance are set for float32 rounding; a wrong gradient
// is off by O(1), far outside them.

func randSlice(r *rand.Rand, n int, std float64) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64() * std)
	}
	return s
}

func dot64(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

// checkGrad compares analytic (d loss/d x) with central differences of loss
// over up to maxChecks entries of x.
func checkGrad(t *testing.T, name string, x, analytic []float32, loss func() float64, maxChecks int) {
	t.Helper()
	checkGradStep(t, name, x, analytic, loss, maxChecks, 1e-2)
}

// checkGradStep is checkGrad with central differences of step h.
func checkGradStep(t *testing.T, name string, x, analytic []float32, loss func() float64, maxChecks int, h float32) {
	t.Helper()
	idx := rand.New(rand.NewPCG(1, 2)).Perm(len(x))
	if len(idx) > maxChecks {
		idx = idx[:maxChecks]
	}
	var scale float64
	for _, g := range analytic {
		scale = math.Max(scale, math.Abs(float64(g)))
	}
	for _, i := range idx {
		old := x[i]
		x[i] = old + h
		lp := loss()
		x[i] = old - h
		lm := loss()
		x[i] = old
		num := (lp - lm) / (2 * float64(h))
		if d := math.Abs(num - float64(analytic[i])); d > 2e-3*scale+1e-4 {
			t.Errorf("%s[%d]: analytic %.6g, numeric %.6g (max |grad| %.3g)", name, i, analytic[i], num, scale)
		}
	}
}

// TestRMSNormGrad checks the RMSNorm w ⊙ x/rms(x) and Gemma's
// (1 + w) ⊙ x/rms(x) (offset 1).
func TestRMSNormGrad(t *testing.T) {
	for _, off := range []float32{0, 1} {
		r := rand.New(rand.NewPCG(3, 4))
		N, C := 3, 8
		x, w, rr := randSlice(r, N*C, 1), randSlice(r, C, 1), randSlice(r, N*C, 1)
		out, rstd := make([]float32, N*C), make([]float32, N)
		loss := func() float64 {
			rmsnormForward(out, rstd, x, w, N, C, 1e-5, off)
			return dot64(out, rr)
		}
		loss()
		dx, dw := make([]float32, N*C), make([]float32, C)
		rmsnormBackward(dx, dw, rr, x, w, rstd, N, C, off)
		checkGrad(t, fmt.Sprintf("offset %g: dx", off), x, dx, loss, 100)
		checkGrad(t, fmt.Sprintf("offset %g: dw", off), w, dw, loss, 100)
	}
}

// TestRoPEGrad checks RoPE's backward (dir −1) against central
// differences: over whole heads (llama), and over the first half of each
// head with longrope's scaled long-factor tables (phi3 with
// partial_rotary_factor 0.5, T past original_max_position_embeddings),
// where the other dims pass unchanged.
func TestRoPEGrad(t *testing.T) {
	longrope := map[string]any{"head_dim": 8, "partial_rotary_factor": 0.5, "max_position_embeddings": 64, "original_max_position_embeddings": 4,
		"rope_scaling": map[string]any{"type": "longrope", "short_factor": []float64{1, 1.5}, "long_factor": []float64{2, 7}}}
	for _, cfg := range []*Config{testConfig(t, "llama", nil), testConfig(t, "phi3", longrope)} {
		r := rand.New(rand.NewPCG(5, 6))
		B, T, nh, D, R := 2, 5, 2, cfg.HeadDim, cfg.RotaryDim
		N := B * T
		cos, sin := cfg.ropeTables(T, T)
		x, rr := randSlice(r, N*nh*D, 1), randSlice(r, N*nh*D, 1)
		y := make([]float32, len(x))
		loss := func() float64 {
			copy(y, x)
			ropeRotate(y, 0, N, T, 0, nh, D, R, cos, sin, 1)
			return dot64(y, rr)
		}
		dx := append([]float32(nil), rr...)
		ropeRotate(dx, 0, N, T, 0, nh, D, R, cos, sin, -1)
		checkGrad(t, cfg.ModelType+" dx", x, dx, loss, 200)
	}
}

// TestHeadNormGrad checks the query/key head norm of Config.QKNorm as the
// layer runs it: y = rope(w ⊙ x/rms(x)) over each head of D values of the
// N·nh heads, on several threads (the weight gradient summed from the
// chunks' partials, D wider than the hidden size C).
func TestHeadNormGrad(t *testing.T) {
	t.Cleanup(func() { tensor.SetThreads(0) })
	tensor.SetThreads(3)
	r := rand.New(rand.NewPCG(41, 42))
	m := NewRandom(testConfig(t, "qwen3", map[string]any{"head_dim": 20}), 0.1, 1)
	s := m.NewState(2, 3, true)
	nh, D := m.Cfg.NumKVHeads, m.Cfg.HeadDim
	w := m.Layers[0].KNorm
	w.SetTrainable(true)
	copy(w.W.F32, randSlice(r, D, 1))
	x, rr := randSlice(r, s.N*nh*D, 1), randSlice(r, s.N*nh*D, 1)
	y, rstd := make([]float32, len(x)), make([]float32, s.N*nh)
	loss := func() float64 {
		s.rmsnorm(y, rstd, x, w.W.F32, D, 1e-5)
		s.rope(y, 0, nh, D, 1)
		return dot64(y, rr)
	}
	loss()
	dy := slices.Clone(rr)
	s.rope(dy, 0, nh, D, -1)
	dx := make([]float32, len(x))
	s.rmsnormBack(dx, w, dy, x, rstd, D)
	checkGrad(t, "dx", x, dx, loss, 100)
	checkGrad(t, "dw", w.W.F32, slices.Clone(w.Grad), loss, D)
}

func TestLayerNormGrad(t *testing.T) {
	r := rand.New(rand.NewPCG(43, 44))
	N, C := 3, 8
	x, w, b, rr := randSlice(r, N*C, 1), randSlice(r, C, 1), randSlice(r, C, 1), randSlice(r, N*C, 1)
	out, mean, rstd := make([]float32, N*C), make([]float32, N), make([]float32, N)
	loss := func() float64 {
		layernormForward(out, mean, rstd, x, w, b, N, C, 1e-5)
		return dot64(out, rr)
	}
	loss()
	dx, dw, db := make([]float32, N*C), make([]float32, C), make([]float32, C)
	layernormBackward(dx, dw, db, rr, x, w, mean, rstd, N, C)
	checkGrad(t, "dx", x, dx, loss, 100)
	checkGrad(t, "dw", w, dw, loss, 100)
	checkGrad(t, "db", b, db, loss, 100)
}

func TestGELUGrad(t *testing.T) {
	r := rand.New(rand.NewPCG(45, 46))
	n := 60
	x, rr := randSlice(r, n, 2), randSlice(r, n, 1)
	x[0], x[1] = 12, -12 // saturated tanh
	h := make([]float32, n)
	loss := func() float64 { geluForward(h, x); return dot64(h, rr) }
	loss()
	// gelu(x) against float64 tanh: the float32 tanh through exp is exact to rounding.
	for i, v := range x {
		u := float64(v)
		if want := 0.5 * u * (1 + math.Tanh(geluS*(u+geluA*u*u*u))); math.Abs(float64(h[i])-want) > 1e-6*math.Max(1, math.Abs(want)) {
			t.Errorf("gelu(%g) = %g, want %g", v, h[i], want)
		}
	}
	dx := make([]float32, n)
	geluBackward(dx, rr, x)
	checkGrad(t, "dx", x, dx, loss, n)
}

func TestSwiGLUGrad(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	n := 40
	g, u, rr := randSlice(r, n, 2), randSlice(r, n, 1), randSlice(r, n, 1)
	out := make([]float32, n)
	loss := func() float64 { tensor.SwiGLU(out, g, u); return dot64(out, rr) }
	dg, du := make([]float32, n), make([]float32, n)
	tensor.SwiGLUBackward(dg, du, rr, g, u)
	checkGrad(t, "dg", g, dg, loss, n)
	checkGrad(t, "du", u, du, loss, n)
}

func TestCrossEntropyGrad(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	B, T, V := 2, 4, 7
	N := B * T
	logits := randSlice(r, N*V, 2)
	labels := []int{1, 2, IgnoreIndex, 3, 0, 6, 5, IgnoreIndex}
	work := make([]float32, N*V)
	const norm = 3
	loss := func() float64 {
		copy(work, logits)
		s, _, _ := crossEntropy(work, 0, labels, 0, N, T, V, 0)
		return s / norm
	}
	copy(work, logits)
	_, count, _ := crossEntropy(work, 0, labels, 0, N, T, V, norm)
	if count != 4 { // labels[t+1] for t = 0, 2 of the first sequence, t = 0, 1 of the second
		t.Fatalf("count %d, want 4", count)
	}
	checkGrad(t, "dlogits", logits, append([]float32(nil), work...), loss, N*V)
}

// testConfig is a tiny config of the given model type (head_dim 4 for
// qwen3, whose default is 128); extra fields override the defaults.
func testConfig(t testing.TB, modelType string, extra map[string]any) *Config {
	t.Helper()
	arch := map[string]string{"llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM", "qwen2": "Qwen2ForCausalLM",
		"qwen3": "Qwen3ForCausalLM", "gemma2": "Gemma2ForCausalLM", "gemma3_text": "Gemma3ForCausalLM",
		"phi3": "Phi3ForCausalLM"}[modelType]
	js := fmt.Sprintf(`{"architectures":[%q],"model_type":%q,"vocab_size":19,"hidden_size":16,
		"intermediate_size":24,"num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":2,
		"rms_norm_eps":1e-5,"rope_theta":10000,"tie_word_embeddings":false,"hidden_act":"silu"`, arch, modelType)
	if _, ok := extra["head_dim"]; (modelType == "qwen3" || modelType == "gemma2" || modelType == "gemma3_text") && !ok {
		js += `,"head_dim":4`
	}
	if modelType == "gpt2" { // GPT-2's own key names (extra's Llama names are translated); 4 heads of 4
		js = `{"architectures":["GPT2LMHeadModel"],"model_type":"gpt2","vocab_size":19,"n_embd":16,"n_inner":24,
			"n_layer":2,"n_head":4,"n_positions":12,"layer_norm_epsilon":1e-5,"activation_function":"gelu_new"`
	}
	for k, v := range extra {
		if g, ok := gpt2Keys.of(k); ok && modelType == "gpt2" {
			k = g
		}
		js += fmt.Sprintf(",%q:%s", k, jsonValue(v))
	}
	c, err := ParseConfig([]byte(js+"}"), "test config")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// of is GPT-2's name for the Llama config key k.
func (g configKeys) of(k string) (string, bool) {
	for i, l := range []string{llamaKeys.hidden, llamaKeys.intermediate, llamaKeys.layers, llamaKeys.heads, llamaKeys.positions, llamaKeys.eps} {
		if l == k {
			return []string{g.hidden, g.intermediate, g.layers, g.heads, g.positions, g.eps}[i], true
		}
	}
	return "", false
}

func jsonValue(v any) string {
	switch v := v.(type) {
	case string:
		return fmt.Sprintf("%q", v)
	case []float64:
		s := ""
		for _, e := range v {
			if s != "" {
				s += ","
			}
			s += fmt.Sprint(e)
		}
		return "[" + s + "]"
	case map[string]any:
		s := "{"
		for k, e := range v {
			if len(s) > 1 {
				s += ","
			}
			s += fmt.Sprintf("%q:%s", k, jsonValue(e))
		}
		return s + "}"
	}
	js, _ := json.Marshal(v)
	return string(js)
}

func TestAttentionGrad(t *testing.T) {
	for _, tc := range []struct {
		name  string
		extra map[string]any
		model string
		pos   []int // State.Positions
	}{
		{"gqa", nil, "llama", nil},
		{"mha", map[string]any{"num_key_value_heads": 4}, "llama", nil},
		{"sliding-window", map[string]any{"sliding_window": 2}, "mistral", nil},
		{"packed", map[string]any{"sliding_window": 2}, "mistral", []int{0, 1, 0, 1, 2, 0, 1, 2, 3, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) { testAttentionGrad(t, tc.model, tc.extra, tc.pos) })
		// Query blocks of 2 rows over 5 positions: 2, 2, 1, each with its
		// own key range (and window start).
		t.Run(tc.name+"-blocks", func(t *testing.T) {
			defer func(r int) { attnRows = r }(attnRows)
			attnRows = 2
			testAttentionGrad(t, tc.model, tc.extra, tc.pos)
		})
	}
}

func testAttentionGrad(t *testing.T, model string, extra map[string]any, pos []int) {
	r := rand.New(rand.NewPCG(11, 12))
	m := NewRandom(testConfig(t, model, extra), 0.1, 1)
	s := m.NewState(2, 5, true)
	s.Positions = pos
	lc := &s.layers[0]
	for _, b := range [][]float32{lc.q, lc.k, lc.v} {
		copy(b, randSlice(r, len(b), 1))
	}
	rr := randSlice(r, len(lc.att), 1)
	loss := func() float64 { m.attentionForward(s, lc, 0); return dot64(lc.att, rr) }
	loss()
	copy(s.datt, rr)
	m.attentionBackward(s, lc, 0)
	dq, dk, dv := append([]float32(nil), s.dq...), append([]float32(nil), s.dk...), append([]float32(nil), s.dv...)
	checkGrad(t, "dq", lc.q, dq, loss, 60)
	checkGrad(t, "dk", lc.k, dk, loss, 60)
	checkGrad(t, "dv", lc.v, dv, loss, 60)
}

func TestLinearLoRAGrad(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	m := NewRandom(testConfig(t, "qwen2", nil), 0.2, 2)
	lin := m.Layers[0].Q // has a bias in qwen2
	lin.W.SetTrainable(true)
	lin.Bias.SetTrainable(true)
	copy(lin.Bias.F32(), randSlice(r, lin.Out, 0.5))
	for _, name := range []string{"first", "second"} {
		a := &LoRA{Adapter: name, Rank: 3, Scale: 1.5,
			A: &Param{Name: name + ".A", W: tensor.FromF32(randSlice(r, 3*lin.In, 0.3), 3, lin.In), owned: true},
			B: &Param{Name: name + ".B", W: tensor.FromF32(randSlice(r, lin.Out*3, 0.3), lin.Out, 3), owned: true}}
		a.A.SetTrainable(true)
		a.B.SetTrainable(true)
		lin.LoRA = append(lin.LoRA, a)
	}
	loss, x, dx := linearLoss(r, m.NewState(1, 4, true), lin)
	checkGrad(t, "dx", x, dx, loss, 40)
	checkGrad(t, "dW", lin.W.W.F32, lin.W.Grad, loss, 40)
	checkGrad(t, "db", lin.Bias.W.F32, lin.Bias.Grad, loss, 40)
	for _, a := range lin.LoRA {
		checkGrad(t, a.Adapter+" dA", a.A.W.F32, a.A.Grad, loss, 30)
		checkGrad(t, a.Adapter+" dB", a.B.W.F32, a.B.Grad, loss, 30)
	}
}

// linearLoss draws an input x (N,In) and a direction rr (N,Out) and
// returns loss() = Σ linearForward(x)⊙rr, x, and dx from one forward and
// backward pass, which also leave the parameters' gradients.
func linearLoss(r *rand.Rand, s *State, lin *Linear) (loss func() float64, x, dx []float32) {
	x = randSlice(r, s.N*lin.In, 1)
	y := make([]float32, s.N*lin.Out)
	rr := randSlice(r, len(y), 1)
	loss = func() float64 { s.linearForward(lin, y, x); return dot64(y, rr) }
	loss()
	dx = make([]float32, len(x))
	s.linearBackward(lin, dx, rr, x, false)
	return loss, x, dx
}

// TestModelGrad checks the gradient of the whole model's loss with respect
// to every parameter, for each architecture variant.
func TestModelGrad(t *testing.T) {
	for _, tc := range []struct {
		name, model string
		extra       map[string]any
	}{
		{"llama-untied", "llama", nil},
		{"llama-tied", "llama", map[string]any{"tie_word_embeddings": true}},
		{"qwen2-bias", "qwen2", map[string]any{"tie_word_embeddings": true}},
		{"mistral-window", "mistral", map[string]any{"sliding_window": 3, "head_dim": 6}},
		{"qwen3-qknorm-tied", "qwen3", map[string]any{"tie_word_embeddings": true, "head_dim": 6}},
		// Heads wider than the hidden size: the head norms are the widest norms.
		{"qwen3-wide-heads-bias", "qwen3", map[string]any{"head_dim": 20, "attention_bias": true}},
		{"gpt2", "gpt2", nil},
		{"gpt2-untied", "gpt2", map[string]any{"tie_word_embeddings": false}},
		// Soft-capping strong enough to bend the scores and logits, the
		// (1 + w) norms, the scaled embeddings, sliding layer 0.
		{"gemma2-softcap", "gemma2", gemmaTestExtra},
		{"gemma3-qknorm-local-rope", "gemma3_text", map[string]any{"head_dim": 6, "sliding_window": 2, "sliding_window_pattern": 2,
			"rope_local_base_freq": 100, "query_pre_attn_scalar": 3, "tie_word_embeddings": false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(15, 16))
			m := NewRandom(testConfig(t, tc.model, tc.extra), 0.3, 3)
			for _, p := range m.Params() {
				if p.W.Rows == 1 { // norms and biases: move away from 1 and 0
					for i := range p.W.F32 {
						p.W.F32[i] += float32(r.NormFloat64() * 0.2)
					}
				}
			}
			m.SetTrainable(func(string) bool { return true })
			B, T := 2, 5
			s := m.NewState(B, T, true)
			ids := make([]int, B*T)
			for i := range ids {
				ids[i] = r.IntN(m.Cfg.VocabSize)
			}
			labels := append([]int(nil), ids...)
			labels[3] = IgnoreIndex
			loss := func() float64 {
				if err := m.Forward(s, ids); err != nil {
					t.Fatal(err)
				}
				sum, _, _ := m.Loss(s, labels, 0)
				return sum
			}
			loss()
			if _, _, err := m.Loss(s, labels, 1); err != nil {
				t.Fatal(err)
			}
			m.Backward(s)
			for _, p := range m.Params() {
				checkGrad(t, p.Name, p.W.F32, append([]float32(nil), p.Grad...), loss, 12)
			}
		})
	}
}

// TestCheckpointedMatchesFull: with gradient checkpointing every gradient
// (base and LoRA, dropout on) equals the one computed with all
// activations kept.
func TestCheckpointedMatchesFull(t *testing.T) {
	for _, model := range []string{"qwen2", "qwen3", "gpt2", "gemma2", "gemma3_text", "phi3"} {
		t.Run(model, func(t *testing.T) { testCheckpointedMatchesFull(t, model) })
	}
}

func testCheckpointedMatchesFull(t *testing.T, model string) {
	r := rand.New(rand.NewPCG(31, 32))
	m := NewRandom(testConfig(t, model, map[string]any{"num_hidden_layers": 3}), 0.3, 5)
	q := m.Layers[1].Linears()[0] // q_proj, or the fused c_attn (GPT-2) and qkv_proj (Phi-3)
	a := &LoRA{Adapter: "x", Rank: 2, Scale: 2, Dropout: 0.3,
		A: NewParam("A", []int{2, 16}, randSlice(r, 32, 0.3)), B: NewParam("B", []int{q.Out, 2}, randSlice(r, 2*q.Out, 0.3))}
	q.LoRA = append(q.LoRA, a)
	// down_proj is not recomputed: its adapter keeps x·Aᵀ from the forward pass.
	d := &LoRA{Adapter: "x", Rank: 2, Scale: 2, Dropout: 0.3,
		A: NewParam("dA", []int{2, 24}, randSlice(r, 48, 0.3)), B: NewParam("dB", []int{16, 2}, randSlice(r, 32, 0.3))}
	m.Layers[2].Down.LoRA = append(m.Layers[2].Down.LoRA, d)
	adapters := []*Param{a.A, a.B, d.A, d.B}
	if m.Cfg.QKNorm { // k_proj is recomputed for its norm's backward: give it an adapter too
		k := &LoRA{Adapter: "x", Rank: 2, Scale: 2, Dropout: 0.3,
			A: NewParam("kA", []int{2, 16}, randSlice(r, 32, 0.3)), B: NewParam("kB", []int{8, 2}, randSlice(r, 16, 0.3))}
		m.Layers[0].K.LoRA = append(m.Layers[0].K.LoRA, k)
		adapters = append(adapters, k.A, k.B)
	}
	m.SetTrainable(func(string) bool { return true })
	for _, p := range adapters {
		p.SetTrainable(true)
	}
	checkpointedMatchesFull(t, m, append(m.Params(), adapters...), 99)
}

// checkpointedMatchesFull runs one forward, loss and backward pass with
// dropout (seed) over a batch of 2×4 tokens on a full training state and
// on a checkpointed one, and fails unless params get the same gradients
// bit for bit.
func checkpointedMatchesFull(t *testing.T, m *Model, params []*Param, seed uint64) {
	t.Helper()
	ids := []int{1, 2, 3, 4, 5, 6, 7, 8}
	grads := func(s *State) [][]float32 {
		for _, p := range params {
			clear(p.Grad)
		}
		s.Dropout, s.DropoutSeed = true, seed
		if err := m.Forward(s, ids); err != nil {
			t.Fatal(err)
		}
		m.Loss(s, ids, 7)
		m.Backward(s)
		var out [][]float32
		for _, p := range params {
			out = append(out, slices.Clone(p.Grad))
		}
		return out
	}
	full := grads(m.NewState(2, 4, true))
	ckpt := grads(m.NewCheckpointedState(2, 4))
	for i := range full {
		if !slices.Equal(full[i], ckpt[i]) {
			t.Fatalf("parameter %d (%s): checkpointed gradient differs", i, params[i].Name)
		}
	}
}

// TestChunkedHeadMatchesWhole: the output head computed a few rows at a
// time gives the loss and gradients of computing all rows at once.
func TestChunkedHeadMatchesWhole(t *testing.T) {
	m := NewRandom(testConfig(t, "llama", map[string]any{"tie_word_embeddings": true}), 0.3, 8)
	m.SetTrainable(func(string) bool { return true })
	ids := []int{1, 5, 2, 7, 3, 9, 4, 11, 6, 13}
	run := func(rows int) (float64, [][]float32) {
		for _, p := range m.Params() {
			clear(p.Grad)
		}
		s := m.NewState(2, 5, true)
		s.Logits = make([]float32, rows*m.Cfg.VocabSize)
		m.Forward(s, ids)
		sum, _, _ := m.Loss(s, ids, 8)
		m.Backward(s)
		var g [][]float32
		for _, p := range m.Params() {
			g = append(g, slices.Clone(p.Grad))
		}
		return sum, g
	}
	wholeLoss, whole := run(10)
	chunkLoss, chunked := run(3)
	if math.Abs(wholeLoss-chunkLoss) > 1e-6*math.Abs(wholeLoss) {
		t.Errorf("loss %v in chunks of 3, %v whole", chunkLoss, wholeLoss)
	}
	for i := range whole {
		for j := range whole[i] {
			if d := math.Abs(float64(whole[i][j] - chunked[i][j])); d > 1e-5 {
				t.Fatalf("parameter %d entry %d: %g in chunks, %g whole", i, j, chunked[i][j], whole[i][j])
			}
		}
	}
}

// TestLossStateMatchesInference: a loss state (logits HeadChunk rows at a
// time, over more than one chunk) gives the loss of an inference state,
// which holds all logits, and refuses a backward pass.
func TestLossStateMatchesInference(t *testing.T) {
	m := NewRandom(testConfig(t, "llama", nil), 0.3, 8)
	const B, T = 2, 150 // 300 positions: two chunks
	ids := make([]int, B*T)
	for i := range ids {
		ids[i] = (7*i + 3) % m.Cfg.VocabSize
	}
	loss := func(s *State) (float64, int) {
		if err := m.Forward(s, ids); err != nil {
			t.Fatal(err)
		}
		sum, n, err := m.Loss(s, ids, 0)
		if err != nil {
			t.Fatal(err)
		}
		return sum, n
	}
	ls := m.NewLossState(B, T)
	if len(ls.Logits) != HeadChunk*m.Cfg.VocabSize {
		t.Fatalf("loss state holds %d logits, want %d rows", len(ls.Logits), HeadChunk)
	}
	want, wn := loss(m.NewState(B, T, false))
	got, gn := loss(ls)
	if gn != wn || math.Abs(got-want) > 1e-6*math.Abs(want) {
		t.Errorf("loss state: %v over %d targets, inference state %v over %d", got, gn, want, wn)
	}
	if _, _, err := m.Loss(ls, ids, 1); err == nil {
		t.Error("Loss with norm > 0 on a loss state must fail")
	}
}

func TestAttentionScores(t *testing.T) {
	c := testConfig(t, "llama", nil)
	// Summed over testConfig's 2 layers.
	if got, want := c.AttentionScores(256), 2*(256*256/2+32*256); got != want {
		t.Errorf("T=256: %d scores, want %d", got, want)
	}
	if got, want := c.AttentionScores(5), 2*5*5; got != want { // one block: the full square
		t.Errorf("T=5: %d scores, want %d", got, want)
	}
	w := testConfig(t, "mistral", map[string]any{"sliding_window": 16})
	// Blocks of 64 rows see from the window start of their first query.
	if got, want := w.AttentionScores(128), 2*(64*64+64*(128-(64-16+1))); got != want {
		t.Errorf("window 16, T=128: %d scores, want %d", got, want)
	}
}

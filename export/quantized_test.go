package export

import (
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/golora/golora/gguf"
	"github.com/golora/golora/model"
)

// blockTypes are the ggml types model.LoadGGUF keeps quantized, given in
// turn to a test model's matrices.
var blockTypes = []gguf.Type{gguf.Q4_K, gguf.Q8_0, gguf.Q4_0, gguf.Q4_1, gguf.Q5_0, gguf.Q5_1, gguf.Q2_K, gguf.Q3_K, gguf.Q5_K, gguf.Q6_K, gguf.F16, gguf.BF16}

// loadQuantized exports a random model of config js to GGUF with every
// matrix replaced by random blocks of the types of blockTypes in turn and
// loads it and its F32 twin (see loadWithF32).
func loadQuantized(t *testing.T, js string) (quantized, f32 *model.Model) {
	t.Helper()
	cfg, err := model.ParseConfig([]byte(js), "config.json")
	if err != nil {
		t.Fatal(err)
	}
	meta, tensors, err := Model(model.NewRandom(cfg, 0.05, 1), gguf.F32)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 6))
	matrices := 0
	for i, tn := range tensors {
		if len(tn.Shape) == 2 {
			tn.Type = blockTypes[matrices%len(blockTypes)]
			matrices++
			if tn.Data, err = gguf.Random(tn.Type, tn.NumElements(), 0.05, r); err != nil {
				t.Fatal(err)
			}
			tensors[i] = tn
		}
	}
	return loadWithF32(t, meta, tensors)
}

// loadWithF32 writes the tensors to a GGUF and, dequantized and stored as
// F32, to another, and loads both (closed when the test ends).
func loadWithF32(t *testing.T, meta []gguf.KV, tensors []gguf.Tensor) (quantized, f32 *model.Model) {
	t.Helper()
	dir := t.TempDir()
	var plain []gguf.Tensor
	for _, tn := range tensors {
		v, err := tn.Float32()
		if err != nil {
			t.Fatal(err)
		}
		p, err := gguf.NewTensor(tn.Name, gguf.F32, tn.Shape, v)
		if err != nil {
			t.Fatal(err)
		}
		plain = append(plain, p)
	}
	var ms [2]*model.Model
	for i, ts := range [][]gguf.Tensor{tensors, plain} {
		path := filepath.Join(dir, []string{"q.gguf", "f32.gguf"}[i])
		if err := gguf.Write(path, meta, ts); err != nil {
			t.Fatal(err)
		}
		m, err := model.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		ms[i] = m
	}
	return ms[0], ms[1]
}

// TestLoadGGUFKeepsBlocks: a GGUF whose matrices (embedding and output
// head included) are in every ggml block type is held in its blocks, not
// as float32, and computes bit for bit what the same values stored as F32
// compute: the logits of a prompt and of one token (the one-row product of
// generation), and a LoRA training step's loss and adapter gradients
// (x·Wᵀ and dY·W with quantized W).
func TestLoadGGUFKeepsBlocks(t *testing.T) {
	for _, c := range []struct{ name, js string }{
		{"llama", `{"architectures":["LlamaForCausalLM"],"vocab_size":300,"hidden_size":256,"intermediate_size":512,
			"num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":2,"rms_norm_eps":1e-5,"tie_word_embeddings":false}`},
		{"qwen2_tied", `{"architectures":["Qwen2ForCausalLM"],"vocab_size":300,"hidden_size":256,"intermediate_size":512,
			"num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":2,"rms_norm_eps":1e-6,"tie_word_embeddings":true}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			q, f := loadQuantized(t, c.js)
			held := map[string]bool{}
			for _, p := range q.Params() {
				if len(p.Shape) == 2 && p.W.F32 != nil {
					t.Errorf("%s is held as float32 (%v)", p.Name, p.W.DType)
				}
				held[p.W.DType.String()] = true
			}
			if !held["GGML"] || !held["F16"] || !held["BF16"] {
				t.Errorf("held dtypes %v, want GGML, F16 and BF16 among them", held)
			}
			ids := []int{1, 5, 9, 33, 2, 17, 40, 299}
			sameFloats(t, "logits", logits(t, q, ids), logits(t, f, ids))
			sameFloats(t, "one-token logits", logits(t, q, ids[:1]), logits(t, f, ids[:1]))
			lq, gq := loraStep(t, q, ids)
			lf, gf := loraStep(t, f, ids)
			if lq != lf {
				t.Errorf("loss %v, %v with the F32 file", lq, lf)
			}
			sameFloats(t, "LoRA gradients", gq, gf)
		})
	}
}

// loraStep attaches a rank-4 LoRA with random A and B (seeded) to every
// linear of m, runs a training forward, loss and backward on ids
// (predicting each next id) and returns the loss and every A and B
// gradient.
func loraStep(t *testing.T, m *model.Model, ids []int) (float64, []float32) {
	t.Helper()
	r := rand.New(rand.NewPCG(8, 9))
	var ps []*model.Param
	for _, lin := range m.Linears() {
		a := model.NewParam(lin.Name+".A", []int{4, lin.In}, randn(r, 4*lin.In))
		b := model.NewParam(lin.Name+".B", []int{lin.Out, 4}, randn(r, lin.Out*4))
		a.SetTrainable(true)
		b.SetTrainable(true)
		lin.LoRA = append(lin.LoRA, &model.LoRA{Adapter: "a", Rank: 4, Scale: 0.5, A: a, B: b})
		ps = append(ps, a, b)
	}
	s := m.NewState(1, len(ids)-1, true)
	if err := m.Forward(s, ids[:len(ids)-1]); err != nil {
		t.Fatal(err)
	}
	loss, _, err := m.Loss(s, ids[1:], 1)
	if err != nil {
		t.Fatal(err)
	}
	m.Backward(s)
	var g []float32
	for _, p := range ps {
		g = append(g, p.Grad...)
	}
	return loss, g
}

func randn(r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64() * 0.1)
	}
	return x
}

func sameFloats(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%s: [%d] = %v, %v with the F32 file", what, i, got[i], want[i])
		}
	}
	if len(want) == 0 {
		t.Fatalf("%s: nothing compared", what)
	}
}

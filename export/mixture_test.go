package export

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"math"
	"path/filepath"
	"testing"

	"github.com/golora/golora/gguf"
	"github.com/golora/golora/model"
	"github.com/golora/golora/tokenizer/tokenizertest"
)

var mixtureInputs = flag.String("mixture.inputs", "", "write the f32 GGUFs of TestMixtureMatchesLlamaQuantize's models into this `DIR` (testdata/make_mixture.sh) instead of testing")

// mixtureCases are reference models of ../testdata/ref with their sizes
// changed so that llama-quantize's choices all occur: rows of 256 (Q4_K,
// Q6_K), of 64 (Q5_0, Q8_0) and of 80 (F16), use_more_bits over 8 layers,
// tied and untied output, fused attn_qkv (gpt2, phi3), GPT-2's position
// embeddings and biases, Gemma's norms, a 70B's attn_v.
var mixtureCases = []struct {
	name, ref string
	set       map[string]any
}{
	{"llama", "llama_f32", map[string]any{"hidden_size": 256, "intermediate_size": 512, "num_hidden_layers": 8}},
	{"qwen2_tied", "qwen2_f32_bias", map[string]any{"hidden_size": 64, "intermediate_size": 80, "num_hidden_layers": 3}},
	{"gpt2", "gpt2_f32", map[string]any{"n_embd": 256, "n_layer": 2}},
	{"phi3", "phi3_f32", map[string]any{"hidden_size": 256, "intermediate_size": 512}},
	{"gemma2", "gemma2_f32", map[string]any{"hidden_size": 256, "intermediate_size": 512, "num_hidden_layers": 2, "query_pre_attn_scalar": 16}},
	// 80 layers: llama.cpp takes it for a 70B and gives attn_v Q5_K
	{"qwen2_80", "qwen2_f32_bias", map[string]any{"hidden_size": 256, "intermediate_size": 32, "num_hidden_layers": 80,
		"num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 16}},
}

// mixtureModel is a random model (std 0.02, seed 1) of the case's config.
func mixtureModel(t *testing.T, ref string, set map[string]any) *model.Model {
	t.Helper()
	cfg := configWith(t, filepath.Join("../testdata/ref", ref, "config.json"), t.TempDir(), set)
	m := model.NewRandom(cfg, 0.02, 1)
	t.Cleanup(func() { m.Close() })
	return m
}

// quantizedTensor is one tensor of testdata/mixture.json.gz.
type quantizedTensor struct {
	Name   string `json:"name"`
	Type   string `json:"type"`
	SHA256 string `json:"sha256"` // the first 16 hex digits
}

// TestMixtureMatchesLlamaQuantize: Model with Q4_0 and Q4_K writes, for
// each of mixtureCases, the tensors llama-quantize writes as Q4_0 and
// Q4_K_M from the model's f32 GGUF (testdata/make_mixture.sh): the same
// type and the same bytes for every tensor, and its general.file_type.
func TestMixtureMatchesLlamaQuantize(t *testing.T) {
	var want map[string]map[string]struct {
		FileType uint32            `json:"file_type"`
		Tensors  []quantizedTensor `json:"tensors"`
	}
	if *mixtureInputs == "" {
		if err := json.Unmarshal(tokenizertest.Gunzip(t, "testdata/mixture.json.gz"), &want); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range mixtureCases {
		t.Run(c.name, func(t *testing.T) {
			m := mixtureModel(t, c.ref, c.set)
			if *mixtureInputs != "" {
				meta, tensors, err := Model(m, gguf.F32)
				if err != nil {
					t.Fatal(err)
				}
				if err := gguf.Write(filepath.Join(*mixtureInputs, c.name+".gguf"), meta, tensors); err != nil {
					t.Fatal(err)
				}
				return
			}
			for _, ft := range []struct {
				name string
				typ  gguf.Type
			}{{"Q4_0", gguf.Q4_0}, {"Q4_K_M", gguf.Q4_K}} {
				w, ok := want[c.name][ft.name]
				if !ok {
					t.Fatalf("no %s of %s in testdata/mixture.json.gz", ft.name, c.name)
				}
				meta, tensors, err := Model(m, ft.typ)
				if err != nil {
					t.Fatal(err)
				}
				for _, kv := range meta {
					if kv.Key == "general.file_type" && kv.Value != w.FileType {
						t.Errorf("%s: general.file_type %v, llama-quantize wrote %d", ft.name, kv.Value, w.FileType)
					}
				}
				got := map[string]gguf.Tensor{}
				for _, tn := range tensors {
					got[tn.Name] = tn
				}
				if len(got) != len(w.Tensors) {
					t.Errorf("%s: %d tensors, llama-quantize wrote %d", ft.name, len(got), len(w.Tensors))
				}
				for _, wt := range w.Tensors {
					g, ok := got[wt.Name]
					sum := sha256.Sum256(g.Data)
					switch {
					case !ok:
						t.Errorf("%s: no tensor %s", ft.name, wt.Name)
					case g.Type.String() != wt.Type:
						t.Errorf("%s: %s is %s, llama-quantize wrote %s", ft.name, wt.Name, g.Type, wt.Type)
					case hex.EncodeToString(sum[:8]) != wt.SHA256:
						t.Errorf("%s: %s (%s): bytes differ from llama-quantize's", ft.name, wt.Name, wt.Type)
					}
				}
			}
		})
	}
}

// TestMixtureRoundTrip: golora reads its Q4_0 and Q4_K_M exports and
// computes bit for bit the logits of the same weights dequantized and
// stored as F32, and logits near the original model's.
func TestMixtureRoundTrip(t *testing.T) {
	ids := []int{1, 5, 9, 33, 2, 17, 40, 63}
	for _, c := range mixtureCases[:2] {
		m := mixtureModel(t, c.ref, c.set)
		want := logits(t, m, ids)
		for _, typ := range []gguf.Type{gguf.Q4_0, gguf.Q4_K} {
			t.Run(c.name+"/"+typ.String(), func(t *testing.T) {
				meta, tensors, err := Model(m, typ)
				if err != nil {
					t.Fatal(err)
				}
				q, f := loadWithF32(t, meta, tensors)
				got := logits(t, q, ids)
				sameFloats(t, "logits", got, logits(t, f, ids))
				var sum2, diff2 float64
				for i := range want {
					sum2 += float64(want[i]) * float64(want[i])
					d := float64(got[i] - want[i])
					diff2 += d * d
				}
				rel := math.Sqrt(diff2 / sum2)
				t.Logf("rms(Δlogit)/rms(logit) %.3g against the f32 model", rel)
				if rel > 0.5 {
					t.Errorf("logits differ from the f32 model's: rms(Δlogit)/rms(logit) %.3g", rel)
				}
			})
		}
	}
}

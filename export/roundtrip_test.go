package export

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/golora/golora/gguf"
	"github.com/golora/golora/internal/testref"
	"github.com/golora/golora/model"
)

// logits runs m on ids and returns the logits [T, V].
func logits(t *testing.T, m *model.Model, ids []int) []float32 {
	t.Helper()
	s := m.NewState(1, len(ids), false)
	if err := m.Forward(s, ids); err != nil {
		t.Fatal(err)
	}
	return append([]float32(nil), s.Logits[:len(ids)*m.Cfg.VocabSize]...)
}

// loadRef loads the reference model testdata/ref/name, closed when the
// test ends; a Gemma one with the attention scale llama.cpp computes with
// (query_pre_attn_scalar = head_dim, see gemmaMeta).
func loadRef(t *testing.T, name string) *model.Model {
	t.Helper()
	m, err := model.Load("../testdata/ref/" + name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	if m.Cfg.Gemma {
		m.Cfg.AttnScale = 1 / math.Sqrt(float64(m.Cfg.HeadDim))
	}
	return m
}

// TestModelRoundTrip: a reference model exported to GGUF (Model) and loaded
// back (model.Load of a .gguf path) computes the logits of the Hugging Face
// original — to float32 rounding for f32 (the RoPE permutation and its
// inverse, the names, the configuration all undone), within the storage
// rounding for f16 and q8_0. Gemma's norm weights come back as
// fl(1+w)−1, which is not always w, but 1 plus it is fl(1+w) again
// (Sterbenz: the subtraction is exact for fl(1+w) in [0.5, 2]), so the
// forward pass multiplies by the same factors.
func TestModelRoundTrip(t *testing.T) {
	ids := []int{1, 5, 9, 33, 2, 17, 40, 55}
	for _, c := range []struct {
		name, outtype string
		tol           float64 // max |Δlogit| / max |logit|
	}{
		{"llama_f32", "f32", 1e-6},
		{"qwen2_f32_bias", "f32", 1e-6},
		{"mistral_f16_headdim", "f32", 1e-6},
		{"llama_bf16_tied", "f32", 1e-6},
		{"qwen3_f32", "f32", 1e-6},
		{"gpt2_f32", "f32", 1e-6},
		{"gemma2_f32", "f32", 1e-6},
		{"gemma3_f32", "f32", 1e-6},
		{"phi3_f32", "f32", 1e-6},
		{"phi3_bf16_longrope", "f32", 1e-6},
		{"llama_f32", "f16", 1e-2},
		{"gpt2_f32", "q8_0", 5e-2},
		{"llama_f32", "q8_0", 5e-2},
	} {
		t.Run(c.name+"_"+c.outtype, func(t *testing.T) {
			hf := loadRef(t, c.name)
			meta, tensors, err := Model(hf, OutTypes[c.outtype])
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "m.gguf")
			if err := gguf.Write(path, meta, tensors); err != nil {
				t.Fatal(err)
			}
			back, err := model.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			defer back.Close()
			if back.Cfg.NumKVHeads != hf.Cfg.NumKVHeads || back.Cfg.HeadDim != hf.Cfg.HeadDim || back.Cfg.RMSNormEps != hf.Cfg.RMSNormEps ||
				back.Cfg.TieEmbeddings != hf.Cfg.TieEmbeddings || back.Cfg.QKVBias != hf.Cfg.QKVBias ||
				back.Cfg.LayerNorm != hf.Cfg.LayerNorm || back.Cfg.MaxPositions != hf.Cfg.MaxPositions ||
				back.Cfg.AttnScale != hf.Cfg.AttnScale || back.Cfg.AttnSoftcap != hf.Cfg.AttnSoftcap ||
				back.Cfg.FinalSoftcap != hf.Cfg.FinalSoftcap || back.Cfg.RopeLocalTheta != hf.Cfg.RopeLocalTheta ||
				back.Cfg.RotaryDim != hf.Cfg.RotaryDim || back.Cfg.FusedGateUp != hf.Cfg.FusedGateUp ||
				!reflect.DeepEqual(back.Cfg.RopeScaling, hf.Cfg.RopeScaling) ||
				// llama's GGUF has no sliding window (mistral's is dropped); Gemma's and Phi-3's do
				(hf.Cfg.Gemma || hf.Cfg.ModelType == "phi3") && (back.Cfg.SlidingWindow != hf.Cfg.SlidingWindow || !slices.Equal(back.Cfg.SlidingLayers, hf.Cfg.SlidingLayers)) {
				t.Errorf("config %+v, want %+v", back.Cfg, hf.Cfg)
			}
			for i, p := range back.Params() {
				q := hf.Params()[i]
				if p.Name != q.Name || !slices.Equal(p.Shape, q.Shape) || p.Transposed != q.Transposed {
					t.Errorf("parameter %s %v (transposed %v), want %s %v (%v)", p.Name, p.Shape, p.Transposed, q.Name, q.Shape, q.Transposed)
				}
			}
			want, got := logits(t, hf, ids), logits(t, back, ids)
			var maxAbs, maxDiff float64
			for i := range want {
				maxAbs = max(maxAbs, math.Abs(float64(want[i])))
				maxDiff = max(maxDiff, math.Abs(float64(got[i]-want[i])))
			}
			if maxDiff > c.tol*maxAbs {
				t.Errorf("logits differ by %g (max |logit| %g)", maxDiff, maxAbs)
			}
			t.Logf("max |Δlogit| %.3g of max |logit| %.3g", maxDiff, maxAbs)
		})
	}
}

// TestRopeFreqs: the GGUF llama.cpp's converter writes for a Llama with
// llama3 RoPE scaling (testdata/make_rope_freqs.py: the scaling as the
// per-frequency divisors of rope_freqs.weight, no rope_scaling keys) loads
// with those divisors and computes the logits of the PyTorch reference of
// the Hugging Face model (testdata/ref/llama3_rope/expected.json, float64),
// which differ from plain RoPE's; exported again, it writes the same
// rope_freqs.weight. Scalings llama.cpp cannot run are refused.
func TestRopeFreqs(t *testing.T) {
	const path = "testdata/llama3_rope_f32.gguf"
	m, err := model.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var exp struct {
		IDs            [][]int `json:"ids"`
		Logits         any     `json:"logits"`
		LogitsUnscaled any     `json:"logits_unscaled_rope"`
	}
	raw, err := os.ReadFile("../testdata/ref/llama3_rope/expected.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &exp); err != nil {
		t.Fatal(err)
	}
	relErr := func(got []float32, want []float64) float64 {
		var num, den float64
		for i, w := range want {
			num = max(num, math.Abs(float64(got[i])-w))
			den = max(den, math.Abs(w))
		}
		return num / den
	}
	for i, ids := range exp.IDs {
		got := logits(t, m, ids)
		T := len(ids) * m.Cfg.VocabSize
		want := testref.Flat(exp.Logits)[i*T : (i+1)*T]
		if e := relErr(got, want); e > 1e-4 {
			t.Errorf("sequence %d: logits differ from the reference's by %.3g relative", i, e)
		} else {
			t.Logf("sequence %d: relative error %.3g (plain RoPE's logits are %.3g away)", i, e, relErr(got, testref.Flat(exp.LogitsUnscaled)[i*T:(i+1)*T]))
		}
	}
	_, tensors, err := Model(m, gguf.F32)
	if err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want, _ := f.Tensor("rope_freqs.weight")
	if i := slices.IndexFunc(tensors, func(t gguf.Tensor) bool { return t.Name == want.Name }); i < 0 || !bytes.Equal(tensors[i].Data, want.Data) {
		t.Errorf("exported again, rope_freqs.weight is not the converter's")
	}
	m.Cfg.RopeScaling.LongFactor = slices.Repeat([]float64{2}, len(m.Cfg.RopeScaling.ShortFactor))
	if _, _, err := Model(m, gguf.F32); err == nil || !strings.Contains(err.Error(), "distinct short and long factors") {
		t.Errorf("a llama's longrope with two factor sets: error %v, want a refusal", err)
	}
	// llama.cpp's qwen2 reads no rope_freqs: llama3 scaling there is refused, not dropped.
	q := loadRef(t, "qwen2_f32_bias")
	q.Cfg.RopeScaling = &model.RopeScaling{Type: "llama3", Factor: 8, LowFreqFactor: 1, HighFreqFactor: 4, OrigMaxPos: 32}
	if _, _, err := Model(q, gguf.F32); err == nil || !strings.Contains(err.Error(), "llama3 RoPE scaling") {
		t.Errorf("qwen2 with llama3 RoPE scaling: error %v, want a refusal", err)
	}
}

// TestMistralSlidingWindow: llama.cpp's llama architecture, which Mistral
// is converted to, has no sliding window (convert_hf_to_gguf.py writes
// none, and llama.cpp reads none for it): a Mistral exported with
// sliding_window 32 reads back as full attention, whose logits over 40
// tokens are the Hugging Face model's with the window off (and not with
// it on), also when the GGUF carries a llama.attention.sliding_window
// key, which golora, like llama.cpp, does not read for llama.
func TestMistralSlidingWindow(t *testing.T) {
	hf := loadRef(t, "mistral_f16_headdim")
	if hf.Cfg.SlidingWindow != 32 {
		t.Fatalf("sliding_window %d, want the fixture's 32", hf.Cfg.SlidingWindow)
	}
	ids := make([]int, 40)
	for i := range ids {
		ids[i] = (7*i + 3) % hf.Cfg.VocabSize
	}
	windowed := logits(t, hf, ids)
	hf.Cfg.SlidingWindow = 0
	full := logits(t, hf, ids)
	meta, tensors, err := Model(hf, gguf.F32)
	if err != nil {
		t.Fatal(err)
	}
	for _, extra := range [][]gguf.KV{nil, {{Key: "llama.attention.sliding_window", Value: uint32(32)}}} {
		path := filepath.Join(t.TempDir(), "m.gguf")
		if err := gguf.Write(path, append(slices.Clone(meta), extra...), tensors); err != nil {
			t.Fatal(err)
		}
		back, err := model.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		defer back.Close()
		got := logits(t, back, ids)
		var dFull, dWin, scale float64
		for i := range got {
			dFull = max(dFull, math.Abs(float64(got[i]-full[i])))
			dWin = max(dWin, math.Abs(float64(got[i]-windowed[i])))
			scale = max(scale, math.Abs(float64(full[i])))
		}
		if back.Cfg.SlidingWindow != 0 || dFull > 1e-6*scale || dWin < 1e-3*scale {
			t.Errorf("with %v: sliding_window %d; logits %.3g from full attention's, %.3g from the window's (max |logit| %.3g)",
				extra, back.Cfg.SlidingWindow, dFull, dWin, scale)
		}
	}
}

// TestLoadGGUFErrors: GGUF files golora cannot run are refused with the
// file and the key or tensor named.
func TestLoadGGUFErrors(t *testing.T) {
	// edit exports the reference model ref and writes it as f changes it.
	edit := func(ref string, f func(meta []gguf.KV, ts []gguf.Tensor) ([]gguf.KV, []gguf.Tensor)) string {
		meta, tensors, err := Model(loadRef(t, ref), gguf.F32)
		if err != nil {
			t.Fatal(err)
		}
		m, ts := f(meta, tensors)
		path := filepath.Join(t.TempDir(), "bad.gguf")
		if err := gguf.Write(path, m, ts); err != nil {
			t.Fatal(err)
		}
		return path
	}
	for _, c := range []struct {
		name string
		path string
		want string
	}{
		{"architecture", edit("llama_f32", func(m []gguf.KV, ts []gguf.Tensor) ([]gguf.KV, []gguf.Tensor) {
			m[0].Value = "bert"
			return m, ts
		}), `architecture "bert" is not supported`},
		{"missing tensor", edit("llama_f32", func(m []gguf.KV, ts []gguf.Tensor) ([]gguf.KV, []gguf.Tensor) {
			return m, ts[:len(ts)-1]
		}), `tensor "output_norm.weight" is missing`},
		{"rope_freqs length", edit("llama_f32", func(m []gguf.KV, ts []gguf.Tensor) ([]gguf.KV, []gguf.Tensor) {
			return m, append(ts, gguf.Tensor{Name: "rope_freqs.weight", Type: gguf.F32, Shape: []int{1}, Data: make([]byte, 4)})
		}), `tensor "rope_freqs.weight": shape [1], want [4]`},
		{"rope_freqs value", edit("llama_f32", func(m []gguf.KV, ts []gguf.Tensor) ([]gguf.KV, []gguf.Tensor) {
			return m, append(ts, gguf.Tensor{Name: "rope_freqs.weight", Type: gguf.F32, Shape: []int{4}, Data: make([]byte, 16)})
		}), `tensor "rope_freqs.weight": factor 0 is 0`},
		{"rope_freqs arch", edit("qwen2_f32_bias", func(m []gguf.KV, ts []gguf.Tensor) ([]gguf.KV, []gguf.Tensor) {
			return m, append(ts, gguf.Tensor{Name: "rope_freqs.weight", Type: gguf.F32, Shape: []int{4}, Data: make([]byte, 16)})
		}), `tensor "rope_freqs.weight": RoPE frequency factors are read for llama only, not qwen2`},
		{"sliding pattern", edit("gemma2_f32", func(m []gguf.KV, ts []gguf.Tensor) ([]gguf.KV, []gguf.Tensor) {
			for i, kv := range m {
				if kv.Key == "gemma2.attention.sliding_window_pattern" {
					m[i].Value = []bool{true}
				}
			}
			return m, ts
		}), `key "gemma2.attention.sliding_window_pattern" has 1 entries for 3 layers`},
		{"longrope", edit("phi3_bf16_longrope", func(m []gguf.KV, ts []gguf.Tensor) ([]gguf.KV, []gguf.Tensor) {
			return m, slices.DeleteFunc(ts, func(t gguf.Tensor) bool { return t.Name == "rope_factors_short.weight" })
		}), `longrope needs both`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := model.Load(c.path)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.path) {
				t.Errorf("error %v, want one naming %s and %q", err, c.path, c.want)
			}
		})
	}
}

// TestGemmaRefusals: a Gemma model llama.cpp would run differently is
// refused with the reason: a query_pre_attn_scalar other than head_dim
// (the reference models' 12), an untied gemma2, a gemma2 without
// soft-capping, a gemma3 with attention soft-capping.
func TestGemmaRefusals(t *testing.T) {
	for _, c := range []struct {
		name, want string
		keepScale  bool // else query_pre_attn_scalar = head_dim
		edit       func(*model.Config)
	}{
		{"gemma2_f32", "query_pre_attn_scalar 12", true, func(*model.Config) {}},
		{"gemma2_lora_train", "lm_head is not tied", false, func(*model.Config) {}},
		{"gemma2_f32", "soft-capping is off", false, func(c *model.Config) { c.AttnSoftcap = 0 }},
		{"gemma3_f32", "attention soft-capping is on", false, func(c *model.Config) { c.AttnSoftcap = 50 }},
	} {
		t.Run(c.want, func(t *testing.T) {
			m, err := model.Load("../testdata/ref/" + c.name)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if !c.keepScale {
				m.Cfg.AttnScale = 1 / math.Sqrt(float64(m.Cfg.HeadDim))
			}
			c.edit(m.Cfg)
			_, _, err = Model(m, gguf.F32)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "llama.cpp") {
				t.Errorf("error %v, want one saying %q", err, c.want)
			}
		})
	}
}

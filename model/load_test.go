package model

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golora/golora/safetensors"
	"github.com/golora/golora/tensor"
)

// saveTiny writes a random tiny model into a temporary directory.
func saveTiny(t *testing.T, dtype tensor.DType, extra map[string]any) (string, *Model) {
	t.Helper()
	m := NewRandom(testConfig(t, "llama", extra), 0.1, 5)
	dir := t.TempDir()
	if err := m.Save(dir, dtype); err != nil {
		t.Fatal(err)
	}
	return dir, m
}

func TestSaveLoadRoundTrip(t *testing.T) {
	for _, dt := range []tensor.DType{tensor.F32, tensor.BF16, tensor.F16} {
		t.Run(dt.String(), func(t *testing.T) {
			dir, m := saveTiny(t, dt, map[string]any{"tie_word_embeddings": true})
			got, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer got.Close()
			if got.LMHead != got.Embed {
				t.Error("tied head not shared after load")
			}
			if w := got.Layers[1].Down.W.W; w.DType != dt {
				t.Errorf("weights loaded as %s, saved as %s", w.DType, dt)
			}
			ids := []int{1, 2, 3, 4}
			a, b := m.NewState(1, 4, false), got.NewState(1, 4, false)
			m.Forward(a, ids)
			got.Forward(b, ids)
			tol := map[tensor.DType]float64{tensor.F32: 0, tensor.BF16: 2e-2, tensor.F16: 2e-3}[dt]
			var e float64
			for i := range a.Logits {
				e = max(e, float64(abs32(a.Logits[i]-b.Logits[i])))
			}
			if e > tol {
				t.Errorf("logits differ by %g after a %s round trip", e, dt)
			}
		})
	}
}

func abs32(x float32) float32 {
	if x < 0 {
		return -x
	}
	return x
}

// rewrite replaces the model's safetensors file by edit(tensors).
func rewrite(t *testing.T, dir string, edit func(ts []safetensors.Tensor) []safetensors.Tensor) {
	t.Helper()
	path := filepath.Join(dir, "model.safetensors")
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var ts []safetensors.Tensor
	for _, n := range f.Names() {
		tt, _ := f.Tensor(n)
		tt.Data = append([]byte(nil), tt.Data...)
		ts = append(ts, tt)
	}
	f.Close()
	if err := safetensors.Write(path, edit(ts), nil); err != nil {
		t.Fatal(err)
	}
}

func TestLoadErrorsNameTheProblem(t *testing.T) {
	const q = "model.layers.1.self_attn.q_proj.weight"
	for _, tc := range []struct {
		name string
		edit func(dir string)
		want []string
	}{
		{"missing tensor", func(dir string) {
			rewrite(t, dir, func(ts []safetensors.Tensor) []safetensors.Tensor {
				var out []safetensors.Tensor
				for _, x := range ts {
					if x.Name != q {
						out = append(out, x)
					}
				}
				return out
			})
		}, []string{q, "missing"}},
		{"wrong shape", func(dir string) {
			rewrite(t, dir, func(ts []safetensors.Tensor) []safetensors.Tensor {
				for i, x := range ts {
					if x.Name == q {
						ts[i] = safetensors.FromF32(q, []int{8, 16}, make([]float32, 128))
					}
				}
				return ts
			})
		}, []string{q, "[8 16]", "[16 16]"}},
		{"wrong dtype", func(dir string) {
			rewrite(t, dir, func(ts []safetensors.Tensor) []safetensors.Tensor {
				for i, x := range ts {
					if x.Name == q {
						ts[i] = safetensors.Tensor{Name: q, DType: safetensors.I32, Shape: x.Shape, Data: x.Data}
					}
				}
				return ts
			})
		}, []string{q, "I32"}},
		{"truncated file", func(dir string) {
			path := filepath.Join(dir, "model.safetensors")
			data, _ := os.ReadFile(path)
			os.WriteFile(path, data[:len(data)-100], 0o644)
		}, []string{"model.safetensors"}},
		{"unsupported architecture", func(dir string) {
			os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"architectures":["GPTNeoXForCausalLM"],"vocab_size":19}`), 0o644)
		}, []string{"GPTNeoXForCausalLM", "LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM", "Qwen3ForCausalLM", "GPT2LMHeadModel"}},
		{"gpt2 activation", func(dir string) {
			os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"architectures":["GPT2LMHeadModel"],"vocab_size":19,"n_embd":16,"n_layer":2,"n_head":4,"activation_function":"relu"}`), 0o644)
		}, []string{"config.json", "activation_function", "relu"}},
		{"gpt2 shape field", func(dir string) {
			os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"architectures":["GPT2LMHeadModel"],"vocab_size":19,"n_embd":16,"n_head":4}`), 0o644)
		}, []string{"config.json", "n_layer"}},
		{"qwen3 sliding window", func(dir string) {
			os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"architectures":["Qwen3ForCausalLM"],"vocab_size":19,"hidden_size":16,"intermediate_size":24,"num_hidden_layers":2,"num_attention_heads":4,"head_dim":4,"use_sliding_window":true}`), 0o644)
		}, []string{"config.json", "use_sliding_window", "qwen3"}},
		{"bad config field", func(dir string) {
			os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"architectures":["LlamaForCausalLM"],"vocab_size":"many"}`), 0o644)
		}, []string{"config.json", "vocab_size"}},
		{"heads not divisible", func(dir string) {
			os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"architectures":["LlamaForCausalLM"],"vocab_size":19,"hidden_size":16,"intermediate_size":24,"num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":3}`), 0o644)
		}, []string{"num_key_value_heads"}},
		{"unsupported rope scaling", func(dir string) {
			os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"architectures":["LlamaForCausalLM"],"vocab_size":19,"hidden_size":16,"intermediate_size":24,"num_hidden_layers":2,"num_attention_heads":4,"rope_scaling":{"rope_type":"yarn","factor":4}}`), 0o644)
		}, []string{"rope_scaling", "yarn"}},
		{"no weights", func(dir string) {
			os.Remove(filepath.Join(dir, "model.safetensors"))
		}, []string{dirMarker}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, _ := saveTiny(t, tensor.F32, nil)
			tc.edit(dir)
			_, err := Load(dir)
			if err == nil {
				t.Fatal("loaded a broken model")
			}
			for _, w := range tc.want {
				if w == dirMarker {
					w = dir
				}
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

const dirMarker = "<dir>"

func TestForwardRejectsOutOfRangeIDs(t *testing.T) {
	m := NewRandom(testConfig(t, "llama", nil), 0.1, 1)
	s := m.NewState(1, 2, false)
	if err := m.Forward(s, []int{1, 19}); err == nil || !strings.Contains(err.Error(), "19") {
		t.Errorf("want an error naming id 19, got %v", err)
	}
}

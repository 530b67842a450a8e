package model

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"

	"github.com/golora/golora/gguf"
	"github.com/golora/golora/tensor"
)

// LoadGGUF loads a model from a GGUF file laid out as llama.cpp's
// convert_hf_to_gguf.py writes one (general.architecture llama or qwen2).
// The configuration comes from the metadata (<arch>.embedding_length,
// block_count, feed_forward_length, attention.head_count[_kv],
// attention.key_length, attention.layer_norm_rms_epsilon, rope.freq_base,
// rope.scaling.type linear and rope.scaling.factor, context_length), the
// vocabulary size from token_embd.weight, tied embeddings from a missing
// output.weight, biases from blk.0.attn_q.bias / attn_output.bias.
//
// Weights stay as the file holds them, memory-mapped (ggufWeight): every
// matrix, the token embedding and the output head included, is a view of
// its blocks that GEMM and Row dequantize as they read it, and the q and
// k rows of a llama GGUF are read in Hugging Face's order (gguf.PermuteRoPE's
// inverse) through a row map. Vectors (norms, biases) are decoded into
// owned float32. Errors name the file and the key or tensor.
func LoadGGUF(path string) (*Model, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, err
	}
	cfg, arch, err := ggufConfig(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	m, err := assemble(cfg, func(s paramSpec) (*Param, error) {
		name, _ := gguf.TensorName(s.name)
		t, ok := f.Tensor(name)
		if !ok {
			return nil, fmt.Errorf("gguf: %s: tensor %q is missing (%s needs it as %s)", path, name, cfg.Architecture, s.name)
		}
		want := s.shape()
		if !slices.Equal(t.Shape, want) {
			return nil, fmt.Errorf("gguf: %s: tensor %q has shape %v, the metadata implies %v", path, name, t.Shape, want)
		}
		heads := gguf.QKHeads(s.name, cfg.NumHeads, cfg.NumKVHeads)
		if !arch.PermuteQK {
			heads = 0
		}
		p, err := ggufParam(t, s, heads)
		if err != nil {
			return nil, fmt.Errorf("gguf: %s: %w", path, err)
		}
		return p, nil
	})
	if err != nil {
		f.Close()
		return nil, err
	}
	m.Source = path
	m.closer = f
	return m, nil
}

// ggufParam makes the parameter s of tensor t: a matrix is held as its
// gguf.Matrix view (with the row map of gguf.PermuteRoPE's inverse when
// heads > 0); a vector or a transposed (Conv1D) weight is decoded into
// owned float32, a vector of q or k permuted likewise.
func ggufParam(t gguf.Tensor, s paramSpec, heads int) (*Param, error) {
	want := s.shape()
	if len(want) == 2 && !s.transposed {
		g, err := t.Matrix()
		if err != nil {
			return nil, err
		}
		if heads > 0 {
			perm, err := ropeRows(s.rows, heads)
			if err != nil {
				return nil, fmt.Errorf("tensor %q: %w", t.Name, err)
			}
			g.Perm = perm
		}
		return &Param{Name: s.name, Shape: want, W: g.Mat()}, nil
	}
	v, err := t.Float32()
	if err != nil {
		return nil, err
	}
	if heads > 0 {
		if v, err = gguf.PermuteRoPE(v, s.rows, max(s.cols, 1), heads, true); err != nil {
			return nil, fmt.Errorf("tensor %q: %w", t.Name, err)
		}
	}
	return NewParam(s.name, want, v), nil
}

// ropeRows is the row map of gguf.PermuteRoPE's inverse on rows rows:
// row r in Hugging Face's order is stored row perm[r] of the GGUF.
func ropeRows(rows, heads int) ([]int32, error) {
	idx := make([]float32, rows) // exact: rows < 2²⁴
	for i := range idx {
		idx[i] = float32(i)
	}
	hf, err := gguf.PermuteRoPE(idx, rows, 1, heads, true)
	if err != nil {
		return nil, err
	}
	perm := make([]int32, rows)
	for r, v := range hf {
		perm[r] = int32(v)
	}
	return perm, nil
}

// ggufConfig builds the config.json a GGUF's metadata stands for and
// parses it as ParseConfig does, so that a GGUF model is checked, and
// saved again, as a Hugging Face one.
func ggufConfig(f *gguf.File) (*Config, gguf.Arch, error) {
	name, err := f.String("general.architecture")
	if err != nil {
		return nil, gguf.Arch{}, err
	}
	var arch gguf.Arch
	var supported []string
	for _, a := range gguf.Archs {
		supported = append(supported, a.Name)
		if a.Name == name {
			arch = a
		}
	}
	if arch.Name == "" {
		slices.Sort(supported)
		return nil, arch, fmt.Errorf("gguf: %s: architecture %q is not supported (supported: %v)", f.Path(), name, slices.Compact(supported))
	}
	p := name + "."
	raw := map[string]any{"architectures": []string{arch.HFArchitecture}, "torch_dtype": "float32"}
	ints := []struct{ key, field string }{
		{p + "embedding_length", "hidden_size"},
		{p + "feed_forward_length", "intermediate_size"},
		{p + "block_count", "num_hidden_layers"},
		{p + "attention.head_count", "num_attention_heads"},
		{p + "attention.head_count_kv", "num_key_value_heads"},
		{p + "attention.key_length", "head_dim"},
		{p + "context_length", "max_position_embeddings"},
		{"tokenizer.ggml.bos_token_id", "bos_token_id"},
		{"tokenizer.ggml.eos_token_id", "eos_token_id"},
	}
	for _, k := range ints {
		if _, ok := f.Value(k.key); !ok {
			continue
		}
		n, err := f.Int(k.key)
		if err != nil {
			return nil, arch, err
		}
		raw[k.field] = n
	}
	// Floats are stored as float32: their shortest float32 decimal gives
	// back the config's value (1e-05, not 9.999999747378752e-06).
	floats := []struct{ key, field string }{
		{p + "attention.layer_norm_rms_epsilon", "rms_norm_eps"},
		{p + "rope.freq_base", "rope_theta"},
	}
	for _, k := range floats {
		if _, ok := f.Value(k.key); !ok {
			continue
		}
		x, err := f.Float(k.key)
		if err != nil {
			return nil, arch, err
		}
		raw[k.field] = json.Number(strconv.FormatFloat(x, 'g', -1, 32))
	}
	if typ, ok := f.Value(p + "rope.scaling.type"); ok {
		if typ != "linear" {
			return nil, arch, fmt.Errorf("gguf: %s: key %q: RoPE scaling %v is not supported (linear is)", f.Path(), p+"rope.scaling.type", typ)
		}
		factor, err := f.Float(p + "rope.scaling.factor")
		if err != nil {
			return nil, arch, err
		}
		raw["rope_scaling"] = map[string]any{"rope_type": "linear", "factor": json.Number(strconv.FormatFloat(factor, 'g', -1, 32))}
	}
	if _, ok := f.Tensor("rope_freqs.weight"); ok {
		return nil, arch, fmt.Errorf("gguf: %s: tensor \"rope_freqs.weight\": RoPE frequency factors (llama3 scaling) are not supported", f.Path())
	}
	emb, ok := f.Tensor("token_embd.weight")
	if !ok || len(emb.Shape) != 2 {
		return nil, arch, fmt.Errorf("gguf: %s: tensor \"token_embd.weight\" is missing or not a matrix", f.Path())
	}
	raw["vocab_size"] = emb.Shape[0]
	_, hasOutput := f.Tensor("output.weight")
	raw["tie_word_embeddings"] = !hasOutput
	if arch.HFArchitecture == "LlamaForCausalLM" {
		_, qb := f.Tensor("blk.0.attn_q.bias")
		_, ob := f.Tensor("blk.0.attn_output.bias")
		if qb != ob {
			return nil, arch, fmt.Errorf("gguf: %s: blk.0 has a bias on only one of attn_q and attn_output; llama's attention_bias puts one on both", f.Path())
		}
		raw["attention_bias"] = qb
	}
	js, err := json.Marshal(raw)
	if err != nil {
		return nil, arch, err
	}
	cfg, err := ParseConfig(js, f.Path()+" (GGUF metadata)")
	if err != nil {
		return nil, arch, err
	}
	return cfg, arch, nil
}

// NewRandomGGML is NewRandom with every matrix (embedding, head and
// linears; not a transposed Conv1D weight) held as LoadGGUF holds a GGUF
// of type t: F16, BF16, Q8_0 and Q4_0 hold the draw quantized as ggml
// does (gguf.Quantize); the other types, which golora cannot quantize to,
// hold random blocks of the same magnitude (gguf.Random), which cost the
// same to compute with. A matrix whose rows are not whole blocks of t
// takes llama.cpp's fallback type for it (llama-quant.cpp: Q4_K → Q5_0,
// Q5_K → Q5_1, Q6_K → Q8_0, Q2_K/Q3_K → Q4_0 here, for want of IQ4_NL;
// F32 for the other types). It is for benchmarks of a quantized GGUF base without a file.
func NewRandomGGML(c *Config, std float64, seed uint64, t gguf.Type) (*Model, error) {
	r := rand.New(rand.NewPCG(seed, 1))
	return newRandom(c, std, seed, func(s paramSpec) holdFunc {
		if s.cols == 0 || s.transposed {
			return nil
		}
		return func(data []float32, rows, cols int) (tensor.Mat, error) {
			tt := t
			if cols%tt.BlockSize() != 0 {
				tt = ggmlFallback[tt]
			}
			tn := gguf.Tensor{Name: s.name, Type: tt, Shape: []int{rows, cols}}
			var err error
			if gguf.Quantizes(tt) {
				tn, err = gguf.NewTensor(s.name, tt, tn.Shape, data)
			} else {
				tn.Data, err = gguf.Random(tt, rows*cols, float32(std), r)
			}
			if err != nil {
				return tensor.Mat{}, err
			}
			g, err := tn.Matrix()
			if err != nil {
				return tensor.Mat{}, err
			}
			return g.Mat(), nil
		}
	})
}

// ggmlFallback is the type llama.cpp quantizes a matrix to when its rows
// are not whole super-blocks of the k-quant asked for.
var ggmlFallback = map[gguf.Type]gguf.Type{gguf.Q2_K: gguf.Q4_0, gguf.Q3_K: gguf.Q4_0, gguf.Q4_K: gguf.Q5_0, gguf.Q5_K: gguf.Q5_1, gguf.Q6_K: gguf.Q8_0}

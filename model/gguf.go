package model

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/golora/golora/gguf"
	"github.com/golora/golora/tensor"
)

// LoadGGUF loads a model from a GGUF file laid out as llama.cpp's
// convert_hf_to_gguf.py writes one (general.architecture llama, qwen2, qwen3,
// gpt2, gemma2 or gemma3; Gemma's norm weights, stored 1+w, come back as
// fl(1+w)−1, see ggufGemma for its other keys).
// The configuration comes from the metadata (<arch>.embedding_length,
// block_count, feed_forward_length, attention.head_count[_kv],
// attention.key_length, attention.layer_norm_rms_epsilon, rope.freq_base,
// rope.scaling.type linear and rope.scaling.factor, context_length), a
// llama's RoPE frequency divisors from rope_freqs.weight (ggufRopeFreqs), the
// vocabulary size from token_embd.weight, tied embeddings from a missing
// output.weight, biases from blk.0.attn_q.bias / attn_output.bias. A llama
// GGUF (a Mistral's too) has full attention, as llama.cpp runs it:
// llama.cpp reads no sliding window for llama, nor does golora.
//
// Weights stay as the file holds them, memory-mapped (ggufParam): every
// matrix, the token embedding and the output head included, is a view of
// its blocks that GEMM and Row dequantize as they read it (a GPT-2 Conv1D
// weight, which llama.cpp stores [out, in], is that view held as a
// transposed parameter), and the q and k rows of a llama GGUF are read in
// Hugging Face's order (gguf.PermuteRoPE's inverse) through a row map.
// Vectors (norms, biases) are decoded into owned float32, Gemma's norm
// weights less the 1 llama.cpp's converter adds. Errors name the file and
// the key or tensor.
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
		name, _ := arch.TensorName(s.name)
		t, ok := f.Tensor(name)
		if !ok {
			return nil, fmt.Errorf("gguf: %s: tensor %q is missing (%s needs it as %s)", path, name, cfg.Architecture, s.name)
		}
		want := s.shape()
		if s.cols > 0 { // as held: a Conv1D weight [out, in]
			r, c := s.held()
			want = []int{r, c}
		}
		if !slices.Equal(t.Shape, want) {
			return nil, fmt.Errorf("gguf: %s: tensor %q has shape %v, the metadata implies %v", path, name, t.Shape, want)
		}
		heads := gguf.QKHeads(s.name, cfg.NumHeads, cfg.NumKVHeads)
		if !arch.PermuteQK {
			heads = 0
		}
		p, err := ggufParam(t, s, heads, cfg.normOffset())
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
// heads > 0; a transposed Conv1D weight is the view of the [out, in]
// tensor llama.cpp stores); a vector is decoded into owned float32, a
// vector of q or k permuted likewise and a norm weight less normOffset
// (Gemma's 1: its GGUF stores 1 + w).
func ggufParam(t gguf.Tensor, s paramSpec, heads int, normOffset float32) (*Param, error) {
	if s.cols > 0 {
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
		return &Param{Name: s.name, Shape: s.shape(), W: g.Mat(), Transposed: s.transposed}, nil
	}
	v, err := t.Float32()
	if err != nil {
		return nil, err
	}
	if heads > 0 {
		if v, err = gguf.PermuteRoPE(v, s.rows, 1, heads, true); err != nil {
			return nil, fmt.Errorf("tensor %q: %w", t.Name, err)
		}
	}
	if normOffset != 0 && strings.HasSuffix(s.name, "norm.weight") {
		for i := range v {
			v[i] -= normOffset
		}
	}
	return NewParam(s.name, s.shape(), v), nil
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
	k := keysOf(Architectures[arch.HFArchitecture])
	ints := []struct{ key, field string }{
		{p + "embedding_length", k.hidden},
		{p + "feed_forward_length", k.intermediate},
		{p + "block_count", k.layers},
		{p + "attention.head_count", k.heads},
		{p + "attention.head_count_kv", "num_key_value_heads"},
		{p + "attention.key_length", "head_dim"},
		{p + "context_length", k.positions},
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
		{p + "attention.layer_norm_rms_epsilon", k.eps},
		{p + "attention.layer_norm_epsilon", k.eps}, // gpt2
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
	switch Architectures[arch.HFArchitecture] {
	case "gemma2", "gemma3_text":
		if err := ggufGemma(f, arch, raw); err != nil {
			return nil, arch, err
		}
	case "phi3":
		if err := ggufPhi3(f, raw); err != nil {
			return nil, arch, err
		}
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
	if t, ok := f.Tensor("rope_freqs.weight"); ok {
		if err := ggufRopeFreqs(f, arch, t, raw); err != nil {
			return nil, arch, err
		}
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
	if key := p + "rope.dimension_count"; cfg.ModelType == "phi3" {
		if r, err := f.Int(key); err == nil && int(r) != cfg.RotaryDim {
			return nil, arch, fmt.Errorf("gguf: %s: key %q: %d rotary dimensions of head_dim %d are not a whole partial_rotary_factor", f.Path(), key, r, cfg.HeadDim)
		}
	}
	return cfg, arch, nil
}

// ggufGemma sets the config.json fields of a Gemma 2 or Gemma 3 GGUF
// (raw already holds the shape fields) as llama.cpp reads them, its
// defaults for missing keys included: query_pre_attn_scalar from
// gguf.Arch.QueryPreAttnScalar (head_dim, when attention.key_length is
// missing, C/H); attn_logit_softcapping (gemma2; default 50) and
// final_logit_softcapping (gemma2's default 30, gemma3's none);
// sliding_window (gemma2's default 4096, gemma3's none); layer_types from
// attention.sliding_window_pattern, one bool per layer or a period n
// (layer i slides when i mod n < n−1; gemma2's default 2, gemma3's 6);
// rope_local_base_freq from rope.freq_base_swa (gemma3; a gemma2 whose
// differs from rope.freq_base is refused).
func ggufGemma(f *gguf.File, arch gguf.Arch, raw map[string]any) error {
	p := arch.Name + "."
	g2 := arch.Name == "gemma2"
	L, C, H := toInt(raw["num_hidden_layers"]), toInt(raw["hidden_size"]), toInt(raw["num_attention_heads"])
	if _, ok := raw["head_dim"]; !ok && H > 0 {
		raw["head_dim"] = int64(C / H)
	}
	raw["query_pre_attn_scalar"] = arch.QueryPreAttnScalar(L, C, H, toInt(raw["head_dim"]))
	for _, k := range []struct {
		key, field string
		def        any // gemma2's default; gemma3's is none
	}{
		{p + "attn_logit_softcapping", "attn_logit_softcapping", 50},
		{p + "final_logit_softcapping", "final_logit_softcapping", 30},
		{p + "attention.sliding_window", "sliding_window", 4096},
		{p + "rope.freq_base_swa", "rope_local_base_freq", nil},
	} {
		v := k.def
		if !g2 {
			v = nil
		}
		if _, ok := f.Value(k.key); ok {
			x, err := f.Float(k.key)
			if err != nil {
				return err
			}
			v = json.Number(strconv.FormatFloat(x, 'g', -1, 32))
		}
		raw[k.field] = v // null: off
	}
	if g2 {
		if local := raw["rope_local_base_freq"]; local != nil && local != raw["rope_theta"] {
			return fmt.Errorf("gguf: %s: key %q: a local RoPE base (%v) other than rope.freq_base is not supported for gemma2", f.Path(), p+"rope.freq_base_swa", local)
		}
	}
	if raw["rope_local_base_freq"] == nil {
		delete(raw, "rope_local_base_freq") // gemma3's default is llama.cpp's, 10000
	}
	if raw["sliding_window"] == nil {
		return nil
	}
	sliding := make([]bool, L)
	key := p + "attention.sliding_window_pattern"
	if v, ok := f.Value(key); ok {
		if bs, isBools := v.([]bool); isBools {
			if len(bs) != L {
				return fmt.Errorf("gguf: %s: key %q has %d entries for %d layers", f.Path(), key, len(bs), L)
			}
			copy(sliding, bs)
		} else {
			n, err := f.Int(key)
			if err != nil {
				return err
			}
			setPattern(sliding, int(n))
		}
	} else if g2 {
		setPattern(sliding, 2)
	} else {
		setPattern(sliding, 6)
	}
	types := make([]string, L)
	for i, sl := range sliding {
		types[i] = "full_attention"
		if sl {
			types[i] = "sliding_attention"
		}
	}
	raw["layer_types"] = types
	return nil
}

// setPattern marks layer i sliding when i mod n < n−1 (every layer when n
// is 0), llama.cpp's sliding_window_pattern period.
func setPattern(sliding []bool, n int) {
	for i := range sliding {
		sliding[i] = n == 0 || i%n < n-1
	}
}

// toInt is an integer field ggufConfig set in raw (an int64 from the
// metadata), 0 when absent.
func toInt(v any) int {
	n, _ := v.(int64)
	return int(n)
}

// ggufPhi3 sets the config.json fields of a Phi-3 GGUF (raw already holds
// the shape fields): partial_rotary_factor = rope.dimension_count /
// head_dim, sliding_window (0: none) and, from the tensors
// rope_factors_long and rope_factors_short, a longrope rope_scaling with
// rope.scaling.attn_factor and original_context_length. Stored as
// float32, a factor comes back as the shortest decimal of its float32
// value (exact for config.json's short decimals).
func ggufPhi3(f *gguf.File, raw map[string]any) error {
	p := "phi3."
	C, H := toInt(raw["hidden_size"]), toInt(raw["num_attention_heads"])
	if _, ok := f.Value(p + "rope.dimension_count"); ok && H > 0 {
		n, err := f.Int(p + "rope.dimension_count")
		if err != nil {
			return err
		}
		raw["partial_rotary_factor"] = float64(n) / float64(C/H)
	}
	if _, ok := f.Value(p + "attention.sliding_window"); ok {
		n, err := f.Int(p + "attention.sliding_window")
		if err != nil {
			return err
		}
		if n > 0 {
			raw["sliding_window"] = n
		}
	}
	long, hasLong := f.Tensor("rope_factors_long.weight")
	short, hasShort := f.Tensor("rope_factors_short.weight")
	if !hasLong && !hasShort {
		return nil
	}
	if !hasLong || !hasShort {
		return fmt.Errorf("gguf: %s: tensors \"rope_factors_long.weight\" and \"rope_factors_short.weight\": longrope needs both", f.Path())
	}
	rs := map[string]any{"rope_type": "longrope"}
	for _, t := range []struct {
		field string
		t     gguf.Tensor
	}{{"long_factor", long}, {"short_factor", short}} {
		list, err := ggufFactors(f, t.t)
		if err != nil {
			return err
		}
		rs[t.field] = list
	}
	for _, k := range []struct{ key, field string }{
		{p + "rope.scaling.attn_factor", "attention_factor"},
		{p + "rope.scaling.original_context_length", "original_max_position_embeddings"},
	} {
		if _, ok := f.Value(k.key); !ok {
			continue
		}
		x, err := f.Float(k.key)
		if err != nil {
			return err
		}
		rs[k.field] = json.Number(strconv.FormatFloat(x, 'g', -1, 32))
	}
	// The attention factor transformers derives, √(1 + ln s / ln Orig)
	// with s = max_position_embeddings/Orig (1 when s ≤ 1), is stored as
	// float32: it is left to be derived again, in float64, when it is that.
	if orig, att := rs["original_max_position_embeddings"], rs["attention_factor"]; orig != nil && att != nil {
		o, _ := orig.(json.Number).Float64()
		a, _ := att.(json.Number).Float64()
		want := 1.0
		if sc := float64(toInt(raw["max_position_embeddings"])) / o; sc > 1 {
			want = math.Sqrt(1 + math.Log(sc)/math.Log(o))
		}
		if float32(a) == float32(want) {
			delete(rs, "attention_factor")
		}
	}
	raw["rope_scaling"] = rs
	return nil
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
		return func(fill func([]float32), rows, cols int) (tensor.Mat, error) {
			data := make([]float32, rows*cols)
			fill(data)
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

// ggufFactors is the vector t of RoPE factors as config.json numbers, each
// the shortest decimal of its float32 value (exact for config.json's short
// decimals; it parses back to the same float32).
func ggufFactors(f *gguf.File, t gguf.Tensor) ([]any, error) {
	v, err := t.Float32()
	if err != nil {
		return nil, fmt.Errorf("gguf: %s: %w", f.Path(), err)
	}
	list := make([]any, len(v))
	for i, x := range v {
		list[i] = json.Number(strconv.FormatFloat(float64(x), 'g', -1, 32))
	}
	return list, nil
}

// ggufRopeFreqs sets the rope_scaling of a llama GGUF's tensor
// rope_freqs.weight: the per-frequency divisors r_i, i < R/2 (R = head_dim,
// llama.cpp's rope.dimension_count), that llama.cpp applies as θ_i/r_i and
// convert_hf_to_gguf.py writes for llama3 RoPE scaling (see
// export.llama3Factors). Hugging Face's rope_scaling with per-frequency
// divisors is longrope: short_factor = long_factor = r with factor 1 (so
// attention_factor 1 and original_max_position_embeddings =
// max_position_embeddings) computes inv_freq_i = θ_i/r_i for every
// sequence length. The GGUF's llama3 parameters themselves (factor,
// low/high_freq_factor, original context) are not stored and are not
// guessed. Other architectures' llama.cpp graphs golora reads take no
// rope_freqs, and a linear rope.scaling.type on top of it is refused.
func ggufRopeFreqs(f *gguf.File, arch gguf.Arch, t gguf.Tensor, raw map[string]any) error {
	fail := func(format string, a ...any) error {
		return fmt.Errorf("gguf: %s: tensor %q: %s", f.Path(), t.Name, fmt.Sprintf(format, a...))
	}
	if arch.Name != "llama" {
		return fail("RoPE frequency factors are read for llama only, not %s", arch.Name)
	}
	if raw["rope_scaling"] != nil {
		return fail("RoPE frequency factors together with rope.scaling.type are not supported")
	}
	R := toInt(raw["head_dim"])
	if H := toInt(raw["num_attention_heads"]); R == 0 && H > 0 {
		R = toInt(raw["hidden_size"]) / H
	}
	if len(t.Shape) != 1 || t.Shape[0] != R/2 {
		return fail("shape %v, want [%d] (one factor per rotary frequency of head_dim %d)", t.Shape, R/2, R)
	}
	list, err := ggufFactors(f, t)
	if err != nil {
		return err
	}
	for i, x := range list {
		if r, _ := x.(json.Number).Float64(); !(r >= 1e-3 && r <= 1e6) {
			return fail("factor %d is %v, want a number in [1e-3, 1e6]", i, x)
		}
	}
	raw["rope_scaling"] = map[string]any{"rope_type": "longrope", "factor": 1, "short_factor": list, "long_factor": list}
	return nil
}

package model

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"

	"github.com/golora/golora/quant"
)

// Architectures lists the config.json "architectures" values golora runs,
// with the model_type each belongs to.
var Architectures = map[string]string{
	"LlamaForCausalLM":   "llama",
	"MistralForCausalLM": "mistral",
	"Qwen2ForCausalLM":   "qwen2",
	"Qwen3ForCausalLM":   "qwen3",
	"GPT2LMHeadModel":    "gpt2",
	"Gemma2ForCausalLM":  "gemma2",
	"Gemma3ForCausalLM":  "gemma3_text",
	"Phi3ForCausalLM":    "phi3",
}

// Config is the part of a Hugging Face config.json that fixes the shapes and
// the numerics of a Llama-family (or GPT-2) model.
type Config struct {
	Architecture     string // e.g. "LlamaForCausalLM"
	ModelType        string // llama, mistral, qwen2, qwen3, gpt2, gemma2, gemma3_text, phi3
	VocabSize        int
	HiddenSize       int // C
	IntermediateSize int // I, the MLP width
	NumLayers        int // L
	NumHeads         int // H, query heads
	NumKVHeads       int // KV heads; H is a multiple of KV (grouped-query attention)
	HeadDim          int // D; hidden_size/num_attention_heads unless head_dim is given
	RotaryDim        int // R ≤ D: the leading dims of each head RoPE rotates, D·partial_rotary_factor (phi3); the rest pass unchanged
	RMSNormEps       float64
	RopeTheta        float64
	RopeScaling      *RopeScaling // nil: plain RoPE
	MaxPositions     int
	TieEmbeddings    bool   // lm_head shares model.embed_tokens.weight
	QKVBias          bool   // q/k/v projections have a bias (qwen2, llama attention_bias)
	OBias            bool   // o_proj has a bias (llama and qwen3 attention_bias)
	QKNorm           bool   // queries and keys get a per-head RMSNorm over head_dim before RoPE (qwen3)
	SlidingWindow    int    // 0: full causal attention; else key j is seen from query i when i-j < window
	TorchDType       string // float32, bfloat16, float16 (informational: compute is float32)
	BOS, EOS         []int
	// Quant is the bitsandbytes 4-bit quantization_config, nil when the
	// checkpoint is not quantized.
	Quant *quant.Config

	// Raw is the whole parsed config.json, kept so that a merged or
	// quantized model can be written back with every field it came with.
	Raw map[string]any

	// GPT-2's layer: LayerNorm with bias, (x−mean)/sqrt(var+eps)·w + b,
	// instead of RMSNorm (eps is RMSNormEps); the MLP
	// c_proj(gelu_tanh(c_fc(x))) instead of down(silu(gate)⊙up); learned
	// absolute position embeddings added to the token embeddings instead
	// of RoPE; q, k and v from one fused linear (its output [q | k | v]);
	// Conv1D linears, whose weights are stored [in, out] (held transposed,
	// [out, in], in memory).
	LayerNorm, GELU, LearnedPos, FusedQKV, Conv1D bool

	// Gemma's layer (gemma2, gemma3_text): each RMSNorm weight is an
	// offset, y = x/rms(x)·(1 + w); the token embeddings are multiplied by
	// √C rounded to the embedding's dtype; the MLP is
	// down(gelu_tanh(gate)⊙up); and the attention's and the MLP's outputs
	// are normalised again before they join the residual stream
	// (post_attention_layernorm and post_feedforward_layernorm, while
	// pre_feedforward_layernorm is the MLP's input norm).
	Gemma bool
	// AttnScale multiplies the query–key products (0: 1/√head_dim;
	// Gemma's query_pre_attn_scalar^-0.5).
	AttnScale float64
	// AttnSoftcap, FinalSoftcap: when positive, the scaled attention
	// scores (before the mask) and the output logits become
	// cap·tanh(x/cap) (attn_logit_softcapping, final_logit_softcapping).
	AttnSoftcap, FinalSoftcap float64
	// SlidingLayers marks the layers whose attention is limited to
	// SlidingWindow; nil: every layer is, when SlidingWindow > 0.
	SlidingLayers []bool
	// RopeLocalTheta, when positive, is the RoPE base of the sliding
	// layers, unscaled (Gemma 3's rope_local_base_freq); the other layers
	// use RopeTheta and RopeScaling.
	RopeLocalTheta float64
	// FusedGateUp: the MLP's gate and up projections are one linear
	// (phi3's mlp.gate_up_proj) whose output rows are [gate | up].
	FusedGateUp bool
}

// RopeScaling is config.json's rope_scaling for the supported types.
//
// linear:  inv_freq /= Factor.
// llama3:  with wavelen = 2π/inv_freq, low = Orig/LowFreqFactor,
// high = Orig/HighFreqFactor: wavelen > low → inv_freq/Factor;
// wavelen < high → inv_freq; otherwise
// (1-s)·inv_freq/Factor + s·inv_freq with s = (Orig/wavelen - LowFreqFactor)/(HighFreqFactor - LowFreqFactor).
// longrope (phi3; also read under its older names su and yarn): inv_freq_i
// /= ShortFactor_i for a sequence of at most OrigMaxPos tokens, /=
// LongFactor_i for a longer one, and cos and sin are multiplied by
// AttnFactor (see Config.ropeLong).
type RopeScaling struct {
	Type           string
	Factor         float64
	LowFreqFactor  float64
	HighFreqFactor float64
	OrigMaxPos     int
	// longrope: the per-frequency divisors (R/2 each) and the cos/sin
	// scale.
	ShortFactor, LongFactor []float64
	AttnFactor              float64
}

// LoadConfig reads and checks a config.json.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseConfig(data, path)
}

func supportedList() string {
	var s []string
	for a := range Architectures {
		s = append(s, a)
	}
	sort.Strings(s)
	return strings.Join(s, ", ")
}

// ParseConfig parses config.json bytes; name is used in error messages.
func ParseConfig(data []byte, name string) (*Config, error) {
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("%s: not valid JSON: %w", name, err)
	}
	p := cfgParser{name: name, raw: raw}
	c := &Config{Raw: raw}

	archs, ok := raw["architectures"].([]any)
	if !ok || len(archs) == 0 {
		if mt, _ := raw["model_type"].(string); mt != "" {
			for a, t := range Architectures {
				if t == mt {
					c.Architecture = a
				}
			}
		}
		if c.Architecture == "" {
			return nil, fmt.Errorf("%s: field \"architectures\" is missing; supported architectures: %s", name, supportedList())
		}
	} else {
		a, _ := archs[0].(string)
		if _, ok := Architectures[a]; !ok {
			return nil, fmt.Errorf("%s: architecture %q is not supported; supported architectures: %s", name, a, supportedList())
		}
		c.Architecture = a
	}
	c.ModelType = Architectures[c.Architecture]

	k := keysOf(c.ModelType)
	c.VocabSize = p.int("vocab_size", 0)
	c.HiddenSize = p.int(k.hidden, 0)
	c.NumLayers = p.int(k.layers, 0)
	c.NumHeads = p.int(k.heads, 0)
	c.NumKVHeads = p.int("num_key_value_heads", c.NumHeads)
	if c.NumHeads > 0 {
		headDim := c.HiddenSize / c.NumHeads
		switch c.ModelType {
		case "qwen3":
			headDim = 128 // transformers' Qwen3Config default
		case "gemma2", "gemma3_text":
			headDim = 256 // Gemma2Config's and Gemma3TextConfig's
		}
		c.HeadDim = p.int("head_dim", headDim)
		c.RotaryDim = c.HeadDim
	}
	eps, positions, inter, tie := 1e-6, 2048, 0, false
	switch c.ModelType {
	case "gpt2": // GPT2Config's defaults; n_inner null means 4·n_embd
		eps, positions, inter, tie = 1e-5, 1024, 4*c.HiddenSize, true
	case "gemma2", "gemma3_text":
		positions, tie = 8192, true
	}
	c.IntermediateSize = p.int(k.intermediate, inter)
	c.RMSNormEps = p.float(k.eps, eps)
	c.RopeTheta = p.float("rope_theta", 10000)
	c.MaxPositions = p.int(k.positions, positions)
	c.TieEmbeddings = p.bool("tie_word_embeddings", tie)
	c.TorchDType, _ = raw["torch_dtype"].(string)
	if c.TorchDType == "" {
		c.TorchDType, _ = raw["dtype"].(string)
	}
	c.BOS = p.ids("bos_token_id")
	c.EOS = p.ids("eos_token_id")
	switch c.ModelType {
	case "qwen2":
		c.QKVBias = true
		if p.bool("use_sliding_window", false) {
			p.fail("use_sliding_window", "sliding-window attention for qwen2 is not supported")
		}
	case "llama":
		c.QKVBias = p.bool("attention_bias", false)
		c.OBias = c.QKVBias
		if p.bool("mlp_bias", false) {
			p.fail("mlp_bias", "MLP biases are not supported")
		}
	case "qwen3":
		c.QKVBias = p.bool("attention_bias", false)
		c.OBias = c.QKVBias
		c.QKNorm = true
		if p.bool("use_sliding_window", false) {
			p.fail("use_sliding_window", "sliding-window attention for qwen3 is not supported")
		}
	case "mistral":
		c.SlidingWindow = p.int("sliding_window", 0)
	case "phi3":
		p.phi3(c)
	case "gpt2":
		c.QKVBias, c.OBias = true, true
		c.LayerNorm, c.GELU, c.LearnedPos, c.FusedQKV, c.Conv1D = true, true, true, true, true
		if act, _ := raw["activation_function"].(string); act != "" && act != "gelu_new" && act != "gelu_pytorch_tanh" {
			p.fail("activation_function", fmt.Sprintf("activation %q is not supported (only gelu_new)", act))
		}
		for _, f := range []struct {
			key string
			def bool
		}{{"scale_attn_weights", true}, {"scale_attn_by_inverse_layer_idx", false}} {
			if p.bool(f.key, f.def) != f.def {
				p.fail(f.key, "attention scores scaled other than by 1/sqrt(head_dim) are not supported")
			}
		}
		if p.bool("add_cross_attention", false) {
			p.fail("add_cross_attention", "cross-attention is not supported")
		}
		if _, ok := raw["quantization_config"]; ok {
			p.fail("quantization_config", "4-bit GPT-2 checkpoints are not supported (quantize after loading instead)")
		}
	case "gemma2", "gemma3_text":
		p.gemma(c)
	}
	if act, ok := raw["hidden_act"].(string); ok && act != "silu" && c.ModelType != "gpt2" && !c.Gemma {
		p.fail("hidden_act", fmt.Sprintf("activation %q is not supported (only silu)", act))
	}
	if qc, ok := raw["quantization_config"]; ok && qc != nil && p.err == nil {
		js, _ := json.Marshal(qc)
		q, err := quant.ParseQuantizationConfig(js)
		if err != nil {
			return nil, fmt.Errorf("%s: field \"quantization_config\": %w", name, err)
		}
		c.Quant = &q
	}
	if rs, ok := raw["rope_scaling"]; ok && rs != nil {
		c.RopeScaling = p.ropeScaling(rs, c)
	}
	// transformers v5 writes rope_theta and the scaling into rope_parameters.
	if rp, ok := raw["rope_parameters"].(map[string]any); ok {
		if full, ok := rp["full_attention"].(map[string]any); ok { // per layer type (Gemma 3; the sliding layers' in cfgParser.gemma)
			rp = full
		}
		sub := cfgParser{name: name, raw: rp}
		c.RopeTheta = sub.float("rope_theta", c.RopeTheta)
		c.RopeScaling = p.ropeScaling(rp, c)
		if sub.err != nil && p.err == nil {
			p.err = sub.err
		}
	}
	if p.err != nil {
		return nil, p.err
	}
	if err := c.validateSizes(name, k); err != nil {
		return nil, err
	}
	return c, nil
}

// configKeys are the config.json names of the shape fields, which GPT-2
// spells its own way.
type configKeys struct{ hidden, intermediate, layers, heads, positions, eps string }

// keysOf returns the shape fields' names for a model_type.
func keysOf(modelType string) configKeys {
	if modelType == "gpt2" {
		return gpt2Keys
	}
	return llamaKeys
}

var (
	llamaKeys = configKeys{"hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "max_position_embeddings", "rms_norm_eps"}
	gpt2Keys  = configKeys{"n_embd", "n_inner", "n_layer", "n_head", "n_positions", "layer_norm_epsilon"}
)

// cfgParser reads typed fields and remembers the first error.
type cfgParser struct {
	name string
	raw  map[string]any
	err  error
}

func (p *cfgParser) fail(key, msg string) {
	if p.err == nil {
		p.err = fmt.Errorf("%s: field %q: %s", p.name, key, msg)
	}
}

func (p *cfgParser) int(key string, def int) int {
	v, ok := p.raw[key]
	if !ok || v == nil {
		return def
	}
	f, ok := v.(float64)
	if !ok || f != math.Trunc(f) {
		p.fail(key, fmt.Sprintf("want an integer, got %v", v))
		return def
	}
	if math.Abs(f) > 1<<40 {
		p.fail(key, fmt.Sprintf("%.0f is too large", f))
		return def
	}
	return int(f)
}

func (p *cfgParser) float(key string, def float64) float64 {
	v, ok := p.raw[key]
	if !ok || v == nil {
		return def
	}
	f, ok := v.(float64)
	if !ok {
		p.fail(key, fmt.Sprintf("want a number, got %v", v))
		return def
	}
	return f
}

func (p *cfgParser) bool(key string, def bool) bool {
	v, ok := p.raw[key]
	if !ok || v == nil {
		return def
	}
	b, ok := v.(bool)
	if !ok {
		p.fail(key, fmt.Sprintf("want true or false, got %v", v))
		return def
	}
	return b
}

// ids reads a token id that may be a single integer or a list.
func (p *cfgParser) ids(key string) []int {
	switch v := p.raw[key].(type) {
	case float64:
		return []int{int(v)}
	case []any:
		var out []int
		for _, e := range v {
			if f, ok := e.(float64); ok {
				out = append(out, int(f))
			}
		}
		return out
	}
	return nil
}

func (p *cfgParser) ropeScaling(v any, c *Config) *RopeScaling {
	m, ok := v.(map[string]any)
	if !ok {
		p.fail("rope_scaling", "want an object")
		return nil
	}
	sub := cfgParser{name: p.name, raw: m}
	t, _ := m["rope_type"].(string)
	if t == "" {
		t, _ = m["type"].(string)
	}
	rs := &RopeScaling{Type: t, Factor: sub.float("factor", 1)}
	switch t {
	case "default", "":
		return nil
	case "linear":
	case "llama3":
		rs.LowFreqFactor = sub.float("low_freq_factor", 1)
		rs.HighFreqFactor = sub.float("high_freq_factor", 4)
		rs.OrigMaxPos = sub.int("original_max_position_embeddings", 8192)
		if rs.HighFreqFactor <= rs.LowFreqFactor || rs.OrigMaxPos <= 0 {
			sub.fail("rope_scaling", "llama3 needs high_freq_factor > low_freq_factor and original_max_position_embeddings > 0")
		}
	case "longrope", "su", "yarn":
		if t != "longrope" && c.ModelType != "phi3" {
			sub.fail("rope_scaling", fmt.Sprintf("type %q is not supported (supported: linear, llama3, longrope)", t))
			break
		}
		p.longRope(&sub, rs, c)
	default:
		sub.fail("rope_scaling", fmt.Sprintf("type %q is not supported (supported: linear, llama3, longrope)", t))
	}
	if !(rs.Factor > 0) {
		sub.fail("rope_scaling", "factor must be positive")
	}
	if sub.err != nil && p.err == nil {
		p.err = sub.err
	}
	return rs
}

// InvFreq returns the rotary inverse frequencies θ_i = theta^(-2i/R),
// i = 0..R/2-1 (R = RotaryDim), adjusted by RopeScaling (longrope: by its
// short factors), computed in float64.
func (c *Config) InvFreq() []float64 { return c.invFreq(false) }

// invFreq is InvFreq, with longrope's long factors when long is set.
func (c *Config) invFreq(long bool) []float64 {
	d := c.RotaryDim
	inv := make([]float64, d/2)
	for i := range inv {
		inv[i] = 1 / math.Pow(c.RopeTheta, float64(2*i)/float64(d))
	}
	rs := c.RopeScaling
	if rs == nil {
		return inv
	}
	switch rs.Type {
	case "linear":
		for i := range inv {
			inv[i] /= rs.Factor
		}
	case "llama3":
		orig := float64(rs.OrigMaxPos)
		lowWave := orig / rs.LowFreqFactor
		highWave := orig / rs.HighFreqFactor
		for i, f := range inv {
			wave := 2 * math.Pi / f
			switch {
			case wave < highWave:
			case wave > lowWave:
				inv[i] = f / rs.Factor
			default:
				s := (orig/wave - rs.LowFreqFactor) / (rs.HighFreqFactor - rs.LowFreqFactor)
				inv[i] = (1-s)*f/rs.Factor + s*f
			}
		}
	case "longrope":
		ext := rs.ShortFactor
		if long {
			ext = rs.LongFactor
		}
		for i := range inv {
			inv[i] /= ext[i]
		}
	}
	return inv
}

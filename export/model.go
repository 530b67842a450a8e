package export

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/golora/golora/gguf"
	"github.com/golora/golora/model"
)

// fileTypes is llama.cpp's general.file_type (enum llama_ftype) of a model
// whose matrices are stored as each type; Q4_0 and Q4_K stand for
// llama-quantize's mixtures LLAMA_FTYPE_MOSTLY_Q4_0 and _Q4_K_M (see
// mixture).
var fileTypes = map[gguf.Type]uint32{gguf.F32: 0, gguf.F16: 1, gguf.Q4_0: 2, gguf.Q8_0: 7, gguf.Q4_K: 15, gguf.BF16: 32}

// Model converts a loaded model (adapters already merged into it, if any)
// into the metadata and tensors llama.cpp's convert_hf_to_gguf.py writes
// for it, tokenizer aside:
//
//	general.architecture, general.type = model
//	<arch>.block_count, context_length, embedding_length,
//	feed_forward_length, attention.head_count, attention.head_count_kv,
//	rope.freq_base and attention.layer_norm_rms_epsilon (gpt2:
//	attention.layer_norm_epsilon),
//	[attention.key_length, value_length: config.json sets head_dim; Gemma],
//	[Gemma's soft-capping, sliding window and local RoPE base: gemmaMeta],
//	[rope.scaling.type = linear, rope.scaling.factor],
//	[longrope: rope.scaling.attn_factor, original_context_length],
//	[phi3: rope.dimension_count, attention.sliding_window], general.file_type,
//	[vocab_size, rope.dimension_count: llama], general.quantization_version
//
// and every parameter under llama.cpp's name, in Hugging Face name order,
// after a rope_freqs.weight of llama3 RoPE scaling factors (llama only:
// llama.cpp's other architectures read none; or of a llama's longrope with
// one set of factors, see ropeFreqs) or
// rope_factors_long.weight and rope_factors_short.weight of longrope's
// (phi3). With typ F32, F16, BF16 or Q8_0 (convert_hf_to_gguf.py's
// --outtype), vectors are F32 and matrices typ, a Q8_0 matrix whose rows
// are not whole blocks F16. With typ Q4_0 or Q4_K the tensors are what
// llama-quantize makes of the F32 file as Q4_0 or Q4_K_M (types from
// mixture, bytes from gguf.Quantize), general.file_type 2 or 15.
// For llama and mistral the rows of q_proj and k_proj (weights and biases)
// are permuted into llama.cpp's RoPE order (see gguf.PermuteRoPE); Gemma's
// RMSNorm weights w are written as 1+w, the factor llama.cpp multiplies
// by; GPT-2's
// Conv1D weights, stored [in, out], are written [out, in], as
// convert_hf_to_gguf.py transposes them. A Mistral's sliding_window is not
// written: llama.cpp's llama architecture has no key for it and attends
// to every position, which is the same model for sequences up to the
// window (convert_hf_to_gguf.py drops it too).
func Model(m *model.Model, typ gguf.Type) ([]gguf.KV, []gguf.Tensor, error) {
	cfg := m.Cfg
	arch, err := archOf(cfg)
	if err != nil {
		return nil, nil, err
	}
	ft, ok := fileTypes[typ]
	if !ok {
		return nil, nil, fmt.Errorf("export: cannot write a model as %s (F32, F16, BF16, Q8_0, Q4_0, or Q4_K for Q4_K_M)", typ)
	}
	a := arch.Name + "."
	meta := []gguf.KV{
		{Key: keyArch, Value: arch.Name},
		{Key: keyType, Value: "model"},
		{Key: a + "block_count", Value: uint32(cfg.NumLayers)},
		{Key: a + "context_length", Value: uint32(cfg.MaxPositions)},
		{Key: a + "embedding_length", Value: uint32(cfg.HiddenSize)},
		{Key: a + "feed_forward_length", Value: uint32(cfg.IntermediateSize)},
		{Key: a + "attention.head_count", Value: uint32(cfg.NumHeads)},
		{Key: a + "attention.head_count_kv", Value: uint32(cfg.NumKVHeads)},
	}
	if cfg.LayerNorm { // GPT-2: learned positions, no RoPE
		meta = append(meta, gguf.KV{Key: a + "attention.layer_norm_epsilon", Value: float32(cfg.RMSNormEps)})
	} else {
		meta = append(meta,
			gguf.KV{Key: a + "rope.freq_base", Value: float32(cfg.RopeTheta)},
			gguf.KV{Key: a + "attention.layer_norm_rms_epsilon", Value: float32(cfg.RMSNormEps)})
	}
	if _, ok := cfg.Raw["head_dim"]; ok && cfg.Raw["head_dim"] != nil || cfg.Gemma {
		meta = append(meta,
			gguf.KV{Key: a + "attention.key_length", Value: uint32(cfg.HeadDim)},
			gguf.KV{Key: a + "attention.value_length", Value: uint32(cfg.HeadDim)})
	}
	if cfg.Gemma {
		gm, err := gemmaMeta(cfg, arch, a)
		if err != nil {
			return nil, nil, err
		}
		meta = append(meta, gm...)
	}
	var tensors []gguf.Tensor
	if rs := cfg.RopeScaling; rs != nil {
		switch rs.Type {
		case "linear":
			meta = append(meta,
				gguf.KV{Key: a + "rope.scaling.type", Value: "linear"},
				gguf.KV{Key: a + "rope.scaling.factor", Value: float32(rs.Factor)})
		case "longrope":
			if arch.Name != "phi3" {
				t, err := ropeFreqs(cfg, arch)
				if err != nil {
					return nil, nil, err
				}
				tensors = append(tensors, t)
				break
			}
			meta = append(meta,
				gguf.KV{Key: a + "rope.scaling.attn_factor", Value: float32(rs.AttnFactor)},
				gguf.KV{Key: a + "rope.scaling.original_context_length", Value: uint32(rs.OrigMaxPos)})
			for _, f := range []struct {
				name string
				v    []float64
			}{{"rope_factors_long.weight", rs.LongFactor}, {"rope_factors_short.weight", rs.ShortFactor}} {
				v := make([]float32, len(f.v))
				for i, x := range f.v {
					v[i] = float32(x)
				}
				t, err := gguf.NewTensor(f.name, gguf.F32, []int{len(v)}, v)
				if err != nil {
					return nil, nil, err
				}
				tensors = append(tensors, t)
			}
		case "llama3":
			if arch.Name != "llama" {
				return nil, nil, fmt.Errorf("export: model type %s: llama3 RoPE scaling, which llama.cpp's %s cannot run (its llama can)", cfg.ModelType, arch.Name)
			}
			t, err := gguf.NewTensor("rope_freqs.weight", gguf.F32, []int{cfg.HeadDim / 2}, llama3Factors(cfg))
			if err != nil {
				return nil, nil, err
			}
			tensors = append(tensors, t)
		}
	}
	if cfg.ModelType == "phi3" { // partial rotary; llama.cpp disables phi3's sliding window
		meta = append(meta,
			gguf.KV{Key: a + "rope.dimension_count", Value: uint32(cfg.RotaryDim)},
			gguf.KV{Key: a + "attention.sliding_window", Value: uint32(cfg.SlidingWindow)})
	}
	meta = append(meta, gguf.KV{Key: "general.file_type", Value: ft})
	if arch.Name == "llama" {
		meta = append(meta,
			gguf.KV{Key: a + "vocab_size", Value: uint32(cfg.VocabSize)},
			gguf.KV{Key: a + "rope.dimension_count", Value: uint32(cfg.HeadDim)})
	}
	meta = append(meta, gguf.KV{Key: keyQuantVer, Value: uint32(quantVersion)})

	params := m.Params()
	slices.SortFunc(params, func(x, y *model.Param) int { return strings.Compare(x.Name, y.Name) })
	names := make([]string, len(params))
	for i, p := range params {
		var ok bool
		if names[i], ok = arch.TensorName(p.Name); !ok {
			return nil, nil, fmt.Errorf("export: %s: parameter %q has no llama.cpp tensor name", m.Source, p.Name)
		}
	}
	mx := newMixture(typ, arch.Name, cfg.NumLayers, cfg.NumHeads, cfg.NumKVHeads, names)
	for i, p := range params {
		name := names[i]
		v := make([]float32, 0, p.W.Rows*p.W.Cols)
		for i := 0; i < p.W.Rows; i++ {
			v = append(v, p.W.Row(i, make([]float32, p.W.Cols))...)
		}
		if cfg.Gemma && strings.HasSuffix(p.Name, "norm.weight") { // llama.cpp holds 1+w
			for i := range v {
				v[i]++
			}
		}
		if heads := gguf.QKHeads(p.Name, cfg.NumHeads, cfg.NumKVHeads); arch.PermuteQK && heads > 0 {
			rows, cols := p.Shape[0], 1
			if len(p.Shape) == 2 {
				cols = p.Shape[1]
			}
			if v, err = gguf.PermuteRoPE(v, rows, cols, heads, false); err != nil {
				return nil, nil, fmt.Errorf("export: %s: parameter %s: %w", m.Source, p.Name, err)
			}
		}
		shape := p.Shape // as held: a Conv1D weight [out, in], as llama.cpp wants it
		if len(shape) == 2 {
			shape = []int{p.W.Rows, p.W.Cols}
		}
		tt := typ
		switch {
		case typ == gguf.Q4_0 || typ == gguf.Q4_K:
			tt = mx.typeOf(name, shape)
		case len(shape) < 2 || strings.HasSuffix(name, "_norm.weight"):
			tt = gguf.F32
		case tt == gguf.Q8_0 && shape[1]%gguf.Q8_0.BlockSize() != 0:
			tt = gguf.F16
		}
		t, err := gguf.NewTensor(name, tt, shape, v)
		if err != nil {
			return nil, nil, fmt.Errorf("export: %s: %w", m.Source, err)
		}
		tensors = append(tensors, t)
	}
	return meta, tensors, nil
}

// ropeFreqs is the rope_freqs.weight of a llama whose longrope scaling
// has one set of per-frequency divisors (short_factor = long_factor,
// attention factor 1), as model.LoadGGUF reads llama.cpp's rope_freqs:
// llama.cpp's llama divides θ_i by rope_freqs_i and has no other
// longrope.
func ropeFreqs(cfg *model.Config, arch gguf.Arch) (gguf.Tensor, error) {
	rs := cfg.RopeScaling
	if arch.Name != "llama" || !slices.Equal(rs.ShortFactor, rs.LongFactor) || rs.AttnFactor != 1 {
		return gguf.Tensor{}, fmt.Errorf("export: model type %s: longrope RoPE scaling with distinct short and long factors or an attention factor, which llama.cpp's %s cannot run", cfg.ModelType, arch.Name)
	}
	v := make([]float32, len(rs.ShortFactor))
	for i, x := range rs.ShortFactor {
		v[i] = float32(x)
	}
	return gguf.NewTensor("rope_freqs.weight", gguf.F32, []int{len(v)}, v)
}

// llama3Factors are llama.cpp's rope_freqs for llama3 RoPE scaling: for
// each inverse frequency f of the head (base^(−2i/D)) with wavelength
// λ = 2π/f, 1 when λ < Orig/HighFreqFactor, Factor when λ >
// Orig/LowFreqFactor, else 1/((1−s)/Factor + s) with s = (Orig/λ −
// LowFreqFactor)/(HighFreqFactor − LowFreqFactor): the divisor llama.cpp
// applies to f, which equals model.Config.InvFreq's scaling. It is
// computed in float32 as convert_hf_to_gguf.py computes it with torch
// (a scalar divided by a tensor, 2π/f and Orig/λ, as the reciprocal times
// the scalar; the bounds and HighFreqFactor − LowFreqFactor in float64,
// then rounded), so that the factors are the converter's bit for bit; each
// product is converted explicitly so that no fused multiply-add changes it.
func llama3Factors(cfg *model.Config) []float32 {
	rs := cfg.RopeScaling
	d := cfg.HeadDim
	out := make([]float32, d/2)
	orig := float64(rs.OrigMaxPos)
	low, high := float32(orig/rs.LowFreqFactor), float32(orig/rs.HighFreqFactor)
	base, span := float32(cfg.RopeTheta), float32(rs.HighFreqFactor-rs.LowFreqFactor)
	for i := range out {
		e := float32(2*i) / float32(d)
		f := 1 / float32(math.Pow(float64(base), float64(e)))
		wl := float32(1/f) * float32(2*math.Pi)
		switch {
		case wl < high:
			out[i] = 1
		case wl > low:
			out[i] = float32(rs.Factor)
		default:
			s := (float32(float32(1/wl)*float32(orig)) - float32(rs.LowFreqFactor)) / span
			out[i] = 1 / ((1-s)/float32(rs.Factor) + s)
		}
	}
	return out
}

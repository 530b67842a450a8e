package model

import (
	"fmt"
	"math"

	"github.com/golora/golora/tensor"
)

// Gemma 2 and Gemma 3 (text) differ from the Llama layer in ways that
// Config.Gemma, AttnScale, AttnSoftcap, FinalSoftcap, SlidingLayers and
// RopeLocalTheta describe; this file holds what only they need: their
// config fields, the (1 + w) norm's offset, the embedding scale, the
// gated GELU MLP, soft-capping, and the output norms of each block.

// gemmaNorms are a Gemma layer's norms (see layerNorms): its MLP's input
// norm is pre_feedforward_layernorm, while post_attention_layernorm and
// post_feedforward_layernorm normalise the attention's and the MLP's
// outputs.
var gemmaNorms = []normSpec{
	{"self_attn", "input_layernorm", false, func(l *Layer) **Param { return &l.InputNorm }, nil},
	{"self_attn", "self_attn.q_norm", true, func(l *Layer) **Param { return &l.QNorm }, nil},
	{"self_attn", "self_attn.k_norm", true, func(l *Layer) **Param { return &l.KNorm }, nil},
	{"mlp", "post_attention_layernorm", false, func(l *Layer) **Param { return &l.AttnOutNorm }, nil},
	{"mlp", "pre_feedforward_layernorm", false, func(l *Layer) **Param { return &l.PostNorm }, nil},
	{"mlp", "post_feedforward_layernorm", false, func(l *Layer) **Param { return &l.MLPOutNorm }, nil},
}

// gemma reads the fields of Gemma 2 (gemma2) and Gemma 3 (gemma3_text)
// configs, with the defaults of transformers' Gemma2Config and
// Gemma3TextConfig.
func (p *cfgParser) gemma(c *Config) {
	g3 := c.ModelType == "gemma3_text"
	c.Gemma = true
	if act, ok := p.raw["hidden_activation"].(string); ok && act != "gelu_pytorch_tanh" {
		p.fail("hidden_activation", fmt.Sprintf("activation %q is not supported (only gelu_pytorch_tanh)", act))
	}
	c.QKVBias = p.bool("attention_bias", false)
	c.OBias = c.QKVBias
	c.QKNorm = g3
	if s := p.float("query_pre_attn_scalar", 256); s > 0 {
		c.AttnScale = 1 / math.Sqrt(s)
	} else {
		p.fail("query_pre_attn_scalar", fmt.Sprintf("must be positive, got %g", s))
	}
	// A null soft-cap or window turns it off; a missing one is the default.
	nullable := func(key string, def float64) float64 {
		if v, ok := p.raw[key]; ok && v == nil {
			return 0
		}
		f := p.float(key, def)
		if !(f >= 0) || math.IsInf(f, 0) {
			p.fail(key, fmt.Sprintf("must be a finite number ≥ 0, got %g", f))
		}
		return f
	}
	attnCap, finalCap := 50.0, 30.0
	if g3 {
		attnCap, finalCap = 0, 0
		c.RopeTheta = p.float("rope_theta", 1e6)
	}
	c.AttnSoftcap = nullable("attn_logit_softcapping", attnCap)
	c.FinalSoftcap = nullable("final_logit_softcapping", finalCap)
	if w := nullable("sliding_window", 4096); w == math.Trunc(w) && w <= maxPositions {
		c.SlidingWindow = int(w)
	} else {
		p.fail("sliding_window", fmt.Sprintf("want an integer in [0, %d], got %g", maxPositions, w))
	}
	if c.NumLayers <= 0 || c.NumLayers > maxLayers {
		return // validateSizes names the field
	}
	c.SlidingLayers = make([]bool, c.NumLayers)
	types, ok := p.raw["layer_types"].([]any)
	if v := p.raw["layer_types"]; v != nil && !ok {
		p.fail("layer_types", fmt.Sprintf("want a list, got %v", v))
	}
	if ok {
		if len(types) != c.NumLayers {
			p.fail("layer_types", fmt.Sprintf("%d entries for %d layers", len(types), c.NumLayers))
		}
		for i, t := range types[:min(len(types), c.NumLayers)] {
			switch t {
			case "sliding_attention":
				c.SlidingLayers[i] = true
			case "full_attention":
			default:
				p.fail("layer_types", fmt.Sprintf("entry %d is %v (want sliding_attention or full_attention)", i, t))
			}
		}
	} else {
		// Layer i is sliding unless (i+1) is a multiple of the pattern:
		// Gemma 2 alternates, sliding first; Gemma 3 slides 5 in 6.
		pattern := 2
		if g3 {
			pattern = p.int("sliding_window_pattern", 6)
		}
		if pattern < 1 {
			p.fail("sliding_window_pattern", fmt.Sprintf("must be a positive integer, got %d", pattern))
			pattern = 1
		}
		for i := range c.SlidingLayers {
			c.SlidingLayers[i] = (i+1)%pattern != 0
		}
	}
	if g3 {
		c.RopeLocalTheta = p.float("rope_local_base_freq", 10000)
		if rp, ok := p.raw["rope_parameters"].(map[string]any); ok {
			if local, ok := rp["sliding_attention"].(map[string]any); ok {
				sub := cfgParser{name: p.name, raw: local}
				c.RopeLocalTheta = sub.float("rope_theta", c.RopeLocalTheta)
				if sub.err != nil && p.err == nil {
					p.err = sub.err
				}
			}
		}
		if !(c.RopeLocalTheta >= 1) || math.IsInf(c.RopeLocalTheta, 0) {
			p.fail("rope_local_base_freq", fmt.Sprintf("must be a finite number ≥ 1, got %g", c.RopeLocalTheta))
		}
	}
}

// sliding reports whether layer li's attention is limited to the sliding
// window.
func (c *Config) sliding(li int) bool {
	return c.SlidingWindow > 0 && (c.SlidingLayers == nil || c.SlidingLayers[li])
}

// normOffset is what every RMSNorm adds to its weight: 1 for Gemma's
// x/rms(x)·(1 + w), else 0.
func (c *Config) normOffset() float32 {
	if c.Gemma {
		return 1
	}
	return 0
}

// attnScale is the factor of the query–key products: AttnScale, or
// 1/√head_dim.
func (c *Config) attnScale() float32 {
	if c.AttnScale > 0 {
		return float32(c.AttnScale)
	}
	return float32(1 / math.Sqrt(float64(c.HeadDim)))
}

// embedScale is what Gemma multiplies its token embeddings by: √C rounded
// to dt, the embedding's stored dtype, as transformers rounds it to the
// dtype of the hidden states; 1 for other families.
func (c *Config) embedScale(dt tensor.DType) float32 {
	if !c.Gemma {
		return 1
	}
	s := float32(math.Sqrt(float64(c.HiddenSize)))
	switch dt {
	case tensor.BF16:
		return tensor.BF16ToF32(tensor.F32ToBF16(s))
	case tensor.F16:
		return tensor.F16ToF32(tensor.F32ToF16(s))
	}
	return s
}

// ropeLocalFill fills cos and sin, each [T, R/2], for the sliding layers
// of a config with RopeLocalTheta: base RopeLocalTheta, no scaling.
func (c *Config) ropeLocalFill(cos, sin []float32) {
	l := *c
	l.RopeTheta, l.RopeScaling, l.RopeLocalTheta = c.RopeLocalTheta, nil, 0
	l.ropeFill(cos, sin, 0)
}

// localRope reports whether layer li rotates with the sliding layers'
// tables (Config.RopeLocalTheta).
func (c *Config) localRope(li int) bool {
	return c.RopeLocalTheta > 0 && c.SlidingLayers != nil && c.SlidingLayers[li]
}

// gegluForward: h[i] = gelu_tanh(g[i])·u[i] (Gemma's MLP; GELU as
// geluForward computes it).
func gegluForward(h, g, u []float32) {
	geluForward(h, g)
	for i, v := range u[:len(h)] {
		h[i] *= v
	}
}

// gegluBackward: dg[i] = dh[i]·u[i]·gelu'(g[i]), du[i] = dh[i]·gelu(g[i]).
func gegluBackward(dg, du, dh, g, u []float32) {
	for i, v := range u[:len(dg)] {
		dg[i] = dh[i] * v
	}
	geluBackward(dg, dg, g)
	geluForward(du, g)
	for i, v := range dh[:len(du)] {
		du[i] *= v
	}
}

// softcap sets x[i] = cap·tanh(x[i]/cap), tanh(y) computed as
// 2/(1 + e^−2y) − 1 (e^−2y = +Inf gives −1, not NaN) with the vectorised
// tensor.ExpShift, a block at a time. Its derivative, 1 − tanh², is
// 1 − (x[i]/cap)² of the result.
func softcap(x []float32, cap float32) {
	var e [geluBlock]float32
	for i0 := 0; i0 < len(x); i0 += geluBlock {
		xs := x[i0:min(i0+geluBlock, len(x))]
		es := e[:len(xs)]
		for i, v := range xs {
			es[i] = -2 * v / cap
		}
		tensor.ExpShift(es, es, 0)
		for i, v := range es {
			xs[i] = cap * (2/(1+v) - 1)
		}
	}
}

// softcapScores is softcap of a row of attention scores with the state's
// attnCap, leaving the derivative of each, 1 − (y/cap)², in f.
func (s *State) softcapScores(row, f []float32) {
	softcap(row, s.attnCap)
	for j, y := range row {
		t := y / s.attnCap
		f[j] = 1 - t*t
	}
}

// softcapRows applies softcap to each row of width values of x on its
// own, so that a row's numbers do not depend on the rows around it.
func softcapRows(x []float32, width int, cap float64) {
	if cap <= 0 {
		return
	}
	for r := 0; r+width <= len(x); r += width {
		softcap(x[r:r+width], float32(cap))
	}
}

// crossEntropyCapped is crossEntropy over rows [lo, hi) of logits that
// went through the final soft-cap (Config.FinalSoftcap): with norm ≠ 0,
// each row's gradient with respect to the capped logits y is multiplied
// by d y/d x = 1 − (y/cap)², which makes it the gradient with respect to
// the head's output x. f (V) is scratch.
func crossEntropyCapped(logits []float32, row0 int, labels []int, lo, hi, T, V int, norm, cap float32, f []float32) (sum float64, count, correct int) {
	for n := lo; n < hi; n++ {
		row := logits[(n-row0)*V : (n-row0+1)*V]
		if norm != 0 {
			for j, y := range row {
				t := y / cap
				f[j] = 1 - t*t
			}
		}
		s, c, k := crossEntropy(row, n, labels, n, n+1, T, V, norm)
		sum, count, correct = sum+s, count+c, correct+k
		if norm != 0 {
			for j := range row {
				row[j] *= f[j]
			}
		}
	}
	return sum, count, correct
}

// branchOut computes a block's output, lin(in), into s.tmpC; with a Gemma
// output norm it keeps lin(in) in raw and leaves norm(raw) in s.tmpC, its
// 1/rms in rstd.
func (s *State) branchOut(c *Config, lin *Linear, norm *Param, in, raw, rstd []float32) {
	if norm == nil {
		s.linearForward(lin, s.tmpC, in)
		return
	}
	s.linearForward(lin, raw, in)
	s.norm(c, s.tmpC, rstd, nil, raw, norm, nil)
}

// branchBack is branchOut's backward pass up to lin's output: given the
// block output's gradient in s.dx it returns d loss/d lin(in), which is
// s.dx itself, or, through an output norm, s.tmpC.
func (s *State) branchBack(c *Config, norm *Param, raw, rstd []float32) []float32 {
	if norm == nil {
		return s.dx
	}
	clear(s.tmpC)
	s.rmsnormBack(s.tmpC, norm, s.dx, raw, rstd, c.HiddenSize)
	return s.tmpC
}

// layerRope returns the RoPE tables, each (positions, D/2), layer li of
// the state's model rotates with.
func (s *State) layerRope(li int) (cos, sin []float32) {
	if s.localRope != nil && s.localRope[li] {
		return s.cosL, s.sinL
	}
	return s.cos, s.sin
}

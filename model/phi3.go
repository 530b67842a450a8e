package model

import (
	"fmt"
	"math"
)

// Phi-3 (Phi3ForCausalLM, model_type phi3) is the Llama layer with two
// fused linears and its own RoPE options, as transformers' modeling_phi3.py
// computes it:
//
//   - self_attn.qkv_proj C→H·D+2·KV·D, its output rows [q | k | v] (no
//     bias): the fused projection GPT-2's c_attn uses, held as Layer.QKV;
//   - mlp.gate_up_proj C→2I, its output rows [gate | up], and the MLP
//     down(silu(gate)⊙up) (Config.FusedGateUp, Layer.GateUp);
//   - partial_rotary_factor: RoPE rotates the first R = D·factor dims of
//     each head (rotate-half within those R), the others pass unchanged;
//   - rope_scaling longrope (su and yarn are its older names in Phi-3
//     configs), see Config.ropeLong;
//   - sliding_window: key j is seen from query i when i−j < window (the
//     mask of transformers' create_sliding_window_causal_mask).
//
// The residual and embedding dropouts (resid_pdrop, embd_pdrop) and
// attention_dropout are not applied: golora trains with LoRA dropout only,
// as for every family.

// phi3 reads the phi3-specific fields of config.json into c:
// partial_rotary_factor at the top level or, as transformers v5 may write
// it, in rope_parameters.
func (p *cfgParser) phi3(c *Config) {
	c.FusedQKV, c.FusedGateUp = true, true
	c.SlidingWindow = p.int("sliding_window", 0)
	f := p.float("partial_rotary_factor", 1)
	if rp, ok := p.raw["rope_parameters"].(map[string]any); ok {
		sub := cfgParser{name: p.name, raw: rp}
		f = sub.float("partial_rotary_factor", f)
		if sub.err != nil && p.err == nil {
			p.err = sub.err
		}
	}
	if !(f > 0 && f <= 1) {
		p.fail("partial_rotary_factor", fmt.Sprintf("must be in (0, 1], got %g", f))
	} else if r := int(float64(c.HeadDim) * f); c.HeadDim > 0 && (r%2 != 0 || r == 0) {
		// transformers: dim = int(head_dim · partial_rotary_factor)
		p.fail("partial_rotary_factor", fmt.Sprintf("rotates %d of head_dim %d dims; that must be even and positive", r, c.HeadDim))
	} else {
		c.RotaryDim = r
	}
	if p.bool("attention_bias", false) {
		p.fail("attention_bias", "phi3's projections have no bias")
	}
}

// phi3Linears are the linear modules of a Phi-3 layer, in the order the
// forward pass runs them (see the package comment above).
func (c *Config) phi3Linears() []LinearSpec {
	C, I := c.HiddenSize, c.IntermediateSize
	qd, kvd := c.NumHeads*c.HeadDim, c.NumKVHeads*c.HeadDim
	return []LinearSpec{
		{"self_attn.qkv_proj", C, qd + 2*kvd, false, func(l *Layer) **Linear { return &l.QKV }, false},
		{"self_attn.o_proj", qd, C, false, func(l *Layer) **Linear { return &l.O }, false},
		{"mlp.gate_up_proj", C, 2 * I, false, func(l *Layer) **Linear { return &l.GateUp }, false},
		{"mlp.down_proj", I, C, false, func(l *Layer) **Linear { return &l.Down }, false},
	}
}

// longRope reads rope_scaling's longrope fields (sub) into rs, as
// transformers' _compute_longrope_parameters takes them:
// original_max_position_embeddings from rope_scaling, else from the
// top level of config.json (where Phi-3 keeps it), else
// max_position_embeddings; factor s, when not given,
// max_position_embeddings/original; attention_factor, when not given,
// √(1 + ln s / ln original) for s > 1, else 1; short_factor and
// long_factor, R/2 positive numbers each.
func (p *cfgParser) longRope(sub *cfgParser, rs *RopeScaling, c *Config) {
	rs.Type = "longrope"
	rs.OrigMaxPos = sub.int("original_max_position_embeddings", p.int("original_max_position_embeddings", c.MaxPositions))
	if rs.OrigMaxPos <= 1 {
		sub.fail("rope_scaling", fmt.Sprintf("longrope needs original_max_position_embeddings > 1, got %d", rs.OrigMaxPos))
		return
	}
	rs.Factor = sub.float("factor", float64(c.MaxPositions)/float64(rs.OrigMaxPos))
	att := 1.0
	if rs.Factor > 1 {
		att = math.Sqrt(1 + math.Log(rs.Factor)/math.Log(float64(rs.OrigMaxPos)))
	}
	rs.AttnFactor = sub.float("attention_factor", att)
	if !(rs.AttnFactor > 0 && rs.AttnFactor <= 1e3) {
		sub.fail("rope_scaling", fmt.Sprintf("attention_factor must be in (0, 1000], got %g", rs.AttnFactor))
	}
	rs.ShortFactor = sub.factors("short_factor", c.RotaryDim/2)
	rs.LongFactor = sub.factors("long_factor", c.RotaryDim/2)
}

// factors reads a list of n numbers in [1e-3, 1e6] (longrope's
// per-frequency divisors).
func (p *cfgParser) factors(key string, n int) []float64 {
	list, ok := p.raw[key].([]any)
	if !ok {
		p.fail("rope_scaling", fmt.Sprintf("longrope needs %s, a list of %d numbers", key, n))
		return nil
	}
	if len(list) != n {
		p.fail("rope_scaling", fmt.Sprintf("%s has %d numbers, the rotary dimensions need %d (rotary dims / 2)", key, len(list), n))
		return nil
	}
	out := make([]float64, n)
	for i, v := range list {
		f, ok := v.(float64)
		if !ok || !(f >= 1e-3 && f <= 1e6) {
			p.fail("rope_scaling", fmt.Sprintf("%s[%d] must be a number in [1e-3, 1e6], got %v", key, i, v))
			return nil
		}
		out[i] = f
	}
	return out
}

// ropeLong reports whether a sequence of seqLen tokens uses longrope's
// long factors: seqLen > original_max_position_embeddings, as
// transformers' longrope_frequency_update decides from the current
// sequence length (the largest position + 1). A forward pass over T
// tokens decides by T; a KV cache by the length it holds after the call,
// recomputing what it holds when it crosses the bound (Model.ropeSwitch).
func (c *Config) ropeLong(seqLen int) bool {
	rs := c.RopeScaling
	return rs != nil && rs.Type == "longrope" && seqLen > rs.OrigMaxPos
}

// ropeScale is the factor RoPE's cos and sin are multiplied by: longrope's
// attention factor, else 1.
func (c *Config) ropeScale() float64 {
	if rs := c.RopeScaling; rs != nil && rs.Type == "longrope" {
		return rs.AttnFactor
	}
	return 1
}

// ropeSwitch readies cache c for a sequence of L tokens. With longrope
// the factor set depends on the sequence's length (Config.ropeLong): when
// L crosses original_max_position_embeddings, the tables switch to the
// long factors and every position already cached is computed again with
// them (not only re-rotated: the later layers' keys and values depend on
// the earlier layers' attention), relongChunk tokens at a time, with the
// adapters as they are. That is what transformers' Phi-3 generation does:
// Phi3ForCausalLM.prepare_inputs_for_generation drops the cache when the
// sequence first passes the bound.
func (m *Model) ropeSwitch(c *Cache, L int) error {
	long := m.Cfg.ropeLong(L)
	if long == c.long {
		return nil
	}
	c.long = long
	m.Cfg.ropeFill(c.cos, c.sin, L)
	n := c.Len
	c.Len = 0
	var s *State
	for p := 0; p < n; p += relongChunk {
		k := min(relongChunk, n-p)
		if s == nil || s.T != k {
			s = m.NewPrefillState(k)
		}
		if err := m.decode(s, c, c.ids[p:p+k]); err != nil {
			return err
		}
	}
	return nil
}

// relongChunk is how many cached tokens ropeSwitch recomputes at a time.
var relongChunk = 256

package model

import (
	"fmt"

	"github.com/golora/golora/tensor"
)

// Serving decodes many sequences at once on one base model, each with its
// own KV cache and its own choice of adapters. A sequence's prompt goes
// through Prefill (the single-sequence Decode of generation), a chunk at a
// time into a NewPrefillState state (no logits but the last); after that
// every step of every running sequence goes through one DecodeBatch call,
// whatever the sequences' adapters.

// Selection chooses adapters by name (LoRA.Adapter), each with a factor
// its modules' Scale is multiplied by; adapters it does not name are off.
// A nil Selection is the base model alone.
type Selection map[string]float32

// BatchRow is one sequence's next token in a DecodeBatch step.
type BatchRow struct {
	Cache *Cache    // the sequence's keys and values; the token goes at position Cache.Len
	ID    int       // the token
	LoRA  Selection // the sequence's adapters
}

// Batch holds the buffers of decode steps over up to Max sequences of one
// token each, planned once. Logits (rows, V) holds each row's next-token
// logits after DecodeBatch.
type Batch struct {
	Max    int
	Logits []float32

	x, x2, ln, tmp []float32 // (Max, C)
	raw            []float32 // (Max, C): a block's output before Gemma's output norm
	rstd, mean     []float32 // (Max): a norm's 1/rms (and LayerNorm's mean)
	q, att, qRaw   []float32 // (Max, H·D); qRaw before the head norm (Config.QKNorm)
	k, v, kRaw     []float32 // (Max, KV·D)
	qkv            []float32 // (Max, H·D + 2·KV·D): the fused projection (GPT-2's c_attn, phi3's qkv_proj)
	gateUp         []float32 // (Max, 2I): phi3's fused gate_up_proj
	headRstd       []float32 // (Max·H): the head norm's 1/rms per head
	gate, up, h    []float32 // (Max, I)
	gx, gy, xa     []float32 // the rows of one adapter: x (g,In), y (g,Out), x·Aᵀ (g,r)
	pending, group []int     // rows that use an adapter, and those of one factor
	scores         [maxChunks][]float32

	// the attention loop in flight (see RunPart)
	team  tensor.Team
	m     *Model
	rows  []BatchRow
	layer int
	parts int
}

// NewBatch plans the buffers of decode steps over up to max sequences.
func (m *Model) NewBatch(max int) *Batch {
	c := m.Cfg
	C, qs, ks, I := c.HiddenSize, c.NumHeads*c.HeadDim, c.NumKVHeads*c.HeadDim, c.IntermediateSize
	f := func(n int) []float32 { return make([]float32, max*n) }
	b := &Batch{Max: max, Logits: f(c.VocabSize),
		x: f(C), x2: f(C), ln: f(C), tmp: f(C), rstd: f(1), mean: f(1),
		q: f(qs), att: f(qs), k: f(ks), v: f(ks), gate: f(I), up: f(I), h: f(I)}
	if c.QKNorm {
		b.qRaw, b.kRaw, b.headRstd = f(qs), f(ks), f(c.NumHeads)
	}
	if c.FusedQKV {
		b.qkv = f(qs + 2*ks)
	}
	if c.Gemma {
		b.raw = f(C)
	}
	if c.FusedGateUp {
		b.gateUp = f(2 * I)
	}
	return b
}

// Prefill is Decode (prompt tokens of one sequence into its cache, logits
// in s.Logits) with the adapters of sel alone switched on, each module's
// Scale multiplied by sel's factor for the call: the numbers generation
// computes with exactly those adapters attached (lora.AttachAll). The
// model's adapters are as before when it returns.
func (m *Model) Prefill(s *State, c *Cache, ids []int, sel Selection) error {
	return m.selecting(sel, func() error { return m.Decode(s, c, ids) })
}

// selecting runs f with the adapters of sel alone switched on, each
// module's Scale multiplied by sel's factor, and restores the adapters.
func (m *Model) selecting(sel Selection, f func() error) error {
	type saved struct {
		a        *LoRA
		scale    float32
		disabled bool
	}
	var keep []saved
	for _, lin := range m.Linears() {
		for _, a := range lin.LoRA {
			keep = append(keep, saved{a, a.Scale, a.Disabled})
			f, on := sel[a.Adapter]
			a.Disabled = !on
			if on {
				a.Scale *= f
			}
		}
	}
	defer func() {
		for _, k := range keep {
			k.a.Scale, k.a.Disabled = k.scale, k.disabled
		}
	}()
	return f()
}

// DecodeBatch runs one token of each row's sequence at its cache's next
// position, appends the keys and values to each row's cache and leaves
// the next-token logits in b.Logits (len(rows), V). The base weights are
// multiplied once for all rows (tensor.GemmRows); each row adds the LoRA
// terms of its own Selection, s·f·(x·Aᵀ)·Bᵀ, in the order the adapters
// were attached. Every row's numbers are bit for bit those of Decode on
// its sequence alone with the same adapters (the layer is Forward's
// layerForward, one token per row: per-head query/key norms, the fused
// projection, LayerNorm, GELU and learned positions where the family has
// them; Gemma's output norms, soft-caps and per-layer windows and RoPE
// tables), so a sequence decodes the same tokens whatever it is batched with.
func (m *Model) DecodeBatch(b *Batch, rows []BatchRow) error {
	c := m.Cfg
	n := len(rows)
	if n == 0 || n > b.Max {
		return fmt.Errorf("decode batch: %d rows for a batch of at most %d", n, b.Max)
	}
	for i, r := range rows {
		if r.ID < 0 || r.ID >= c.VocabSize {
			return fmt.Errorf("decode batch: row %d: token id %d is outside the vocabulary [0,%d)", i, r.ID, c.VocabSize)
		}
		if r.Cache.Len >= r.Cache.Max {
			return fmt.Errorf("decode batch: row %d: the cache holds its %d tokens", i, r.Cache.Max)
		}
		if m.Pos != nil && r.Cache.Len >= c.MaxPositions {
			return fmt.Errorf("decode batch: row %d: position %d is past the model's %d learned positions", i, r.Cache.Len, c.MaxPositions)
		}
	}
	if err := m.refuseDoRA(rows); err != nil {
		return err
	}
	for i, r := range rows {
		if kc := r.Cache; c.ropeLong(kc.Len+1) != kc.long {
			// longrope's factor set changes: recompute the row's cache
			// with its adapters, as Prefill would.
			if err := m.selecting(r.LoRA, func() error { return m.ropeSwitch(kc, kc.Len+1) }); err != nil {
				return fmt.Errorf("decode batch: row %d: %w", i, err)
			}
		}
	}
	C, H, KV, D := c.HiddenSize, c.NumHeads, c.NumKVHeads, c.HeadDim
	qs, ks := H*D, KV*D
	for i, r := range rows {
		x := b.x[i*C : (i+1)*C]
		m.Embed.W.Row(r.ID, x)
		if c.Gemma {
			tensor.Scale(x, m.embedScale)
		}
		if m.Pos != nil {
			posForward(x, m.Pos.W, 1, r.Cache.Len, b.tmp[:C])
		}
	}
	b.m, b.rows = m, rows
	for li, l := range m.Layers {
		b.norm(c, b.ln, b.x, l.InputNorm, l.InputNormBias, n)
		if l.QKV != nil {
			b.linear(l.QKV, b.qkv, b.ln, rows)
			splitFused(b.qkv[:n*(qs+2*ks)], []int{qs, ks, ks}, b.q[:n*qs], b.k[:n*ks], b.v[:n*ks])
		} else {
			b.heads(l.Q, l.QNorm, b.q, b.qRaw, n*H, rows)
			b.heads(l.K, l.KNorm, b.k, b.kRaw, n*KV, rows)
			b.linear(l.V, b.v, b.ln, rows)
		}
		for i, r := range rows {
			kc := r.Cache
			if !c.LearnedPos {
				cos, sin := kc.cos, kc.sin
				if c.localRope(li) {
					cos, sin = kc.cosL, kc.sinL
				}
				ropeRotate(b.q[i*qs:(i+1)*qs], 0, 1, 1, kc.Len, H, D, c.RotaryDim, cos, sin, 1)
				ropeRotate(b.k[i*ks:(i+1)*ks], 0, 1, 1, kc.Len, KV, D, c.RotaryDim, cos, sin, 1)
			}
			copy(kc.k[li][kc.Len*ks:], b.k[i*ks:(i+1)*ks])
			copy(kc.v[li][kc.Len*ks:], b.v[i*ks:(i+1)*ks])
		}
		b.attention(li, n*KV)
		b.branchOut(l.O, l.AttnOutNorm, b.att, rows)
		for i := range b.x2[:n*C] {
			b.x2[i] = b.x[i] + b.tmp[i]
		}
		b.norm(c, b.ln, b.x2, l.PostNorm, l.PostNormBias, n)
		I := c.IntermediateSize
		if c.GELU {
			b.linear(l.Up, b.up, b.ln, rows)
			for i := 0; i < n; i++ { // row by row, as Decode's one-row job
				geluForward(b.h[i*I:(i+1)*I], b.up[i*I:(i+1)*I])
			}
		} else {
			if l.GateUp != nil {
				b.linear(l.GateUp, b.gateUp, b.ln, rows)
				splitFused(b.gateUp[:n*2*I], []int{I, I}, b.gate[:n*I], b.up[:n*I])
			} else {
				b.linear(l.Gate, b.gate, b.ln, rows)
				b.linear(l.Up, b.up, b.ln, rows)
			}
			for i := 0; i < n; i++ { // row by row: the vector kernel's tail would differ from Decode's
				if c.Gemma {
					gegluForward(b.h[i*I:(i+1)*I], b.gate[i*I:(i+1)*I], b.up[i*I:(i+1)*I])
				} else {
					tensor.SwiGLU(b.h[i*I:(i+1)*I], b.gate[i*I:(i+1)*I], b.up[i*I:(i+1)*I])
				}
			}
		}
		b.branchOut(l.Down, l.MLPOutNorm, b.h, rows)
		for i := range b.x[:n*C] {
			b.x[i] = b.x2[i] + b.tmp[i]
		}
	}
	b.norm(c, b.ln, b.x, m.Norm, m.NormBias, n)
	tensor.GemmRows(1, tensor.FromF32(b.ln[:n*C], n, C), m.LMHead.W, 0, b.Logits, c.VocabSize)
	softcapRows(b.Logits[:n*c.VocabSize], c.VocabSize, c.FinalSoftcap)
	for _, r := range rows {
		if r.Cache.ids != nil {
			r.Cache.ids[r.Cache.Len] = r.ID
		}
		r.Cache.Len++
	}
	b.rows = nil
	return nil
}

// norm is State.norm over the first n rows: RMSNorm with w, or LayerNorm
// when the norm has a bias.
func (b *Batch) norm(c *Config, out, x []float32, w, bias *Param, n int) {
	C := c.HiddenSize
	if bias == nil {
		rmsnormForward(out[:n*C], b.rstd[:n], x[:n*C], w.W.F32, n, C, c.RMSNormEps, c.normOffset())
		return
	}
	layernormForward(out[:n*C], b.mean[:n], b.rstd[:n], x[:n*C], w.W.F32, bias.W.F32, n, C, c.RMSNormEps)
}

// heads is State.headsForward for the first rows of b.ln: out = lin(ln),
// or with a head norm each of the nh heads (D values) of raw = lin(ln)
// normalised with the [D] weight norm.
func (b *Batch) heads(lin *Linear, norm *Param, out, raw []float32, nh int, rows []BatchRow) {
	c := b.m.Cfg
	if norm == nil {
		b.linear(lin, out, b.ln, rows)
		return
	}
	D := c.HeadDim
	b.linear(lin, raw, b.ln, rows)
	rmsnormForward(out[:nh*D], b.headRstd[:nh], raw[:nh*D], norm.W.F32, nh, D, c.RMSNormEps, c.normOffset())
}

// branchOut is State.branchOut for the rows: a block's output lin(x) in
// b.tmp, or with a Gemma output norm, norm(lin(x)) (lin(x) in b.raw).
func (b *Batch) branchOut(lin *Linear, norm *Param, x []float32, rows []BatchRow) {
	if norm == nil {
		b.linear(lin, b.tmp, x, rows)
		return
	}
	b.linear(lin, b.raw, x, rows)
	b.norm(b.m.Cfg, b.tmp, b.raw, norm, nil, len(rows))
}

// linear: y (n,Out) = x (n,In)·Wᵀ + b, then for each adapter (in the
// order they were attached) and each row i whose Selection names it,
// y_i += Scale·f·(x_i·Aᵀ)·Bᵀ. The rows of one adapter and factor are
// gathered and multiplied together (tensor.GemmRows: A and B read once,
// each row's numbers those of its own one-row product), then scattered
// back, as S-LoRA and Punica do.
func (b *Batch) linear(l *Linear, y, x []float32, rows []BatchRow) {
	n := len(rows)
	tensor.GemmRows(1, tensor.FromF32(x[:n*l.In], n, l.In), l.W.W, 0, y, l.Out)
	if l.Bias != nil {
		bias := l.Bias.W.F32
		for i := 0; i < n; i++ {
			row := y[i*l.Out : (i+1)*l.Out]
			for j := range row {
				row[j] += bias[j]
			}
		}
	}
	for _, a := range l.LoRA {
		b.pending = b.pending[:0]
		for i, r := range rows {
			if _, on := r.LoRA[a.Adapter]; on {
				b.pending = append(b.pending, i)
			}
		}
		for len(b.pending) > 0 {
			f := rows[b.pending[0]].LoRA[a.Adapter]
			group, rest := b.group[:0], b.pending[:0]
			for _, i := range b.pending {
				if rows[i].LoRA[a.Adapter] == f {
					group = append(group, i)
				} else {
					rest = append(rest, i)
				}
			}
			b.group, b.pending = group, rest
			b.loraGroup(l, a, f, y, x, group)
		}
	}
}

// loraGroup adds Scale·f·(x_i·Aᵀ)·Bᵀ to the rows i of group.
func (b *Batch) loraGroup(l *Linear, a *LoRA, f float32, y, x []float32, group []int) {
	g := len(group)
	b.gx = grow(b.gx, g*l.In)
	b.gy = grow(b.gy, g*l.Out)
	b.xa = grow(b.xa, g*a.Rank)
	for k, i := range group {
		copy(b.gx[k*l.In:(k+1)*l.In], x[i*l.In:(i+1)*l.In])
		copy(b.gy[k*l.Out:(k+1)*l.Out], y[i*l.Out:(i+1)*l.Out])
	}
	tensor.GemmRows(1, tensor.FromF32(b.gx, g, l.In), a.A.W, 0, b.xa, a.Rank)
	tensor.GemmRows(a.Scale*f, tensor.FromF32(b.xa, g, a.Rank), a.B.W, 1, b.gy, l.Out)
	for k, i := range group {
		copy(y[i*l.Out:(i+1)*l.Out], b.gy[k*l.Out:(k+1)*l.Out])
	}
}

// grow returns buf with length n, reallocated when too small.
func grow(buf []float32, n int) []float32 {
	if cap(buf) < n {
		return make([]float32, n)
	}
	return buf[:n]
}

// attention runs the items (row, KV group) of layer in parallel chunks.
func (b *Batch) attention(layer, items int) {
	b.layer = layer
	b.parts = min(tensor.Threads(), items, maxChunks)
	b.team.Run(b.parts, b)
}

// RunPart computes chunk p of the attention items: for row i at position
// t (its cache's Len, keys and values already appended) and each query
// head h of KV group g, P = softmax(cap(q_h·K_gᵀ·scale)) over the positions the
// window lets it see, att_h = P·V_g — the one-query case of
// attentionForwardPart, operation for operation.
func (b *Batch) RunPart(p int) {
	c := b.m.Cfg
	H, KV, D := c.NumHeads, c.NumKVHeads, c.HeadDim
	qs, ks, G := H*D, KV*D, H/KV
	scale := c.attnScale()
	items := len(b.rows) * KV
	for it := items * p / b.parts; it < items*(p+1)/b.parts; it++ {
		i, g := it/KV, it%KV
		kc := b.rows[i].Cache
		t := kc.Len
		L := t + 1
		if len(b.scores[p]) < L {
			b.scores[p] = make([]float32, kc.Max)
		}
		P := b.scores[p][:L]
		k0 := c.windowStart(b.layer, t)
		kbuf, vbuf := kc.k[b.layer], kc.v[b.layer]
		for h := g * G; h < (g+1)*G; h++ {
			q := headView(b.q, i*qs+h*D, 1, D, qs)
			k := headView(kbuf, k0*ks+g*D, L-k0, D, ks)
			tensor.Gemm(false, true, scale, q, k, 0, P[k0:], L)
			seen := P[k0:L]
			if c.AttnSoftcap > 0 {
				softcap(seen, float32(c.AttnSoftcap))
			}
			mx := tensor.MaxF32(seen)
			z := tensor.ExpShift(seen, seen, mx)
			tensor.Scale(seen, float32(1/z))
			pm := tensor.Mat{DType: tensor.F32, F32: P[k0:], Rows: 1, Cols: L - k0, Stride: L}
			v := headView(vbuf, k0*ks+g*D, L-k0, D, ks)
			tensor.Gemm(false, false, 1, pm, v, 0, b.att[i*qs+h*D:], qs)
		}
	}
}

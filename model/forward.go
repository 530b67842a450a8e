package model

import (
	"fmt"
	"math"

	"github.com/golora/golora/tensor"
)

// State holds every buffer one forward/backward pass over a batch of B
// sequences of T tokens needs, planned once (Config.StateBuffers lists
// them) and reused for every step.
type State struct {
	B, T, N int  // N = B·T token positions
	train   bool // keep per-layer activations for Backward
	chunked bool // Logits holds HeadChunk rows (training, NewLossState)
	last    bool // Logits holds the last min(T,2) rows (NewPrefillState)
	ids     []int

	layers []layerCache // L entries when training, 1 otherwise
	kept   []layerCache // gradient checkpointing: each layer's x, x2, k (after RoPE) and v
	xOut   []float32    // (N,C) residual stream after the last layer
	lnf    []float32    // (N,C) final norm output
	rstdf  []float32    // (N)
	meanf  []float32    // (N) the final LayerNorm's row means (Config.LayerNorm)
	qkv    []float32    // (N,H·D+2·KV·D) the fused q/k/v projection's output, then its gradient (Config.FusedQKV)
	gateUp []float32    // (N,2I) the fused gate/up projection's output, then its gradient (Config.FusedGateUp)
	rot    int          // R: the dims of each head RoPE rotates (Config.RotaryDim)

	// Logits (N,V) of an inference state: the next-token logits after
	// Forward. A training or loss state never holds all of them: Loss
	// computes them HeadChunk rows at a time and, on a training state with
	// a non-zero norm, runs the output head's backward pass on each chunk
	// right away.
	Logits   []float32
	headDone bool // Loss has left d loss/d lnf in dln

	// scratch shared by all layers
	ln, tmpC    []float32   // (N,C)
	dx, dln     []float32   // (N,C)
	dq, datt    []float32   // (N,H·D)
	dk, dv      []float32   // (N,KV·D)
	dgate, dup  []float32   // (N,I)
	dh          []float32   // (N,I)
	scores, dsc [][]float32 // per chunk (T,T): one head's attention probabilities and their gradient
	dwPart      [][]float32 // per chunk (max(C, D), or 2C for LayerNorm): partial norm-weight (and bias) gradients
	threads     int
	lossSum     []float64 // per chunk: summed loss, target count and argmax hits
	lossCount   []int
	lossCorrect []int
	correct     int                  // of the last Loss (Correct)
	cos, sin    []float32            // (T,R/2)
	lora        map[*LoRA]*loraCache // each adapter's entry of loraBufs
	loraBufs    []loraCache
	drop, dropG []float32 // (N,max in) LoRA dropout input and its gradient
	dora        doraBufs  // scratch of the DoRA adapters

	team tensor.Team // runs the parallel loops below on the worker pool
	jobs job         // the one parallel loop in flight, reused: no allocation

	// recompute is set while Backward recomputes a checkpointed layer:
	// adapters reuse the x·Aᵀ their forward pass kept.
	recompute bool

	kv   *Cache // set during Decode: keys and values of earlier positions
	pos0 int    // position of the first token (Decode), else 0

	// Positions, when set (N), packs several examples into each row: the
	// position of every token within its example (see packing.go). The
	// caller owns it and keeps it unchanged from Forward to Backward, and
	// masks each example's first label (IgnoreIndex), which the token
	// before it, another example's last, would otherwise predict.
	Positions []int

	// Dropout turns on LoRA dropout for the next Forward/Backward; masks
	// are a pure function of DropoutSeed, so a step can be replayed
	// exactly (resume) and backward regenerates the forward's mask.
	Dropout     bool
	DropoutSeed uint64

	// Gemma (see Config.Gemma and gemma.go)
	normOff    float32     // Config.normOffset
	geglu      bool        // the gated MLP is gelu_tanh(gate)⊙up
	attnCap    float32     // Config.AttnSoftcap
	finalCap   float32     // Config.FinalSoftcap
	capT       [][]float32 // per chunk (T,T), training with attnCap: 1 − (capped score/cap)² of one head
	capF       [][]float32 // per chunk (V) with finalCap: the derivative of the capped logits of one row
	cosL, sinL []float32   // (T,D/2): the sliding layers' RoPE tables (Config.RopeLocalTheta)
	localRope  []bool      // per layer: rotates with cosL, sinL
}

// layerCache is what one layer's backward needs from its forward.
type layerCache struct {
	x     []float32 // (N,C) layer input (residual stream)
	rstd1 []float32 // (N)
	q     []float32 // (N,H·D) after RoPE
	k, v  []float32 // (N,KV·D), k after RoPE
	lse   []float32 // (B,H,T) log-sum-exp of each attention row
	att   []float32 // (N,H·D) attention output, o_proj input
	x2    []float32 // (N,C) residual after attention
	rstd2 []float32 // (N)
	gate  []float32 // (N,I)
	up    []float32 // (N,I)
	h     []float32 // (N,I) silu(gate)⊙up, down_proj input
	// With Config.QKNorm: q_proj's and k_proj's outputs before the head
	// norms, and the norms' 1/rms of each row of D (one per head).
	qRaw, qRstd []float32 // (N,H·D), (N·H)
	kRaw, kRstd []float32 // (N,KV·D), (N·KV)
	// With Config.LayerNorm: the two norms' row means.
	mean1, mean2 []float32 // (N)
	// With Config.Gemma: o_proj's and down_proj's outputs before their
	// output norms, and the norms' 1/rms.
	attnOut, mlpOut []float32 // (N,C)
	rstd3, rstd4    []float32 // (N)
}

// loraCache keeps xa = dropout(x)·Aᵀ (N,r) from forward for backward, and
// scratch for its gradient; a DoRA adapter's also the weight norm (Out).
type loraCache struct {
	xa, dxa []float32
	norm    []float32 // DoRA: ‖W_j + s·(B·A)_j‖ of the last forward
	index   uint64    // distinguishes the dropout masks of different modules
}

// NewState plans the buffers for batches of B sequences of T tokens. With
// train set, activations of every layer are kept for Backward; adapters
// must be attached before the state is made.
func (m *Model) NewState(B, T int, train bool) *State {
	if train {
		return m.newState(B, T, StateTrain)
	}
	return m.newState(B, T, StateInfer)
}

// NewLossState plans an inference state for Loss only (evaluation): like
// NewState(B, T, false), but its logits are computed HeadChunk rows at a
// time inside Loss instead of all N×V of them in Forward.
func (m *Model) NewLossState(B, T int) *State {
	return m.newState(B, T, StateLoss)
}

// NewPrefillState plans an inference state for one sequence of T tokens
// whose Forward (and Decode) computes the logits of the last min(T,2)
// positions alone, (min(T,2), V) in Logits: the next-token logits are its
// last V, bit for bit those of NewState(1, T, false). Two rows, not one:
// Gemm multiplies a single row by dot products summed in another order
// than its packed kernel's, and the last row must be what the all-logits
// state computes. A prompt is prefilled without its T×V logits; Loss
// refuses such a state.
func (m *Model) NewPrefillState(T int) *State {
	return m.newState(1, T, StatePrefill)
}

// NewCheckpointedState plans a training state with gradient checkpointing:
// only each layer's input x, its residual after attention x2, its keys
// after RoPE and its values (N×(2C + 2·KV·D)) are kept from the forward
// pass, and Backward recomputes one layer's other activations at a time
// from them (running q_proj, attention, gate_proj and up_proj again, not
// k_proj, v_proj, o_proj or down_proj; k_proj too with Config.QKNorm,
// o_proj and down_proj too with Gemma's output norms, and the fused c_attn
// and c_fc of GPT-2, qkv_proj and gate_up_proj of Phi-3; the adapters of
// what runs again reuse their kept x·Aᵀ, and the MLP activation is
// recomputed only where down_proj's backward reads its input) — about a
// fifth more compute for a small fraction of the activation memory.
func (m *Model) NewCheckpointedState(B, T int) *State {
	return m.newState(B, T, StateCheckpointed)
}

// newState allocates the buffers layout plans for a state of kind over
// the model, with the worker pool's thread count and the adapters now
// attached, and fills the RoPE tables.
func (m *Model) newState(B, T int, kind StateKind) *State {
	p := StatePlan{B: B, T: T, Kind: kind, Threads: tensor.Threads()}
	var loras []*LoRA
	for _, lin := range m.Linears() {
		for _, a := range lin.LoRA {
			loras = append(loras, a)
			p.LoRA = append(p.LoRA, a.plan(lin))
		}
	}
	s := &State{}
	m.Cfg.layout(s, p, &planner{alloc: true})
	s.lora = make(map[*LoRA]*loraCache, len(loras))
	for i, a := range loras {
		s.lora[a] = &s.loraBufs[i]
	}
	m.Cfg.ropeFill(s.cos, s.sin, T)
	if s.cosL != nil {
		m.Cfg.ropeLocalFill(s.cosL, s.sinL)
	}
	return s
}

// cache is the activation cache layer uses. Without checkpointing in
// training every layer has its own; otherwise all share one, and with
// checkpointing its x, x2, k and v are the layer's kept ones.
func (s *State) cache(layer int) *layerCache {
	if s.kept != nil {
		lc, k := &s.layers[0], &s.kept[layer]
		lc.x, lc.x2, lc.k, lc.v = k.x, k.x2, k.k, k.v
		return lc
	}
	if s.train {
		return &s.layers[layer]
	}
	return &s.layers[0]
}

// rmsnorm is rmsnormForward over the len(rstd) rows of C values (the N
// positions, or the N·heads heads of a head norm), in parallel.
func (s *State) rmsnorm(out, rstd, x, w []float32, C int, eps float64) {
	j := s.job(jobRMSNorm)
	j.a, j.b, j.c, j.d, j.width, j.eps = out, rstd, x, w, C, eps
	s.run(j, len(rstd))
}

// rmsnormBack is rmsnormBackward over the len(rstd) rows of C values, in
// parallel; the weight gradient (when p is trainable) is summed from
// per-chunk partials in chunk order, so the result does not depend on
// scheduling.
func (s *State) rmsnormBack(dx []float32, p *Param, dy, x, rstd []float32, C int) {
	j := s.job(jobRMSNormBack)
	j.a, j.b, j.c, j.d, j.p, j.width = dx, dy, x, rstd, p, C
	chunks := s.run(j, len(rstd))
	if p.Grad != nil {
		for c := 0; c < chunks; c++ {
			for i, v := range s.dwPart[c][:C] {
				p.Grad[i] += v
			}
		}
	}
}

// norm computes out = norm(x) over the N rows of C: RMSNorm with weight
// w, or, when the norm has a bias b (Config.LayerNorm), LayerNorm, its row
// means left in mean.
func (s *State) norm(c *Config, out, rstd, mean, x []float32, w, b *Param) {
	if b == nil {
		s.rmsnorm(out, rstd, x, w.W.F32, c.HiddenSize, c.RMSNormEps)
		return
	}
	j := s.job(jobLayerNorm)
	j.a, j.b, j.c, j.d, j.e, j.f, j.width, j.eps = out, rstd, x, w.W.F32, b.W.F32, mean, c.HiddenSize, c.RMSNormEps
	s.run(j, s.N)
}

// normBack is the backward pass of norm: it adds d loss/d x to dx given
// dy, and the weight's (and bias's) gradients where trainable, summed from
// per-chunk partials in chunk order.
func (s *State) normBack(c *Config, dx []float32, w, b *Param, dy, x, rstd, mean []float32) {
	C := c.HiddenSize
	if b == nil {
		s.rmsnormBack(dx, w, dy, x, rstd, C)
		return
	}
	j := s.job(jobLayerNormBack)
	j.a, j.b, j.c, j.d, j.f, j.p, j.bias, j.width = dx, dy, x, rstd, mean, w, b, C
	chunks := s.run(j, s.N)
	for k, p := range []*Param{w, b} {
		if p.Grad == nil {
			continue
		}
		for ch := 0; ch < chunks; ch++ {
			for i, v := range s.dwPart[ch][k*C : (k+1)*C] {
				p.Grad[i] += v
			}
		}
	}
}

// headsForward computes the heads of D values per row of a query or key
// projection (before RoPE): out = lin(ln), or with a head norm
// (Config.QKNorm) out = rmsnorm_D(raw) with raw = lin(ln), each head
// normalised on its own with the [D] weight norm, its 1/rms left in rstd
// (N·heads).
func (s *State) headsForward(lin *Linear, norm *Param, out, raw, rstd []float32, c *Config) {
	if norm == nil {
		s.linearForward(lin, out, s.ln)
		return
	}
	s.linearForward(lin, raw, s.ln)
	s.rmsnorm(out, rstd, raw, norm.W.F32, c.HeadDim, c.RMSNormEps)
}

// splitFused copies each row of a fused projection's output, the
// concatenation [p_0 | p_1 | …] of blocks widths[i] wide (q | k | v of
// c_attn and qkv_proj, gate | up of gate_up_proj), into parts[i] (rows,
// widths[i]); the row count is len(parts[0])/widths[0]. joinFused is its
// reverse, for the gradients.
func splitFused(fused []float32, widths []int, parts ...[]float32) {
	fusedCopy(fused, widths, parts, false)
}

func joinFused(fused []float32, widths []int, parts ...[]float32) {
	fusedCopy(fused, widths, parts, true)
}

func fusedCopy(fused []float32, widths []int, parts [][]float32, join bool) {
	w := 0
	for _, n := range widths {
		w += n
	}
	for r := 0; r < len(parts[0])/widths[0]; r++ {
		off := r * w
		for i, n := range widths {
			if join {
				copy(fused[off:off+n], parts[i][r*n:(r+1)*n])
			} else {
				copy(parts[i][r*n:(r+1)*n], fused[off:off+n])
			}
			off += n
		}
	}
}

// gelu is geluForward (h = gelu(up)) or geluBackward (dup = dh·gelu'(up))
// over the N rows of the layer's MLP, in parallel.
func (s *State) gelu(lc *layerCache, I int, backward bool) {
	j := s.job(jobGELU)
	if backward {
		j.kind = jobGELUBack
	}
	j.lc, j.width = lc, I
	s.run(j, s.N)
}

// rope rotates (dir 1) or un-rotates (dir -1) the nh heads of every row
// with layer li's tables.
func (s *State) rope(x []float32, li, nh, D int, dir float32) {
	j := s.job(jobRoPE)
	j.a, j.width, j.d2, j.dir = x, nh, D, dir
	j.b, j.c = s.layerRope(li)
	s.run(j, s.N)
}

// swiglu is tensor.SwiGLU (forward) or tensor.SwiGLUBackward over the N
// rows of the layer's MLP, in parallel; for Gemma, the gated GELU
// gegluForward or gegluBackward.
func (s *State) swiglu(lc *layerCache, I int, backward bool) {
	kind := jobSwiGLU
	if s.geglu {
		kind = jobGeGLU
	}
	j := s.job(kind)
	if backward {
		j.kind = kind + 1
	}
	j.lc, j.width = lc, I
	s.run(j, s.N)
}

// Forward runs the model over ids (B·T token ids, row-major [B][T]) and
// leaves the next-token logits in s.Logits (N,V).
func (m *Model) Forward(s *State, ids []int) error {
	c := m.Cfg
	if len(ids) != s.N {
		return fmt.Errorf("forward: %d ids for a state of %d×%d", len(ids), s.B, s.T)
	}
	for i, id := range ids {
		if id < 0 || id >= c.VocabSize {
			return fmt.Errorf("forward: token id %d at position %d is outside the vocabulary [0,%d)", id, i, c.VocabSize)
		}
	}
	if err := s.checkPositions(); err != nil {
		return err
	}
	if m.Pos != nil && s.pos0+s.T > c.MaxPositions {
		return fmt.Errorf("forward: position %d is past the model's %d learned positions", s.pos0+s.T-1, c.MaxPositions)
	}
	copy(s.ids, ids)
	N, C := s.N, c.HiddenSize
	x := s.cache(0).x
	embedForward(x, ids, m.Embed.W)
	if c.Gemma {
		tensor.Scale(x, m.embedScale)
	}
	if m.Pos != nil {
		s.addPositions(x, m.Pos.W, s.tmpC[:C])
	}
	for l, layer := range m.Layers {
		lc := s.cache(l)
		out := s.xOut
		switch {
		case l+1 == len(m.Layers):
		case s.kept != nil:
			out = s.kept[l+1].x
		case s.train:
			out = s.layers[l+1].x
		}
		m.layerForward(s, l, layer, lc, out)
		if !s.train && l+1 < len(m.Layers) {
			copy(lc.x, out)
		}
	}
	s.norm(c, s.lnf, s.rstdf, s.meanf, s.xOut, m.Norm, m.NormBias)
	s.headDone = false
	switch {
	case s.last:
		r := min(s.T, 2)
		tensor.Gemm(false, true, 1, tensor.FromF32(s.lnf[(s.T-r)*C:], r, C), m.LMHead.W, 0, s.Logits, c.VocabSize)
	case !s.chunked:
		tensor.Gemm(false, true, 1, tensor.FromF32(s.lnf, N, C), m.LMHead.W, 0, s.Logits, c.VocabSize)
	}
	if !s.chunked {
		softcapRows(s.Logits, c.VocabSize, c.FinalSoftcap)
	}
	return nil
}

// layerForward computes out = x2 + down(swiglu(gate(ln2), up(ln2))) with
// x2 = x + o(attention(rope(q(ln1)), rope(k(ln1)), v(ln1))) (with
// Config.QKNorm, q and k are each normalised per head before RoPE; for
// GPT-2, q, k and v come from the fused c_attn without RoPE, the MLP is
// c_proj(gelu(c_fc(ln2))) and the norms are LayerNorms; for Gemma, o's and
// down's outputs are normalised before they are added, and the MLP is
// down(gelu(gate(ln2))⊙up(ln2)); for Phi-3, q, k and v come from the fused
// qkv_proj, gate and up from the fused gate_up_proj, and RoPE rotates the
// first RotaryDim dims of each head). With out nil it recomputes a
// checkpointed layer for backward from the kept x, x2, k and v: k_proj
// (unless the key norm's backward needs its output) and v_proj
// are not run again, and backward needs neither o_proj's nor down_proj's
// output (each adapter keeps its own x·Aᵀ from the forward pass), so those
// do not run either — unless Gemma's output norms need their outputs.
func (m *Model) layerForward(s *State, li int, l *Layer, lc *layerCache, out []float32) {
	c := m.Cfg
	qd, kvd := c.NumHeads*c.HeadDim, c.NumKVHeads*c.HeadDim
	s.norm(c, s.ln, lc.rstd1, lc.mean1, lc.x, l.InputNorm, l.InputNormBias)
	// Recomputed, k (and v) equal the kept ones bit for bit.
	kAgain := out != nil || c.QKNorm || l.QKV != nil
	if l.QKV != nil {
		s.linearForward(l.QKV, s.qkv, s.ln)
		splitFused(s.qkv, []int{qd, kvd, kvd}, lc.q, lc.k, lc.v)
	} else {
		s.headsForward(l.Q, l.QNorm, lc.q, lc.qRaw, lc.qRstd, c)
		if kAgain {
			s.headsForward(l.K, l.KNorm, lc.k, lc.kRaw, lc.kRstd, c)
		}
		if out != nil {
			s.linearForward(l.V, lc.v, s.ln)
		}
	}
	if !c.LearnedPos {
		s.rope(lc.q, li, c.NumHeads, c.HeadDim, 1)
		if kAgain {
			s.rope(lc.k, li, c.NumKVHeads, c.HeadDim, 1)
		}
	}
	m.attentionForward(s, lc, li)
	if out != nil || l.AttnOutNorm != nil {
		s.branchOut(c, l.O, l.AttnOutNorm, lc.att, lc.attnOut, lc.rstd3)
	}
	if out != nil {
		s.add(lc.x2, lc.x, s.tmpC)
	}
	s.norm(c, s.ln, lc.rstd2, lc.mean2, lc.x2, l.PostNorm, l.PostNormBias)
	I := c.IntermediateSize
	// The activation h is down_proj's input alone: a recomputation skips it
	// unless down_proj runs again or its backward reads its input.
	act := out != nil || l.MLPOutNorm != nil || l.Down.readsInput()
	if c.GELU {
		s.linearForward(l.Up, lc.up, s.ln)
		if act {
			s.gelu(lc, I, false)
		}
	} else {
		if l.GateUp != nil {
			s.linearForward(l.GateUp, s.gateUp, s.ln)
			splitFused(s.gateUp, []int{I, I}, lc.gate, lc.up)
		} else {
			s.linearForward(l.Gate, lc.gate, s.ln)
			s.linearForward(l.Up, lc.up, s.ln)
		}
		if act {
			s.swiglu(lc, I, false)
		}
	}
	if out == nil && l.MLPOutNorm == nil {
		return
	}
	s.branchOut(c, l.Down, l.MLPOutNorm, lc.h, lc.mlpOut, lc.rstd4)
	if out == nil {
		return
	}
	s.add(out, lc.x2, s.tmpC)
}

// add sets out = a + b (N,C), element by element on the worker pool.
func (s *State) add(out, a, b []float32) {
	j := s.job(jobAdd)
	j.a, j.b, j.c, j.width = out, a, b, len(out)/s.N
	s.run(j, s.N)
}

// linearForward: y (N,Out) = x (N,In)·Wᵀ + b + Σ_adapters s·(x·Aᵀ)·Bᵀ.
func (s *State) linearForward(l *Linear, y, x []float32) {
	N := s.N
	xm := tensor.FromF32(x, N, l.In)
	tensor.Gemm(false, true, 1, xm, l.W.W, 0, y, l.Out)
	if l.Bias != nil {
		b := l.Bias.W.F32
		for n := 0; n < N; n++ {
			row := y[n*l.Out : (n+1)*l.Out]
			for j := range row {
				row[j] += b[j]
			}
		}
	}
	for _, a := range l.LoRA {
		if a.Disabled {
			continue
		}
		if a.Magnitude != nil {
			s.doraForward(l, a, y, xm)
			continue
		}
		lc := s.lora[a]
		if !s.recompute { // recomputed, x·Aᵀ would equal the kept one bit for bit
			xin := s.loraInput(a, lc, xm)
			tensor.Gemm(false, true, 1, xin, a.A.W, 0, lc.xa, a.Rank)
		}
		tensor.Gemm(false, true, a.Scale, tensor.FromF32(lc.xa, N, a.Rank), a.B.W, 1, y, l.Out)
	}
}

// linearBackward: dx = dy·W (+ LoRA terms), written over dx when
// !accumulate and added to it otherwise; dW += dyᵀ·x, db += Σ_rows dy, and
// for each adapter dxa = s·dy·B, dB += s·dyᵀ·xa, dA += dxaᵀ·x, dx += dxa·A,
// each only where the parameter is trainable.
func (s *State) linearBackward(l *Linear, dx, dy, x []float32, accumulate bool) {
	N := s.N
	dym := tensor.FromF32(dy, N, l.Out)
	xm := tensor.FromF32(x, N, l.In)
	var beta float32
	if accumulate {
		beta = 1
	}
	tensor.Gemm(false, false, 1, dym, l.W.W, beta, dx, l.In)
	if l.W.Grad != nil {
		tensor.Gemm(true, false, 1, dym, xm, 1, l.W.Grad, l.In)
	}
	if l.Bias != nil && l.Bias.Grad != nil {
		g := l.Bias.Grad
		for n := 0; n < N; n++ {
			for j, v := range dy[n*l.Out : (n+1)*l.Out] {
				g[j] += v
			}
		}
	}
	for _, a := range l.LoRA {
		if a.Disabled {
			continue
		}
		if a.Magnitude != nil {
			s.doraBackward(l, a, dx, dym, xm)
			continue
		}
		lc := s.lora[a]
		r := a.Rank
		tensor.Gemm(false, false, a.Scale, dym, a.B.W, 0, lc.dxa, r)
		if a.B.Grad != nil {
			tensor.Gemm(true, false, a.Scale, dym, tensor.FromF32(lc.xa, N, r), 1, a.B.Grad, r)
		}
		dxa := tensor.FromF32(lc.dxa, N, r)
		xin := s.loraInput(a, lc, xm)
		if a.A.Grad != nil {
			tensor.Gemm(true, false, 1, dxa, xin, 1, a.A.Grad, l.In)
		}
		if !s.dropping(a) {
			tensor.Gemm(false, false, 1, dxa, a.A.W, 1, dx, l.In)
			continue
		}
		g := s.dropG[:N*l.In]
		tensor.Gemm(false, false, 1, dxa, a.A.W, 0, g, l.In)
		s.dropout(g, g, lc.index, a.Dropout)
		s.add(dx, dx, g)
	}
}

func (s *State) dropping(a *LoRA) bool { return s.Dropout && a.Dropout > 0 && s.train }

// readsInput reports whether linearBackward reads l's input x: for the
// weight's gradient or an enabled adapter's.
func (l *Linear) readsInput() bool {
	if l.W.Grad != nil {
		return true
	}
	for _, a := range l.LoRA {
		if !a.Disabled {
			return true
		}
	}
	return false
}

// loraInput is dropout(x) for the adapter: x itself when dropout is off,
// else x masked and scaled into s.drop.
func (s *State) loraInput(a *LoRA, lc *loraCache, x tensor.Mat) tensor.Mat {
	if !s.dropping(a) {
		return x
	}
	d := s.drop[:x.Rows*x.Cols]
	s.dropout(d, x.F32[:len(d)], lc.index, a.Dropout)
	return tensor.FromF32(d, x.Rows, x.Cols)
}

// dropout is dropout(dst, src, s.DropoutSeed, module, p) over N rows on
// the worker pool.
func (s *State) dropout(dst, src []float32, module uint64, p float32) {
	j := s.job(jobDropout)
	j.a, j.b, j.width, j.module, j.prob = dst, src, len(src)/s.N, module, p
	s.run(j, s.N)
}

// dropout writes dst[i] = src[i]·keep_i/(1−p), where keep_i is 0 with
// probability p, drawn from a hash of (seed, module, i) so that forward
// and backward see the same mask without storing it.
func dropout(dst, src []float32, seed, module uint64, p float32) {
	dropoutSpan(dst, src, seed, module, p, 0)
}

// dropoutSpan is dropout over elements [first, first+len(src)) of a
// longer vector: dst[i] and src[i] are its element first+i.
func dropoutSpan(dst, src []float32, seed, module uint64, p float32, first int) {
	inv := 1 / (1 - p)
	thresh := uint64(float64(p) * (1 << 32))
	base := splitmix64(seed^splitmix64(module+1)) + uint64(first)
	for i, v := range src {
		if splitmix64(base+uint64(i))>>32 < thresh {
			dst[i] = 0
		} else {
			dst[i] = v * inv
		}
	}
}

// splitmix64 is a bijective 64-bit mixer (Steele, Lea, Flood 2014).
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// attentionForward: for each sequence b and query head h (served by KV head
// g = h/(H/KV)), P = softmax(cap(Q_h·K_gᵀ·scale) + mask) with the causal
// (and the layer's sliding-window) mask, O_h = P·V_g; scale is 1/√D or
// Config.AttnScale, cap(s) = c·tanh(s/c) with c = Config.AttnSoftcap, or
// s. The row log-sum-exps are kept in lse
// so that backward can rebuild P without storing it. During Decode the keys
// and values of this layer are first appended to the cache, and the queries
// (at positions pos0…pos0+T−1) attend over all L = pos0+T cached positions.
func (m *Model) attentionForward(s *State, lc *layerCache, layer int) {
	if s.kv != nil {
		ks := m.Cfg.NumKVHeads * m.Cfg.HeadDim
		copy(s.kv.k[layer][s.pos0*ks:], lc.k[:s.T*ks])
		copy(s.kv.v[layer][s.pos0*ks:], lc.v[:s.T*ks])
	}
	j := s.job(jobAttention)
	j.m, j.lc, j.layer = m, lc, layer
	s.run(j, s.B*m.Cfg.NumHeads)
}

// attentionForwardPart runs the (sequence, query head) pairs [lo, hi)
// with the chunk's score scratch: the heads are independent in the forward
// pass, so one sequence still has as many items as heads to spread over
// the threads. Queries go attnRows at a time (a block ends early where a
// packed example does), each block against only the keys it may see (up
// to its last query's position, from the key start of its first: window
// or packed example), so the causal mask's upper triangle is mostly never
// computed.
func (m *Model) attentionForwardPart(s *State, lc *layerCache, layer, lo, hi, chunk int) {
	c := m.Cfg
	T, H, KV, D := s.T, c.NumHeads, c.NumKVHeads, c.HeadDim
	qs, ks, G := H*D, KV*D, H/KV
	kbuf, vbuf, L := lc.k, lc.v, T
	if s.kv != nil {
		kbuf, vbuf, L = s.kv.k[layer], s.kv.v[layer], s.pos0+T
	}
	scale := c.attnScale()
	P := s.scores[chunk][:T*L]
	for bh := lo; bh < hi; bh++ {
		b, h := bh/H, bh%H
		ko := b*T*ks + h/G*D // KV group h/G serves head h
		qo := b*T*qs + h*D
		lse := lc.lse[(b*H+h)*T : (b*H+h+1)*T]
		for i0, i1 := 0, 0; i0 < T; i0 = i1 {
			i1 = s.blockEnd(b, i0)
			k0, k1 := s.keyStart(c, layer, b, i0), s.pos0+i1 // the keys rows i0…i1−1 see
			q := headView(lc.q, qo+i0*qs, i1-i0, D, qs)
			k := headView(kbuf, ko+k0*ks, k1-k0, D, ks)
			tensor.Gemm(false, true, scale, q, k, 0, P[i0*L+k0:], L)
			for i := i0; i < i1; i++ {
				row := P[i*L : (i+1)*L]
				a, w := s.pos0+i, s.keyStart(c, layer, b, i)
				seen := row[w : a+1]
				if s.attnCap > 0 {
					softcap(seen, s.attnCap)
				}
				mx := tensor.MaxF32(seen)
				z := tensor.ExpShift(seen, seen, mx)
				lse[i] = float32(float64(mx) + math.Log(z))
				tensor.Scale(seen, float32(1/z))
				clear(row[k0:w])
				clear(row[a+1 : k1])
			}
			pm := tensor.Mat{DType: tensor.F32, F32: P[i0*L+k0:], Rows: i1 - i0, Cols: k1 - k0, Stride: L}
			v := headView(vbuf, ko+k0*ks, k1-k0, D, ks)
			tensor.Gemm(false, false, 1, pm, v, 0, lc.att[qo+i0*qs:], qs)
		}
	}
}

// attnRows is how many query rows attention computes at a time.
var attnRows = 64

// AttentionScores is how many query–key scores attention computes for one
// head of one sequence of T tokens, summed over the layers: the causal
// (and sliding-window) key ranges of its query blocks, about T²/2 + 32·T
// a layer instead of T².
func (c *Config) AttentionScores(T int) int {
	n := 0
	for l := 0; l < c.NumLayers; l++ {
		for i0 := 0; i0 < T; i0 += attnRows {
			i1 := min(i0+attnRows, T)
			n += (i1 - i0) * (i1 - c.windowStart(l, i0))
		}
	}
	return n
}

// attentionBackward: given dO in s.datt, rebuild P from lse and compute
// dV_g += Pᵀ·dO_h, dP = dO_h·V_gᵀ, dS = P⊙(dP − rowsum(P⊙dP)) (with the
// soft-cap, times cap' = 1 − (cap(s)/c)²), dQ_h = dS·K_g·scale,
// dK_g += dSᵀ·Q_h·scale into s.dq, s.dk, s.dv.
func (m *Model) attentionBackward(s *State, lc *layerCache, layer int) {
	j := s.job(jobAttentionBack)
	j.m, j.lc, j.layer = m, lc, layer
	s.run(j, s.B*m.Cfg.NumKVHeads)
}

// attentionBackwardPart runs the (sequence, KV group) pairs [lo, hi): the
// KV group's dK and dV rows belong to this part alone. Like the forward
// pass it goes attnRows queries at a time over the keys they see.
func (m *Model) attentionBackwardPart(s *State, lc *layerCache, layer, lo, hi, chunk int) {
	c := m.Cfg
	T, H, KV, D := s.T, c.NumHeads, c.NumKVHeads, c.HeadDim
	qs, ks, G := H*D, KV*D, H/KV
	scale := c.attnScale()
	P, dS := s.scores[chunk], s.dsc[chunk]
	for bg := lo; bg < hi; bg++ {
		b, g := bg/KV, bg%KV
		ko := b*T*ks + g*D
		for r := 0; r < T; r++ {
			clear(s.dk[ko+r*ks : ko+r*ks+D])
			clear(s.dv[ko+r*ks : ko+r*ks+D])
		}
		for h := g * G; h < (g+1)*G; h++ {
			qo := b*T*qs + h*D
			lse := lc.lse[(b*H+h)*T : (b*H+h+1)*T]
			for i0, i1 := 0, 0; i0 < T; i0 = i1 {
				i1 = s.blockEnd(b, i0)
				k0, k1 := s.keyStart(c, layer, b, i0), i1
				n, w := i1-i0, k1-k0
				q := headView(lc.q, qo+i0*qs, n, D, qs)
				dO := headView(s.datt, qo+i0*qs, n, D, qs)
				k := headView(lc.k, ko+k0*ks, w, D, ks)
				v := headView(lc.v, ko+k0*ks, w, D, ks)
				pm := tensor.Mat{DType: tensor.F32, F32: P[i0*T+k0:], Rows: n, Cols: w, Stride: T}
				dsm := tensor.Mat{DType: tensor.F32, F32: dS[i0*T+k0:], Rows: n, Cols: w, Stride: T}
				// Rebuild P from the scores and the forward's log-sum-exps.
				tensor.Gemm(false, true, scale, q, k, 0, P[i0*T+k0:], T)
				for i := i0; i < i1; i++ {
					row := P[i*T : (i+1)*T]
					ws := s.keyStart(c, layer, b, i)
					clear(row[k0:ws])
					if s.attnCap > 0 {
						s.softcapScores(row[ws:i+1], s.capT[chunk][i*T+ws:i*T+i+1])
					}
					tensor.ExpShift(row[ws:i+1], row[ws:i+1], lse[i])
					clear(row[i+1 : k1])
				}
				tensor.Gemm(true, false, 1, pm, dO, 1, s.dv[ko+k0*ks:], ks)
				tensor.Gemm(false, true, 1, dO, v, 0, dS[i0*T+k0:], T)
				for i := i0; i < i1; i++ {
					p, d := P[i*T+k0:i*T+i+1], dS[i*T+k0:i*T+k1]
					var dot float32
					for j, pj := range p {
						dot += pj * d[j]
					}
					for j, pj := range p {
						d[j] = pj * (d[j] - dot)
					}
					if s.attnCap > 0 { // through the soft-cap
						for j, f := range s.capT[chunk][i*T+k0 : i*T+i+1] {
							d[j] *= f
						}
					}
					clear(d[len(p):])
				}
				tensor.Gemm(false, false, scale, dsm, k, 0, s.dq[qo+i0*qs:], qs)
				tensor.Gemm(true, false, scale, dsm, q, 1, s.dk[ko+k0*ks:], ks)
			}
		}
	}
}

// windowStart is the first key position query i of layer li may attend
// to.
func (c *Config) windowStart(li, i int) int {
	if c.sliding(li) && i-c.SlidingWindow+1 > 0 {
		return i - c.SlidingWindow + 1
	}
	return 0
}

// headView is the T×D matrix of one head inside a (rows, stride) buffer.
func headView(buf []float32, off, T, D, stride int) tensor.Mat {
	return tensor.Mat{DType: tensor.F32, F32: buf[off:], Rows: T, Cols: D, Stride: stride}
}

// HeadChunk is how many positions' logits a training state holds at once:
// the [N, vocabulary] logits and their gradient never exist whole.
const HeadChunk = 256

// Loss computes the causal-LM cross-entropy of the model's predictions
// after Forward against labels (N, row-major [B][T], IgnoreIndex masked;
// position t predicts labels[t+1]). It returns the summed loss and the
// number of targets; Hugging Face's mean loss is sum/count. On a training
// state with norm > 0 it also runs the output head's backward pass for
// Σloss/norm, ready for Backward: per chunk of HeadChunk rows, logits =
// lnf·Wᵀ, dlogits = (softmax − onehot)/norm, d lnf = dlogits·W and
// dW += dlogitsᵀ·lnf. A loss state (NewLossState) computes the logits in
// the same chunks, for the loss alone. On an inference state it reads
// s.Logits (and with norm > 0 overwrites them by their gradient). Along
// the way it counts the targets whose logit is the row's argmax
// (s.Correct).
func (m *Model) Loss(s *State, labels []int, norm float32) (sum float64, count int, err error) {
	return m.loss(s, labels, norm, nil)
}

// loss is Loss, target by target with seq (TokenLoss).
func (m *Model) loss(s *State, labels []int, norm float32, seq *tokenLoss) (sum float64, count int, err error) {
	s.correct = 0
	if len(labels) != s.N {
		return 0, 0, fmt.Errorf("loss: %d labels for a state of %d×%d", len(labels), s.B, s.T)
	}
	V := m.Cfg.VocabSize
	for i, t := range labels {
		if t != IgnoreIndex && (t < 0 || t >= V) {
			return 0, 0, fmt.Errorf("loss: label %d at position %d is outside the vocabulary [0,%d)", t, i, V)
		}
	}
	if s.last {
		return 0, 0, fmt.Errorf("loss: a prefill state holds the last position's logits alone")
	}
	back := norm > 0 || seq.backward()
	if !s.chunked {
		sum, count = s.ceRows(s.Logits, 0, s.N, labels, V, norm, seq)
		return sum, count, nil
	}
	if !s.train && back {
		return 0, 0, fmt.Errorf("loss: a loss state keeps no activations for a backward pass (norm must be 0)")
	}
	C := m.Cfg.HiddenSize
	rows := len(s.Logits) / V
	for r0 := 0; r0 < s.N; r0 += rows {
		n := min(rows, s.N-r0)
		logits := s.Logits[:n*V]
		lnf := tensor.FromF32(s.lnf[r0*C:], n, C)
		tensor.Gemm(false, true, 1, lnf, m.LMHead.W, 0, logits, V)
		softcapRows(logits, V, m.Cfg.FinalSoftcap)
		cs, cc := s.ceRows(logits, r0, r0+n, labels, V, norm, seq)
		sum += cs
		count += cc
		if back {
			dl := tensor.FromF32(logits, n, V)
			tensor.Gemm(false, false, 1, dl, m.LMHead.W, 0, s.dln[r0*C:], C)
			if m.LMHead.Grad != nil {
				tensor.Gemm(true, false, 1, dl, lnf, 1, m.LMHead.Grad, C)
			}
		}
	}
	s.headDone = back
	return sum, count, nil
}

// crossEntropy runs crossEntropy over rows [r0, r1), whose logits start at
// logits[0], in parallel, summing the chunks' results in chunk order.
func (s *State) crossEntropy(logits []float32, r0, r1 int, labels []int, V int, norm float32) (sum float64, count int) {
	j := s.job(jobLoss)
	j.a, j.r0, j.labels, j.width, j.norm = logits, r0, labels, V, norm
	return s.runLoss(j, r1-r0)
}

// runLoss runs the loss job j (jobLoss, jobTokenLoss) over n rows and sums
// the chunks' losses, target counts and argmax hits in chunk order.
func (s *State) runLoss(j *job, n int) (sum float64, count int) {
	chunks := s.run(j, n)
	for c := 0; c < chunks; c++ {
		sum += s.lossSum[c]
		count += s.lossCount[c]
		s.correct += s.lossCorrect[c]
	}
	return sum, count
}

// Correct is how many targets of the last Loss have their label as the
// argmax of the logits (the first largest, as torch.argmax): Σ correct /
// count is Hugging Face TRL's mean_token_accuracy.
func (s *State) Correct() int { return s.correct }

// Backward propagates the gradient Loss (with norm > 0) left at the output
// head through the model, adding into the Grad of every trainable
// parameter (base and LoRA). Gradients accumulate across calls until the
// caller zeroes them.
func (m *Model) Backward(s *State) {
	if !s.train || !s.headDone {
		panic("model: Backward needs a training state and a Loss with norm > 0 after Forward")
	}
	s.headDone = false
	c := m.Cfg
	C := c.HiddenSize
	clear(s.dx)
	s.normBack(c, s.dx, m.Norm, m.NormBias, s.dln, s.xOut, s.rstdf, s.meanf)
	for l := len(m.Layers) - 1; l >= 0; l-- {
		lc := s.cache(l)
		if s.kept != nil {
			// Recompute this layer's activations from what it kept.
			s.recompute = true
			m.layerForward(s, l, m.Layers[l], lc, nil)
			s.recompute = false
		}
		m.layerBackward(s, l, m.Layers[l], lc)
	}
	if m.Embed.Grad != nil {
		if c.Gemma {
			tensor.Scale(s.dx, m.embedScale)
		}
		embedBackward(m.Embed.Grad, s.dx, s.ids, C)
	}
	if m.Pos != nil && m.Pos.Grad != nil {
		s.positionGrads(m.Pos.Grad, s.dx, C)
	}
}

// layerBackward takes the gradient of the layer's output in s.dx and leaves
// the gradient of its input there.
func (m *Model) layerBackward(s *State, li int, l *Layer, lc *layerCache) {
	c := m.Cfg
	// MLP branch: out = x2 + down(h) (Gemma: x2 + norm(down(h))).
	s.linearBackward(l.Down, s.dh, s.branchBack(c, l.MLPOutNorm, lc.mlpOut, lc.rstd4), lc.h, false)
	I := c.IntermediateSize
	if c.GELU {
		s.gelu(lc, I, true)
		s.norm(c, s.ln, lc.rstd2, lc.mean2, lc.x2, l.PostNorm, l.PostNormBias)
		s.linearBackward(l.Up, s.dln, s.dup, s.ln, false)
	} else {
		s.swiglu(lc, I, true)
		s.norm(c, s.ln, lc.rstd2, lc.mean2, lc.x2, l.PostNorm, l.PostNormBias)
		if l.GateUp != nil {
			joinFused(s.gateUp, []int{I, I}, s.dgate, s.dup)
			s.linearBackward(l.GateUp, s.dln, s.gateUp, s.ln, false)
		} else {
			s.linearBackward(l.Gate, s.dln, s.dgate, s.ln, false)
			s.linearBackward(l.Up, s.dln, s.dup, s.ln, true)
		}
	}
	s.normBack(c, s.dx, l.PostNorm, l.PostNormBias, s.dln, lc.x2, lc.rstd2, lc.mean2)
	// Attention branch: x2 = x + o(att) (Gemma: x + norm(o(att))).
	s.linearBackward(l.O, s.datt, s.branchBack(c, l.AttnOutNorm, lc.attnOut, lc.rstd3), lc.att, false)
	m.attentionBackward(s, lc, li)
	if !c.LearnedPos {
		s.rope(s.dq, li, c.NumHeads, c.HeadDim, -1)
		s.rope(s.dk, li, c.NumKVHeads, c.HeadDim, -1)
	}
	s.norm(c, s.ln, lc.rstd1, lc.mean1, lc.x, l.InputNorm, l.InputNormBias)
	if l.QKV != nil {
		joinFused(s.qkv, []int{c.NumHeads * c.HeadDim, c.NumKVHeads * c.HeadDim, c.NumKVHeads * c.HeadDim}, s.dq, s.dk, s.dv)
		s.linearBackward(l.QKV, s.dln, s.qkv, s.ln, false)
		s.normBack(c, s.dx, l.InputNorm, l.InputNormBias, s.dln, lc.x, lc.rstd1, lc.mean1)
		return
	}
	dq, dk := s.dq, s.dk
	if c.QKNorm {
		// Through the head norms: d q_proj's output goes to datt (free
		// once attention's backward is done), d k_proj's to dq (free once
		// q_proj's backward is).
		dq = s.datt
		clear(dq)
		s.rmsnormBack(dq, l.QNorm, s.dq, lc.qRaw, lc.qRstd, c.HeadDim)
	}
	s.linearBackward(l.Q, s.dln, dq, s.ln, false)
	if c.QKNorm {
		dk = s.dq[:len(s.dk)]
		clear(dk)
		s.rmsnormBack(dk, l.KNorm, s.dk, lc.kRaw, lc.kRstd, c.HeadDim)
	}
	s.linearBackward(l.K, s.dln, dk, s.ln, true)
	s.linearBackward(l.V, s.dln, s.dv, s.ln, true)
	s.normBack(c, s.dx, l.InputNorm, l.InputNormBias, s.dln, lc.x, lc.rstd1, lc.mean1)
}

package model

import (
	"fmt"
	"math"

	"github.com/golora/golora/tensor"
)

// DoRA (weight-decomposed low-rank adaptation, PEFT's use_dora) on a
// Linear y = x·Wᵀ + b, W: [Out, In], with A: [r, In], B: [Out, r], scale s
// and magnitude m: [Out]. As PEFT's DoraLinearLayer computes it:
//
//	n_j = ‖W_j + s·(B·A)_j‖₂       the weight norm of output row j, detached:
//	                                no gradient flows through it
//	f_j = m_j / n_j
//	y   = x·Wᵀ + b + (f − 1)⊙(xd·Wᵀ) + f⊙(s·(xd·Aᵀ)·Bᵀ)
//
// where xd = dropout(x) in training and x otherwise: with dropout off this
// is y = b + f⊙(x·Wᵀ + s·(x·Aᵀ)·Bᵀ) (the bias is not rescaled). A fresh
// adapter has B = 0 and m = ‖W_j‖, so y = x·Wᵀ + b.

// doraRows is how many rows of W + s·B·A DoraNorm widens at a time.
const doraRows = 64

// doraBufs is the scratch all DoRA adapters of a State share.
type doraBufs struct {
	w [][]float32 // per chunk (doraRows, max In): rows of W + s·B·A for the weight norm
	u []float32   // (N, max Out): xd·Wᵀ + s·(xd·Aᵀ)·Bᵀ, then the output gradient scaled
	f []float32   // (max Out): m/n
	g []float32   // (N, max In), training: the input gradient of the DoRA terms
}

// doraPlan is the widest DoRA module of a state's adapters.
type doraPlan struct{ in, out int }

// layout allocates the DoRA scratch for N positions and threads chunks
// with f (none when no adapter is DoRA).
func (p doraPlan) layout(N, threads int, train bool, f func(string, int) []float32) doraBufs {
	if p.out == 0 {
		return doraBufs{}
	}
	b := doraBufs{u: f("dora.u", N*p.out), f: f("dora.f", p.out)}
	for i := 0; i < threads; i++ {
		b.w = append(b.w, f(fmt.Sprintf("dora.w.%d", i), doraRows*p.in))
	}
	if train {
		b.g = f("dora.g", N*p.in)
	}
	return b
}

// plan is the adapter as a State plans its buffers.
func (a *LoRA) plan(lin *Linear) LoRAPlan {
	return LoRAPlan{In: lin.In, Out: lin.Out, Rank: a.Rank, Dropout: a.Dropout > 0, DoRA: a.Magnitude != nil}
}

// Plans lists the adapter modules attached to m's linears as a State
// plans them, in Model.Linears order.
func (m *Model) Plans() []LoRAPlan {
	var p []LoRAPlan
	for _, lin := range m.Linears() {
		for _, a := range lin.LoRA {
			p = append(p, a.plan(lin))
		}
	}
	return p
}

// Params returns the adapter's trainable parameters: A, B, and the
// magnitude of a DoRA adapter.
func (a *LoRA) Params() []*Param {
	if a.Magnitude != nil {
		return []*Param{a.A, a.B, a.Magnitude}
	}
	return []*Param{a.A, a.B}
}

// DoraNorm sets norm[j] = ‖W_j + s·(B·A)_j‖₂ (summed in float64) for every
// output row j of lin with adapter a's A, B and Scale s. W is widened
// doraRows rows at a time, whatever its dtype (a 4-bit weight is
// dequantized a block of rows at a time, never whole): the cost is
// Out·In·r multiply-adds. A State computes it on its worker threads
// (doraNorm).
func DoraNorm(norm []float32, lin *Linear, a *LoRA) {
	doraNormRows(norm, lin, a, make([]float32, doraRows*lin.In), 0, lin.Out)
}

// doraNorm is DoraNorm in parallel over blocks of doraRows rows, each
// chunk widening into its own buffer.
func (s *State) doraNorm(norm []float32, lin *Linear, a *LoRA) {
	j := s.job(jobDoraNorm)
	j.a, j.lin, j.lora = norm, lin, a
	s.run(j, (lin.Out+doraRows-1)/doraRows)
}

// doraNormRows is DoraNorm for rows [j0, j1), widening into buf
// (doraRows·In).
func doraNormRows(norm []float32, lin *Linear, a *LoRA, buf []float32, j0, j1 int) {
	In, r := lin.In, a.Rank
	for ; j0 < j1; j0 += doraRows {
		n := min(doraRows, j1-j0)
		blk := buf[:n*In]
		for j := 0; j < n; j++ {
			lin.W.W.Row(j0+j, blk[j*In:(j+1)*In])
		}
		b := tensor.FromF32(a.B.W.F32[j0*r:(j0+n)*r], n, r)
		tensor.Gemm(false, false, a.Scale, b, a.A.W, 1, blk, In)
		for j := 0; j < n; j++ {
			var ss float64
			for _, v := range blk[j*In : (j+1)*In] {
				ss += float64(v) * float64(v)
			}
			norm[j0+j] = float32(math.Sqrt(ss))
		}
	}
}

// doraFactors sets f_j = m_j/n_j in the state's scratch and returns it.
func (s *State) doraFactors(a *LoRA, norm []float32) []float32 {
	f := s.dora.f[:len(norm)]
	for j, m := range a.Magnitude.W.F32 {
		f[j] = m / norm[j]
	}
	return f
}

// doraForward adds adapter a's DoRA terms to y (N,Out), which holds
// x·Wᵀ + b (x: (N,In)): it computes the weight norm n (kept for
// backward), xa = xd·Aᵀ, u = xd·Wᵀ + s·xa·Bᵀ, and y += f⊙u − xd·Wᵀ.
func (s *State) doraForward(l *Linear, a *LoRA, y []float32, x tensor.Mat) {
	N, Out := s.N, l.Out
	lc := s.lora[a]
	s.doraNorm(lc.norm, l, a)
	xin := s.loraInput(a, lc, x)
	tensor.Gemm(false, true, 1, xin, a.A.W, 0, lc.xa, a.Rank)
	u := s.dora.u[:N*Out]
	if s.dropping(a) {
		tensor.Gemm(false, true, 1, xin, l.W.W, 0, u, Out)
	} else {
		// y holds x·Wᵀ + b: u = y − b.
		copy(u, y[:N*Out])
		if l.Bias != nil {
			for n := 0; n < N; n++ {
				for j, b := range l.Bias.W.F32 {
					u[n*Out+j] -= b
				}
			}
		}
	}
	for i, v := range u {
		y[i] -= v
	}
	tensor.Gemm(false, true, a.Scale, tensor.FromF32(lc.xa, N, a.Rank), a.B.W, 1, u, Out)
	f := s.doraFactors(a, lc.norm)
	for n := 0; n < N; n++ {
		row, ur := y[n*Out:(n+1)*Out], u[n*Out:(n+1)*Out]
		for j, fj := range f {
			row[j] += fj * ur[j]
		}
	}
}

// doraBackward adds the gradients of adapter a's DoRA terms, given dy
// (N,Out) and x (N,In), to dx and to the trainable parameters, after the
// plain linear's part (dx = dy·W, dW += dyᵀ·x, db += Σ dy) is done. With
// u = xd·Wᵀ + s·xa·Bᵀ recomputed, e = (f − 1)⊙dy and dyf = f⊙dy:
//
//	dm_j += Σ_n dy_nj·u_nj / n_j
//	dW   += eᵀ·xd
//	dxa   = s·dyf·B,  dB += s·dyfᵀ·xa,  dA += dxaᵀ·xd
//	dx   += dropout'(e·W + dxa·A)
//
// (the norm is detached, so n is a constant here).
func (s *State) doraBackward(l *Linear, a *LoRA, dx []float32, dy, x tensor.Mat) {
	N, In, Out, r := s.N, l.In, l.Out, a.Rank
	lc := s.lora[a]
	xin := s.loraInput(a, lc, x)
	xa := tensor.FromF32(lc.xa, N, r)
	u := s.dora.u[:N*Out]
	tensor.Gemm(false, true, 1, xin, l.W.W, 0, u, Out)
	tensor.Gemm(false, true, a.Scale, xa, a.B.W, 1, u, Out)
	if g := a.Magnitude.Grad; g != nil {
		for n := 0; n < N; n++ {
			d, ur := dy.F32[n*Out:(n+1)*Out], u[n*Out:(n+1)*Out]
			for j, nj := range lc.norm {
				g[j] += d[j] * ur[j] / nj
			}
		}
	}
	f := s.doraFactors(a, lc.norm)
	for n := 0; n < N; n++ {
		d, ur := dy.F32[n*Out:(n+1)*Out], u[n*Out:(n+1)*Out]
		for j, fj := range f {
			ur[j] = (fj - 1) * d[j]
		}
	}
	e := tensor.FromF32(u, N, Out)
	if l.W.Grad != nil {
		tensor.Gemm(true, false, 1, e, xin, 1, l.W.Grad, In)
	}
	g := s.dora.g[:N*In]
	tensor.Gemm(false, false, 1, e, l.W.W, 0, g, In)
	for i, d := range dy.F32[:N*Out] {
		u[i] += d // dyf = e + dy
	}
	tensor.Gemm(false, false, a.Scale, e, a.B.W, 0, lc.dxa, r)
	if a.B.Grad != nil {
		tensor.Gemm(true, false, a.Scale, e, xa, 1, a.B.Grad, r)
	}
	dxa := tensor.FromF32(lc.dxa, N, r)
	if a.A.Grad != nil {
		tensor.Gemm(true, false, 1, dxa, xin, 1, a.A.Grad, In)
	}
	tensor.Gemm(false, false, 1, dxa, a.A.W, 1, g, In)
	if s.dropping(a) {
		dropout(g, g, s.DropoutSeed, lc.index, a.Dropout)
	}
	for i, v := range g {
		dx[i] += v
	}
}

// refuseDoRA is DecodeBatch's error for a row that selects a DoRA adapter:
// its per-row LoRA terms are plain LoRA's (Decode and Prefill compute
// DoRA). It runs every step, so it walks the layers' own lists of
// linears rather than building Model.Linears.
func (m *Model) refuseDoRA(rows []BatchRow) error {
	for _, l := range m.Layers {
		for _, lin := range l.Linears() {
			for _, a := range lin.LoRA {
				if a.Magnitude == nil {
					continue
				}
				for i, r := range rows {
					if _, on := r.LoRA[a.Adapter]; on {
						return fmt.Errorf("decode batch: row %d: adapter %q is DoRA, which batched decoding does not compute (use Decode)", i, a.Adapter)
					}
				}
			}
		}
	}
	return nil
}

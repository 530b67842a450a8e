// Package optim holds what turns gradients into parameter updates: the AdamW
// optimizer, the learning-rate schedules of Hugging Face transformers and
// gradient-norm clipping, each with the semantics (and, for AdamW, the float32
// operation order) of PyTorch, so that a golora run can be compared number for
// number with a PyTorch/PEFT run. optim/testdata holds the PyTorch fixture the
// tests compare against and the script that generated it.
//
// A training step uses them in this order, as the Hugging Face Trainer does:
//
//	norm := ClipGradNorm(grads, maxGradNorm)        // before the update
//	lr, _ := LR(kind, baseLR, opt.StepCount(), warmup, total)
//	opt.Step(params, grads, lr)
package optim

import (
	"fmt"
	"math"
)

// AdamW is torch.optim.AdamW (amsgrad=false, maximize=false, the
// single-tensor code path PyTorch uses on the CPU) over float32 parameters.
// With t the number of steps including the current one, g the gradient and
// lr the rate passed to Step, each element is updated as
//
//	p ← p·(1 − lr·λ)                           decoupled weight decay, first
//	m ← β1·m + (1 − β1)·g
//	v ← β2·v + (1 − β2)·g²
//	step_size = lr / (1 − β1^t)                 (float64)
//	denom     = √v / √(1 − β2^t) + ε            (float32)
//	p ← p − step_size·m / denom
//
// which equals p − lr·m̂/(√v̂ + ε′) with m̂ = m/(1−β1^t), v̂ = v/(1−β2^t) and
// ε′ = ε·√(1−β2^t) — PyTorch's form, kept so results agree in float32.
//
// Element arithmetic is float32 in PyTorch's order with scalars rounded to
// float32 as PyTorch rounds them. The two moment updates are single-rounded
// fused multiply-adds, m ← fma(g, 1−β1, β1·m) and v ← fma((1−β2)·g, g, β2·v),
// because that is what PyTorch's AVX2 CPU kernels compute (torch 1.13 built
// with GCC contracts both; the fixture in testdata matches bit for bit). The
// fma is evaluated exactly in float64 (a product of two float32 values is
// exact there) and rounded to float32, so results are identical on every
// platform; a double-rounding difference from a true float32 fma is possible
// but needs the float64 sum to fall exactly on a float32 tie.
type AdamW struct {
	// LR is the learning rate of the most recent Step (0 before the first);
	// Step takes the rate as an argument, this field is for logging.
	LR float64
	// Beta1 and Beta2 are the decay rates of the first and second moment
	// (torch betas), Eps the term added to the denominator and WeightDecay
	// the decoupled weight decay λ. They may be changed between steps.
	Beta1, Beta2, Eps, WeightDecay float64

	m, v [][]float32 // first and second moments, shaped like the params
	step int         // number of Step calls so far (t of the last update)
}

// NewAdamW returns an AdamW with zeroed moment buffers shaped like params:
// one m and one v slice per parameter slice, carved from a single allocation
// made here. params themselves are not retained.
// Torch's defaults are beta1=0.9, beta2=0.999, eps=1e-8, wd=0.01.
func NewAdamW(params [][]float32, beta1, beta2, eps, wd float64) *AdamW {
	n := 0
	for _, p := range params {
		n += len(p)
	}
	buf := make([]float32, 2*n)
	o := &AdamW{
		Beta1: beta1, Beta2: beta2, Eps: eps, WeightDecay: wd,
		m: make([][]float32, len(params)),
		v: make([][]float32, len(params)),
	}
	off := 0
	for i, p := range params {
		k := len(p)
		o.m[i] = buf[off : off+k : off+k]
		o.v[i] = buf[n+off : n+off+k : n+off+k]
		off += k
	}
	return o
}

// Validate reports hyperparameters torch.optim.AdamW would reject
// (0 ≤ β < 1, ε ≥ 0, λ ≥ 0, all finite). NewAdamW does not check them so
// that callers can report a bad flag with their own context.
func (o *AdamW) Validate() error {
	bad := func(name string, x float64, ok bool) error {
		if math.IsNaN(x) || math.IsInf(x, 0) || !ok {
			return fmt.Errorf("optim: invalid AdamW %s %v", name, x)
		}
		return nil
	}
	for _, e := range []error{
		bad("beta1", o.Beta1, o.Beta1 >= 0 && o.Beta1 < 1),
		bad("beta2", o.Beta2, o.Beta2 >= 0 && o.Beta2 < 1),
		bad("eps", o.Eps, o.Eps >= 0),
		bad("weight decay", o.WeightDecay, o.WeightDecay >= 0),
	} {
		if e != nil {
			return e
		}
	}
	return nil
}

// Step applies one AdamW update with learning rate lr to params in place,
// using grads (same shapes as the params given to NewAdamW) and advancing the
// step count. It allocates nothing. A shape mismatch is a programming error
// and panics with a message naming the parameter.
func (o *AdamW) Step(params, grads [][]float32, lr float64) {
	if len(params) != len(o.m) || len(grads) != len(o.m) {
		panic(fmt.Sprintf("optim: AdamW.Step: %d params and %d grads, optimizer has %d", len(params), len(grads), len(o.m)))
	}
	for i, p := range params {
		if len(p) != len(o.m[i]) || len(grads[i]) != len(o.m[i]) {
			panic(fmt.Sprintf("optim: AdamW.Step: param %d has %d elements and grad %d, optimizer has %d", i, len(p), len(grads[i]), len(o.m[i])))
		}
	}
	o.step++
	o.LR = lr
	t := float64(o.step)
	// Scalars as torch forms them: in float64, then rounded to float32 when
	// they meet a float32 tensor.
	decay := float32(1 - lr*o.WeightDecay)
	b1, a1 := float32(o.Beta1), float64(float32(1-o.Beta1))
	b2, a2 := float32(o.Beta2), float32(1-o.Beta2)
	stepSize := lr / (1 - math.Pow(o.Beta1, t))
	negStep := float32(-stepSize)
	bc2Sqrt := float32(math.Sqrt(1 - math.Pow(o.Beta2, t)))
	eps := float32(o.Eps)
	for i, p := range params {
		g, m, v := grads[i], o.m[i], o.v[i]
		g, m, v = g[:len(p)], m[:len(p)], v[:len(p)]
		for j, x := range p {
			gj := g[j]
			x = float32(x * decay)
			// Each float32(...) rounds: float64 products of float32 values
			// are exact, so float64 a·b + c rounded once is the fma.
			mj := float32(float64(gj)*a1 + float64(float32(m[j]*b1)))
			vj := float32(float64(float32(a2*gj))*float64(gj) + float64(float32(v[j]*b2)))
			denom := float32(float32(math.Sqrt(float64(vj)))/bc2Sqrt) + eps
			p[j] = x + float32(float32(negStep*mj)/denom)
			m[j], v[j] = mj, vj
		}
	}
}

// StepCount is the number of Step calls so far, i.e. the number of optimizer
// steps already taken — the argument a schedule wants for the next step.
func (o *AdamW) StepCount() int { return o.step }

// State returns the moment buffers and step count for a checkpoint. m and v
// are the optimizer's own buffers, not copies: write them out before the
// next Step.
func (o *AdamW) State() (m, v [][]float32, step int) { return o.m, o.v, o.step }

// SetState restores a checkpoint taken with State: it copies m and v into the
// optimizer's buffers and sets the step count, so that training resumes
// bit-identically. The shapes must be those the optimizer was built with.
func (o *AdamW) SetState(m, v [][]float32, step int) error {
	if step < 0 {
		return fmt.Errorf("optim: AdamW state: negative step %d", step)
	}
	if len(m) != len(o.m) || len(v) != len(o.v) {
		return fmt.Errorf("optim: AdamW state: %d first and %d second moments, optimizer has %d parameters", len(m), len(v), len(o.m))
	}
	for i := range o.m {
		if len(m[i]) != len(o.m[i]) || len(v[i]) != len(o.v[i]) {
			return fmt.Errorf("optim: AdamW state: parameter %d: moments have %d and %d elements, want %d", i, len(m[i]), len(v[i]), len(o.m[i]))
		}
	}
	for i := range o.m {
		copy(o.m[i], m[i])
		copy(o.v[i], v[i])
	}
	o.step = step
	return nil
}

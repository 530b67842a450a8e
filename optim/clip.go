package optim

import "math"

// ClipGradNorm is torch.nn.utils.clip_grad_norm_ with norm_type 2 over all
// grads together: it returns the pre-clip norm
//
//	‖g‖ = √(Σ_i Σ_j g_ij²)
//
// and, when maxNorm > 0, multiplies every gradient by
//
//	c = min(1, maxNorm / (‖g‖ + 1e-6))
//
// in place. The sum of squares is computed in float64 (torch reduces in
// float32); c is then formed as torch forms it, in float32 from the norm
// rounded to float32 — c = float32(maxNorm)·(1/(float32(‖g‖) + 1e-6)), torch's
// max_norm / tensor being a reciprocal and a product — and applied in float32,
// so clipped gradients agree with torch's to about one float32 ulp. Grads are
// left untouched when c ≥ 1 (torch multiplies by the clamped 1, which changes
// nothing). maxNorm ≤ 0 disables clipping, as in the Hugging Face Trainer.
// Unlike torch, a non-finite norm leaves the gradients unchanged (torch would
// turn them into NaN): the caller sees the NaN or Inf returned and decides to
// skip the step or stop.
func ClipGradNorm(grads [][]float32, maxNorm float64) float64 {
	var ss float64 // float32·float32 is exact in float64, so fusing cannot change ss
	for _, g := range grads {
		for _, x := range g {
			ss += float64(x) * float64(x)
		}
	}
	norm := math.Sqrt(ss)
	if !(maxNorm > 0) || math.IsNaN(norm) || math.IsInf(norm, 0) {
		return norm
	}
	cf := float32(maxNorm) * (1 / (float32(norm) + 1e-6))
	if cf >= 1 {
		return norm
	}
	for _, g := range grads {
		for j := range g {
			g[j] *= cf
		}
	}
	return norm
}

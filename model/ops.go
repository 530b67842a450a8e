package model

import (
	"math"
	"slices"

	"github.com/golora/golora/tensor"
)

// The operations of the decoder, each as a forward/backward pair in the
// manner of llm.c. N is the number of token positions (B·T), C the hidden
// size. Backward functions accumulate (+=) into parameter gradients and, where
// the comment says so, into input gradients.

// rmsnormForward: out = (off + w) ⊙ x / sqrt(mean(x²) + eps), row by row
// (off is Config.normOffset: 0, or 1 for Gemma's norms).
// x, out (N,C); w (C); rstd (N) receives 1/sqrt(mean(x²)+eps).
func rmsnormForward(out, rstd, x, w []float32, N, C int, eps float64, off float32) {
	for i := 0; i < N; i++ {
		row := x[i*C : (i+1)*C]
		r := float32(1 / math.Sqrt(sumSquares(row)/float64(C)+eps))
		rstd[i] = r
		o := out[i*C : (i+1)*C]
		for j, v := range row {
			o[j] = (off + w[j]) * (v * r)
		}
	}
}

// sumSquares is Σ x[i]² in float64, over four interleaved partial sums
// (the additions of one long chain would wait on each other).
func sumSquares(x []float32) float64 {
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		v := x[i : i+4 : i+4]
		s0 += float64(v[0]) * float64(v[0])
		s1 += float64(v[1]) * float64(v[1])
		s2 += float64(v[2]) * float64(v[2])
		s3 += float64(v[3]) * float64(v[3])
	}
	for ; i < len(x); i++ {
		s0 += float64(x[i]) * float64(x[i])
	}
	return (s0 + s1) + (s2 + s3)
}

// rmsnormBackward: with n = x·rstd, g = off + w, y = g ⊙ n,
// dx += rstd·(g⊙dy − n·mean(g⊙dy⊙n)); dw += Σ_rows dy⊙n (when dw != nil).
// dx (N,C) is accumulated into.
func rmsnormBackward(dx, dw, dy, x, w, rstd []float32, N, C int, off float32) {
	for i := 0; i < N; i++ {
		xr, dyr, dxr := x[i*C:(i+1)*C], dy[i*C:(i+1)*C], dx[i*C:(i+1)*C]
		r := rstd[i]
		var dot float64
		for j := range xr {
			dot += float64((off + w[j]) * dyr[j] * xr[j] * r)
		}
		m := float32(dot / float64(C))
		for j := range xr {
			n := xr[j] * r
			dxr[j] += r * ((off+w[j])*dyr[j] - n*m)
			if dw != nil {
				dw[j] += dyr[j] * n
			}
		}
	}
}

// ropeRotate rotates the first R dims of each head of rows [lo, hi) of x
// (rows of nh heads of size D) in place, rotate-half style: for i < R/2,
// with c, s = cos, sin of t·θ_i (times the table's scale),
// (x_i, x_{i+R/2}) ← (x_i·c − x_{i+R/2}·s, x_{i+R/2}·c + x_i·s); dims R…D−1
// pass unchanged. cos, sin are (positions, R/2); row n has position
// pos0 + n mod T. dir = −1 applies the transposed map, which is the
// backward pass (a scaled rotation: its inverse up to the scale).
func ropeRotate(x []float32, lo, hi, T, pos0, nh, D, R int, cos, sin []float32, dir float32) {
	h := R / 2
	for n := lo; n < hi; n++ {
		t := pos0 + n%T
		c, s := cos[t*h:(t+1)*h], sin[t*h:(t+1)*h]
		for hd := 0; hd < nh; hd++ {
			v := x[(n*nh+hd)*D : (n*nh+hd+1)*D]
			for i := 0; i < h; i++ {
				a, b := v[i], v[i+h]
				si := dir * s[i]
				v[i] = a*c[i] - b*si
				v[i+h] = b*c[i] + a*si
			}
		}
	}
}

// embedForward gathers rows: out[n] = E[ids[n]]. out (N,C), E (V,C).
func embedForward(out []float32, ids []int, E tensor.Mat) {
	C := E.Cols
	for n, id := range ids {
		E.Row(id, out[n*C:(n+1)*C])
	}
}

// posForward adds the learned position rows: out[n] += P[pos0 + n mod T].
// out (N,C), P (positions, C); row (C) is scratch.
func posForward(out []float32, P tensor.Mat, T, pos0 int, row []float32) {
	C := P.Cols
	for n := 0; n < len(out)/C; n++ {
		o := out[n*C : (n+1)*C]
		for j, v := range P.Row(pos0+n%T, row) {
			o[j] += v
		}
	}
}

// posBackward scatters: dP[n mod T] += dout[n] (positions from 0).
func posBackward(dP, dout []float32, T, C int) {
	for n := 0; n < len(dout)/C; n++ {
		d, s := dP[(n%T)*C:(n%T+1)*C], dout[n*C:(n+1)*C]
		for j := range d {
			d[j] += s[j]
		}
	}
}

// embedBackward scatters: dE[ids[n]] += dout[n].
func embedBackward(dE, dout []float32, ids []int, C int) {
	for n, id := range ids {
		d, s := dE[id*C:(id+1)*C], dout[n*C:(n+1)*C]
		for j := range d {
			d[j] += s[j]
		}
	}
}

// IgnoreIndex marks a label that is not trained on, as in PyTorch.
const IgnoreIndex = -100

// crossEntropy computes the causal-LM loss of Hugging Face: position t of
// each sequence predicts labels[t+1]; the last position and labels equal to
// IgnoreIndex have no target. It returns the summed loss over targets (in
// float64), their count and how many of them are the row's argmax (the
// first index of the largest logit, as torch.argmax), and overwrites
// logits (N,V) with
// d(Σ loss / norm)/d logits = (softmax − onehot)/norm (0 on rows without a
// target); with norm = 0 the rows with a target are left holding
// exp(logit − row max). Only rows [lo, hi)
// are visited; logits holds rows from row0 on.
func crossEntropy(logits []float32, row0 int, labels []int, lo, hi, T, V int, norm float32) (sum float64, count, correct int) {
	for n := lo; n < hi; n++ {
		row := logits[(n-row0)*V : (n-row0+1)*V]
		target := IgnoreIndex
		if n%T != T-1 {
			target = labels[n+1]
		}
		if target == IgnoreIndex {
			if norm != 0 {
				clear(row)
			}
			continue
		}
		vt := row[target]
		mx := tensor.MaxF32(row)
		if vt == mx && slices.Index(row[:target], mx) < 0 {
			correct++
		}
		z := tensor.ExpShift(row, row, mx) // row is now exp(v − max)
		sum += float64(mx) + math.Log(z) - float64(vt)
		count++
		if norm != 0 {
			tensor.Scale(row, float32(1/(z*float64(norm))))
			row[target] -= 1 / norm
		}
	}
	return sum, count, correct
}

// layernormForward: out = w ⊙ (x − mean)·rstd + b, row by row, with mean
// = Σx/C and rstd = 1/sqrt(Σ(x − mean)²/C + eps) (sums in float64) left
// in mean and rstd (N). x, out (N,C); w, b (C).
func layernormForward(out, mean, rstd, x, w, b []float32, N, C int, eps float64) {
	for i := 0; i < N; i++ {
		row := x[i*C : (i+1)*C]
		var sum float64
		for _, v := range row {
			sum += float64(v)
		}
		mu := float32(sum / float64(C))
		var ss float64
		for _, v := range row {
			d := float64(v - mu)
			ss += d * d
		}
		r := float32(1 / math.Sqrt(ss/float64(C)+eps))
		mean[i], rstd[i] = mu, r
		o := out[i*C : (i+1)*C]
		for j, v := range row {
			o[j] = w[j]*((v-mu)*r) + b[j]
		}
	}
}

// layernormBackward: with n = (x − mean)·rstd and g = w ⊙ dy,
// dx += rstd·(g − mean(g) − n·mean(g⊙n)); dw += Σ_rows dy⊙n and
// db += Σ_rows dy (each when not nil). dx (N,C) is accumulated into.
func layernormBackward(dx, dw, db, dy, x, w, mean, rstd []float32, N, C int) {
	for i := 0; i < N; i++ {
		xr, dyr, dxr := x[i*C:(i+1)*C], dy[i*C:(i+1)*C], dx[i*C:(i+1)*C]
		mu, r := mean[i], rstd[i]
		var sg, sgn float64
		for j, v := range xr {
			g := w[j] * dyr[j]
			sg += float64(g)
			sgn += float64(g * (v - mu) * r)
		}
		mg, mgn := float32(sg/float64(C)), float32(sgn/float64(C))
		for j, v := range xr {
			n := (v - mu) * r
			dxr[j] += r * (w[j]*dyr[j] - mg - n*mgn)
			if dw != nil {
				dw[j] += dyr[j] * n
			}
			if db != nil {
				db[j] += dyr[j]
			}
		}
	}
}

// GELU with the tanh approximation (GPT-2's gelu_new):
// gelu(x) = x/2·(1 + tanh(u)), u = √(2/π)·(x + 0.044715·x³), computed as
// x·σ(2u) with σ(z) = 1/(1 + e^−z) (the same function: (1 + tanh(u))/2 =
// σ(2u)), the exponentials by the vectorised tensor.ExpShift, a block at
// a time. e^−2u overflowing to +Inf gives σ = 0, not NaN.
const (
	geluS = 0.7978845608028654 // √(2/π)
	geluA = 0.044715
)

// geluBlock is how many elements GELU takes through the exponential at a
// time.
const geluBlock = 256

// geluSigma sets sg[i] = σ(2u_i) for x_i.
func geluSigma(sg, x []float32) {
	sg = sg[:len(x)]
	for i, v := range x {
		sg[i] = -2 * geluS * (v + geluA*v*v*v)
	}
	tensor.ExpShift(sg, sg, 0)
	for i, e := range sg {
		sg[i] = 1 / (1 + e)
	}
}

// geluForward: h[i] = gelu(x[i]).
func geluForward(h, x []float32) {
	var sg [geluBlock]float32
	for i0 := 0; i0 < len(x); i0 += geluBlock {
		xs := x[i0:min(i0+geluBlock, len(x))]
		geluSigma(sg[:len(xs)], xs)
		hs := h[i0 : i0+len(xs)]
		for i, v := range xs {
			hs[i] = v * sg[i]
		}
	}
}

// geluBackward: dx[i] = dh[i]·gelu'(x[i]) with, σ = σ(2u),
// gelu'(x) = σ + x·σ(1 − σ)·2√(2/π)·(1 + 3·0.044715·x²).
func geluBackward(dx, dh, x []float32) {
	var sg [geluBlock]float32
	for i0 := 0; i0 < len(x); i0 += geluBlock {
		xs := x[i0:min(i0+geluBlock, len(x))]
		geluSigma(sg[:len(xs)], xs)
		dxs, dhs := dx[i0:i0+len(xs)], dh[i0:i0+len(xs)]
		for i, v := range xs {
			g := sg[i]
			dxs[i] = dhs[i] * (g + v*g*(1-g)*(2*geluS)*(1+3*geluA*v*v))
		}
	}
}

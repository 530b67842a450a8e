package model

import "github.com/golora/golora/tensor"

// The model's parallel loops (row-wise norms, RoPE, SwiGLU, residual
// additions, LoRA dropout, attention over (sequence, head) pairs forward and (sequence,
// KV group) pairs backward, the loss) run on the tensor worker pool as
// one job struct kept in the State: its fields are set, then the pool
// calls RunPart once per chunk. Nothing is allocated per call, and chunk
// boundaries depend only on the item count and the thread count, so
// per-chunk partial sums combined in chunk order are deterministic.

type jobKind uint8

const (
	jobRMSNorm jobKind = iota
	jobRMSNormBack
	jobRoPE
	jobSwiGLU
	jobSwiGLUBack
	jobAttention
	jobAttentionBack
	jobLoss
	jobLayerNorm
	jobLayerNormBack
	jobGELU
	jobGELUBack
	jobGeGLU // jobGeGLU+1 must be its backward pass, as for jobSwiGLU
	jobGeGLUBack
	jobDoraNorm
	jobTokenLoss
	jobAdd
	jobDropout
)

// maxChunks bounds the chunks of one loop (the pool runs at most 64 parts).
const maxChunks = 64

// job is a parallel loop over n items in chunks; which fields it reads
// depends on kind.
type job struct {
	kind      jobKind
	n, chunks int
	s         *State
	m         *Model
	lc        *layerCache
	layer     int
	a, b, c   []float32
	d         []float32
	p         *Param
	bias      *Param    // jobLayerNormBack: the LayerNorm's bias
	e, f      []float32 // jobLayerNorm(Back): the bias values, the row means
	width, d2 int
	eps       float64
	dir       float32
	labels    []int
	r0        int
	norm      float32
	lin       *Linear // jobDoraNorm: the module and its DoRA adapter
	lora      *LoRA
	tl        *tokenLoss // jobTokenLoss: per-position coefficients and losses
	module    uint64     // jobDropout: the adapter's index (loraCache.index)
	prob      float32    // jobDropout: the probability of dropping
}

// job returns the state's job, reset to kind.
func (s *State) job(kind jobKind) *job {
	s.jobs = job{kind: kind, s: s}
	return &s.jobs
}

// run runs j over n items on up to s.threads goroutines and returns the
// number of chunks.
func (s *State) run(j *job, n int) int {
	j.n, j.chunks = n, min(s.threads, n)
	if j.chunks <= 1 {
		j.chunks = 1
		j.RunPart(0)
		return 1
	}
	s.team.Run(j.chunks, j)
	return j.chunks
}

// vecAlign is where the element-wise loops (SwiGLU, GELU, GeGLU, add,
// dropout) split their n·width elements between chunks: at multiples of
// the widest vector their kernels use, so that each element is computed by
// the same code (vector body or scalar tail) whatever the thread count.
const vecAlign = 64

// elems is chunk c's share of an element-wise loop over n·width elements:
// [e0, e1), both multiples of vecAlign but the last chunk's end.
func (j *job) elems(c int) (e0, e1 int) {
	total := j.n * j.width
	e0, e1 = total*c/j.chunks&^(vecAlign-1), total*(c+1)/j.chunks&^(vecAlign-1)
	if c == j.chunks-1 {
		e1 = total
	}
	return e0, e1
}

// RunPart runs chunk c of the loop: items [n·c/chunks, n·(c+1)/chunks),
// or for an element-wise loop the elements j.elems gives.
func (j *job) RunPart(c int) {
	lo, hi := j.n*c/j.chunks, j.n*(c+1)/j.chunks
	s := j.s
	switch j.kind {
	case jobRMSNorm:
		C := j.width
		rmsnormForward(j.a[lo*C:hi*C], j.b[lo:hi], j.c[lo*C:hi*C], j.d, hi-lo, C, j.eps, s.normOff)
	case jobRMSNormBack:
		C := j.width
		var part []float32
		if j.p.Grad != nil {
			part = s.dwPart[c][:C]
			clear(part)
		}
		rmsnormBackward(j.a[lo*C:hi*C], part, j.b[lo*C:hi*C], j.c[lo*C:hi*C], j.p.W.F32, j.d[lo:hi], hi-lo, C, s.normOff)
	case jobRoPE:
		s.ropeRows(j.a, lo, hi, j.width, j.d2, j.b, j.c, j.dir)
	case jobSwiGLU:
		e0, e1 := j.elems(c)
		lc := j.lc
		tensor.SwiGLU(lc.h[e0:e1], lc.gate[e0:e1], lc.up[e0:e1])
	case jobSwiGLUBack:
		e0, e1 := j.elems(c)
		lc := j.lc
		tensor.SwiGLUBackward(s.dgate[e0:e1], s.dup[e0:e1], s.dh[e0:e1], lc.gate[e0:e1], lc.up[e0:e1])
	case jobAttention:
		j.m.attentionForwardPart(s, j.lc, j.layer, lo, hi, c)
	case jobAttentionBack:
		j.m.attentionBackwardPart(s, j.lc, j.layer, lo, hi, c)
	case jobLayerNorm:
		C := j.width
		layernormForward(j.a[lo*C:hi*C], j.f[lo:hi], j.b[lo:hi], j.c[lo*C:hi*C], j.d, j.e, hi-lo, C, j.eps)
	case jobLayerNormBack:
		C := j.width
		var dw, db []float32
		if j.p.Grad != nil {
			dw = s.dwPart[c][:C]
			clear(dw)
		}
		if j.bias.Grad != nil {
			db = s.dwPart[c][C : 2*C]
			clear(db)
		}
		layernormBackward(j.a[lo*C:hi*C], dw, db, j.b[lo*C:hi*C], j.c[lo*C:hi*C], j.p.W.F32, j.f[lo:hi], j.d[lo:hi], hi-lo, C)
	case jobGELU:
		e0, e1 := j.elems(c)
		lc := j.lc
		geluForward(lc.h[e0:e1], lc.up[e0:e1])
	case jobGELUBack:
		e0, e1 := j.elems(c)
		lc := j.lc
		geluBackward(s.dup[e0:e1], s.dh[e0:e1], lc.up[e0:e1])
	case jobGeGLU:
		e0, e1 := j.elems(c)
		lc := j.lc
		gegluForward(lc.h[e0:e1], lc.gate[e0:e1], lc.up[e0:e1])
	case jobGeGLUBack:
		e0, e1 := j.elems(c)
		lc := j.lc
		gegluBackward(s.dgate[e0:e1], s.dup[e0:e1], s.dh[e0:e1], lc.gate[e0:e1], lc.up[e0:e1])
	case jobLoss:
		if s.finalCap > 0 {
			s.lossSum[c], s.lossCount[c], s.lossCorrect[c] = crossEntropyCapped(j.a, j.r0, j.labels, j.r0+lo, j.r0+hi, s.T, j.width, j.norm, s.finalCap, s.capF[c])
			break
		}
		s.lossSum[c], s.lossCount[c], s.lossCorrect[c] = crossEntropy(j.a, j.r0, j.labels, j.r0+lo, j.r0+hi, s.T, j.width, j.norm)
	case jobDoraNorm:
		doraNormRows(j.a, j.lin, j.lora, s.dora.w[c], lo*doraRows, min(hi*doraRows, j.lin.Out))
	case jobAdd:
		e0, e1 := j.elems(c)
		for i, v := range j.b[e0:e1] {
			j.a[e0+i] = v + j.c[e0+i]
		}
	case jobDropout:
		e0, e1 := j.elems(c)
		dropoutSpan(j.a[e0:e1], j.b[e0:e1], s.DropoutSeed, j.module, j.prob, e0)
	case jobTokenLoss:
		var capF []float32
		if s.finalCap > 0 {
			capF = s.capF[c]
		}
		s.lossSum[c], s.lossCount[c], s.lossCorrect[c] = j.tl.crossEntropy(j.a, j.r0, j.labels, j.r0+lo, j.r0+hi, s.T, j.width, s.finalCap, capF)
	}
}

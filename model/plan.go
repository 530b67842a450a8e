package model

import (
	"fmt"
	"strconv"
)

// A State's buffers are described once, by layout: NewState and its
// variants allocate exactly what it lists, and Config.StateBuffers lists
// the same buffers without allocating them, for memory prediction.

// StateKind is what a State is planned for.
type StateKind uint8

const (
	StateInfer        StateKind = iota // Forward leaves all N×V logits (NewState, train false)
	StateLoss                          // Forward then Loss, logits in chunks (NewLossState)
	StateTrain                         // every layer's activations kept (NewState, train true)
	StateCheckpointed                  // x, x2, k, v kept, the rest recomputed (NewCheckpointedState)
	StatePrefill                       // Forward leaves the last min(T,2) positions' logits (NewPrefillState, B = 1)
)

// StatePlan is everything a State's buffers depend on besides the config.
type StatePlan struct {
	B, T int // sequences per batch, tokens per sequence
	Kind StateKind
	// Threads is the worker thread count (tensor.Threads): attention
	// scores, partial norm-weight gradients and loss sums are kept per
	// chunk of a parallel loop, min(Threads, 64) of them; below 1 counts
	// as 1.
	Threads int
	LoRA    []LoRAPlan // the attached adapter modules, in Model.Linears order
}

// LoRAPlan is one adapter module attached to a linear, as a State sees it.
type LoRAPlan struct {
	In, Rank int  // the linear's input size, the adapter's rank
	Dropout  bool // dropout > 0: a training state keeps (N, In) dropout buffers
	// DoRA: the adapter has a magnitude vector; the state keeps its weight
	// norm (Out) and DoRA's scratch (see doraBufs), sized by In and Out.
	DoRA bool
	Out  int
}

// Buffer is one buffer of a State.
type Buffer struct {
	Name string // the field it is held in, e.g. "layers.3.gate", "scores.0", "lora.5.xa"
	Len  int    // elements
	Size int    // bytes per element: 4 for float32, 8 for float64 (and int on 64-bit machines)
}

// StateBuffers lists every buffer a State for plan p over a model of
// config c holds, in allocation order, without allocating them.
func (c *Config) StateBuffers(p StatePlan) []Buffer {
	a := &planner{}
	c.layout(&State{}, p, a)
	return a.bufs
}

// BufferBytes is Σ Len·Size over bs.
func BufferBytes(bs []Buffer) int64 {
	var n int64
	for _, b := range bs {
		n += int64(b.Len) * int64(b.Size)
	}
	return n
}

// planner hands out a state's buffers: it records each one, and
// allocates it when alloc is set.
type planner struct {
	alloc bool
	bufs  []Buffer
}

// newBuf records a buffer of n elements named name and returns it
// allocated (or nil when the planner only lists).
func newBuf[E float32 | float64 | int](a *planner, name string, n int) []E {
	size := 4
	switch any(*new(E)).(type) {
	case float64:
		size = 8
	case int:
		size = strconv.IntSize / 8
	}
	a.bufs = append(a.bufs, Buffer{Name: name, Len: n, Size: size})
	if !a.alloc {
		return nil
	}
	return make([]E, n)
}

// layout plans the buffers of a state for p on s, taking each from a. Its
// loraBufs hold one cache per p.LoRA entry, in order.
func (c *Config) layout(s *State, p StatePlan, a *planner) {
	B, T := p.B, p.T
	N, C, I, V := B*T, c.HiddenSize, c.IntermediateSize, c.VocabSize
	qd, kvd := c.NumHeads*c.HeadDim, c.NumKVHeads*c.HeadDim
	train, ckpt := p.Kind == StateTrain || p.Kind == StateCheckpointed, p.Kind == StateCheckpointed
	f := func(name string, n int) []float32 { return newBuf[float32](a, name, n) }
	s.B, s.T, s.N, s.train = B, T, N, train
	s.ids = newBuf[int](a, "ids", N)
	nc := 1
	if train && !ckpt {
		nc = c.NumLayers
	}
	s.layers = make([]layerCache, nc)
	for i := range s.layers {
		n := func(field string) string { return fmt.Sprintf("layers.%d.%s", i, field) }
		lc := &s.layers[i]
		lc.rstd1, lc.q, lc.lse, lc.att = f(n("rstd1"), N), f(n("q"), N*qd), f(n("lse"), B*c.NumHeads*T), f(n("att"), N*qd)
		lc.rstd2 = f(n("rstd2"), N)
		if !c.GELU {
			lc.gate = f(n("gate"), N*I)
		}
		lc.up, lc.h = f(n("up"), N*I), f(n("h"), N*I)
		if c.LayerNorm {
			lc.mean1, lc.mean2 = f(n("mean1"), N), f(n("mean2"), N)
		}
		if c.QKNorm {
			lc.qRaw, lc.qRstd = f(n("qRaw"), N*qd), f(n("qRstd"), N*c.NumHeads)
			lc.kRaw, lc.kRstd = f(n("kRaw"), N*kvd), f(n("kRstd"), N*c.NumKVHeads)
		}
		if c.Gemma {
			lc.attnOut, lc.rstd3 = f(n("attnOut"), N*C), f(n("rstd3"), N)
			lc.mlpOut, lc.rstd4 = f(n("mlpOut"), N*C), f(n("rstd4"), N)
		}
		if !ckpt {
			lc.x, lc.x2, lc.k, lc.v = f(n("x"), N*C), f(n("x2"), N*C), f(n("k"), N*kvd), f(n("v"), N*kvd)
		}
	}
	if ckpt {
		s.kept = make([]layerCache, c.NumLayers)
		for i := range s.kept {
			n := func(field string) string { return fmt.Sprintf("kept.%d.%s", i, field) }
			k := &s.kept[i]
			k.x, k.x2, k.k, k.v = f(n("x"), N*C), f(n("x2"), N*C), f(n("k"), N*kvd), f(n("v"), N*kvd)
		}
	}
	s.xOut, s.lnf, s.rstdf = f("xOut", N*C), f("lnf", N*C), f("rstdf", N)
	if c.LayerNorm {
		s.meanf = f("meanf", N)
	}
	if c.FusedQKV {
		s.qkv = f("qkv", N*(qd+2*kvd))
	}
	if c.FusedGateUp {
		s.gateUp = f("gateUp", N*2*I)
	}
	s.last = p.Kind == StatePrefill
	switch s.chunked = p.Kind != StateInfer && !s.last; {
	case s.chunked:
		s.Logits = f("Logits", min(N, HeadChunk)*V)
	case s.last:
		s.Logits = f("Logits", min(T, 2)*V)
	default:
		s.Logits = f("Logits", N*V)
	}
	s.ln, s.tmpC = f("ln", N*C), f("tmpC", N*C)
	normWidth := C // the widest norm (weight and bias): the partial gradients' size
	if c.QKNorm {
		normWidth = max(C, c.HeadDim)
	}
	if c.LayerNorm {
		normWidth = 2 * C
	}
	s.threads = min(max(p.Threads, 1), maxChunks)
	s.lossSum, s.lossCount = newBuf[float64](a, "lossSum", s.threads), newBuf[int](a, "lossCount", s.threads)
	s.lossCorrect = newBuf[int](a, "lossCorrect", s.threads)
	for i := 0; i < s.threads; i++ {
		s.scores = append(s.scores, f(fmt.Sprintf("scores.%d", i), T*T))
		if train {
			s.dsc = append(s.dsc, f(fmt.Sprintf("dsc.%d", i), T*T))
			s.dwPart = append(s.dwPart, f(fmt.Sprintf("dwPart.%d", i), normWidth))
		}
		if train && c.AttnSoftcap > 0 {
			s.capT = append(s.capT, f(fmt.Sprintf("capT.%d", i), T*T))
		}
		if c.FinalSoftcap > 0 && !s.last {
			s.capF = append(s.capF, f(fmt.Sprintf("capF.%d", i), V))
		}
	}
	s.normOff, s.geglu = c.normOffset(), c.Gemma
	s.attnCap, s.finalCap = float32(c.AttnSoftcap), float32(c.FinalSoftcap)
	if train {
		s.dx, s.dln = f("dx", N*C), f("dln", N*C)
		s.dq, s.datt, s.dk, s.dv = f("dq", N*qd), f("datt", N*qd), f("dk", N*kvd), f("dv", N*kvd)
		if !c.GELU {
			s.dgate = f("dgate", N*I)
		}
		s.dup, s.dh = f("dup", N*I), f("dh", N*I)
	}
	if !c.LearnedPos {
		s.cos, s.sin, s.rot = f("cos", T*c.RotaryDim/2), f("sin", T*c.RotaryDim/2), c.RotaryDim
	}
	if c.RopeLocalTheta > 0 {
		s.cosL, s.sinL = f("cosLocal", T*c.RotaryDim/2), f("sinLocal", T*c.RotaryDim/2)
		s.localRope = make([]bool, c.NumLayers)
		for i := range s.localRope {
			s.localRope[i] = c.localRope(i)
		}
	}
	s.loraBufs = make([]loraCache, len(p.LoRA))
	maxIn := 0
	var dora doraPlan
	for i, l := range p.LoRA {
		lc := &s.loraBufs[i]
		lc.xa, lc.index = f(fmt.Sprintf("lora.%d.xa", i), N*l.Rank), uint64(i)
		if train {
			lc.dxa = f(fmt.Sprintf("lora.%d.dxa", i), N*l.Rank)
			if l.Dropout {
				maxIn = max(maxIn, l.In)
			}
		}
		if l.DoRA {
			lc.norm = f(fmt.Sprintf("lora.%d.norm", i), l.Out)
			dora.in, dora.out = max(dora.in, l.In), max(dora.out, l.Out)
		}
	}
	s.drop, s.dropG = f("drop", N*maxIn), f("dropG", N*maxIn)
	s.dora = dora.layout(N, s.threads, train, f)
}

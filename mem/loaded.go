package mem

import (
	"github.com/golora/golora/model"
	"github.com/golora/golora/tensor"
)

// Held is the memory m's parameters take as they are held now: the base
// weights as loaded (memory-mapped or owned; 4-bit ones with their
// quantization constants) and the attached adapters' A and B (and DoRA
// magnitudes).
func Held(m *model.Model) int64 {
	n := Base(m)
	for _, p := range m.LoRAParams() {
		n += int64(p.W.Bytes())
	}
	return n
}

// Base is the memory m's base parameters take as they are held now
// (Held without the adapters).
func Base(m *model.Model) int64 {
	var n int64
	for _, p := range m.Params() {
		n += int64(p.W.Bytes())
	}
	return n
}

// HoldBase replaces the base weights of a LoRA prediction (b.WeightsBytes
// less the adapters' float32 A and B) by held, the bytes a base takes as
// loaded (Base), for a base held in ggml blocks, whose bytes per value the
// config alone does not give.
func (b *Breakdown) HoldBase(held int64) {
	d := held - (b.WeightsBytes - 4*b.TrainableParams)
	b.WeightsBytes += d
	b.TotalBytes += d
}

// Generation is the memory that generating with m takes on top of Held(m)
// for a prompt of prompt tokens extended up to total: the KV cache
// (2 · layers · total · kv_heads · head_dim float32 plus its RoPE tables)
// and the inference states of the prefill and of one token, from the plan
// model allocates them by, with the attached adapters.
func Generation(m *model.Model, prompt, total, threads int) int64 {
	c := m.Cfg
	mods := m.Plans()
	n := c.CacheBytes(total)
	for _, T := range []int{prompt, 1} {
		n += model.BufferBytes(c.StateBuffers(model.StatePlan{B: 1, T: T, Kind: model.StateInfer, Threads: threads, LoRA: mods}))
	}
	return n
}

// Merge is the memory that merging m's attached adapters into it takes on
// top of Held(m): a float32 copy of every linear an adapter changes (of
// every linear on a 4-bit base, which is dequantized), and with requantize
// another float32 copy of every linear, kept to measure the error.
func Merge(m *model.Model, requantize bool) int64 {
	var n int64
	for _, lin := range m.Linears() {
		elems := int64(lin.W.W.Rows) * int64(lin.W.W.Cols)
		if len(lin.LoRA) > 0 || lin.W.W.DType == tensor.Q4 {
			n += 4 * elems
		}
		if requantize {
			n += 4 * elems
		}
	}
	return n
}

// Package mem predicts the memory of fine-tuning a model from its
// config.json alone, broken down as the QLoRA paper (Dettmers et al.,
// 2023) does: weights, gradients, optimizer states (AdamW keeps two per
// trainable parameter), activations.
//
// Per parameter with b bytes per value: full fine-tuning needs b (weight)
// + b (gradient) + 2b (AdamW m and v) = 4b — 16 bytes in float32, 8 in
// float16. LoRA keeps the base at b bytes — except what golora holds in
// float32 whatever the checkpoint's dtype: norm weights, biases and
// transposed Conv1D weights (model.Config.F32HeldParams) — and pays
// gradients and optimizer states only for A and B, in float32. QLoRA
// stores the base linear layers in 4 bits (plus each matrix's block
// constants) and the rest as LoRA does.
//
// Activations are golora's own: the bytes of the buffers the training
// state (model.NewState, or NewCheckpointedState) allocates for a batch —
// per-layer caches kept for backward, shared scratch, HeadChunk rows of
// logits, per-thread attention scores, each adapter's x·Aᵀ — summed from
// the very plan it allocates from (model.Config.StateBuffers), so the
// prediction can be checked against golora's measured peak RSS.
package mem

import (
	"fmt"

	"github.com/golora/golora/lora"
	"github.com/golora/golora/model"
)

// Method is what is trained.
type Method string

const (
	Full  Method = "full"
	LoRA  Method = "lora"
	QLoRA Method = "qlora"
)

// Options of a prediction.
type Options struct {
	Method    Method
	DTypeSize int // bytes per stored base value: 4 float32, 2 float16/bfloat16
	Rank      int // LoRA rank
	// Targets selects the LoRA modules with the syntax of golora train
	// --targets: "q_proj,v_proj", "all-linear" or "re:<regex>"; Layers
	// restricts them to those layers (layers_to_transform), empty: all.
	Targets string
	Layers  []int
	// Dropout is the LoRA dropout probability: above 0 a training state
	// keeps (N, in) buffers for the dropped-out input and its gradient.
	Dropout float64
	Batch   int
	SeqLen  int
	// Threads is the worker thread count training runs with
	// (tensor.Threads()): attention keeps a T×T score buffer (two in
	// training) per thread, up to 64. Below 1 counts as 1.
	Threads int
	// GradCheckpoint keeps only each layer's input, residual after
	// attention, keys and values between forward and backward (plus one
	// layer's other activations at a time).
	GradCheckpoint bool
	// DoubleQuant counts QLoRA's absmax as 8-bit codes with a float32 per
	// 256 blocks instead of a float32 per block.
	DoubleQuant bool
	// DoRA counts a trained magnitude per output row of every adapted
	// module (out more parameters each) and the state's DoRA buffers.
	DoRA bool
	// Pairs predicts preference training (golora train --method dpo or
	// orpo): Batch counts pairs, each two sequences, and a forward-only
	// state of as many sequences computes the reference (and validation)
	// log-probabilities.
	Pairs bool
}

// Breakdown is the prediction, in bytes.
type Breakdown struct {
	Params          int64 `json:"params"`
	TrainableParams int64 `json:"trainable_params"`
	WeightsBytes    int64 `json:"weights_bytes"`
	// QuantizedWeightsBytes is the part of WeightsBytes held by the 4-bit
	// linear layers with their quantization constants (QLoRA only).
	QuantizedWeightsBytes int64 `json:"quantized_weights_bytes,omitempty"`
	GradsBytes            int64 `json:"grads_bytes"`
	OptimizerBytes        int64 `json:"optimizer_bytes"`
	ActivationsBytes      int64 `json:"activations_bytes"`
	TotalBytes            int64 `json:"total_bytes"`
}

// Predict computes the breakdown for config c.
func Predict(c *model.Config, o Options) (Breakdown, error) {
	var b Breakdown
	if o.DTypeSize != 2 && o.DTypeSize != 4 {
		return b, fmt.Errorf("mem: dtype size %d (want 2 or 4)", o.DTypeSize)
	}
	dt := int64(o.DTypeSize)
	var linearParams, loraParams, quantized int64
	for _, l := range c.LayerLinears() {
		linearParams += int64(l.In) * int64(l.Out)
		quantized += quantizedBytes(int64(l.In)*int64(l.Out), o.DoubleQuant)
	}
	linearParams *= int64(c.NumLayers)
	quantized *= int64(c.NumLayers)
	f32, linearF32 := c.F32HeldParams()
	other := int64(c.NumParams()) - linearParams // embedding, norms, biases, head
	var mods []model.LoRAPlan
	if o.Method == LoRA || o.Method == QLoRA {
		cfg := &lora.Config{R: o.Rank, Layers: o.Layers, Dropout: o.Dropout}
		cfg.ParseTargets(o.Targets)
		specs, err := lora.ConfigTargets(c, cfg)
		if err != nil {
			return b, fmt.Errorf("mem: %w", err)
		}
		for _, s := range specs {
			loraParams += int64(o.Rank) * int64(s.In+s.Out)
			if o.DoRA {
				loraParams += int64(s.Out)
			}
			mods = append(mods, model.LoRAPlan{In: s.In, Out: s.Out, Rank: o.Rank, Dropout: o.Dropout > 0, DoRA: o.DoRA})
		}
	}
	b.Params = linearParams + other
	switch o.Method {
	case Full:
		b.TrainableParams = b.Params
		b.WeightsBytes = b.Params * dt
		b.GradsBytes = b.Params * dt
		b.OptimizerBytes = 2 * b.Params * dt
	case LoRA, QLoRA:
		b.TrainableParams = loraParams
		// golora keeps adapters, their gradients and AdamW states in float32.
		b.GradsBytes = 4 * loraParams
		b.OptimizerBytes = 8 * loraParams
		b.WeightsBytes = (b.Params-int64(f32))*dt + 4*int64(f32) + 4*loraParams
		if o.Method == QLoRA {
			b.QuantizedWeightsBytes = quantized
			otherF32 := int64(f32 - linearF32)
			b.WeightsBytes = (other-otherF32)*dt + 4*otherF32 + quantized + 4*loraParams
		}
	default:
		return b, fmt.Errorf("mem: unknown method %q (full, lora, qlora)", o.Method)
	}
	b.ActivationsBytes = activations(c, o, mods)
	b.TotalBytes = b.WeightsBytes + b.GradsBytes + b.OptimizerBytes + b.ActivationsBytes
	return b, nil
}

// quantizedBytes is the 4-bit storage of a matrix of n weights in blocks of 64:
// n/2 packed bytes plus, per block, a float32 absmax, or with double
// quantization an 8-bit code plus a float32 per 256 blocks (and the
// 256-entry float32 map).
func quantizedBytes(n int64, double bool) int64 {
	blocks := (n + 63) / 64
	if !double {
		return (n+1)/2 + 4*blocks
	}
	return (n+1)/2 + blocks + 4*((blocks+255)/256) + 4*256
}

// activations is the bytes of the buffers of the training state for
// o.Batch sequences of o.SeqLen tokens with the adapter modules mods, as
// model.Config.StateBuffers lists them; with o.Pairs, of the training and
// the loss state of 2·o.Batch sequences.
func activations(c *model.Config, o Options, mods []model.LoRAPlan) int64 {
	if o.Batch <= 0 || o.SeqLen <= 0 {
		return 0
	}
	kind := model.StateTrain
	if o.GradCheckpoint {
		kind = model.StateCheckpointed
	}
	B := o.Batch
	if o.Pairs {
		B *= 2
	}
	n := model.BufferBytes(c.StateBuffers(model.StatePlan{B: B, T: o.SeqLen, Kind: kind, Threads: o.Threads, LoRA: mods}))
	if o.Pairs {
		n += model.BufferBytes(c.StateBuffers(model.StatePlan{B: B, T: o.SeqLen, Kind: model.StateLoss, Threads: o.Threads, LoRA: mods}))
	}
	return n
}

// Package mem predicts the memory of fine-tuning a model, broken down as
// the QLoRA paper and the seed lesson do: weights, gradients, optimizer
// states (AdamW keeps two per trainable parameter), activations.
//
// Per parameter with b bytes per value: full fine-tuning needs b (weight)
// + b (gradient) + 2b (AdamW m and v) = 4b — 16 bytes in float32, 8 in
// float16. LoRA keeps the base at b bytes and pays gradients and optimizer
// states only for A and B. QLoRA stores the base linear layers in 4 bits
// (plus their block constants) and the rest as before.
//
// Activations are golora's own: the float32 buffers model.NewState plans
// for a batch (per-layer caches kept for backward, shared scratch, logits),
// so the prediction can be checked against golora's measured peak RSS.
package mem

import (
	"fmt"
	"strings"

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
	DTypeSize int      // bytes per stored base value: 4 float32, 2 float16/bfloat16
	Rank      int      // LoRA rank
	Targets   []string // LoRA target module names (q_proj…), or all-linear
	Batch     int
	SeqLen    int
	// GradCheckpoint keeps only each layer's input, residual after
	// attention, keys and values between forward and backward (plus one
	// layer's other activations at a time).
	GradCheckpoint bool
	// DoubleQuant counts QLoRA's absmax as 8-bit codes with a float32 per
	// 256 blocks instead of a float32 per block.
	DoubleQuant bool
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

// linear is one linear module kind of a decoder layer.
type linear struct {
	name    string
	in, out int64
}

func linears(c *model.Config) []linear {
	C, I := int64(c.HiddenSize), int64(c.IntermediateSize)
	q, kv := int64(c.NumHeads*c.HeadDim), int64(c.NumKVHeads*c.HeadDim)
	return []linear{{"q_proj", C, q}, {"k_proj", C, kv}, {"v_proj", C, kv}, {"o_proj", q, C},
		{"gate_proj", C, I}, {"up_proj", C, I}, {"down_proj", I, C}}
}

func targeted(name string, targets []string) bool {
	for _, t := range targets {
		if t == "all-linear" || t == name || strings.HasSuffix(t, "."+name) {
			return true
		}
	}
	return false
}

// Predict computes the breakdown for config c.
func Predict(c *model.Config, o Options) (Breakdown, error) {
	var b Breakdown
	if o.DTypeSize != 2 && o.DTypeSize != 4 {
		return b, fmt.Errorf("mem: dtype size %d (want 2 or 4)", o.DTypeSize)
	}
	L, C, V := int64(c.NumLayers), int64(c.HiddenSize), int64(c.VocabSize)
	dt := int64(o.DTypeSize)
	var linearParams, loraParams int64
	for _, l := range linears(c) {
		linearParams += l.in * l.out
		if targeted(l.name, o.Targets) {
			loraParams += int64(o.Rank) * (l.in + l.out)
		}
	}
	linearParams *= L
	loraParams *= L
	bias := int64(0)
	if c.QKVBias {
		bias += int64(c.NumHeads*c.HeadDim + 2*c.NumKVHeads*c.HeadDim)
	}
	if c.OBias {
		bias += C
	}
	other := V*C + L*(2*C+bias) + C // embedding, norms, biases, final norm
	if !c.TieEmbeddings {
		other += V * C
	}
	b.Params = linearParams + other
	switch o.Method {
	case Full:
		b.TrainableParams = b.Params
		b.WeightsBytes = b.Params * dt
		b.GradsBytes = b.Params * dt
		b.OptimizerBytes = 2 * b.Params * dt
	case LoRA, QLoRA:
		if o.Rank <= 0 || len(o.Targets) == 0 {
			return b, fmt.Errorf("mem: %s needs a rank and target modules", o.Method)
		}
		if loraParams == 0 {
			return b, fmt.Errorf("mem: targets %v match no linear module (q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj, all-linear)", o.Targets)
		}
		b.TrainableParams = loraParams
		// golora keeps adapters, their gradients and AdamW states in float32.
		b.GradsBytes = 4 * loraParams
		b.OptimizerBytes = 8 * loraParams
		b.WeightsBytes = b.Params*dt + 4*loraParams
		if o.Method == QLoRA {
			b.QuantizedWeightsBytes = quantizedBytes(linearParams, o.DoubleQuant)
			b.WeightsBytes = other*dt + b.QuantizedWeightsBytes + 4*loraParams
		}
	default:
		return b, fmt.Errorf("mem: unknown method %q (full, lora, qlora)", o.Method)
	}
	b.ActivationsBytes = activations(c, o, b.TrainableParams)
	b.TotalBytes = b.WeightsBytes + b.GradsBytes + b.OptimizerBytes + b.ActivationsBytes
	return b, nil
}

// quantizedBytes is the 4-bit storage of n linear weights in blocks of 64:
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

// activations counts the float32 buffers of model.NewState(batch, seqLen,
// train) per token: per layer x, x2, q, k, v, att, gate, up, h, two rstd
// and H log-sum-exps; shared scratch (norm outputs, gradients); and x·Aᵀ
// with its gradient for every LoRA module; plus HeadChunk rows of logits.
func activations(c *model.Config, o Options, trainable int64) int64 {
	N := int64(o.Batch * o.SeqLen)
	if N == 0 {
		return 0
	}
	C, I, V, L := int64(c.HiddenSize), int64(c.IntermediateSize), int64(c.VocabSize), int64(c.NumLayers)
	q, kv, H := int64(c.NumHeads*c.HeadDim), int64(c.NumKVHeads*c.HeadDim), int64(c.NumHeads)
	perLayer := 2*C + 2*q + 2*kv + 3*I + H + 2
	shared := 3*C + 1 + // xOut, lnf, rstdf
		4*C + 2*q + 2*kv + 3*I // ln, tmpC, dx, dln; dq, datt; dk, dv; dgate, dup, dh
	floats := N*(L*perLayer+shared) + min(N, model.HeadChunk)*V // logits, a chunk at a time
	if o.GradCheckpoint {
		// each layer's x, x2, k and v, and one layer's other activations
		kept := 2*C + 2*kv
		floats = N*(L*kept+perLayer-kept+shared) + min(N, model.HeadChunk)*V
	}
	if o.Method != Full {
		for _, l := range linears(c) {
			if targeted(l.name, o.Targets) {
				floats += L * N * int64(2*o.Rank)
			}
		}
	}
	return 4 * floats
}

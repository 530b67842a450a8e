package model

import (
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/golora/golora/quant"
	"github.com/golora/golora/safetensors"
	"github.com/golora/golora/tensor"
)

// QLoRA keeps the frozen base in 4 bits: every linear layer of the decoder
// is stored as NF4 or FP4 blocks with bitsandbytes' layout (the output
// head, embeddings and norms stay as they are) and is dequantized inside
// the GEMM's packing, a panel at a time, never as a whole float32 copy.

// torchDType names a tensor dtype as config.json and quant_state do.
func torchDType(d tensor.DType) string {
	switch d {
	case tensor.BF16:
		return "bfloat16"
	case tensor.F16:
		return "float16"
	}
	return "float32"
}

// SaveDType is the dtype Save keeps the base's unquantized weights in: the
// embedding's (F32, BF16 or F16), or F32 for one held in ggml blocks,
// which holds every value exactly.
func (m *Model) SaveDType() tensor.DType {
	if d := m.Embed.W.DType; d.Size() > 0 {
		return d
	}
	return tensor.F32
}

// Quantize replaces the weight of every decoder linear layer by its 4-bit
// quantization of type t (with double quantization of the block absmax
// when double is set), one weight at a time.
func (m *Model) Quantize(t quant.Type, double bool) error {
	var buf []float32
	for _, lin := range m.Linears() {
		w := lin.W
		if w.W.DType == tensor.Q4 {
			continue
		}
		if w.Trainable() {
			return fmt.Errorf("quantize: %s is trainable; only a frozen base can be quantized", w.Name)
		}
		n := w.NumElements()
		buf = slices.Grow(buf[:0], n)[:n]
		for r := 0; r < w.W.Rows; r++ {
			w.W.Row(r, buf[r*w.W.Cols:])
		}
		q, err := quant.Quantize(buf, w.W.Rows, w.W.Cols, t, double)
		if err != nil {
			return fmt.Errorf("quantize %s: %w", w.Name, err)
		}
		q.DType = torchDType(w.W.DType)
		w.W, w.owned = tensor.FromQuant(q), false
	}
	return nil
}

// QuantType reports the 4-bit type of the base's linear layers and whether
// their absmax is double-quantized; ok is false for an unquantized model.
func (m *Model) QuantType() (t quant.Type, double, ok bool) {
	for _, lin := range m.Linears() {
		if q := lin.W.W.Q; q != nil {
			return q.Type, q.Nested, true
		}
	}
	return 0, false, false
}

// Quantized reports whether the base's linear layers are held in blocks
// that GEMM dequantizes as it reads them: 4-bit (QuantType) or ggml's
// types, as LoadGGUF holds a quantized GGUF.
func (m *Model) Quantized() bool {
	for _, lin := range m.Linears() {
		if lin.W.W.DType.Blocked() {
			return true
		}
	}
	return false
}

// quantGetter reads the tensors of a bitsandbytes checkpoint for
// quant.FromTensors.
func quantGetter(set *safetensors.Set) quant.Getter {
	return func(name string) (string, []int, []byte, bool) {
		t, ok := set.Tensor(name)
		if !ok {
			return "", nil, nil, false
		}
		return string(t.DType), t.Shape, t.Data, true
	}
}

// loadQuantized returns the 4-bit weight of the linear spec s from a
// bitsandbytes checkpoint, or nil when it is stored unquantized.
func loadQuantized(dir string, set *safetensors.Set, s paramSpec) (*Param, error) {
	prefix := s.name[:len(s.name)-len(".weight")]
	q, err := quant.FromTensors(prefix, quantGetter(set))
	if errors.Is(err, quant.ErrNotQuantized) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	if q.Rows != s.rows || q.Cols != s.cols {
		return nil, fmt.Errorf("%s: tensor %q is quantized with shape [%d %d], the config implies [%d %d]", dir, s.name, q.Rows, q.Cols, s.rows, s.cols)
	}
	return &Param{Name: s.name, Shape: s.shape(), W: tensor.FromQuant(q)}, nil
}

// quantTensors lists a 4-bit parameter as the checkpoint tensors of
// bitsandbytes, in name order.
func quantTensors(p *Param) ([]safetensors.Tensor, error) {
	td, err := p.W.Q.Tensors(p.Name[:len(p.Name)-len(".weight")])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.Name, err)
	}
	names := make([]string, 0, len(td))
	for n := range td {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []safetensors.Tensor
	for _, n := range names {
		t := td[n]
		out = append(out, safetensors.Tensor{Name: n, DType: safetensors.DType(t.DType), Shape: t.Shape, Data: t.Data})
	}
	return out, nil
}

// Dequantize turns every 4-bit weight back into an owned float32 matrix.
func (m *Model) Dequantize() {
	for _, lin := range m.Linears() {
		if lin.W.W.DType == tensor.Q4 {
			lin.W.F32()
		}
	}
}

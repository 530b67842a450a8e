package quant

import (
	"testing"
)

// FuzzFromTensors feeds arbitrary quant_state JSON (and a few tensor
// shapes) to FromTensors: it must never panic, and whatever it accepts must
// be valid and dequantize without panicking.
func FuzzFromTensors(f *testing.F) {
	base := func(typ Type, dq bool) *Quantized {
		q, err := Quantize(gaussian(5*30, 1, 1), 5, 30, typ, dq)
		if err != nil {
			f.Fatal(err)
		}
		return q
	}
	f.Add(base(NF4, true).QuantStateJSON(), false, true, uint16(75), uint16(3))
	f.Add(base(FP4, false).QuantStateJSON(), true, false, uint16(75), uint16(3))
	f.Add([]byte(`{"quant_type": "nf4", "blocksize": 2, "dtype": "float16", "shape": [1, 3]}`), false, false, uint16(2), uint16(2))
	f.Add([]byte(`{"quant_type": "nf4", "blocksize": 64, "dtype": "torch.bfloat16", "shape": [1, 1], "nested_blocksize": 1, "nested_dtype": "float32", "nested_offset": 1e-05}`), false, true, uint16(1), uint16(1))
	f.Add([]byte(`{"shape": [1e3, 2]}`), false, false, uint16(0), uint16(0))
	f.Fuzz(func(t *testing.T, js []byte, fp4, nested bool, packedLen, blocks uint16) {
		typ := NF4
		if fp4 {
			typ = FP4
		}
		w := "p.weight"
		ts := map[string]TensorData{
			w:                                   {DType: "U8", Shape: []int{int(packedLen), 1}, Data: make([]byte, packedLen)},
			w + SuffixQuantMap:                  {DType: "F32", Shape: []int{16}, Data: make([]byte, 64)},
			w + SuffixQuantState + typ.String(): {DType: "U8", Shape: []int{len(js)}, Data: js},
		}
		if nested {
			ts[w+SuffixAbsmax] = TensorData{DType: "U8", Shape: []int{int(blocks)}, Data: make([]byte, blocks)}
			ts[w+SuffixNestedAbsmax] = TensorData{DType: "F32", Shape: []int{1}, Data: make([]byte, 4)}
			ts[w+SuffixNestedQuantMap] = TensorData{DType: "F32", Shape: []int{256}, Data: make([]byte, 1024)}
		} else {
			ts[w+SuffixAbsmax] = TensorData{DType: "F32", Shape: []int{int(blocks)}, Data: make([]byte, 4*int(blocks))}
		}
		q, err := FromTensors("p", getter(ts))
		if err != nil {
			if q != nil {
				t.Fatalf("non-nil result with error %v", err)
			}
			return
		}
		if err := q.Validate(); err != nil {
			t.Fatalf("accepted an invalid weight: %v", err)
		}
		row := make([]float32, q.Cols)
		for r := range q.Rows {
			q.DequantizeRow(r, row)
		}
		ts2, err := q.Tensors("p")
		if err != nil {
			t.Fatalf("accepted weight does not serialize: %v", err)
		}
		if _, err := FromTensors("p", getter(ts2)); err != nil {
			t.Fatalf("re-read of an accepted weight failed: %v", err)
		}
	})
}

package quant

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// vector is one reference file made with the bitsandbytes algorithm
// (testdata/{nf4,fp4}_blocks.json; testdata/README.md says what is known of
// their origin and what each field holds).
type vector struct {
	QuantType       string    `json:"quant_type"`
	BlockSize       int       `json:"blocksize"`
	NestedBlockSize int       `json:"nested_blocksize"`
	Code4           []float64 `json:"code4"`
	DynamicMap      []float64 `json:"dynamic_map"`
	Input           []float64 `json:"input"`
	Packed          []int     `json:"packed"`
	Absmax          []float64 `json:"absmax"`
	NestedOffset    float64   `json:"nested_offset"`
	NestedAbsmax    []float64 `json:"nested_absmax"`
	QuantizedAbsmax []int     `json:"quantized_absmax"`
	Dequantized     []float64 `json:"dequantized"`
}

// vectorCases are the reference files with the matrix shape each is cut
// into (any shape with the right element count gives the same bytes; the
// FP4 one has an odd count, a short last block and odd rows).
var vectorCases = []struct {
	file       string
	typ        Type
	rows, cols int
}{
	{"nf4_blocks.json", NF4, 65, 64},
	{"fp4_blocks.json", FP4, 7, 143},
}

func loadVector(t *testing.T, file string) *vector {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	var v vector
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return &v
}

func f32s(x []float64) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(v)
	}
	return out
}

// sameBits fails the test at the first few values whose float32 bits differ.
func sameBits(t *testing.T, what string, got []float32, want []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	bad := 0
	for i := range got {
		if math.Float32bits(got[i]) != math.Float32bits(float32(want[i])) {
			if bad < 5 {
				t.Errorf("%s[%d] = %v (%#08x), want %v (%#08x)", what, i, got[i], math.Float32bits(got[i]), float32(want[i]), math.Float32bits(float32(want[i])))
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d values differ", what, bad, len(got))
	}
}

func sameBytes(t *testing.T, what string, got []byte, want []int) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d bytes, want %d", what, len(got), len(want))
	}
	bad := 0
	for i := range got {
		if int(got[i]) != want[i] {
			if bad < 5 {
				t.Errorf("%s[%d] = %#02x, want %#02x", what, i, got[i], want[i])
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d bytes differ", what, bad, len(got))
	}
}

func TestReferenceVectors(t *testing.T) {
	for _, tc := range vectorCases {
		t.Run(tc.file, func(t *testing.T) {
			v := loadVector(t, tc.file)
			if v.QuantType != tc.typ.String() || v.BlockSize != DefaultBlockSize || v.NestedBlockSize != DefaultNestedBlockSize {
				t.Fatalf("vector is %s/%d/%d", v.QuantType, v.BlockSize, v.NestedBlockSize)
			}
			code := tc.typ.Code()
			sameBits(t, "code4", code[:], v.Code4)
			dm := DynamicMap()
			sameBits(t, "dynamic_map", dm[:], v.DynamicMap)

			w := f32s(v.Input)
			plain, err := Quantize(w, tc.rows, tc.cols, tc.typ, false)
			if err != nil {
				t.Fatal(err)
			}
			sameBytes(t, "packed", plain.Packed, v.Packed)
			sameBits(t, "absmax", plain.Absmax, v.Absmax)

			dq, err := Quantize(w, tc.rows, tc.cols, tc.typ, true)
			if err != nil {
				t.Fatal(err)
			}
			sameBytes(t, "packed (double quant)", dq.Packed, v.Packed)
			sameBits(t, "nested_offset", []float32{dq.Offset}, []float64{v.NestedOffset})
			sameBits(t, "nested_absmax", dq.NestedAbsmax, v.NestedAbsmax)
			sameBytes(t, "quantized_absmax", dq.AbsmaxQ, v.QuantizedAbsmax)
			forKernelSets(t, func(t *testing.T) {
				sameBits(t, "dequantized", dq.Dequantize(), v.Dequantized)

				// Row by row (odd Cols makes rows start on low nibbles).
				rows := make([]float32, 0, tc.rows*tc.cols)
				buf := make([]float32, tc.cols)
				for r := range tc.rows {
					dq.DequantizeRow(r, buf)
					rows = append(rows, buf...)
				}
				sameBits(t, "dequantized by row", rows, v.Dequantized)
			})
		})
	}
}

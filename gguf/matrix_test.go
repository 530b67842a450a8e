package gguf

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/golora/golora/tensor"
)

// TestMatrix: a tensor that is not a matrix of decodable whole blocks is
// refused with its name; Perm reorders rows; F32, F16 and BF16 in stored
// order are viewed as those dtypes and everything else is GGML.
func TestMatrix(t *testing.T) {
	for _, c := range []struct {
		tn   Tensor
		want string
	}{
		{Tensor{Name: "a", Type: Q8_0, Shape: []int{2, 2, 32}, Data: make([]byte, 4*34)}, "not a matrix"},
		{Tensor{Name: "b", Type: I8, Shape: []int{2, 4}, Data: make([]byte, 8)}, "cannot dequantize I8"},
		{Tensor{Name: "c", Type: Q8_0, Shape: []int{2, 32}, Data: make([]byte, 34)}, "do not hold 2 rows"},
		{Tensor{Name: "d", Type: Q4_K, Shape: []int{1, 32}, Data: make([]byte, 144)}, "do not hold 1 rows"},
	} {
		if _, err := c.tn.Matrix(); err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), `"`+c.tn.Name+`"`) {
			t.Errorf("%s: error %v, want one naming it and saying %q", c.tn.Name, err, c.want)
		}
	}
	r := rand.New(rand.NewPCG(1, 1))
	for _, typ := range []Type{F32, F16, BF16, Q6_K} {
		data, err := Random(typ, 3*256, 1, r)
		if err != nil {
			t.Fatal(err)
		}
		g, err := Tensor{Name: "w", Type: typ, Shape: []int{3, 256}, Data: data}.Matrix()
		if err != nil {
			t.Fatal(err)
		}
		want := map[Type]tensor.DType{F32: tensor.F32, F16: tensor.F16, BF16: tensor.BF16, Q6_K: tensor.GGML}[typ]
		if dt := g.Mat().DType; dt != want {
			t.Errorf("%s: viewed as %v, want %v", typ, dt, want)
		}
		vals := make([]float32, 3*256)
		if err := Dequantize(typ, data, vals); err != nil {
			t.Fatal(err)
		}
		g.Perm = []int32{2, 0, 1}
		m := g.Mat()
		if m.DType != tensor.GGML || m.Bytes() != len(data)+12 {
			t.Errorf("%s with a row map: %v of %d bytes, want GGML of %d", typ, m.DType, m.Bytes(), len(data)+12)
		}
		row := make([]float32, 256)
		for i, src := range g.Perm {
			if !slices.Equal(m.Row(i, row), vals[256*src:256*src+256]) {
				t.Errorf("%s: row %d is not stored row %d", typ, i, src)
			}
		}
	}
}

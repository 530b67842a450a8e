package safetensors

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/golora/golora/tensor"
)

func TestTensorMat(t *testing.T) {
	f32 := []float32{1, 2, 3, 4, 5, 6}
	u16 := []uint16{0x3f80, 0xc000, 0x3c00, 0x0001, 0x7c00, 0x8000}
	path := filepath.Join(t.TempDir(), "m.safetensors")
	err := Write(path, []Tensor{
		FromF32("f32", []int{2, 3}, f32),
		FromU16("bf16", BF16, []int{3, 2}, u16),
		FromU16("f16", F16, []int{6}, u16),
		FromU16("i16", I16, []int{6}, u16),
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, tc := range []struct {
		name       string
		rows, cols int
		dt         tensor.DType
	}{
		{"f32", 2, 3, tensor.F32},
		{"bf16", 3, 2, tensor.BF16},
		{"f16", 1, 6, tensor.F16}, // a vector as one row
	} {
		x, _ := f.Tensor(tc.name)
		m, err := x.Mat(tc.rows, tc.cols)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if m.DType != tc.dt || m.Rows != tc.rows || m.Cols != tc.cols || m.Stride != tc.cols {
			t.Errorf("%s: Mat is %v %d×%d stride %d, want %v %d×%d", tc.name, m.DType, m.Rows, m.Cols, m.Stride, tc.dt, tc.rows, tc.cols)
		}
		if tc.dt == tensor.F32 {
			if !slices.Equal(m.F32, f32) || littleEndian && unsafe.Pointer(&m.F32[0]) != unsafe.Pointer(&x.Data[0]) {
				t.Errorf("%s: Mat does not view the file's values", tc.name)
			}
		} else if !slices.Equal(m.U16, u16) {
			t.Errorf("%s: Mat holds %#04x, want the stored bits %#04x", tc.name, m.U16, u16)
		}
	}
	for _, tc := range []struct {
		name       string
		rows, cols int
		want       []string
	}{
		{"i16", 2, 3, []string{`"i16"`, "I16", "F32, BF16 or F16"}},
		{"f32", 3, 3, []string{`"f32"`, "6 elements", "3×3"}},
	} {
		x, _ := f.Tensor(tc.name)
		_, err := x.Mat(tc.rows, tc.cols)
		for _, w := range tc.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%s as %d×%d: error %v, want one mentioning %s", tc.name, tc.rows, tc.cols, err, w)
			}
		}
	}
}

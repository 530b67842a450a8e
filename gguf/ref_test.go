package gguf

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// refTensor is one tensor of testdata/ref.json, written by
// testdata/make_fixtures.py with llama.cpp's gguf-py.
type refTensor struct {
	File   string    `json:"file"`
	Type   Type      `json:"type"`
	Shape  []int     `json:"shape"`
	Source []float32 `json:"source"` // nil for the k-quants
	Values []float32 `json:"values"` // gguf-py's dequantization
}

func loadRef(t *testing.T) map[string]refTensor {
	t.Helper()
	b, err := os.ReadFile("testdata/ref.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref map[string]refTensor
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	return ref
}

// TestReadReference reads the files gguf-py wrote: every metadata value
// with its type, every tensor's type, shape and gguf-py's dequantized
// values, bit for bit.
func TestReadReference(t *testing.T) {
	f, err := Open("testdata/ref.gguf")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := []KV{
		{"general.architecture", "llama"},
		{"test.u8", uint8(200)},
		{"test.i8", int8(-100)},
		{"test.u16", uint16(60000)},
		{"test.i16", int16(-30000)},
		{"test.u32", uint32(4000000000)},
		{"test.i32", int32(-2000000000)},
		{"test.f32", float32(0.1)},
		{"test.bool", true},
		{"test.string", "héllo, GGUF ✓"},
		{"test.u64", uint64(18000000000000000000)},
		{"test.i64", int64(-9000000000000000000)},
		{"test.f64", -2.5e-300},
		{"test.arr.u8", []uint8{1, 2, 255}},
		{"test.arr.i32", []int32{-1, 0, 7}},
		{"test.arr.f32", []float32{0.5, -1.25}},
		{"test.arr.bool", []bool{true, false}},
		{"test.arr.str", []string{"a", "", "bc"}},
		{"test.arr.f64", []float64{1e100}},
	}
	if !reflect.DeepEqual(f.Metadata(), want) {
		t.Errorf("metadata\n got %#v\nwant %#v", f.Metadata(), want)
	}
	if f.Version() != 3 || f.Alignment() != 32 {
		t.Errorf("version %d alignment %d, want 3 and 32", f.Version(), f.Alignment())
	}
	if s, err := f.String("general.architecture"); err != nil || s != "llama" {
		t.Errorf("String: %q %v", s, err)
	}
	if n, err := f.Int("test.u32"); err != nil || n != 4000000000 {
		t.Errorf("Int: %d %v", n, err)
	}
	if x, err := f.Float("test.i16"); err != nil || x != -30000 {
		t.Errorf("Float: %v %v", x, err)
	}
	if _, err := f.Int("test.string"); err == nil {
		t.Error("Int of a STRING: no error")
	}
	if _, err := f.String("missing"); err == nil {
		t.Error("String of a missing key: no error")
	}

	f64, err := Open("testdata/ref64.gguf")
	if err != nil {
		t.Fatal(err)
	}
	defer f64.Close()
	if f64.Alignment() != 64 {
		t.Errorf("ref64.gguf alignment %d, want 64", f64.Alignment())
	}

	ref := loadRef(t)
	files := map[string]*File{"ref.gguf": f, "ref64.gguf": f64}
	seen := 0
	for name, r := range ref {
		tn, ok := files[r.File].Tensor(name)
		if !ok {
			t.Errorf("%s: tensor %q missing", r.File, name)
			continue
		}
		seen++
		if tn.Type != r.Type || !reflect.DeepEqual(tn.Shape, r.Shape) {
			t.Errorf("%s: %s %v, want %s %v", name, tn.Type, tn.Shape, r.Type, r.Shape)
			continue
		}
		got, err := tn.Float32()
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !sameBits(got, r.Values) {
			t.Errorf("%s: dequantized values differ from gguf-py's\n got %v\nwant %v", name, got, r.Values)
		}
	}
	if n := len(f.Tensors()) + len(f64.Tensors()); seen != n {
		t.Errorf("ref.json covers %d tensors, the files hold %d", seen, n)
	}
}

func sameBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// TestQuantizeReference quantizes the source values of every tensor gguf-py
// quantized and compares the bytes with gguf-py's.
func TestQuantizeReference(t *testing.T) {
	ref := loadRef(t)
	for name, r := range ref {
		if r.Source == nil {
			continue
		}
		t.Run(name, func(t *testing.T) {
			f, err := Open(filepath.Join("testdata", r.File))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			want, _ := f.Tensor(name)
			got, err := NewTensor(name, r.Type, r.Shape, r.Source)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Data, want.Data) {
				t.Errorf("%s bytes differ from gguf-py's\n got %x\nwant %x", r.Type, got.Data, want.Data)
			}
		})
	}
}

// TestWriteReference writes back what golora read from gguf-py's files:
// the bytes must be gguf-py's, so gguf-py reads golora's files as its own.
// meta.gguf has no tensors and so no padding after its metadata.
func TestWriteReference(t *testing.T) {
	for _, name := range []string{"ref.gguf", "ref64.gguf", "meta.gguf"} {
		path := filepath.Join("testdata", name)
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		f, err := OpenBytes(name, want)
		if err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(t.TempDir(), name)
		if err := Write(out, f.Metadata(), f.Tensors()); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: golora writes %d bytes that differ from gguf-py's %d", name, len(got), len(want))
		}
	}
}

package safetensors

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unsafe"
)

// within reports whether p points into buf.
func within(p unsafe.Pointer, buf []byte) bool {
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
	return uintptr(p) >= lo && uintptr(p) < lo+uintptr(len(buf))
}

func TestF32ZeroCopy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.safetensors")
	want := []float32{1, -2, 3.5, float32(math.Inf(-1)), 0, 6}
	err := Write(path, []Tensor{
		FromU16("b", BF16, []int{3}, []uint16{1, 2, 3}), // listed first, laid out after the F32
		FromF32("w", []int{2, 3}, want),
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, _ := f.Tensor("w")
	v, err := w.F32()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(v, want) {
		t.Fatalf("F32() = %v, want %v", v, want)
	}
	if unsafe.Pointer(&v[0]) != unsafe.Pointer(&w.Data[0]) || !within(unsafe.Pointer(&v[0]), f.mapped) {
		t.Errorf("F32() copied: %p, Data at %p", &v[0], &w.Data[0])
	}
	b, _ := f.Tensor("b")
	u, err := b.U16()
	if err != nil || !reflect.DeepEqual(u, []uint16{1, 2, 3}) {
		t.Fatalf("U16() = %v, %v", u, err)
	}
	if unsafe.Pointer(&u[0]) != unsafe.Pointer(&b.Data[0]) || !within(unsafe.Pointer(&u[0]), f.mapped) {
		t.Errorf("U16() copied")
	}
}

// TestF32Misaligned: a valid file whose header length is not a multiple of
// 4 puts F32 data off alignment; F32 must then copy, correctly.
func TestF32Misaligned(t *testing.T) {
	h := `{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`
	h += strings.Repeat(" ", 61-len(h)) // data starts at byte 69
	path := filepath.Join(t.TempDir(), "m.safetensors")
	if err := os.WriteFile(path, mkFile(h, le32(1.5, -7)), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, _ := f.Tensor("w")
	if uintptr(unsafe.Pointer(&w.Data[0]))%4 == 0 {
		t.Fatal("test setup: data is aligned")
	}
	v, err := w.F32()
	if err != nil || !reflect.DeepEqual(v, []float32{1.5, -7}) {
		t.Fatalf("F32() = %v, %v", v, err)
	}
	if within(unsafe.Pointer(&v[0]), f.mapped) {
		t.Error("misaligned F32() returned a view, want a copy")
	}
}

func TestViewErrors(t *testing.T) {
	cases := []struct {
		name string
		t    Tensor
		f32  bool // call F32 (else U16)
		want string
	}{
		{"F32 of BF16", Tensor{Name: "x", DType: BF16, Shape: []int{1}, Data: make([]byte, 2)}, true, `tensor "x" is BF16, not F32`},
		{"U16 of F32", Tensor{Name: "y", DType: F32, Shape: []int{1}, Data: make([]byte, 4)}, false, `tensor "y" is F32, not a 16-bit type`},
		{"F32 short data", Tensor{Name: "z", DType: F32, Shape: []int{2}, Data: make([]byte, 4)}, true, `tensor "z": 4 data bytes do not match F32 × [2]`},
		{"U16 negative shape", Tensor{Name: "n", DType: F16, Shape: []int{-1}, Data: nil}, false, `tensor "n": 0 data bytes`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.f32 {
				_, err = tc.t.F32()
			} else {
				_, err = tc.t.U16()
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	i64 := binary.LittleEndian.AppendUint64(nil, math.MaxUint64-5)
	cases := []struct {
		name    string
		tensors []Tensor
		meta    map[string]string
	}{
		{"nothing", nil, nil},
		{"metadata only", nil, map[string]string{"format": "pt", "": "empty key"}},
		{"scalar and empty", []Tensor{
			{Name: "s", DType: F64, Shape: []int{}, Data: make([]byte, 8)},
			{Name: "e", DType: F32, Shape: []int{3, 0, 2}, Data: []byte{}},
		}, nil},
		{"every dtype", []Tensor{
			{Name: "f64", DType: F64, Shape: []int{1}, Data: i64},
			FromF32("f32", []int{1, 2}, []float32{1, 2}),
			FromU16("f16", F16, []int{2, 1}, []uint16{0x3c00, 0x7c00}),
			FromU16("bf16", BF16, []int{1}, []uint16{0x3f80}),
			{Name: "i64", DType: I64, Shape: []int{1}, Data: i64},
			{Name: "i32", DType: I32, Shape: []int{1}, Data: []byte{1, 2, 3, 4}},
			{Name: "i16", DType: I16, Shape: []int{1}, Data: []byte{1, 2}},
			{Name: "i8", DType: I8, Shape: []int{3}, Data: []byte{1, 2, 3}},
			{Name: "u8", DType: U8, Shape: []int{1}, Data: []byte{9}},
			{Name: "bool", DType: BOOL, Shape: []int{2}, Data: []byte{0, 1}},
			{Name: "u16", DType: U16, Shape: []int{1}, Data: []byte{1, 2}},
			{Name: "u32", DType: U32, Shape: []int{1}, Data: []byte{1, 2, 3, 4}},
			{Name: "u64", DType: U64, Shape: []int{1}, Data: i64},
			{Name: "f8", DType: F8E4M3, Shape: []int{1}, Data: []byte{0x38}},
			{Name: "f8b", DType: F8E5M2, Shape: []int{1}, Data: []byte{0x3c}},
		}, map[string]string{"k": "v"}},
		{"names and metadata needing escapes", []Tensor{
			{Name: "a\"b\\c\n\x01\x7f é 😀 <&>", DType: U8, Shape: []int{1}, Data: []byte{5}},
			{Name: "", DType: U8, Shape: []int{1}, Data: []byte{6}},
		}, map[string]string{"q\"\t": "\x00\x1f\u2028 ü"}},
	}
	dir := t.TempDir()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".safetensors")
			if err := Write(path, tc.tensors, tc.meta); err != nil {
				t.Fatal(err)
			}
			f, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if len(f.Names()) != len(tc.tensors) {
				t.Fatalf("names %q", f.Names())
			}
			for _, w := range tc.tensors {
				g, ok := f.Tensor(w.Name)
				if !ok || !sameTensor(g, w) {
					t.Errorf("tensor %q: got %+v, want %+v", w.Name, g, w)
				}
				if sz := g.DType.Size(); sz > 0 && len(g.Data) > 0 && uintptr(unsafe.Pointer(&g.Data[0]))%uintptr(sz) != 0 {
					t.Errorf("tensor %q misaligned", w.Name)
				}
			}
			if len(tc.meta) > 0 && !reflect.DeepEqual(f.Metadata(), tc.meta) || len(tc.meta) == 0 && f.Metadata() != nil {
				t.Errorf("metadata %q, want %q", f.Metadata(), tc.meta)
			}
			raw, _ := os.ReadFile(path)
			mem, err := Marshal(tc.tensors, tc.meta)
			if err != nil || !bytes.Equal(raw, mem) {
				t.Errorf("Marshal differs from Write (%v)", err)
			}
			if n := binary.LittleEndian.Uint64(raw); n%8 != 0 {
				t.Errorf("header length %d is not a multiple of 8", n)
			}
			if g, err := OpenBytes("mem", mem); err != nil || len(g.Names()) != len(tc.tensors) {
				t.Errorf("OpenBytes: %v", err)
			}
		})
	}
}

func TestWriteRejects(t *testing.T) {
	cases := []struct {
		name    string
		tensors []Tensor
		meta    map[string]string
		want    string
	}{
		{"duplicate", []Tensor{FromF32("a", []int{1}, []float32{1}), FromF32("a", []int{1}, []float32{2})}, nil, `tensor "a": duplicate tensor name`},
		{"reserved name", []Tensor{FromF32("__metadata__", []int{1}, []float32{1})}, nil, "reserved"},
		{"short data", []Tensor{FromF32("a", []int{2, 2}, []float32{1, 2, 3})}, nil, `tensor "a": data: 12 bytes, but F32 × [2 2] needs 16`},
		{"negative dim", []Tensor{{Name: "n", DType: U8, Shape: []int{-1}}}, nil, `tensor "n": shape: dimension 0 is negative`},
		{"unknown dtype", []Tensor{{Name: "q", DType: "Q8", Shape: []int{1}, Data: []byte{1}}}, nil, `tensor "q": dtype: unknown or unsupported dtype "Q8"`},
		{"bad UTF-8 name", []Tensor{{Name: "\xff", DType: U8, Shape: []int{1}, Data: []byte{1}}}, nil, "not valid UTF-8"},
		{"bad UTF-8 metadata", nil, map[string]string{"k": "\xfe"}, "__metadata__"},
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "keep.safetensors")
	if err := Write(path, []Tensor{FromF32("old", []int{1}, []float32{1})}, nil); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := Write(path, tc.tensors, tc.meta)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("err = %v, want %q naming %s", err, tc.want, path)
			}
			after, _ := os.ReadFile(path)
			if !bytes.Equal(before, after) {
				t.Fatal("a refused Write changed the file")
			}
		})
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only keep.safetensors", len(entries))
	}
}

func TestOpenErrorsAndClose(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(filepath.Join(dir, "missing.safetensors")); err == nil || !os.IsNotExist(unwrapAll(err)) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory: %v", err)
	}
	path := filepath.Join(dir, "ok.safetensors")
	if err := Write(path, []Tensor{FromF32("a", []int{1}, []float32{1})}, nil); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.Path() != path {
		t.Errorf("Path() = %q", f.Path())
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}

package gguf

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// header assembles a file by hand: the fixed header, then parts.
func header(version uint32, nTensors, nKV uint64, parts ...func(e *encoder)) []byte {
	var b bytes.Buffer
	e := &encoder{w: &b}
	e.raw([]byte(magic))
	e.u32(version)
	e.u64(nTensors)
	e.u64(nKV)
	for _, p := range parts {
		p(e)
	}
	return b.Bytes()
}

// tensorInfo writes one tensor info with ne given innermost first.
func tensorInfo(name string, typ uint32, off uint64, ne ...uint64) func(e *encoder) {
	return func(e *encoder) {
		e.str(name)
		e.u32(uint32(len(ne)))
		for _, d := range ne {
			e.u64(d)
		}
		e.u32(typ)
		e.u64(off)
	}
}

func kv(key string, typ ValueType, v func(e *encoder)) func(e *encoder) {
	return func(e *encoder) { e.str(key); e.u32(uint32(typ)); v(e) }
}

func pad(n int) func(e *encoder) { return func(e *encoder) { e.raw(make([]byte, n)) } }

// TestParseErrors: each malformed file fails with a *FormatError naming the
// file and the key or tensor concerned.
func TestParseErrors(t *testing.T) {
	ref, err := os.ReadFile("testdata/ref.gguf")
	if err != nil {
		t.Fatal(err)
	}
	u32 := func(x uint32) func(e *encoder) { return func(e *encoder) { e.u32(x) } }
	cases := []struct {
		name string
		buf  []byte
		want []string // substrings of the message
	}{
		{"empty", nil, []string{"too short for the magic"}},
		{"bad magic", append([]byte("GGUX"), ref[4:]...), []string{`bad magic "GGUX"`}},
		{"version 1", header(1, 0, 0), []string{"version 1"}},
		{"version 9", header(9, 0, 0), []string{"unsupported version 9"}},
		{"big-endian", header(3<<24, 0, 0), []string{"big-endian"}},
		{"truncated", ref[:len(ref)/3], []string{"truncated"}},
		{"absurd tensor count", header(3, 1<<40, 0), []string{"tensor count"}},
		{"absurd key length", header(3, 0, 1, func(e *encoder) { e.u64(1 << 50) }, pad(16)), []string{"key of metadata entry 0 length"}},
		{"absurd string", header(3, 0, 1, kv("k.s", TypeString, func(e *encoder) { e.u64(1 << 62) })), []string{`key "k.s"`, "string length"}},
		{"absurd array", header(3, 0, 1, kv("k.a", TypeArray, func(e *encoder) { e.u32(uint32(TypeUint32)); e.u64(1 << 40) })), []string{`key "k.a"`, "array length"}},
		{"array of arrays", header(3, 0, 1, kv("k.aa", TypeArray, func(e *encoder) { e.u32(uint32(TypeArray)); e.u64(1) })), []string{`key "k.aa"`, "array of arrays"}},
		{"unknown value type", header(3, 0, 1, kv("k.x", 99, u32(0))), []string{`key "k.x"`, "unknown value type 99"}},
		{"bad bool", header(3, 0, 1, kv("k.b", TypeBool, func(e *encoder) { e.u8(2) })), []string{`key "k.b"`, "BOOL"}},
		{"duplicate key", header(3, 0, 2, kv("k", TypeUint32, u32(1)), kv("k", TypeUint32, u32(2))), []string{`key "k"`, "duplicate"}},
		{"alignment not a power of two", header(3, 0, 1, kv(AlignmentKey, TypeUint32, u32(48))), []string{`key "general.alignment"`, "power of two"}},
		{"alignment of another type", header(3, 0, 1, kv(AlignmentKey, TypeInt32, u32(32))), []string{`key "general.alignment"`, "INT32"}},
		{"unknown tensor type", header(3, 1, 0, tensorInfo("w", 77, 0, 4)), []string{`tensor "w"`, "unknown tensor type 77"}},
		{"too many dimensions", header(3, 1, 0, tensorInfo("w", 0, 0, 1, 1, 1, 1, 1)), []string{`tensor "w"`, "5 dimensions"}},
		{"duplicate tensor", header(3, 2, 0, tensorInfo("w", 0, 0, 1), tensorInfo("w", 0, 32, 1)), []string{`tensor "w"`, "duplicate"}},
		{"partial block", header(3, 1, 0, tensorInfo("q", uint32(Q8_0), 0, 16, 2), pad(200)), []string{`tensor "q"`, "whole number"}},
		{"misaligned offset", header(3, 1, 0, tensorInfo("w", 0, 4, 2), pad(200)), []string{`tensor "w"`, "not a multiple of the alignment 32"}},
		{"past the end", header(3, 1, 0, tensorInfo("w", 0, 0, 1000), pad(100)), []string{`tensor "w"`, "runs past the end"}},
		{"offset past the end", header(3, 1, 0, tensorInfo("w", 0, 1<<60, 1), pad(100)), []string{`tensor "w"`, "runs past the end"}},
		{"overlap", header(3, 2, 0, tensorInfo("a", 0, 0, 16), tensorInfo("b", 0, 32, 16), pad(200)), []string{`tensor "b"`, "overlaps"}},
		{"data section missing", header(3, 1, 0, tensorInfo("w", 0, 0, 1)), []string{"data section starts"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bad.gguf")
			if err := os.WriteFile(path, c.buf, 0o644); err != nil {
				t.Fatal(err)
			}
			f, err := Open(path)
			if err == nil {
				f.Close()
				t.Fatal("no error")
			}
			var fe *FormatError
			if len(c.buf) >= 4 && !errors.As(err, &fe) {
				t.Fatalf("%T %v is not a *FormatError", err, err)
			}
			msg := err.Error()
			for _, w := range append([]string{path}, c.want...) {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not mention %q", msg, w)
				}
			}
		})
	}
}

// TestMarshalErrors: what Marshal refuses, naming the key or tensor.
func TestMarshalErrors(t *testing.T) {
	good := Tensor{Name: "w", Type: F32, Shape: []int{2}, Data: make([]byte, 8)}
	cases := []struct {
		name    string
		meta    []KV
		tensors []Tensor
		want    string
	}{
		{"Go type", []KV{{"k", 3}}, nil, `key "k": Go type int`},
		{"duplicate key", []KV{{"k", "a"}, {"k", "b"}}, nil, `key "k": duplicate`},
		{"alignment", []KV{{AlignmentKey, uint32(3)}}, nil, "power of two"},
		{"duplicate tensor", nil, []Tensor{good, good}, `tensor "w": duplicate`},
		{"short data", nil, []Tensor{{Name: "v", Type: F32, Shape: []int{3}, Data: make([]byte, 8)}}, `tensor "v": 8 data bytes`},
		{"partial block", nil, []Tensor{{Name: "q", Type: Q4_0, Shape: []int{16}, Data: make([]byte, 9)}}, `tensor "q": Q4_0 row of 16`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Marshal(&bytes.Buffer{}, c.meta, c.tensors)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one mentioning %q", err, c.want)
			}
		})
	}
	if _, err := Quantize(Q3_K, make([]float32, 256)); err == nil {
		t.Error("Quantize to Q3_K: no error")
	}
	if err := Dequantize(Q8_K, make([]byte, Q8_K.TypeSize()), make([]float32, 256)); err == nil || !strings.Contains(err.Error(), "Q8_K") {
		t.Errorf("Dequantize Q8_K: %v", err)
	}
}

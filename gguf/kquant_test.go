package gguf_test

import (
	"bytes"
	"encoding/binary"
	"hash/fnv"
	"math"
	"testing"

	"github.com/golora/golora/gguf"
	"github.com/golora/golora/tokenizer/tokenizertest"
)

// kquantBulk regenerates make_kquant.c's bulk rows (its uniform, normal
// and bulk, operation for operation): rows of ncols values.
func kquantBulk(rows, ncols int) []float32 {
	rng := uint32(777)
	uniform := func() float32 {
		rng = rng*1103515245 + 12345
		return float32(rng>>8&0xffffff) / 16777216
	}
	normal := func() float32 {
		s := uniform()
		s += uniform()
		s += uniform()
		s += uniform()
		return (s - 2) * 1.7320508
	}
	out := make([]float32, 0, rows*ncols)
	for r := range rows {
		s := float32(math.Ldexp(1, r%13-9))
		for i := range ncols {
			v := normal() * s
			if r%3 == 0 {
				v += float32(0.3 * s)
			}
			if r%5 == 0 && i%97 == 0 {
				v += float32(8 * s)
			}
			out = append(out, v)
		}
	}
	return out
}

// fnv64 is FNV-1a 64 of b.
func fnv64(b []byte) uint64 {
	h := fnv.New64a()
	h.Write(b)
	return h.Sum64()
}

// f32Bytes is v's little-endian bytes.
func f32Bytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

// TestQuantizeGGML: Quantize writes the bytes ggml's own quantizers wrote
// (testdata/kquant/make_kquant.c through ggml_quantize_chunk without an
// importance matrix), for rows of hard cases (zero, constant, ±large, tiny,
// one-signed, sparse, outliers, the F16 range's edge, heavy tails;
// compared byte for byte) and for 2048 rows of scaled pseudo-normal values
// (4096 k-quant super-blocks; compared by hash).
func TestQuantizeGGML(t *testing.T) {
	b := tokenizertest.Gunzip(t, "testdata/kquant/kquant.bin.gz")
	if string(b[:4]) != "GQK2" {
		t.Fatalf("magic %q", b[:4])
	}
	b = b[4:]
	u32 := func() int { v := binary.LittleEndian.Uint32(b); b = b[4:]; return int(v) }
	u64 := func() uint64 { v := binary.LittleEndian.Uint64(b); b = b[8:]; return v }
	rows, cols := u32(), u32()
	src := make([]float32, rows*cols)
	for i := range src {
		src[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	b = b[4*len(src):]
	nbulk := u32()
	bulk := kquantBulk(nbulk, cols)
	if h := u64(); fnv64(f32Bytes(bulk)) != h {
		t.Fatal("the regenerated bulk rows differ from make_kquant.c's")
	}
	seen := 0
	for len(b) > 0 {
		typ, n := gguf.Type(u32()), u32()
		want := b[:n]
		b = b[n:]
		wantBulk := u64()
		seen++
		t.Run(typ.String(), func(t *testing.T) {
			got, err := gguf.Quantize(typ, src)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("%d bytes, want %d", len(got), len(want))
			}
			rowBytes := len(want) / rows
			for r := range rows {
				g, w := got[r*rowBytes:(r+1)*rowBytes], want[r*rowBytes:(r+1)*rowBytes]
				if !bytes.Equal(g, w) {
					i := 0
					for g[i] == w[i] {
						i++
					}
					t.Errorf("row %d: byte %d (block %d) is %#02x, ggml wrote %#02x", r, i, i/typ.TypeSize(), g[i], w[i])
				}
			}
			if got, err = gguf.Quantize(typ, bulk); err != nil {
				t.Fatal(err)
			}
			if fnv64(got) != wantBulk {
				t.Errorf("the %d bulk rows' bytes differ from ggml's", nbulk)
			}
		})
	}
	if seen != 7 {
		t.Errorf("%d types in the fixture, want 7", seen)
	}
}

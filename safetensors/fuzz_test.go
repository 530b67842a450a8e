package safetensors

import (
	"bytes"
	"errors"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the parser behind Open and OpenBytes.
// It must never panic, and its errors must name the file; what it accepts
// must be self-consistent, and must survive Marshal and a second parse
// unchanged. Seeds: the reference
// implementation's test vectors (rustVectors) and testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	for _, v := range rustVectors {
		f.Add(v.want)
	}
	f.Add(mkFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"U8","shape":[1],"data_offsets":[4,5]}}`, make([]byte, 8)))
	f.Add(mkFile(`{"__metadata__":{"k":"v"},"s":{"dtype":"BF16","shape":[],"data_offsets":[0,2]}}`, []byte{1, 2}))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := parse("fuzz", data)
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) || fe.Path != "fuzz" {
				t.Fatalf("error %T %v is not a *FormatError naming the file", err, err)
			}
			return
		}
		for _, tn := range p.tensors {
			n, ok := byteSize(tn.DType, tn.Shape)
			if !ok || n != uint64(len(tn.Data)) {
				t.Fatalf("tensor %q: %d bytes for %s × %v", tn.Name, len(tn.Data), tn.DType, tn.Shape)
			}
		}
		out, err := Marshal(p.tensors, p.metadata)
		if err != nil {
			t.Fatalf("Marshal of a parsed file: %v", err)
		}
		q, err := parse("again", out)
		if err != nil {
			t.Fatalf("parse of Marshal output: %v", err)
		}
		if len(q.tensors) != len(p.tensors) || len(q.metadata) != len(p.metadata) {
			t.Fatalf("round trip changed the file: %d→%d tensors", len(p.tensors), len(q.tensors))
		}
		byName := map[string]Tensor{}
		for _, tn := range q.tensors {
			byName[tn.Name] = tn
		}
		for _, tn := range p.tensors {
			g, ok := byName[tn.Name]
			if !ok || !sameTensor(g, tn) {
				t.Fatalf("tensor %q changed in the round trip", tn.Name)
			}
		}
		for k, v := range p.metadata {
			if q.metadata[k] != v {
				t.Fatalf("metadata %q changed", k)
			}
		}
		if again, _ := Marshal(q.tensors, q.metadata); !bytes.Equal(again, out) {
			t.Fatal("Marshal is not deterministic")
		}
	})
}

// FuzzParseIndex: any model.safetensors.index.json bytes give a weight map
// or a *FormatError naming the file, never a panic; every shard it accepts
// is a file name inside the model directory. Seeds: the index files of
// testdata and testdata/ref/llama_sharded, and testdata/fuzz/FuzzParseIndex.
func FuzzParseIndex(f *testing.F) {
	for _, p := range []string{filepath.Join("testdata", "index_python.json"), filepath.Join("..", "testdata", "ref", "llama_sharded", "model.safetensors.index.json")} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"metadata": {}, "weight_map": {"a": "../x.safetensors", "b": "sub/y.safetensors", "c": "C:\\z"}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		wm, err := parseIndex("index.json", raw)
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) || fe.Path != "index.json" {
				t.Fatalf("error %T %v is not a *FormatError naming the file", err, err)
			}
			return
		}
		if len(wm) == 0 {
			t.Fatal("empty weight map accepted")
		}
		for tensor, shard := range wm {
			if p := path.Join("/model", shard); !strings.HasPrefix(p, "/model/") || strings.Contains(shard, `\`) {
				t.Fatalf("tensor %q: shard %q is outside the directory", tensor, shard)
			}
		}
	})
}

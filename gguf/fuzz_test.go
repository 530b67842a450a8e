package gguf

import (
	"bytes"
	"errors"
	"os"
	"reflect"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the parser behind Open. It must never
// panic and must fail only with a *FormatError; what it accepts must
// survive Marshal and a second parse unchanged. Seeds: the gguf-py files
// in testdata and the corpus in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"testdata/ref.gguf", "testdata/ref64.gguf", "testdata/meta.gguf"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := parse("fuzz", data)
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error %T %v is not a *FormatError", err, err)
			}
			return
		}
		for _, tn := range p.Tensors() {
			if n, err := dataSize(tn.Type, tn.Shape); err != nil || n != len(tn.Data) {
				t.Fatalf("tensor %q: %d bytes for %s × %v (%v)", tn.Name, len(tn.Data), tn.Type, tn.Shape, err)
			}
		}
		var out bytes.Buffer
		if err := Marshal(&out, p.Metadata(), p.Tensors()); err != nil {
			t.Fatalf("Marshal of a parsed file: %v", err)
		}
		q, err := parse("again", out.Bytes())
		if err != nil {
			t.Fatalf("parse of Marshal output: %v", err)
		}
		if !reflect.DeepEqual(q.Metadata(), p.Metadata()) {
			t.Fatal("metadata changed in the round trip")
		}
		if len(q.Tensors()) != len(p.Tensors()) {
			t.Fatalf("round trip changed the tensor count %d → %d", len(p.Tensors()), len(q.Tensors()))
		}
		for i, tn := range p.Tensors() {
			g := q.Tensors()[i]
			if g.Name != tn.Name || g.Type != tn.Type || !reflect.DeepEqual(g.Shape, tn.Shape) || !bytes.Equal(g.Data, tn.Data) {
				t.Fatalf("tensor %q changed in the round trip", tn.Name)
			}
		}
	})
}

// Command gen makes the reference fixtures of package safetensors with an
// independent implementation, github.com/nlpodyssey/safetensors (a Go port of
// the Hugging Face reference crate), and checks files golora wrote with it.
//
//	cd safetensors/testdata/gen
//	go run .                                   # writes ../reference.safetensors and ../reference.json
//	go run . -verify ../golora_written.safetensors
//	go run . -seeds ../fuzz/FuzzParse              # rewrites the hand-made fuzz seeds
//
// -verify deserializes the file with the independent implementation and
// checks that it holds exactly the tensors and metadata of the fixture.
package main

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"

	st "github.com/nlpodyssey/safetensors"
)

type tensor struct {
	Name  string   `json:"name"`
	DType string   `json:"dtype"`
	Shape []uint64 `json:"shape"`
	Hex   string   `json:"data_hex"`
	data  []byte
}

func le(vals ...any) []byte {
	var b bytes.Buffer
	for _, v := range vals {
		if err := binary.Write(&b, binary.LittleEndian, v); err != nil {
			log.Fatal(err)
		}
	}
	return b.Bytes()
}

// fixture is the tensor set: every dtype golora cares about, odd shapes, a
// one-element tensor, an empty tensor, special float values and a name that needs
// escaping.
func fixture() ([]tensor, map[string]string) {
	ts := []tensor{
		{Name: "model.embed.weight", DType: "F32", Shape: []uint64{2, 3},
			data: le(float32(0.5), float32(-1.25), float32(math.Copysign(0, -1)), float32(math.Inf(1)),
				math.Float32frombits(0x7fc00001), float32(65504))},
		{Name: "norm.weight", DType: "BF16", Shape: []uint64{3}, data: le(uint16(0x3f80), uint16(0xbf00), uint16(0x7f80))},
		{Name: "attn.q.weight", DType: "F16", Shape: []uint64{1, 1, 2}, data: le(uint16(0x3c00), uint16(0xc000))},
		{Name: "positions", DType: "I64", Shape: []uint64{2}, data: le(int64(7), int64(-9))},
		{Name: "bytes", DType: "U8", Shape: []uint64{5}, data: []byte{1, 2, 3, 4, 255}},
		{Name: "scale", DType: "F64", Shape: []uint64{1}, data: le(math.Pi)}, // nlpodyssey rejects shape [] (a scalar)
		{Name: "mask", DType: "BOOL", Shape: []uint64{3}, data: []byte{1, 0, 1}},
		{Name: "empty", DType: "I32", Shape: []uint64{0, 4}, data: []byte{}},
		{Name: "counts", DType: "I32", Shape: []uint64{2, 1}, data: le(int32(-1), int32(1<<30))},
		{Name: "ids", DType: "U16", Shape: []uint64{3}, data: le(uint16(1), uint16(2), uint16(65535))},
		{Name: "odd <name> \"q\" é/ü", DType: "F32", Shape: []uint64{1}, data: le(float32(-2))},
	}
	for i := range ts {
		ts[i].Hex = hex.EncodeToString(ts[i].data)
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].Name < ts[j].Name })
	meta := map[string]string{"format": "pt", "note": "made by nlpodyssey/safetensors"}
	return ts, meta
}

func main() {
	verify := flag.String("verify", "", "check this file against the fixture with the independent reader")
	seeds := flag.String("seeds", "", "write the fuzz seed corpus into this directory")
	flag.Parse()
	if *seeds != "" {
		writeSeeds(*seeds)
		return
	}
	ts, meta := fixture()
	if *verify != "" {
		if err := check(*verify, ts, meta); err != nil {
			log.Fatalf("%s: %v", *verify, err)
		}
		fmt.Printf("%s: OK, the independent reader finds the %d fixture tensors and metadata\n", *verify, len(ts))
		return
	}
	views := map[string]st.TensorView{}
	for _, t := range ts {
		dt, err := st.ParseDType(t.DType)
		if err != nil {
			log.Fatal(err)
		}
		v, err := st.NewTensorView(dt, t.Shape, t.data)
		if err != nil {
			log.Fatalf("%s: %v", t.Name, err)
		}
		views[t.Name] = v
	}
	out, err := st.Serialize(views, meta)
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile("../reference.safetensors", out, 0o644); err != nil {
		log.Fatal(err)
	}
	manifest, err := json.MarshalIndent(map[string]any{"metadata": meta, "tensors": ts}, "", "  ")
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile("../reference.json", append(manifest, '\n'), 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("wrote ../reference.safetensors (%d bytes) and ../reference.json\n", len(out))
}

func check(path string, ts []tensor, meta map[string]string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	got, err := st.Deserialize(raw)
	if err != nil {
		return err
	}
	if got.Len() != len(ts) {
		return fmt.Errorf("%d tensors, want %d", got.Len(), len(ts))
	}
	for _, t := range ts {
		v, ok := got.Tensor(t.Name)
		if !ok {
			return fmt.Errorf("tensor %q missing", t.Name)
		}
		if v.DType().String() != t.DType || !reflect.DeepEqual(append([]uint64{}, v.Shape()...), t.Shape) || !bytes.Equal(v.Data(), t.data) {
			return fmt.Errorf("tensor %q: got %s %v %x, want %s %v %x", t.Name, v.DType(), v.Shape(), v.Data(), t.DType, t.Shape, t.data)
		}
	}
	_, header, err := st.ReadMetadata(raw)
	if err != nil {
		return err
	}
	if !reflect.DeepEqual(header.Metadata(), meta) {
		return fmt.Errorf("metadata %v, want %v", header.Metadata(), meta)
	}
	return nil
}

func mk(header string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	return append(append(b, header...), data...)
}

// writeSeeds writes the fuzz seeds of FuzzParse in the go test corpus
// format: the reference fixture, a truncation of it, and small valid and
// invalid files.
func writeSeeds(dir string) {
	ref, err := os.ReadFile("../reference.safetensors")
	if err != nil {
		log.Fatal(err)
	}
	seeds := map[string][]byte{
		"reference_file":   ref,
		"truncated_header": ref[:100],
		"overlap":          mk(`{"a":{"dtype":"I32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"I32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)),
		"hole":             mk(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, make([]byte, 2)),
		"nested_garbage":   mk(`{"a":{"dtype":"U8","x":[[[[{"y":null}]]]],"shape":[1],"data_offsets":[0,1]},"__metadata__":{"a":"\u00e9\ud83d\ude00"}}`, []byte{1}),
		"zero_sized":       mk(`{"z":{"dtype":"F64","shape":[0,7],"data_offsets":[0,0]}}  `, nil),
	}
	for name, b := range seeds {
		content := "go test fuzz v1\n[]byte(" + strconv.Quote(string(b)) + ")\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Printf("wrote %d seeds to %s\n", len(seeds), dir)
}

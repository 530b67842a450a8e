package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/golora_written.safetensors")

// manifest is testdata/reference.json, written by testdata/gen from the
// same inputs it gave the independent writer.
type manifest struct {
	Metadata map[string]string `json:"metadata"`
	Tensors  []struct {
		Name  string `json:"name"`
		DType string `json:"dtype"`
		Shape []int  `json:"shape"`
		Hex   string `json:"data_hex"`
	} `json:"tensors"`
}

func loadManifest(t *testing.T) (manifest, []Tensor) {
	t.Helper()
	raw, err := os.ReadFile("testdata/reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var m manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	var ts []Tensor
	for _, e := range m.Tensors {
		data, err := hex.DecodeString(e.Hex)
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, Tensor{Name: e.Name, DType: DType(e.DType), Shape: e.Shape, Data: data})
	}
	return m, ts
}

// sameTensor compares name, dtype, shape (nil and empty alike) and bytes.
func sameTensor(a, b Tensor) bool {
	return a.Name == b.Name && a.DType == b.DType && len(a.Shape) == len(b.Shape) &&
		(len(a.Shape) == 0 || reflect.DeepEqual(a.Shape, b.Shape)) && bytes.Equal(a.Data, b.Data)
}

// TestReadReference reads the file written by the independent
// implementation (github.com/nlpodyssey/safetensors, via testdata/gen).
func TestReadReference(t *testing.T) {
	m, want := loadManifest(t)
	f, err := Open("testdata/reference.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if len(f.Names()) != len(want) {
		t.Fatalf("names %q, want %d tensors", f.Names(), len(want))
	}
	for i, w := range want { // the manifest is sorted by name, like Names
		t.Run(w.Name, func(t *testing.T) {
			if f.Names()[i] != w.Name {
				t.Fatalf("Names()[%d] = %q, want %q", i, f.Names()[i], w.Name)
			}
			got, ok := f.Tensor(w.Name)
			if !ok || !sameTensor(got, w) {
				t.Fatalf("got %+v, want %+v", got, w)
			}
		})
	}
	if !reflect.DeepEqual(f.Metadata(), m.Metadata) {
		t.Errorf("metadata %v, want %v", f.Metadata(), m.Metadata)
	}
	// Values, not just bytes, for the two types golora computes with.
	emb, _ := f.Tensor("model.embed.weight")
	v, err := emb.F32()
	if err != nil {
		t.Fatal(err)
	}
	if v[0] != 0.5 || v[1] != -1.25 || !math.Signbit(float64(v[2])) || !math.IsInf(float64(v[3]), 1) ||
		math.Float32bits(v[4]) != 0x7fc00001 || v[5] != 65504 {
		t.Errorf("model.embed.weight = %v", v)
	}
	norm, _ := f.Tensor("norm.weight")
	u, err := norm.U16()
	if err != nil || !reflect.DeepEqual(u, []uint16{0x3f80, 0xbf00, 0x7f80}) {
		t.Errorf("norm.weight U16 = %#v, %v", u, err)
	}
}

// dataOffsets parses a file's header and returns name → [begin, end] and
// the data buffer.
func dataOffsets(t *testing.T, buf []byte) (map[string][2]uint64, []byte) {
	t.Helper()
	n := binary.LittleEndian.Uint64(buf)
	infos, _, err := parseHeader("x", buf[8:8+n])
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][2]uint64{}
	for _, in := range infos {
		out[in.name] = [2]uint64{in.begin, in.end}
	}
	return out, buf[8+n:]
}

// TestWriteGolden writes the fixture tensors with our writer and compares
// with testdata/golora_written.safetensors, a file the independent reader
// accepts (cd testdata/gen && go run . -verify ../golora_written.safetensors).
// The data buffer and every tensor's offsets must equal those of the
// independent writer's file, whose layout rule is the reference's.
func TestWriteGolden(t *testing.T) {
	m, ts := loadManifest(t)
	path := filepath.Join(t.TempDir(), "out.safetensors")
	if err := Write(path, ts, m.Metadata); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile("testdata/golora_written.safetensors", got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	golden, err := os.ReadFile("testdata/golora_written.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, golden) {
		t.Errorf("writer output differs from testdata/golora_written.safetensors")
	}
	ref, err := os.ReadFile("testdata/reference.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	refOff, refData := dataOffsets(t, ref)
	gotOff, gotData := dataOffsets(t, got)
	if !reflect.DeepEqual(refOff, gotOff) {
		t.Errorf("offsets %v, independent writer's %v", gotOff, refOff)
	}
	if !bytes.Equal(refData, gotData) {
		t.Errorf("data buffer differs from the independent writer's")
	}
	if n := binary.LittleEndian.Uint64(got); n%8 != 0 || !bytes.HasPrefix(got[8:], []byte(`{"__metadata__":{"format":"pt","note":`)) {
		t.Errorf("header (len %d) = %.60q…", n, got[8:])
	}
}

func le32(vals ...float32) []byte {
	var b []byte
	for _, v := range vals {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

// rustVectors are byte strings from the test suite of the reference
// implementation (Rust crate safetensors, tests of tensor.rs, and the Python
// binding's test_simple.py): exact serializer output for the given input.
var rustVectors = []struct {
	name    string
	tensors []Tensor
	meta    map[string]string
	want    []byte
}{
	{
		name:    "test_serialization",
		tensors: []Tensor{{Name: "attn.0", DType: F32, Shape: []int{1, 2, 3}, Data: le32(0, 1, 2, 3, 4, 5)}},
		want: []byte{
			64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100,
			116, 121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34,
			58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102, 115,
			101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 0, 0, 0, 0, 0, 0, 128, 63,
			0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
		},
	},
	{
		name: "test_empty",
		want: []byte{8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32},
	},
	{
		name: "test_empty with metadata",
		meta: map[string]string{"framework": "pt"},
		want: []byte{
			40, 0, 0, 0, 0, 0, 0, 0, 123, 34, 95, 95, 109, 101, 116, 97, 100, 97, 116, 97, 95,
			95, 34, 58, 123, 34, 102, 114, 97, 109, 101, 119, 111, 114, 107, 34, 58, 34, 112,
			116, 34, 125, 125, 32, 32, 32, 32, 32,
		},
	},
	{
		name:    "test_serialization_forced_alignement",
		tensors: []Tensor{{Name: "attn0", DType: F32, Shape: []int{1, 1, 2, 3}, Data: le32(0, 1, 2, 3, 4, 5)}},
		want: []byte{
			72, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 48, 34, 58, 123, 34, 100, 116,
			121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58,
			91, 49, 44, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102,
			115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 32, 32, 32, 32, 32,
			32, 32, 0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0,
			160, 64,
		},
	},
	{
		name:    "python test_serialization",
		tensors: []Tensor{{Name: "test", DType: I32, Shape: []int{2, 2}, Data: append(make([]byte, 12), 1, 0, 0, 0)}},
		want: []byte("@\x00\x00\x00\x00\x00\x00\x00" +
			`{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}    ` +
			strings.Repeat("\x00", 12) + "\x01\x00\x00\x00"),
	},
	{
		name: "python test_serialization_forces_alignment",
		tensors: []Tensor{ // given F16 first: the writer must put I32 first
			{Name: "test2", DType: F16, Shape: []int{2, 2}, Data: make([]byte, 8)},
			{Name: "test1", DType: I32, Shape: []int{2, 2}, Data: make([]byte, 16)},
		},
		want: []byte("\x80\x00\x00\x00\x00\x00\x00\x00" +
			`{"test1":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]},"test2":{"dtype":"F16","shape":[2,2],"data_offsets":[16,24]}}      ` +
			strings.Repeat("\x00", 24)),
	},
	{
		name:    "python test_serialization_metadata",
		tensors: []Tensor{{Name: "test1", DType: I32, Shape: []int{2, 2}, Data: make([]byte, 16)}},
		meta:    map[string]string{"framework": "pt"},
		want: []byte("`\x00\x00\x00\x00\x00\x00\x00" +
			`{"__metadata__":{"framework":"pt"},"test1":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}} ` +
			strings.Repeat("\x00", 16)),
	},
}

func TestMarshalMatchesReference(t *testing.T) {
	for _, tc := range rustVectors {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Marshal(tc.tensors, tc.meta)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tc.want) {
				t.Fatalf("got  %q\nwant %q", got, tc.want)
			}
			f, err := OpenBytes(tc.name, tc.want)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.tensors {
				if g, ok := f.Tensor(w.Name); !ok || !sameTensor(g, w) {
					t.Errorf("read back %+v, want %+v", g, w)
				}
			}
			if len(tc.meta) > 0 && !reflect.DeepEqual(f.Metadata(), tc.meta) {
				t.Errorf("metadata %v, want %v", f.Metadata(), tc.meta)
			}
		})
	}
}

// TestReferenceReaderCases replays the reference implementation's reader
// tests: what it accepts we accept, what it rejects we reject.
func TestReferenceReaderCases(t *testing.T) {
	const test = `{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}`
	zeros16 := strings.Repeat("\x00", 16)
	cases := []struct {
		name    string
		in      string
		ok      bool
		errPart string
	}{
		{"test_deserialization", "<\x00\x00\x00\x00\x00\x00\x00" + test + zeros16, true, ""},
		{"test_empty_shapes_allowed", "8\x00\x00\x00\x00\x00\x00\x00" + `{"test":{"dtype":"I32","shape":[],"data_offsets":[0,4]}}` + "\x00\x00\x00\x00", true, ""},
		{"python test_deserialization_metadata (header length not a multiple of 8)", "f\x00\x00\x00\x00\x00\x00\x00" + `{"__metadata__":{"framework":"pt"},"test1":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}       ` + zeros16, true, ""},
		{"test_whitespace_padded_header", "\x06\x00\x00\x00\x00\x00\x00\x00{}\x0D\x20\x09\x0A", true, ""},
		{"test_zero_sized_tensor", "<\x00\x00\x00\x00\x00\x00\x00" + `{"test":{"dtype":"I32","shape":[2,0],"data_offsets":[0, 0]}}`, true, ""},
		{"incomplete buffer: trailing bytes", "<\x00\x00\x00\x00\x00\x00\x00" + test + zeros16 + "extra_bogus_data_for_polyglot_file", false, "hole"},
		{"incomplete buffer: missing bytes", "<\x00\x00\x00\x00\x00\x00\x00" + test + zeros16[:14], false, "past the end of the data buffer"},
		{"test_header_too_large", "<\x00\x00\x00\x00\xff\xff\xff" + test + zeros16, false, "larger than"},
		{"test_header_too_small", "", false, "shorter than"},
		{"test_invalid_header_length", "<\x00\x00\x00\x00\x00\x00\x00", false, "past the end of the file"},
		{"test_invalid_header_non_utf8", "\x01\x00\x00\x00\x00\x00\x00\x00\xff", false, "UTF-8"},
		{"test_invalid_header_not_json", "\x01\x00\x00\x00\x00\x00\x00\x00{", false, "not valid JSON"},
		{"test_invalid_info", "<\x00\x00\x00\x00\x00\x00\x00" + `{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0, 4]}}` + "\x00\x00\x00\x00", false, "needs 16"},
		{"test_validation_overflow shape", "O\x00\x00\x00\x00\x00\x00\x00" + `{"test":{"dtype":"I32","shape":[2,18446744073709551614],"data_offsets":[0,16]}}` + zeros16, false, "too large"},
		{"test_validation_overflow bytes", "N\x00\x00\x00\x00\x00\x00\x00" + `{"test":{"dtype":"I32","shape":[2,9223372036854775807],"data_offsets":[0,16]}}` + zeros16, false, "overflows|too large"}, // too large where int is 32 bits
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(tc.name, []byte(tc.in))
			if tc.ok {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			found := false
			for _, part := range strings.Split(tc.errPart, "|") {
				found = found || strings.Contains(err.Error(), part)
			}
			if !found || !strings.Contains(err.Error(), tc.name) {
				t.Fatalf("error %q lacks %q or the file name", err, tc.errPart)
			}
		})
	}
}

// TestJSONAttack: ten tensors claiming the same bytes must be rejected
// (reference test_json_attack).
func TestJSONAttack(t *testing.T) {
	var h strings.Builder
	h.WriteString("{")
	for i := 0; i < 10; i++ {
		if i > 0 {
			h.WriteString(",")
		}
		h.WriteString(`"weight_` + string(rune('0'+i)) + `":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}`)
	}
	h.WriteString("}")
	_, err := parse("attack", mkFile(h.String(), make([]byte, 16)))
	if err == nil || !strings.Contains(err.Error(), "overlaps") {
		t.Fatalf("err = %v, want an overlap error", err)
	}
}

// TestIndexMatchesPython compares the shard index with one rendered by
// Python's json module (testdata/make_index_fixture.py).
func TestIndexMatchesPython(t *testing.T) {
	want, err := os.ReadFile("testdata/index_python.json")
	if err != nil {
		t.Fatal(err)
	}
	got := indexJSON(52, map[string]string{
		"b.weight":                          "model-00001-of-00003.safetensors",
		"a.bias":                            "model-00002-of-00003.safetensors",
		"c.\u00e9\"x\u00a0\U0001F600\x7f\t": "model-00003-of-00003.safetensors",
	})
	if !bytes.Equal(got, want) {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	wm, err := parseIndex("index_python.json", want)
	if err != nil || wm["c.\u00e9\"x\u00a0\U0001F600\x7f\t"] != "model-00003-of-00003.safetensors" || len(wm) != 3 {
		t.Fatalf("parseIndex = %v, %v", wm, err)
	}
}

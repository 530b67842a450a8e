package safetensors

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// mkFile assembles a safetensors file from a header and a data buffer.
func mkFile(header string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(b, header...)
	return append(b, data...)
}

// TestOpenBadFiles: every malformed file is refused with an error naming
// the file, the tensor concerned and the problem.
func TestOpenBadFiles(t *testing.T) {
	ok := `"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}`
	cases := []struct {
		name   string
		file   []byte
		tensor string // must appear in the error when not ""
		want   string // must appear in the error
	}{
		{"shorter than 8 bytes", []byte{1, 2, 3}, "", "shorter than the 8-byte header length"},
		{"absurd header length", binary.LittleEndian.AppendUint64(nil, 1<<40), "", "larger than the 100000000-byte limit"},
		{"header length past end", append(binary.LittleEndian.AppendUint64(nil, 100), "{}"...), "", "header length 100 runs past the end of the file"},
		{"header not JSON", mkFile(`{"w":`, nil), "", "not valid JSON"},
		{"header JSON syntax", mkFile(`{"w" 1}`, nil), "", "not valid JSON"},
		{"header not UTF-8", mkFile("{\"\xff\":1}", nil), "", "not valid UTF-8"},
		{"header not an object", mkFile(`[1,2]`, nil), "", "not a JSON object"},
		{"trailing data after header", mkFile(`{}{}`, nil), "", "trailing an object after the header object"},
		{"null padding", mkFile("{}\x00\x00", nil), "", "not valid JSON"},
		{"tensor entry not an object", mkFile(`{"w":[1]}`, nil), "w", "entry is an array"},
		{"dtype wrong type", mkFile(`{"w":{"dtype":4,"shape":[2],"data_offsets":[0,8]}}`, make([]byte, 8)), "w", "dtype: is the number 4, want a string"},
		{"unknown dtype", mkFile(`{"w":{"dtype":"Q4_K","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 8)), "w", `unknown or unsupported dtype "Q4_K"`},
		{"sub-byte dtype", mkFile(`{"w":{"dtype":"F4","shape":[2],"data_offsets":[0,1]}}`, make([]byte, 1)), "w", `unsupported dtype "F4"`},
		{"missing dtype", mkFile(`{"w":{"shape":[2],"data_offsets":[0,8]}}`, make([]byte, 8)), "w", "dtype: missing"},
		{"missing shape", mkFile(`{"w":{"dtype":"F32","data_offsets":[0,8]}}`, make([]byte, 8)), "w", "shape: missing"},
		{"missing data_offsets", mkFile(`{"w":{"dtype":"F32","shape":[2]}}`, make([]byte, 8)), "w", "data_offsets: missing"},
		{"duplicate field", mkFile(`{"w":{"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 8)), "w", "dtype: appears twice"},
		{"shape not an array", mkFile(`{"w":{"dtype":"F32","shape":"2","data_offsets":[0,8]}}`, make([]byte, 8)), "w", `shape: is the string "2", want an array`},
		{"shape element not a number", mkFile(`{"w":{"dtype":"F32","shape":[null],"data_offsets":[0,8]}}`, make([]byte, 8)), "w", "dimension 0 is null"},
		{"negative dimension", mkFile(`{"w":{"dtype":"F32","shape":[2,-3],"data_offsets":[0,8]}}`, make([]byte, 8)), "w", "shape: dimension 1 is negative (-3)"},
		{"fractional dimension", mkFile(`{"w":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}}`, make([]byte, 8)), "w", "dimension 0 (2.5) is not an integer"},
		{"exponent dimension", mkFile(`{"w":{"dtype":"F32","shape":[2e0],"data_offsets":[0,8]}}`, make([]byte, 8)), "w", "is not an integer"},
		{"dimension beyond uint64", mkFile(`{"w":{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,8]}}`, make([]byte, 8)), "w", "is too large"},
		{"shape overflows", mkFile(`{"w":{"dtype":"F32","shape":[2147483647,2147483647,2147483647],"data_offsets":[0,8]}}`, make([]byte, 8)), "w", "overflows"},
		{"data_offsets wrong length", mkFile(`{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8,9]}}`, make([]byte, 8)), "w", "has 3 numbers, want 2"},
		{"data_offsets negative", mkFile(`{"w":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}}`, make([]byte, 8)), "w", "data_offsets: element 0 is negative"},
		{"end before begin", mkFile(`{"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}`, make([]byte, 8)), "w", "end 0 is before begin 8"},
		{"offsets past the data buffer", mkFile(`{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 4)), "w", "[0, 8] runs past the end of the data buffer (4 bytes)"},
		{"size does not match dtype x shape", mkFile(`{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, make([]byte, 8)), "w", "spans 8 bytes but F32 × [3] needs 12"},
		{"overlapping tensors", mkFile(`{`+ok+`,"v":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)), "v", `overlaps tensor "w", which ends at 8`},
		{"zero-size tensor inside another", mkFile(`{`+ok+`,"z":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}}`, make([]byte, 8)), "z", `overlaps tensor "w"`},
		{"hole between tensors", mkFile(`{`+ok+`,"v":{"dtype":"U8","shape":[1],"data_offsets":[9,10]}}`, make([]byte, 10)), "v", `hole in the data buffer: bytes [8, 9) between tensor "w" and this tensor`},
		{"hole at the start", mkFile(`{"v":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, make([]byte, 2)), "v", "bytes [0, 1) before this tensor belong to no tensor"},
		{"trailing bytes after last tensor", mkFile(`{`+ok+`}`, make([]byte, 12)), "w", "bytes [8, 12) after the last tensor belong to no tensor"},
		{"data without tensors", mkFile(`{}`, make([]byte, 3)), "", "3 bytes of data but the header lists no tensor"},
		{"duplicate tensor names", mkFile(`{`+ok+`,`+ok+`}`, make([]byte, 8)), "w", "duplicate tensor name"},
		{"metadata not an object", mkFile(`{"__metadata__":[1]}`, nil), "", "__metadata__: is an array, want an object of strings"},
		{"metadata value not a string", mkFile(`{"__metadata__":{"epoch":3}}`, nil), "", `__metadata__: value of "epoch" is the number 3, want a string`},
		{"metadata twice", mkFile(`{"__metadata__":{},"__metadata__":{}}`, nil), "", "__metadata__: appears twice"},
	}
	dir := t.TempDir()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".safetensors")
			if err := os.WriteFile(path, tc.file, 0o644); err != nil {
				t.Fatal(err)
			}
			f, err := Open(path)
			if err == nil {
				f.Close()
				t.Fatal("Open accepted a bad file")
			}
			msg := err.Error()
			if !strings.Contains(msg, path) {
				t.Errorf("error %q does not name the file", msg)
			}
			if tc.tensor != "" && !strings.Contains(msg, `tensor "`+tc.tensor+`"`) {
				t.Errorf("error %q does not name tensor %q", msg, tc.tensor)
			}
			if !strings.Contains(msg, tc.want) {
				t.Errorf("error %q does not say %q", msg, tc.want)
			}
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Errorf("error %T is not a *FormatError", err)
			}
		})
	}
}

// TestParseAccepts covers valid headers the bad cases sit next to.
func TestParseAccepts(t *testing.T) {
	cases := []struct {
		name  string
		file  []byte
		check func(t *testing.T, p *parsed)
	}{
		{"empty header", mkFile(`{}`, nil), func(t *testing.T, p *parsed) {
			if len(p.tensors) != 0 || p.metadata != nil {
				t.Errorf("got %+v", p)
			}
		}},
		{"null metadata", mkFile(`{"__metadata__":null}`, nil), func(t *testing.T, p *parsed) {
			if p.metadata != nil {
				t.Errorf("metadata %v", p.metadata)
			}
		}},
		{"unknown tensor fields ignored", mkFile(`{"w":{"extra":{"a":[1,{}]},"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, []byte{7}), func(t *testing.T, p *parsed) {
			if len(p.tensors) != 1 || p.tensors[0].Data[0] != 7 {
				t.Errorf("got %+v", p.tensors)
			}
		}},
		{"offsets in any header order", mkFile(`{"b":{"dtype":"U8","shape":[1],"data_offsets":[1,2]},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, []byte{1, 2}), func(t *testing.T, p *parsed) {
			if p.tensors[0].Name != "b" || p.tensors[0].Data[0] != 2 || p.tensors[1].Data[0] != 1 {
				t.Errorf("got %+v", p.tensors)
			}
		}},
		{"several zero-size tensors at one offset", mkFile(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"b":{"dtype":"I64","shape":[3,0],"data_offsets":[0,0]},"c":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, []byte{9}), func(t *testing.T, p *parsed) {
			if len(p.tensors) != 3 {
				t.Errorf("got %+v", p.tensors)
			}
		}},
		{"escaped names", mkFile(`{"a\u00e9\n\"":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, []byte{1}), func(t *testing.T, p *parsed) {
			if p.tensors[0].Name != "a\u00e9\n\"" {
				t.Errorf("name %q", p.tensors[0].Name)
			}
		}},
		{"F8 dtypes sized", mkFile(`{"a":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"F8_E5M2","shape":[1],"data_offsets":[2,3]}}`, []byte{1, 2, 3}), func(t *testing.T, p *parsed) {
			if len(p.tensors) != 2 {
				t.Errorf("got %+v", p.tensors)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := parse(tc.name, tc.file)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, p)
		})
	}
}

func TestDTypeSize(t *testing.T) {
	cases := []struct {
		d    DType
		size int
	}{
		{F64, 8}, {F32, 4}, {F16, 2}, {BF16, 2}, {I64, 8}, {I32, 4}, {I16, 2}, {I8, 1}, {U8, 1}, {BOOL, 1},
		{U16, 2}, {U32, 4}, {U64, 8}, {F8E4M3, 1}, {F8E5M2, 1}, {C64, 8}, {"F4", 0}, {"f32", 0}, {"", 0},
	}
	for _, tc := range cases {
		t.Run(string(tc.d), func(t *testing.T) {
			if got := tc.d.Size(); got != tc.size {
				t.Errorf("Size() = %d, want %d", got, tc.size)
			}
			if tc.d.Valid() != (tc.size > 0) {
				t.Errorf("Valid() = %v", tc.d.Valid())
			}
		})
	}
}

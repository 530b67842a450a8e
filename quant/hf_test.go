package quant

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

func getter(m map[string]TensorData) Getter {
	return func(name string) (string, []int, []byte, bool) {
		t, ok := m[name]
		return t.DType, t.Shape, t.Data, ok
	}
}

func TestQuantStateJSON(t *testing.T) {
	v := loadVector(t, "nf4_blocks.json")
	q, err := Quantize(f32s(v.Input), 65, 64, NF4, true)
	if err != nil {
		t.Fatal(err)
	}
	q.DType = "bfloat16"
	want := `{"quant_type": "nf4", "blocksize": 64, "dtype": "bfloat16", "shape": [65, 64], ` +
		`"nested_blocksize": 256, "nested_dtype": "float32", "nested_offset": 0.052285335958004}`
	if got := string(q.QuantStateJSON()); got != want {
		t.Errorf("quant_state JSON\n got %s\nwant %s", got, want)
	}
	p, err := Quantize(f32s(v.Input), 4160, 1, FP4, false)
	if err != nil {
		t.Fatal(err)
	}
	want = `{"quant_type": "fp4", "blocksize": 64, "dtype": "float32", "shape": [4160, 1]}`
	if got := string(p.QuantStateJSON()); got != want {
		t.Errorf("quant_state JSON\n got %s\nwant %s", got, want)
	}
}

func TestPyFloatRepr(t *testing.T) {
	cases := []struct {
		f    float64
		want string
	}{
		{0, "0.0"},
		{math.Copysign(0, -1), "-0.0"},
		{1, "1.0"},
		{0.1, "0.1"},
		{float64(float32(0.1)), "0.10000000149011612"},
		{0.0001, "0.0001"},
		{0.00001, "1e-05"},
		{1.5e-7, "1.5e-07"},
		{123456789, "123456789.0"},
		{1e15, "1000000000000000.0"},
		{1e16, "1e+16"},
		{-2.5e20, "-2.5e+20"},
		{-0.052285335958004, "-0.052285335958004"},
	}
	for _, tc := range cases {
		if got := pyFloatRepr(tc.f); got != tc.want {
			t.Errorf("pyFloatRepr(%v) = %q, want %q", tc.f, got, tc.want)
		}
	}
}

func TestTensorsLayout(t *testing.T) {
	q, err := Quantize(gaussian(3*45, 2, 1), 3, 45, NF4, true) // n = 135: odd, 3 blocks
	if err != nil {
		t.Fatal(err)
	}
	ts, err := q.Tensors("model.layers.0.mlp.up_proj")
	if err != nil {
		t.Fatal(err)
	}
	p := "model.layers.0.mlp.up_proj.weight"
	want := map[string]struct {
		dtype string
		shape []int
	}{
		p:                                    {"U8", []int{68, 1}},
		p + ".absmax":                        {"U8", []int{3}},
		p + ".quant_map":                     {"F32", []int{16}},
		p + ".nested_absmax":                 {"F32", []int{1}},
		p + ".nested_quant_map":              {"F32", []int{256}},
		p + ".quant_state.bitsandbytes__nf4": {"U8", []int{len(q.QuantStateJSON())}},
	}
	if len(ts) != len(want) {
		t.Errorf("got %d tensors, want %d", len(ts), len(want))
	}
	for name, w := range want {
		got, ok := ts[name]
		if !ok {
			t.Errorf("missing %s", name)
			continue
		}
		if got.DType != w.dtype || !reflect.DeepEqual(got.Shape, w.shape) {
			t.Errorf("%s: %s %v, want %s %v", name, got.DType, got.Shape, w.dtype, w.shape)
		}
		n := 1
		for _, d := range got.Shape {
			n *= d
		}
		if size := dtypeSize[got.DType]; n*size != len(got.Data) {
			t.Errorf("%s: %d bytes for %s %v", name, len(got.Data), got.DType, got.Shape)
		}
		if !IsAuxTensor(name) && name != p {
			t.Errorf("IsAuxTensor(%q) = false", name)
		}
	}
	if IsAuxTensor(p) {
		t.Errorf("IsAuxTensor(%q) = true", p)
	}
	if prefix, ok := QuantizedPrefix(p + ".quant_state.bitsandbytes__nf4"); !ok || prefix != "model.layers.0.mlp.up_proj" {
		t.Errorf("QuantizedPrefix = %q, %v", prefix, ok)
	}
	// FP4 quant_map bytes are bitsandbytes' (+0 at index 8).
	f, _ := Quantize([]float32{1, 2}, 1, 2, FP4, false)
	ft, _ := f.Tensors("x")
	if qm := ft["x.weight.quant_map"].Data; !bytes.Equal(qm[32:36], []byte{0, 0, 0, 0}) {
		t.Errorf("fp4 quant_map[8] bytes = % x, want 00 00 00 00", qm[32:36])
	}
	if ft["x.weight.absmax"].DType != "F32" {
		t.Errorf("plain absmax dtype %s, want F32", ft["x.weight.absmax"].DType)
	}
}

func TestNamePredicates(t *testing.T) {
	aux := map[string]bool{
		"a.weight.absmax":                        true,
		"a.weight.quant_map":                     true,
		"a.weight.nested_absmax":                 true,
		"a.weight.nested_quant_map":              true,
		"a.weight.quant_state.bitsandbytes__fp4": true,
		"weight.absmax":                          true,
		"a.weight":                               false,
		"a.bias":                                 false,
		"a.myweight.absmax":                      false,
		"a.weight.other":                         false,
	}
	for name, want := range aux {
		if got := IsAuxTensor(name); got != want {
			t.Errorf("IsAuxTensor(%q) = %v, want %v", name, got, want)
		}
	}
	prefixes := []struct {
		name, prefix string
		ok           bool
	}{
		{"m.l.weight.quant_state.bitsandbytes__nf4", "m.l", true},
		{"m.l.weight.quant_state.bitsandbytes__fp4", "m.l", true},
		{"weight.quant_state.bitsandbytes__nf4", "", true},
		{"m.l.weight.quant_state.bitsandbytes__int4", "", false},
		{"m.l.weight", "", false},
	}
	for _, tc := range prefixes {
		if p, ok := QuantizedPrefix(tc.name); p != tc.prefix || ok != tc.ok {
			t.Errorf("QuantizedPrefix(%q) = %q, %v; want %q, %v", tc.name, p, ok, tc.prefix, tc.ok)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	cases := []struct {
		typ        Type
		dq         bool
		rows, cols int
	}{
		{NF4, true, 65, 64},
		{NF4, false, 7, 143},
		{FP4, true, 7, 143},
		{FP4, false, 1, 1},
		{NF4, true, 300, 64 * 3}, // 900 blocks: 4 nested blocks
	}
	for _, tc := range cases {
		w := gaussian(tc.rows*tc.cols, 4, 0.05)
		q, err := Quantize(w, tc.rows, tc.cols, tc.typ, tc.dq)
		if err != nil {
			t.Fatal(err)
		}
		q.DType = "float16"
		ts, err := q.Tensors("lin")
		if err != nil {
			t.Fatal(err)
		}
		back, err := FromTensors("lin", getter(ts))
		if err != nil {
			t.Fatalf("%v dq=%v: %v", tc.typ, tc.dq, err)
		}
		if !reflect.DeepEqual(back, q) {
			t.Errorf("%v dq=%v [%d, %d]: round trip differs\n got %+v\nwant %+v", tc.typ, tc.dq, tc.rows, tc.cols, back, q)
		}
		a, b := q.Dequantize(), back.Dequantize()
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
				t.Fatalf("dequantized[%d] %v != %v", i, b[i], a[i])
			}
		}
	}
}

// bnb_4bit_quant_storage=bfloat16 stores the same packed bytes as BF16.
func TestFromTensorsQuantStorage(t *testing.T) {
	q, _ := Quantize(gaussian(8*64, 5, 1), 8, 64, NF4, true)
	ts, _ := q.Tensors("m")
	wt := ts["m.weight"]
	ts["m.weight"] = TensorData{DType: "BF16", Shape: []int{len(wt.Data) / 2, 1}, Data: wt.Data}
	back, err := FromTensors("m", getter(ts))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back.Packed, q.Packed) {
		t.Error("packed bytes differ")
	}
}

func TestFromTensorsErrors(t *testing.T) {
	const p = "model.layers.3.self_attn.q_proj.weight"
	const qsName = p + ".quant_state.bitsandbytes__nf4"
	base := func() map[string]TensorData {
		q, err := Quantize(gaussian(6*100, 6, 1), 6, 100, NF4, true)
		if err != nil {
			t.Fatal(err)
		}
		ts, err := q.Tensors("model.layers.3.self_attn.q_proj")
		if err != nil {
			t.Fatal(err)
		}
		return ts
	}
	setJSON := func(ts map[string]TensorData, js string) {
		ts[qsName] = TensorData{DType: "U8", Shape: []int{len(js)}, Data: []byte(js)}
	}
	replaceJSON := func(old, new string) func(map[string]TensorData) {
		return func(ts map[string]TensorData) {
			js := string(ts[qsName].Data)
			if !strings.Contains(js, old) {
				t.Fatalf("%q not in %s", old, js)
			}
			setJSON(ts, strings.Replace(js, old, new, 1))
		}
	}
	cases := []struct {
		name  string
		edit  func(map[string]TensorData)
		want  string
		isNot bool // wraps ErrNotQuantized
	}{
		{"missing quant_state", func(ts map[string]TensorData) { delete(ts, qsName) }, "no bitsandbytes quant_state tensor", true},
		{"bad JSON", func(ts map[string]TensorData) { setJSON(ts, `{"quant_type": "nf4",`) }, qsName + `": invalid quant_state JSON`, false},
		{"JSON not object", func(ts map[string]TensorData) { setJSON(ts, `[1, 2]`) }, "invalid quant_state JSON", false},
		{"unknown quant type", replaceJSON(`"nf4"`, `"int4"`), `field "quant_type": quant: unknown 4-bit quant type "int4"`, false},
		{"type mismatch", replaceJSON(`"nf4"`, `"fp4"`), `quant_type "fp4" does not match`, false},
		{"missing blocksize", replaceJSON(`"blocksize": 64, `, ``), `field "blocksize": missing`, false},
		{"odd blocksize", replaceJSON(`"blocksize": 64`, `"blocksize": 63`), `field "blocksize": 63 is odd`, false},
		{"float blocksize", replaceJSON(`"blocksize": 64`, `"blocksize": 64.5`), `field "blocksize": not a positive integer`, false},
		{"bad dtype", replaceJSON(`"dtype": "float32"`, `"dtype": "int8"`), `field "dtype": unsupported dtype "int8"`, false},
		{"3-D shape", replaceJSON(`[6, 100]`, `[6, 10, 10]`), `field "shape": [6, 10, 10] is not 2-D`, false},
		{"negative shape", replaceJSON(`[6, 100]`, `[-6, 100]`), `field "shape": invalid dimension -6`, false},
		{"huge shape", replaceJSON(`[6, 100]`, `[99999999999, 99999999999]`), `field "shape"`, false},
		{"shape mismatch", replaceJSON(`[6, 100]`, `[6, 102]`), p + `" is U8 [300 1] (300 bytes), shape [6 102] packed needs 306 bytes`, false},
		{"nested offset", replaceJSON(`"nested_offset": `, `"nested_offset": "x", "y": `), `field "nested_offset": not a finite float32`, false},
		{"nested dtype", replaceJSON(`"nested_dtype": "float32"`, `"nested_dtype": "float16"`), `field "nested_dtype"`, false},
		{"no nested fields", func(ts map[string]TensorData) {
			js := string(ts[qsName].Data)
			setJSON(ts, js[:strings.Index(js, `, "nested_blocksize"`)]+"}")
		}, `.nested_absmax" is present but quant_state`, false},
		{"both types", func(ts map[string]TensorData) {
			ts[p+".quant_state.bitsandbytes__fp4"] = ts[qsName]
		}, "has both", false},
		{"quant_state dtype", func(ts map[string]TensorData) {
			d := ts[qsName]
			ts[qsName] = TensorData{DType: "I8", Shape: d.Shape, Data: d.Data}
		}, qsName + `" is I8`, false},
		{"data size", func(ts map[string]TensorData) {
			d := ts[p+".absmax"]
			ts[p+".absmax"] = TensorData{DType: d.DType, Shape: d.Shape, Data: d.Data[1:]}
		}, `absmax": U8 [10] needs 10 bytes, has 9`, false},
		{"unknown dtype", func(ts map[string]TensorData) {
			d := ts[p+".quant_map"]
			ts[p+".quant_map"] = TensorData{DType: "F48", Shape: d.Shape, Data: d.Data}
		}, `quant_map": unknown dtype "F48"`, false},
		{"missing weight", func(ts map[string]TensorData) { delete(ts, p) }, `missing tensor "` + p + `"`, false},
		{"weight shape", func(ts map[string]TensorData) {
			d := ts[p]
			ts[p] = TensorData{DType: "U8", Shape: []int{150, 2}, Data: d.Data}
		}, `has shape [150 2], want [300, 1]`, false},
		{"absmax dtype", func(ts map[string]TensorData) {
			ts[p+".absmax"] = TensorData{DType: "F32", Shape: []int{10}, Data: make([]byte, 40)}
		}, `absmax" is F32 [10], want U8 [10]`, false},
		{"missing absmax", func(ts map[string]TensorData) { delete(ts, p+".absmax") }, `missing tensor "` + p + `.absmax"`, false},
		{"missing quant_map", func(ts map[string]TensorData) { delete(ts, p+".quant_map") }, `missing tensor "` + p + `.quant_map"`, false},
		{"missing nested_absmax", func(ts map[string]TensorData) { delete(ts, p+".nested_absmax") }, `missing tensor "` + p + `.nested_absmax"`, false},
		{"missing nested map", func(ts map[string]TensorData) { delete(ts, p+".nested_quant_map") }, `missing tensor "` + p + `.nested_quant_map"`, false},
		{"nested_absmax length", func(ts map[string]TensorData) {
			ts[p+".nested_absmax"] = TensorData{DType: "F32", Shape: []int{2}, Data: make([]byte, 8)}
		}, `nested_absmax" is F32 [2], want F32 [1]`, false},
		{"NaN nested_absmax", func(ts map[string]TensorData) {
			ts[p+".nested_absmax"] = TensorData{DType: "F32", Shape: []int{1}, Data: f32Bytes([]float32{float32(math.NaN())})}
		}, `nested_absmax": value 0 is NaN`, false},
		{"quant_map shape", func(ts map[string]TensorData) {
			ts[p+".quant_map"] = TensorData{DType: "F32", Shape: []int{4, 4}, Data: make([]byte, 64)}
		}, `quant_map" is F32 [4 4], want F32 [16]`, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ts := base()
			tc.edit(ts)
			q, err := FromTensors("model.layers.3.self_attn.q_proj", getter(ts))
			if err == nil {
				t.Fatalf("no error; got %+v", q)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v\nwant it to contain %q", err, tc.want)
			}
			if errors.Is(err, ErrNotQuantized) != tc.isNot {
				t.Fatalf("errors.Is(err, ErrNotQuantized) = %v", !tc.isNot)
			}
		})
	}
}

func TestQuantizationConfig(t *testing.T) {
	js, err := json.Marshal(QuantizationConfig(NF4, true, "bfloat16"))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"_load_in_4bit":true,"_load_in_8bit":false,"bnb_4bit_compute_dtype":"bfloat16",` +
		`"bnb_4bit_quant_storage":"uint8","bnb_4bit_quant_type":"nf4","bnb_4bit_use_double_quant":true,` +
		`"llm_int8_enable_fp32_cpu_offload":false,"llm_int8_has_fp16_weight":false,"llm_int8_skip_modules":null,` +
		`"llm_int8_threshold":6.0,"load_in_4bit":true,"load_in_8bit":false,"quant_method":"bitsandbytes"}`
	if string(js) != want {
		t.Errorf("got  %s\nwant %s", js, want)
	}
	c, err := ParseQuantizationConfig(js)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Config{Type: NF4, DoubleQuant: true, ComputeDType: "bfloat16", QuantStorage: "uint8"}); !reflect.DeepEqual(c, want) {
		t.Errorf("parsed %+v, want %+v", c, want)
	}
}

func TestParseQuantizationConfig(t *testing.T) {
	cases := []struct {
		name, js string
		want     Config
		err      string
	}{
		{"defaults", `{"quant_method": "bitsandbytes", "load_in_4bit": true}`,
			Config{Type: FP4, ComputeDType: "float32", QuantStorage: "uint8"}, ""},
		{"old style", `{"load_in_4bit": true, "bnb_4bit_quant_type": "nf4", "bnb_4bit_compute_dtype": null,
			"llm_int8_skip_modules": ["lm_head"]}`,
			Config{Type: NF4, ComputeDType: "float32", QuantStorage: "uint8", SkipModules: []string{"lm_head"}}, ""},
		{"gptq", `{"quant_method": "gptq", "bits": 4}`, Config{}, `"quant_method": "gptq" is not supported`},
		{"8-bit", `{"quant_method": "bitsandbytes", "load_in_8bit": true}`, Config{}, `"load_in_8bit": 8-bit`},
		{"not 4-bit", `{"quant_method": "bitsandbytes"}`, Config{}, `"load_in_4bit": not true`},
		{"bad type", `{"load_in_4bit": true, "bnb_4bit_quant_type": "int4"}`, Config{}, `"bnb_4bit_quant_type": quant: unknown`},
		{"wrong JSON type", `{"load_in_4bit": "yes"}`, Config{}, `load_in_4bit`},
		{"bad skip", `{"load_in_4bit": true, "llm_int8_skip_modules": "lm_head"}`, Config{}, `"llm_int8_skip_modules"`},
		{"not JSON", `{`, Config{}, `quantization_config`},
	}
	for _, tc := range cases {
		c, err := ParseQuantizationConfig([]byte(tc.js))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err = %v, want %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(c, tc.want) {
			t.Errorf("%s: got %+v, %v; want %+v", tc.name, c, err, tc.want)
		}
	}
}

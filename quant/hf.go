package quant

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Hugging Face bitsandbytes-4bit checkpoint layout.
//
// transformers saves a quantized nn.Linear "<prefix>" (bitsandbytes
// Linear4bit._save_to_state_dict with QuantState.as_dict(packed=True)) as
// these safetensors tensors, n = out·in, nb = ceil(n/blocksize):
//
//	<prefix>.weight                       U8  [(n+1)/2, 1]   packed codes, high nibble first
//	<prefix>.weight.absmax                F32 [nb]           (U8 [nb] codes when double-quantized)
//	<prefix>.weight.quant_map             F32 [16]           the 4-bit code book
//	<prefix>.weight.nested_absmax         F32 [ceil(nb/256)] double quantization only
//	<prefix>.weight.nested_quant_map      F32 [256]          double quantization only
//	<prefix>.weight.quant_state.bitsandbytes__nf4  (or __fp4)
//	                                      U8  [len]          UTF-8 JSON, Python json.dumps of
//	  {"quant_type": "nf4", "blocksize": 64, "dtype": "bfloat16", "shape": [out, in],
//	   "nested_blocksize": 256, "nested_dtype": "float32", "nested_offset": 0.0523}
//	  (the last three keys only when double-quantized)
//
// and config.json carries "quantization_config" (see QuantizationConfig).
// With bnb_4bit_quant_storage other than uint8 the packed weight is the same
// bytes viewed as that dtype ([(n+1)/2/size, 1]); FromTensors accepts that.

// Tensor name suffixes of a quantized weight, after "<prefix>.weight".
const (
	SuffixAbsmax         = ".absmax"
	SuffixQuantMap       = ".quant_map"
	SuffixNestedAbsmax   = ".nested_absmax"
	SuffixNestedQuantMap = ".nested_quant_map"
	// SuffixQuantState is followed by "nf4" or "fp4".
	SuffixQuantState = ".quant_state.bitsandbytes__"
)

// ErrNotQuantized is wrapped by FromTensors when the weight has no
// quant_state tensor, i.e. it is stored unquantized.
var ErrNotQuantized = errors.New("no bitsandbytes quant_state tensor")

// TensorData is one tensor as safetensors stores it: dtype string ("U8",
// "F32", …), shape, and little-endian bytes.
type TensorData struct {
	DType string
	Shape []int
	Data  []byte
}

func weightName(prefix string) string {
	if prefix == "" {
		return "weight"
	}
	return prefix + ".weight"
}

// QuantizedPrefix reports whether name is the quant_state tensor of a
// bitsandbytes-4bit weight ("<prefix>.weight.quant_state.bitsandbytes__nf4"
// or "…__fp4") and returns the module prefix.
func QuantizedPrefix(name string) (prefix string, ok bool) {
	for _, typ := range [...]string{"nf4", "fp4"} {
		if p, found := strings.CutSuffix(name, ".weight"+SuffixQuantState+typ); found {
			return p, true
		}
		if name == "weight"+SuffixQuantState+typ {
			return "", true
		}
	}
	return "", false
}

// IsAuxTensor reports whether name is one of the auxiliary tensors of a
// quantized weight (absmax, quant_map, nested_*, quant_state.*), which a
// loader must not treat as model parameters.
func IsAuxTensor(name string) bool {
	i := strings.LastIndex(name, "weight.")
	if i < 0 || (i > 0 && name[i-1] != '.') {
		return false
	}
	switch rest := name[i+len("weight"):]; rest {
	case SuffixAbsmax, SuffixQuantMap, SuffixNestedAbsmax, SuffixNestedQuantMap:
		return true
	default:
		return strings.HasPrefix(rest, SuffixQuantState)
	}
}

// Tensors returns the tensors of q in the bitsandbytes-4bit layout, keyed by
// name under prefix (the module path, e.g. "model.layers.0.mlp.down_proj").
// The packed weight's Data aliases q.Packed; the rest is freshly encoded.
func (q *Quantized) Tensors(prefix string) (map[string]TensorData, error) {
	if err := q.check(); err != nil {
		return nil, fmt.Errorf("quant: %s: %w", weightName(prefix), err)
	}
	w := weightName(prefix)
	nb := q.NumBlocks()
	out := map[string]TensorData{
		w:                  {DType: "U8", Shape: []int{len(q.Packed), 1}, Data: q.Packed},
		w + SuffixQuantMap: {DType: "F32", Shape: []int{16}, Data: f32Bytes(q.QuantMap[:])},
		w + SuffixQuantState + q.Type.String(): func() TensorData {
			js := q.QuantStateJSON()
			return TensorData{DType: "U8", Shape: []int{len(js)}, Data: js}
		}(),
	}
	if q.Nested {
		out[w+SuffixAbsmax] = TensorData{DType: "U8", Shape: []int{nb}, Data: bytes.Clone(q.AbsmaxQ)}
		out[w+SuffixNestedAbsmax] = TensorData{DType: "F32", Shape: []int{len(q.NestedAbsmax)}, Data: f32Bytes(q.NestedAbsmax)}
		out[w+SuffixNestedQuantMap] = TensorData{DType: "F32", Shape: []int{256}, Data: f32Bytes(q.NestedMap[:])}
	} else {
		out[w+SuffixAbsmax] = TensorData{DType: "F32", Shape: []int{nb}, Data: f32Bytes(q.Absmax)}
	}
	return out, nil
}

// QuantStateJSON returns the bytes of the quant_state tensor: the JSON that
// Python's json.dumps writes for QuantState.as_dict's non-tensor items, in
// its key order and spacing, e.g.
//
//	{"quant_type": "nf4", "blocksize": 64, "dtype": "float32", "shape": [65, 64],
//	 "nested_blocksize": 256, "nested_dtype": "float32", "nested_offset": 0.052285335958004}
//
// (one line). nested_offset is float64(Offset) in Python's repr.
func (q *Quantized) QuantStateJSON() []byte {
	var b strings.Builder
	fmt.Fprintf(&b, `{"quant_type": %q, "blocksize": %d, "dtype": %q, "shape": [%d, %d]`,
		q.Type.String(), q.BlockSize, q.dtypeOrDefault(), q.Rows, q.Cols)
	if q.Nested {
		fmt.Fprintf(&b, `, "nested_blocksize": %d, "nested_dtype": "float32", "nested_offset": %s`,
			q.NestedBlockSize, pyFloatRepr(float64(q.Offset)))
	}
	b.WriteByte('}')
	return []byte(b.String())
}

func (q *Quantized) dtypeOrDefault() string {
	if q.DType == "" {
		return "float32"
	}
	return q.DType
}

// pyFloatRepr formats a finite float64 as Python's repr does: the shortest
// round-trip digits, positional when 1e-4 <= |f| < 1e16 (always with a
// fractional part, "1.0"), otherwise d.ddde±XX.
func pyFloatRepr(f float64) string {
	if f == 0 {
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	exp := math.Abs(f)
	if exp < 1e-4 || exp >= 1e16 {
		return strconv.FormatFloat(f, 'e', -1, 64) // Go also pads the exponent to 2 digits
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsRune(s, '.') {
		s += ".0"
	}
	return s
}

func f32Bytes(x []float32) []byte {
	out := make([]byte, 4*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(v))
	}
	return out
}

// dtypeSize is the element size of the safetensors dtypes.
var dtypeSize = map[string]int{
	"BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1,
	"U16": 2, "I16": 2, "F16": 2, "BF16": 2,
	"U32": 4, "I32": 4, "F32": 4,
	"U64": 8, "I64": 8, "F64": 8,
}

// Getter returns a tensor by name, as stored: safetensors dtype string,
// shape and raw little-endian bytes; ok is false when there is none.
type Getter func(name string) (dtype string, shape []int, data []byte, ok bool)

// tensorInfo is a fetched tensor with its element count checked.
type tensorInfo struct {
	name  string
	dtype string
	shape []int
	data  []byte
	numel int
}

func fetch(get Getter, name string, required bool) (*tensorInfo, error) {
	dtype, shape, data, ok := get(name)
	if !ok {
		if required {
			return nil, fmt.Errorf("quant: missing tensor %q", name)
		}
		return nil, nil
	}
	size, known := dtypeSize[dtype]
	if !known {
		return nil, fmt.Errorf("quant: tensor %q: unknown dtype %q", name, dtype)
	}
	numel := 1
	for _, d := range shape {
		if d < 0 || (d > 0 && numel > maxElements/d) {
			return nil, fmt.Errorf("quant: tensor %q: invalid shape %v", name, shape)
		}
		numel *= d
	}
	if numel*size != len(data) {
		return nil, fmt.Errorf("quant: tensor %q: %s %v needs %d bytes, has %d", name, dtype, shape, numel*size, len(data))
	}
	return &tensorInfo{name: name, dtype: dtype, shape: shape, data: data, numel: numel}, nil
}

// want1D checks that t is a 1-D tensor of the dtype with n elements.
func (t *tensorInfo) want1D(dtype string, n int) error {
	if t.dtype != dtype || len(t.shape) != 1 || t.shape[0] != n {
		return fmt.Errorf("quant: tensor %q is %s %v, want %s [%d]", t.name, t.dtype, t.shape, dtype, n)
	}
	return nil
}

func (t *tensorInfo) f32s() []float32 {
	out := make([]float32, t.numel)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.data[4*i:]))
	}
	return out
}

// quantState is the parsed quant_state JSON.
type quantState struct {
	quantType       string
	blockSize       int
	dtype           string
	shape           []int
	nested          bool // the nested_* keys are present
	nestedBlockSize int
	nestedDType     string
	nestedOffset    float64
}

// parseQuantState parses the quant_state JSON; name is the tensor name used
// in errors. Unknown keys are ignored.
func parseQuantState(name string, js []byte) (*quantState, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(js, &m); err != nil {
		return nil, fmt.Errorf("quant: tensor %q: invalid quant_state JSON: %w", name, err)
	}
	bad := func(field string, err error) error {
		return fmt.Errorf("quant: tensor %q: quant_state field %q: %w", name, field, err)
	}
	str := func(field string) (string, error) {
		raw, ok := m[field]
		if !ok {
			return "", bad(field, errors.New("missing"))
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", bad(field, fmt.Errorf("not a string: %s", raw))
		}
		return s, nil
	}
	integer := func(field string) (int, error) {
		raw, ok := m[field]
		if !ok {
			return 0, bad(field, errors.New("missing"))
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(raw)), 10, 64)
		if err != nil || n <= 0 || n > maxElements {
			return 0, bad(field, fmt.Errorf("not a positive integer: %s", raw))
		}
		return int(n), nil
	}
	qs := &quantState{}
	var err error
	if qs.quantType, err = str("quant_type"); err != nil {
		return nil, err
	}
	if qs.blockSize, err = integer("blocksize"); err != nil {
		return nil, err
	}
	if qs.blockSize%2 != 0 {
		return nil, bad("blocksize", fmt.Errorf("%d is odd", qs.blockSize))
	}
	if qs.dtype, err = str("dtype"); err != nil {
		return nil, err
	}
	qs.dtype = strings.TrimPrefix(qs.dtype, "torch.")
	switch qs.dtype {
	case "float32", "float16", "bfloat16":
	default:
		return nil, bad("dtype", fmt.Errorf("unsupported dtype %q", qs.dtype))
	}
	raw, ok := m["shape"]
	if !ok {
		return nil, bad("shape", errors.New("missing"))
	}
	var shape []json.Number
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&shape); err != nil {
		return nil, bad("shape", fmt.Errorf("not a list of integers: %s", raw))
	}
	if len(shape) != 2 {
		return nil, bad("shape", fmt.Errorf("%s is not 2-D [out, in]", raw))
	}
	for _, d := range shape {
		n, err := strconv.ParseInt(d.String(), 10, 64)
		if err != nil || n <= 0 || n > maxElements {
			return nil, bad("shape", fmt.Errorf("invalid dimension %s", d))
		}
		qs.shape = append(qs.shape, int(n))
	}
	if qs.shape[0] > maxElements/qs.shape[1] {
		return nil, bad("shape", fmt.Errorf("%v has too many elements", qs.shape))
	}
	_, hasNB := m["nested_blocksize"]
	_, hasNO := m["nested_offset"]
	if !hasNB && !hasNO {
		return qs, nil
	}
	qs.nested = true
	if qs.nestedBlockSize, err = integer("nested_blocksize"); err != nil {
		return nil, err
	}
	if qs.nestedDType, err = str("nested_dtype"); err != nil {
		return nil, err
	}
	if d := strings.TrimPrefix(qs.nestedDType, "torch."); d != "float32" {
		return nil, bad("nested_dtype", fmt.Errorf("unsupported dtype %q (want float32)", qs.nestedDType))
	}
	raw, ok = m["nested_offset"]
	if !ok {
		return nil, bad("nested_offset", errors.New("missing"))
	}
	off, err := strconv.ParseFloat(strings.TrimSpace(string(raw)), 64)
	if err != nil || math.IsNaN(off) || math.IsInf(off, 0) || math.Abs(off) > math.MaxFloat32 {
		return nil, bad("nested_offset", fmt.Errorf("not a finite float32 number: %s", raw))
	}
	qs.nestedOffset = off
	return qs, nil
}

// FromTensors reads the bitsandbytes-4bit weight "<prefix>.weight" through
// get (see the layout above). It parses the quant_state JSON, checks every
// dtype and shape against it, and returns an error naming the tensor or
// field at fault; it wraps ErrNotQuantized when there is no quant_state
// tensor. Packed aliases the weight's bytes (no copy); the other fields are
// decoded copies. The nested offset is the JSON number rounded to float32,
// as bitsandbytes' QuantState.from_dict does.
func FromTensors(prefix string, get Getter) (*Quantized, error) {
	w := weightName(prefix)
	var qsT *tensorInfo
	var typ Type
	for _, t := range [...]Type{NF4, FP4} {
		ti, err := fetch(get, w+SuffixQuantState+t.String(), false)
		if err != nil {
			return nil, err
		}
		if ti != nil {
			if qsT != nil {
				return nil, fmt.Errorf("quant: %s has both %q and %q", w, qsT.name, ti.name)
			}
			qsT, typ = ti, t
		}
	}
	if qsT == nil {
		return nil, fmt.Errorf("quant: %s: %w (want %q or %q)", w, ErrNotQuantized,
			w+SuffixQuantState+"nf4", w+SuffixQuantState+"fp4")
	}
	if qsT.dtype != "U8" || len(qsT.shape) != 1 {
		return nil, fmt.Errorf("quant: tensor %q is %s %v, want U8 [len]", qsT.name, qsT.dtype, qsT.shape)
	}
	qs, err := parseQuantState(qsT.name, qsT.data)
	if err != nil {
		return nil, err
	}
	if qs.quantType != typ.String() {
		if _, perr := ParseType(qs.quantType); perr != nil {
			return nil, fmt.Errorf("quant: tensor %q: quant_state field \"quant_type\": %w", qsT.name, perr)
		}
		return nil, fmt.Errorf("quant: tensor %q: quant_type %q does not match the tensor name", qsT.name, qs.quantType)
	}

	q := &Quantized{
		Type:      typ,
		Rows:      qs.shape[0],
		Cols:      qs.shape[1],
		BlockSize: qs.blockSize,
		DType:     qs.dtype,
	}
	n := q.Rows * q.Cols
	nb := q.NumBlocks()

	wt, err := fetch(get, w, true)
	if err != nil {
		return nil, err
	}
	if len(wt.data) != (n+1)/2 {
		return nil, fmt.Errorf("quant: tensor %q is %s %v (%d bytes), shape %v packed needs %d bytes",
			w, wt.dtype, wt.shape, len(wt.data), qs.shape, (n+1)/2)
	}
	if len(wt.shape) == 0 || len(wt.shape) > 2 || (len(wt.shape) == 2 && wt.shape[1] != 1) {
		return nil, fmt.Errorf("quant: tensor %q has shape %v, want [%d, 1]", w, wt.shape, wt.numel)
	}
	q.Packed = wt.data

	qm, err := fetch(get, w+SuffixQuantMap, true)
	if err != nil {
		return nil, err
	}
	if err := qm.want1D("F32", 16); err != nil {
		return nil, err
	}
	copy(q.QuantMap[:], qm.f32s())

	am, err := fetch(get, w+SuffixAbsmax, true)
	if err != nil {
		return nil, err
	}
	na, err := fetch(get, w+SuffixNestedAbsmax, false)
	if err != nil {
		return nil, err
	}
	if (na != nil) != qs.nested {
		if na != nil {
			return nil, fmt.Errorf("quant: tensor %q is present but quant_state %q has no nested_* fields", na.name, qsT.name)
		}
		return nil, fmt.Errorf("quant: missing tensor %q (quant_state %q is double-quantized)", w+SuffixNestedAbsmax, qsT.name)
	}
	if !qs.nested {
		if err := am.want1D("F32", nb); err != nil {
			return nil, err
		}
		q.Absmax = am.f32s()
		if err := checkFinite("", q.Absmax); err != nil {
			return nil, fmt.Errorf("quant: tensor %q:%w", am.name, err)
		}
		if err := q.check(); err != nil {
			return nil, fmt.Errorf("quant: %s: %w", w, err)
		}
		return q, nil
	}

	q.Nested = true
	q.NestedBlockSize = qs.nestedBlockSize
	q.Offset = float32(qs.nestedOffset)
	if err := am.want1D("U8", nb); err != nil {
		return nil, err
	}
	q.AbsmaxQ = bytes.Clone(am.data)
	if err := na.want1D("F32", (nb+q.NestedBlockSize-1)/q.NestedBlockSize); err != nil {
		return nil, err
	}
	q.NestedAbsmax = na.f32s()
	if err := checkFinite("", q.NestedAbsmax); err != nil {
		return nil, fmt.Errorf("quant: tensor %q:%w", na.name, err)
	}
	nm, err := fetch(get, w+SuffixNestedQuantMap, true)
	if err != nil {
		return nil, err
	}
	if err := nm.want1D("F32", 256); err != nil {
		return nil, err
	}
	copy(q.NestedMap[:], nm.f32s())
	if err := checkFinite("", q.NestedMap[:]); err != nil {
		return nil, fmt.Errorf("quant: tensor %q:%w", nm.name, err)
	}
	if err := q.check(); err != nil {
		return nil, fmt.Errorf("quant: %s: %w", w, err)
	}
	return q, nil
}

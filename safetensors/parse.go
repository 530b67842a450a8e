package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxHeaderSize is the largest JSON header accepted, in bytes (the
// reference implementation's limit).
const MaxHeaderSize = 100_000_000

// FormatError reports a malformed safetensors file or shard index.
type FormatError struct {
	Path   string // the file
	Tensor string // the tensor concerned, "" if none
	Field  string // the header field or part of the file concerned, "" if none
	Msg    string
}

func (e *FormatError) Error() string {
	var b strings.Builder
	b.WriteString("safetensors: ")
	b.WriteString(e.Path)
	if e.Tensor != "" {
		fmt.Fprintf(&b, ": tensor %q", e.Tensor)
	}
	if e.Field != "" {
		b.WriteString(": ")
		b.WriteString(e.Field)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

// tensorInfo is one header entry before its data is attached.
type tensorInfo struct {
	name       string
	dtype      DType
	shape      []int
	begin, end uint64
}

// parsed is a validated file: tensors in header order, Data viewing buf.
type parsed struct {
	tensors  []Tensor
	metadata map[string]string
}

// parse validates a whole safetensors file held in buf and returns views of
// its tensors into buf. path only names the file in errors. Layout:
//
//	buf[0:8]      N, little-endian uint64
//	buf[8:8+N]    JSON header, optionally padded with JSON whitespace
//	buf[8+N:]     data buffer; each data_offsets [b, e] is relative to it
//
// Like the reference implementation it requires the tensors to tile the
// data buffer exactly: no overlaps, no holes, no trailing bytes.
func parse(path string, buf []byte) (*parsed, error) {
	ferr := func(tensor, field, format string, args ...any) error {
		return &FormatError{Path: path, Tensor: tensor, Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	if len(buf) < 8 {
		return nil, ferr("", "header length", "file is %d bytes, shorter than the 8-byte header length", len(buf))
	}
	n := binary.LittleEndian.Uint64(buf[:8])
	if n > MaxHeaderSize {
		return nil, ferr("", "header length", "header length %d is larger than the %d-byte limit", n, MaxHeaderSize)
	}
	if n > uint64(len(buf)-8) {
		return nil, ferr("", "header length", "header length %d runs past the end of the file (%d bytes after the length)", n, len(buf)-8)
	}
	hdr := buf[8 : 8+n]
	data := buf[8+n:]

	infos, meta, err := parseHeader(path, hdr)
	if err != nil {
		return nil, err
	}

	dataLen := uint64(len(data))
	for i := range infos {
		t := &infos[i]
		if t.end < t.begin {
			return nil, ferr(t.name, "data_offsets", "end %d is before begin %d", t.end, t.begin)
		}
		if t.end > dataLen {
			return nil, ferr(t.name, "data_offsets", "[%d, %d] runs past the end of the data buffer (%d bytes)", t.begin, t.end, dataLen)
		}
		want, ok := byteSize(t.dtype, t.shape)
		if !ok {
			return nil, ferr(t.name, "shape", "%s × %v overflows", t.dtype, t.shape)
		}
		if got := t.end - t.begin; got != want {
			return nil, ferr(t.name, "data_offsets", "[%d, %d] spans %d bytes but %s × %v needs %d", t.begin, t.end, got, t.dtype, t.shape, want)
		}
	}

	// The tensors sorted by offsets must tile [0, dataLen).
	order := make([]int, len(infos))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool {
		x, y := &infos[order[a]], &infos[order[b]]
		if x.begin != y.begin {
			return x.begin < y.begin
		}
		if x.end != y.end {
			return x.end < y.end
		}
		return x.name < y.name
	})
	pos := uint64(0)
	prev := ""
	for _, i := range order {
		t := &infos[i]
		switch {
		case t.begin < pos:
			return nil, ferr(t.name, "data_offsets", "[%d, %d] overlaps tensor %q, which ends at %d", t.begin, t.end, prev, pos)
		case t.begin > pos:
			if prev == "" {
				return nil, ferr(t.name, "data_offsets", "hole in the data buffer: bytes [%d, %d) before this tensor belong to no tensor", pos, t.begin)
			}
			return nil, ferr(t.name, "data_offsets", "hole in the data buffer: bytes [%d, %d) between tensor %q and this tensor belong to no tensor", pos, t.begin, prev)
		}
		pos = t.end
		prev = t.name
	}
	if pos != dataLen {
		if prev == "" {
			return nil, ferr("", "data buffer", "%d bytes of data but the header lists no tensor", dataLen)
		}
		return nil, ferr(prev, "data buffer", "hole in the data buffer: bytes [%d, %d) after the last tensor belong to no tensor", pos, dataLen)
	}

	p := &parsed{tensors: make([]Tensor, len(infos)), metadata: meta}
	for i, t := range infos {
		p.tensors[i] = Tensor{Name: t.name, DType: t.dtype, Shape: t.shape, Data: data[t.begin:t.end:t.end]}
	}
	return p, nil
}

// byteSize is Size(dt)·∏shape, with ok false on overflow of int.
func byteSize(dt DType, shape []int) (n uint64, ok bool) {
	n = uint64(dt.Size())
	for _, d := range shape {
		if d < 0 {
			return 0, false
		}
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 || lo > math.MaxInt {
			return 0, false
		}
		n = lo
	}
	return n, true
}

// parseHeader decodes the JSON header: an object whose "__metadata__" entry
// (optional, may be null) maps strings to strings and whose other entries
// are tensors {"dtype": string, "shape": [uint…], "data_offsets": [uint, uint]}.
// Unknown fields inside a tensor entry are ignored, as the reference does.
func parseHeader(path string, hdr []byte) ([]tensorInfo, map[string]string, error) {
	ferr := func(tensor, field, format string, args ...any) error {
		return &FormatError{Path: path, Tensor: tensor, Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	if !utf8.Valid(hdr) {
		return nil, nil, ferr("", "header", "header is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(hdr))
	dec.UseNumber()
	jerr := func(tensor, field string, err error) error {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return ferr(tensor, field, "header is not valid JSON: unexpected end of header at byte %d", dec.InputOffset())
		}
		return ferr(tensor, field, "header is not valid JSON: %v", err)
	}

	tok, err := dec.Token()
	if err != nil {
		return nil, nil, jerr("", "header", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, nil, ferr("", "header", "header is %s, not a JSON object", describe(tok))
	}
	var (
		infos   []tensorInfo
		meta    map[string]string
		seenMet bool
		seen    = map[string]bool{}
	)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, jerr("", "header", err)
		}
		key, ok := tok.(string)
		if !ok { // the decoder only yields strings as keys; be safe anyway
			return nil, nil, ferr("", "header", "object key is %s", describe(tok))
		}
		if key == "__metadata__" {
			if seenMet {
				return nil, nil, ferr("", "__metadata__", "appears twice")
			}
			seenMet = true
			if meta, err = parseMetadata(dec, ferr, jerr); err != nil {
				return nil, nil, err
			}
			continue
		}
		if seen[key] {
			return nil, nil, ferr(key, "", "duplicate tensor name")
		}
		seen[key] = true
		info, err := parseTensorInfo(dec, key, ferr, jerr)
		if err != nil {
			return nil, nil, err
		}
		infos = append(infos, info)
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, nil, jerr("", "header", err)
	}
	if tok, err := dec.Token(); err != io.EOF {
		if err != nil {
			return nil, nil, jerr("", "header", err)
		}
		return nil, nil, ferr("", "header", "trailing %s after the header object (only whitespace may pad it)", describe(tok))
	}
	return infos, meta, nil
}

type errFn func(tensor, field, format string, args ...any) error
type jsonErrFn func(tensor, field string, err error) error

func parseMetadata(dec *json.Decoder, ferr errFn, jerr jsonErrFn) (map[string]string, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, jerr("", "__metadata__", err)
	}
	if tok == nil {
		return nil, nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, ferr("", "__metadata__", "is %s, want an object of strings", describe(tok))
	}
	meta := map[string]string{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, jerr("", "__metadata__", err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, ferr("", "__metadata__", "object key is %s", describe(tok))
		}
		if tok, err = dec.Token(); err != nil {
			return nil, jerr("", "__metadata__", err)
		}
		v, ok := tok.(string)
		if !ok {
			return nil, ferr("", "__metadata__", "value of %q is %s, want a string", key, describe(tok))
		}
		if _, dup := meta[key]; dup {
			return nil, ferr("", "__metadata__", "key %q appears twice", key)
		}
		meta[key] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, jerr("", "__metadata__", err)
	}
	return meta, nil
}

func parseTensorInfo(dec *json.Decoder, name string, ferr errFn, jerr jsonErrFn) (tensorInfo, error) {
	info := tensorInfo{name: name}
	tok, err := dec.Token()
	if err != nil {
		return info, jerr(name, "", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return info, ferr(name, "", "entry is %s, want an object with dtype, shape and data_offsets", describe(tok))
	}
	var haveDType, haveShape, haveOffsets bool
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return info, jerr(name, "", err)
		}
		field, ok := tok.(string)
		if !ok {
			return info, ferr(name, "", "object key is %s", describe(tok))
		}
		switch field {
		case "dtype":
			if haveDType {
				return info, ferr(name, field, "appears twice")
			}
			haveDType = true
			tok, err := dec.Token()
			if err != nil {
				return info, jerr(name, field, err)
			}
			s, ok := tok.(string)
			if !ok {
				return info, ferr(name, field, "is %s, want a string", describe(tok))
			}
			info.dtype = DType(s)
			if !info.dtype.Valid() {
				return info, ferr(name, field, "unknown or unsupported dtype %q", s)
			}
		case "shape":
			if haveShape {
				return info, ferr(name, field, "appears twice")
			}
			haveShape = true
			nums, err := parseUintArray(dec, name, field, ferr, jerr)
			if err != nil {
				return info, err
			}
			info.shape = make([]int, len(nums))
			for i, v := range nums {
				if v > math.MaxInt {
					return info, ferr(name, field, "dimension %d (%d) is too large", i, v)
				}
				info.shape[i] = int(v)
			}
		case "data_offsets":
			if haveOffsets {
				return info, ferr(name, field, "appears twice")
			}
			haveOffsets = true
			nums, err := parseUintArray(dec, name, field, ferr, jerr)
			if err != nil {
				return info, err
			}
			if len(nums) != 2 {
				return info, ferr(name, field, "has %d numbers, want 2 ([begin, end])", len(nums))
			}
			info.begin, info.end = nums[0], nums[1]
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return info, jerr(name, field, err)
			}
		}
	}
	if _, err := dec.Token(); err != nil {
		return info, jerr(name, "", err)
	}
	switch {
	case !haveDType:
		return info, ferr(name, "dtype", "missing")
	case !haveShape:
		return info, ferr(name, "shape", "missing")
	case !haveOffsets:
		return info, ferr(name, "data_offsets", "missing")
	}
	return info, nil
}

// parseUintArray reads a JSON array of non-negative integers.
func parseUintArray(dec *json.Decoder, name, field string, ferr errFn, jerr jsonErrFn) ([]uint64, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, jerr(name, field, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return nil, ferr(name, field, "is %s, want an array of integers", describe(tok))
	}
	what := "element"
	if field == "shape" {
		what = "dimension"
	}
	nums := []uint64{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, jerr(name, field, err)
		}
		num, ok := tok.(json.Number)
		if !ok {
			return nil, ferr(name, field, "%s %d is %s, want a non-negative integer", what, len(nums), describe(tok))
		}
		v, err := strconv.ParseUint(string(num), 10, 64)
		if err != nil {
			switch {
			case strings.HasPrefix(string(num), "-") && isInteger(string(num[1:])):
				return nil, ferr(name, field, "%s %d is negative (%s)", what, len(nums), num)
			case isInteger(string(num)):
				return nil, ferr(name, field, "%s %d (%s) is too large", what, len(nums), num)
			}
			return nil, ferr(name, field, "%s %d (%s) is not an integer", what, len(nums), num)
		}
		nums = append(nums, v)
	}
	if _, err := dec.Token(); err != nil {
		return nil, jerr(name, field, err)
	}
	return nums, nil
}

func isInteger(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// describe names a JSON token for an error message.
func describe(tok json.Token) string {
	switch v := tok.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number:
		return "the number " + v.String()
	case string:
		if len(v) > 40 {
			v = v[:40] + "…"
		}
		return fmt.Sprintf("the string %q", v)
	case json.Delim:
		switch v {
		case '{':
			return "an object"
		case '[':
			return "an array"
		}
		return fmt.Sprintf("%q", rune(v))
	}
	return fmt.Sprintf("%v", tok)
}

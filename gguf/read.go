// Package gguf reads and writes GGUF files, the format of llama.cpp and
// ollama (version 3; version 2 reads too). All numbers are little-endian.
//
//	magic      4 bytes "GGUF"
//	version    uint32
//	n_tensors  uint64
//	n_kv       uint64
//	kv         n_kv × (key string, value type uint32, value)
//	tensors    n_tensors × (name string, n_dims uint32, ne[n_dims] uint64,
//	           type uint32, offset uint64)
//	padding    zeros up to a multiple of the alignment
//	data       the tensors' bytes; a tensor starts at data+offset, offset a
//	           multiple of the alignment
//
// A string is a uint64 byte length and the UTF-8 bytes; an ARRAY value is
// an element type uint32, a uint64 count and the elements. The alignment is
// the UINT32 value of general.alignment, 32 when absent. ne[0] is the
// innermost (contiguous) dimension: a matrix of r rows and c columns has
// ne = [c, r]. A quantized type stores each row's c elements as c/BlockSize
// blocks of TypeSize bytes.
//
// Open memory-maps a file and hands out tensors whose Data views the
// mapping; Write produces the bytes gguf-py's GGUFWriter produces for the
// same metadata and tensors.
package gguf

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"os"
	"slices"
	"strings"

	"github.com/golora/golora/internal/mmapfile"
)

const (
	magic            = "GGUF"
	version          = 3
	defaultAlignment = 32
	// maxDims is ggml's GGML_MAX_DIMS.
	maxDims = 4
	// AlignmentKey holds the data alignment when it is not 32.
	AlignmentKey = "general.alignment"
)

// FormatError reports a malformed GGUF file. Every error of Open names the
// file and, where one is concerned, the metadata key or the tensor.
type FormatError struct {
	Path   string // the file
	Key    string // the metadata key concerned, "" if none
	Tensor string // the tensor concerned, "" if none
	Msg    string
}

func (e *FormatError) Error() string {
	var b strings.Builder
	b.WriteString("gguf: ")
	b.WriteString(e.Path)
	if e.Key != "" {
		fmt.Fprintf(&b, ": key %q", e.Key)
	}
	if e.Tensor != "" {
		fmt.Fprintf(&b, ": tensor %q", e.Tensor)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

// Tensor is one tensor of a file. Shape is row-major, outermost first (as
// PyTorch and numpy write it): the reverse of the ne the file stores, so a
// matrix of r rows and c columns has Shape [r, c]. Data holds its
// ∏Shape/BlockSize blocks; from a File it views the file's mapping, is
// read-only and valid until the File is closed.
type Tensor struct {
	Name  string
	Type  Type
	Shape []int
	Data  []byte
}

// NumElements is ∏Shape (1 for a scalar).
func (t Tensor) NumElements() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// dataSize is the byte size of a tensor of type typ and row-major shape,
// or an error when the innermost dimension is not a whole number of
// blocks or the size overflows.
func dataSize(typ Type, shape []int) (int, error) {
	if !typ.Known() {
		return 0, fmt.Errorf("unknown tensor type %d", uint32(typ))
	}
	inner := 1
	if len(shape) > 0 {
		inner = shape[len(shape)-1]
	}
	if inner%typ.BlockSize() != 0 {
		return 0, fmt.Errorf("%s row of %d elements is not a whole number of %d-element blocks", typ, inner, typ.BlockSize())
	}
	n := uint64(inner / typ.BlockSize() * typ.TypeSize())
	for _, d := range shape[:max(len(shape)-1, 0)] {
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 || lo > math.MaxInt {
			return 0, fmt.Errorf("shape %v is too large", shape)
		}
		n = lo
	}
	if n > math.MaxInt {
		return 0, fmt.Errorf("shape %v is too large", shape)
	}
	return int(n), nil
}

// File is one opened GGUF file, safe for concurrent reads.
type File struct {
	path      string
	version   uint32
	alignment int
	meta      []KV
	keys      map[string]int
	tensors   []Tensor
	byName    map[string]int
	mapped    []byte
	unmap     func([]byte) error
}

// Open memory-maps path read-only (on unix; elsewhere it reads the file
// into memory) and validates the header, every metadata value and every
// tensor info: counts and lengths that the file's size cannot hold are
// refused before anything is allocated, and every tensor's data must lie
// inside the file at an aligned offset without overlapping another.
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("gguf: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("gguf: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, &FormatError{Path: path, Msg: "not a regular file"}
	}
	size := st.Size()
	if size < 4 {
		return nil, &FormatError{Path: path, Msg: fmt.Sprintf("file is %d bytes, too short for the magic", size)}
	}
	if size > math.MaxInt {
		return nil, &FormatError{Path: path, Msg: fmt.Sprintf("file is %d bytes, too large to map", size)}
	}
	buf, unmap, err := mmapfile.Map(f, int(size))
	if err != nil {
		return nil, fmt.Errorf("gguf: map %s: %w", path, err)
	}
	file, err := parse(path, buf)
	if err != nil {
		unmap(buf)
		return nil, err
	}
	file.unmap = unmap
	return file, nil
}

// OpenBytes parses a GGUF file already in memory; name stands for it in
// errors and Path. The tensors view buf, which must not change while they
// are in use.
func OpenBytes(name string, buf []byte) (*File, error) {
	return parse(name, buf)
}

// Path is the path the file was opened with.
func (f *File) Path() string { return f.path }

// Version is the file's GGUF version (2 or 3).
func (f *File) Version() int { return int(f.version) }

// Alignment is the data alignment in bytes.
func (f *File) Alignment() int { return f.alignment }

// Metadata lists the entries in file order. The caller must not modify it.
func (f *File) Metadata() []KV { return f.meta }

// Tensors lists the tensors in file order. The caller must not modify it.
func (f *File) Tensors() []Tensor { return f.tensors }

// Tensor returns the named tensor.
func (f *File) Tensor(name string) (Tensor, bool) {
	i, ok := f.byName[name]
	if !ok {
		return Tensor{}, false
	}
	return f.tensors[i], true
}

// Close unmaps the file; its tensors must not be used afterwards. Closing
// twice is harmless.
func (f *File) Close() error {
	buf := f.mapped
	f.mapped = nil
	if buf == nil || f.unmap == nil {
		return nil
	}
	if err := f.unmap(buf); err != nil {
		return fmt.Errorf("gguf: unmap %s: %w", f.path, err)
	}
	return nil
}

// reader walks the header, producing FormatErrors that name the file and
// the key or tensor being read.
type reader struct {
	path        string
	buf         []byte
	off         int
	key, tensor string
}

func (r *reader) fail(format string, args ...any) error {
	return &FormatError{Path: r.path, Key: r.key, Tensor: r.tensor, Msg: fmt.Sprintf(format, args...)}
}

func (r *reader) left() int { return len(r.buf) - r.off }

func (r *reader) bytes(n int, what string) ([]byte, error) {
	if n > r.left() {
		return nil, r.fail("truncated: %s needs %d bytes at offset %d, the file has %d left", what, n, r.off, r.left())
	}
	b := r.buf[r.off : r.off+n]
	r.off += n
	return b, nil
}

func (r *reader) u32(what string) (uint32, error) {
	b, err := r.bytes(4, what)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (r *reader) u64(what string) (uint64, error) {
	b, err := r.bytes(8, what)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

// count reads a uint64 count of items of at least minSize bytes each and
// refuses one the rest of the file cannot hold.
func (r *reader) count(what string, minSize int) (int, error) {
	n, err := r.u64(what)
	if err != nil {
		return 0, err
	}
	if n > uint64(r.left()/minSize) {
		return 0, r.fail("%s %d cannot fit in the %d bytes left", what, n, r.left())
	}
	return int(n), nil
}

func (r *reader) str(what string) (string, error) {
	n, err := r.count(what+" length", 1)
	if err != nil {
		return "", err
	}
	b, err := r.bytes(n, what)
	return string(b), err
}

// value reads one value of type t; arrays of arrays are refused.
func (r *reader) value(t ValueType, inArray bool) (any, error) {
	if t == TypeString {
		return r.str("string")
	}
	if t == TypeArray {
		if inArray {
			return nil, r.fail("array of arrays is not supported")
		}
		return r.array()
	}
	n := t.size()
	if n == 0 {
		return nil, r.fail("unknown value type %d", uint32(t))
	}
	b, err := r.bytes(n, t.String()+" value")
	if err != nil {
		return nil, err
	}
	switch t {
	case TypeUint8:
		return b[0], nil
	case TypeInt8:
		return int8(b[0]), nil
	case TypeBool:
		if b[0] > 1 {
			return nil, r.fail("BOOL value %d is neither 0 nor 1", b[0])
		}
		return b[0] == 1, nil
	case TypeUint16:
		return binary.LittleEndian.Uint16(b), nil
	case TypeInt16:
		return int16(binary.LittleEndian.Uint16(b)), nil
	case TypeUint32:
		return binary.LittleEndian.Uint32(b), nil
	case TypeInt32:
		return int32(binary.LittleEndian.Uint32(b)), nil
	case TypeFloat32:
		return math.Float32frombits(binary.LittleEndian.Uint32(b)), nil
	case TypeUint64:
		return binary.LittleEndian.Uint64(b), nil
	case TypeInt64:
		return int64(binary.LittleEndian.Uint64(b)), nil
	default: // TypeFloat64
		return math.Float64frombits(binary.LittleEndian.Uint64(b)), nil
	}
}

// array reads an ARRAY value into a typed slice (see KV).
func (r *reader) array() (any, error) {
	et, err := r.u32("array element type")
	if err != nil {
		return nil, err
	}
	t := ValueType(et)
	minSize := t.size()
	switch t {
	case TypeString:
		minSize = 8
	case TypeArray:
		return nil, r.fail("array of arrays is not supported")
	}
	if minSize == 0 {
		return nil, r.fail("unknown array element type %d", et)
	}
	n, err := r.count("array length", minSize)
	if err != nil {
		return nil, err
	}
	read := func(i int) (any, error) { return r.value(t, true) }
	switch t {
	case TypeUint8:
		return fill[uint8](n, read)
	case TypeInt8:
		return fill[int8](n, read)
	case TypeUint16:
		return fill[uint16](n, read)
	case TypeInt16:
		return fill[int16](n, read)
	case TypeUint32:
		return fill[uint32](n, read)
	case TypeInt32:
		return fill[int32](n, read)
	case TypeFloat32:
		return fill[float32](n, read)
	case TypeBool:
		return fill[bool](n, read)
	case TypeString:
		return fill[string](n, read)
	case TypeUint64:
		return fill[uint64](n, read)
	case TypeInt64:
		return fill[int64](n, read)
	default: // TypeFloat64
		return fill[float64](n, read)
	}
}

func fill[T any](n int, read func(int) (any, error)) ([]T, error) {
	s := make([]T, n)
	for i := range s {
		v, err := read(i)
		if err != nil {
			return nil, err
		}
		s[i] = v.(T)
	}
	return s, nil
}

func parse(path string, buf []byte) (*File, error) {
	r := &reader{path: path, buf: buf}
	m, err := r.bytes(4, "magic")
	if err != nil {
		return nil, err
	}
	if string(m) != magic {
		return nil, r.fail("bad magic %q, want %q", m, magic)
	}
	v, err := r.u32("version")
	if err != nil {
		return nil, err
	}
	switch {
	case v == 1:
		return nil, r.fail("version 1 (32-bit counts) is not supported")
	case v != 2 && v != 3 && bits.ReverseBytes32(v) <= version:
		return nil, r.fail("big-endian file (version %d byte-swapped) is not supported", bits.ReverseBytes32(v))
	case v != 2 && v != 3:
		return nil, r.fail("unsupported version %d (want 2 or 3)", v)
	}
	// Each tensor info takes at least 8+4+4+8 bytes, each KV 8+4+1.
	nt, err := r.count("tensor count", 24)
	if err != nil {
		return nil, err
	}
	nkv, err := r.count("metadata count", 13)
	if err != nil {
		return nil, err
	}
	f := &File{path: path, version: v, alignment: defaultAlignment, mapped: buf,
		meta: make([]KV, 0, nkv), keys: make(map[string]int, nkv),
		tensors: make([]Tensor, 0, nt), byName: make(map[string]int, nt)}
	for i := 0; i < nkv; i++ {
		key, err := r.str(fmt.Sprintf("key of metadata entry %d", i))
		if err != nil {
			return nil, err
		}
		r.key = key
		if _, dup := f.keys[key]; dup {
			return nil, r.fail("duplicate key")
		}
		t, err := r.u32("value type")
		if err != nil {
			return nil, err
		}
		val, err := r.value(ValueType(t), false)
		if err != nil {
			return nil, err
		}
		if key == AlignmentKey {
			a, ok := val.(uint32)
			if !ok || a == 0 || a&(a-1) != 0 {
				return nil, r.fail("alignment must be a UINT32 power of two, got %s %v", typeName(val), val)
			}
			f.alignment = int(a)
		}
		f.keys[key] = len(f.meta)
		f.meta = append(f.meta, KV{Key: key, Value: val})
		r.key = ""
	}
	offsets := make([]uint64, nt)
	for i := 0; i < nt; i++ {
		name, err := r.str(fmt.Sprintf("name of tensor %d", i))
		if err != nil {
			return nil, err
		}
		r.tensor = name
		if _, dup := f.byName[name]; dup {
			return nil, r.fail("duplicate tensor name")
		}
		nd, err := r.u32("dimension count")
		if err != nil {
			return nil, err
		}
		if nd > maxDims {
			return nil, r.fail("%d dimensions, at most %d", nd, maxDims)
		}
		shape := make([]int, nd)
		for j := range shape {
			d, err := r.u64("dimension")
			if err != nil {
				return nil, err
			}
			if d > math.MaxInt32 {
				return nil, r.fail("dimension %d is %d, too large", j, d)
			}
			shape[int(nd)-1-j] = int(d)
		}
		typ, err := r.u32("type")
		if err != nil {
			return nil, err
		}
		if offsets[i], err = r.u64("offset"); err != nil {
			return nil, err
		}
		if !Type(typ).Known() {
			return nil, r.fail("unknown tensor type %d", typ)
		}
		f.byName[name] = i
		f.tensors = append(f.tensors, Tensor{Name: name, Type: Type(typ), Shape: shape})
		r.tensor = ""
	}
	if nt == 0 {
		return f, nil
	}
	start := alignUp(r.off, f.alignment)
	if start > len(buf) {
		return nil, r.fail("truncated: the data section starts at %d, past the end of the file (%d bytes)", start, len(buf))
	}
	data := buf[start:]
	// Tensors must not overlap: walk them by offset.
	order := make([]int, nt)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(offsets[a], offsets[b]) })
	end := uint64(0)
	for _, i := range order {
		t := &f.tensors[i]
		r.tensor = t.Name
		n, err := dataSize(t.Type, t.Shape)
		if err != nil {
			return nil, r.fail("%v", err)
		}
		off := offsets[i]
		switch {
		case off%uint64(f.alignment) != 0:
			return nil, r.fail("offset %d is not a multiple of the alignment %d", off, f.alignment)
		case off > uint64(len(data)) || uint64(n) > uint64(len(data))-off:
			return nil, r.fail("data [%d, %d) runs past the end of the data section (%d bytes)", off, off+uint64(n), len(data))
		case off < end:
			return nil, r.fail("data at offset %d overlaps the previous tensor's, which ends at %d", off, end)
		}
		t.Data = data[off : off+uint64(n) : off+uint64(n)]
		end = off + uint64(n)
	}
	return f, nil
}

func alignUp(n, a int) int { return (n + a - 1) / a * a }

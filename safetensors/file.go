// Package safetensors reads and writes the Hugging Face safetensors format.
//
// A file is
//
//	N        8 bytes, little-endian uint64: the length of the header
//	header   N bytes of JSON: {"NAME": {"dtype": "F32", "shape": [d0, d1, …],
//	         "data_offsets": [begin, end]}, …, "__metadata__": {"k": "v", …}}
//	data     the tensors' bytes; tensor NAME is data[begin:end], row-major,
//	         little-endian, and end−begin = dtype size · d0 · d1 · …
//
// Open memory-maps a file and hands out tensors whose Data views the mapping
// (no copy); OpenDir opens a model directory, sharded or not. Write and
// WriteSharded produce files laid out as the reference implementation lays
// them out. A File or Set is safe for concurrent reads.
package safetensors

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"sort"
	"unsafe"

	"github.com/golora/golora/internal/mmapfile"
	"github.com/golora/golora/tensor"
)

// Tensor is one named tensor. Data holds Size(DType)·∏Shape bytes, row-major
// and little-endian. A tensor obtained from a File views the file's memory
// mapping: it is read-only (writing to it faults) and valid until the File
// is closed.
type Tensor struct {
	Name  string
	DType DType
	Shape []int // empty for a scalar
	Data  []byte
}

// NumElements is ∏Shape (1 for a scalar, 0 if any dimension is 0).
func (t Tensor) NumElements() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// littleEndian is true when the host stores integers least significant byte
// first, so that the file's bytes can be viewed as Go numbers in place.
var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// checkLen verifies that t is of one of dtypes and holds exactly
// NumElements·size bytes.
func (t Tensor) checkLen(size int, want string, dtypes ...DType) error {
	ok := false
	for _, d := range dtypes {
		ok = ok || t.DType == d
	}
	if !ok {
		return fmt.Errorf("safetensors: tensor %q is %s, not %s", t.Name, t.DType, want)
	}
	n, fits := byteSize(t.DType, t.Shape)
	if !fits || n != uint64(len(t.Data)) || len(t.Data)%size != 0 {
		return fmt.Errorf("safetensors: tensor %q: %d data bytes do not match %s × %v", t.Name, len(t.Data), t.DType, t.Shape)
	}
	return nil
}

// F32 returns the elements of an F32 tensor, len NumElements(). When the
// host is little-endian and Data is 4-byte aligned (always so for files laid
// out by the reference writer, and for Write's output) the result shares
// memory with Data: no copy, and read-only if Data is. Otherwise it is a
// decoded copy. Other dtypes are an error naming the tensor.
func (t Tensor) F32() ([]float32, error) {
	if err := t.checkLen(4, "F32", F32); err != nil {
		return nil, err
	}
	n := len(t.Data) / 4
	if n == 0 {
		return []float32{}, nil
	}
	if littleEndian && uintptr(unsafe.Pointer(&t.Data[0]))%4 == 0 {
		return unsafe.Slice((*float32)(unsafe.Pointer(&t.Data[0])), n), nil
	}
	out := make([]float32, n)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.Data[4*i:]))
	}
	return out, nil
}

// U16 returns the raw 16-bit words of an F16, BF16, U16 or I16 tensor, len
// NumElements(): a zero-copy view of Data when the host is little-endian and
// Data is 2-byte aligned, a decoded copy otherwise. Converting F16/BF16 bits
// to float32 is the tensor package's job.
func (t Tensor) U16() ([]uint16, error) {
	if err := t.checkLen(2, "a 16-bit type (F16, BF16, U16, I16)", F16, BF16, U16, I16); err != nil {
		return nil, err
	}
	n := len(t.Data) / 2
	if n == 0 {
		return []uint16{}, nil
	}
	if littleEndian && uintptr(unsafe.Pointer(&t.Data[0]))%2 == 0 {
		return unsafe.Slice((*uint16)(unsafe.Pointer(&t.Data[0])), n), nil
	}
	out := make([]uint16, n)
	for i := range out {
		out[i] = binary.LittleEndian.Uint16(t.Data[2*i:])
	}
	return out, nil
}

// Mat views an F32, BF16 or F16 tensor of rows·cols elements as a
// rows×cols row-major matrix in its stored dtype, sharing memory with Data
// as F32 and U16 do; tensor.Widen converts its elements to float32. Other
// dtypes, and an element count other than rows·cols, are errors naming the
// tensor.
func (t Tensor) Mat(rows, cols int) (tensor.Mat, error) {
	if n := t.NumElements(); n != rows*cols {
		return tensor.Mat{}, fmt.Errorf("safetensors: tensor %q has %d elements (shape %v), not %d×%d", t.Name, n, t.Shape, rows, cols)
	}
	switch t.DType {
	case F32:
		v, err := t.F32()
		if err != nil {
			return tensor.Mat{}, err
		}
		return tensor.FromF32(v, rows, cols), nil
	case BF16, F16:
		v, err := t.U16()
		if err != nil {
			return tensor.Mat{}, err
		}
		dt := tensor.BF16
		if t.DType == F16 {
			dt = tensor.F16
		}
		return tensor.FromU16(dt, v, rows, cols), nil
	}
	return tensor.Mat{}, fmt.Errorf("safetensors: tensor %q has dtype %s; want F32, BF16 or F16", t.Name, t.DType)
}

// File is one opened safetensors file.
type File struct {
	path    string
	tensors map[string]Tensor
	names   []string
	meta    map[string]string
	mapped  []byte // the whole file, nil once closed
	unmap   func([]byte) error
}

// Open memory-maps path read-only (on unix; elsewhere it reads the file
// into memory) and validates the whole header: the header length, the JSON,
// every tensor's dtype, shape and data_offsets, and that the tensors tile
// the data buffer with no overlap, hole or trailing byte. Every error names
// the file and, where one is concerned, the tensor.
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, &FormatError{Path: path, Msg: "not a regular file"}
	}
	size := st.Size()
	if size < 8 {
		return nil, &FormatError{Path: path, Field: "header length", Msg: fmt.Sprintf("file is %d bytes, shorter than the 8-byte header length", size)}
	}
	if size > math.MaxInt {
		return nil, &FormatError{Path: path, Msg: fmt.Sprintf("file is %d bytes, too large to map", size)}
	}
	buf, unmap, err := mmapfile.Map(f, int(size))
	if err != nil {
		return nil, fmt.Errorf("safetensors: map %s: %w", path, err)
	}
	file, err := newFile(path, buf)
	if err != nil {
		unmap(buf)
		return nil, err
	}
	file.unmap = unmap
	return file, nil
}

// OpenBytes parses a safetensors file already in memory (an embedded model,
// say). name stands for the file in errors and Path. The tensors view buf,
// which must not change while they are in use; Close releases nothing.
func OpenBytes(name string, buf []byte) (*File, error) {
	return newFile(name, buf)
}

func newFile(path string, buf []byte) (*File, error) {
	p, err := parse(path, buf)
	if err != nil {
		return nil, err
	}
	f := &File{path: path, tensors: make(map[string]Tensor, len(p.tensors)), meta: p.metadata, mapped: buf}
	for _, t := range p.tensors {
		f.tensors[t.Name] = t
		f.names = append(f.names, t.Name)
	}
	sort.Strings(f.names)
	return f, nil
}

// Path is the path the file was opened with.
func (f *File) Path() string { return f.path }

// Names lists the tensor names in sorted order. The caller must not modify
// the slice.
func (f *File) Names() []string { return f.names }

// Tensor returns the named tensor, a view into the file.
func (f *File) Tensor(name string) (Tensor, bool) {
	t, ok := f.tensors[name]
	return t, ok
}

// Metadata is the header's "__metadata__" map (nil when absent). The caller
// must not modify it.
func (f *File) Metadata() map[string]string { return f.meta }

// Close unmaps the file. Tensors obtained from it must not be used
// afterwards. Closing twice is harmless.
func (f *File) Close() error {
	buf := f.mapped
	f.mapped = nil
	if buf == nil || f.unmap == nil {
		return nil
	}
	if err := f.unmap(buf); err != nil {
		return fmt.Errorf("safetensors: unmap %s: %w", f.path, err)
	}
	return nil
}

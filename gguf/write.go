package gguf

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"reflect"

	"github.com/golora/golora/internal/atomicfile"
)

// Write atomically writes a GGUF file of the metadata and tensors, in the
// order given (see Marshal).
func Write(path string, meta []KV, tensors []Tensor) error {
	if err := atomicfile.Write(path, func(w io.Writer) error { return Marshal(w, meta, tensors) }); err != nil {
		return fmt.Errorf("gguf: %w", err)
	}
	return nil
}

// Marshal writes a version-3 GGUF file: the metadata in order, then the
// tensor infos in order with offsets assigned consecutively, zeros up to
// the alignment (unless there are no tensors), each tensor's data padded
// with zeros to the alignment (general.alignment if meta sets
// it, else 32) — the layout of gguf-py's GGUFWriter. Each tensor's Data
// must hold exactly the bytes its Type and Shape call for; a value of a Go
// type KV does not list, a duplicate key or tensor name are errors naming
// it.
func Marshal(w io.Writer, meta []KV, tensors []Tensor) error {
	align := defaultAlignment
	keys := make(map[string]bool, len(meta))
	for _, kv := range meta {
		if keys[kv.Key] {
			return fmt.Errorf("gguf: key %q: duplicate key", kv.Key)
		}
		keys[kv.Key] = true
		if _, _, ok := valueTypeOf(kv.Value); !ok {
			return fmt.Errorf("gguf: key %q: Go type %T has no GGUF type", kv.Key, kv.Value)
		}
		if kv.Key == AlignmentKey {
			a, ok := kv.Value.(uint32)
			if !ok || a == 0 || a&(a-1) != 0 {
				return fmt.Errorf("gguf: key %q: alignment must be a uint32 power of two, got %T %v", kv.Key, kv.Value, kv.Value)
			}
			align = int(a)
		}
	}
	names := make(map[string]bool, len(tensors))
	for _, t := range tensors {
		if names[t.Name] {
			return fmt.Errorf("gguf: tensor %q: duplicate name", t.Name)
		}
		names[t.Name] = true
		if len(t.Shape) > maxDims {
			return fmt.Errorf("gguf: tensor %q: %d dimensions, at most %d", t.Name, len(t.Shape), maxDims)
		}
		n, err := dataSize(t.Type, t.Shape)
		if err != nil {
			return fmt.Errorf("gguf: tensor %q: %v", t.Name, err)
		}
		if n != len(t.Data) {
			return fmt.Errorf("gguf: tensor %q: %d data bytes, %s × %v needs %d", t.Name, len(t.Data), t.Type, t.Shape, n)
		}
	}

	bw := bufio.NewWriter(w)
	e := &encoder{w: bw}
	e.raw([]byte(magic))
	e.u32(version)
	e.u64(uint64(len(tensors)))
	e.u64(uint64(len(meta)))
	for _, kv := range meta {
		e.str(kv.Key)
		t, _, _ := valueTypeOf(kv.Value)
		e.u32(uint32(t))
		e.value(kv.Value)
	}
	off := 0
	for _, t := range tensors {
		e.str(t.Name)
		e.u32(uint32(len(t.Shape)))
		for j := len(t.Shape) - 1; j >= 0; j-- {
			e.u64(uint64(t.Shape[j]))
		}
		e.u32(uint32(t.Type))
		e.u64(uint64(off))
		off += alignUp(len(t.Data), align)
	}
	zeros := make([]byte, align)
	if len(tensors) > 0 { // a file without tensors ends after the header, as gguf-py's vocab-only files do
		e.raw(zeros[:alignUp(e.n, align)-e.n])
	}
	for _, t := range tensors {
		e.raw(t.Data)
		e.raw(zeros[:alignUp(len(t.Data), align)-len(t.Data)])
	}
	if e.err != nil {
		return e.err
	}
	return bw.Flush()
}

// encoder writes little-endian numbers, remembering the first error and
// the number of bytes written.
type encoder struct {
	w   io.Writer
	n   int
	err error
	b   [8]byte
}

func (e *encoder) raw(p []byte) {
	if e.err != nil {
		return
	}
	var k int
	k, e.err = e.w.Write(p)
	e.n += k
}

func (e *encoder) u8(v uint8)   { e.raw([]byte{v}) }
func (e *encoder) u16(v uint16) { binary.LittleEndian.PutUint16(e.b[:], v); e.raw(e.b[:2]) }
func (e *encoder) u32(v uint32) { binary.LittleEndian.PutUint32(e.b[:], v); e.raw(e.b[:4]) }
func (e *encoder) u64(v uint64) { binary.LittleEndian.PutUint64(e.b[:], v); e.raw(e.b[:8]) }
func (e *encoder) str(s string) { e.u64(uint64(len(s))); e.raw([]byte(s)) }

// value writes v (a KV value, type already checked) without its type tag.
func (e *encoder) value(v any) {
	switch x := v.(type) {
	case uint8:
		e.u8(x)
	case int8:
		e.u8(uint8(x))
	case bool:
		if x {
			e.u8(1)
		} else {
			e.u8(0)
		}
	case uint16:
		e.u16(x)
	case int16:
		e.u16(uint16(x))
	case uint32:
		e.u32(x)
	case int32:
		e.u32(uint32(x))
	case float32:
		e.u32(math.Float32bits(x))
	case uint64:
		e.u64(x)
	case int64:
		e.u64(uint64(x))
	case float64:
		e.u64(math.Float64bits(x))
	case string:
		e.str(x)
	default:
		_, et, _ := valueTypeOf(v)
		e.u32(uint32(et))
		a := reflect.ValueOf(v)
		e.u64(uint64(a.Len()))
		for i := range a.Len() {
			e.value(a.Index(i).Interface())
		}
	}
}

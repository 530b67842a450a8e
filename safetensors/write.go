package safetensors

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"unicode/utf8"
	"unsafe"

	"github.com/golora/golora/internal/atomicfile"
)

// FromF32 makes an F32 tensor of the given shape from data (len ∏shape).
// On a little-endian host Data aliases data (no copy): do not modify data
// until the tensor has been written. Write checks the length.
func FromF32(name string, shape []int, data []float32) Tensor {
	var b []byte
	switch {
	case len(data) == 0:
		b = []byte{}
	case littleEndian:
		b = unsafe.Slice((*byte)(unsafe.Pointer(&data[0])), 4*len(data))
	default:
		b = make([]byte, 4*len(data))
		for i, v := range data {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
		}
	}
	return Tensor{Name: name, DType: F32, Shape: append([]int(nil), shape...), Data: b}
}

// FromU16 makes a 16-bit tensor (dt F16 or BF16 raw bits, or U16, I16) of
// the given shape from data (len ∏shape). On a little-endian host Data
// aliases data (no copy). Write checks the dtype and length.
func FromU16(name string, dt DType, shape []int, data []uint16) Tensor {
	var b []byte
	switch {
	case len(data) == 0:
		b = []byte{}
	case littleEndian:
		b = unsafe.Slice((*byte)(unsafe.Pointer(&data[0])), 2*len(data))
	default:
		b = make([]byte, 2*len(data))
		for i, v := range data {
			binary.LittleEndian.PutUint16(b[2*i:], v)
		}
	}
	return Tensor{Name: name, DType: dt, Shape: append([]int(nil), shape...), Data: b}
}

// layout validates tensors for writing and returns the JSON header (padded
// with spaces to a multiple of 8 bytes) and the tensors in data order. The
// order and the header bytes are those of the reference writer: tensors by
// descending dtype alignment rank, then by name (byte-wise); the header is
// compact JSON with "__metadata__" first (keys sorted, omitted when empty),
// then the tensors in data order, each {"dtype","shape","data_offsets"}.
// path only names the file in errors.
func layout(path string, tensors []Tensor, metadata map[string]string) (header []byte, order []Tensor, err error) {
	ferr := func(tensor, field, format string, args ...any) error {
		return &FormatError{Path: path, Tensor: tensor, Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	seen := make(map[string]bool, len(tensors))
	for _, t := range tensors {
		switch {
		case t.Name == "__metadata__":
			return nil, nil, ferr(t.Name, "", "the name __metadata__ is reserved")
		case !utf8.ValidString(t.Name):
			return nil, nil, ferr(t.Name, "", "name is not valid UTF-8")
		case seen[t.Name]:
			return nil, nil, ferr(t.Name, "", "duplicate tensor name")
		case !t.DType.Valid():
			return nil, nil, ferr(t.Name, "dtype", "unknown or unsupported dtype %q", string(t.DType))
		}
		seen[t.Name] = true
		for i, d := range t.Shape {
			if d < 0 {
				return nil, nil, ferr(t.Name, "shape", "dimension %d is negative (%d)", i, d)
			}
		}
		want, ok := byteSize(t.DType, t.Shape)
		if !ok {
			return nil, nil, ferr(t.Name, "shape", "%s × %v overflows", t.DType, t.Shape)
		}
		if uint64(len(t.Data)) != want {
			return nil, nil, ferr(t.Name, "data", "%d bytes, but %s × %v needs %d", len(t.Data), t.DType, t.Shape, want)
		}
	}
	keys := make([]string, 0, len(metadata))
	for k, v := range metadata {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return nil, nil, ferr("", "__metadata__", "entry %q is not valid UTF-8", k)
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)

	order = append([]Tensor(nil), tensors...)
	sort.SliceStable(order, func(i, j int) bool {
		ri, rj := order[i].DType.rank(), order[j].DType.rank()
		if ri != rj {
			return ri > rj
		}
		return order[i].Name < order[j].Name
	})

	h := []byte{'{'}
	if len(keys) > 0 {
		h = append(h, `"__metadata__":{`...)
		for i, k := range keys {
			if i > 0 {
				h = append(h, ',')
			}
			h = appendJSONString(h, k)
			h = append(h, ':')
			h = appendJSONString(h, metadata[k])
		}
		h = append(h, '}')
	}
	off := uint64(0)
	for i, t := range order {
		if i > 0 || len(keys) > 0 {
			h = append(h, ',')
		}
		h = appendJSONString(h, t.Name)
		h = append(h, `:{"dtype":`...)
		h = appendJSONString(h, string(t.DType))
		h = append(h, `,"shape":[`...)
		for j, d := range t.Shape {
			if j > 0 {
				h = append(h, ',')
			}
			h = strconv.AppendInt(h, int64(d), 10)
		}
		h = append(h, `],"data_offsets":[`...)
		h = strconv.AppendUint(h, off, 10)
		h = append(h, ',')
		off += uint64(len(t.Data))
		h = strconv.AppendUint(h, off, 10)
		h = append(h, "]}"...)
	}
	h = append(h, '}')
	for len(h)%8 != 0 {
		h = append(h, ' ')
	}
	return h, order, nil
}

// appendJSONString appends s as a JSON string escaped as serde_json does:
// `"` and `\` backslash-escaped; \b \t \n \f \r short forms; other bytes
// below 0x20 as \u00xx (lowercase hex); everything else, UTF-8 included, raw.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\b':
			b = append(b, '\\', 'b')
		case c == '\t':
			b = append(b, '\\', 't')
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\f':
			b = append(b, '\\', 'f')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// Marshal serializes tensors and metadata to safetensors bytes, laid out
// exactly as Write lays out a file.
func Marshal(tensors []Tensor, metadata map[string]string) ([]byte, error) {
	h, order, err := layout("<memory>", tensors, metadata)
	if err != nil {
		return nil, err
	}
	size := 8 + len(h)
	for _, t := range order {
		size += len(t.Data)
	}
	out := make([]byte, 8, size)
	binary.LittleEndian.PutUint64(out, uint64(len(h)))
	out = append(out, h...)
	for _, t := range order {
		out = append(out, t.Data...)
	}
	return out, nil
}

// Write atomically writes tensors and metadata (nil or empty: no
// "__metadata__") to path as one safetensors file, byte-for-byte as the
// reference writer would: 8-byte header length, compact JSON header padded
// with spaces to a multiple of 8, then the tensors by descending dtype
// alignment and name, so every tensor is aligned to its element size. It
// checks names (unique, not "__metadata__"), dtypes, and that
// len(Data) = Size(DType)·∏Shape for every tensor before writing anything.
func Write(path string, tensors []Tensor, metadata map[string]string) error {
	h, order, err := layout(path, tensors, metadata)
	if err != nil {
		return err
	}
	return atomicfile.Write(path, func(w io.Writer) error {
		bw := bufio.NewWriterSize(w, 1<<20)
		var n [8]byte
		binary.LittleEndian.PutUint64(n[:], uint64(len(h)))
		bw.Write(n[:])
		bw.Write(h)
		for _, t := range order {
			if _, err := bw.Write(t.Data); err != nil {
				return err
			}
		}
		return bw.Flush()
	})
}

// Names of the files of a saved model, as Hugging Face spells them.
const (
	SingleFileName = "model.safetensors"
	IndexFileName  = "model.safetensors.index.json"
)

// shardName is the n-th (1-based) of count shard file names.
func shardName(n, count int) string {
	return fmt.Sprintf("model-%05d-of-%05d.safetensors", n, count)
}

var shardPattern = regexp.MustCompile(`^model-[0-9]{5,}-of-[0-9]{5,}\.safetensors$`)

// splitShards groups tensors into shards as huggingface_hub does: walking
// tensors in order, a tensor larger than maxShardBytes gets a shard of its
// own (appended when met), and a tensor that would push the current shard
// past maxShardBytes closes it and starts the next one. maxShardBytes ≤ 0
// means no limit.
func splitShards(tensors []Tensor, maxShardBytes int64) [][]Tensor {
	if maxShardBytes <= 0 {
		return [][]Tensor{tensors}
	}
	var shards [][]Tensor
	var cur []Tensor
	var curSize int64
	for _, t := range tensors {
		size := int64(len(t.Data))
		if size > maxShardBytes {
			shards = append(shards, []Tensor{t})
			continue
		}
		if curSize+size > maxShardBytes {
			shards = append(shards, cur)
			cur, curSize = nil, 0
		}
		cur = append(cur, t)
		curSize += size
	}
	if len(cur) > 0 || len(shards) == 0 {
		shards = append(shards, cur)
	}
	return shards
}

// WriteSharded saves tensors into directory dir (created if missing) as
// Hugging Face saves a model: one model.safetensors when everything fits in
// maxShardBytes of tensor data (≤ 0: no limit); otherwise shards
// model-00001-of-0000N.safetensors, split as huggingface_hub splits them
// (tensors in the given order; a tensor over the limit alone in its shard),
// plus model.safetensors.index.json = {"metadata": {"total_size": Σ tensor
// bytes}, "weight_map": {tensor: shard file}} written like Python's
// json.dumps(indent=2, sort_keys=True) with a final newline. Every shard
// carries metadata. Files are written atomically, the index last; then the
// files of an earlier save that the new one does not use (an old index,
// model.safetensors, other shards) are removed.
func WriteSharded(dir string, tensors []Tensor, metadata map[string]string, maxShardBytes int64) error {
	if _, _, err := layout(filepath.Join(dir, SingleFileName), tensors, metadata); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	shards := splitShards(tensors, maxShardBytes)
	keep := map[string]bool{}
	if len(shards) == 1 {
		if err := Write(filepath.Join(dir, SingleFileName), shards[0], metadata); err != nil {
			return err
		}
		keep[SingleFileName] = true
	} else {
		weightMap := map[string]string{}
		var total int64
		for i, shard := range shards {
			name := shardName(i+1, len(shards))
			if err := Write(filepath.Join(dir, name), shard, metadata); err != nil {
				return err
			}
			keep[name] = true
			for _, t := range shard {
				weightMap[t.Name] = name
				total += int64(len(t.Data))
			}
		}
		if err := atomicfile.WriteFile(filepath.Join(dir, IndexFileName), indexJSON(total, weightMap)); err != nil {
			return err
		}
		keep[IndexFileName] = true
	}
	return removeStale(dir, keep)
}

// removeStale deletes the model files of an earlier save that keep lacks.
func removeStale(dir string, keep map[string]bool) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		if keep[name] || e.IsDir() {
			continue
		}
		if name == SingleFileName || name == IndexFileName || shardPattern.MatchString(name) {
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				return fmt.Errorf("safetensors: remove stale %w", err)
			}
		}
	}
	return nil
}

// indexJSON renders the shard index as Python's json.dumps(index, indent=2,
// sort_keys=True) + "\n" renders it (ensure_ascii escaping included).
func indexJSON(total int64, weightMap map[string]string) []byte {
	names := make([]string, 0, len(weightMap))
	for k := range weightMap {
		names = append(names, k)
	}
	sort.Strings(names)
	b := []byte("{\n  \"metadata\": {\n    \"total_size\": ")
	b = strconv.AppendInt(b, total, 10)
	b = append(b, "\n  },\n  \"weight_map\": {"...)
	for i, k := range names {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, "\n    "...)
		b = appendPyJSONString(b, k)
		b = append(b, ": "...)
		b = appendPyJSONString(b, weightMap[k])
	}
	if len(names) > 0 {
		b = append(b, "\n  "...)
	}
	b = append(b, "}\n}\n"...)
	return b
}

// appendPyJSONString appends s as Python's json module writes it with
// ensure_ascii: printable ASCII raw except `"` and `\`; \n \r \t \b \f short
// forms; anything else as \uxxxx (lowercase hex, surrogate pairs above
// U+FFFF).
func appendPyJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	u4 := func(b []byte, r rune) []byte {
		return append(b, '\\', 'u', hex[r>>12&15], hex[r>>8&15], hex[r>>4&15], hex[r&15])
	}
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r == '\n':
			b = append(b, '\\', 'n')
		case r == '\r':
			b = append(b, '\\', 'r')
		case r == '\t':
			b = append(b, '\\', 't')
		case r == '\b':
			b = append(b, '\\', 'b')
		case r == '\f':
			b = append(b, '\\', 'f')
		case r >= 0x20 && r < 0x7f:
			b = append(b, byte(r))
		case r > 0xffff:
			r -= 0x10000
			b = u4(b, 0xd800+(r>>10))
			b = u4(b, 0xdc00+(r&0x3ff))
		default:
			b = u4(b, r)
		}
	}
	return append(b, '"')
}

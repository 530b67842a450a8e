package safetensors

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Set is all the tensors of a model directory, possibly spread over shards.
type Set struct {
	files []*File          // sorted by path
	where map[string]*File // tensor name → the file that holds it
	names []string         // sorted
}

// OpenDir opens the safetensors files of a model directory:
//
//   - with model.safetensors.index.json, the shards its "weight_map"
//     (tensor → shard file) names; every listed tensor must be in its shard,
//     and only listed tensors are part of the Set;
//   - otherwise model.safetensors alone if present;
//   - otherwise every *.safetensors file of dir; a tensor name found in two
//     files is an error.
//
// Errors name the index, the missing shard, or the tensor absent from it.
func OpenDir(dir string) (*Set, error) {
	indexPath := filepath.Join(dir, IndexFileName)
	if _, err := os.Stat(indexPath); err == nil {
		return openIndexed(dir, indexPath)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	single := filepath.Join(dir, SingleFileName)
	if _, err := os.Stat(single); err == nil {
		return openFiles([]string{single})
	}
	matches, err := filepath.Glob(filepath.Join(dir, "*.safetensors"))
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	var paths []string
	for _, m := range matches {
		if !strings.HasPrefix(filepath.Base(m), ".") {
			paths = append(paths, m)
		}
	}
	if len(paths) == 0 {
		if st, err := os.Stat(dir); err != nil {
			return nil, fmt.Errorf("safetensors: %w", err)
		} else if !st.IsDir() {
			return nil, fmt.Errorf("safetensors: %s is not a directory", dir)
		}
		return nil, fmt.Errorf("safetensors: %s holds no %s, %s or *.safetensors file", dir, IndexFileName, SingleFileName)
	}
	sort.Strings(paths)
	return openFiles(paths)
}

// openFiles opens each path; tensor names must be unique across them.
func openFiles(paths []string) (*Set, error) {
	s := &Set{where: map[string]*File{}}
	for _, p := range paths {
		f, err := Open(p)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.files = append(s.files, f)
		for _, name := range f.Names() {
			if other, dup := s.where[name]; dup {
				s.Close()
				return nil, &FormatError{Path: p, Tensor: name, Msg: "also present in " + other.Path()}
			}
			s.where[name] = f
			s.names = append(s.names, name)
		}
	}
	sort.Strings(s.names)
	return s, nil
}

// openIndexed opens the shards listed by a model.safetensors.index.json.
func openIndexed(dir, indexPath string) (*Set, error) {
	raw, err := os.ReadFile(indexPath)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	weightMap, err := parseIndex(indexPath, raw)
	if err != nil {
		return nil, err
	}
	// Group tensors by shard; open shards in name order.
	byShard := map[string][]string{}
	for tensor, shard := range weightMap {
		byShard[shard] = append(byShard[shard], tensor)
	}
	shards := make([]string, 0, len(byShard))
	for shard := range byShard {
		shards = append(shards, shard)
		sort.Strings(byShard[shard])
	}
	sort.Strings(shards)

	s := &Set{where: make(map[string]*File, len(weightMap))}
	for _, shard := range shards {
		path := filepath.Join(dir, filepath.FromSlash(shard))
		f, err := Open(path)
		if err != nil {
			s.Close()
			if errors.Is(err, fs.ErrNotExist) {
				return nil, &FormatError{Path: indexPath, Tensor: byShard[shard][0], Field: "weight_map",
					Msg: fmt.Sprintf("shard %s does not exist (%d tensors map to it)", shard, len(byShard[shard]))}
			}
			return nil, err
		}
		s.files = append(s.files, f)
		for _, name := range byShard[shard] {
			if _, ok := f.Tensor(name); !ok {
				s.Close()
				return nil, &FormatError{Path: indexPath, Tensor: name, Field: "weight_map",
					Msg: fmt.Sprintf("listed in shard %s but absent from it", shard)}
			}
			s.where[name] = f
			s.names = append(s.names, name)
		}
	}
	sort.Strings(s.names)
	return s, nil
}

// parseIndex reads the "weight_map" of a shard index: tensor name → shard
// file name relative to the index's directory.
func parseIndex(path string, raw []byte) (map[string]string, error) {
	ferr := func(tensor, field, format string, args ...any) error {
		return &FormatError{Path: path, Tensor: tensor, Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		return nil, ferr("", "", "not a JSON object: %v", err)
	}
	wmRaw, ok := top["weight_map"]
	if !ok {
		return nil, ferr("", "weight_map", "missing")
	}
	var wm map[string]any
	if err := json.Unmarshal(wmRaw, &wm); err != nil || wm == nil {
		return nil, ferr("", "weight_map", "not an object of tensor name → shard file")
	}
	if len(wm) == 0 {
		return nil, ferr("", "weight_map", "empty")
	}
	out := make(map[string]string, len(wm))
	for tensor, v := range wm {
		shard, ok := v.(string)
		if !ok {
			return nil, ferr(tensor, "weight_map", "shard is %T, want a file name", v)
		}
		if !filepath.IsLocal(filepath.FromSlash(shard)) || strings.Contains(shard, `\`) || filepath.Clean(shard) == "." {
			return nil, ferr(tensor, "weight_map", "shard %q is not a file name inside the model directory", shard)
		}
		out[tensor] = shard
	}
	return out, nil
}

// Names lists every tensor of the set in sorted order. The caller must not
// modify the slice.
func (s *Set) Names() []string { return s.names }

// Tensor returns the named tensor, a view into the file that holds it.
func (s *Set) Tensor(name string) (Tensor, bool) {
	f, ok := s.where[name]
	if !ok {
		return Tensor{}, false
	}
	return f.Tensor(name)
}

// FileOf is the path of the file that holds the named tensor.
func (s *Set) FileOf(name string) (string, bool) {
	f, ok := s.where[name]
	if !ok {
		return "", false
	}
	return f.Path(), true
}

// Files lists the paths of the opened files in sorted order.
func (s *Set) Files() []string {
	out := make([]string, len(s.files))
	for i, f := range s.files {
		out[i] = f.Path()
	}
	return out
}

// Close closes every file; tensors from the set must not be used after.
func (s *Set) Close() error {
	var errs []error
	for _, f := range s.files {
		if err := f.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

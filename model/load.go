package model

import (
	"encoding/json"
	"fmt"
	"github.com/golora/golora/gguf"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/golora/golora/internal/atomicfile"
	"github.com/golora/golora/quant"
	"github.com/golora/golora/safetensors"
	"github.com/golora/golora/tensor"
)

// Load opens a Hugging Face model directory: config.json and its safetensors
// weights (model.safetensors, or shards through model.safetensors.index.json).
// Weights are views into the mapped files; Close releases them. A path
// ending in .gguf is loaded by LoadGGUF.
func Load(dir string) (*Model, error) {
	if IsGGUF(dir) {
		return LoadGGUF(dir)
	}
	cfg, err := LoadConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, err
	}
	set, err := safetensors.OpenDir(dir)
	if err != nil {
		return nil, err
	}
	m, err := assemble(cfg, func(s paramSpec) (*Param, error) {
		if cfg.Quant != nil && s.linear {
			if p, err := loadQuantized(dir, set, s); p != nil || err != nil {
				return p, err
			}
		}
		t, ok := set.Tensor(s.name)
		if bare, cut := strings.CutPrefix(s.name, "transformer."); !ok && cut {
			t, ok = set.Tensor(bare) // the original GPT-2 checkpoint's names: h.0.…, wte, wpe, ln_f
		}
		if !ok {
			return nil, fmt.Errorf("%s: tensor %q is missing (architecture %s needs it)", dir, s.name, cfg.Architecture)
		}
		return paramFromTensor(dir, t, s)
	})
	if err != nil {
		set.Close()
		return nil, err
	}
	m.Source = dir
	m.closer = set
	return m, nil
}

// LoadConfigOf returns the config of the model Load would open at path:
// the directory's config.json, or a GGUF file's metadata (no tensor is
// read).
func LoadConfigOf(path string) (*Config, error) {
	if !IsGGUF(path) {
		return LoadConfig(filepath.Join(path, "config.json"))
	}
	f, err := gguf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cfg, _, err := ggufConfig(f)
	return cfg, err
}

// IsGGUF reports whether path names a GGUF file (by its extension), which
// Load reads with LoadGGUF.
func IsGGUF(path string) bool { return strings.EqualFold(filepath.Ext(path), ".gguf") }

// paramFromTensor checks a tensor's shape and dtype against what the
// architecture needs and views it as a matrix without copying.
func paramFromTensor(dir string, t safetensors.Tensor, s paramSpec) (*Param, error) {
	want := s.shape()
	if !slices.Equal(t.Shape, want) {
		return nil, fmt.Errorf("%s: tensor %q has shape %v, the config implies %v", dir, s.name, t.Shape, want)
	}
	rows, cols := s.rows, s.cols
	if cols == 0 {
		rows, cols = 1, s.rows
	}
	w, err := t.Mat(rows, cols)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	if s.transposed { // held [out, in]: an owned float32 transpose
		tr := make([]float32, rows*cols)
		row := make([]float32, cols)
		for i := 0; i < rows; i++ {
			for j, v := range w.Row(i, row) {
				tr[j*rows+i] = v
			}
		}
		return &Param{Name: s.name, Shape: want, W: tensor.FromF32(tr, cols, rows), owned: true, Transposed: true}, nil
	}
	return &Param{Name: s.name, Shape: want, W: w}, nil
}

// maxShardBytes is the shard size transformers' save_pretrained uses by
// default (5 GB).
const maxShardBytes = 5_000_000_000

// Save writes the model as a Hugging Face model directory: config.json (the
// config's raw fields, with torch_dtype set to dtype) and model.safetensors
// (sharded with an index past 5 GB) with every parameter stored as dtype
// (tensor.F32, BF16 or F16) — except 4-bit weights, which are written in
// bitsandbytes' layout with a quantization_config in config.json.
func (m *Model) Save(dir string, dtype tensor.DType) error {
	if dtype.Size() == 0 {
		return fmt.Errorf("save %s: weights cannot be stored as %v (F32, BF16 or F16)", dir, dtype)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	raw := map[string]any{}
	for k, v := range m.Cfg.Raw {
		raw[k] = v
	}
	raw["torch_dtype"] = torchDType(dtype)
	delete(raw, "quantization_config")
	if t, double, ok := m.QuantType(); ok {
		raw["quantization_config"] = quant.QuantizationConfig(t, double, "float32")
	}
	js, err := json.MarshalIndent(raw, "", "  ")
	if err != nil {
		return err
	}
	var ts []safetensors.Tensor
	for _, p := range m.Params() {
		if p.W.DType == tensor.Q4 && p.Transposed {
			return fmt.Errorf("save: %s: 4-bit Conv1D weights cannot be written in bitsandbytes' layout", p.Name)
		}
		if p.W.DType == tensor.Q4 {
			qt, err := quantTensors(p)
			if err != nil {
				return err
			}
			ts = append(ts, qt...)
			continue
		}
		ts = append(ts, encodeParam(p, dtype))
	}
	if err := safetensors.WriteSharded(dir, ts, map[string]string{"format": "pt"}, maxShardBytes); err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, "config.json"), append(js, '\n'))
}

// encodeParam converts a parameter to a safetensors tensor of dtype, in
// its stored layout (a transposed parameter transposed back).
func encodeParam(p *Param, dtype tensor.DType) safetensors.Tensor {
	n := p.NumElements()
	row := make([]float32, p.W.Cols)
	if p.Transposed {
		out := make([]float32, n)
		for i := 0; i < p.W.Rows; i++ {
			for j, v := range p.W.Row(i, row) {
				out[j*p.W.Rows+i] = v
			}
		}
		return encodeParam(&Param{Name: p.Name, Shape: p.Shape, W: tensor.FromF32(out, p.Shape[0], p.Shape[1])}, dtype)
	}
	switch dtype {
	case tensor.F32:
		out := make([]float32, 0, n)
		for i := 0; i < p.W.Rows; i++ {
			out = append(out, p.W.Row(i, row)...)
		}
		return safetensors.FromF32(p.Name, p.Shape, out)
	default:
		conv, st := tensor.F32ToBF16, safetensors.BF16
		if dtype == tensor.F16 {
			conv, st = tensor.F32ToF16, safetensors.F16
		}
		out := make([]uint16, 0, n)
		for i := 0; i < p.W.Rows; i++ {
			for _, v := range p.W.Row(i, row) {
				out = append(out, conv(v))
			}
		}
		return safetensors.FromU16(p.Name, st, p.Shape, out)
	}
}

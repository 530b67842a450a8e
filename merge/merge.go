// Package merge folds LoRA adapters into a base model and writes the result
// as a Hugging Face model directory that loads without them: config.json,
// the weights, and the base's tokenizer, generation and chat template files
// (a GGUF base's tokenizer rebuilt from its metadata).
package merge

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/golora/golora/gguf"
	"github.com/golora/golora/internal/modeldir"
	"github.com/golora/golora/lora"
	"github.com/golora/golora/mem"
	"github.com/golora/golora/model"
	"github.com/golora/golora/quant"
	"github.com/golora/golora/tensor"
	"github.com/golora/golora/tokenizer"
)

// Options change how the merged weights are stored.
type Options struct {
	// Requantize stores the merged linear layers of a 4-bit base in 4 bits
	// again (the base's type and double quantization) instead of in the
	// compute dtype. It is an error for a base that is not 4-bit.
	Requantize bool
	// Force merges even when the predicted peak memory (mem.Held plus
	// mem.Merge) exceeds the memory available; without it Write refuses.
	Force bool
}

// Result says what Write merged and how it stored it.
type Result struct {
	Modules int          // LoRA modules folded in, summed over the adapters
	DType   tensor.DType // the dtype of every weight not stored in 4 bits (F32 for a GGUF base in ggml blocks)
	// FourBit is set when the base was 4-bit; QuantType and Double are then
	// its type and double quantization.
	FourBit   bool
	QuantType quant.Type
	Double    bool
	// RequantError, with Options.Requantize, is the relative RMS error
	// √(Σ(W−Ŵ)²/ΣW²) over all linear weights, W merged in float32, Ŵ its
	// 4-bit quantization dequantized.
	RequantError float64
	// GGUFTokenizer is set when the base was a GGUF file whose tokenizer
	// (tokenizer.ggml.* metadata) was written as tokenizer.json and
	// tokenizer_config.json.
	GGUFTokenizer bool
}

// Write loads the model in modelDir, folds in each adapter of adapters
// (W += Scale·s·B·A per module, s = alpha/r or alpha/√r) in order, and
// writes the merged model to outDir with modelDir's companion files (a
// GGUF base: the tokenizer its metadata holds, see Result.GGUFTokenizer).
//
// Weights are stored in the base's dtype. A 4-bit base is dequantized
// first (4-bit weights cannot take the update in place) and stored in its
// bnb_4bit_compute_dtype, or in 4 bits again with Options.Requantize.
//
// outDir must not exist or be empty, and must not be modelDir: it is built
// in a temporary directory beside it and renamed into place, so a failure
// leaves no outDir behind.
func Write(modelDir string, adapters []lora.Spec, outDir string, o Options) (Result, error) {
	var res Result
	if len(adapters) == 0 {
		return res, errors.New("merge: no adapter to merge")
	}
	if modeldir.Same(modelDir, outDir) {
		return res, fmt.Errorf("merge: the output directory %s is the model directory: the base model's files are still being read", outDir)
	}
	err := modeldir.Write(outDir, func(dir string) error {
		var err error
		res, err = write(modelDir, adapters, dir, o)
		return err
	})
	return res, err
}

// write is Write into the existing directory dir.
func write(modelDir string, adapters []lora.Spec, dir string, o Options) (Result, error) {
	var res Result
	m, err := model.Load(modelDir)
	if err != nil {
		return res, err
	}
	defer m.Close()
	res.DType = m.SaveDType()
	res.QuantType, res.Double, res.FourBit = m.QuantType()
	if o.Requantize && !res.FourBit {
		return res, fmt.Errorf("merge: requantize: %s is not a 4-bit model", modelDir)
	}
	as, err := lora.AttachAll(m, adapters)
	if err != nil {
		return res, err
	}
	if !o.Force {
		need := mem.Held(m) + mem.Merge(m, o.Requantize)
		if err := mem.Check(need, "merge on a machine with more memory, or use the adapters unmerged (golora generate --adapter)"); err != nil {
			return res, err
		}
	}
	if res.FourBit {
		res.DType = computeDType(m.Cfg.Quant.ComputeDType)
		m.Dequantize()
	}
	for _, a := range as {
		a.Merge(m, 1) // each spec's Scale is already in its modules' scale
		res.Modules += len(a.Modules)
	}
	if o.Requantize {
		merged := snapshotLinears(m)
		if err := m.Quantize(res.QuantType, res.Double); err != nil {
			return res, err
		}
		res.RequantError = requantError(m, merged)
	}
	if err := m.Save(dir, res.DType); err != nil {
		return res, err
	}
	if model.IsGGUF(modelDir) {
		res.GGUFTokenizer, err = ggufTokenizer(modelDir, dir)
		return res, err
	}
	return res, modeldir.CopyCompanions(modelDir, dir)
}

// ggufTokenizer writes into dir the tokenizer.json and
// tokenizer_config.json (special tokens, add_bos/add_eos_token, chat
// template) that tokenizer.Load builds from the tokenizer.ggml.* metadata
// of the GGUF file path, and reports whether it wrote them: a GGUF without
// tokenizer.ggml.model has no tokenizer to write.
func ggufTokenizer(path, dir string) (bool, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return false, err
	}
	_, ok := f.Value("tokenizer.ggml.model")
	f.Close()
	if !ok {
		return false, nil
	}
	tok, err := tokenizer.Load(path)
	if err != nil {
		return false, err
	}
	return true, tok.Save(dir)
}

// computeDType maps bnb_4bit_compute_dtype to the dtype merged weights are
// written in.
func computeDType(name string) tensor.DType {
	switch name {
	case "bfloat16":
		return tensor.BF16
	case "float16":
		return tensor.F16
	}
	return tensor.F32
}

// snapshotLinears copies the float32 weights of every linear layer.
func snapshotLinears(m *model.Model) [][]float32 {
	var out [][]float32
	for _, lin := range m.Linears() {
		out = append(out, slices.Clone(lin.W.F32()))
	}
	return out
}

// requantError is √(Σ(W−Ŵ)²/ΣW²) over all linear weights, W in before,
// Ŵ the dequantized 4-bit weights now in m.
func requantError(m *model.Model, before [][]float32) float64 {
	var num, den float64
	var row []float32
	for i, lin := range m.Linears() {
		w := lin.W.W
		row = slices.Grow(row[:0], w.Cols)[:w.Cols]
		for r := 0; r < w.Rows; r++ {
			w.Row(r, row)
			for j, v := range row {
				d := float64(v - before[i][r*w.Cols+j])
				num += d * d
				den += float64(before[i][r*w.Cols+j]) * float64(before[i][r*w.Cols+j])
			}
		}
	}
	return math.Sqrt(num / den)
}

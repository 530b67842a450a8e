package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"slices"

	"github.com/golora/golora/internal/cli"
	"github.com/golora/golora/internal/human"
	"github.com/golora/golora/lora"
	"github.com/golora/golora/model"
	"github.com/golora/golora/tensor"
)

func init() {
	register(&cli.Command{Name: "merge", Summary: "fold a LoRA adapter into the base weights and write a full model", Run: runMerge,
		Usage: "merge --model DIR --adapter DIR --out DIR [--scale X] [--requantize]",
		Doc: "Adds the adapter's update s·B·A (times --scale) to the base weights and writes the merged model, with the base's tokenizer files, " +
			"to --out. A 4-bit base is dequantized first and stored in its compute dtype, or quantized again with --requantize."})
}

// companionFiles are copied from the base model directory into a merged one.
var companionFiles = []string{"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
	"tokenizer.model", "generation_config.json", "vocab.json", "merges.txt", "chat_template.jinja"}

func runMerge(fs *cli.FlagSet, args []string, stdout, stderr io.Writer) error {
	fs.Group("Model")
	dir := fs.String("model", "", "base model `DIR`")
	adapter := fs.String("adapter", "", "PEFT adapter `DIR`")
	scale := fs.Float64("scale", 1, "multiply the adapter's update by this")
	fs.Group("Output")
	out := fs.String("out", "", "output model `DIR`")
	requantize := fs.Bool("requantize", false, "4-bit base: quantize the merged weights again (reports the added error)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" || *adapter == "" || *out == "" {
		return fmt.Errorf("--model, --adapter and --out are required")
	}
	if same(*dir, *out) {
		return fmt.Errorf("--out must differ from --model: the base model's files are still being read")
	}
	m, err := model.Load(*dir)
	if err != nil {
		return err
	}
	defer m.Close()
	dtype := m.Embed.W.DType
	qt, double, quantized := m.QuantType()
	if *requantize && !quantized {
		return fmt.Errorf("--requantize: %s is not a 4-bit model", *dir)
	}
	a, err := lora.Load(*adapter, m, "default")
	if err != nil {
		return err
	}
	if quantized {
		// Adding s·B·A to 4-bit weights in place is impossible: dequantize
		// every linear, merge, and store the result in the compute dtype.
		dtype = computeDType(m.Cfg.Quant.ComputeDType)
		m.Dequantize()
	}
	a.Merge(m, float32(*scale))
	note := ""
	if *requantize {
		merged := snapshotLinears(m)
		if err := m.Quantize(qt, double); err != nil {
			return err
		}
		note = fmt.Sprintf(", quantized again to %s: relative RMS error of the merged weights %.4f", qt, requantError(m, merged))
	} else if quantized {
		note = fmt.Sprintf(" (the base was 4-bit %s: the merged model is dequantized, stored as %s; --requantize stores it 4-bit)", qt, dtype)
	}
	if err := m.Save(*out, dtype); err != nil {
		return err
	}
	if err := copyCompanions(*dir, *out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "merged %s (%s, scale %g) into %s, weights stored as %s%s, written to %s\n",
		*adapter, human.Plural(len(a.Modules), "module"), *scale, *dir, dtype, note, *out)
	return nil
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

// requantError is √(Σ(W−Ŵ)²/ΣW²) over all linear weights, Ŵ the
// dequantized 4-bit weights now in m.
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

// same reports whether two paths name the same directory.
func same(a, b string) bool {
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}

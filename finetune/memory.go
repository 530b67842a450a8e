package finetune

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/golora/golora/lora"
	"github.com/golora/golora/mem"
	"github.com/golora/golora/model"
	"github.com/golora/golora/tensor"
)

// PeakMemory predicts the peak memory of training model m (as loaded,
// before --quantize) with o on sequences padded to T tokens: mem.Predict
// of the run's method, base dtype, adapter (the --init-adapter's rank,
// targets, layers and dropout when given), batch, thread count and
// gradient checkpointing (and preference pairs: mem.Options.Pairs). It
// returns the mem.Options it predicted for.
func PeakMemory(m *model.Model, o Options, T int) (mem.Breakdown, mem.Options, error) {
	_, double, fourBit := m.QuantType()
	mo := mem.Options{Method: mem.LoRA, DTypeSize: m.Embed.W.DType.Size(), Rank: o.Rank, Targets: o.Targets, Layers: o.Layers,
		Batch: o.BatchSize, SeqLen: T, Threads: tensor.Threads(), GradCheckpoint: o.Checkpointing(m.Quantized()), DoubleQuant: o.DoubleQuant,
		DoRA: o.DoRA}
	if o.Dropout != nil {
		mo.Dropout = *o.Dropout
	}
	mo.Pairs = o.Preference()
	switch {
	case o.Full:
		mo.Method, mo.DTypeSize = mem.Full, 4 // full fine-tuning trains float32 weights
	case fourBit:
		mo.Method, mo.DoubleQuant = mem.QLoRA, double
	case o.Quantize != "":
		mo.Method = mem.QLoRA
	}
	if mo.DTypeSize != 2 {
		mo.DTypeSize = 4
	}
	if o.InitAdapter != "" && !o.Full {
		c, err := lora.LoadConfig(filepath.Join(o.InitAdapter, lora.ConfigFile))
		if err != nil {
			return mem.Breakdown{}, mo, err
		}
		mo.Rank, mo.Layers, mo.Targets, mo.DoRA = c.R, c.Layers, c.TargetsSpec(), c.DoRA
		if o.Dropout == nil {
			mo.Dropout = c.Dropout
		}
	}
	b, err := mem.Predict(m.Cfg, mo)
	if err == nil && mo.Method == mem.LoRA && m.Quantized() {
		b.HoldBase(mem.Base(m)) // a GGUF base held in ggml blocks
	}
	return b, mo, err
}

// checkMemory refuses a run whose predicted peak memory (PeakMemory)
// exceeds the memory available (mem.Check), saying what would shrink it.
func checkMemory(m *model.Model, o Options, T int) error {
	b, mo, err := PeakMemory(m, o, T)
	if err != nil {
		return err
	}
	var advice []string
	switch mo.Method {
	case mem.Full:
		advice = append(advice, "train a LoRA adapter instead of --full")
	case mem.LoRA:
		advice = append(advice, "--quantize nf4")
	}
	if mo.Batch > 1 {
		advice = append(advice, fmt.Sprintf("a smaller --batch-size than %d (with --grad-accum to keep the step's size)", mo.Batch))
	}
	if !mo.GradCheckpoint {
		advice = append(advice, "--grad-checkpoint")
	}
	rows := "sequences are padded to"
	if o.Packing {
		rows = "examples are packed into rows of"
	}
	advice = append(advice, fmt.Sprintf("a smaller --max-seq-len (%s %d tokens)", rows, T))
	return mem.Check(b.TotalBytes, "try "+strings.Join(advice, ", "))
}

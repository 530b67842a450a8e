// Package train runs LoRA (and full) fine-tuning: batches from a jsonl data
// set, forward, loss, backward, gradient clipping and AdamW over the
// trainable parameters only, with Hugging Face Trainer semantics (the loss
// of a step is the mean over all its unmasked targets, across gradient
// accumulation; the learning rate of step k is schedule(k)). It writes
// metrics.jsonl, checkpoints that resume bit-identically, and the final
// adapter in PEFT format.
package train

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/golora/golora/quant"
)

// Options are the settings of a training run. The JSON names are the keys
// of a --config file and equal the command-line flag names.
type Options struct {
	Model       string `json:"model"`
	Data        string `json:"data"`
	Valid       string `json:"valid"`
	Out         string `json:"out"`
	InitAdapter string `json:"init-adapter"`
	Resume      bool   `json:"resume"`
	Full        bool   `json:"full"` // train every base weight instead of LoRA
	// Quantize ("nf4" or "fp4") stores the frozen base's linear layers in 4
	// bits (QLoRA); DoubleQuant also quantizes their block absmax.
	Quantize    string `json:"quantize"`
	DoubleQuant bool   `json:"double-quant"`

	Rank    int     `json:"rank"`
	Alpha   float64 `json:"alpha"`
	Dropout float64 `json:"dropout"`
	Targets string  `json:"targets"` // "q_proj,v_proj", "all-linear" or "re:<regex>"
	Layers  []int   `json:"layers"`  // layers_to_transform
	RSLoRA  bool    `json:"rslora"`
	Init    string  `json:"init"` // default or gaussian

	LR        float64 `json:"lr"`
	Schedule  string  `json:"lr-schedule"`
	Warmup    int     `json:"warmup"`
	Steps     int     `json:"steps"`
	Epochs    float64 `json:"epochs"`
	BatchSize int     `json:"batch-size"`
	GradAccum int     `json:"grad-accum"`
	MaxSeqLen int     `json:"max-seq-len"`
	// GradCheckpoint, when set, says whether to keep only each layer's
	// input and recompute its activations in backward; unset, see
	// Checkpointing.
	GradCheckpoint *bool   `json:"grad-checkpoint,omitempty"`
	WeightDecay    float64 `json:"weight-decay"`
	Beta1          float64 `json:"beta1"`
	Beta2          float64 `json:"beta2"`
	Eps            float64 `json:"eps"`
	MaxGradNorm    float64 `json:"max-grad-norm"`
	Seed           uint64  `json:"seed"`
	Threads        int     `json:"threads"` // 0: $GOLORA_THREADS or every core
	SaveEvery      int     `json:"save-every"`
	EvalEvery      int     `json:"eval-every"`
	NormEvery      int     `json:"norm-every"` // record ‖s·B·A‖ per module every N steps (0: about 100 times a run)
	TrainOnPrompt  bool    `json:"train-on-prompt"`
	Shuffle        bool    `json:"shuffle"`
}

// Checkpointing reports whether the run uses gradient checkpointing: as
// GradCheckpoint says when it is set, else only on a 4-bit base (Quantize,
// or fourBit: the checkpoint is stored quantized), as QLoRA does (PEFT's
// prepare_model_for_kbit_training turns it on): with the base in 4 bits the
// activations are most of the memory.
func (o *Options) Checkpointing(fourBit bool) bool {
	if o.GradCheckpoint != nil {
		return *o.GradCheckpoint
	}
	return o.Quantize != "" || fourBit
}

// Defaults are PEFT's and the Hugging Face Trainer's defaults where they
// have one (r 8, alpha 16, AdamW betas 0.9/0.999, eps 1e-8, clipping at 1).
func Defaults() Options {
	return Options{
		Rank: 8, Alpha: 16, Targets: "q_proj,v_proj", Init: "default",
		LR: 2e-4, Schedule: "linear", Steps: 0, BatchSize: 4, GradAccum: 1, MaxSeqLen: 512,
		WeightDecay: 0, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, MaxGradNorm: 1, Seed: 42, Shuffle: true,
		DoubleQuant: true,
	}
}

// LoadConfigFile overlays the keys of a JSON config file onto o. Unknown
// keys are an error that names them.
func (o *Options) LoadConfigFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(o); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// Validate checks the numbers a user sets.
func (o *Options) Validate() error {
	switch {
	case o.Model == "":
		return fmt.Errorf("no model directory (--model)")
	case o.Data == "":
		return fmt.Errorf("no training data (--data)")
	case o.Out == "":
		return fmt.Errorf("no output directory (--out)")
	case o.Steps < 0 || o.Epochs < 0:
		return fmt.Errorf("steps and epochs must not be negative")
	case o.Steps == 0 && o.Epochs == 0:
		return fmt.Errorf("say how long to train: --steps or --epochs")
	case o.BatchSize <= 0 || o.GradAccum <= 0:
		return fmt.Errorf("batch-size and grad-accum must be positive")
	case o.MaxSeqLen < 2:
		return fmt.Errorf("max-seq-len must be at least 2")
	case !(o.LR >= 0):
		return fmt.Errorf("lr must be a non-negative number")
	case o.Warmup < 0 || o.SaveEvery < 0 || o.EvalEvery < 0 || o.NormEvery < 0:
		return fmt.Errorf("warmup, save-every, eval-every and norm-every must not be negative")
	case o.MaxGradNorm < 0 || o.WeightDecay < 0:
		return fmt.Errorf("max-grad-norm and weight-decay must not be negative")
	}
	if o.Quantize != "" {
		if _, err := quant.ParseType(o.Quantize); err != nil {
			return fmt.Errorf("--quantize: %w", err)
		}
		if o.Full {
			return fmt.Errorf("--quantize keeps the base frozen in 4 bits: it cannot be combined with --full")
		}
	}
	switch o.Schedule {
	case "constant", "linear", "cosine":
	default:
		return fmt.Errorf("lr-schedule %q: want constant, linear or cosine", o.Schedule)
	}
	return nil
}

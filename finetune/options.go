package finetune

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	"github.com/golora/golora/quant"
	"github.com/golora/golora/train"
)

// Options are the settings of `golora train`: the loop's hyperparameters
// (train.Config, embedded so that the JSON keys stay flat), the paths, and
// what the application does around the loop. The JSON names are the keys
// of a --config file and equal the command-line flag names.
type Options struct {
	train.Config

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

	// The LoRA adapter made for the run (lora.Config); an --init-adapter
	// brings its own, of which only Dropout, when set, is overridden.
	Rank    int      `json:"rank"`
	Alpha   float64  `json:"alpha"`
	Dropout *float64 `json:"dropout,omitempty"` // nil: the init adapter's lora_dropout, else 0
	Targets string   `json:"targets"`           // "q_proj,v_proj", "all-linear" or "re:<regex>"
	Layers  []int    `json:"layers"`            // layers_to_transform
	RSLoRA  bool     `json:"rslora"`
	Init    string   `json:"init"` // default or gaussian

	MaxSeqLen     int  `json:"max-seq-len"`
	TrainOnPrompt bool `json:"train-on-prompt"`
	Threads       int  `json:"threads"`    // 0: $GOLORA_THREADS or every core
	NormEvery     int  `json:"norm-every"` // record ‖s·B·A‖ per module every N steps (0: about 100 times a run)
}

// Defaults are PEFT's and the Hugging Face Trainer's defaults where they
// have one (r 8, alpha 16, q_proj and v_proj; train.Defaults).
func Defaults() Options {
	return Options{
		Config: train.Defaults(),
		Rank:   8, Alpha: 16, Targets: "q_proj,v_proj", Init: "default",
		MaxSeqLen: 512, DoubleQuant: true,
	}
}

// Checkpointing reports whether the run uses gradient checkpointing
// (train.Config.Checkpointing), counting --quantize as a 4-bit base.
func (o *Options) Checkpointing(fourBit bool) bool {
	return o.Config.Checkpointing(o.Quantize != "" || fourBit)
}

// LoadConfigFile overlays the keys of a JSON config file onto o. Unknown
// keys are an error that names them.
func (o *Options) LoadConfigFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(o); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// Validate checks the paths and numbers a user sets.
func (o *Options) Validate() error {
	switch {
	case o.Model == "":
		return fmt.Errorf("no model directory (--model)")
	case o.Data == "":
		return fmt.Errorf("no training data (--data)")
	case o.Out == "":
		return fmt.Errorf("no output directory (--out)")
	}
	if err := o.Config.Validate(); err != nil {
		return err
	}
	switch {
	case o.MaxSeqLen < 2:
		return fmt.Errorf("max-seq-len must be at least 2")
	case o.NormEvery < 0:
		return fmt.Errorf("norm-every must not be negative")
	}
	if o.Quantize != "" {
		if _, err := quant.ParseType(o.Quantize); err != nil {
			return fmt.Errorf("--quantize: %w", err)
		}
		if o.Full {
			return fmt.Errorf("--quantize keeps the base frozen in 4 bits: it cannot be combined with --full")
		}
	}
	return nil
}

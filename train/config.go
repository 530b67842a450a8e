// Package train is the fine-tuning loop as a library: given a model (with
// a LoRA adapter attached, or every weight trainable), tokenized examples
// and a Config of hyperparameters, a Run makes optimizer steps (forward,
// loss, backward, gradient clipping, AdamW over the trainable parameters
// only) with Hugging Face Trainer semantics: the loss of a step is the mean
// over all its unmasked targets, across gradient accumulation; the
// learning rate of step k is schedule(k). Runs evaluate, save and load
// checkpoints that resume bit-identically, and save the trained weights.
//
// train writes nothing by itself: after each step and at each checkpoint
// interval it calls the Sink the caller provides, which decides where
// metrics, checkpoints and progress go (package finetune is the one
// `golora train` uses). LoRA's shape — rank, alpha, targets, dropout — is
// the adapter's (lora.Config), not train's.
package train

import "fmt"

// Config holds the hyperparameters of a run. The JSON names are those of
// golora train's flags and config file; a checkpoint's trainer_state.json
// records it under "options".
type Config struct {
	LR        float64 `json:"lr"`          // peak learning rate
	Schedule  string  `json:"lr-schedule"` // constant, linear or cosine (after Warmup)
	Warmup    int     `json:"warmup"`      // linear warmup steps
	Steps     int     `json:"steps"`       // optimizer steps; 0: Epochs decides
	Epochs    float64 `json:"epochs"`      // passes over the data when Steps is 0
	BatchSize int     `json:"batch-size"`  // sequences per micro-batch
	GradAccum int     `json:"grad-accum"`  // micro-batches per optimizer step
	// GradCheckpoint, when set, says whether to keep only each layer's
	// input x, residual after attention x2 and post-RoPE k and v between
	// forward and backward, recomputing the layer's other activations in
	// backward; unset, see Checkpointing.
	GradCheckpoint *bool   `json:"grad-checkpoint,omitempty"`
	WeightDecay    float64 `json:"weight-decay"` // AdamW decoupled weight decay
	Beta1          float64 `json:"beta1"`
	Beta2          float64 `json:"beta2"`
	Eps            float64 `json:"eps"`
	MaxGradNorm    float64 `json:"max-grad-norm"` // clip the global gradient norm; 0: no clipping
	Seed           uint64  `json:"seed"`          // shuffling and dropout masks
	Shuffle        bool    `json:"shuffle"`       // a new permutation of the examples every epoch
	EvalEvery      int     `json:"eval-every"`    // validation loss every N steps (and after the last)
	SaveEvery      int     `json:"save-every"`    // Sink.Checkpoint every N steps and after the last; 0: never
	// EarlyStoppingPatience, when > 0, ends training after this many
	// evaluations in a row without a validation loss below the best so far.
	EarlyStoppingPatience int `json:"early-stopping-patience,omitempty"`

	// Method is the training objective: "sft" (or ""), the causal-LM loss
	// of Run.Train; "dpo" or "orpo", a preference loss over Run.Pairs
	// (preference.go). Beta and LabelSmoothing are DPO's β and ε, Lambda
	// ORPO's weight λ of the odds-ratio term (TRL's ORPOConfig.beta).
	Method         string  `json:"method,omitempty"`
	Beta           float64 `json:"beta,omitempty"`
	LabelSmoothing float64 `json:"label-smoothing,omitempty"`
	Lambda         float64 `json:"lambda,omitempty"`
	// Packing lays several examples into each row of Run.PackLen tokens,
	// each attending to itself alone (pack.go has the rule); BatchSize
	// then counts rows.
	Packing bool `json:"packing,omitempty"`
}

// Defaults are the Hugging Face Trainer's defaults where it has one (AdamW
// betas 0.9/0.999, eps 1e-8, clipping at 1) and PEFT's examples' learning
// rate 2e-4. Steps (or Epochs) is left for the caller to choose.
func Defaults() Config {
	return Config{
		LR: 2e-4, Schedule: "linear", BatchSize: 4, GradAccum: 1,
		Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, MaxGradNorm: 1, Seed: 42, Shuffle: true,
		Method: MethodSFT, Beta: 0.1, Lambda: 0.1,
	}
}

// Checkpointing reports whether a run uses gradient checkpointing: as
// GradCheckpoint says when it is set, else only on a quantized base (4-bit
// or a quantized GGUF), as QLoRA does (PEFT's
// prepare_model_for_kbit_training turns it on): with the base quantized
// the activations are most of the memory.
func (c *Config) Checkpointing(quantized bool) bool {
	if c.GradCheckpoint != nil {
		return *c.GradCheckpoint
	}
	return quantized
}

// Validate checks the numbers a user sets. The messages use the config
// keys, which are golora train's flag names.
func (c *Config) Validate() error {
	switch {
	case c.Steps < 0 || c.Epochs < 0:
		return fmt.Errorf("steps and epochs must not be negative")
	case c.Steps == 0 && c.Epochs == 0:
		return fmt.Errorf("say how long to train: --steps or --epochs")
	case c.BatchSize <= 0 || c.GradAccum <= 0:
		return fmt.Errorf("batch-size and grad-accum must be positive")
	case !(c.LR >= 0):
		return fmt.Errorf("lr must be a non-negative number")
	case c.Warmup < 0 || c.SaveEvery < 0 || c.EvalEvery < 0 || c.EarlyStoppingPatience < 0:
		return fmt.Errorf("warmup, save-every, eval-every and early-stopping-patience must not be negative")
	case c.EarlyStoppingPatience > 0 && c.EvalEvery == 0:
		return fmt.Errorf("early-stopping-patience needs eval-every: it counts evaluations")
	case c.MaxGradNorm < 0 || c.WeightDecay < 0:
		return fmt.Errorf("max-grad-norm and weight-decay must not be negative")
	}
	switch c.Schedule {
	case "constant", "linear", "cosine":
	default:
		return fmt.Errorf("lr-schedule %q: want constant, linear or cosine", c.Schedule)
	}
	return c.validateMethod()
}

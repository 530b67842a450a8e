package finetune

import (
	"fmt"
	"strings"

	"github.com/golora/golora/data"
	"github.com/golora/golora/internal/cfgfile"
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
	// ResumeFrom resumes from this checkpoint directory instead of OUT's
	// newest (e.g. an older one when the newest is damaged).
	ResumeFrom string `json:"resume-from"`
	Full       bool   `json:"full"` // train every base weight instead of LoRA
	// Quantize ("nf4" or "fp4") stores the frozen base's linear layers in 4
	// bits (QLoRA); DoubleQuant also quantizes their block absmax.
	Quantize    string `json:"quantize"`
	DoubleQuant bool   `json:"double-quant"`

	// The LoRA adapter made for the run (lora.Config); an --init-adapter
	// brings its own, of which only Dropout, when set, is overridden.
	Rank    int      `json:"rank"`
	Alpha   float64  `json:"alpha"`
	Dropout *float64 `json:"dropout,omitempty"` // nil: the init adapter's lora_dropout, else 0
	Targets string   `json:"targets"`           // "q_proj,v_proj", "all-linear" or "re:<regex>"; "": the family's (lora.FamilyTargets)
	Layers  []int    `json:"layers"`            // layers_to_transform
	RSLoRA  bool     `json:"rslora"`
	DoRA    bool     `json:"dora"` // PEFT's use_dora: a magnitude per output row (lora.Config.DoRA)
	Init    string   `json:"init"` // default or gaussian

	MaxSeqLen int `json:"max-seq-len"`
	// Truncation cuts examples longer than MaxSeqLen: "right" keeps their
	// first tokens, "left" their last, "drop" leaves them out
	// (data.Options.Truncation).
	Truncation string `json:"truncation"`
	// StrictData refuses data lines with keys golora does not use instead
	// of ignoring them with a warning.
	StrictData    bool `json:"strict-data"`
	TrainOnPrompt bool `json:"train-on-prompt"`
	Threads       int  `json:"threads"` // 0: $GOLORA_THREADS or every core
	// Force trains even when the predicted peak memory exceeds the memory
	// available.
	Force     bool `json:"force"`
	NormEvery int  `json:"norm-every"` // record ‖s·B·A‖ per module every N steps (0: about 100 times a run)
	// SaveTotalLimit, when > 0, keeps only the newest N checkpoints.
	SaveTotalLimit int `json:"save-total-limit"`
	// LoadBest makes OUT/best (the weights of the evaluation with the
	// lowest validation loss) the final adapter.
	LoadBest bool `json:"load-best"`
	// ReportTo lists, comma-separated, where metrics go besides
	// metrics.jsonl, as the Hugging Face Trainer's report_to: "tensorboard"
	// (also "all") writes TensorBoard event files into OUT/runs; "none" or
	// "" nothing else.
	ReportTo string `json:"report-to"`
	// EnableThinking sets the chat template's enable_thinking (Qwen3's
	// switch for reasoning) for messages lines; nil leaves it to the
	// template.
	EnableThinking *bool `json:"enable-thinking,omitempty"`
	// RefAdapter is DPO's reference: a PEFT adapter attached for the
	// reference pass alone ("": the base with the trained adapter off).
	RefAdapter string `json:"ref-adapter"`
	// LossType is TRL's DPOConfig.loss_type; only "sigmoid" is
	// implemented ("" is sigmoid).
	LossType string `json:"loss-type"`
}

// Defaults are PEFT's and the Hugging Face Trainer's defaults where they
// have one (r 8, alpha 16, the family's default target modules — q_proj
// and v_proj, c_attn for GPT-2; train.Defaults).
func Defaults() Options {
	return Options{
		Config: train.Defaults(),
		Rank:   8, Alpha: 16, Init: "default",
		MaxSeqLen: 512, Truncation: data.TruncateRight, DoubleQuant: true,
	}
}

// Checkpointing reports whether the run uses gradient checkpointing
// (train.Config.Checkpointing), counting --quantize as a quantized base.
func (o *Options) Checkpointing(quantized bool) bool {
	return o.Config.Checkpointing(o.Quantize != "" || quantized)
}

// LoadConfigFile overlays the settings of a JSON or YAML file onto o:
// keyed by the flag names, or by the names PEFT and the Hugging Face / TRL
// trainers use (ConfigAliases). An unknown key is an error that names it
// and the nearest known key; two names of one setting must agree.
func (o *Options) LoadConfigFile(path string) error {
	return cfgfile.Load(path, o, ConfigAliases)
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
	switch {
	case o.SaveTotalLimit < 0:
		return fmt.Errorf("save-total-limit must not be negative")
	case (o.LoadBest || o.EarlyStoppingPatience > 0) && (o.Valid == "" || o.EvalEvery == 0):
		return fmt.Errorf("load-best and early-stopping-patience compare validation losses: they need --valid and --eval-every")
	}
	if _, err := tensorBoard(o.ReportTo); err != nil {
		return err
	}
	if err := data.CheckTruncation(o.Truncation); err != nil {
		return fmt.Errorf("--truncation: %w", err)
	}
	switch {
	case o.RefAdapter != "" && o.Method != train.MethodDPO:
		return fmt.Errorf("--ref-adapter is DPO's reference model: it needs --method dpo")
	case o.LossType != "" && o.LossType != "sigmoid":
		return fmt.Errorf("loss-type %q: only TRL's \"sigmoid\" DPO loss is implemented", o.LossType)
	case o.LossType != "" && o.Method != train.MethodDPO:
		return fmt.Errorf("loss-type is DPO's: it needs --method dpo")
	case o.TrainOnPrompt && o.Preference():
		return fmt.Errorf("--train-on-prompt is for sft: --method %s scores the completions", o.Method)
	case o.Method == train.MethodDPO && o.Full:
		return fmt.Errorf("--method dpo's reference is the base with the adapter switched off: it cannot be combined with --full")
	}
	if o.Quantize != "" {
		if _, err := quant.ParseType(o.Quantize); err != nil {
			return fmt.Errorf("--quantize: %w", err)
		}
		if o.Full {
			return fmt.Errorf("--quantize keeps the base frozen in 4 bits: it cannot be combined with --full")
		}
	}
	if o.DoRA && o.Full {
		return fmt.Errorf("--dora trains an adapter: it cannot be combined with --full")
	}
	return nil
}

// ConfigAliases are the names PEFT's LoraConfig and the Hugging Face /
// TRL trainer arguments give to golora train's options, mapped to
// golora's keys (its flag names).
var ConfigAliases = map[string]cfgfile.Alias{
	"r":                           {Key: "rank"},
	"lora_alpha":                  {Key: "alpha"},
	"lora_dropout":                {Key: "dropout"},
	"target_modules":              {Key: "targets"},
	"layers_to_transform":         {Key: "layers"},
	"use_rslora":                  {Key: "rslora"},
	"use_dora":                    {Key: "dora"},
	"learning_rate":               {Key: "lr"},
	"lr_scheduler_type":           {Key: "lr-schedule"},
	"warmup_steps":                {Key: "warmup"},
	"num_train_epochs":            {Key: "epochs"},
	"max_steps":                   {Key: "steps", Unset: -1},
	"per_device_train_batch_size": {Key: "batch-size"},
	"gradient_accumulation_steps": {Key: "grad-accum"},
	"gradient_checkpointing":      {Key: "grad-checkpoint"},
	"max_seq_length":              {Key: "max-seq-len"},
	"max_length":                  {Key: "max-seq-len"},
	"weight_decay":                {Key: "weight-decay"},
	"max_grad_norm":               {Key: "max-grad-norm"},
	"adam_beta1":                  {Key: "beta1"},
	"adam_beta2":                  {Key: "beta2"},
	"adam_epsilon":                {Key: "eps"},
	"output_dir":                  {Key: "out"},
	"save_steps":                  {Key: "save-every"},
	"eval_steps":                  {Key: "eval-every"},
	"save_total_limit":            {Key: "save-total-limit"},
	"load_best_model_at_end":      {Key: "load-best"},
	"early_stopping_patience":     {Key: "early-stopping-patience"},
	"report_to":                   {Key: "report-to"},
}

// tensorBoard reports whether the --report-to list reportTo asks for
// TensorBoard event files ("tensorboard" or "all"); "none" asks for
// nothing, as does an empty list. Another name is an error.
func tensorBoard(reportTo string) (bool, error) {
	tb := false
	for name := range strings.SplitSeq(reportTo, ",") {
		switch strings.TrimSpace(name) {
		case "tensorboard", "all":
			tb = true
		case "none", "":
		default:
			return false, fmt.Errorf("--report-to %q: golora reports to tensorboard (or all, or none)", strings.TrimSpace(name))
		}
	}
	return tb, nil
}

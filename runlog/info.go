package runlog

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/golora/golora/internal/atomicfile"
)

// Settings are the hyperparameters and inputs of a run as run.json records
// them, for display: the values the run used (an --init-adapter's own rank,
// alpha and dropout; gradient checkpointing as decided). The JSON keys are
// golora train's flag and config-file names, so run.json files of earlier
// golora versions, and the "options" of their checkpoints'
// trainer_state.json, read into it too.
type Settings struct {
	Model       string `json:"model"`
	Data        string `json:"data"`
	Valid       string `json:"valid"`
	Out         string `json:"out"`
	InitAdapter string `json:"init-adapter"`
	Resume      bool   `json:"resume"`
	Full        bool   `json:"full"`
	Quantize    string `json:"quantize"`
	DoubleQuant bool   `json:"double-quant"`

	Rank    int     `json:"rank"`
	Alpha   float64 `json:"alpha"`
	Dropout float64 `json:"dropout"`
	Targets string  `json:"targets"`
	Layers  []int   `json:"layers"`
	RSLoRA  bool    `json:"rslora"`
	DoRA    bool    `json:"dora,omitempty"`
	Init    string  `json:"init"`

	LR             float64 `json:"lr"`
	Schedule       string  `json:"lr-schedule"`
	Warmup         int     `json:"warmup"`
	Steps          int     `json:"steps"`
	Epochs         float64 `json:"epochs"`
	BatchSize      int     `json:"batch-size"`
	GradAccum      int     `json:"grad-accum"`
	MaxSeqLen      int     `json:"max-seq-len"`
	Truncation     string  `json:"truncation,omitempty"`
	StrictData     bool    `json:"strict-data,omitempty"`
	EnableThinking *bool   `json:"enable-thinking,omitempty"`
	GradCheckpoint bool    `json:"grad-checkpoint"`
	WeightDecay    float64 `json:"weight-decay"`
	Beta1          float64 `json:"beta1"`
	Beta2          float64 `json:"beta2"`
	Eps            float64 `json:"eps"`
	MaxGradNorm    float64 `json:"max-grad-norm"`
	Seed           uint64  `json:"seed"`
	Threads        int     `json:"threads"`
	SaveEvery      int     `json:"save-every"`
	SaveTotalLimit int     `json:"save-total-limit,omitempty"`
	LoadBest       bool    `json:"load-best,omitempty"`
	Patience       int     `json:"early-stopping-patience,omitempty"`
	EvalEvery      int     `json:"eval-every"`
	NormEvery      int     `json:"norm-every"`
	TrainOnPrompt  bool    `json:"train-on-prompt"`
	Shuffle        bool    `json:"shuffle"`
	ReportTo       string  `json:"report-to,omitempty"`
	// Preference training (absent for sft).
	Method         string  `json:"method,omitempty"`
	Beta           float64 `json:"beta,omitempty"`
	LabelSmoothing float64 `json:"label-smoothing,omitempty"`
	Lambda         float64 `json:"lambda,omitempty"`
	RefAdapter     string  `json:"ref-adapter,omitempty"`
	Packing        bool    `json:"packing,omitempty"`
}

// RunInfo is run.json: what a run was asked to do and what it cost.
type RunInfo struct {
	Options   Settings `json:"options"`
	ModelPath string   `json:"model_path"` // Options.Model made absolute
	// Status is "running" while training, then "done", "stopped" (asked
	// to stop early; Error says where it stopped) or "failed" (Error says
	// why).
	Status          string  `json:"status"`
	Error           string  `json:"error,omitempty"`
	StartStep       int     `json:"start_step"` // > 0 for a resumed run
	TotalSteps      int     `json:"total_steps"`
	SeqLen          int     `json:"seq_len"` // padded tokens per sequence
	TrainExamples   int     `json:"train_examples"`
	ValidExamples   int     `json:"valid_examples"`
	TrainTruncated  int     `json:"train_truncated,omitempty"` // examples longer than max-seq-len, cut (Settings.Truncation)
	TrainDropped    int     `json:"train_dropped,omitempty"`   // … left out
	ValidTruncated  int     `json:"valid_truncated,omitempty"`
	ValidDropped    int     `json:"valid_dropped,omitempty"`
	BestStep        int     `json:"best_step,omitempty"` // the evaluation whose weights OUT/best holds
	BestValidLoss   float64 `json:"best_valid_loss,omitempty"`
	EarlyStop       int     `json:"early_stop,omitempty"` // the step training stopped after for lack of improvement
	TrainableParams int     `json:"trainable_params"`
	BaseParams      int     `json:"base_params"`
	AdapterParams   int     `json:"adapter_params"`
	Scale           float64 `json:"scale,omitempty"` // LoRA s = alpha/r (or alpha/√r)
	NormEvery       int     `json:"norm_every"`
	Threads         int     `json:"threads"`
	GoVersion       string  `json:"go_version"`
	Platform        string  `json:"platform"`
	Started         string  `json:"started"` // RFC 3339
	ElapsedSec      float64 `json:"elapsed_sec"`
	Tokens          int     `json:"tokens"`         // real tokens trained on by this process
	TokensPerSec    float64 `json:"tokens_per_sec"` // Tokens / time spent in optimizer steps
	PeakRSSBytes    int64   `json:"peak_rss_bytes"` // VmHWM; 0 where unknown
}

// ReadRunInfo parses a run.json.
func ReadRunInfo(path string) (*RunInfo, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var ri RunInfo
	if err := json.Unmarshal(raw, &ri); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &ri, nil
}

// WriteRunInfo writes ri as dir/run.json, atomically.
func WriteRunInfo(dir string, ri *RunInfo) error {
	js, err := json.MarshalIndent(ri, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, RunFile), append(js, '\n'))
}

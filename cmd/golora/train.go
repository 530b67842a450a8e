package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/golora/golora/finetune"
	"github.com/golora/golora/internal/cli"
	"github.com/golora/golora/internal/outlock"
	"github.com/golora/golora/report"
	"github.com/golora/golora/tensor"
	"github.com/golora/golora/train"
)

func init() {
	register(&cli.Command{Name: "train", Summary: "train a LoRA adapter on a jsonl data set (PEFT output)", Run: runTrain,
		Usage: "train --model DIR --data FILE --out DIR (--steps N | --epochs X) [flags]",
		Doc: "Trains a LoRA adapter (or, with --quantize, QLoRA on a 4-bit base; with --full, every weight) on a jsonl data set " +
			"and writes it in PEFT format to --out, with metrics.jsonl, checkpoints and report.html. " +
			"--config FILE reads the same settings from a file; flags given on the command line override it."})
}

// trainFlags defines every training flag on fs, grouped, with o's values
// as defaults.
func trainFlags(fs *cli.FlagSet, o *finetune.Options) {
	fs.Group("Model")
	fs.StringVar(&o.Model, "model", o.Model, "Hugging Face model `DIR`")
	fs.StringVar(&o.InitAdapter, "init-adapter", o.InitAdapter, "start from this PEFT adapter `DIR`")
	fs.BoolVar(&o.Full, "full", o.Full, "full fine-tuning: train every weight (no adapter)")
	fs.StringVar(&o.Quantize, "quantize", o.Quantize, "QLoRA: keep the frozen base's linear layers in 4-bit `TYPE`, nf4 or fp4")
	fs.BoolVar(&o.DoubleQuant, "double-quant", o.DoubleQuant, "with --quantize: quantize the block absmax too")
	fs.Group("Data")
	fs.StringVar(&o.Data, "data", o.Data, "training data, jsonl `FILE` (text, prompt/completion, messages or input_ids lines)")
	fs.StringVar(&o.Valid, "valid", o.Valid, "validation data, jsonl `FILE`")
	fs.IntVar(&o.MaxSeqLen, "max-seq-len", o.MaxSeqLen, "truncate examples to this many tokens")
	fs.StringVar(&o.Truncation, "truncation", o.Truncation, "how to cut an example longer than --max-seq-len: `MODE` right (keep its start), left (keep its end) or drop (leave it out)")
	fs.BoolVar(&o.StrictData, "strict-data", o.StrictData, "refuse data lines with keys golora does not use (default: ignore them with one warning per file)")
	fs.BoolVar(&o.TrainOnPrompt, "train-on-prompt", o.TrainOnPrompt, "also train on prompt tokens")
	fs.OptBoolVar(&o.EnableThinking, "enable-thinking", "set the chat template's enable_thinking for messages lines (Qwen3: false renders an empty <think> block; default: the template's)")
	fs.BoolVar(&o.Shuffle, "shuffle", o.Shuffle, "shuffle the examples every epoch")
	fs.BoolVar(&o.Packing, "packing", o.Packing, "pack several examples into each row of --max-seq-len tokens, each attending to itself alone (--batch-size then counts rows)")
	fs.Group("LoRA")
	fs.IntVar(&o.Rank, "rank", o.Rank, "LoRA rank r")
	fs.Float64Var(&o.Alpha, "alpha", o.Alpha, "LoRA alpha (scale alpha/r)")
	fs.OptFloat64Var(&o.Dropout, "dropout", "LoRA dropout probability (default: the --init-adapter's lora_dropout, else 0)")
	fs.StringVar(&o.Targets, "targets", o.Targets, "target `MODULES`: names (q_proj,v_proj), all-linear, or re:REGEX (default: PEFT's for the family: q_proj,v_proj; c_attn for GPT-2; none for Phi-3)")
	fs.IntsVar(&o.Layers, "layers", 0, "only these layers (layers_to_transform), e.g. 0,1,2")
	fs.BoolVar(&o.RSLoRA, "rslora", o.RSLoRA, "rank-stabilised scale alpha/√r")
	fs.BoolVar(&o.DoRA, "dora", o.DoRA, "DoRA (PEFT use_dora): also train a magnitude per output row of each adapted module")
	fs.StringVar(&o.Init, "init", o.Init, "A initialisation `KIND`: default (Kaiming-uniform) or gaussian")
	fs.Group("Optimization")
	fs.Float64Var(&o.LR, "lr", o.LR, "peak learning rate")
	fs.StringVar(&o.Schedule, "lr-schedule", o.Schedule, "learning-rate `SCHEDULE` after --warmup: constant, linear or cosine")
	fs.IntVar(&o.Warmup, "warmup", o.Warmup, "linear warmup steps")
	fs.IntVar(&o.Steps, "steps", o.Steps, "optimizer steps (or use --epochs)")
	fs.Float64Var(&o.Epochs, "epochs", o.Epochs, "passes over the data when --steps is 0")
	fs.IntVar(&o.BatchSize, "batch-size", o.BatchSize, "sequences per micro-batch")
	fs.IntVar(&o.GradAccum, "grad-accum", o.GradAccum, "micro-batches per optimizer step")
	fs.Float64Var(&o.WeightDecay, "weight-decay", o.WeightDecay, "AdamW decoupled weight decay")
	fs.Float64Var(&o.MaxGradNorm, "max-grad-norm", o.MaxGradNorm, "clip the gradient norm (0 disables)")
	fs.Uint64Var(&o.Seed, "seed", o.Seed, "seed for initialisation, shuffling and dropout")
	fs.Group("Preference")
	fs.StringVar(&o.Method, "method", o.Method, "training `OBJECTIVE`: sft (the causal-LM loss), or dpo or orpo on {prompt, chosen, rejected} data (TRL's DPO and ORPO)")
	fs.Float64Var(&o.Beta, "beta", o.Beta, "dpo: β, the strength of the pull towards the reference")
	fs.Float64Var(&o.LabelSmoothing, "label-smoothing", o.LabelSmoothing, "dpo: ε, the assumed fraction of pairs whose preference is flipped (cDPO), in [0, 0.5]")
	fs.Float64Var(&o.Lambda, "lambda", o.Lambda, "orpo: λ, the weight of the odds-ratio term (TRL's ORPOConfig beta)")
	fs.StringVar(&o.RefAdapter, "ref-adapter", o.RefAdapter, "dpo: the reference is the base with this PEFT adapter `DIR` (default: the base alone)")
	fs.Group("Output")
	fs.StringVar(&o.Out, "out", o.Out, "output `DIR` (adapter, metrics.jsonl, checkpoints)")
	fs.BoolVar(&o.Resume, "resume", o.Resume, "continue from the newest checkpoint in --out")
	fs.StringVar(&o.ResumeFrom, "resume-from", o.ResumeFrom, "continue from this checkpoint `DIR` (e.g. an older one when the newest is damaged)")
	fs.IntVar(&o.SaveEvery, "save-every", o.SaveEvery, "write a checkpoint every N steps and at the last (0: none; the adapter is always saved at the end)")
	fs.IntVar(&o.SaveTotalLimit, "save-total-limit", o.SaveTotalLimit, "keep only the newest N checkpoints (0: all)")
	fs.IntVar(&o.EvalEvery, "eval-every", o.EvalEvery, "validation loss every N steps (always at the end); the best weights are kept in OUT/best")
	fs.IntVar(&o.EarlyStoppingPatience, "early-stopping-patience", o.EarlyStoppingPatience, "with --eval-every: stop after K evaluations in a row without a lower validation loss (0: never)")
	fs.BoolVar(&o.LoadBest, "load-best", o.LoadBest, "with --eval-every: make OUT/best, the weights of the lowest validation loss, the final adapter")
	fs.StringVar(&o.ReportTo, "report-to", o.ReportTo, "also write the metrics for `TOOLS`: tensorboard (event files in OUT/runs) or none")
	fs.IntVar(&o.NormEvery, "norm-every", o.NormEvery, "record every module's ‖s·B·A‖ each N steps for the report (0: about 100 times a run)")
	fs.Group("Performance")
	fs.IntVar(&o.Threads, "threads", o.Threads, "cores to compute on (0: $GOLORA_THREADS, else all)")
	fs.BoolVar(&o.Force, "force", o.Force, "train even when the predicted peak memory exceeds the memory available")
	fs.OptBoolVar(&o.GradCheckpoint, "grad-checkpoint", "keep only a few tensors per layer and recompute the rest in backward: much less memory, about 1/5 more compute (default: on with --quantize or a 4-bit model)")
}

// checkpointing is golora train's rule (train.Config.Checkpointing) for
// the --grad-checkpoint flag of mem and bench: as given, else on for qlora.
func checkpointing(flag *bool, quantized bool) bool {
	c := train.Config{GradCheckpoint: flag}
	return c.Checkpointing(quantized)
}

// parseTrainPlus parses the training flags as `golora train` does (--config
// FILE first, flags override it) together with a command's own flags,
// which own defines on fs.
func parseTrainPlus(fs *cli.FlagSet, args []string, own func(fs *cli.FlagSet)) (finetune.Options, error) {
	o := finetune.Defaults()
	for i, a := range args {
		path := ""
		for _, p := range []string{"--config=", "-config="} {
			if v, ok := strings.CutPrefix(a, p); ok {
				path = v
			}
		}
		if (a == "--config" || a == "-config") && i+1 < len(args) {
			path = args[i+1]
		}
		if path != "" {
			if err := o.LoadConfigFile(path); err != nil {
				return o, err
			}
		}
	}
	if own != nil {
		own(fs)
	}
	fs.Group("Configuration")
	fs.String("config", "", "training options `FILE`, JSON or YAML, keyed by the flags' names or by PEFT's and TRL's (r, lora_alpha, learning_rate, …); flags override it")
	trainFlags(fs, &o)
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, cli.Usagef("unexpected argument %q", fs.Arg(0))
	}
	return o, nil
}

func runTrain(fs *cli.FlagSet, args []string, stdout, stderr io.Writer) error {
	o, err := parseTrainPlus(fs, args, nil)
	if err != nil {
		return err
	}
	if err := o.Validate(); err != nil {
		return err
	}
	tensor.SetThreads(threadCount(o.Threads))
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return err
	}
	lock, err := outlock.Acquire(o.Out)
	if err != nil {
		return err
	}
	defer lock.Release()
	ctx, signaled, release := interrupts(stderr)
	defer release()
	r, err := finetune.ExecuteContext(ctx, o, stderr)
	if r != nil {
		defer r.Model.Close()
		// The report is written for a failed run too: its curves show why.
		if path, rerr := report.Write(o.Out, report.Options{}); rerr != nil {
			fmt.Fprintf(stderr, "report: %v\n", rerr)
		} else {
			fmt.Fprintf(stderr, "report: %s\n", path)
		}
	}
	if s := signaled(); s != nil && err != nil {
		if errors.Is(err, train.ErrStopped) {
			err = fmt.Errorf("%w; to resume:\n  %s", err, resumeCommand(args))
		}
		return &cli.ExitError{Code: exitStatus(s), Err: err}
	}
	return err
}

package main

import (
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/golora/golora/finetune"
	"github.com/golora/golora/mem"
	"github.com/golora/golora/report"
	"github.com/golora/golora/tensor"
	"github.com/golora/golora/train"
)

func init() {
	register("train", "train a LoRA adapter on a jsonl data set (PEFT output)", runTrain)
}

// trainFlags defines every training flag on fs with o's values as defaults
// and returns a function that reads --layers and --dropout back into o.
func trainFlags(fs *flag.FlagSet, o *finetune.Options) func() error {
	fs.StringVar(&o.Model, "model", o.Model, "Hugging Face model `DIR`")
	fs.StringVar(&o.Data, "data", o.Data, "training data, jsonl (text, prompt/completion, messages or input_ids lines)")
	fs.StringVar(&o.Valid, "valid", o.Valid, "validation data, jsonl")
	fs.StringVar(&o.Out, "out", o.Out, "output `DIR` (adapter, metrics.jsonl, checkpoints)")
	fs.StringVar(&o.InitAdapter, "init-adapter", o.InitAdapter, "start from this PEFT adapter `DIR`")
	fs.BoolVar(&o.Resume, "resume", o.Resume, "continue from the newest checkpoint in --out")
	fs.BoolVar(&o.Full, "full", o.Full, "full fine-tuning: train every weight (no adapter)")
	fs.StringVar(&o.Quantize, "quantize", o.Quantize, "QLoRA: keep the frozen base's linear layers in 4 bits, nf4 or fp4")
	fs.BoolVar(&o.DoubleQuant, "double-quant", o.DoubleQuant, "with --quantize: quantize the block absmax too")
	fs.IntVar(&o.Rank, "rank", o.Rank, "LoRA rank r")
	fs.Float64Var(&o.Alpha, "alpha", o.Alpha, "LoRA alpha (scale alpha/r)")
	dropout := 0.0
	if o.Dropout != nil {
		dropout = *o.Dropout
	}
	fs.Float64Var(&dropout, "dropout", dropout, "LoRA dropout probability (default: the --init-adapter's lora_dropout, else 0)")
	fs.StringVar(&o.Targets, "targets", o.Targets, "target modules: names (q_proj,v_proj), all-linear, or re:REGEX")
	layers := fs.String("layers", joinInts(o.Layers), "only these layers (layers_to_transform), e.g. 0,1,2")
	fs.BoolVar(&o.RSLoRA, "rslora", o.RSLoRA, "rank-stabilised scale alpha/√r")
	fs.StringVar(&o.Init, "init", o.Init, "A initialisation: default (Kaiming-uniform) or gaussian")
	fs.Float64Var(&o.LR, "lr", o.LR, "peak learning rate")
	fs.StringVar(&o.Schedule, "lr-schedule", o.Schedule, "constant, linear or cosine (after --warmup)")
	fs.IntVar(&o.Warmup, "warmup", o.Warmup, "linear warmup steps")
	fs.IntVar(&o.Steps, "steps", o.Steps, "optimizer steps (or use --epochs)")
	fs.Float64Var(&o.Epochs, "epochs", o.Epochs, "passes over the data when --steps is 0")
	fs.IntVar(&o.BatchSize, "batch-size", o.BatchSize, "sequences per micro-batch")
	fs.IntVar(&o.GradAccum, "grad-accum", o.GradAccum, "micro-batches per optimizer step")
	fs.IntVar(&o.MaxSeqLen, "max-seq-len", o.MaxSeqLen, "truncate examples to this many tokens")
	fs.Var(optBool{&o.GradCheckpoint}, "grad-checkpoint", "keep only a few tensors per layer and recompute the rest in backward: much less memory, about 1/5 more compute (default: on with --quantize or a 4-bit model)")
	fs.Float64Var(&o.WeightDecay, "weight-decay", o.WeightDecay, "AdamW decoupled weight decay")
	fs.Float64Var(&o.MaxGradNorm, "max-grad-norm", o.MaxGradNorm, "clip the gradient norm (0 disables)")
	fs.Uint64Var(&o.Seed, "seed", o.Seed, "seed for initialisation, shuffling and dropout")
	fs.IntVar(&o.Threads, "threads", o.Threads, "cores to compute on (0: $GOLORA_THREADS, else all)")
	fs.IntVar(&o.SaveEvery, "save-every", o.SaveEvery, "write a checkpoint every N steps (0: only the end)")
	fs.IntVar(&o.EvalEvery, "eval-every", o.EvalEvery, "validation loss every N steps (always at the end)")
	fs.IntVar(&o.NormEvery, "norm-every", o.NormEvery, "record every module's ‖s·B·A‖ each N steps for the report (0: about 100 times a run)")
	fs.BoolVar(&o.TrainOnPrompt, "train-on-prompt", o.TrainOnPrompt, "also train on prompt tokens")
	fs.BoolVar(&o.Shuffle, "shuffle", o.Shuffle, "shuffle the examples every epoch")
	return func() error {
		fs.Visit(func(f *flag.Flag) {
			if f.Name == "dropout" {
				o.Dropout = &dropout
			}
		})
		o.Layers = nil
		if *layers == "" {
			return nil
		}
		for _, f := range strings.Split(*layers, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				return fmt.Errorf("--layers: %q is not a layer number", f)
			}
			o.Layers = append(o.Layers, n)
		}
		return nil
	}
}

// optBool is a boolean flag that stays nil unless given.
type optBool struct{ p **bool }

func (b optBool) IsBoolFlag() bool { return true }

func (b optBool) String() string {
	if b.p == nil || *b.p == nil {
		return ""
	}
	return strconv.FormatBool(**b.p)
}

func (b optBool) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	*b.p = &v
	return nil
}

// checkpointing is golora train's rule (train.Config.Checkpointing) for
// the --grad-checkpoint flag of mem and bench: as given, else on for qlora.
func checkpointing(flag *bool, method mem.Method) bool {
	c := train.Config{GradCheckpoint: flag}
	return c.Checkpointing(method == mem.QLoRA)
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ",")
}

// parseTrainPlus parses the training flags as `golora train` does (--config
// FILE first, flags override it) together with a command's own flags.
// usage is the command's synopsis, printed above the flags by -h.
func parseTrainPlus(name, usage string, args []string, stderr io.Writer, own func(fs *flag.FlagSet)) (finetune.Options, error) {
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
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		note := " (every training flag of golora train applies to each run)"
		if own == nil {
			note = ""
		}
		fmt.Fprintf(stderr, "usage: golora %s\n\nflags%s:\n", usage, note)
		fs.PrintDefaults()
	}
	fs.String("config", "", "JSON `FILE` with the same keys as the flags (flags override it)")
	if own != nil {
		own(fs)
	}
	finish := trainFlags(fs, &o)
	if err := fs.Parse(args); err != nil {
		return o, errUsage
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return o, finish()
}

func runTrain(args []string, stdout, stderr io.Writer) error {
	o, err := parseTrainPlus("train", "train --model DIR --data FILE --out DIR [flags]", args, stderr, nil)
	if err != nil {
		return err
	}
	tensor.SetThreads(threadCount(o.Threads))
	r, err := finetune.Execute(o, stderr)
	if r != nil {
		defer r.Model.Close()
		// The report is written for a failed run too: its curves show why.
		if path, rerr := report.Write(o.Out, report.Options{}); rerr != nil {
			fmt.Fprintf(stderr, "report: %v\n", rerr)
		} else {
			fmt.Fprintf(stderr, "report: %s\n", path)
		}
	}
	return err
}

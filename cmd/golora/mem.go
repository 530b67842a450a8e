package main

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"text/tabwriter"

	"github.com/golora/golora/finetune"
	"github.com/golora/golora/internal/cli"
	"github.com/golora/golora/internal/human"
	"github.com/golora/golora/mem"
	"github.com/golora/golora/model"
	"github.com/golora/golora/tensor"
)

func init() {
	register(&cli.Command{Name: "mem", Summary: "predict fine-tuning memory: weights, gradients, optimizer, activations", Run: runMem,
		Usage: "mem (--model-config FILE | --model DIR) [--method full|lora|qlora] [flags]",
		Doc: "Predicts the memory a fine-tuning run takes, from the model's config.json alone: weights, gradients, AdamW's moments " +
			"and activations, from the same allocation plan training uses (--model FILE.gguf: the GGUF's config, and its " +
			"quantized matrices at the bytes they take). Rank, targets, batch size, sequence length, " +
			"double quantization and gradient checkpointing default to what golora train runs."})
}

func runMem(fs *cli.FlagSet, args []string, stdout, stderr io.Writer) error {
	fs.Group("Model")
	cfgPath, dir := modelConfigFlags(fs)
	dtype := dtypeFlag(fs)
	fs.Group("Method")
	method := fs.String("method", "lora", "fine-tuning `METHOD`: full, lora or qlora")
	double := fs.Bool("double-quant", finetune.Defaults().DoubleQuant, "qlora: double-quantized absmax")
	dora := fs.Bool("dora", false, "lora, qlora: DoRA adapters (golora train --dora): a trained magnitude per output row, and its buffers")
	pairs := fs.Bool("pairs", false, "preference training (golora train --method dpo or orpo): --batch-size counts pairs of sequences, plus the reference's forward state")
	var rank, batch, seq int
	var targets string
	runFlags(fs, &rank, &targets, &batch, &seq)
	fs.Group("Performance")
	var ckptFlag *bool
	fs.OptBoolVar(&ckptFlag, "grad-checkpoint", "activations with gradient checkpointing (default: on for qlora, as golora train)")
	fs.Group("Output")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c, path, held, err := memModel(*cfgPath, *dir)
	if err != nil {
		return err
	}
	ckpt := checkpointing(ckptFlag, mem.Method(*method) == mem.QLoRA || held > 0)
	dt, err := parseDType(*dtype)
	if err != nil {
		return err
	}
	o := mem.Options{Method: mem.Method(*method), DTypeSize: dt.Size(), Rank: rank, Targets: targets,
		Batch: batch, SeqLen: seq, Threads: tensor.Threads(), DoubleQuant: *double, GradCheckpoint: ckpt, DoRA: *dora, Pairs: *pairs}
	b, err := mem.Predict(c, o)
	if err != nil {
		return err
	}
	if held > 0 && o.Method == mem.LoRA {
		b.HoldBase(held)
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(b)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	ckptNote := ""
	if ckpt {
		ckptNote = ", gradient checkpointing"
	}
	if *dora {
		ckptNote += ", DoRA"
	}
	fmt.Fprintf(stdout, "%s, %s, base in %s, batch %d × %s, %s%s\n", path, *method, *dtype, batch, human.Plural(seq, "token"), human.Plural(o.Threads, "thread"), ckptNote)
	fmt.Fprintf(tw, "parameters\t%s\t\n", human.Count(int(b.Params)))
	fmt.Fprintf(tw, "trainable\t%s\t%.4f%%\t\n", human.Count(int(b.TrainableParams)), 100*float64(b.TrainableParams)/float64(b.Params))
	row := func(name string, n int64) {
		fmt.Fprintf(tw, "%s\t%s\t%.1f%%\t\n", name, human.Bytes(n), 100*float64(n)/float64(b.TotalBytes))
	}
	row("weights", b.WeightsBytes)
	if b.QuantizedWeightsBytes > 0 {
		row("  of which 4-bit linears", b.QuantizedWeightsBytes)
	}
	row("gradients", b.GradsBytes)
	row("optimizer (AdamW m, v)", b.OptimizerBytes)
	row("activations", b.ActivationsBytes)
	fmt.Fprintf(tw, "total\t%s\t\t\n", human.Bytes(b.TotalBytes))
	return tw.Flush()
}

// modelConfigFlags defines --model-config FILE and --model DIR, the two
// ways mem and bench train take the model's config.json (--config is the
// training options file everywhere).
func modelConfigFlags(fs *cli.FlagSet) (file, dir *string) {
	fs.Group("Model")
	file = fs.String("model-config", "", "the model's config.json `FILE`")
	dir = fs.String("model", "", "a model `DIR` (only its config.json is read)")
	return file, dir
}

// dtypeFlag defines --dtype, the dtype the base weights are stored in, by
// its torch name (parseDType reads it).
func dtypeFlag(fs *cli.FlagSet) *string {
	return fs.String("dtype", "float32", "base weight `DTYPE`: float32, float16 or bfloat16")
}

// parseDType reads a --dtype value.
func parseDType(name string) (tensor.DType, error) {
	switch name {
	case "float32":
		return tensor.F32, nil
	case "float16":
		return tensor.F16, nil
	case "bfloat16":
		return tensor.BF16, nil
	}
	return 0, cli.Usagef("--dtype %q: want float32, float16 or bfloat16", name)
}

// runFlags defines --rank, --targets, --batch-size and --seq-len, the
// training run that mem and bench train describe, with golora train's
// defaults (finetune.Defaults): without them they describe a default run.
func runFlags(fs *cli.FlagSet, rank *int, targets *string, batch, seqLen *int) {
	d := finetune.Defaults()
	fs.Group("LoRA")
	fs.IntVar(rank, "rank", d.Rank, "LoRA rank r")
	fs.StringVar(targets, "targets", d.Targets, "LoRA target `MODULES`, all-linear or re:REGEX (default: PEFT's for the family, as golora train)")
	fs.Group("Data")
	fs.IntVar(batch, "batch-size", d.BatchSize, "sequences per step")
	fs.IntVar(seqLen, "seq-len", d.MaxSeqLen, "tokens per sequence (golora train's --max-seq-len)")
}

// memModel is configFlag, except that --model FILE.gguf takes the config
// from the GGUF and, where its matrices are quantized, returns the bytes
// its base takes as golora holds it (mem.Base; 0 otherwise).
func memModel(file, dir string) (*model.Config, string, int64, error) {
	if file != "" || !model.IsGGUF(dir) {
		c, path, err := configFlag(file, dir)
		return c, path, 0, err
	}
	m, err := model.Load(dir) // memory-mapped: nothing is decoded but vectors
	if err != nil {
		return nil, "", 0, err
	}
	defer m.Close()
	var held int64
	if m.Quantized() {
		held = mem.Base(m)
	}
	return m.Cfg, dir, held, nil
}

// configFlag loads the config.json that --model-config FILE or --model DIR
// names and returns its path too.
func configFlag(file, dir string) (*model.Config, string, error) {
	if file == "" {
		if dir == "" {
			return nil, "", cli.Usagef("give --model-config FILE or --model DIR")
		}
		file = filepath.Join(dir, "config.json")
	}
	c, err := model.LoadConfig(file)
	return c, file, err
}

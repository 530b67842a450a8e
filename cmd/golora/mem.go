package main

import (
	"encoding/json"
	"fmt"
	"github.com/golora/golora/internal/cli"
	"github.com/golora/golora/internal/human"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/golora/golora/mem"
	"github.com/golora/golora/model"
)

func init() {
	register(&cli.Command{Name: "mem", Summary: "predict fine-tuning memory: weights, gradients, optimizer, activations", Run: runMem,
		Usage: "mem (--config FILE | --model DIR) [--method full|lora|qlora] [flags]",
		Doc: "Predicts the memory a fine-tuning run takes, from the model's config.json alone: weights, gradients, AdamW's moments " +
			"and activations, from the same allocation plan training uses."})
}

func runMem(fs *cli.FlagSet, args []string, stdout, stderr io.Writer) error {
	fs.Group("Model")
	cfgPath := fs.String("config", "", "a config.json `FILE`")
	dir := fs.String("model", "", "a model `DIR` (only its config.json is read)")
	dtype := fs.String("dtype", "float32", "base weight `DTYPE`: float32, float16 or bfloat16")
	fs.Group("Method")
	method := fs.String("method", "lora", "fine-tuning `METHOD`: full, lora or qlora")
	rank := fs.Int("rank", 8, "LoRA rank")
	targets := fs.String("targets", "q_proj,k_proj,v_proj,o_proj", "LoRA target `MODULES`, or all-linear")
	double := fs.Bool("double-quant", true, "qlora: double-quantized absmax")
	fs.Group("Data")
	batch := fs.Int("batch-size", 1, "sequences per batch (activations)")
	seq := fs.Int("seq-len", 512, "tokens per sequence (activations)")
	fs.Group("Performance")
	var ckptFlag *bool
	fs.OptBoolVar(&ckptFlag, "grad-checkpoint", "activations with gradient checkpointing (default: on for qlora, as golora train)")
	fs.Group("Output")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c, path, err := configFlag(*cfgPath, *dir)
	if err != nil {
		return err
	}
	ckpt := checkpointing(ckptFlag, mem.Method(*method))
	size := map[string]int{"float32": 4, "float16": 2, "bfloat16": 2}[*dtype]
	if size == 0 {
		return fmt.Errorf("--dtype %q: want float32, float16 or bfloat16", *dtype)
	}
	o := mem.Options{Method: mem.Method(*method), DTypeSize: size, Rank: *rank, Targets: strings.Split(*targets, ","),
		Batch: *batch, SeqLen: *seq, DoubleQuant: *double, GradCheckpoint: ckpt}
	b, err := mem.Predict(c, o)
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(b)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	ckptNote := ""
	if ckpt {
		ckptNote = ", gradient checkpointing"
	}
	fmt.Fprintf(stdout, "%s, %s, base in %s, batch %d × %d tokens%s\n", path, *method, *dtype, *batch, *seq, ckptNote)
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

// configFlag loads the config.json that --config FILE or --model DIR names
// and returns its path too.
func configFlag(file, dir string) (*model.Config, string, error) {
	if file == "" {
		if dir == "" {
			return nil, "", fmt.Errorf("give --config FILE or --model DIR")
		}
		file = filepath.Join(dir, "config.json")
	}
	c, err := model.LoadConfig(file)
	return c, file, err
}

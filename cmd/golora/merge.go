package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/golora/golora/internal/cli"
	"github.com/golora/golora/internal/human"
	"github.com/golora/golora/lora"
	"github.com/golora/golora/merge"
)

func init() {
	register(&cli.Command{Name: "merge", Summary: "fold LoRA adapters into the base weights and write a full model", Run: runMerge,
		Usage: "merge --model DIR --adapter DIR[:SCALE]... --out DIR [--requantize]",
		Doc: "Adds each adapter's update SCALE·s·B·A to the base weights and writes the merged model, with the base's tokenizer files " +
			"(a GGUF base's rebuilt from its tokenizer.ggml.* metadata as tokenizer.json and tokenizer_config.json), " +
			"to --out, which must not exist or be empty; it appears only when complete. " +
			"A 4-bit base is dequantized first and stored in its compute dtype, or quantized again with --requantize."})
}

func runMerge(fs *cli.FlagSet, args []string, stdout, stderr io.Writer) error {
	fs.Group("Model")
	dir := fs.String("model", "", "base model `DIR`")
	var adapters adapterFlags
	fs.Var(&adapters, "adapter", "PEFT adapter `DIR[:SCALE]` to merge, its update multiplied by SCALE (default 1; repeatable)")
	fs.Group("Output")
	out := fs.String("out", "", "output model `DIR`")
	requantize := fs.Bool("requantize", false, "4-bit base: quantize the merged weights again (reports the added error)")
	force := fs.Bool("force", false, "merge even when the predicted memory exceeds the memory available")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cli.Usagef("unexpected argument %q", fs.Arg(0))
	}
	if *dir == "" || len(adapters) == 0 || *out == "" {
		return fmt.Errorf("--model, --adapter and --out are required")
	}
	specs := make([]lora.Spec, len(adapters))
	for i, a := range adapters {
		var err error
		if specs[i], err = lora.ParseSpec(a); err != nil {
			return fmt.Errorf("--adapter: %w", err)
		}
	}
	res, err := merge.Write(*dir, specs, *out, merge.Options{Requantize: *requantize, Force: *force})
	if err != nil {
		return err
	}
	note := ""
	if *requantize {
		note = fmt.Sprintf(", quantized again to %s: relative RMS error of the merged weights %.4f", res.QuantType, res.RequantError)
	} else if res.FourBit {
		note = fmt.Sprintf(" (the base was 4-bit %s: the merged model is dequantized, stored as %s; --requantize stores it 4-bit)", res.QuantType, res.DType)
	}
	if res.GGUFTokenizer {
		note += "; tokenizer.json and tokenizer_config.json rebuilt from the GGUF's tokenizer metadata"
	}
	fmt.Fprintf(stdout, "merged %s (%s) into %s, weights stored as %s%s, written to %s\n",
		strings.Join(adapters, ", "), human.Plural(res.Modules, "module"), *dir, res.DType, note, *out)
	return nil
}

package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/golora/golora/lora"
	"github.com/golora/golora/merge"
)

func init() {
	register("merge", "fold a LoRA adapter into the base weights and write a full model", runMerge)
}

func runMerge(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("merge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("model", "", "base model `DIR`")
	adapter := fs.String("adapter", "", "PEFT adapter `DIR`")
	scale := fs.Float64("scale", 1, "multiply the adapter's update by this")
	out := fs.String("out", "", "output model `DIR`")
	requantize := fs.Bool("requantize", false, "4-bit base: quantize the merged weights again (reports the added error)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if *dir == "" || *adapter == "" || *out == "" {
		return fmt.Errorf("--model, --adapter and --out are required")
	}
	res, err := merge.Write(*dir, []lora.Spec{{Dir: *adapter, Scale: float32(*scale)}}, *out, merge.Options{Requantize: *requantize})
	if err != nil {
		return err
	}
	note := ""
	if *requantize {
		note = fmt.Sprintf(", quantized again to %s: relative RMS error of the merged weights %.4f", res.QuantType, res.RequantError)
	} else if res.FourBit {
		note = fmt.Sprintf(" (the base was 4-bit %s: the merged model is dequantized, stored as %s; --requantize stores it 4-bit)", res.QuantType, res.DType)
	}
	fmt.Fprintf(stdout, "merged %s (%d modules, scale %g) into %s, weights stored as %s%s, written to %s\n",
		*adapter, res.Modules, *scale, *dir, res.DType, note, *out)
	return nil
}

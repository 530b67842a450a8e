package main

import (
	"fmt"
	"io"

	"github.com/golora/golora/internal/cli"
	"github.com/golora/golora/internal/human"
	"github.com/golora/golora/internal/modeldir"
	"github.com/golora/golora/mem"
	"github.com/golora/golora/model"
	"github.com/golora/golora/quant"
)

func init() {
	register(&cli.Command{Name: "quantize", Summary: "write a 4-bit (NF4/FP4, bitsandbytes layout) copy of a model", Run: runQuantize,
		Usage: "quantize --model DIR --out DIR [--type nf4|fp4] [--double-quant]",
		Doc: "Quantizes every linear layer of the model to 4 bits in blocks of 64, in the bitsandbytes layout and quantization_config " +
			"that transformers reads, and writes the model with its tokenizer files to --out."})
}

func runQuantize(fs *cli.FlagSet, args []string, stdout, stderr io.Writer) error {
	fs.Group("Model")
	dir := fs.String("model", "", "model `DIR`")
	fs.Group("Quantization")
	typ := fs.String("type", "nf4", "4-bit data `TYPE`: nf4 or fp4")
	double := fs.Bool("double-quant", false, "quantize the block absmax too (8 bits, blocks of 256)")
	fs.Group("Output")
	out := fs.String("out", "", "output `DIR`")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" || *out == "" {
		return fmt.Errorf("--model and --out are required")
	}
	if modeldir.Same(*dir, *out) {
		return fmt.Errorf("--out must differ from --model")
	}
	t, err := quant.ParseType(*typ)
	if err != nil {
		return err
	}
	m, err := model.Load(*dir)
	if err != nil {
		return err
	}
	defer m.Close()
	before := mem.Held(m)
	if err := m.Quantize(t, *double); err != nil {
		return err
	}
	dtype := m.SaveDType()
	if err := modeldir.Write(*out, func(tmp string) error {
		if err := m.Save(tmp, dtype); err != nil {
			return err
		}
		return modeldir.CopyCompanions(*dir, tmp)
	}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "quantized the %s of %s to %s%s: %s → %s in memory, written to %s\n",
		human.Plural(len(m.Linears()), "linear layer"), *dir, t, map[bool]string{true: " with double quantization", false: ""}[*double],
		human.Bytes(before), human.Bytes(mem.Held(m)), *out)
	return nil
}

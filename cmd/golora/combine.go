package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/golora/golora/internal/cli"
	"github.com/golora/golora/internal/human"
	"github.com/golora/golora/lora"
	"github.com/golora/golora/model"
)

func init() {
	register(&cli.Command{Name: "combine", Summary: "combine weighted LoRA adapters into one (PEFT's add_weighted_adapter)", Run: runCombine,
		Usage: "combine --model DIR --adapter DIR[:WEIGHT]... --method linear|cat|svd [--rank R] --out DIR",
		Doc: "Writes one PEFT adapter built from the weighted inputs, each with its scaling s = alpha/r. " +
			"cat concatenates their ranks: the result computes Σ WEIGHT·s·B·A exactly. " +
			"svd keeps the best rank-R approximation of that sum (R defaults to the largest input rank). " +
			"linear (equal ranks only) sums √(WEIGHT·s)·A and √(WEIGHT·s)·B separately, as PEFT does. " +
			"The result has lora_alpha = r, so its scaling is 1, and adapts the union of the inputs' modules; " +
			"each input must fit the --model base."})
}

func runCombine(fs *cli.FlagSet, args []string, stdout, stderr io.Writer) error {
	fs.Group("Model")
	dir := fs.String("model", "", "base model `DIR` the adapters belong to (checked against)")
	var adapters adapterFlags
	fs.Var(&adapters, "adapter", "PEFT adapter `DIR[:WEIGHT]` to combine, its update multiplied by WEIGHT (default 1; repeatable)")
	fs.Group("Combination")
	method := fs.String("method", "", "how to combine: `linear`, cat or svd")
	rank := fs.Int("rank", 0, "svd: rank of the result (default: the largest input rank)")
	fs.Group("Output")
	out := fs.String("out", "", "output adapter `DIR` (must not exist or be empty)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cli.Usagef("unexpected argument %q", fs.Arg(0))
	}
	if *dir == "" || len(adapters) == 0 || *method == "" || *out == "" {
		return fmt.Errorf("--model, --adapter, --method and --out are required")
	}
	if ents, err := os.ReadDir(*out); err == nil && len(ents) > 0 {
		return fmt.Errorf("--out %s: directory is not empty", *out)
	}
	specs := make([]lora.Spec, len(adapters))
	ins := make([]lora.Input, len(adapters))
	for i, a := range adapters {
		var err error
		if specs[i], err = lora.ParseSpec(a); err != nil {
			return fmt.Errorf("--adapter %q: %w", a, err)
		}
		f, err := lora.ReadDir(specs[i].Dir)
		if err != nil {
			return err
		}
		if err := f.RefuseDoRA("combine", lora.CombineNoDoRA); err != nil {
			return err
		}
		ins[i] = lora.Input{File: f, Weight: float64(specs[i].Scale)}
	}
	m, err := model.Load(*dir)
	if err != nil {
		return err
	}
	defer m.Close()
	// Attaching checks every input's modules and shapes against the base.
	attached, err := lora.AttachAll(m, specs)
	if err != nil {
		return err
	}
	for _, a := range attached {
		a.Detach(m)
	}
	c, err := lora.Combine(ins, *method, *rank)
	if err != nil {
		return err
	}
	if err := c.Save(*out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "combined %s by %s into rank %d over %s, written to %s\n",
		strings.Join(adapters, ", "), *method, c.Config.R, human.Plural(len(c.Modules), "module"), *out)
	return nil
}

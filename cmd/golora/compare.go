package main

import (
	"flag"
	"io"
	"strings"

	"github.com/golora/golora/experiment"
)

func init() {
	register("compare", "full fine-tuning vs LoRA vs QLoRA on the same data and budget: memory, speed, loss, size", runCompare)
}

func runCompare(args []string, stdout, stderr io.Writer) error {
	var methodsFlag string
	var asJSON bool
	o, err := parseTrainPlus("compare", "compare --model DIR --data FILE --valid FILE --out DIR [--methods full,lora,qlora] [train flags] [--json]\n\n"+
		"Trains with each method on the same data and budget, each in its own process, into OUT/<method>/, and writes\n"+
		"OUT/compare.txt, compare.csv and compare.json: trainable parameters, peak RSS, tokens/s, validation loss,\n"+
		"perplexity and the size of what is saved. qlora uses --quantize (default nf4).",
		args, stderr, func(fs *flag.FlagSet) {
			fs.StringVar(&methodsFlag, "methods", "full,lora,qlora", "methods to compare: full, lora, qlora")
			fs.BoolVar(&asJSON, "json", false, "print the table as JSON")
		})
	if err != nil {
		return err
	}
	var names []string
	for _, name := range strings.Split(methodsFlag, ",") {
		names = append(names, strings.TrimSpace(name))
	}
	exe, err := executable()
	if err != nil {
		return err
	}
	res, err := experiment.Compare(o, names, experiment.Child(exe), stderr)
	if err != nil {
		return err
	}
	printTable(stdout, stderr, asJSON, res.Rows, res.Text, res.Files)
	return failures(stderr, res.Runs())
}

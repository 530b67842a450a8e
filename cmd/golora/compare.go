package main

import (
	"io"
	"strings"

	"github.com/golora/golora/experiment"
	"github.com/golora/golora/internal/cli"
)

func init() {
	register(&cli.Command{Name: "compare", Summary: "full fine-tuning vs LoRA vs QLoRA on the same data and budget: memory, speed, loss, size", Run: runCompare,
		Usage: "compare --model DIR --data FILE --valid FILE --out DIR [--methods full,lora,qlora] [train flags] [--json]",
		Doc: "Trains with each method on the same data and budget, each in its own process, into OUT/<method>/, and writes " +
			"OUT/compare.txt, compare.csv and compare.json: trainable parameters, peak RSS, tokens/s, validation loss, " +
			"perplexity and the size of what is saved. qlora uses --quantize (default nf4). Every training flag of golora train applies to each run."})
}

func runCompare(fs *cli.FlagSet, args []string, stdout, stderr io.Writer) error {
	var methodsFlag string
	var asJSON bool
	o, err := parseTrainPlus(fs, args, func(fs *cli.FlagSet) {
		fs.Group("Compare")
		fs.StringVar(&methodsFlag, "methods", "full,lora,qlora", "`METHODS` to compare, comma-separated: full, lora, qlora")
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

package main

import (
	"io"

	"github.com/golora/golora/demo"
	"github.com/golora/golora/internal/cli"
)

func init() {
	register(&cli.Command{Name: "demo", Summary: "pretrain a tiny base on Go's own text, train two LoRA personalities, swap them (no download)", Run: runDemo,
		Usage: "demo [--out DIR] [--quick]",
		Doc: "Pretrains a tiny base model on Go's own source text, trains two LoRA adapters with different personalities on it, " +
			"and generates with each in turn on the same base. Needs no download; the base model is cached in --out."})
}

func runDemo(fs *cli.FlagSet, args []string, stdout, stderr io.Writer) error {
	fs.Group("Output")
	out := fs.String("out", "golora-demo", "output `DIR` (the base model is cached here)")
	fs.Group("Performance")
	quick := fs.Bool("quick", false, "a seconds-long run with a toy model (for a smoke test)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	o := demo.Full(*out)
	if *quick {
		o = demo.Quick(*out)
	}
	o.Stdout, o.Log = stdout, stderr
	return demo.Run(o)
}

package main

import (
	"flag"
	"io"

	"github.com/golora/golora/demo"
)

func init() {
	register("demo", "pretrain a tiny base on Go's own text, train two LoRA personalities, swap them (no download)", runDemo)
}

func runDemo(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "golora-demo", "output `DIR` (the base model is cached here)")
	quick := fs.Bool("quick", false, "a seconds-long run with a toy model (for a smoke test)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	o := demo.Full(*out)
	if *quick {
		o = demo.Quick(*out)
	}
	o.Stdout, o.Log = stdout, stderr
	return demo.Run(o)
}

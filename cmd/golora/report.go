package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/golora/golora/report"
)

func init() {
	register("report", "rebuild the HTML report (curves, where LoRA adapted, matrices) of a training run", runReport)
}

func runReport(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: golora report [--model DIR] [--module NAME] RUN_DIR\n\nwrites RUN_DIR/report.html and the pictures in RUN_DIR/report/")
		fs.PrintDefaults()
	}
	var o report.Options
	fs.StringVar(&o.Model, "model", "", "base model `DIR` (default: the one the run names)")
	fs.StringVar(&o.Module, "module", "", "module shown up close, e.g. layers.3.self_attn.q_proj (default: the most adapted)")
	// Flags may come before or after the run directory.
	var dirs []string
	for {
		if err := fs.Parse(args); err != nil {
			return errUsage
		}
		if fs.NArg() == 0 {
			break
		}
		dirs = append(dirs, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(dirs) != 1 {
		fs.Usage()
		return errUsage
	}
	path, err := report.Write(dirs[0], o)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, path)
	return nil
}

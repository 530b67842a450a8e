package main

import (
	"fmt"
	"io"

	"github.com/golora/golora/internal/cli"
	"github.com/golora/golora/report"
)

func init() {
	register(&cli.Command{Name: "report", Summary: "rebuild the HTML report (curves, where LoRA adapted, matrices) of a training run", Run: runReport,
		Usage: "report [--model DIR] [--module MODULE] RUN_DIR",
		Doc: "Writes RUN_DIR/report.html and the pictures in RUN_DIR/report/ from a training run's metrics, norms and adapter: " +
			"loss and learning-rate curves, where LoRA adapted, and one module's matrices up close. Flags may come before or after RUN_DIR."})
}

func runReport(fs *cli.FlagSet, args []string, stdout, stderr io.Writer) error {
	fs.Group("Model")
	var o report.Options
	fs.StringVar(&o.Model, "model", "", "base model `DIR` (default: the one the run names)")
	fs.Group("Report")
	fs.StringVar(&o.Module, "module", "", "`MODULE` shown up close, e.g. layers.3.self_attn.q_proj (default: the most adapted)")
	// Flags may come before or after the run directory.
	var dirs []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		dirs = append(dirs, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(dirs) != 1 {
		return cli.Usagef("want one RUN_DIR, got %d", len(dirs))
	}
	path, err := report.Write(dirs[0], o)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, path)
	return nil
}

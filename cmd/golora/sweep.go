package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/golora/golora/experiment"
	"github.com/golora/golora/internal/cli"
	"github.com/golora/golora/internal/human"
)

func init() {
	register(&cli.Command{Name: "sweep", Summary: "train one adapter per --ranks × --alphas; table, CSV and heatmap of validation loss, speed, memory, size", Run: runSweep,
		Usage: "sweep --model DIR --data FILE --valid FILE --out DIR --ranks 8,16,32 --alphas 16,32 [train flags]",
		Doc: "Trains one adapter per rank × alpha, each in its own process (so its peak RSS is its own), into OUT/r<rank>-a<alpha>/, " +
			"and writes OUT/sweep.txt, sweep.csv, sweep.json and sweep.svg (validation loss heatmap, best marked). " +
			"Every training flag of golora train applies to each run."})
}

// executable is the golora binary that runs the children.
func executable() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("cannot find the golora executable to run the training processes: %w", err)
	}
	return exe, nil
}

func runSweep(fs *cli.FlagSet, args []string, stdout, stderr io.Writer) error {
	ranks, alphas := []int{8, 16, 32}, []float64{16, 32}
	var asJSON bool
	o, err := parseTrainPlus(fs, args, func(fs *cli.FlagSet) {
		fs.Group("Sweep")
		fs.IntsVar(&ranks, "ranks", 1, "LoRA ranks to try, comma-separated")
		fs.PositiveFloatsVar(&alphas, "alphas", "LoRA alphas to try, comma-separated")
		fs.BoolVar(&asJSON, "json", false, "print the table as JSON")
	})
	if err != nil {
		return err
	}
	if len(ranks) == 0 || len(alphas) == 0 {
		return cli.Usagef("--ranks and --alphas need at least one value each")
	}
	exe, err := executable()
	if err != nil {
		return err
	}
	res, err := experiment.Sweep(o, ranks, alphas, experiment.Child(exe), stderr)
	if err != nil {
		return err
	}
	printTable(stdout, stderr, asJSON, res.Rows, res.Text, res.Files)
	return failures(stderr, res.Runs())
}

// printTable prints a sweep's or comparison's rows as JSON, or its text
// table, and the files it wrote (on stderr with JSON, which has stdout).
func printTable(stdout, stderr io.Writer, asJSON bool, rows any, text string, files []string) {
	listing := stdout
	if asJSON {
		js, _ := json.MarshalIndent(rows, "", "  ")
		fmt.Fprintf(stdout, "%s\n", js)
		listing = stderr
	} else {
		fmt.Fprint(stdout, text)
		fmt.Fprintln(stdout)
	}
	fmt.Fprintf(listing, "written: %s\n", strings.Join(files, ", "))
}

// failures reports the runs that failed; it is an error when any did.
func failures(stderr io.Writer, runs []experiment.Measured) error {
	failed := experiment.Failed(runs)
	for _, r := range failed {
		fmt.Fprintf(stderr, "%s: %s\n", r.Dir, r.Error)
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of %s failed", len(failed), human.Plural(len(runs), "training run"))
	}
	return nil
}

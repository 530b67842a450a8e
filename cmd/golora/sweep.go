package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/golora/golora/experiment"
)

func init() {
	register("sweep", "train one adapter per --ranks × --alphas; table, CSV and heatmap of validation loss, speed, memory, size", runSweep)
}

// executable is the golora binary that runs the children.
func executable() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("cannot find the golora executable to run the training processes: %w", err)
	}
	return exe, nil
}

func runSweep(args []string, stdout, stderr io.Writer) error {
	var ranksFlag, alphasFlag string
	var asJSON bool
	o, err := parseTrainPlus("sweep", "sweep --model DIR --data FILE --valid FILE --out DIR --ranks 8,16,32 --alphas 16,32 [train flags]\n\n"+
		"Trains one adapter per rank × alpha, each in its own process (so its peak RSS is its own), into OUT/r<rank>-a<alpha>/,\n"+
		"and writes OUT/sweep.txt, sweep.csv, sweep.json and sweep.svg (validation loss heatmap, best marked).",
		args, stderr, func(fs *flag.FlagSet) {
			fs.StringVar(&ranksFlag, "ranks", "8,16,32", "LoRA ranks to try, comma-separated")
			fs.StringVar(&alphasFlag, "alphas", "16,32", "LoRA alphas to try, comma-separated")
			fs.BoolVar(&asJSON, "json", false, "print the table as JSON")
		})
	if err != nil {
		return err
	}
	ranks, err := parseList("--ranks", ranksFlag, func(s string) (int, error) {
		n, err := strconv.Atoi(s)
		if err == nil && n <= 0 {
			err = fmt.Errorf("not positive")
		}
		return n, err
	})
	if err != nil {
		return err
	}
	alphas, err := parseList("--alphas", alphasFlag, func(s string) (float64, error) {
		v, err := strconv.ParseFloat(s, 64)
		if err == nil && !(v > 0) {
			err = fmt.Errorf("not positive")
		}
		return v, err
	})
	if err != nil {
		return err
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
		return fmt.Errorf("%d of %d training runs failed", len(failed), len(runs))
	}
	return nil
}

// parseList parses a comma-separated flag value.
func parseList[T any](flagName, s string, parse func(string) (T, error)) ([]T, error) {
	var out []T
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		v, err := parse(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %q: %v", flagName, f, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// Package experiment trains several fine-tuning runs on the same data, each
// in a process of its own so that its peak RSS is its own, and tabulates
// what each cost and achieved: Sweep tries LoRA ranks × alphas, Compare
// full fine-tuning, LoRA and QLoRA. Each writes OUT/NAME.txt, .csv and
// .json (and Sweep a heatmap, OUT/sweep.svg) and lists them in Files.
package experiment

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/golora/golora/finetune"
	"github.com/golora/golora/internal/atomicfile"
	"github.com/golora/golora/internal/human"
	"github.com/golora/golora/internal/rss"
	"github.com/golora/golora/report"
)

// Measured is what one training run cost and achieved, read back from its
// directory after it ran.
type Measured struct {
	Dir             string   `json:"dir"`
	TrainableParams int      `json:"trainable_params"`
	ValidLoss       *float64 `json:"valid_loss"` // nil when the run gave no finite validation loss
	Perplexity      *float64 `json:"perplexity"` // exp(ValidLoss)
	TokensPerSec    float64  `json:"tokens_per_sec"`
	PeakRSSBytes    int64    `json:"peak_rss_bytes"`
	SavedBytes      int64    `json:"saved_bytes"` // the adapter, or the whole model in full fine-tuning
	WallSec         float64  `json:"wall_sec"`
	Error           string   `json:"error,omitempty"` // why the run failed; empty when it did not
}

// loss is the validation loss, NaN when there is none.
func (m Measured) loss() float64 {
	if m.ValidLoss == nil {
		return math.NaN()
	}
	return *m.ValidLoss
}

// Summary is one line: the error of a failed run, else its measurements.
func (m Measured) Summary() string {
	if m.Error != "" {
		return "failed: " + m.Error
	}
	return fmt.Sprintf("validation loss %s (perplexity %s), %s tokens/s, peak RSS %s, saved %s, %.1f s",
		fmtOpt(m.ValidLoss, 4), fmtOpt(m.Perplexity, 3), fmtRate(m.TokensPerSec), fmtRSS(m.PeakRSSBytes), human.Bytes(m.SavedBytes), m.WallSec)
}

// Failed returns the runs of runs that failed.
func Failed(runs []Measured) []Measured {
	var out []Measured
	for _, r := range runs {
		if r.Error != "" {
			out = append(out, r)
		}
	}
	return out
}

// A Runner trains with o (o.Out its own directory) and measures the run.
// A failed run is reported in Measured.Error.
type Runner func(o finetune.Options) Measured

// Child is the Runner that trains in a process of its own: the golora
// executable exe run as `exe train --config OUT/train-config.json`, the
// options written to that file, the process's output to OUT/train.log.
// The peak RSS is the child's own (on Linux; elsewhere what the run
// recorded), the rest is read from OUT by report.Load.
func Child(exe string) Runner {
	return func(o finetune.Options) Measured { return runChild(exe, o) }
}

func runChild(exe string, o finetune.Options) Measured {
	res := Measured{Dir: o.Out}
	fail := func(err error) Measured {
		res.Error = err.Error()
		return res
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return fail(err)
	}
	cfg := filepath.Join(o.Out, "train-config.json")
	js, err := json.MarshalIndent(o, "", "  ")
	if err != nil {
		return fail(err)
	}
	if err := atomicfile.WriteFile(cfg, append(js, '\n')); err != nil {
		return fail(err)
	}
	logPath := filepath.Join(o.Out, "train.log")
	log, err := os.Create(logPath)
	if err != nil {
		return fail(err)
	}
	cmd := exec.Command(exe, "train", "--config", cfg)
	cmd.Stdout, cmd.Stderr = log, log
	t0 := time.Now()
	runErr := cmd.Run()
	res.WallSec = time.Since(t0).Seconds()
	log.Close()
	res.PeakRSSBytes = rss.Child(cmd.ProcessState)
	if runErr != nil {
		msg := lastLine(logPath)
		if msg == "" {
			msg = runErr.Error()
		}
		return fail(fmt.Errorf("%s (log: %s)", msg, logPath))
	}
	r, err := report.Load(o.Out)
	if err != nil {
		return fail(err)
	}
	res.TrainableParams = r.TrainableParams()
	if v := r.FinalValidLoss(); finite(v) {
		p := math.Exp(v)
		res.ValidLoss, res.Perplexity = &v, &p
	}
	res.TokensPerSec = r.TokensPerSec()
	if res.PeakRSSBytes == 0 {
		res.PeakRSSBytes = r.PeakRSS()
	}
	res.SavedBytes = r.SavedBytes
	return res
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// lastLine returns the last non-empty line of a file (a failed child's
// error message).
func lastLine(path string) string {
	raw, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

func fmtNum(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

func fmtOpt(v *float64, digits int) string {
	if v == nil {
		return "–"
	}
	return strconv.FormatFloat(*v, 'f', digits, 64)
}

func fmtRate(v float64) string {
	if v <= 0 {
		return "–"
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

func fmtRSS(n int64) string {
	if n <= 0 {
		return "–"
	}
	return human.Bytes(n)
}

func csvFloat(v *float64) string {
	if v == nil {
		return ""
	}
	return strconv.FormatFloat(*v, 'g', 8, 64)
}

// trimLines drops the trailing blanks tabwriter leaves.
func trimLines(s string) string {
	var out strings.Builder
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		out.WriteString(strings.TrimRight(sc.Text(), " ") + "\n")
	}
	return out.String()
}

// writeTables writes DIR/NAME.txt, DIR/NAME.csv and DIR/NAME.json and
// returns their paths.
func writeTables(dir, name string, rows any, text string, records [][]string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	txt, csvPath, jsonPath := filepath.Join(dir, name+".txt"), filepath.Join(dir, name+".csv"), filepath.Join(dir, name+".json")
	if err := atomicfile.WriteFile(txt, []byte(text)); err != nil {
		return nil, err
	}
	if err := atomicfile.Write(csvPath, func(w io.Writer) error {
		cw := csv.NewWriter(w)
		cw.WriteAll(records)
		return cw.Error()
	}); err != nil {
		return nil, err
	}
	js, err := json.MarshalIndent(rows, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(jsonPath, append(js, '\n')); err != nil {
		return nil, err
	}
	return []string{txt, csvPath, jsonPath}, nil
}

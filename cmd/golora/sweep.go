package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"github.com/golora/golora/internal/human"
	"github.com/golora/golora/internal/rss"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/golora/golora/finetune"
	"github.com/golora/golora/internal/atomicfile"
	"github.com/golora/golora/internal/cli"
	"github.com/golora/golora/report"
)

func init() {
	register(&cli.Command{Name: "sweep", Summary: "train one adapter per --ranks × --alphas; table, CSV and heatmap of validation loss, speed, memory, size", Run: runSweep,
		Usage: "sweep --model DIR --data FILE --valid FILE --out DIR --ranks 8,16,32 --alphas 16,32 [train flags]",
		Doc: "Trains one adapter per rank × alpha, each in its own process (so its peak RSS is its own), into OUT/r<rank>-a<alpha>/, " +
			"and writes OUT/sweep.txt, sweep.csv, sweep.json and sweep.svg (validation loss heatmap, best marked). " +
			"Every training flag of golora train applies to each run."})
}

// measured is what one training run cost and achieved, read back from its
// directory after it ran in its own process.
type measured struct {
	Dir             string   `json:"dir"`
	TrainableParams int      `json:"trainable_params"`
	ValidLoss       *float64 `json:"valid_loss"`
	Perplexity      *float64 `json:"perplexity"`
	TokensPerSec    float64  `json:"tokens_per_sec"`
	PeakRSSBytes    int64    `json:"peak_rss_bytes"`
	SavedBytes      int64    `json:"saved_bytes"` // the adapter, or the whole model in full fine-tuning
	WallSec         float64  `json:"wall_sec"`
	Error           string   `json:"error,omitempty"`
}

func (m measured) loss() float64 {
	if m.ValidLoss == nil {
		return math.NaN()
	}
	return *m.ValidLoss
}

// trainChild trains o in a process of its own (this executable's train
// command), so that its peak RSS is its own: the options go to
// OUT/train-config.json, its output to OUT/train.log.
func trainChild(exe string, o finetune.Options) measured {
	res := measured{Dir: o.Out}
	fail := func(err error) measured {
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

// executable is the golora binary that runs the children.
func executable() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("cannot find the golora executable to run the training processes: %w", err)
	}
	return exe, nil
}

// sweepRow is one combination of a sweep.
type sweepRow struct {
	Rank  int     `json:"rank"`
	Alpha float64 `json:"alpha"`
	measured
	Best bool `json:"best"`
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
	switch {
	case len(ranks) == 0 || len(alphas) == 0:
		return cli.Usagef("--ranks and --alphas need at least one value each")
	case o.Valid == "":
		return fmt.Errorf("sweep compares validation losses: give --valid FILE")
	case o.Full:
		return fmt.Errorf("--full trains no adapter: there is no rank or alpha to sweep")
	case o.InitAdapter != "":
		return fmt.Errorf("--init-adapter fixes rank and alpha from its adapter_config.json: they cannot be swept")
	}
	if err := o.Validate(); err != nil {
		return err
	}
	exe, err := executable()
	if err != nil {
		return err
	}
	var rows []*sweepRow
	n := len(ranks) * len(alphas)
	for _, r := range ranks {
		for _, a := range alphas {
			co := o
			co.Rank, co.Alpha = r, a
			co.Out = filepath.Join(o.Out, fmt.Sprintf("r%d-a%s", r, fmtNum(a)))
			fmt.Fprintf(stderr, "sweep %d/%d: rank %d, alpha %s → %s\n", len(rows)+1, n, r, fmtNum(a), co.Out)
			row := &sweepRow{Rank: r, Alpha: a, measured: trainChild(exe, co)}
			fmt.Fprintf(stderr, "  %s\n", row.summary())
			rows = append(rows, row)
		}
	}
	best := -1
	for i, r := range rows {
		if v := r.loss(); finite(v) && (best < 0 || v < rows[best].loss()) {
			best = i
		}
	}
	if best >= 0 {
		rows[best].Best = true
	}
	text := sweepText(rows)
	if err := writeTables(o.Out, "sweep", rows, text, sweepCSV(rows)); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(o.Out, "sweep.svg"), sweepGrid(ranks, alphas, rows).SVG()); err != nil {
		return err
	}
	if asJSON {
		js, _ := json.MarshalIndent(rows, "", "  ")
		fmt.Fprintf(stdout, "%s\n", js)
	} else {
		fmt.Fprint(stdout, text)
		fmt.Fprintf(stdout, "\nwritten: %s, %s, %s\n", filepath.Join(o.Out, "sweep.txt"), filepath.Join(o.Out, "sweep.csv"), filepath.Join(o.Out, "sweep.svg"))
	}
	return failures(stderr, len(rows), func(i int) measured { return rows[i].measured })
}

// failures reports the runs that failed; it is an error when any did.
func failures(stderr io.Writer, n int, row func(int) measured) error {
	failed := 0
	for i := 0; i < n; i++ {
		if e := row(i).Error; e != "" {
			failed++
			fmt.Fprintf(stderr, "%s: %s\n", row(i).Dir, e)
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %s failed", failed, human.Plural(n, "training run"))
	}
	return nil
}

func (m measured) summary() string {
	if m.Error != "" {
		return "failed: " + m.Error
	}
	return fmt.Sprintf("validation loss %s (perplexity %s), %s tokens/s, peak RSS %s, saved %s, %.1f s",
		fmtOpt(m.ValidLoss, 4), fmtOpt(m.Perplexity, 3), fmtRate(m.TokensPerSec), fmtRSS(m.PeakRSSBytes), human.Bytes(m.SavedBytes), m.WallSec)
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

func sweepText(rows []*sweepRow) string {
	var b bytes.Buffer
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "rank\talpha\ttrainable params\tvalid loss\tperplexity\ttokens/s\tpeak RSS\tadapter size\t\t")
	for _, r := range rows {
		mark := ""
		switch {
		case r.Best:
			mark = "← best"
		case r.Error != "":
			mark = "failed: see " + filepath.Join(r.Dir, "train.log")
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t %s\t\n", r.Rank, fmtNum(r.Alpha), human.Count(r.TrainableParams),
			fmtOpt(r.ValidLoss, 4), fmtOpt(r.Perplexity, 3), fmtRate(r.TokensPerSec), fmtRSS(r.PeakRSSBytes), human.Bytes(r.SavedBytes), mark)
	}
	tw.Flush()
	return trimLines(b.String())
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

func csvFloat(v *float64) string {
	if v == nil {
		return ""
	}
	return strconv.FormatFloat(*v, 'g', 8, 64)
}

func sweepCSV(rows []*sweepRow) [][]string {
	out := [][]string{{"rank", "alpha", "trainable_params", "valid_loss", "perplexity", "tokens_per_sec", "peak_rss_bytes", "adapter_bytes", "best", "dir", "error"}}
	for _, r := range rows {
		out = append(out, []string{strconv.Itoa(r.Rank), fmtNum(r.Alpha), strconv.Itoa(r.TrainableParams),
			csvFloat(r.ValidLoss), csvFloat(r.Perplexity), strconv.FormatFloat(r.TokensPerSec, 'f', 1, 64),
			strconv.FormatInt(r.PeakRSSBytes, 10), strconv.FormatInt(r.SavedBytes, 10), strconv.FormatBool(r.Best), r.Dir, r.Error})
	}
	return out
}

// writeTables writes OUT/NAME.txt, OUT/NAME.csv and OUT/NAME.json.
func writeTables(dir, name string, rows any, text string, records [][]string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, name+".txt"), []byte(text)); err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(dir, name+".csv"), func(w io.Writer) error {
		cw := csv.NewWriter(w)
		cw.WriteAll(records)
		return cw.Error()
	}); err != nil {
		return err
	}
	js, err := json.MarshalIndent(rows, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, name+".json"), append(js, '\n'))
}

// sweepGrid is the heatmap of validation loss by rank and alpha.
func sweepGrid(ranks []int, alphas []float64, rows []*sweepRow) report.Grid {
	g := report.Grid{
		Title: "Validation loss by LoRA rank and alpha", RowLabel: "rank r", ColLabel: "alpha",
		ValueLabel: "validation loss (nats/token)", LowerIsBetter: true,
	}
	for _, r := range ranks {
		g.Rows = append(g.Rows, strconv.Itoa(r))
	}
	for _, a := range alphas {
		g.Cols = append(g.Cols, fmtNum(a))
	}
	g.Z = make([][]float64, len(ranks))
	text := make([][]string, len(ranks))
	for i := range ranks {
		g.Z[i] = make([]float64, len(alphas))
		text[i] = make([]string, len(alphas))
		for j := range alphas {
			r := rows[i*len(alphas)+j]
			g.Z[i][j] = r.loss()
			text[i][j] = "failed"
			if r.ValidLoss != nil {
				text[i][j] = fmt.Sprintf("%.4f", *r.ValidLoss)
			}
			if r.Best {
				g.Mark = append(g.Mark, [2]int{i, j})
				g.Note = fmt.Sprintf("best (red outline): rank %d, alpha %s, validation loss %.4f, perplexity %.4g",
					r.Rank, fmtNum(r.Alpha), *r.ValidLoss, *r.Perplexity)
			}
		}
	}
	g.Text = func(i, j int) string { return text[i][j] }
	return g
}

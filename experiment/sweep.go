package experiment

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"text/tabwriter"

	"github.com/golora/golora/finetune"
	"github.com/golora/golora/internal/atomicfile"
	"github.com/golora/golora/internal/human"
	"github.com/golora/golora/report"
)

// SweepRow is one rank × alpha combination of a sweep.
type SweepRow struct {
	Rank  int     `json:"rank"`
	Alpha float64 `json:"alpha"`
	Measured
	Best bool `json:"best"` // the lowest validation loss of the sweep
}

// SweepResult is a finished sweep.
type SweepResult struct {
	Rows  []*SweepRow // rank-major: Rows[i·len(alphas)+j] is ranks[i], alphas[j]
	Text  string      // the table, as in sweep.txt
	Files []string    // every file the sweep wrote besides the runs' directories
}

// Runs returns the measurements of every row.
func (r *SweepResult) Runs() []Measured {
	out := make([]Measured, len(r.Rows))
	for i, row := range r.Rows {
		out[i] = row.Measured
	}
	return out
}

// Sweep trains one LoRA adapter per rank × alpha with the other options of
// o, each through run into OUT/r<rank>-a<alpha>/, marks the lowest
// validation loss best, and writes OUT/sweep.txt, sweep.csv, sweep.json and
// sweep.svg (the validation loss heatmap, best outlined). It writes a line
// to progress before and after each run. Options that cannot be swept are
// refused before anything runs or is written; runs that fail are rows with
// Error set, not an error of Sweep.
func Sweep(o finetune.Options, ranks []int, alphas []float64, run Runner, progress io.Writer) (*SweepResult, error) {
	if progress == nil {
		progress = io.Discard
	}
	if len(ranks) == 0 || len(alphas) == 0 {
		return nil, errors.New("sweep: no rank or no alpha to try")
	}
	for _, r := range ranks {
		if r <= 0 {
			return nil, fmt.Errorf("sweep: rank %d is not positive", r)
		}
	}
	for _, a := range alphas {
		if !(a > 0) {
			return nil, fmt.Errorf("sweep: alpha %v is not positive", a)
		}
	}
	switch {
	case o.Valid == "":
		return nil, fmt.Errorf("sweep compares validation losses: give --valid FILE")
	case o.Full:
		return nil, fmt.Errorf("--full trains no adapter: there is no rank or alpha to sweep")
	case o.InitAdapter != "":
		return nil, fmt.Errorf("--init-adapter fixes rank and alpha from its adapter_config.json: they cannot be swept")
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	res := &SweepResult{}
	n := len(ranks) * len(alphas)
	for _, r := range ranks {
		for _, a := range alphas {
			co := o
			co.Rank, co.Alpha = r, a
			co.Out = filepath.Join(o.Out, fmt.Sprintf("r%d-a%s", r, fmtNum(a)))
			fmt.Fprintf(progress, "sweep %d/%d: rank %d, alpha %s → %s\n", len(res.Rows)+1, n, r, fmtNum(a), co.Out)
			row := &SweepRow{Rank: r, Alpha: a, Measured: run(co)}
			fmt.Fprintf(progress, "  %s\n", row.Summary())
			res.Rows = append(res.Rows, row)
		}
	}
	best := -1
	for i, r := range res.Rows {
		if v := r.loss(); finite(v) && (best < 0 || v < res.Rows[best].loss()) {
			best = i
		}
	}
	if best >= 0 {
		res.Rows[best].Best = true
	}
	res.Text = sweepText(res.Rows)
	files, err := writeTables(o.Out, "sweep", res.Rows, res.Text, sweepCSV(res.Rows))
	if err != nil {
		return nil, err
	}
	svg := filepath.Join(o.Out, "sweep.svg")
	if err := atomicfile.WriteFile(svg, sweepGrid(ranks, alphas, res.Rows).SVG()); err != nil {
		return nil, err
	}
	res.Files = append(files, svg)
	return res, nil
}

func sweepText(rows []*SweepRow) string {
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

func sweepCSV(rows []*SweepRow) [][]string {
	out := [][]string{{"rank", "alpha", "trainable_params", "valid_loss", "perplexity", "tokens_per_sec", "peak_rss_bytes", "adapter_bytes", "best", "dir", "error"}}
	for _, r := range rows {
		out = append(out, []string{strconv.Itoa(r.Rank), fmtNum(r.Alpha), strconv.Itoa(r.TrainableParams),
			csvFloat(r.ValidLoss), csvFloat(r.Perplexity), strconv.FormatFloat(r.TokensPerSec, 'f', 1, 64),
			strconv.FormatInt(r.PeakRSSBytes, 10), strconv.FormatInt(r.SavedBytes, 10), strconv.FormatBool(r.Best), r.Dir, r.Error})
	}
	return out
}

// sweepGrid is the heatmap of validation loss by rank and alpha.
func sweepGrid(ranks []int, alphas []float64, rows []*SweepRow) report.Grid {
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

package experiment

import (
	"bytes"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/golora/golora/finetune"
	"github.com/golora/golora/internal/human"
	"github.com/golora/golora/report"
)

// method is one way of fine-tuning that Compare measures.
type method struct {
	name, about string
	set         func(o *finetune.Options) // turns the shared options into this method's
}

// methods are the fine-tuning methods Compare knows, in table order, for
// the shared options o (--quantize, --grad-checkpoint).
func methods(o finetune.Options) []method {
	quantize := o.Quantize
	if quantize == "" {
		quantize = "nf4"
	}
	qlora := "frozen base in 4 bits (" + quantize + "), LoRA adapter"
	if o.GradCheckpoint == nil { // the default: QLoRA recomputes activations
		qlora += ", gradient checkpointing"
	}
	return []method{
		{"full", "every weight trained with AdamW", func(o *finetune.Options) { o.Full, o.Quantize = true, "" }},
		{"lora", "frozen base, LoRA adapter", func(o *finetune.Options) { o.Full, o.Quantize = false, "" }},
		{"qlora", qlora, func(o *finetune.Options) { o.Full, o.Quantize = false, quantize }},
	}
}

// Methods are the names of the methods Compare knows, in table order.
func Methods() []string {
	var names []string
	for _, m := range methods(finetune.Options{}) {
		names = append(names, m.name)
	}
	return names
}

// CompareRow is one method of a comparison.
type CompareRow struct {
	Method string `json:"method"`
	About  string `json:"about"`
	Measured
	TrainablePercent float64 `json:"trainable_percent"` // of all parameters (base + adapter)
	Saved            string  `json:"saved"`             // "adapter" or "model"
}

// CompareResult is a finished comparison.
type CompareResult struct {
	Rows  []*CompareRow // in the order the methods were given
	Text  string        // the table, as in compare.txt
	Files []string      // every file the comparison wrote besides the runs' directories
}

// Runs returns the measurements of every row.
func (r *CompareResult) Runs() []Measured {
	out := make([]Measured, len(r.Rows))
	for i, row := range r.Rows {
		out[i] = row.Measured
	}
	return out
}

// Compare trains with each of the named methods (see Methods: full sets
// o.Full, qlora sets o.Quantize, nf4 unless given) on o's data and budget,
// each through run into OUT/<method>/, and writes OUT/compare.txt,
// compare.csv and compare.json: trainable parameters (and their percentage
// of base + adapter), peak RSS, tokens/s, validation loss, perplexity and
// the size of what is saved. It writes a line to progress before and after
// each run. Every method's options are checked before anything runs;
// runs that fail are rows with Error set, not an error of Compare.
func Compare(o finetune.Options, names []string, run Runner, progress io.Writer) (*CompareResult, error) {
	if progress == nil {
		progress = io.Discard
	}
	known := methods(o)
	var chosen []method
	for _, name := range names {
		found := false
		for _, m := range known {
			if m.name == name {
				chosen, found = append(chosen, m), true
			}
		}
		if !found {
			return nil, fmt.Errorf("--methods: %q is not a method; known: %s", name, strings.Join(Methods(), ", "))
		}
	}
	if o.Valid == "" {
		return nil, fmt.Errorf("compare measures validation loss: give --valid FILE")
	}
	if o.InitAdapter != "" {
		return nil, fmt.Errorf("--init-adapter starts LoRA from an adapter; compare trains every method from scratch")
	}
	baseParams, baseBytes, err := report.ModelSize(o.Model)
	if err != nil {
		return nil, err
	}
	opts := make([]finetune.Options, len(chosen))
	for i, m := range chosen {
		opts[i] = o
		m.set(&opts[i])
		opts[i].Out = filepath.Join(o.Out, m.name)
		if err := opts[i].Validate(); err != nil {
			return nil, fmt.Errorf("%s: %w", m.name, err)
		}
	}
	res := &CompareResult{}
	for i, m := range chosen {
		row := &CompareRow{Method: m.name, About: m.about, Saved: "adapter"}
		if m.name == "full" {
			row.Saved = "model"
		}
		res.Rows = append(res.Rows, row)
		fmt.Fprintf(progress, "compare %d/%d: %s (%s) → %s\n", i+1, len(chosen), m.name, m.about, opts[i].Out)
		row.Measured = run(opts[i])
		fmt.Fprintf(progress, "  %s\n", row.Summary())
		if n := row.TrainableParams; n > 0 {
			all := baseParams
			if m.name != "full" {
				all += n
			}
			row.TrainablePercent = 100 * float64(n) / float64(all)
		}
	}
	res.Text = compareText(res.Rows, baseParams, baseBytes)
	res.Files, err = writeTables(o.Out, "compare", res.Rows, res.Text, compareCSV(res.Rows))
	if err != nil {
		return nil, err
	}
	return res, nil
}

func compareText(rows []*CompareRow, baseParams int, baseBytes int64) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "base model: %s parameters, %s; same data, steps, batch, learning rate and seed for every method\n\n",
		human.Count(baseParams), human.Bytes(baseBytes))
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "method\ttrainable params\ttrainable %\tpeak RSS\ttokens/s\tvalid loss\tperplexity\tsaved\t")
	for _, r := range rows {
		if r.Error != "" {
			fmt.Fprintf(tw, "%s\t–\t–\t–\t–\t–\t–\t–\t %s\n", r.Method, "failed: see "+filepath.Join(r.Dir, "train.log"))
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.Method, human.Count(r.TrainableParams),
			strconv.FormatFloat(r.TrainablePercent, 'g', 3, 64)+"%", fmtRSS(r.PeakRSSBytes), fmtRate(r.TokensPerSec),
			fmtOpt(r.ValidLoss, 4), fmtOpt(r.Perplexity, 3), human.Bytes(r.SavedBytes)+" ("+r.Saved+")")
	}
	tw.Flush()
	return trimLines(b.String())
}

func compareCSV(rows []*CompareRow) [][]string {
	out := [][]string{{"method", "trainable_params", "trainable_percent", "peak_rss_bytes", "tokens_per_sec", "valid_loss", "perplexity", "saved_bytes", "saved", "dir", "error"}}
	for _, r := range rows {
		out = append(out, []string{r.Method, strconv.Itoa(r.TrainableParams), strconv.FormatFloat(r.TrainablePercent, 'g', 6, 64),
			strconv.FormatInt(r.PeakRSSBytes, 10), strconv.FormatFloat(r.TokensPerSec, 'f', 1, 64),
			csvFloat(r.ValidLoss), csvFloat(r.Perplexity), strconv.FormatInt(r.SavedBytes, 10), r.Saved, r.Dir, r.Error})
	}
	return out
}

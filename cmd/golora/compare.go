package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/golora/golora/internal/human"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/golora/golora/finetune"
	"github.com/golora/golora/internal/cli"
	"github.com/golora/golora/report"
)

func init() {
	register(&cli.Command{Name: "compare", Summary: "full fine-tuning vs LoRA vs QLoRA on the same data and budget: memory, speed, loss, size", Run: runCompare,
		Usage: "compare --model DIR --data FILE --valid FILE --out DIR [--methods full,lora,qlora] [train flags] [--json]",
		Doc: "Trains with each method on the same data and budget, each in its own process, into OUT/<method>/, and writes " +
			"OUT/compare.txt, compare.csv and compare.json: trainable parameters, peak RSS, tokens/s, validation loss, " +
			"perplexity and the size of what is saved. qlora uses --quantize (default nf4). Every training flag of golora train applies to each run."})
}

// method is one way of fine-tuning that compare measures.
type method struct {
	name, about string
	// set turns the shared options into this method's; nil means the
	// method is not available in this build (the row says so).
	set func(o *finetune.Options)
}

// methods are the fine-tuning methods compare knows, in table order, for
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

// compareRow is one method of the comparison.
type compareRow struct {
	Method string `json:"method"`
	About  string `json:"about"`
	measured
	TrainablePercent float64 `json:"trainable_percent"` // of all parameters (base + adapter)
	Saved            string  `json:"saved"`             // "adapter" or "model"
	Available        bool    `json:"available"`
}

func runCompare(fs *cli.FlagSet, args []string, stdout, stderr io.Writer) error {
	var methodsFlag string
	var asJSON bool
	o, err := parseTrainPlus(fs, args, func(fs *cli.FlagSet) {
		fs.Group("Compare")
		fs.StringVar(&methodsFlag, "methods", "full,lora,qlora", "`METHODS` to compare, comma-separated: full, lora, qlora")
		fs.BoolVar(&asJSON, "json", false, "print the table as JSON")
	})
	if err != nil {
		return err
	}
	known := methods(o)
	var chosen []method
	for _, name := range strings.Split(methodsFlag, ",") {
		name = strings.TrimSpace(name)
		found := false
		for _, m := range known {
			if m.name == name {
				chosen, found = append(chosen, m), true
			}
		}
		if !found {
			return fmt.Errorf("--methods: %q is not a method; known: full, lora, qlora", name)
		}
	}
	if o.Valid == "" {
		return fmt.Errorf("compare measures validation loss: give --valid FILE")
	}
	if o.InitAdapter != "" {
		return fmt.Errorf("--init-adapter starts LoRA from an adapter; compare trains every method from scratch")
	}
	baseParams, baseBytes, err := report.ModelSize(o.Model)
	if err != nil {
		return err
	}
	// Check every method's options before training anything.
	for _, m := range chosen {
		if m.set == nil {
			continue
		}
		mo := o
		m.set(&mo)
		mo.Out = filepath.Join(o.Out, m.name)
		if err := mo.Validate(); err != nil {
			return fmt.Errorf("%s: %w", m.name, err)
		}
	}
	exe, err := executable()
	if err != nil {
		return err
	}
	var rows []*compareRow
	for i, m := range chosen {
		row := &compareRow{Method: m.name, About: m.about, Saved: "adapter", Available: m.set != nil}
		if m.name == "full" {
			row.Saved = "model"
		}
		rows = append(rows, row)
		if m.set == nil {
			row.Error = "not available yet in this golora"
			fmt.Fprintf(stderr, "compare %d/%d: %s: not available yet\n", i+1, len(chosen), m.name)
			continue
		}
		mo := o
		m.set(&mo)
		mo.Out = filepath.Join(o.Out, m.name)
		fmt.Fprintf(stderr, "compare %d/%d: %s (%s) → %s\n", i+1, len(chosen), m.name, m.about, mo.Out)
		row.measured = trainChild(exe, mo)
		fmt.Fprintf(stderr, "  %s\n", row.summary())
		if n := row.TrainableParams; n > 0 {
			all := baseParams
			if m.name != "full" {
				all += n
			}
			row.TrainablePercent = 100 * float64(n) / float64(all)
		}
	}
	text := compareText(rows, baseParams, baseBytes)
	if err := writeTables(o.Out, "compare", rows, text, compareCSV(rows)); err != nil {
		return err
	}
	if asJSON {
		js, _ := json.MarshalIndent(rows, "", "  ")
		fmt.Fprintf(stdout, "%s\n", js)
	} else {
		fmt.Fprint(stdout, text)
		fmt.Fprintf(stdout, "\nwritten: %s, %s, %s\n", filepath.Join(o.Out, "compare.txt"), filepath.Join(o.Out, "compare.csv"), filepath.Join(o.Out, "compare.json"))
	}
	var ran []measured
	for _, r := range rows {
		if r.Available {
			ran = append(ran, r.measured)
		}
	}
	return failures(stderr, len(ran), func(i int) measured { return ran[i] })
}

func compareText(rows []*compareRow, baseParams int, baseBytes int64) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "base model: %s parameters, %s; same data, steps, batch, learning rate and seed for every method\n\n",
		human.Count(baseParams), human.Bytes(baseBytes))
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "method\ttrainable params\ttrainable %\tpeak RSS\ttokens/s\tvalid loss\tperplexity\tsaved\t")
	for _, r := range rows {
		if !r.Available || r.Error != "" {
			msg := r.Error
			if r.Available {
				msg = "failed: see " + filepath.Join(r.Dir, "train.log")
			}
			fmt.Fprintf(tw, "%s\t–\t–\t–\t–\t–\t–\t–\t %s\n", r.Method, msg)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.Method, human.Count(r.TrainableParams),
			strconv.FormatFloat(r.TrainablePercent, 'g', 3, 64)+"%", fmtRSS(r.PeakRSSBytes), fmtRate(r.TokensPerSec),
			fmtOpt(r.ValidLoss, 4), fmtOpt(r.Perplexity, 3), human.Bytes(r.SavedBytes)+" ("+r.Saved+")")
	}
	tw.Flush()
	return trimLines(b.String())
}

func compareCSV(rows []*compareRow) [][]string {
	out := [][]string{{"method", "trainable_params", "trainable_percent", "peak_rss_bytes", "tokens_per_sec", "valid_loss", "perplexity", "saved_bytes", "saved", "dir", "error"}}
	for _, r := range rows {
		out = append(out, []string{r.Method, strconv.Itoa(r.TrainableParams), strconv.FormatFloat(r.TrainablePercent, 'g', 6, 64),
			strconv.FormatInt(r.PeakRSSBytes, 10), strconv.FormatFloat(r.TokensPerSec, 'f', 1, 64),
			csvFloat(r.ValidLoss), csvFloat(r.Perplexity), strconv.FormatInt(r.SavedBytes, 10), r.Saved, r.Dir, r.Error})
	}
	return out
}

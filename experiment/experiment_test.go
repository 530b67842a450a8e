package experiment

import (
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/golora/golora/finetune"
	"github.com/golora/golora/internal/fixture"
)

// TestMain lets Child run this test binary as the golora executable: with
// GOLORA_TEST_AS_TRAIN=1 it answers `train --config FILE` as golora does.
func TestMain(m *testing.M) {
	if os.Getenv("GOLORA_TEST_AS_TRAIN") == "1" {
		os.Exit(trainMain(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// trainMain trains as `golora train --config FILE`, the command Child runs.
func trainMain(args []string) int {
	if len(args) != 3 || args[0] != "train" || args[1] != "--config" {
		fmt.Fprintf(os.Stderr, "want train --config FILE, got %q\n", args)
		return 2
	}
	o := finetune.Defaults()
	if err := o.LoadConfigFile(args[2]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	r, err := finetune.Execute(o, os.Stderr)
	if r != nil {
		r.Model.Close()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

const base = "../testdata/ref/lora_train"

// childSetup makes data and a Runner that trains in this test binary.
func childSetup(t *testing.T) (o finetune.Options, run Runner) {
	t.Helper()
	t.Setenv("GOLORA_TEST_AS_TRAIN", "1")
	dir := t.TempDir()
	o = finetune.Defaults()
	o.Model, o.Out = base, filepath.Join(dir, "out")
	o.Data, o.Valid = filepath.Join(dir, "train.jsonl"), filepath.Join(dir, "valid.jsonl")
	if err := fixture.PatternData(o.Data, 12, 1); err != nil {
		t.Fatal(err)
	}
	if err := fixture.PatternData(o.Valid, 4, 2); err != nil {
		t.Fatal(err)
	}
	o.Steps, o.LR, o.BatchSize = 3, 0.01, 4
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return o, Child(exe)
}

func readCSV(t *testing.T, path string) []map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]string
	for _, r := range recs[1:] {
		m := map[string]string{}
		for i, h := range recs[0] {
			m[h] = r[i]
		}
		out = append(out, m)
	}
	return out
}

func isLinux() bool {
	_, err := os.Stat("/proc/self/status")
	return err == nil
}

func TestSweep(t *testing.T) {
	o, run := childSetup(t)
	o.Targets = "q_proj,v_proj"
	var progress strings.Builder
	res, err := Sweep(o, []int{2, 4}, []float64{4, 16}, run, &progress)
	if err != nil {
		t.Fatal(err)
	}
	if f := Failed(res.Runs()); len(f) > 0 {
		t.Fatalf("failed runs: %+v\n%s", f, progress.String())
	}
	rows := readCSV(t, filepath.Join(o.Out, "sweep.csv"))
	if len(rows) != 4 {
		t.Fatalf("sweep.csv has %d rows, want 4 (2 ranks × 2 alphas)", len(rows))
	}
	params := map[string]int{}
	bestLoss, best := 1e300, ""
	nbest := 0
	for _, r := range rows {
		loss, err := strconv.ParseFloat(r["valid_loss"], 64)
		if err != nil || !(loss > 0) {
			t.Errorf("row %v: no validation loss", r)
		}
		if loss < bestLoss {
			bestLoss, best = loss, r["rank"]+"/"+r["alpha"]
		}
		if r["best"] == "true" {
			nbest++
			if r["rank"]+"/"+r["alpha"] != best && loss != bestLoss {
				t.Errorf("best row %v is not the lowest loss", r)
			}
		}
		n, _ := strconv.Atoi(r["trainable_params"])
		params[r["rank"]] = n
		if rss, _ := strconv.ParseInt(r["peak_rss_bytes"], 10, 64); rss <= 0 && isLinux() {
			t.Errorf("row %v: no peak RSS", r)
		}
		if b, _ := strconv.Atoi(r["adapter_bytes"]); b <= 0 {
			t.Errorf("row %v: no adapter size", r)
		}
		if tps, _ := strconv.ParseFloat(r["tokens_per_sec"], 64); !(tps > 0) {
			t.Errorf("row %v: no tokens/s", r)
		}
		if _, err := os.Stat(filepath.Join(r["dir"], "adapter_model.safetensors")); err != nil {
			t.Errorf("row %v: no adapter saved", r)
		}
	}
	if nbest != 1 {
		t.Errorf("%d rows marked best", nbest)
	}
	// q_proj 32→32 and v_proj 32→16 in 2 layers: r·(32+32) + r·(32+16) per layer.
	if params["2"] != 2*2*(64+48) || params["4"] != 2*params["2"] {
		t.Errorf("trainable params by rank: %v", params)
	}
	if !strings.Contains(res.Text, "← best") || !strings.Contains(res.Text, "valid loss") {
		t.Errorf("no text table:\n%s", res.Text)
	}
	txt, _ := os.ReadFile(filepath.Join(o.Out, "sweep.txt"))
	if string(txt) != res.Text {
		t.Errorf("sweep.txt is not the result's table:\n%s", txt)
	}
	svg, err := os.ReadFile(filepath.Join(o.Out, "sweep.svg"))
	if err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal(svg, new(struct{})); err != nil {
		t.Errorf("sweep.svg is not XML: %v", err)
	}
	for _, want := range []string{"Validation loss by LoRA rank and alpha", "rank r", "alpha", "best (red outline)"} {
		if !strings.Contains(string(svg), want) {
			t.Errorf("sweep.svg lacks %q", want)
		}
	}
	if n := strings.Count(progress.String(), "\n"); n != 8 {
		t.Errorf("%d progress lines, want 2 per run:\n%s", n, progress.String())
	}
}

func TestChildFailure(t *testing.T) {
	o, run := childSetup(t)
	o.Steps, o.Targets = 1, "nonexistent_proj"
	m := run(o)
	if !strings.Contains(m.Error, "nonexistent_proj") || !strings.Contains(m.Error, filepath.Join(o.Out, "train.log")) {
		t.Errorf("error %q: want the child's message and its log", m.Error)
	}
	if m.Dir != o.Out || m.ValidLoss != nil || len(Failed([]Measured{m, {Dir: "ok"}})) != 1 {
		t.Errorf("failed run %+v", m)
	}
	if !strings.HasPrefix(m.Summary(), "failed: ") {
		t.Errorf("summary %q", m.Summary())
	}
}

func TestCompare(t *testing.T) {
	o, run := childSetup(t)
	res, err := Compare(o, Methods(), run, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The rows as `golora compare --json` prints them.
	js, err := json.Marshal(res.Rows)
	if err != nil {
		t.Fatal(err)
	}
	var rows []CompareRow
	if err := json.Unmarshal(js, &rows); err != nil {
		t.Fatal(err)
	}
	var got []string
	by := map[string]CompareRow{}
	for _, r := range rows {
		got = append(got, r.Method)
		by[r.Method] = r
		if r.Error != "" || r.ValidLoss == nil || r.Perplexity == nil || r.TokensPerSec <= 0 || r.SavedBytes <= 0 || (isLinux() && r.PeakRSSBytes <= 0) {
			t.Errorf("%s: incomplete row %+v", r.Method, r)
		}
	}
	if fmt.Sprint(got) != "[full lora qlora]" {
		t.Fatalf("methods %v, want full, lora, qlora", got)
	}
	const baseParams = 19616 // testdata/ref/lora_train
	if f := by["full"]; f.TrainableParams != baseParams || f.TrainablePercent != 100 || f.Saved != "model" {
		t.Errorf("full fine-tuning row: %+v", f)
	}
	l, q := by["lora"], by["qlora"]
	if l.TrainableParams != 2*8*(64+48) || q.TrainableParams != l.TrainableParams || l.Saved != "adapter" {
		t.Errorf("lora %d, qlora %d trainable params", l.TrainableParams, q.TrainableParams)
	}
	if l.SavedBytes >= by["full"].SavedBytes {
		t.Errorf("the adapter (%d bytes) is not smaller than the full model (%d)", l.SavedBytes, by["full"].SavedBytes)
	}
	if *l.ValidLoss == *q.ValidLoss {
		t.Error("QLoRA's validation loss equals LoRA's: was the base quantized?")
	}
	log, _ := os.ReadFile(filepath.Join(o.Out, "qlora", "train.log"))
	if !strings.Contains(string(log), "quantized") {
		t.Errorf("the qlora run did not quantize the base:\n%s", log)
	}
	if rs := readCSV(t, filepath.Join(o.Out, "compare.csv")); len(rs) != 3 {
		t.Errorf("compare.csv has %d rows", len(rs))
	}
	txt, _ := os.ReadFile(filepath.Join(o.Out, "compare.txt"))
	for _, want := range []string{"peak RSS", "tokens/s", "valid loss", "perplexity", "trainable params", "(adapter)", "(model)"} {
		if !strings.Contains(string(txt), want) {
			t.Errorf("compare.txt lacks %q:\n%s", want, txt)
		}
	}
}

// fakeOptions are valid options for runners that do not train.
func fakeOptions(t *testing.T) finetune.Options {
	o := finetune.Defaults()
	o.Model, o.Data, o.Valid, o.Out, o.Steps = base, "train.jsonl", "valid.jsonl", filepath.Join(t.TempDir(), "out"), 1
	return o
}

// files lists the plain files of dir.
func files(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		if !e.IsDir() {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out
}

func ptr(v float64) *float64 { return &v }

func TestSweepTablesWithoutTraining(t *testing.T) {
	o := fakeOptions(t)
	// Loss falls with rank, rises with alpha; rank 8, alpha 32 fails.
	var ran []finetune.Options
	run := func(co finetune.Options) Measured {
		ran = append(ran, co)
		if co.Rank == 8 && co.Alpha == 32 {
			return Measured{Dir: co.Out, Error: "out of memory"}
		}
		l := 2 - float64(co.Rank)/10 + co.Alpha/100
		return Measured{Dir: co.Out, ValidLoss: ptr(l), Perplexity: ptr(7), TrainableParams: 100 * co.Rank, TokensPerSec: 1000, SavedBytes: 4096}
	}
	res, err := Sweep(o, []int{2, 8}, []float64{16, 32}, run, nil)
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, co := range ran {
		dirs = append(dirs, filepath.Base(co.Out)+fmt.Sprintf("=%d/%g", co.Rank, co.Alpha))
	}
	if got := strings.Join(dirs, " "); got != "r2-a16=2/16 r2-a32=2/32 r8-a16=8/16 r8-a32=8/32" {
		t.Errorf("runs %s", got)
	}
	var best []string
	for _, r := range res.Rows {
		if r.Best {
			best = append(best, fmt.Sprintf("%d/%g", r.Rank, r.Alpha))
		}
	}
	if fmt.Sprint(best) != "[8/16]" {
		t.Errorf("best %v, want [8/16]", best)
	}
	if f := Failed(res.Runs()); len(f) != 1 || f[0].Error != "out of memory" {
		t.Errorf("failed %+v", f)
	}
	if !strings.Contains(res.Text, "failed: see "+filepath.Join(o.Out, "r8-a32", "train.log")) {
		t.Errorf("the failed run is not marked:\n%s", res.Text)
	}
	if got, want := slices.Sorted(slices.Values(res.Files)), files(t, o.Out); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Files %v, but OUT holds %v", got, want)
	}
	rows := readCSV(t, filepath.Join(o.Out, "sweep.csv"))
	if len(rows) != 4 || rows[3]["error"] != "out of memory" || rows[3]["valid_loss"] != "" || rows[2]["best"] != "true" {
		t.Errorf("sweep.csv %v", rows)
	}
	svg, _ := os.ReadFile(filepath.Join(o.Out, "sweep.svg"))
	if !strings.Contains(string(svg), "failed") || !strings.Contains(string(svg), "rank 8, alpha 16") {
		t.Errorf("sweep.svg marks neither the failed cell nor the best:\n%s", svg)
	}
	// No run gives a loss: no best, still tables.
	o.Out = filepath.Join(t.TempDir(), "allfailed")
	res, err = Sweep(o, []int{2}, []float64{4}, func(co finetune.Options) Measured { return Measured{Dir: co.Out, Error: "x"} }, nil)
	if err != nil || res.Rows[0].Best || len(res.Files) != 4 {
		t.Errorf("all failed: %v, %+v", err, res)
	}
}

func TestSweepRefuses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		ranks  []int
		alphas []float64
		set    func(o *finetune.Options)
		want   string
	}{
		{"no ranks", nil, []float64{16}, nil, "no rank"},
		{"zero rank", []int{8, 0}, []float64{16}, nil, "rank 0"},
		{"NaN alpha", []int{8}, []float64{strconvNaN()}, nil, "alpha NaN"},
		{"no valid", []int{8}, []float64{16}, func(o *finetune.Options) { o.Valid = "" }, "--valid"},
		{"full", []int{8}, []float64{16}, func(o *finetune.Options) { o.Full = true }, "--full"},
		{"init adapter", []int{8}, []float64{16}, func(o *finetune.Options) { o.InitAdapter = "a" }, "--init-adapter"},
		{"invalid", []int{8}, []float64{16}, func(o *finetune.Options) { o.Schedule = "zigzag" }, "zigzag"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := fakeOptions(t)
			if tc.set != nil {
				tc.set(&o)
			}
			ran := false
			_, err := Sweep(o, tc.ranks, tc.alphas, func(finetune.Options) Measured { ran = true; return Measured{} }, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want it to mention %q", err, tc.want)
			}
			if _, serr := os.Stat(o.Out); ran || serr == nil {
				t.Errorf("a refused sweep ran (%v) or created its output directory", ran)
			}
		})
	}
}

func strconvNaN() float64 { v, _ := strconv.ParseFloat("NaN", 64); return v }

func TestCompareOptionsWithoutTraining(t *testing.T) {
	o := fakeOptions(t)
	o.Quantize = "fp4"
	got := map[string]finetune.Options{}
	run := func(co finetune.Options) Measured {
		got[filepath.Base(co.Out)] = co
		n := 1000
		if !co.Full {
			n = 10
		}
		return Measured{Dir: co.Out, TrainableParams: n, ValidLoss: ptr(1), Perplexity: ptr(2.7)}
	}
	res, err := Compare(o, []string{"qlora", "full", "lora"}, run, nil)
	if err != nil {
		t.Fatal(err)
	}
	if q := got["qlora"]; q.Full || q.Quantize != "fp4" {
		t.Errorf("qlora options: full %v, quantize %q", q.Full, q.Quantize)
	}
	if f := got["full"]; !f.Full || f.Quantize != "" {
		t.Errorf("full options: full %v, quantize %q", f.Full, f.Quantize)
	}
	if l := got["lora"]; l.Full || l.Quantize != "" {
		t.Errorf("lora options: full %v, quantize %q", l.Full, l.Quantize)
	}
	const baseParams = 19616 // testdata/ref/lora_train
	var order []string
	for _, r := range res.Rows {
		order = append(order, r.Method)
		want := 100 * 10 / float64(baseParams+10)
		if r.Method == "full" {
			want = 100 * 1000 / float64(baseParams)
		}
		if r.TrainablePercent != want {
			t.Errorf("%s: trainable %g%%, want %g%%", r.Method, r.TrainablePercent, want)
		}
	}
	if fmt.Sprint(order) != "[qlora full lora]" {
		t.Errorf("rows %v, want the order given", order)
	}
	if !strings.Contains(res.Rows[0].About, "fp4") || !strings.Contains(res.Rows[0].About, "gradient checkpointing") {
		t.Errorf("qlora about %q", res.Rows[0].About)
	}
	if got, want := slices.Sorted(slices.Values(res.Files)), files(t, o.Out); fmt.Sprint(got) != fmt.Sprint(want) || len(got) != 3 {
		t.Errorf("Files %v, but OUT holds %v", got, want)
	}
	if _, err := Compare(o, []string{"lora", "dora"}, run, nil); err == nil || !strings.Contains(err.Error(), `"dora" is not a method; known: full, lora, qlora`) {
		t.Errorf("unknown method: %v", err)
	}
	o.Out = filepath.Join(t.TempDir(), "refused")
	o.Schedule = "zigzag"
	if _, err := Compare(o, []string{"lora"}, func(finetune.Options) Measured { t.Error("a refused comparison ran"); return Measured{} }, nil); err == nil || !strings.Contains(err.Error(), "lora: ") {
		t.Errorf("invalid options: %v", err)
	}
}

package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golora/golora/data"
	"github.com/golora/golora/finetune"
	"github.com/golora/golora/internal/human"
	"github.com/golora/golora/model"
	"github.com/golora/golora/runlog"
	"github.com/golora/golora/tensor"
	"github.com/golora/golora/train"
)

// tinyModel saves a random 3-layer Llama (hidden 24, vocab 40) into dir.
func tinyModel(t *testing.T, dir string) string {
	t.Helper()
	cfg := `{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 24,
		"intermediate_size": 40, "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 2,
		"vocab_size": 40, "max_position_embeddings": 64, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
		"tie_word_embeddings": false}`
	c, err := model.ParseConfig([]byte(cfg), "tiny")
	if err != nil {
		t.Fatal(err)
	}
	if err := model.NewRandom(c, 0.05, 7).Save(dir, tensor.F32); err != nil {
		t.Fatal(err)
	}
	return dir
}

// tinyData writes n pre-tokenized sequences that follow a simple pattern
// (each token predicts the next), so training lowers the loss.
func tinyData(t *testing.T, path string, n int, seed uint64) string {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	var b bytes.Buffer
	for i := 0; i < n; i++ {
		start := rng.IntN(30)
		ids := make([]int, 10)
		for j := range ids {
			ids[j] = (start + 3*j) % 40
		}
		line, _ := json.Marshal(map[string]any{"input_ids": ids})
		b.Write(append(line, '\n'))
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// recordedTrain trains with a finetune.Recorder attached, as `golora
// train` does, from a train.Run built by hand.
func recordedTrain(t *testing.T, o finetune.Options) {
	t.Helper()
	m, err := model.Load(o.Model)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	enc, _ := finetune.LoadEncoder(o.Model)
	dopt := data.Options{MaxSeqLen: o.MaxSeqLen, VocabSize: m.Cfg.VocabSize}
	tr, _, err := finetune.LoadData(o.Model, enc, o.Data, dopt, nil)
	if err != nil {
		t.Fatal(err)
	}
	va, _, err := finetune.LoadData(o.Model, enc, o.Valid, dopt, nil)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(o.Out, 0o755)
	r := &train.Run{Config: o.Config, Model: m, Train: tr, Valid: va}
	if r.Adapter, err = finetune.NewAdapter(m, o); err != nil {
		t.Fatal(err)
	}
	if err := r.Prepare(); err != nil {
		t.Fatal(err)
	}
	s := finetune.RunSettings(r)
	s.Model, s.Data, s.Valid, s.Out = o.Model, o.Data, o.Valid, o.Out
	rec, err := finetune.NewRecorder(r, s, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Sink = rec
	err = r.Fit(0)
	if err == nil {
		err = r.SaveWeights(o.Out)
	}
	if err := rec.Finish(err); err != nil {
		t.Fatal(err)
	}
}

func tinyOptions(dir string) finetune.Options {
	o := finetune.Defaults()
	o.Model = filepath.Join(dir, "base")
	o.Data = filepath.Join(dir, "train.jsonl")
	o.Valid = filepath.Join(dir, "valid.jsonl")
	o.Out = filepath.Join(dir, "run")
	o.Rank, o.Alpha, o.Targets, o.LR, o.Steps, o.BatchSize, o.EvalEvery = 4, 8, "q_proj,v_proj,down_proj", 2e-2, 12, 4, 4
	o.Layers = []int{0, 2}
	return o
}

func setup(t *testing.T) finetune.Options {
	t.Helper()
	dir := t.TempDir()
	o := tinyOptions(dir)
	tinyModel(t, o.Model)
	tinyData(t, o.Data, 16, 1)
	tinyData(t, o.Valid, 4, 2)
	return o
}

// wellFormed checks that an SVG parses as XML and has text (titles and labels).
func wellFormed(t *testing.T, name string, svg []byte) {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(svg))
	texts := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s is not well-formed XML: %v", name, err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "text" {
			texts++
		}
	}
	if texts < 3 {
		t.Errorf("%s has %d text elements: no title or axis labels", name, texts)
	}
}

func TestReportOfARecordedRun(t *testing.T) {
	o := setup(t)
	recordedTrain(t, o)
	path, err := Write(o.Out, Options{})
	if err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(page)
	for _, want := range []string{
		"Training curves", "Where LoRA adapted", "One module up close", "Trainable parameters", "Settings",
		"validation loss", "peak RSS", "tokens/s", "saved adapter", "% of the base model",
		"‖s·B·A‖_F of q_proj", "‖s·B·A‖_F of down_proj", "W (frozen)", "W + s·B·A (merged)", "A (trainable)",
		"trainable params: ", "<code>--rank</code>", "grey: layer not adapted",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	for _, bad := range []string{"http://", "https://", "<script"} {
		if strings.Contains(strings.ReplaceAll(s, `xmlns="http://www.w3.org/2000/svg"`, ""), bad) {
			t.Errorf("report is not self-contained: it has %q", bad)
		}
	}
	files, _ := filepath.Glob(filepath.Join(o.Out, FiguresDir, "*.svg"))
	names := map[string]bool{}
	for _, f := range files {
		names[filepath.Base(f)] = true
		svg, _ := os.ReadFile(f)
		wellFormed(t, f, svg)
	}
	for _, want := range []string{"loss.svg", "lr.svg", "norms-q_proj.svg", "norms-v_proj.svg", "norms-down_proj.svg", "histogram.svg", "matrices.svg"} {
		if !names[want] {
			t.Errorf("no %s among %v", want, names)
		}
	}
	// The trainable count: 2 layers × (q: 4·24+24·4, v: 4·24+12·4, down: 4·40+24·4).
	want := 2 * ((4*24 + 24*4) + (4*24 + 12*4) + (4*40 + 24*4))
	if !strings.Contains(s, fmt.Sprintf("trainable params: %s ", human.Count(want))) {
		t.Errorf("report does not count %d trainable parameters", want)
	}
	// Rebuilding gives the same page: the report is a function of the run.
	if _, err := Write(o.Out, Options{}); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(path); !bytes.Equal(again, page) {
		t.Error("a second report of the same run differs")
	}
}

func TestLoadRun(t *testing.T) {
	o := setup(t)
	recordedTrain(t, o)
	r, err := Load(o.Out)
	if err != nil {
		t.Fatal(err)
	}
	if r.NormsFrom != runlog.NormsFile || len(r.Norms) != 13 || r.Norms[0].Step != 0 || r.Norms[12].Step != 12 {
		t.Errorf("norms from %q: %d records", r.NormsFrom, len(r.Norms))
	}
	if len(r.Adapter.Modules) != 6 || r.Adapter.Scale != 2 {
		t.Fatalf("adapter: %d modules, scale %g", len(r.Adapter.Modules), r.Adapter.Scale)
	}
	// The norms of the final adapter, computed from the files, are the last recorded ones.
	for _, m := range r.Adapter.Modules {
		if got := r.Norms[12].Norms[m.Name]; math.Abs(got-m.Norm) > 1e-12*m.Norm || m.Norm == 0 {
			t.Errorf("%s: recorded %g, from the adapter file %g", m.Name, got, m.Norm)
		}
	}
	if v := r.FinalValidLoss(); !(v > 0) || r.TokensPerSec() <= 0 || r.TrainableParams() != r.SavedParams || r.PeakRSS() < 0 {
		t.Errorf("valid %g, tok/s %g, trainable %d vs saved %d", v, r.TokensPerSec(), r.TrainableParams(), r.SavedParams)
	}
	if fi, _ := os.Stat(filepath.Join(o.Out, "adapter_model.safetensors")); r.SavedBytes <= fi.Size() {
		t.Errorf("saved bytes %d do not include adapter_model.safetensors (%d) and the config", r.SavedBytes, fi.Size())
	}
}

// A run whose norms.jsonl and run.json are missing (as with golora before
// the recorder; checkpoints every 4 steps) still gets a report: norms from
// the checkpoints, settings from the newest checkpoint.
func TestReportWithoutRecorder(t *testing.T) {
	o := setup(t)
	o.SaveEvery = 4
	r, err := finetune.Execute(o, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Model.Close()
	info, err := runlog.ReadRunInfo(filepath.Join(o.Out, runlog.RunFile))
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(o.Out, runlog.NormsFile))
	os.Remove(filepath.Join(o.Out, runlog.RunFile))
	run, err := Load(o.Out)
	if err != nil {
		t.Fatal(err)
	}
	var steps []int
	for _, n := range run.Norms {
		steps = append(steps, n.Step)
	}
	if run.NormsFrom != "checkpoints" || fmt.Sprint(steps) != "[4 8 12]" {
		t.Errorf("norms from %q at steps %v, want checkpoints 4 8 and the final 12", run.NormsFrom, steps)
	}
	// A checkpoint holds train's hyperparameters ...
	if run.Options == nil || run.Options.Steps != 12 || run.Options.LR != o.LR || run.Options.EvalEvery != 4 {
		t.Errorf("hyperparameters not recovered from the checkpoint: %+v", run.Options)
	}
	// ... and one written before train.Config was split from the command's
	// options held all of them, as run.json does.
	for _, step := range []int{4, 8, 12} {
		path := filepath.Join(runlog.CheckpointDir(o.Out, step), runlog.TrainerStateFile)
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var st map[string]any
		json.Unmarshal(raw, &st)
		st["options"] = info.Options
		js, _ := json.Marshal(st)
		os.WriteFile(path, js, 0o644)
	}
	if run, err = Load(o.Out); err != nil {
		t.Fatal(err)
	}
	if run.Options == nil || run.Options.Rank != 4 {
		t.Error("options not recovered from the checkpoint")
	}
	path, err := Write(o.Out, Options{Module: "layers.2.self_attn.v_proj"})
	if err != nil {
		t.Fatal(err)
	}
	page, _ := os.ReadFile(path)
	if !strings.Contains(string(page), "model.layers.2.self_attn.v_proj</code>") || !strings.Contains(string(page), "Chosen with --module") {
		t.Error("--module did not choose the module shown up close")
	}
}

func TestReportErrors(t *testing.T) {
	if _, err := Write(t.TempDir(), Options{}); err == nil || !strings.Contains(err.Error(), "not a golora training run") {
		t.Errorf("an empty directory: %v", err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "metrics.jsonl"), []byte("{\"step\": 1, \"loss\": 2}\n{\"step\": oops}\n"), 0o644)
	r, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Metrics) != 1 || len(r.Notes) == 0 || !strings.Contains(r.Notes[0], "metrics.jsonl:2") {
		t.Errorf("a bad metrics line: %d metrics, notes %q", len(r.Metrics), r.Notes)
	}
	if _, err := Write(dir, Options{}); err != nil {
		t.Errorf("a run with metrics only: %v", err)
	}
}

func TestPickModule(t *testing.T) {
	a := &Adapter{Modules: []*Module{{Name: "model.layers.0.self_attn.q_proj", Norm: 1}, {Name: "model.layers.1.self_attn.q_proj", Norm: 3}, {Name: "model.layers.10.self_attn.q_proj", Norm: 2}}}
	for want, name := range map[string]string{"": "model.layers.1.self_attn.q_proj", "layers.10.": "model.layers.10.self_attn.q_proj", "model.layers.1.self_attn.q_proj": "model.layers.1.self_attn.q_proj"} {
		m, err := pickModule(a, want)
		if err != nil || m.Name != name {
			t.Errorf("pickModule(%q) = %v, %v; want %s", want, m, err, name)
		}
	}
	if _, err := pickModule(a, "layers.1"); err == nil || !strings.Contains(err.Error(), "matches 2 modules") {
		t.Errorf("ambiguous: %v", err)
	}
	if _, err := pickModule(a, "mlp"); err == nil || !strings.Contains(err.Error(), "matches no module") {
		t.Errorf("no match: %v", err)
	}
}

func TestTicksAndLabels(t *testing.T) {
	for _, tc := range []struct {
		v, step float64
		want    string
	}{{0, 1, "0"}, {2e-4, 5e-5, "2e-4"}, {1.5, 0.5, "1.5"}, {120, 20, "120"}, {2.25, 0.25, "2.25"}, {1e6, 2e5, "1e6"}} {
		if got := tickLabel(tc.v, tc.step); got != tc.want {
			t.Errorf("tickLabel(%g, %g) = %q, want %q", tc.v, tc.step, got, tc.want)
		}
	}
	ts, _ := axis{min: 0, max: 1, lo: 0, hi: 100}.ticks(5)
	if fmt.Sprint(ts) != "[0 0.2 0.4 0.6 0.8 1]" {
		t.Errorf("ticks %v", ts)
	}
	ts, _ = axis{min: 3e-6, max: 0.2, log: true}.ticks(6)
	if fmt.Sprint(ts) != "[1e-05 0.0001 0.001 0.01 0.1]" {
		t.Errorf("log ticks %v", ts)
	}
	if got := ranges([]int{5, 0, 1, 2, 7, 8}); got != "0–2, 5, 7–8" {
		t.Errorf("ranges: %q", got)
	}
}

func TestStepTicks(t *testing.T) {
	label := func(ts []tick) string {
		var s []string
		for _, x := range ts {
			s = append(s, x.label)
		}
		return strings.Join(s, " ")
	}
	seq := func(from, to, by int) []int {
		var out []int
		for s := from; s <= to; s += by {
			out = append(out, s)
		}
		return out
	}
	for _, tc := range []struct {
		steps []int
		want  string
	}{
		{seq(0, 80, 1), "0 10 20 30 40 50 60 70 80"},
		{append(seq(0, 500, 5), 503), "0 100 200 300 400 503"},
		{[]int{4, 8, 12}, "4 8 12"},
		{[]int{12}, "12"},
	} {
		if got := label(stepTicks(tc.steps, 8)); got != tc.want {
			t.Errorf("stepTicks(%v…) = %q, want %q", tc.steps[:min(3, len(tc.steps))], got, tc.want)
		}
	}
}

func TestReportOfFullFineTuning(t *testing.T) {
	o := setup(t)
	o.Full, o.Steps = true, 3
	r, err := finetune.Execute(o, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Model.Close()
	run, err := Load(o.Out)
	if err != nil {
		t.Fatal(err)
	}
	if !run.Full || run.Adapter != nil || run.SavedParams != r.Model.NumParams() {
		t.Errorf("full run read as full=%v adapter=%v, %d saved values for %d", run.Full, run.Adapter != nil, run.SavedParams, r.Model.NumParams())
	}
	path, err := Write(o.Out, Options{})
	if err != nil {
		t.Fatal(err)
	}
	page, _ := os.ReadFile(path)
	if !strings.Contains(string(page), "Full fine-tuning") || strings.Contains(string(page), "Where LoRA adapted") {
		t.Error("the report of a full fine-tuning run should say so and leave out the LoRA pictures")
	}
}

func TestReportWithoutBaseModel(t *testing.T) {
	o := setup(t)
	o.Steps = 2
	recordedTrain(t, o)
	path, err := Write(o.Out, Options{Model: filepath.Join(t.TempDir(), "gone")})
	if err != nil {
		t.Fatal(err)
	}
	page, _ := os.ReadFile(path)
	s := string(page)
	if !strings.Contains(s, "base weight not available") || strings.Contains(s, "W (frozen)") || !strings.Contains(s, "A (trainable)") {
		t.Error("without the base model the report should show A, B and s·B·A only")
	}
	if !strings.Contains(s, "<h2>Notes</h2>") || !strings.Contains(s, "gone") {
		t.Error("the missing base model is not noted")
	}
}

package finetune

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/golora/golora/internal/human"
	"github.com/golora/golora/internal/testref"
	"github.com/golora/golora/mem"
	"github.com/golora/golora/model"
	"github.com/golora/golora/runlog"
	"github.com/golora/golora/safetensors"
	"github.com/golora/golora/train"
)

// refOptions trains the lora_train fixture from its initial adapter as
// PyTorch did (train's TestMatchesPyTorchAdamW).
func refOptions(data, out string, batch, accum int) Options {
	o := Defaults()
	o.Model, o.Data, o.Out = testref.Dir(), data, out
	o.InitAdapter = filepath.Join(testref.Dir(), "adapter_init")
	o.LR, o.Schedule, o.Warmup, o.Steps = 1e-2, "linear", 2, 6
	o.BatchSize, o.GradAccum = batch, accum
	o.WeightDecay, o.MaxGradNorm = 0.01, 1
	o.Shuffle = false
	return o
}

func ptr[T any](v T) *T { return &v }

// TestResumeIsBitIdentical stops a run after a checkpoint, resumes it, and
// compares the final adapter byte for byte with an uninterrupted run.
func TestResumeIsBitIdentical(t *testing.T) {
	r := testref.Load(t)
	data := r.WriteIDs(t)
	full := t.TempDir()
	o := refOptions(data, full, 1, 1)
	o.Dropout, o.Shuffle, o.InitAdapter = ptr(0.1), true, ""
	o.Rank, o.Alpha, o.Targets = 4, 8, "all-linear"
	if _, err := Execute(o, nil); err != nil {
		t.Fatal(err)
	}
	part := t.TempDir()
	o.Out, o.SaveEvery = part, 4
	if _, err := Execute(o, nil); err != nil {
		t.Fatal(err)
	}
	// Pretend the run died after the checkpoint: drop its later output.
	os.Remove(filepath.Join(part, "adapter_model.safetensors"))
	os.RemoveAll(runlog.CheckpointDir(part, 6))
	if step, _ := runlog.LatestCheckpoint(part); step != 4 {
		t.Fatalf("latest checkpoint %d, want 4", step)
	}
	o.Resume = true
	var log bytes.Buffer
	if _, err := Execute(o, &log); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "resuming from") {
		t.Errorf("no resume message in %q", log.String())
	}
	a, _ := os.ReadFile(filepath.Join(full, "adapter_model.safetensors"))
	b, _ := os.ReadFile(filepath.Join(part, "adapter_model.safetensors"))
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Error("resumed run's adapter differs from the uninterrupted run's")
	}
	ma, _ := runlog.ReadMetrics(filepath.Join(full, "metrics.jsonl"))
	mb, _ := runlog.ReadMetrics(filepath.Join(part, "metrics.jsonl"))
	if len(ma) != len(mb) {
		t.Fatalf("metrics: %d lines vs %d after resume", len(ma), len(mb))
	}
	for i := range ma {
		if ma[i].Loss != mb[i].Loss {
			t.Errorf("step %d: loss %v vs %v after resume", i+1, ma[i].Loss, mb[i].Loss)
		}
	}
}

// TestResumeExtends resumes a finished 6-step run with --steps 9: it
// continues from checkpoint-6 with the schedule over 9 steps, and says so;
// resuming with another --lr is refused, naming it.
func TestResumeExtends(t *testing.T) {
	r := testref.Load(t)
	data := r.WriteIDs(t)
	out := t.TempDir()
	o := refOptions(data, out, 1, 1)
	o.SaveEvery = 3
	if _, err := Execute(o, nil); err != nil {
		t.Fatal(err)
	}
	o.Resume = true
	changed := o
	changed.Steps, changed.LR = 9, 2e-2
	if _, err := Execute(changed, nil); err == nil || !strings.Contains(err.Error(), "--lr was 0.01, now 0.02") || strings.Contains(err.Error(), "--steps was") || strings.Contains(err.Error(), "--resume-from") {
		t.Fatalf("resuming with another --lr: %v, want a refusal naming --lr, 0.01 and 0.02 only", err)
	}
	o.Steps = 9
	var log bytes.Buffer
	if _, err := Execute(o, &log); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "extending the run from 6 to 9 steps; the learning-rate schedule is recomputed") {
		t.Errorf("no extension message in %q", log.String())
	}
	ms, err := runlog.ReadMetrics(filepath.Join(out, runlog.MetricsFile))
	if err != nil || len(ms) != 9 {
		t.Fatalf("metrics after extending: %d lines, %v; want 9", len(ms), err)
	}
	for k := 6; k < 9; k++ {
		// Linear with warmup 2 over 9 steps: LR·(9−k)/(9−2).
		if want := o.LR * float64(9-k) / 7; ms[k].Step != k+1 || math.Abs(ms[k].LR-want) > 1e-15 {
			t.Errorf("step %d: lr %v, want %v", ms[k].Step, ms[k].LR, want)
		}
	}
	if _, err := os.Stat(runlog.CheckpointDir(out, 9)); err != nil {
		t.Errorf("the extended run's last checkpoint: %v", err)
	}
	o.Steps = 8
	if _, err := Execute(o, nil); err == nil || !strings.Contains(err.Error(), "make 8 steps, fewer than its 9") {
		t.Errorf("resuming a 9-step run with --steps 8: %v, want a refusal", err)
	}
}

func TestBadDataStopsBeforeTraining(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bad.jsonl")
	os.WriteFile(path, []byte("{\"input_ids\": [1, 2, 3]}\n{\"input_ids\": [1, \"x\"]}\n"), 0o644)
	o := refOptions(path, filepath.Join(dir, "out"), 1, 1)
	_, err := Execute(o, nil)
	if err == nil || !strings.Contains(err.Error(), "bad.jsonl:2") {
		t.Fatalf("want an error naming bad.jsonl:2, got %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "out", "metrics.jsonl")); err == nil {
		t.Error("training started despite bad data")
	}
}

func TestNonFiniteLossStops(t *testing.T) {
	r := testref.Load(t)
	data := r.WriteIDs(t)
	out := t.TempDir()
	o := refOptions(data, out, 2, 1)
	o.LR, o.Schedule, o.Warmup, o.MaxGradNorm, o.SaveEvery = 1e30, "constant", 0, 0, 1
	_, err := Execute(o, nil)
	if err == nil || !strings.Contains(err.Error(), "non-finite") {
		t.Fatalf("want a non-finite loss error, got %v", err)
	}
	step, _ := runlog.LatestCheckpoint(out)
	if step == 0 {
		t.Fatal("no checkpoint kept")
	}
	// The message names the checkpoint that stays, and run.json says so too.
	if dir := runlog.CheckpointDir(out, step); !strings.Contains(err.Error(), dir+", is intact") {
		t.Errorf("the error does not name %s: %v", dir, err)
	}
	if ri, _ := runlog.ReadRunInfo(filepath.Join(out, runlog.RunFile)); ri == nil || ri.Status != "failed" || ri.Error != err.Error() {
		t.Errorf("run.json: %+v", ri)
	}
	f, err := safetensors.Open(filepath.Join(runlog.CheckpointDir(out, step), "adapter_model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, n := range f.Names() {
		tt, _ := f.Tensor(n)
		v, _ := tt.F32()
		for _, x := range v {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				t.Fatalf("checkpoint %d has non-finite %s", step, n)
			}
		}
	}
}

// TestQLoRATrains: with the base in 4 bits the adapter still learns, and
// the losses stay near those of the float32 base.
func TestQLoRATrains(t *testing.T) {
	r := testref.Load(t)
	data := r.WriteIDs(t)
	for _, typ := range []string{"nf4", "fp4"} {
		out := t.TempDir()
		o := refOptions(data, out, 2, 1)
		o.Quantize = typ
		o.Steps = 12
		var log bytes.Buffer
		if _, err := Execute(o, &log); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(log.String(), "quantized the base") {
			t.Errorf("%s: no quantization message in %q", typ, log.String())
		}
		ms, _ := runlog.ReadMetrics(filepath.Join(out, "metrics.jsonl"))
		first, last := ms[0].Loss, ms[len(ms)-1].Loss
		want := r.Train["accum1"].Steps[0].Loss
		if math.Abs(first-want) > 0.05*want {
			t.Errorf("%s: first loss %.4f, float32 base %.4f", typ, first, want)
		}
		if !(last < first-0.1) {
			t.Errorf("%s: loss %.4f → %.4f did not fall", typ, first, last)
		}
	}
	o := refOptions(data, t.TempDir(), 2, 1)
	o.Quantize, o.Full = "nf4", true
	if _, err := Execute(o, nil); err == nil {
		t.Error("--quantize with --full must be refused")
	}
}

// An --init-adapter's lora_dropout applies unless the options set Dropout,
// which overrides it (0 included).
func TestInitAdapterDropout(t *testing.T) {
	r := testref.Load(t)
	data := r.WriteIDs(t)
	// The fixture's initial adapter with lora_dropout 0.1.
	init := t.TempDir()
	for _, f := range []string{"adapter_model.safetensors", "adapter_config.json"} {
		raw, err := os.ReadFile(filepath.Join(testref.Dir(), "adapter_init", f))
		if err != nil {
			t.Fatal(err)
		}
		if f == "adapter_config.json" {
			raw = bytes.Replace(raw, []byte(`"lora_dropout": 0.0`), []byte(`"lora_dropout": 0.1`), 1)
		}
		os.WriteFile(filepath.Join(init, f), raw, 0o644)
	}
	train := func(dropout *float64) (losses []float64, saved float64) {
		out := t.TempDir()
		o := refOptions(data, out, 1, 1)
		o.InitAdapter, o.Dropout = init, dropout
		if _, err := Execute(o, nil); err != nil {
			t.Fatal(err)
		}
		ms, _ := runlog.ReadMetrics(filepath.Join(out, runlog.MetricsFile))
		for _, m := range ms {
			losses = append(losses, m.Loss)
		}
		var cfg struct {
			Dropout float64 `json:"lora_dropout"`
		}
		raw, _ := os.ReadFile(filepath.Join(out, "adapter_config.json"))
		json.Unmarshal(raw, &cfg)
		ri, _ := runlog.ReadRunInfo(filepath.Join(out, runlog.RunFile))
		if ri == nil || ri.Options.Dropout != cfg.Dropout {
			t.Errorf("run.json records dropout %+v, the saved adapter %g", ri, cfg.Dropout)
		}
		return losses, cfg.Dropout
	}
	fromAdapter, d := train(nil)
	if d != 0.1 {
		t.Errorf("saved lora_dropout %g, want the init adapter's 0.1", d)
	}
	explicit, _ := train(ptr(0.1))
	off, d0 := train(ptr(0.0))
	if d0 != 0 {
		t.Errorf("--dropout 0: saved lora_dropout %g", d0)
	}
	same := func(a, b []float64) bool {
		if len(a) != len(b) || len(a) == 0 {
			return false
		}
		for i := range a {
			if a[i] != b[i] {
				return false
			}
		}
		return true
	}
	if !same(fromAdapter, explicit) {
		t.Errorf("the init adapter's dropout 0.1 was not used: losses %v, with --dropout 0.1 %v", fromAdapter, explicit)
	}
	if same(fromAdapter, off) {
		t.Errorf("--dropout 0 did not turn dropout off: losses %v both ways", off)
	}
}

func TestLoadConfigFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	os.WriteFile(good, []byte(`{"rank": 16, "lr-schedule": "cosine", "dropout": 0, "grad-checkpoint": true}`), 0o644)
	o := Defaults()
	if err := o.LoadConfigFile(good); err != nil {
		t.Fatal(err)
	}
	if o.Rank != 16 || o.Schedule != "cosine" || o.Dropout == nil || *o.Dropout != 0 || !o.Checkpointing(false) || o.LR != 2e-4 {
		t.Errorf("config file read as %+v", o)
	}
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"rank": 16, "lora_rank": 8}`), 0o644)
	if err := o.LoadConfigFile(bad); err == nil || !strings.Contains(err.Error(), "bad.json") || !strings.Contains(err.Error(), "lora_rank") {
		t.Errorf("unknown key: %v", err)
	}
}

// TestCorruptCheckpoint: a damaged newest checkpoint stops --resume with
// an error naming the file, the problem and the older checkpoint that
// --resume-from can take; resuming from that one reproduces the
// uninterrupted run bit for bit.
func TestCorruptCheckpoint(t *testing.T) {
	r := testref.Load(t)
	data := r.WriteIDs(t)
	full := t.TempDir()
	o := refOptions(data, full, 1, 1)
	if _, err := Execute(o, nil); err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(filepath.Join(full, "adapter_model.safetensors"))
	out := t.TempDir()
	o.Out, o.SaveEvery = out, 2
	if _, err := Execute(o, nil); err != nil {
		t.Fatal(err)
	}
	c2, c4 := runlog.CheckpointDir(out, 2), runlog.CheckpointDir(out, 4)
	os.RemoveAll(runlog.CheckpointDir(out, 6)) // as if the run died before its last step
	optim := filepath.Join(c4, "optimizer.safetensors")
	good, _ := os.ReadFile(optim)
	// The same tensors, each a value short: shapes that do not fit the run.
	f, err := safetensors.Open(optim)
	if err != nil {
		t.Fatal(err)
	}
	var short []safetensors.Tensor
	for _, n := range f.Names() {
		tt, _ := f.Tensor(n)
		v, _ := tt.F32()
		short = append(short, safetensors.FromF32(n, []int{len(v) - 1}, append([]float32(nil), v[:len(v)-1]...))) // a copy: f is closed before use
	}
	meta := f.Metadata()
	f.Close()
	for _, tc := range []struct {
		name  string
		write func() error
		want  string
	}{
		{"truncated", func() error { return os.WriteFile(optim, good[:len(good)/2], 0o644) }, optim},
		{"wrong shapes", func() error { return safetensors.Write(optim, short, meta) }, "values, want"},
		{"bad state", func() error {
			return os.WriteFile(filepath.Join(c4, runlog.TrainerStateFile), []byte(`{"step": 4, "total_steps": `), 0o644)
		}, filepath.Join(c4, runlog.TrainerStateFile)},
	} {
		if err := tc.write(); err != nil {
			t.Fatal(err)
		}
		o.Resume = true
		_, err := Execute(o, nil)
		if err == nil || !strings.Contains(err.Error(), "cannot resume from "+c4) || !strings.Contains(err.Error(), tc.want) ||
			!strings.Contains(err.Error(), "--resume-from "+c2) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	// The older checkpoint, chosen explicitly.
	o.Resume, o.ResumeFrom = false, c2
	var log bytes.Buffer
	if _, err := Execute(o, &log); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "resuming from "+c2) {
		t.Errorf("log: %s", log.String())
	}
	got, _ := os.ReadFile(filepath.Join(out, "adapter_model.safetensors"))
	if len(want) == 0 || !bytes.Equal(got, want) {
		t.Error("resumed from the older checkpoint: the adapter differs from the uninterrupted run's")
	}
}

// TestMemoryCheck: with less memory available than the run's predicted
// peak, training is refused before anything is written, with both numbers
// and what to change; Force trains anyway.
func TestMemoryCheck(t *testing.T) {
	r := testref.Load(t)
	data := r.WriteIDs(t)
	meminfo := filepath.Join(t.TempDir(), "meminfo")
	t.Setenv(mem.MeminfoEnv, meminfo)
	os.WriteFile(meminfo, []byte("MemTotal:       16384 kB\nMemFree:           8 kB\nMemAvailable:      64 kB\n"), 0o644)
	o := refOptions(data, filepath.Join(t.TempDir(), "out"), 2, 1)
	o.InitAdapter = ""
	m, err := model.Load(o.Model)
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := PeakMemory(m, o, train.PaddedLen(r.Examples()))
	m.Close()
	if err != nil {
		t.Fatal(err)
	}
	if b.TotalBytes <= 64<<10 {
		t.Fatalf("predicted %d bytes: the test needs more than 64 KiB", b.TotalBytes)
	}
	_, err = Execute(o, nil)
	for _, want := range []string{human.Bytes(b.TotalBytes), "64 KiB available (MemAvailable in " + meminfo, "--quantize nf4", "--batch-size than 2", "--grad-checkpoint", "--force"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want an error containing %q, got %v", want, err)
		}
	}
	if _, serr := os.Stat(o.Out); serr == nil {
		t.Error("the refused run created its output directory")
	}
	o.Force = true
	if _, err := Execute(o, nil); err != nil {
		t.Errorf("--force: %v", err)
	}
	// Enough memory: no refusal.
	os.WriteFile(meminfo, []byte("MemAvailable: 16777216 kB\n"), 0o644)
	o.Force = false
	if _, err := Execute(o, nil); err != nil {
		t.Errorf("with 16 GiB available: %v", err)
	}
	os.WriteFile(meminfo, []byte("MemAvailable: lots\n"), 0o644)
	if _, err := Execute(o, nil); err == nil || !strings.Contains(err.Error(), meminfo) {
		t.Errorf("unreadable meminfo: %v", err)
	}
}

// TestResumeCleansKilledWrites: what writes cut short by a kill leave in
// OUT is removed on --resume, and a checkpoint moved aside to be replaced
// goes back in place.
func TestResumeCleansKilledWrites(t *testing.T) {
	r := testref.Load(t)
	data := r.WriteIDs(t)
	out := t.TempDir()
	o := refOptions(data, out, 1, 1)
	o.SaveEvery = 2
	if _, err := Execute(o, nil); err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(filepath.Join(out, "adapter_model.safetensors"))
	c4, c6 := runlog.CheckpointDir(out, 4), runlog.CheckpointDir(out, 6)
	os.RemoveAll(c6)
	os.Rename(c4, c4+".old")
	os.Mkdir(c6+".tmp", 0o755)
	os.WriteFile(filepath.Join(out, ".adapter_model.safetensors.tmp-123"), []byte("half"), 0o644)
	o.Resume = true
	var log bytes.Buffer
	if _, err := Execute(o, &log); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "resuming from "+c4) {
		t.Errorf("log: %s", log.String())
	}
	if tmp, _ := runlog.Temporaries(out); len(tmp) != 0 {
		t.Errorf("left: %v", tmp)
	}
	if got, _ := os.ReadFile(filepath.Join(out, "adapter_model.safetensors")); len(want) == 0 || !bytes.Equal(got, want) {
		t.Error("the resumed adapter differs")
	}
}

// TestStoppedBeforeTraining: a context done before the first step stops
// the run before it records anything.
func TestStoppedBeforeTraining(t *testing.T) {
	r := testref.Load(t)
	out := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := ExecuteContext(ctx, refOptions(r.WriteIDs(t), out, 1, 1), nil)
	if err == nil || !strings.Contains(err.Error(), "before training began") {
		t.Fatalf("err %v", err)
	}
	if es, _ := os.ReadDir(out); len(es) != 0 {
		t.Errorf("%s holds %v", out, es)
	}
}

// TestStoppedRun: a context done during training stops it after the step
// under way with a *Stopped naming the checkpoint it wrote, the adapter
// saved and run.json saying "stopped".
func TestStoppedRun(t *testing.T) {
	r := testref.Load(t)
	out := t.TempDir()
	o := refOptions(r.WriteIDs(t), out, 1, 1)
	o.Steps = 1000
	ctx, cancel := context.WithCancel(context.Background())
	w := &cancelAfter{lines: 3, cancel: cancel}
	_, err := ExecuteContext(ctx, o, w)
	var s *Stopped
	if !errors.As(err, &s) || !errors.Is(err, train.ErrStopped) || s.Total != 1000 || s.Step < 1 || s.Step >= 1000 {
		t.Fatalf("err %v", err)
	}
	if step, _ := runlog.LatestCheckpoint(out); step != s.Step || s.Checkpoint != runlog.CheckpointDir(out, step) {
		t.Errorf("newest checkpoint %d, stopped %+v", step, s)
	}
	if _, err := os.Stat(filepath.Join(out, "adapter_model.safetensors")); err != nil {
		t.Error(err)
	}
	if ri, _ := runlog.ReadRunInfo(filepath.Join(out, runlog.RunFile)); ri == nil || ri.Status != "stopped" || ri.Error != err.Error() {
		t.Errorf("run.json: %+v", ri)
	}
}

// cancelAfter is a log that calls cancel once it has received lines lines.
type cancelAfter struct {
	lines  int
	cancel func()
}

func (c *cancelAfter) Write(p []byte) (int, error) {
	if c.lines -= bytes.Count(p, []byte("\n")); c.lines <= 0 {
		c.cancel()
	}
	return len(p), nil
}

// TestDataWarningAndTruncation trains on lines with keys golora ignores and
// an over-long one: one warning per file, the count printed and in run.json.
func TestDataWarningAndTruncation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "train.jsonl")
	lines := `{"input_ids": [1, 2, 3], "id": 1}` + "\n" + `{"input_ids": [4, 5, 6], "id": 2, "source": "x"}` + "\n" +
		`{"input_ids": [1, 2, 3, 4, 5, 6, 7, 8]}` + "\n"
	if err := os.WriteFile(path, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		trunc              string
		truncated, dropped int
		examples           int
		printed            string
	}{
		{"left", 1, 0, 3, "1 training example truncated (left), 0 training examples dropped"},
		{"drop", 0, 1, 2, "0 training examples truncated (drop), 1 training example dropped"},
	} {
		o := refOptions(path, filepath.Join(dir, tc.trunc), 1, 1)
		o.Steps, o.MaxSeqLen, o.Truncation = 1, 4, tc.trunc
		var log strings.Builder
		if _, err := Execute(o, &log); err != nil {
			t.Fatal(err)
		}
		warn := `warning: ` + path + `: ignoring keys "id", "source" on 2 lines (--strict-data refuses them)`
		if n := strings.Count(log.String(), "ignoring keys"); n != 1 || !strings.Contains(log.String(), warn) {
			t.Errorf("%s: want one %q in the log, got:\n%s", tc.trunc, warn, log.String())
		}
		if !strings.Contains(log.String(), tc.printed) {
			t.Errorf("%s: log lacks %q:\n%s", tc.trunc, tc.printed, log.String())
		}
		ri, err := runlog.ReadRunInfo(filepath.Join(o.Out, "run.json"))
		if err != nil {
			t.Fatal(err)
		}
		if ri.TrainTruncated != tc.truncated || ri.TrainDropped != tc.dropped || ri.TrainExamples != tc.examples || ri.Options.Truncation != tc.trunc {
			t.Errorf("%s: run.json %+v", tc.trunc, ri)
		}
	}
	o := refOptions(path, filepath.Join(dir, "strict"), 1, 1)
	o.StrictData = true
	if _, err := Execute(o, nil); err == nil || !strings.Contains(err.Error(), path+`:1: unknown key "id"`) {
		t.Errorf("--strict-data: %v", err)
	}
}

// TestBestAdapterAndSaveTotalLimit: with --eval-every OUT/best holds the
// weights of the lowest validation loss (those of that step's checkpoint),
// --load-best makes them the final adapter, and --save-total-limit keeps
// the newest checkpoints, the last step's among them.
func TestBestAdapterAndSaveTotalLimit(t *testing.T) {
	data := testref.Load(t).WriteIDs(t)
	o := refOptions(data, t.TempDir(), 1, 1)
	o.Valid, o.EvalEvery, o.SaveEvery, o.LoadBest = data, 1, 1, true
	o.LR, o.Steps, o.Warmup, o.Schedule = 0.3, 7, 0, "constant" // the validation loss rises at step 7
	var log bytes.Buffer
	if _, err := Execute(o, &log); err != nil {
		t.Fatal(err)
	}
	ms, err := runlog.ReadMetrics(filepath.Join(o.Out, runlog.MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	best := 0
	for i, m := range ms {
		if *m.ValidLoss < *ms[best].ValidLoss {
			best = i
		}
	}
	bestStep := ms[best].Step
	if bestStep == len(ms) {
		t.Fatalf("the last step is the best: the test needs a run whose validation loss rises")
	}
	ri, err := runlog.ReadRunInfo(filepath.Join(o.Out, "run.json"))
	if err != nil {
		t.Fatal(err)
	}
	if ri.BestStep != bestStep || ri.BestValidLoss != *ms[best].ValidLoss {
		t.Errorf("run.json best step %d loss %v, metrics say %d %v", ri.BestStep, ri.BestValidLoss, bestStep, *ms[best].ValidLoss)
	}
	weights := func(dir string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, "adapter_model.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	want := weights(runlog.CheckpointDir(o.Out, bestStep))
	if !bytes.Equal(weights(filepath.Join(o.Out, runlog.BestDir)), want) {
		t.Errorf("best/ differs from checkpoint-%d", bestStep)
	}
	if !bytes.Equal(weights(o.Out), want) {
		t.Errorf("--load-best: the final adapter is not best/'s")
	}
	if !strings.Contains(log.String(), fmt.Sprintf("the best by validation loss, step %d", bestStep)) {
		t.Errorf("log: %s", log.String())
	}
	if steps, _ := runlog.Checkpoints(o.Out); len(steps) != 7 {
		t.Errorf("checkpoints %v, want one per step", steps)
	}
	if tmp, _ := runlog.Temporaries(o.Out); len(tmp) != 0 {
		t.Errorf("left: %v", tmp)
	}

	o.Out, o.SaveTotalLimit, o.LoadBest = t.TempDir(), 3, false
	if _, err := Execute(o, nil); err != nil {
		t.Fatal(err)
	}
	if steps, _ := runlog.Checkpoints(o.Out); !slices.Equal(steps, []int{5, 6, 7}) {
		t.Errorf("--save-total-limit 3: checkpoints %v, want [5 6 7]", steps)
	}
	if bytes.Equal(weights(o.Out), want) || !bytes.Equal(weights(filepath.Join(o.Out, runlog.BestDir)), want) {
		t.Errorf("without --load-best the final adapter is the last step's, best/ the best's")
	}
}

// TestEarlyStopping: with the learning rate 0 the validation loss never
// falls below the first evaluation's; patience 2 ends the run after the
// third evaluation, with its checkpoint written.
func TestEarlyStopping(t *testing.T) {
	data := testref.Load(t).WriteIDs(t)
	o := refOptions(data, t.TempDir(), 1, 1)
	o.Valid, o.EvalEvery, o.SaveEvery, o.EarlyStoppingPatience = data, 1, 2, 2
	o.LR, o.Warmup = 0, 0
	var log bytes.Buffer
	if _, err := Execute(o, &log); err != nil {
		t.Fatal(err)
	}
	ms, _ := runlog.ReadMetrics(filepath.Join(o.Out, runlog.MetricsFile))
	steps, _ := runlog.Checkpoints(o.Out)
	ri, _ := runlog.ReadRunInfo(filepath.Join(o.Out, "run.json"))
	if len(ms) != 3 || !slices.Equal(steps, []int{2, 3}) || ri.EarlyStop != 3 || ri.Status != "done" ||
		!strings.Contains(log.String(), "early stopping after step 3: no lower validation loss in 2 evaluations") {
		t.Errorf("%d steps, checkpoints %v, run.json early_stop %d status %s; log:\n%s", len(ms), steps, ri.EarlyStop, ri.Status, log.String())
	}
	o.Valid = ""
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "need --valid and --eval-every") {
		t.Errorf("patience without validation: %v", err)
	}
}

func TestLoopConfigAliases(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(path, []byte("save_total_limit: 2\nload_best_model_at_end: true\nearly_stopping_patience: 3\ntruncation: left\nstrict-data: true\n"), 0o644)
	o := Defaults()
	if err := o.LoadConfigFile(path); err != nil {
		t.Fatal(err)
	}
	if o.SaveTotalLimit != 2 || !o.LoadBest || o.EarlyStoppingPatience != 3 || o.Truncation != "left" || !o.StrictData {
		t.Errorf("options %+v", o)
	}
	o.Model, o.Data, o.Out, o.Steps, o.Valid, o.EvalEvery, o.Truncation = "m", "d", "o", 1, "v", 1, "middle"
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), `--truncation: unknown truncation "middle"`) {
		t.Errorf("bad truncation: %v", err)
	}
}

// TestReportToTensorBoard: report_to (a list in a config file, as
// transformers takes it) writes an event file into OUT/runs with every
// step; a fresh run replaces it (one not reporting removes it), a resumed
// run adds its own; an unknown integration is refused.
func TestReportToTensorBoard(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(path, []byte("report_to: [tensorboard]\n"), 0o644)
	r := testref.Load(t)
	out := t.TempDir()
	o := refOptions(r.WriteIDs(t), out, 1, 1)
	if err := o.LoadConfigFile(path); err != nil || o.ReportTo != "tensorboard" {
		t.Fatalf("report_to read as %q, %v", o.ReportTo, err)
	}
	o.SaveEvery = 3
	events := func() []string {
		t.Helper()
		names, _ := filepath.Glob(filepath.Join(out, runlog.EventsDir, "events.out.tfevents.*"))
		return names
	}
	for range 2 {
		if _, err := Execute(o, nil); err != nil {
			t.Fatal(err)
		}
		if n := len(events()); n != 1 {
			t.Fatalf("%d event files after a fresh run, want 1", n)
		}
	}
	raw, _ := os.ReadFile(events()[0])
	if !bytes.Contains(raw, []byte("brain.Event:2")) || bytes.Count(raw, []byte("train/loss")) != 6 || bytes.Count(raw, []byte("train/learning_rate")) != 6 {
		t.Errorf("event file %s lacks the file version or the 6 steps' scalars", events()[0])
	}
	o.Resume, o.Steps = true, 8
	if _, err := Execute(o, nil); err != nil {
		t.Fatal(err)
	}
	if names := events(); len(names) != 2 {
		t.Errorf("event files after resuming: %v, want the first run's and the resumed run's", names)
	}
	o.Resume, o.ReportTo = false, "none"
	if _, err := Execute(o, nil); err != nil {
		t.Fatal(err)
	}
	if names := events(); len(names) != 0 {
		t.Errorf("event files of an earlier run after a fresh run without --report-to: %v", names)
	}
	o.ReportTo = "tensorboard,wandb"
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), `--report-to "wandb"`) {
		t.Errorf("report-to wandb: %v", err)
	}
}

// A setting left unset on one side is named as such.
func TestChangedSettingsUnset(t *testing.T) {
	was, now := runlog.Settings{LR: 1}, runlog.Settings{LR: 1, EnableThinking: ptr(false), Threads: 3}
	if got := changedSettings(was, now); !slices.Equal(got, []string{"--enable-thinking was unset, now false"}) {
		t.Errorf("changed settings %q", got)
	}
	if got := changedSettings(now, was); !slices.Equal(got, []string{"--enable-thinking was false, now unset"}) {
		t.Errorf("changed settings %q", got)
	}
}

// TestPackingRun: TRL's packing and max_length keys turn packing on with
// rows of that length; each step then trains both fixture examples in one
// row, run.json records it, and a checkpoint does not resume a run that
// does not pack.
func TestPackingRun(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(path, []byte("packing: true\nmax_length: 20\n"), 0o644)
	data := testref.Load(t).WriteIDs(t)
	o := refOptions(data, t.TempDir(), 1, 1)
	if err := o.LoadConfigFile(path); err != nil {
		t.Fatal(err)
	}
	o.Valid, o.Steps, o.SaveEvery = data, 3, 2
	var log bytes.Buffer
	if _, err := Execute(o, &log); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "3 steps of 1×1 rows of 20 tokens (examples packed)") {
		t.Errorf("log:\n%s", log.String())
	}
	ms, err := runlog.ReadMetrics(filepath.Join(o.Out, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.Tokens != 18 || m.Epoch != float64(m.Step) {
			t.Errorf("step %d: %d tokens, epoch %v; want the two examples of 9 in one row", m.Step, m.Tokens, m.Epoch)
		}
	}
	ri, err := runlog.ReadRunInfo(filepath.Join(o.Out, runlog.RunFile))
	if err != nil {
		t.Fatal(err)
	}
	if !ri.Options.Packing || ri.Options.MaxSeqLen != 20 {
		t.Errorf("run.json options %+v", ri.Options)
	}
	o.Packing, o.Resume = false, true
	if _, err := Execute(o, nil); err == nil || !strings.Contains(err.Error(), "--packing was true") {
		t.Errorf("resuming a packed run unpacked: %v", err)
	}
}

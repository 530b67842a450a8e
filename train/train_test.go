package train

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golora/golora/safetensors"
)

// testdata/ref/lora_train: six AdamW steps of a PEFT adapter computed by
// PyTorch (float64), with and without gradient accumulation.
const ref = "../testdata/ref/lora_train"

type refStep struct {
	Step     int     `json:"step"`
	LR       float64 `json:"lr"`
	Loss     float64 `json:"loss"`
	GradNorm float64 `json:"grad_norm"`
}

type refTrain struct {
	IDs    [][]int `json:"ids"`
	Labels [][]int `json:"labels"`
	Train  map[string]struct {
		Steps []refStep `json:"steps"`
	} `json:"train"`
	Final map[string]json.RawMessage `json:"final"`
}

func loadRef(t *testing.T) refTrain {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(ref, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r refTrain
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// writeIDs writes the fixture's sequences as pre-tokenized jsonl.
func writeIDs(t *testing.T, r refTrain) string {
	t.Helper()
	var b bytes.Buffer
	for i := range r.IDs {
		line, _ := json.Marshal(map[string]any{"input_ids": r.IDs[i], "labels": r.Labels[i]})
		b.Write(append(line, '\n'))
	}
	path := filepath.Join(t.TempDir(), "train.jsonl")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func refOptions(data, out string, batch, accum int) Options {
	o := Defaults()
	o.Model, o.Data, o.Out = ref, data, out
	o.InitAdapter = filepath.Join(ref, "adapter_init")
	o.LR, o.Schedule, o.Warmup, o.Steps = 1e-2, "linear", 2, 6
	o.BatchSize, o.GradAccum = batch, accum
	o.WeightDecay, o.MaxGradNorm = 0.01, 1
	o.Shuffle = false
	return o
}

func flat(v any) []float64 {
	switch v := v.(type) {
	case float64:
		return []float64{v}
	case []any:
		var out []float64
		for _, e := range v {
			out = append(out, flat(e)...)
		}
		return out
	}
	return nil
}

func TestMatchesPyTorchAdamW(t *testing.T) {
	r := loadRef(t)
	data := writeIDs(t, r)
	for _, tc := range []struct {
		name         string
		batch, accum int
	}{{"accum1", 2, 1}, {"accum2", 1, 2}} {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			run, err := Execute(refOptions(data, out, tc.batch, tc.accum), nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ReadMetrics(filepath.Join(out, "metrics.jsonl"))
			if err != nil {
				t.Fatal(err)
			}
			want := r.Train[tc.name].Steps
			if len(got) != len(want) || run.TotalSteps() != 6 {
				t.Fatalf("%d metric lines, want %d", len(got), len(want))
			}
			for i, w := range want {
				g := got[i]
				if g.Step != w.Step+1 || math.Abs(g.LR-w.LR) > 1e-12 {
					t.Errorf("step %d: step %d lr %g, want %d %g", i, g.Step, g.LR, w.Step+1, w.LR)
				}
				if math.Abs(g.Loss-w.Loss) > 1e-4*math.Abs(w.Loss) {
					t.Errorf("step %d: loss %.7f, PyTorch %.7f", i, g.Loss, w.Loss)
				}
				if math.Abs(g.GradNorm-w.GradNorm) > 1e-4*w.GradNorm {
					t.Errorf("step %d: grad norm %.7f, PyTorch %.7f", i, g.GradNorm, w.GradNorm)
				}
			}
			f, err := safetensors.Open(filepath.Join(out, "adapter_model.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			for key, raw := range r.Final {
				var v any
				json.Unmarshal(raw, &v)
				want := flat(v)
				tt, ok := f.Tensor(key)
				if !ok {
					t.Fatalf("saved adapter lacks %s", key)
				}
				gotv, _ := tt.F32()
				var num, den float64
				for i := range want {
					num = math.Max(num, math.Abs(float64(gotv[i])-want[i]))
					den = math.Max(den, math.Abs(want[i]))
				}
				if num/den > 1e-4 {
					t.Errorf("%s after training: relative error %.3g", key, num/den)
				}
			}
		})
	}
}

// TestResumeIsBitIdentical stops a run after a checkpoint, resumes it, and
// compares the final adapter byte for byte with an uninterrupted run.
func TestResumeIsBitIdentical(t *testing.T) {
	r := loadRef(t)
	data := writeIDs(t, r)
	full := t.TempDir()
	o := refOptions(data, full, 1, 1)
	o.Dropout, o.Shuffle, o.InitAdapter = 0.1, true, ""
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
	if step, _ := LatestCheckpoint(part); step != 4 {
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
	ma, _ := ReadMetrics(filepath.Join(full, "metrics.jsonl"))
	mb, _ := ReadMetrics(filepath.Join(part, "metrics.jsonl"))
	if len(ma) != len(mb) {
		t.Fatalf("metrics: %d lines vs %d after resume", len(ma), len(mb))
	}
	for i := range ma {
		if ma[i].Loss != mb[i].Loss {
			t.Errorf("step %d: loss %v vs %v after resume", i+1, ma[i].Loss, mb[i].Loss)
		}
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
	r := loadRef(t)
	data := writeIDs(t, r)
	out := t.TempDir()
	o := refOptions(data, out, 2, 1)
	o.LR, o.Schedule, o.Warmup, o.MaxGradNorm, o.SaveEvery = 1e30, "constant", 0, 0, 1
	_, err := Execute(o, nil)
	if err == nil || !strings.Contains(err.Error(), "non-finite") {
		t.Fatalf("want a non-finite loss error, got %v", err)
	}
	step, _ := LatestCheckpoint(out)
	if step == 0 {
		t.Fatal("no checkpoint kept")
	}
	f, err := safetensors.Open(filepath.Join(CheckpointDir(out, step), "adapter_model.safetensors"))
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
	r := loadRef(t)
	data := writeIDs(t, r)
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
		ms, _ := ReadMetrics(filepath.Join(out, "metrics.jsonl"))
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

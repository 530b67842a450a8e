package runlog

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A run.json written before Settings had its own type (its "options" were
// golora train's options) reads with every key.
func TestReadRunInfoOfEarlierVersion(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, RunFile), []byte(`{"options": {"model": "m", "data": "d.jsonl", "valid": "", "out": "o",
		"init-adapter": "", "resume": false, "full": false, "quantize": "nf4", "double-quant": true, "rank": 4, "alpha": 8,
		"dropout": 0.05, "targets": "q_proj,v_proj", "layers": [0, 2], "rslora": false, "init": "default", "lr": 0.02,
		"lr-schedule": "cosine", "warmup": 1, "steps": 12, "epochs": 0, "batch-size": 4, "grad-accum": 1, "max-seq-len": 512,
		"grad-checkpoint": true, "weight-decay": 0, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "max-grad-norm": 1, "seed": 42,
		"threads": 0, "save-every": 4, "eval-every": 4, "norm-every": 0, "train-on-prompt": false, "shuffle": true},
		"model_path": "/abs/m", "status": "done", "total_steps": 12}`), 0o644)
	ri, err := ReadRunInfo(filepath.Join(dir, RunFile))
	if err != nil {
		t.Fatal(err)
	}
	s := ri.Options
	if s.Rank != 4 || s.Dropout != 0.05 || s.Schedule != "cosine" || !s.GradCheckpoint || s.Quantize != "nf4" ||
		len(s.Layers) != 2 || s.SaveEvery != 4 || ri.ModelPath != "/abs/m" || ri.TotalSteps != 12 {
		t.Errorf("read %+v", ri)
	}
}

// A resumed run's metrics.jsonl keeps the lines of steps up to the
// checkpoint, then continues; a fresh one starts empty.
func TestMetricsResume(t *testing.T) {
	dir := t.TempDir()
	w, err := OpenMetrics(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	for s := 1; s <= 5; s++ {
		w.Write(Metric{Step: s, Loss: float64(s)})
	}
	w.Close()
	if w, err = OpenMetrics(dir, 3); err != nil {
		t.Fatal(err)
	}
	w.Write(Metric{Step: 4, Loss: 40})
	w.Close()
	ms, err := ReadMetrics(filepath.Join(dir, MetricsFile))
	if err != nil || len(ms) != 4 || ms[2].Loss != 3 || ms[3].Loss != 40 {
		t.Fatalf("after resume from 3: %v %+v", err, ms)
	}
	if w, err = OpenMetrics(dir, 0); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if ms, _ := ReadMetrics(filepath.Join(dir, MetricsFile)); len(ms) != 0 {
		t.Errorf("a fresh run kept %d lines", len(ms))
	}
	os.WriteFile(filepath.Join(dir, NormsFile), []byte(`{"step": 0, "norms": {}}`+"\n\n"+`{"step": 1, "norms": {"a": x}}`+"\n"), 0o644)
	ns, err := ReadNorms(filepath.Join(dir, NormsFile))
	if len(ns) != 1 || err == nil || !strings.Contains(err.Error(), "norms.jsonl:3") {
		t.Errorf("a bad line: %d records, %v", len(ns), err)
	}
}

func TestLatestCheckpoint(t *testing.T) {
	out := t.TempDir()
	if s, err := LatestCheckpoint(filepath.Join(out, "none")); s != 0 || err != nil {
		t.Errorf("no directory: %d, %v", s, err)
	}
	for _, s := range []int{2, 10, 4} {
		os.MkdirAll(CheckpointDir(out, s), 0o755)
		os.WriteFile(filepath.Join(CheckpointDir(out, s), TrainerStateFile), nil, 0o644)
	}
	os.MkdirAll(CheckpointDir(out, 12), 0o755) // incomplete: no trainer_state.json
	os.MkdirAll(CheckpointDir(out, 14)+".tmp", 0o755)
	if s, err := LatestCheckpoint(out); s != 10 || err != nil {
		t.Errorf("latest %d, %v; want 10", s, err)
	}
}

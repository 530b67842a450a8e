package finetune

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/golora/golora/data"
	"github.com/golora/golora/internal/testref"
	"github.com/golora/golora/lora"
	"github.com/golora/golora/model"
	"github.com/golora/golora/runlog"
	"github.com/golora/golora/train"
)

// countingSink counts the steps a Recorder passes on.
type countingSink struct {
	*Recorder
	steps int
}

func (c *countingSink) Step(r *train.Run, m runlog.Metric) error {
	c.steps++
	return c.Recorder.Step(r, m)
}

// recordedRun trains the reference model for steps steps with a Recorder
// every `every` steps, starting from step start of out.
func recordedRun(t *testing.T, out string, steps, every, saveEvery int, resume bool) *runlog.RunInfo {
	t.Helper()
	o := refOptions(testref.Load(t).WriteIDs(t), out, 1, 1)
	o.InitAdapter, o.Rank, o.Alpha, o.Targets = "", 2, 4, "q_proj,v_proj,down_proj"
	o.Steps, o.Schedule, o.SaveEvery, o.NormEvery = steps, "constant", saveEvery, every
	m, err := model.Load(o.Model)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	exs, _, err := data.LoadFile(o.Data, noTokenizer{o.Model}, data.Options{MaxSeqLen: 512})
	if err != nil {
		t.Fatal(err)
	}
	run := &train.Run{Config: o.Config, Model: m, Train: exs, Valid: exs[:1]}
	if run.Adapter, err = NewAdapter(m, o); err != nil {
		t.Fatal(err)
	}
	if err := run.Prepare(); err != nil {
		t.Fatal(err)
	}
	start := 0
	if resume {
		if start, err = runlog.LatestCheckpoint(out); err != nil {
			t.Fatal(err)
		}
		if _, err := run.LoadCheckpoint(runlog.CheckpointDir(out, start)); err != nil {
			t.Fatal(err)
		}
	}
	rec, err := NewRecorder(run, settings(o, run), start, nil)
	if err != nil {
		t.Fatal(err)
	}
	sink := &countingSink{Recorder: rec}
	run.Sink = sink
	err = run.Fit(start)
	if err == nil {
		err = run.SaveWeights(out)
	}
	if err := rec.Finish(err); err != nil {
		t.Fatal(err)
	}
	if sink.steps != steps-start {
		t.Errorf("the wrapping sink ran %d times, want %d", sink.steps, steps-start)
	}
	// The last recorded norms are those of the saved adapter.
	norms, err := runlog.ReadNorms(filepath.Join(out, runlog.NormsFile))
	if err != nil {
		t.Fatal(err)
	}
	last := norms[len(norms)-1]
	if last.Step != steps || len(last.Norms) != 2*3 {
		t.Fatalf("last norm record: step %d with %d modules, want step %d with 6", last.Step, len(last.Norms), steps)
	}
	for name, l := range run.Adapter.Modules {
		if got, want := last.Norms[name], lora.UpdateNorm(l); got != want || want == 0 {
			t.Errorf("%s: recorded %g, final adapter %g", name, got, want)
		}
	}
	ri, err := runlog.ReadRunInfo(filepath.Join(out, runlog.RunFile))
	if err != nil {
		t.Fatal(err)
	}
	return ri
}

func TestRecorderWritesNormsAndRunInfo(t *testing.T) {
	out := t.TempDir()
	ri := recordedRun(t, out, 5, 2, 0, false)
	norms, _ := runlog.ReadNorms(filepath.Join(out, runlog.NormsFile))
	var steps []int
	for _, n := range norms {
		steps = append(steps, n.Step)
	}
	if want := []int{0, 2, 4, 5}; !equalInts(steps, want) {
		t.Errorf("recorded steps %v, want %v", steps, want)
	}
	for name, v := range norms[0].Norms {
		if v != 0 {
			t.Errorf("step 0: %s has ‖sBA‖ %g, want 0 (B starts at zero)", name, v)
		}
	}
	if ri.Status != "done" || ri.TotalSteps != 5 || ri.Tokens == 0 || !(ri.TokensPerSec > 0) ||
		ri.TrainableParams != ri.AdapterParams || ri.Scale != 2 || ri.Options.Rank != 2 || ri.NormEvery != 2 {
		t.Errorf("run.json: %+v", ri)
	}
	if _, err := os.Stat("/proc/self/status"); err == nil && ri.PeakRSSBytes < 1<<20 {
		t.Errorf("peak RSS %d bytes", ri.PeakRSSBytes)
	}
	ms, _ := runlog.ReadMetrics(filepath.Join(out, runlog.MetricsFile))
	if len(ms) != 5 || ms[4].ValidLoss == nil {
		t.Errorf("metrics.jsonl: %d lines, the last with validation loss %v", len(ms), ms[len(ms)-1].ValidLoss)
	}
}

func TestRecorderResumeKeepsEarlierNorms(t *testing.T) {
	out := t.TempDir()
	recordedRun(t, out, 4, 1, 2, false)
	// Pretend the run died after checkpoint 2 with lines for steps 3, 4 written.
	os.RemoveAll(runlog.CheckpointDir(out, 4))
	ri := recordedRun(t, out, 4, 1, 2, true)
	norms, _ := runlog.ReadNorms(filepath.Join(out, runlog.NormsFile))
	var steps []int
	for _, n := range norms {
		steps = append(steps, n.Step)
	}
	if want := []int{0, 1, 2, 3, 4}; !equalInts(steps, want) {
		t.Errorf("after resume, recorded steps %v, want %v", steps, want)
	}
	if ri.StartStep != 2 {
		t.Errorf("start step %d, want 2", ri.StartStep)
	}
}

func TestDefaultNormEvery(t *testing.T) {
	for total, want := range map[int]int{1: 1, 100: 1, 101: 2, 500: 5, 1000: 10} {
		if got := DefaultNormEvery(total); got != want {
			t.Errorf("DefaultNormEvery(%d) = %d, want %d", total, got, want)
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

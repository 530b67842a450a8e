package train

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/golora/golora/internal/testref"
	"github.com/golora/golora/lora"
	"github.com/golora/golora/runlog"
	"github.com/golora/golora/safetensors"
)

// refConfig is the fixture's training: linear schedule with 2 warmup steps,
// 6 steps, weight decay 0.01, clipping at 1, the file order.
func refConfig(batch, accum int) Config {
	c := Defaults()
	c.LR, c.Schedule, c.Warmup, c.Steps = 1e-2, "linear", 2, 6
	c.BatchSize, c.GradAccum = batch, accum
	c.WeightDecay, c.MaxGradNorm = 0.01, 1
	c.Shuffle = false
	return c
}

// refRun prepares a run of the fixture's model with its initial adapter.
func refRun(t *testing.T, c Config) *Run {
	t.Helper()
	return refRunIn(t, testref.Dir(), c)
}

// refRunIn is refRun for the training fixture in dir.
func refRunIn(t *testing.T, dir string, c Config) *Run {
	t.Helper()
	m, a := loadRefModel(t, dir)
	r := &Run{Config: c, Model: m, Adapter: a, Train: testref.LoadDir(t, dir).Examples()}
	if err := r.Prepare(); err != nil {
		t.Fatal(err)
	}
	return r
}

// recorder is a Sink that keeps the metrics and writes checkpoints into
// dir/checkpoint-N.
type recorder struct {
	dir     string
	metrics []runlog.Metric
}

func (s *recorder) Step(r *Run, m runlog.Metric) error {
	s.metrics = append(s.metrics, m)
	return nil
}

func (s *recorder) Checkpoint(r *Run, step int) error {
	return r.SaveCheckpoint(runlog.CheckpointDir(s.dir, step))
}

func TestMatchesPyTorchAdamW(t *testing.T) {
	for _, name := range testref.Fixtures {
		t.Run(name, func(t *testing.T) { testMatchesPyTorchAdamW(t, testref.DirOf(name)) })
	}
}

func testMatchesPyTorchAdamW(t *testing.T, dir string) {
	r := testref.LoadDir(t, dir)
	for _, tc := range []struct {
		name         string
		batch, accum int
	}{{"accum1", 2, 1}, {"accum2", 1, 2}} {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			run := refRunIn(t, dir, refConfig(tc.batch, tc.accum))
			sink := &recorder{dir: out}
			run.Sink = sink
			if err := run.Fit(0); err != nil {
				t.Fatal(err)
			}
			if err := run.SaveWeights(out); err != nil {
				t.Fatal(err)
			}
			got := sink.metrics
			want := r.Train[tc.name].Steps
			if len(got) != len(want) || run.TotalSteps() != 6 {
				t.Fatalf("%d metric lines, want %d", len(got), len(want))
			}
			var worstLoss, worstNorm, worstW float64
			for i, w := range want {
				g := got[i]
				worstLoss = math.Max(worstLoss, math.Abs(g.Loss-w.Loss)/math.Abs(w.Loss))
				worstNorm = math.Max(worstNorm, math.Abs(g.GradNorm-w.GradNorm)/w.GradNorm)
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
				if err := json.Unmarshal(raw, &v); err != nil {
					t.Fatalf("expected.json final %s: %v", key, err)
				}
				want := testref.Flat(v)
				tt, ok := f.Tensor(key)
				if !ok {
					t.Fatalf("saved adapter lacks %s", key)
				}
				gotv, err := tt.F32()
				if err != nil {
					t.Fatal(err)
				}
				if len(gotv) != len(want) {
					t.Fatalf("%s: %d values, PyTorch has %d", key, len(gotv), len(want))
				}
				var num, den float64
				for i := range want {
					num = math.Max(num, math.Abs(float64(gotv[i])-want[i]))
					den = math.Max(den, math.Abs(want[i]))
				}
				if num/den > 1e-4 {
					t.Errorf("%s after training: relative error %.3g", key, num/den)
				} else {
					t.Logf("%s after training: relative error %.3g", key, num/den)
				}
				worstW = math.Max(worstW, num/den)
			}
			t.Logf("relative errors: losses %.3g, grad norms %.3g, final weights %.3g", worstLoss, worstNorm, worstW)
		})
	}
}

// A run continued from a checkpoint by a fresh Run makes the same steps as
// the uninterrupted run, bit for bit; train itself writes nothing.
func TestCheckpointResumesBitIdentically(t *testing.T) {
	for _, name := range []string{"lora_train", "dora_train"} {
		t.Run(name, func(t *testing.T) { testCheckpointResumesBitIdentically(t, testref.DirOf(name)) })
	}
}

func testCheckpointResumesBitIdentically(t *testing.T, dir string) {
	c := refConfig(1, 1)
	c.Shuffle, c.SaveEvery = true, 4
	full := refRunIn(t, dir, c)
	fullSink := &recorder{dir: t.TempDir()}
	full.Sink = fullSink
	if err := full.Fit(0); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(fullSink.dir); len(entries) != 2 || entries[0].Name() != "checkpoint-4" || entries[1].Name() != "checkpoint-6" {
		t.Fatalf("checkpoints written: %v, want checkpoint-4 and the last step's, checkpoint-6", entries)
	}
	resumed := refRunIn(t, dir, c)
	sink := resumeAt(t, resumed, fullSink.dir, 4, 2)
	for i, m := range sink.metrics {
		if w := fullSink.metrics[4+i]; m.Step != w.Step || m.Loss != w.Loss || m.GradNorm != w.GradNorm {
			t.Errorf("step %d: loss %v grad %v, uninterrupted %v %v", m.Step, m.Loss, m.GradNorm, w.Loss, w.GradNorm)
		}
	}
	a, b := t.TempDir(), t.TempDir()
	full.SaveWeights(a)
	resumed.SaveWeights(b)
	wa, _ := os.ReadFile(filepath.Join(a, lora.WeightsFile))
	wb, _ := os.ReadFile(filepath.Join(b, lora.WeightsFile))
	if len(wa) == 0 || !bytes.Equal(wa, wb) {
		t.Error("resumed run's adapter differs from the uninterrupted run's")
	}
	// A shorter run refuses the checkpoint.
	c.Steps = 5
	if _, err := refRunIn(t, dir, c).LoadCheckpoint(runlog.CheckpointDir(fullSink.dir, 4)); err == nil || !strings.Contains(err.Error(), "6 steps") {
		t.Errorf("a checkpoint of a 6-step run loaded into a 5-step run: %v", err)
	}
}

// A longer run extends the checkpointed one: it continues from the
// checkpoint's weights and step, with the schedule over its own length.
func TestCheckpointExtendsRun(t *testing.T) {
	c := refConfig(1, 1)
	c.SaveEvery = 4
	short := refRun(t, c)
	shortSink := &recorder{dir: t.TempDir()}
	short.Sink = shortSink
	if err := short.Fit(0); err != nil {
		t.Fatal(err)
	}
	c.Steps = 9
	long := refRun(t, c)
	step, err := long.LoadCheckpoint(runlog.CheckpointDir(shortSink.dir, 4))
	if err != nil || step != 4 {
		t.Fatalf("LoadCheckpoint into a 9-step run: step %d, %v", step, err)
	}
	sink := &recorder{dir: t.TempDir()}
	long.Sink = sink
	if err := long.Fit(step); err != nil {
		t.Fatal(err)
	}
	if len(sink.metrics) != 5 || long.TotalSteps() != 9 {
		t.Fatalf("extended run made %d steps of %d, want 5 of 9", len(sink.metrics), long.TotalSteps())
	}
	// Step 5's loss is computed before its update: that of the 6-step run.
	if got, want := sink.metrics[0].Loss, shortSink.metrics[4].Loss; got != want {
		t.Errorf("step 5 loss %v, the checkpointed run's %v: the checkpoint's weights were not used", got, want)
	}
	for i, m := range sink.metrics {
		k := 4 + i
		// Linear with warmup 2 over 9 steps: LR·(9−k)/(9−2).
		if want := c.LR * float64(9-k) / 7; m.Step != k+1 || math.Abs(m.LR-want) > 1e-15 {
			t.Errorf("step %d: lr %v, want %v (the schedule over 9 steps)", m.Step, m.LR, want)
		}
	}
}

// resumeAt loads the prepared run r with checkpoint-step of dir and fits
// it to the end, which must take want steps; it returns what the run
// recorded.
func resumeAt(t *testing.T, r *Run, dir string, step, want int) *recorder {
	t.Helper()
	got, err := r.LoadCheckpoint(runlog.CheckpointDir(dir, step))
	if err != nil || got != step {
		t.Fatalf("LoadCheckpoint: step %d, %v", got, err)
	}
	sink := &recorder{dir: t.TempDir()}
	r.Sink = sink
	if err := r.Fit(step); err != nil {
		t.Fatal(err)
	}
	if len(sink.metrics) != want {
		t.Fatalf("resumed run made %d steps, want %d", len(sink.metrics), want)
	}
	return sink
}

// A non-finite loss stops a step before the update, with an error that
// names no output path (the caller knows its checkpoints).
func TestNonFiniteStepNamesNoPath(t *testing.T) {
	c := refConfig(2, 1)
	c.LR, c.Schedule, c.Warmup, c.MaxGradNorm = 1e30, "constant", 0, 0
	r := refRun(t, c)
	var err error
	for k := 0; k < c.Steps && err == nil; k++ {
		_, err = r.Step(k)
	}
	if !errors.Is(err, ErrNonFinite) || strings.Contains(err.Error(), "/") {
		t.Fatalf("want ErrNonFinite without a path, got %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		set  func(*Config)
		want string
	}{
		{func(c *Config) { c.Steps = 0 }, "--steps or --epochs"},
		{func(c *Config) { c.Schedule = "zigzag" }, "zigzag"},
		{func(c *Config) { c.BatchSize = 0 }, "batch-size"},
		{func(c *Config) { c.LR = math.NaN() }, "lr"},
		{func(c *Config) { c.Warmup = -1 }, "warmup"},
		{func(c *Config) { c.Method, c.Lambda, c.Packing = MethodORPO, 0.1, true }, "packing"},
	} {
		c := refConfig(1, 1)
		tc.set(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want an error mentioning %q, got %v", tc.want, err)
		}
		r := &Run{Config: c}
		if err := r.Prepare(); err == nil {
			t.Errorf("Prepare accepted a config Validate refuses (%s)", tc.want)
		}
	}
	if c := refConfig(1, 1); c.Validate() != nil {
		t.Error("the fixture's config is valid")
	}
}

// TestStopCheckpointsOnce: when Stop says so after a step, Fit checkpoints
// that step (once, also on a SaveEvery step) and returns ErrStopped; Stop
// is not asked after the last step.
func TestStopCheckpointsOnce(t *testing.T) {
	for _, tc := range []struct {
		saveEvery, stopAt int
		want              []int // checkpointed steps
		err               error
	}{
		{0, 3, []int{3}, ErrStopped},
		{2, 4, []int{2, 4}, ErrStopped},
		{2, 3, []int{2, 3}, ErrStopped},
		{0, 6, nil, nil}, // the last step: the run is complete
	} {
		c := refConfig(2, 1)
		c.SaveEvery = tc.saveEvery
		run := refRun(t, c)
		var saved []int
		run.Sink = &stopSink{saved: &saved}
		run.Stop = func() bool { return run.StepsDone() >= tc.stopAt }
		err := run.Fit(0)
		if !errors.Is(err, tc.err) || (err == nil) != (tc.err == nil) {
			t.Errorf("%+v: Fit returned %v", tc, err)
		}
		if !slices.Equal(saved, tc.want) {
			t.Errorf("%+v: checkpoints %v, want %v", tc, saved, tc.want)
		}
		if want := min(tc.stopAt, 6); run.StepsDone() != want {
			t.Errorf("%+v: %d steps done, want %d", tc, run.StepsDone(), want)
		}
	}
}

type stopSink struct{ saved *[]int }

func (s *stopSink) Step(*Run, runlog.Metric) error { return nil }

func (s *stopSink) Checkpoint(_ *Run, step int) error {
	*s.saved = append(*s.saved, step)
	return nil
}

// TestStepAccuracy: a step's mean_token_accuracy is that of its examples
// scored before the update (the weights its forward pass used).
func TestStepAccuracy(t *testing.T) {
	n := len(testref.Load(t).IDs)
	r := refRun(t, refConfig(1, n))
	before, err := Score(r.Model, r.Train, 2, r.PadID)
	if err != nil {
		t.Fatal(err)
	}
	st, err := r.Step(0)
	if err != nil {
		t.Fatal(err)
	}
	if st.Accuracy != before.Accuracy || before.Targets == 0 || before.Accuracy == 0 {
		t.Errorf("step accuracy %v, scored before the step %v over %d targets", st.Accuracy, before.Accuracy, before.Targets)
	}
	after, err := Score(r.Model, r.Train, 2, r.PadID)
	if err != nil {
		t.Fatal(err)
	}
	if loss, _ := r.Evaluate(r.Train); loss != after.Loss || after.Accuracy < 0 || after.Accuracy > 1 {
		t.Errorf("Evaluate %v, Score %+v", loss, after)
	}
}

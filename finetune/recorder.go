package finetune

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/golora/golora/data"
	"github.com/golora/golora/internal/atomicfile"
	"github.com/golora/golora/internal/rss"
	"github.com/golora/golora/lora"
	"github.com/golora/golora/runlog"
	"github.com/golora/golora/tensor"
	"github.com/golora/golora/train"
)

// Recorder is the train.Sink of `golora train`: it records a run in its
// output directory (runlog's files) and draws progress.
//
//	OUT/metrics.jsonl  every step's metric
//	OUT/norms.jsonl    ‖s·B·A‖_F of every module, every NormEvery steps
//	OUT/run.json       the run's settings, sizes and resources (runlog.RunInfo)
//	OUT/checkpoint-N/  every SaveEvery steps and after the last
//	                   (train.Run.SaveCheckpoint), the newest
//	                   SaveTotalLimit of them kept
//	OUT/best/          with EvalEvery, the weights of the evaluation with
//	                   the lowest validation loss so far
//	OUT/runs/          with --report-to tensorboard, every step's metric
//	                   as TensorBoard events (runlog.EventWriter)
type Recorder struct {
	out     string
	every   int
	metrics *runlog.Writer[runlog.Metric]
	norms   *runlog.Writer[runlog.NormRecord] // nil in full fine-tuning
	events  *runlog.EventWriter               // with --report-to tensorboard, else nil
	prog    *Progress
	info    runlog.RunInfo
	t0      time.Time
	stepSec float64 // time spent in optimizer steps (excluding validation)
	saved   int     // step of the newest checkpoint (0: none)
	limit   int     // checkpoints kept (0: all)
	evals   bool    // evaluations during training: keep OUT/best
}

// noteData records in run.json how many examples of the training and
// validation data were truncated or dropped.
func (rec *Recorder) noteData(tr, va data.Stats) error {
	rec.info.TrainTruncated, rec.info.TrainDropped = tr.Truncated, tr.Dropped
	rec.info.ValidTruncated, rec.info.ValidDropped = va.Truncated, va.Dropped
	return runlog.WriteRunInfo(rec.out, &rec.info)
}

// DefaultNormEvery is the interval NewRecorder uses for NormEvery ≤ 0:
// about a hundred columns for the report's heatmaps.
func DefaultNormEvery(total int) int { return max(1, (total+99)/100) }

// NewRecorder starts recording the prepared run r, which continues from
// step start (0 for a fresh run, else the checkpoint it resumed from), into
// s.Out: it writes run.json with status "running", opens metrics.jsonl and
// norms.jsonl (kept up to start when resuming) and writes the norms of step
// 0 for a fresh LoRA run. Norms are recorded every s.NormEvery steps (≤ 0:
// DefaultNormEvery) and after the last step; full fine-tuning records none.
// Progress goes to log (nil: none). Set r.Sink to the recorder and call
// Finish when training ends.
func NewRecorder(r *train.Run, s runlog.Settings, start int, log io.Writer) (*Recorder, error) {
	every := s.NormEvery
	if every <= 0 {
		every = DefaultNormEvery(r.TotalSteps())
	}
	rec := &Recorder{out: s.Out, every: every, t0: time.Now(), saved: start, limit: s.SaveTotalLimit,
		evals: s.EvalEvery > 0 && len(r.Valid) > 0}
	abs := s.Model
	if abs != "" {
		if a, err := filepath.Abs(abs); err == nil {
			abs = a
		}
	}
	rec.info = runlog.RunInfo{
		Options: s, ModelPath: abs, Status: "running", StartStep: start, TotalSteps: r.TotalSteps(), SeqLen: r.T,
		TrainExamples: len(r.Train) + len(r.Pairs), ValidExamples: len(r.Valid) + len(r.ValidPairs), TrainableParams: r.TrainableParams(),
		BaseParams: r.Model.NumParams(), NormEvery: every, Threads: tensor.Threads(),
		GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH,
		Started: rec.t0.UTC().Format(time.RFC3339),
	}
	if !r.Full {
		rec.info.AdapterParams = r.Adapter.NumParams()
		rec.info.Scale = float64(r.Adapter.Config.Scale())
	}
	if err := runlog.WriteRunInfo(rec.out, &rec.info); err != nil {
		return nil, err
	}
	var err error
	if r.Full {
		if start == 0 { // no norms: drop those of an earlier run in the directory
			if err := os.Remove(filepath.Join(rec.out, runlog.NormsFile)); err != nil && !os.IsNotExist(err) {
				return nil, err
			}
		}
	} else {
		if rec.norms, err = runlog.OpenNorms(rec.out, start); err != nil {
			return nil, err
		}
		if start == 0 {
			if err := rec.record(r, 0); err != nil {
				rec.closeFiles()
				return nil, err
			}
		}
	}
	if rec.metrics, err = runlog.OpenMetrics(rec.out, start); err != nil {
		rec.closeFiles()
		return nil, err
	}
	if rec.evals && start > 0 {
		// The best of the steps before start, which OUT/best holds.
		ms, err := runlog.ReadMetrics(filepath.Join(rec.out, runlog.MetricsFile))
		if err != nil {
			rec.closeFiles()
			return nil, err
		}
		for _, m := range ms {
			rec.noteEval(m)
		}
	}
	events := filepath.Join(rec.out, runlog.EventsDir)
	if tb, _ := tensorBoard(s.ReportTo); tb {
		host, _ := os.Hostname()
		if host == "" {
			host = "localhost"
		}
		if rec.events, err = runlog.CreateEvents(events, start, rec.t0, host, os.Getpid()); err != nil {
			rec.closeFiles()
			return nil, err
		}
	} else if start == 0 { // no events: drop those of an earlier run in the directory
		if err := runlog.RemoveEvents(events); err != nil {
			rec.closeFiles()
			return nil, err
		}
	}
	rec.prog = NewProgress(log, r.TotalSteps(), start)
	return rec, nil
}

// closeFiles closes the files NewRecorder opened, returning the first
// error.
func (rec *Recorder) closeFiles() error {
	var err error
	if rec.metrics != nil {
		err = rec.metrics.Close()
	}
	if rec.norms != nil {
		err = cmp.Or(err, rec.norms.Close())
	}
	if rec.events != nil {
		err = cmp.Or(err, rec.events.Close())
	}
	return err
}

// noteEval records m's validation loss when it is the lowest so far and
// reports whether it is.
func (rec *Recorder) noteEval(m runlog.Metric) bool {
	if m.ValidLoss == nil || (rec.info.BestStep > 0 && !(*m.ValidLoss < rec.info.BestValidLoss)) {
		return false
	}
	rec.info.BestStep, rec.info.BestValidLoss = m.Step, *m.ValidLoss
	return true
}

// loadBest makes OUT/best the final weights in OUT, copying its files
// (each atomically).
func (rec *Recorder) loadBest(log io.Writer) error {
	if rec.info.BestStep == 0 {
		return nil
	}
	best := filepath.Join(rec.out, runlog.BestDir)
	entries, err := os.ReadDir(best)
	if err != nil {
		return fmt.Errorf("load-best: %w", err)
	}
	for _, e := range entries {
		raw, err := os.ReadFile(filepath.Join(best, e.Name()))
		if err != nil {
			return fmt.Errorf("load-best: %w", err)
		}
		if err := atomicfile.WriteFile(filepath.Join(rec.out, e.Name()), raw); err != nil {
			return fmt.Errorf("load-best: %w", err)
		}
	}
	fmt.Fprintf(log, "final weights: the best by validation loss, step %d (%.4f)\n", rec.info.BestStep, rec.info.BestValidLoss)
	return nil
}

// Step records the metric of a finished optimizer step (train.Sink).
func (rec *Recorder) Step(r *train.Run, m runlog.Metric) error {
	rec.info.Tokens += m.Tokens
	if m.TokensPerSec > 0 {
		rec.stepSec += float64(m.Tokens) / m.TokensPerSec
	}
	// best/ first: metrics.jsonl never names a best that best/ lacks.
	if rec.evals && rec.noteEval(m) {
		if err := r.SaveWeightsAtomically(filepath.Join(rec.out, runlog.BestDir)); err != nil {
			return err
		}
	}
	if err := rec.metrics.Write(m); err != nil {
		return err
	}
	if rec.events != nil {
		if err := rec.events.WriteMetric(m, time.Now()); err != nil {
			return err
		}
	}
	rec.prog.Step(r, m)
	if rec.norms != nil && (m.Step%rec.every == 0 || m.Step == r.TotalSteps()) {
		return rec.record(r, m.Step)
	}
	return nil
}

// Checkpoint writes OUT/checkpoint-<step> (train.Sink) and removes the
// oldest checkpoints beyond the newest SaveTotalLimit.
func (rec *Recorder) Checkpoint(r *train.Run, step int) error {
	if err := r.SaveCheckpoint(runlog.CheckpointDir(rec.out, step)); err != nil {
		return err
	}
	rec.saved = step
	if rec.limit == 0 {
		return nil
	}
	steps, err := runlog.Checkpoints(rec.out)
	if err != nil {
		return err
	}
	for len(steps) > rec.limit {
		if err := os.RemoveAll(runlog.CheckpointDir(rec.out, steps[0])); err != nil {
			return err
		}
		steps = steps[1:]
	}
	return nil
}

// record appends the norms after step to norms.jsonl.
func (rec *Recorder) record(r *train.Run, step int) error {
	nr := runlog.NormRecord{Step: step, Norms: map[string]float64{}}
	for name, l := range r.Adapter.Modules {
		nr.Norms[name] = lora.UpdateNorm(l)
	}
	return rec.norms.Write(nr)
}

// Finish closes the files and rewrites run.json with the outcome (runErr
// nil: "done"), the elapsed time, tokens/s and peak RSS. It returns the
// first error met while doing so.
func (rec *Recorder) Finish(runErr error) error {
	rec.prog.Done()
	err := rec.closeFiles()
	rec.info.Status = "done"
	switch {
	case errors.Is(runErr, train.ErrStopped):
		rec.info.Status, rec.info.Error = "stopped", runErr.Error()
	case runErr != nil:
		rec.info.Status, rec.info.Error = "failed", runErr.Error()
	}
	rec.info.ElapsedSec = time.Since(rec.t0).Seconds()
	if rec.stepSec > 0 {
		rec.info.TokensPerSec = float64(rec.info.Tokens) / rec.stepSec
	}
	rec.info.PeakRSSBytes = rss.Peak()
	if ierr := runlog.WriteRunInfo(rec.out, &rec.info); err == nil {
		err = ierr
	}
	return err
}

// explain turns train.ErrStopped into a *Stopped naming the checkpoint
// written, and adds to a non-finite-loss error (train.ErrNonFinite) which
// checkpoint stays intact and what to try; other errors (and nil) are
// returned as they are.
func (rec *Recorder) explain(err error) error {
	if errors.Is(err, train.ErrStopped) {
		return &Stopped{Step: rec.saved, Total: rec.info.TotalSteps, Checkpoint: runlog.CheckpointDir(rec.out, rec.saved), Out: rec.out}
	}
	if !errors.Is(err, train.ErrNonFinite) {
		return err
	}
	kept := "no checkpoint was written (--save-every)"
	if rec.saved > 0 {
		kept = "the last checkpoint, " + runlog.CheckpointDir(rec.out, rec.saved) + ", is intact"
	}
	return fmt.Errorf("%w; %s; try a lower --lr or --max-grad-norm", err, kept)
}

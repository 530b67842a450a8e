// Package finetune is what `golora train` does around the training loop
// of package train: it loads the model (quantizing the base for QLoRA), its
// tokenizer and the data, attaches a new adapter or an --init-adapter one,
// finds the checkpoint to resume from, and records the run in its output
// directory — metrics.jsonl, norms.jsonl and run.json (package runlog),
// checkpoint-N/ directories, the final adapter — while drawing progress.
package finetune

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/golora/golora/data"
	"github.com/golora/golora/internal/human"
	"github.com/golora/golora/internal/modeldir"
	"github.com/golora/golora/lora"
	"github.com/golora/golora/model"
	"github.com/golora/golora/quant"
	"github.com/golora/golora/runlog"
	"github.com/golora/golora/tokenizer"
	"github.com/golora/golora/train"
)

// Execute is ExecuteContext without a way to stop early.
func Execute(o Options, log io.Writer) (*train.Run, error) {
	return ExecuteContext(context.Background(), o, log)
}

// ExecuteContext is `golora train`: it loads the model, its tokenizer and
// the data (every bad line is reported before any training), attaches a
// new adapter or the --init-adapter one, resumes from the newest
// checkpoint with --resume (or from --resume-from DIR), trains, and writes
// the final adapter into OUT, having removed the temporaries that a killed
// run's interrupted writes left there (runlog.Temporaries; one writer per
// OUT is the caller's to ensure). Before quantizing the base or allocating
// for training, it refuses a run whose predicted peak memory (PeakMemory)
// exceeds the memory available, unless o.Force. log receives the
// parameter report and progress; nil is silent.
//
// When ctx is done training ends after the current step: that step is
// checkpointed, the adapter saved into OUT, and the error is a *Stopped
// (wrapping train.ErrStopped). Done before training begins, it returns an
// error before recording anything.
//
// The returned run (also on a training error) holds the loaded model; the
// caller closes it. On an error before training the model is closed here.
func ExecuteContext(ctx context.Context, o Options, log io.Writer) (run *train.Run, err error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = io.Discard
	}
	m, err := model.Load(o.Model)
	if err != nil {
		return nil, err
	}
	defer func() {
		if run == nil {
			m.Close()
		}
	}()
	enc, err := LoadEncoder(o.Model)
	if err != nil {
		return nil, err
	}
	dopt := data.Options{TrainOnPrompt: o.TrainOnPrompt, MaxSeqLen: o.MaxSeqLen, VocabSize: m.Cfg.VocabSize,
		Truncation: o.Truncation, Strict: o.StrictData}
	sets, err := loadSets(o, enc, dopt)
	if err != nil {
		return nil, err
	}
	trainSet, validSet, trainStats, validStats := sets.train, sets.valid, sets.trainStats, sets.validStats
	for _, w := range []string{trainStats.Warning(o.Data), validStats.Warning(o.Valid)} {
		if w != "" {
			fmt.Fprintln(log, "warning: "+w)
		}
	}
	if !o.Force {
		if err := checkMemory(m, o, sets.rowLen(o)); err != nil {
			return nil, err
		}
	}
	if err := quantizeBase(m, o, log); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, err
	}
	if err := removeTemporaries(o.Out); err != nil {
		return nil, err
	}
	r := &train.Run{Config: o.Config, Model: m, Full: o.Full, Train: trainSet, Valid: validSet,
		Pairs: sets.pairs, ValidPairs: sets.validPairs, PadID: data.PadID(enc, m.Cfg.VocabSize), PackLen: o.MaxSeqLen}
	if !o.Full {
		if r.Adapter, err = NewAdapter(m, o); err != nil {
			return nil, err
		}
	}
	if o.RefAdapter != "" {
		if r.RefAdapter, err = lora.Load(o.RefAdapter, m, "reference"); err != nil {
			return nil, fmt.Errorf("--ref-adapter: %w", err)
		}
	}
	if err := r.Prepare(); err != nil {
		return nil, err
	}
	rs := settings(o, r)
	r.Settings = absPaths(rs)
	start, err := resume(r, o, log)
	if err != nil {
		return nil, err
	}
	fmt.Fprintln(log, r.ParamReport())
	layout := "sequences (padded to %s)"
	if o.Packing {
		layout = "rows of %s (examples packed)"
	}
	fmt.Fprintf(log, "%s, %d validation, %s of %d×%d "+layout+"\n",
		sets.trainName(), sets.validCount(), human.Plural(r.TotalSteps(), "step"),
		o.BatchSize, o.GradAccum, human.Plural(r.T, "token"))
	if n := trainStats.Truncated + trainStats.Dropped + validStats.Truncated + validStats.Dropped; n > 0 {
		fmt.Fprintf(log, "longer than --max-seq-len %d: %s truncated (%s), %s dropped; validation: %d truncated, %d dropped\n",
			o.MaxSeqLen, human.Plural(trainStats.Truncated, "training example"), truncation(o.Truncation), human.Plural(trainStats.Dropped, "training example"),
			validStats.Truncated, validStats.Dropped)
	}
	if r.Checkpointing() {
		fmt.Fprintln(log, "gradient checkpointing: each layer keeps its input, residual, keys and values; the rest is recomputed in backward (--grad-checkpoint=false keeps it all)")
	}
	if ctx.Err() != nil {
		return nil, errors.New("stopped before training began: nothing was trained or recorded")
	}
	rec, err := NewRecorder(r, rs, start, log)
	if err != nil {
		return nil, err
	}
	if err := rec.noteData(trainStats, validStats); err != nil {
		return nil, err
	}
	r.Sink = rec
	r.Stop = func() bool { return ctx.Err() != nil }
	err = r.Fit(start)
	if err == nil || errors.Is(err, train.ErrStopped) {
		if serr := r.SaveWeights(o.Out); serr != nil {
			err = serr
		}
	}
	if step := r.EarlyStop(); step > 0 && err == nil {
		rec.info.EarlyStop = step
		fmt.Fprintf(log, "early stopping after step %d: no lower validation loss in %s\n", step, human.Plural(o.EarlyStoppingPatience, "evaluation"))
	}
	if err == nil && o.LoadBest {
		err = rec.loadBest(log)
	}
	err = rec.explain(err)
	if ferr := rec.Finish(err); err == nil {
		err = ferr
	}
	if err != nil {
		return r, err
	}
	fmt.Fprintf(log, "saved to %s\n", o.Out)
	return r, nil
}

// removeTemporaries removes what a killed run's interrupted writes left in
// out (runlog.Temporaries), except that a checkpoint moved aside to be
// replaced (checkpoint-N.old) goes back in place when its replacement
// never arrived.
func removeTemporaries(out string) error {
	tmp, err := runlog.Temporaries(out)
	if err != nil {
		return err
	}
	for _, p := range tmp {
		if dst, ok := strings.CutSuffix(p, ".old"); ok {
			if _, err := os.Stat(dst); errors.Is(err, os.ErrNotExist) {
				if err := os.Rename(p, dst); err != nil {
					return err
				}
				continue
			}
		}
		if err := os.RemoveAll(p); err != nil {
			return err
		}
	}
	return nil
}

// Stopped is the error of a run that ExecuteContext stopped early, after
// saving the checkpoint of step Step (of Total) and the adapter.
type Stopped struct {
	Step, Total int
	Checkpoint  string // the checkpoint directory written
	Out         string
}

func (s *Stopped) Error() string {
	return fmt.Sprintf("stopped after step %d of %d: checkpoint %s and the weights in %s are saved", s.Step, s.Total, s.Checkpoint, s.Out)
}

func (s *Stopped) Unwrap() error { return train.ErrStopped }

// resume restores the checkpoint the options ask for into the prepared run
// r and returns its step: --resume-from DIR, or with --resume the newest
// complete checkpoint in OUT (none: 0). A checkpoint that cannot be loaded
// is an error naming its file and the problem, and the older checkpoints
// that --resume-from could take instead.
func resume(r *train.Run, o Options, log io.Writer) (int, error) {
	dir := o.ResumeFrom
	if dir == "" {
		if !o.Resume {
			return 0, nil
		}
		step, err := runlog.LatestCheckpoint(o.Out)
		if err != nil {
			return 0, err
		}
		if step == 0 {
			fmt.Fprintf(log, "no checkpoint in %s: starting from step 0\n", o.Out)
			return 0, nil
		}
		dir = runlog.CheckpointDir(o.Out, step)
	}
	start, err := restore(r, dir, log)
	var other *otherRun
	if errors.As(err, &other) {
		return 0, fmt.Errorf("cannot resume from %s: %w", dir, err)
	}
	if err != nil {
		msg := fmt.Sprintf("cannot resume from %s: %v", dir, err)
		steps, _ := runlog.Checkpoints(o.Out)
		var older []string
		for i := len(steps) - 1; i >= 0; i-- {
			if c := runlog.CheckpointDir(o.Out, steps[i]); !modeldir.Same(c, dir) {
				older = append(older, c)
			}
		}
		if len(older) > 0 {
			msg += fmt.Sprintf("; to resume from another checkpoint: --resume-from %s", strings.Join(older, " | "))
		}
		return 0, errors.New(msg)
	}
	fmt.Fprintf(log, "resuming from %s\n", dir)
	return start, nil
}

// restore loads the checkpoint in dir into r after checking that r is the
// run it belongs to, or that run extended: every setting but the bookkeeping
// ones (resumable) must be the same, and the length (--steps, --epochs)
// may grow (train.Run.LoadCheckpoint says what the learning rate then is);
// otherwise the error is an *otherRun. A checkpoint of an earlier golora,
// which records only the train.Config, is checked on that.
func restore(r *train.Run, dir string, log io.Writer) (int, error) {
	st, err := train.ReadCheckpointState(dir)
	if err != nil {
		return 0, err
	}
	var was, now any = st.Config, r.Config
	if st.Settings != nil && r.Settings != nil {
		was, now = *st.Settings, *r.Settings
	}
	diff := changedSettings(was, now)
	if st.Total > r.TotalSteps() {
		diff = append(diff, fmt.Sprintf("--steps/--epochs make %d steps, fewer than its %d", r.TotalSteps(), st.Total))
	}
	if len(diff) > 0 {
		return 0, &otherRun{diff}
	}
	start, err := r.LoadCheckpoint(dir)
	if err != nil {
		return 0, err
	}
	if st.Total < r.TotalSteps() {
		fmt.Fprintf(log, "extending the run from %d to %d steps; the learning-rate schedule is recomputed\n", st.Total, r.TotalSteps())
	}
	return start, nil
}

// otherRun is the refusal to resume a checkpoint with other settings than
// its run's: diff lists them.
type otherRun struct{ diff []string }

func (e *otherRun) Error() string {
	return fmt.Sprintf("the run is resumed with other settings than it was trained with: %s; a run can be extended with more --steps or --epochs, the others must stay (to change them, start a new run in another --out)",
		strings.Join(e.diff, "; "))
}

// resumable are the settings (their flag names) a resumed run may change:
// its length, which LoadCheckpoint checks, and what decides only where and
// how often results are written and how many cores compute them.
var resumable = map[string]bool{"steps": true, "epochs": true, "out": true, "resume": true, "threads": true,
	"norm-every": true, "save-every": true, "save-total-limit": true, "load-best": true, "strict-data": true, "report-to": true}

// changedSettings lists the settings, other than the resumable ones, in
// which now (a runlog.Settings or train.Config) differs from was (of the
// same type), as "--flag was OLD, now NEW" (a setting left out of the JSON
// is "unset"), in the order of the flag names.
func changedSettings(was, now any) []string {
	a, b := jsonFields(was), jsonFields(now)
	show := func(v json.RawMessage) string { return cmp.Or(string(v), "unset") }
	keys := slices.Collect(maps.Keys(a))
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var diff []string
	for _, k := range keys {
		if !resumable[k] && !bytes.Equal(a[k], b[k]) {
			diff = append(diff, fmt.Sprintf("--%s was %s, now %s", k, show(a[k]), show(b[k])))
		}
	}
	return diff
}

// jsonFields maps the JSON keys of v to their encoded values.
func jsonFields(v any) map[string]json.RawMessage {
	js, _ := json.Marshal(v)
	var m map[string]json.RawMessage
	json.Unmarshal(js, &m)
	return m
}

// settings is what run.json records of o for the prepared run r.
func settings(o Options, r *train.Run) runlog.Settings {
	s := RunSettings(r)
	s.Model, s.Data, s.Valid, s.Out, s.InitAdapter = o.Model, o.Data, o.Valid, o.Out, o.InitAdapter
	s.Resume, s.MaxSeqLen, s.TrainOnPrompt, s.Threads, s.NormEvery = o.Resume, o.MaxSeqLen, o.TrainOnPrompt, o.Threads, o.NormEvery
	s.Truncation, s.StrictData, s.EnableThinking = truncation(o.Truncation), o.StrictData, o.EnableThinking
	s.SaveTotalLimit, s.LoadBest, s.ReportTo, s.RefAdapter = o.SaveTotalLimit, o.LoadBest, o.ReportTo, o.RefAdapter
	return s
}

// absPaths is s with its paths made absolute (those that can be), as a
// checkpoint records them: a resumed run started from another directory
// names the same files with other relative paths.
func absPaths(s runlog.Settings) *runlog.Settings {
	for _, p := range []*string{&s.Model, &s.Data, &s.Valid, &s.Out, &s.InitAdapter} {
		if *p != "" {
			if a, err := filepath.Abs(*p); err == nil {
				*p = a
			}
		}
	}
	return &s
}

// RunSettings records what a prepared run uses: its Config, the adapter's
// shape (rank, alpha, dropout, targets, layers, rsLoRA, DoRA, init) and the
// base's 4-bit type. The paths and the application's own settings are
// left for the caller to fill in.
func RunSettings(r *train.Run) runlog.Settings {
	c := r.Config
	s := runlog.Settings{
		Full: r.Full, LR: c.LR, Schedule: c.Schedule, Warmup: c.Warmup, Steps: c.Steps, Epochs: c.Epochs,
		BatchSize: c.BatchSize, GradAccum: c.GradAccum, GradCheckpoint: r.Checkpointing(), WeightDecay: c.WeightDecay,
		Beta1: c.Beta1, Beta2: c.Beta2, Eps: c.Eps, MaxGradNorm: c.MaxGradNorm, Seed: c.Seed,
		SaveEvery: c.SaveEvery, EvalEvery: c.EvalEvery, Shuffle: c.Shuffle, Patience: c.EarlyStoppingPatience,
		Packing: c.Packing,
	}
	switch c.Method {
	case train.MethodDPO:
		s.Method, s.Beta, s.LabelSmoothing = c.Method, c.Beta, c.LabelSmoothing
	case train.MethodORPO:
		s.Method, s.Lambda = c.Method, c.Lambda
	}
	if t, double, ok := r.Model.QuantType(); ok {
		s.Quantize, s.DoubleQuant = t.String(), double
	}
	if a := r.Adapter; a != nil && !r.Full {
		lc := a.Config
		s.Rank, s.Alpha, s.Dropout, s.RSLoRA, s.Init, s.Layers = lc.R, lc.Alpha, lc.Dropout, lc.RSLoRA, lc.Init, lc.Layers
		s.DoRA = lc.DoRA
		s.Targets = lc.TargetsSpec()
	}
	return s
}

// quantizeBase applies --quantize: a base stored unquantized is quantized
// in memory; a pre-quantized checkpoint is used as it is (and must be of the
// requested type).
func quantizeBase(m *model.Model, o Options, log io.Writer) error {
	if o.Quantize == "" {
		return nil
	}
	t, _ := quant.ParseType(o.Quantize)
	if have, _, ok := m.QuantType(); ok {
		if have != t {
			return fmt.Errorf("%s is already quantized to %s; --quantize %s would need the unquantized model", o.Model, have, t)
		}
		return nil
	}
	if err := m.Quantize(t, o.DoubleQuant); err != nil {
		return err
	}
	fmt.Fprintf(log, "quantized the base's %d linear layers to %s in memory (QLoRA)\n", len(m.Linears()), t)
	return nil
}

// NewAdapter attaches the adapter a run trains: the --init-adapter one
// (its own adapter_config.json decides rank, alpha, targets and dropout;
// an explicit Dropout overrides the last), or a fresh one from the options.
func NewAdapter(m *model.Model, o Options) (*lora.Adapter, error) {
	if o.InitAdapter != "" {
		a, err := lora.Load(o.InitAdapter, m, "default")
		if err != nil {
			return nil, err
		}
		if o.Dropout != nil {
			if err := a.SetDropout(*o.Dropout); err != nil {
				a.Detach(m)
				return nil, err
			}
		}
		return a, nil
	}
	cfg := &lora.Config{R: o.Rank, Alpha: o.Alpha, RSLoRA: o.RSLoRA, DoRA: o.DoRA,
		Init: o.Init, Layers: o.Layers, BaseModel: o.Model, Bias: "none"}
	if o.Dropout != nil {
		cfg.Dropout = *o.Dropout
	}
	cfg.ParseTargets(o.Targets)
	return lora.New(m, "default", cfg, o.Seed)
}

// LoadEncoder loads the model directory's tokenizer; a directory without
// tokenizer.json gets an encoder that refuses text (pre-tokenized
// input_ids data still works).
func LoadEncoder(dir string) (data.Encoder, error) {
	path := filepath.Join(dir, "tokenizer.json")
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return noTokenizer{dir}, nil
	}
	return tokenizer.Load(dir)
}

type noTokenizer struct{ dir string }

func (n noTokenizer) Encode(string, bool) ([]int, error) {
	return nil, fmt.Errorf("%s has no tokenizer.json: only pre-tokenized {\"input_ids\": …} lines can be used", n.dir)
}
func (noTokenizer) BOS() int { return -1 }
func (noTokenizer) EOS() int { return -1 }

// LoadData reads a jsonl data set for the model in modelDir, tokenized by
// enc (LoadEncoder(modelDir)): {"messages"} lines are rendered with the
// model's chat template (tokenizer_config.json's chat_template; ChatML when
// it has none), with the line's tools and enable_thinking set to
// *enableThinking (nil: left undefined, the template's default).
// Training, validation and `golora eval` all read data through it, so they
// score the same tokens. The Stats say what was ignored and cut
// (data.Parse). A file of preference pairs is refused with an error that
// says so.
func LoadData(modelDir string, enc data.Encoder, path string, o data.Options, enableThinking *bool) ([]data.Example, data.Stats, error) {
	if tok, ok := enc.(*tokenizer.Tokenizer); ok {
		tmpl, vars, err := tok.Chat()
		if err != nil {
			return nil, data.Stats{}, fmt.Errorf("%s: %w", modelDir, err)
		}
		vars.EnableThinking = enableThinking
		o.Chat = func(msgs []data.Message, tools []json.RawMessage) ([]data.Segment, error) {
			v := vars
			v.Tools = tools
			return tmpl.Segments(msgs, v)
		}
	}
	exs, st, err := data.LoadFile(path, enc, o)
	if err != nil {
		return nil, st, pairHint(err, path)
	}
	return exs, st, nil
}

// truncation names the data.Options.Truncation t ("" is right).
func truncation(t string) string {
	if t == "" {
		return data.TruncateRight
	}
	return t
}

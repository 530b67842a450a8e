package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/golora/golora/internal/human"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/golora/golora/data"
	"github.com/golora/golora/lora"
	"github.com/golora/golora/model"
	"github.com/golora/golora/optim"
)

// Metric is one line of metrics.jsonl: the state after an optimizer step.
type Metric struct {
	Step         int      `json:"step"`
	Epoch        float64  `json:"epoch"`
	Loss         float64  `json:"loss"`
	LR           float64  `json:"lr"`
	GradNorm     float64  `json:"grad_norm"`
	Tokens       int      `json:"tokens"`
	TokensPerSec float64  `json:"tokens_per_sec"`
	ElapsedSec   float64  `json:"elapsed_sec"`
	ValidLoss    *float64 `json:"valid_loss,omitempty"`
}

// Run is a training run over a loaded model.
type Run struct {
	Opt     Options
	Model   *model.Model
	Adapter *lora.Adapter // nil in full fine-tuning
	Train   []data.Example
	Valid   []data.Example
	PadID   int

	// Log receives the PEFT-style parameter report and progress; nil is
	// silent. OnStep, when set, is called after every optimizer step.
	Log    io.Writer
	OnStep func(Metric)

	params      []*model.Param
	vals, grads [][]float32 // the trainable parameters' values and gradients
	opt         *optim.AdamW
	state       *model.State
	T           int // padded sequence length of every batch
	total       int // optimizer steps in the run

	// Step's buffers: one micro-batch, and the epoch's permutation.
	ids, labels []int
	exs         []data.Example
	perm        []int
	permEpoch   int
}

// Prepare plans the run: it marks what is trainable, sizes batches to the
// longest example and builds the optimizer. The adapter (if any) must be
// attached to the model already.
func (r *Run) Prepare() error {
	o := &r.Opt
	if len(r.Train) == 0 {
		return fmt.Errorf("%s: no training examples", o.Data)
	}
	if r.Opt.Full {
		r.Model.SetTrainable(func(string) bool { return true })
		r.params = r.Model.Params()
	} else {
		if r.Adapter == nil {
			return fmt.Errorf("train: no adapter to train")
		}
		r.Model.SetTrainable(func(string) bool { return false })
		r.Adapter.SetTrainable(true)
		r.params = r.Adapter.Params()
	}
	r.T = 2
	for _, set := range [][]data.Example{r.Train, r.Valid} {
		for _, e := range set {
			r.T = max(r.T, len(e.IDs))
		}
	}
	perStep := o.BatchSize * o.GradAccum
	r.total = o.Steps
	if r.total == 0 {
		r.total = int(math.Ceil(o.Epochs * float64(len(r.Train)) / float64(perStep)))
		r.total = max(r.total, 1)
	}
	if r.Checkpointing() {
		r.state = r.Model.NewCheckpointedState(o.BatchSize, r.T)
	} else {
		r.state = r.Model.NewState(o.BatchSize, r.T, true)
	}
	r.grads = make([][]float32, len(r.params))
	r.vals = make([][]float32, len(r.params))
	for i, p := range r.params {
		r.vals[i], r.grads[i] = p.W.F32, p.Grad
	}
	r.ids, r.labels = make([]int, o.BatchSize*r.T), make([]int, o.BatchSize*r.T)
	r.exs = make([]data.Example, 0, o.BatchSize)
	r.perm, r.permEpoch = nil, -1
	r.opt = optim.NewAdamW(r.vals, o.Beta1, o.Beta2, o.Eps, o.WeightDecay)
	return r.opt.Validate()
}

// Checkpointing reports whether the run recomputes activations in
// backward (Options.Checkpointing for this run's base).
func (r *Run) Checkpointing() bool {
	_, _, fourBit := r.Model.QuantType()
	return r.Opt.Checkpointing(fourBit)
}

// TotalSteps is the number of optimizer steps the run makes.
func (r *Run) TotalSteps() int { return r.total }

// ParamReport is PEFT's print_trainable_parameters line:
// "trainable params: N || all params: M || trainable%: P".
func (r *Run) ParamReport() string {
	trainable := 0
	for _, p := range r.params {
		trainable += p.NumElements()
	}
	all := r.Model.NumParams()
	if r.Adapter != nil {
		all += r.Adapter.NumParams()
	}
	return fmt.Sprintf("trainable params: %s || all params: %s || trainable%%: %.4f",
		human.Count(trainable), human.Count(all), 100*float64(trainable)/float64(all))
}

// exampleAt returns the index of the g-th example drawn in the run: epochs
// follow each other, each a permutation of the training set (seeded by the
// run's seed and the epoch) or the file order without shuffling. A pure
// function of g, so a resumed run draws exactly what the uninterrupted one
// would have.
func (r *Run) exampleAt(g int) int {
	n := len(r.Train)
	epoch, i := g/n, g%n
	if !r.Opt.Shuffle {
		return i
	}
	if r.permEpoch != epoch || r.perm == nil {
		r.perm = data.Permutation(n, r.Opt.Seed^uint64(epoch+1)*0x9e3779b97f4a7c15)
		r.permEpoch = epoch
	}
	return r.perm[i]
}

// fill pads the examples into ids/labels (rows of T, row-major) with pad;
// rows beyond the examples are padding with every label masked. It returns
// the number of real tokens.
func fill(ids, labels []int, exs []data.Example, T, pad int) int {
	tokens := 0
	for b := 0; b < len(ids)/T; b++ {
		row, lab := ids[b*T:(b+1)*T], labels[b*T:(b+1)*T]
		for t := range row {
			row[t], lab[t] = pad, model.IgnoreIndex
		}
		if b < len(exs) {
			copy(row, exs[b].IDs)
			copy(lab, exs[b].Labels)
			tokens += len(exs[b].IDs)
		}
	}
	return tokens
}

// targets counts the labels that are predicted (position t predicts
// labels[t+1]): the divisor of the step's mean loss.
func targets(e data.Example) int {
	n := 0
	for _, l := range e.Labels[1:] {
		if l != model.IgnoreIndex {
			n++
		}
	}
	return n
}

// ErrNonFinite reports a NaN or infinite loss or gradient.
var ErrNonFinite = errors.New("non-finite loss")

// StepStats describe one optimizer step.
type StepStats struct {
	Loss     float64 // mean over the step's unmasked targets
	LR       float64
	GradNorm float64 // before clipping
	Tokens   int     // real (unpadded) tokens in the step's sequences
}

// Step runs optimizer step k (0-based): its GradAccum micro-batches
// through forward, loss and backward, then clipping and AdamW. The batches
// are a pure function of k and the options, so any step can be replayed.
// A non-finite loss or gradient stops it before the update (ErrNonFinite).
func (r *Run) Step(k int) (StepStats, error) {
	o := &r.Opt
	B, T := o.BatchSize, r.T
	var st StepStats
	lr, err := optim.LR(o.Schedule, o.LR, k, o.Warmup, r.total)
	if err != nil {
		return st, err
	}
	st.LR = lr
	for _, g := range r.grads {
		clear(g)
	}
	first := k * B * o.GradAccum
	norm := 0
	for j := 0; j < B*o.GradAccum; j++ {
		norm += targets(r.Train[r.exampleAt(first+j)])
	}
	var sum float64
	for micro := 0; micro < o.GradAccum; micro++ {
		r.exs = r.exs[:0]
		for b := 0; b < B; b++ {
			r.exs = append(r.exs, r.Train[r.exampleAt(first+micro*B+b)])
		}
		st.Tokens += fill(r.ids, r.labels, r.exs, T, r.PadID)
		r.state.Dropout = o.Dropout > 0
		r.state.DropoutSeed = o.Seed ^ uint64(k)<<20 ^ uint64(micro)
		if err := r.Model.Forward(r.state, r.ids); err != nil {
			return st, err
		}
		if norm == 0 {
			continue
		}
		s, _, err := r.Model.Loss(r.state, r.labels, float32(norm))
		if err != nil {
			return st, err
		}
		sum += s
		r.Model.Backward(r.state)
	}
	st.Loss = sum / float64(max(norm, 1))
	st.GradNorm = optim.ClipGradNorm(r.grads, o.MaxGradNorm)
	if math.IsNaN(st.Loss) || math.IsInf(st.Loss, 0) || math.IsNaN(st.GradNorm) || math.IsInf(st.GradNorm, 0) {
		return st, fmt.Errorf("%w at step %d (loss %v, gradient norm %v): stopped without updating; the last checkpoint in %s is intact; try a lower --lr or --max-grad-norm",
			ErrNonFinite, k+1, st.Loss, st.GradNorm, o.Out)
	}
	r.opt.Step(r.vals, r.grads, lr)
	return st, nil
}

// Fit trains from step start (0, or a checkpoint's step) to the end,
// writing metrics, validation losses and checkpoints as the options say.
func (r *Run) Fit(start int) error {
	o := &r.Opt
	perStep := o.BatchSize * o.GradAccum
	metrics, err := openMetrics(o.Out, start)
	if err != nil {
		return err
	}
	defer metrics.Close()
	prog := newProgress(r.Log, r.total, start)
	t0 := time.Now()
	for k := start; k < r.total; k++ {
		ts := time.Now()
		st, err := r.Step(k)
		if err != nil {
			return err
		}
		elapsed := time.Since(ts).Seconds()
		m := Metric{Step: k + 1, Epoch: float64((k+1)*perStep) / float64(len(r.Train)), Loss: st.Loss, LR: st.LR,
			GradNorm: st.GradNorm, Tokens: st.Tokens, TokensPerSec: float64(st.Tokens) / elapsed, ElapsedSec: time.Since(t0).Seconds()}
		last := k+1 == r.total
		if len(r.Valid) > 0 && ((o.EvalEvery > 0 && (k+1)%o.EvalEvery == 0) || last) {
			v, err := r.Evaluate(r.Valid)
			if err != nil {
				return err
			}
			m.ValidLoss = &v
		}
		if err := metrics.write(m); err != nil {
			return err
		}
		prog.step(m)
		if r.OnStep != nil {
			r.OnStep(m)
		}
		if o.SaveEvery > 0 && (k+1)%o.SaveEvery == 0 && !last {
			if err := r.SaveCheckpoint(k + 1); err != nil {
				return err
			}
		}
	}
	prog.done()
	return nil
}

// Evaluate returns the mean loss over examples with the run's buffers.
func (r *Run) Evaluate(examples []data.Example) (float64, error) {
	return evaluate(r.Model, r.state, examples, r.PadID)
}

// Evaluate returns the mean causal-LM loss (nats per target token) of m
// over examples, in batches of batch sequences padded with pad.
func Evaluate(m *model.Model, examples []data.Example, batch, pad int) (float64, error) {
	T := 2
	for _, e := range examples {
		T = max(T, len(e.IDs))
	}
	return evaluate(m, m.NewLossState(batch, T), examples, pad)
}

// evaluate runs examples through s with dropout off; every example must
// fit in s.T tokens.
func evaluate(m *model.Model, s *model.State, examples []data.Example, pad int) (float64, error) {
	B, T := s.B, s.T
	ids, labels := make([]int, B*T), make([]int, B*T)
	s.Dropout = false
	var sum float64
	count := 0
	for i := 0; i < len(examples); i += B {
		fill(ids, labels, examples[i:min(i+B, len(examples))], T, pad)
		if err := m.Forward(s, ids); err != nil {
			return 0, err
		}
		c0, c, err := m.Loss(s, labels, 0)
		if err != nil {
			return 0, err
		}
		sum += c0
		count += c
	}
	if count == 0 {
		return math.NaN(), nil
	}
	return sum / float64(count), nil
}

// metricsFile appends one JSON line per step to OUT/metrics.jsonl.
type metricsFile struct{ f *os.File }

// openMetrics opens metrics.jsonl for appending; a resumed run first keeps
// only the lines of steps up to start, so the file reads as one run.
func openMetrics(dir string, start int) (*metricsFile, error) {
	path := filepath.Join(dir, "metrics.jsonl")
	if start == 0 {
		if err := os.WriteFile(path, nil, 0o644); err != nil {
			return nil, err
		}
	} else if err := truncateMetrics(path, start); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	return &metricsFile{f}, nil
}

func (m *metricsFile) write(x Metric) error {
	b, err := json.Marshal(x)
	if err != nil {
		return err
	}
	// One write call per line: a reader never sees a partial line unless
	// the machine stops mid-write, and a resumed run rewrites the file.
	if _, err := m.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("%s: %w", m.f.Name(), err)
	}
	return nil
}

func (m *metricsFile) Close() error { return m.f.Close() }

// ReadMetrics parses a metrics.jsonl file.
func ReadMetrics(path string) ([]Metric, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []Metric
	dec := json.NewDecoder(bytesReader(data))
	for line := 1; dec.More(); line++ {
		var m Metric
		if err := dec.Decode(&m); err != nil {
			return out, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		out = append(out, m)
	}
	return out, nil
}

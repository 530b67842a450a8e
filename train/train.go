package train

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/golora/golora/data"
	"github.com/golora/golora/internal/human"
	"github.com/golora/golora/lora"
	"github.com/golora/golora/model"
	"github.com/golora/golora/optim"
	"github.com/golora/golora/runlog"
)

// Sink receives what a run produces; the application decides where it
// goes. A nil Sink is silent: no metrics, no checkpoints.
type Sink interface {
	// Step is called after every optimizer step with its metric (ValidLoss
	// set on the steps that evaluated). An error stops Fit.
	Step(r *Run, m runlog.Metric) error
	// Checkpoint is called after every SaveEvery-th step and, when
	// SaveEvery > 0, after the last (the last of an early stop too); it
	// typically calls r.SaveCheckpoint with a directory of its choice. An
	// error stops Fit.
	Checkpoint(r *Run, step int) error
}

// Run is a training run over a loaded model. Set the exported fields, call
// Prepare, then Fit (or Step). LoRA dropout is the adapter's own
// (lora_dropout in its Config; lora.Adapter.SetDropout changes it).
type Run struct {
	Config  Config
	Model   *model.Model
	Adapter *lora.Adapter // the adapter trained; nil with Full
	// Full trains every weight of Model instead of an adapter.
	Full  bool
	Train []data.Example
	Valid []data.Example
	// Pairs and ValidPairs replace Train and Valid with Config.Method dpo
	// or orpo; BatchSize counts pairs then, each two sequences.
	Pairs, ValidPairs []data.Pair
	// RefAdapter, with dpo, is the reference: an adapter attached to Model
	// (before Prepare) that is switched on for the reference pass alone;
	// nil: the reference is the base with Adapter switched off.
	RefAdapter *lora.Adapter
	PadID      int // the id in padding positions (data.PadID)
	Sink       Sink
	// Settings, when set, are recorded in every checkpoint
	// (CheckpointState.Settings), for the application to check that a
	// resumed run is the run it continues.
	Settings *runlog.Settings
	// Stop, when set, is asked after every step but the last; when it
	// returns true Fit ends there: it hands that step to Sink.Checkpoint
	// (once, also on a SaveEvery step) and returns ErrStopped.
	Stop func() bool
	// PackLen is the length of a row with Config.Packing (golora train:
	// --max-seq-len); Prepare raises it to the longest example.
	PackLen int
	// T is the padded length of every batch's sequences (set by Prepare:
	// the longest example of Train and Valid, the packed row's length, or
	// the longest side of Pairs and ValidPairs).
	T int

	params      []*model.Param
	vals, grads [][]float32 // the trainable parameters' values and gradients
	opt         *optim.AdamW
	state       *model.State
	total       int // optimizer steps in the run
	done        int // optimizer steps made (or restored from a checkpoint)
	earlyStop   int // step after which Fit stopped early (EarlyStop)

	// Preference runs: the reference and evaluation state (2B sequences);
	// each sequence's summed completion NLL, target count and d loss/d
	// that sum; each position's loss, backward coefficient and ORPO's
	// scored labels; a micro-batch's pairs.
	ref               *model.State
	sums, refSums, dS []float64
	counts            []int
	nll               []float64
	coef              []float32
	nllLabels         []int
	pairs             []data.Pair

	// Step's buffers: one micro-batch (its examples, where each row's
	// end, the tokens' positions when packed), the epoch's permutation and,
	// packed, the rows of an epoch and where each epoch's rows start.
	ids, labels, pos []int
	exs              []data.Example
	ends             []int
	perm             []int
	permEpoch        int
	cuts             []int
	cutsEpoch        int
	rowStart         []int
}

// Prepare plans the run: it marks what is trainable, sizes batches to the
// longest example and builds the optimizer. The adapter (if any) must be
// attached to the model already.
func (r *Run) Prepare() error {
	o := &r.Config
	if err := o.Validate(); err != nil {
		return err
	}
	if len(r.Train) == 0 && !o.Preference() {
		return fmt.Errorf("train: no training examples")
	}
	if r.Full {
		if r.Adapter != nil {
			return fmt.Errorf("train: Full trains the model's own weights; detach the adapter (Adapter must be nil)")
		}
		r.Model.SetTrainable(func(string) bool { return true })
		r.params = r.Model.Params()
	} else {
		if r.Adapter == nil {
			return fmt.Errorf("train: no adapter to train (attach one, or set Full)")
		}
		r.Model.SetTrainable(func(string) bool { return false })
		r.Adapter.SetTrainable(true)
		r.params = r.Adapter.Params()
	}
	r.T = max(RowLen(o.Packing, r.PackLen, r.Train, r.Valid), PairsPaddedLen(r.Pairs, r.ValidPairs))
	if err := r.preparePreference(); err != nil {
		return err
	}
	r.pos = nil
	if o.Packing {
		r.pos = make([]int, o.BatchSize*r.T)
	}
	r.perm, r.permEpoch = nil, -1
	r.cuts, r.cutsEpoch, r.rowStart = nil, -1, []int{0}
	perStep := o.BatchSize * o.GradAccum
	r.total = o.Steps
	if r.total == 0 {
		r.total = int(math.Ceil(float64(r.rowsIn(o.Epochs)) / float64(perStep)))
		r.total = max(r.total, 1)
	}
	rows := o.BatchSize
	if o.Preference() {
		rows *= 2
	}
	if r.Checkpointing() {
		r.state = r.Model.NewCheckpointedState(rows, r.T)
	} else {
		r.state = r.Model.NewState(rows, r.T, true)
	}
	r.grads = make([][]float32, len(r.params))
	r.vals = make([][]float32, len(r.params))
	for i, p := range r.params {
		r.vals[i], r.grads[i] = p.W.F32, p.Grad
	}
	r.ids, r.labels = make([]int, rows*r.T), make([]int, rows*r.T)
	r.exs, r.ends = make([]data.Example, 0, rows), make([]int, 0, rows)
	r.done = 0
	r.opt = optim.NewAdamW(r.vals, o.Beta1, o.Beta2, o.Eps, o.WeightDecay)
	return r.opt.Validate()
}

// RowLen is the length of a run's rows: PaddedLen of sets, and packed at
// least packLen.
func RowLen(packed bool, packLen int, sets ...[]data.Example) int {
	T := PaddedLen(sets...)
	if packed {
		T = max(T, packLen)
	}
	return T
}

// PaddedLen is the length a run pads its sequences to: that of the
// longest example in sets, at least 2.
func PaddedLen(sets ...[]data.Example) int {
	T := 2
	for _, set := range sets {
		for _, e := range set {
			T = max(T, len(e.IDs))
		}
	}
	return T
}

// Checkpointing reports whether the run recomputes activations in
// backward (Config.Checkpointing for this run's base).
func (r *Run) Checkpointing() bool {
	return r.Config.Checkpointing(r.Model.Quantized())
}

// TotalSteps is the number of optimizer steps the run makes.
func (r *Run) TotalSteps() int { return r.total }

// StepsDone is the number of optimizer steps made, counting those restored
// from a checkpoint.
func (r *Run) StepsDone() int { return r.done }

// TrainableParams is the number of values the run trains.
func (r *Run) TrainableParams() int {
	n := 0
	for _, p := range r.params {
		n += p.NumElements()
	}
	return n
}

// ParamReport is PEFT's print_trainable_parameters line:
// "trainable params: N || all params: M || trainable%: P".
func (r *Run) ParamReport() string {
	trainable := r.TrainableParams()
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
	n := r.size()
	epoch, i := g/n, g%n
	if !r.Config.Shuffle {
		return i
	}
	if r.permEpoch != epoch || r.perm == nil {
		r.perm = data.Permutation(n, r.Config.Seed^uint64(epoch+1)*0x9e3779b97f4a7c15)
		r.permEpoch = epoch
	}
	return r.perm[i]
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

// ErrStopped is what Fit returns when Run.Stop asked it to end early;
// StepsDone says after which step.
var ErrStopped = errors.New("training stopped")

// ErrNonFinite reports a NaN or infinite loss or gradient.
var ErrNonFinite = errors.New("non-finite loss")

// StepStats describe one optimizer step.
type StepStats struct {
	Loss     float64 // mean over the step's unmasked targets
	LR       float64
	GradNorm float64 // before clipping
	Tokens   int     // real (unpadded) tokens in the step's sequences
	// Accuracy is the fraction of the step's targets whose label is the
	// argmax of the logits (TRL's mean_token_accuracy); in a preference
	// run, of the targets scored (the completions'; ORPO: the chosen
	// prompts' too).
	Accuracy float64
	// Preference holds a DPO or ORPO step's metrics (nil otherwise).
	Preference *runlog.Preference
}

// Step runs optimizer step k (0-based): its GradAccum micro-batches
// through forward, loss and backward, then clipping and AdamW. The batches
// are a pure function of k and the Config, so any step can be replayed.
// A non-finite loss or gradient stops it before the update (ErrNonFinite).
func (r *Run) Step(k int) (StepStats, error) {
	o := &r.Config
	var st StepStats
	lr, err := optim.LR(o.Schedule, o.LR, k, o.Warmup, r.total)
	if err != nil {
		return st, err
	}
	st.LR = lr
	for _, g := range r.grads {
		clear(g)
	}
	if o.Preference() {
		err = r.preferenceStep(k, &st)
	} else {
		err = r.sftStep(k, &st)
	}
	if err != nil {
		return st, err
	}
	st.GradNorm = optim.ClipGradNorm(r.grads, o.MaxGradNorm)
	if math.IsNaN(st.Loss) || math.IsInf(st.Loss, 0) || math.IsNaN(st.GradNorm) || math.IsInf(st.GradNorm, 0) {
		return st, fmt.Errorf("%w at step %d (loss %v, gradient norm %v): stopped without updating",
			ErrNonFinite, k+1, st.Loss, st.GradNorm)
	}
	r.opt.Step(r.vals, r.grads, lr)
	r.done = k + 1
	return st, nil
}

// sftStep runs the micro-batches of step k through forward, the
// causal-LM loss and backward.
func (r *Run) sftStep(k int, st *StepStats) error {
	o := &r.Config
	B, T := o.BatchSize, r.T
	first := k * B * o.GradAccum // the step's first row
	norm := 0
	for j := 0; j < B*o.GradAccum; j++ {
		lo, hi := r.rowDraws(first + j)
		for d := lo; d < hi; d++ {
			norm += targets(r.Train[r.exampleAt(d)])
		}
	}
	var sum float64
	correct := 0
	for micro := 0; micro < o.GradAccum; micro++ {
		r.exs, r.ends = r.exs[:0], r.ends[:0]
		for b := 0; b < B; b++ {
			lo, hi := r.rowDraws(first + micro*B + b)
			for d := lo; d < hi; d++ {
				r.exs = append(r.exs, r.Train[r.exampleAt(d)])
			}
			r.ends = append(r.ends, len(r.exs))
		}
		st.Tokens += fill(r.ids, r.labels, r.pos, r.exs, r.ends, T, r.PadID)
		r.state.Positions = r.pos
		// Each LoRA module drops with its adapter's lora_dropout (0: never).
		r.state.Dropout = true
		r.state.DropoutSeed = o.Seed ^ uint64(k)<<20 ^ uint64(micro)
		if err := r.Model.Forward(r.state, r.ids); err != nil {
			return err
		}
		if norm == 0 {
			continue
		}
		s, _, err := r.Model.Loss(r.state, r.labels, float32(norm))
		if err != nil {
			return err
		}
		sum += s
		correct += r.state.Correct()
		r.Model.Backward(r.state)
	}
	st.Loss = sum / float64(max(norm, 1))
	st.Accuracy = float64(correct) / float64(max(norm, 1))
	return nil
}

// Fit trains from step start (0, or the step LoadCheckpoint returned) to
// the end, evaluating on Valid every EvalEvery steps and after the last,
// and handing each step's metric, and every SaveEvery-th step and the
// last, to the Sink. When Stop returns true after a step that is not the
// last, that step is checkpointed (Sink.Checkpoint) and Fit returns
// ErrStopped. With EarlyStoppingPatience K, an evaluation whose loss is
// not below the best so far counts against it; after K in a row the step
// is the last (EarlyStop says so) and Fit returns nil. A resumed run
// counts from the checkpoint on.
func (r *Run) Fit(start int) error {
	o := &r.Config
	perStep := o.BatchSize * o.GradAccum
	t0 := time.Now()
	best, worse := math.Inf(1), 0
	r.earlyStop = 0
	for k := start; k < r.total; k++ {
		ts := time.Now()
		st, err := r.Step(k)
		if err != nil {
			return err
		}
		elapsed := time.Since(ts).Seconds()
		m := runlog.Metric{Step: k + 1, Epoch: r.epochAt((k + 1) * perStep), Loss: st.Loss, Accuracy: st.Accuracy, LR: st.LR,
			GradNorm: st.GradNorm, Tokens: st.Tokens, TokensPerSec: float64(st.Tokens) / elapsed, ElapsedSec: time.Since(t0).Seconds(),
			Preference: st.Preference}
		last := k+1 == r.total
		if len(r.Valid)+len(r.ValidPairs) > 0 && ((o.EvalEvery > 0 && (k+1)%o.EvalEvery == 0) || last) {
			v, err := r.validLoss()
			if err != nil {
				return err
			}
			m.ValidLoss = &v
			if v < best {
				best, worse = v, 0
			} else if worse++; o.EarlyStoppingPatience > 0 && worse >= o.EarlyStoppingPatience && !last {
				last, r.earlyStop = true, k+1
			}
		}
		stop := !last && r.Stop != nil && r.Stop()
		if r.Sink != nil {
			if err := r.Sink.Step(r, m); err != nil {
				return err
			}
			if o.SaveEvery > 0 && ((k+1)%o.SaveEvery == 0 || last) || stop {
				if err := r.Sink.Checkpoint(r, k+1); err != nil {
					return err
				}
			}
		}
		if stop {
			return ErrStopped
		}
		if r.earlyStop > 0 {
			return nil
		}
	}
	return nil
}

// EarlyStop is the step after which the last Fit stopped early
// (EarlyStoppingPatience), 0 when it did not.
func (r *Run) EarlyStop() int { return r.earlyStop }

// validLoss is the run's loss on its validation set, in its method.
func (r *Run) validLoss() (float64, error) {
	if r.Config.Preference() {
		return r.evaluatePairs(r.ValidPairs)
	}
	return r.Evaluate(r.Valid)
}

// Evaluate returns the mean loss over examples with the run's buffers,
// packed in their order with Config.Packing.
func (r *Run) Evaluate(examples []data.Example) (float64, error) {
	sc, err := score(r.Model, r.state, examples, r.PadID, r.Config.Packing)
	return sc.Loss, err
}

// Evaluate returns the mean causal-LM loss (nats per target token) of m
// over examples, in batches of batch sequences padded with pad.
func Evaluate(m *model.Model, examples []data.Example, batch, pad int) (float64, error) {
	sc, err := Score(m, examples, batch, pad)
	return sc.Loss, err
}

// Scores are a model's results on a data set.
type Scores struct {
	Loss     float64 // mean causal-LM loss, nats per target token (NaN without targets)
	Accuracy float64 // fraction of targets that are the argmax of the logits (NaN without targets)
	Targets  int
}

// Score runs examples through m in batches of batch sequences padded with
// pad, with dropout off, and returns the mean loss and token accuracy.
func Score(m *model.Model, examples []data.Example, batch, pad int) (Scores, error) {
	return score(m, m.NewLossState(batch, PaddedLen(examples)), examples, pad, false)
}

// score runs examples through s with dropout off, one per row or, with
// packed, packed in their order (packRows); an example longer than s.T
// tokens is an error.
func score(m *model.Model, s *model.State, examples []data.Example, pad int, packed bool) (Scores, error) {
	B, T := s.B, s.T
	for i, e := range examples {
		if len(e.IDs) > T {
			return Scores{}, fmt.Errorf("evaluate: example %d has %d tokens, more than the rows' %d", i, len(e.IDs), T)
		}
	}
	ids, labels := make([]int, B*T), make([]int, B*T)
	var pos []int
	rowLen := 1 // one example per row
	if packed {
		pos, rowLen = make([]int, B*T), T
	}
	cuts := packRows(len(examples), rowLen, func(i int) int { return len(examples[i].IDs) })
	ends := make([]int, 0, B)
	s.Dropout, s.Positions = false, pos
	var sum float64
	count, correct := 0, 0
	for r := 0; r+1 < len(cuts); r += B {
		ends = ends[:0]
		for _, c := range cuts[r+1 : min(r+B+1, len(cuts))] {
			ends = append(ends, c-cuts[r])
		}
		fill(ids, labels, pos, examples[cuts[r]:], ends, T, pad)
		if err := m.Forward(s, ids); err != nil {
			return Scores{}, err
		}
		c0, c, err := m.Loss(s, labels, 0)
		if err != nil {
			return Scores{}, err
		}
		sum += c0
		count += c
		correct += s.Correct()
	}
	if count == 0 {
		return Scores{Loss: math.NaN(), Accuracy: math.NaN()}, nil
	}
	return Scores{Loss: sum / float64(count), Accuracy: float64(correct) / float64(count), Targets: count}, nil
}

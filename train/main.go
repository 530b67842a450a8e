package train

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/golora/golora/data"
	"github.com/golora/golora/lora"
	"github.com/golora/golora/model"
	"github.com/golora/golora/quant"
	"github.com/golora/golora/tokenizer"
)

// Execute is `golora train`: it loads the model, its tokenizer and the data
// (every bad line is reported before any training), attaches a new adapter
// or the --init-adapter one, resumes from the newest checkpoint with
// --resume, trains, and writes the final adapter into OUT.
//
// The returned run (also on a training error) holds the loaded model; the
// caller closes it. On an error before training the model is closed here.
func Execute(o Options, log io.Writer) (run *Run, err error) {
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
	if err := quantizeBase(m, o, log); err != nil {
		return nil, err
	}
	enc, err := LoadEncoder(o.Model)
	if err != nil {
		return nil, err
	}
	dopt := data.Options{TrainOnPrompt: o.TrainOnPrompt, MaxSeqLen: o.MaxSeqLen, VocabSize: m.Cfg.VocabSize}
	if tok, ok := enc.(*tokenizer.Tokenizer); ok {
		tmpl, vars, err := tok.Chat()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", o.Model, err)
		}
		dopt.Chat = func(msgs []data.Message) ([]data.Segment, error) { return tmpl.Segments(msgs, vars) }
	}
	trainSet, err := data.LoadFile(o.Data, enc, dopt)
	if err != nil {
		return nil, err
	}
	var validSet []data.Example
	if o.Valid != "" {
		if validSet, err = data.LoadFile(o.Valid, enc, dopt); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, err
	}
	r := &Run{Opt: o, Model: m, Train: trainSet, Valid: validSet, Log: log, PadID: PadID(m, enc)}
	if !o.Full {
		if r.Adapter, err = NewAdapter(m, o); err != nil {
			return nil, err
		}
	}
	if err := r.Prepare(); err != nil {
		return nil, err
	}
	start := 0
	if o.Resume {
		if start, err = LatestCheckpoint(o.Out); err != nil {
			return nil, err
		}
		if start > 0 {
			if err := r.LoadCheckpoint(start); err != nil {
				return nil, err
			}
			fmt.Fprintf(log, "resuming from %s\n", CheckpointDir(o.Out, start))
		} else {
			fmt.Fprintf(log, "no checkpoint in %s: starting from step 0\n", o.Out)
		}
	}
	fmt.Fprintln(log, r.ParamReport())
	fmt.Fprintf(log, "%d training examples, %d validation, %d steps of %d×%d sequences (padded to %d tokens)\n",
		len(trainSet), len(validSet), r.total, o.BatchSize, o.GradAccum, r.T)
	if r.Checkpointing() {
		fmt.Fprintln(log, "gradient checkpointing: each layer's activations are recomputed in backward (--grad-checkpoint=false keeps them)")
	}
	rec, err := NewRecorder(r, o.NormEvery, start)
	if err != nil {
		return nil, err
	}
	r.OnStep = rec.Hook(r.OnStep)
	err = r.Fit(start)
	if err == nil {
		err = r.SaveFinal()
	}
	if ferr := rec.Finish(err); err == nil {
		err = ferr
	}
	if err != nil {
		return r, err
	}
	fmt.Fprintf(log, "saved to %s\n", o.Out)
	return r, nil
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
// (its own adapter_config.json decides rank, alpha and targets), or a
// fresh one from the options.
func NewAdapter(m *model.Model, o Options) (*lora.Adapter, error) {
	if o.InitAdapter != "" {
		return lora.Load(o.InitAdapter, m, "default")
	}
	cfg := &lora.Config{R: o.Rank, Alpha: o.Alpha, Dropout: o.Dropout, RSLoRA: o.RSLoRA,
		Init: o.Init, Layers: o.Layers, BaseModel: o.Model, Bias: "none"}
	cfg.ParseTargets(o.Targets)
	return lora.New(m, "default", cfg, o.Seed)
}

// LoadEncoder loads the model directory's tokenizer; a directory without
// tokenizer.json gets an encoder that refuses text (pre-tokenized
// input_ids data still works).
func LoadEncoder(dir string) (data.Encoder, error) {
	path := filepath.Join(dir, "tokenizer.json")
	if _, err := os.Stat(path); os.IsNotExist(err) {
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

// PadID is the id written into padding positions (never trained on and,
// with right padding and causal attention, never attended to by real
// tokens): EOS when there is one, else 0.
func PadID(m *model.Model, enc data.Encoder) int {
	if e := enc.EOS(); e >= 0 && e < m.Cfg.VocabSize {
		return e
	}
	return 0
}

// Package demo is `golora demo`: the whole of golora on text that ships with
// the Go toolchain, with nothing to download. It pretrains a small Llama
// base model on a mix of prose (Newton's Opticks) and Go code, saves it as a
// real Hugging Face model directory, trains two LoRA "personalities" on it —
// newton on the prose, gopher on the code — and then, on one loaded base,
// swaps the adapters in and out to show what each changed.
package demo

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/golora/golora/data"
	"github.com/golora/golora/finetune"
	"github.com/golora/golora/generate"
	"github.com/golora/golora/internal/human"
	"github.com/golora/golora/lora"
	"github.com/golora/golora/model"
	"github.com/golora/golora/report"
	"github.com/golora/golora/runlog"
	"github.com/golora/golora/tokenizer"
	"github.com/golora/golora/train"
)

// Options sizes the demo. Full is the default of `golora demo`; tests use
// Quick.
type Options struct {
	Out         string
	Vocab       int
	Hidden      int
	Layers      int
	Context     int // tokens per training sequence
	CodeBytes   int // Go source read for the code corpus
	ProseBytes  int // 0: the whole Opticks
	BaseSteps   int
	LoRASteps   int
	Batch       int
	SampleLen   int
	Stdout, Log io.Writer
}

// Full is the configuration `golora demo` runs.
func Full(out string) Options {
	return Options{Out: out, Vocab: 1024, Hidden: 128, Layers: 4, Context: 128, CodeBytes: 600 << 10,
		BaseSteps: 600, LoRASteps: 150, Batch: 16, SampleLen: 60, Stdout: os.Stdout, Log: os.Stderr}
}

// Quick is a seconds-long configuration that exercises every stage.
func Quick(out string) Options {
	return Options{Out: out, Vocab: 300, Hidden: 32, Layers: 2, Context: 32, CodeBytes: 40 << 10, ProseBytes: 40 << 10,
		BaseSteps: 3, LoRASteps: 3, Batch: 2, SampleLen: 8, Stdout: io.Discard, Log: io.Discard}
}

// personality is one adapter the demo trains.
type personality struct {
	name, about string
	text        func(*corpus) []byte
}

var personalities = []personality{
	{"newton", "Newton's Opticks (prose)", func(c *corpus) []byte { return c.prose }},
	{"gopher", "the Go standard library (code)", func(c *corpus) []byte { return c.code }},
}

// Run performs the demo.
func Run(o Options) error {
	start := time.Now()
	out := o.Stdout
	root, err := goroot()
	if err != nil {
		return err
	}
	c, err := loadCorpus(root, o.CodeBytes)
	if err != nil {
		return err
	}
	if o.ProseBytes > 0 && len(c.prose) > o.ProseBytes {
		c.prose = c.prose[:o.ProseBytes]
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return err
	}
	baseDir := filepath.Join(o.Out, "base")
	fmt.Fprintf(out, "golora demo: text from %s (Opticks %d KiB, Go sources %d KiB)\n\n", root, len(c.prose)>>10, len(c.code)>>10)
	if cached(baseDir) {
		fmt.Fprintf(out, "1. base model: cached in %s (delete it to pretrain again)\n", baseDir)
	} else {
		fmt.Fprintf(out, "1. pretraining a base model on both kinds of text → %s\n", baseDir)
		if err := pretrain(o, c, baseDir); err != nil {
			return err
		}
	}
	m, err := model.Load(baseDir)
	if err != nil {
		return err
	}
	defer m.Close()
	tok, err := tokenizer.Load(baseDir)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "   %s: %s, hidden %d, %s (%d KV), vocab %d, %s parameters\n\n",
		m.Cfg.Architecture, human.Plural(m.Cfg.NumLayers, "layer"), m.Cfg.HiddenSize, human.Plural(m.Cfg.NumHeads, "head"),
		m.Cfg.NumKVHeads, m.Cfg.VocabSize, human.Count(m.NumParams()))

	held := map[string][]data.Example{}
	for i, p := range personalities {
		_, trainText, heldText := thirds(p.text(c))
		trainSet, err := chunks(tok, trainText, o.Context)
		if err != nil {
			return err
		}
		if held[p.name], err = chunks(tok, heldText, o.Context); err != nil {
			return err
		}
		fmt.Fprintf(out, "%d. LoRA personality %q on %s → %s\n", i+2, p.name, p.about, filepath.Join(o.Out, p.name))
		if err := trainPersonality(o, m, p.name, trainSet, held[p.name]); err != nil {
			return err
		}
	}

	fmt.Fprintf(out, "%d. one base in memory, adapters swapped in and out\n\n", len(personalities)+2)
	var adapters []*lora.Adapter
	for _, p := range personalities {
		a, err := lora.Load(filepath.Join(o.Out, p.name), m, p.name)
		if err != nil {
			return err
		}
		a.SetEnabled(false)
		adapters = append(adapters, a)
	}
	use := func(name string) {
		for _, a := range adapters {
			a.SetEnabled(a.Name == name)
		}
	}
	names := []string{"base"}
	for _, p := range personalities {
		names = append(names, p.name)
	}
	// Held-out loss: each adapter should win on its own kind of text.
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "held-out loss (nats/token)\t")
	for _, p := range personalities {
		fmt.Fprintf(tw, "%s text\t", p.name)
	}
	fmt.Fprintln(tw)
	for _, n := range names {
		use(n)
		fmt.Fprintf(tw, "%s\t", n)
		for _, p := range personalities {
			l, err := evalLoss(m, held[p.name], o.Batch)
			if err != nil {
				return err
			}
			fmt.Fprintf(tw, "%.3f\t", l)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	fmt.Fprintln(out)

	for _, prompt := range []string{"The ", "func "} {
		ids, err := tok.Encode(prompt, false)
		if err != nil {
			return err
		}
		for _, n := range names {
			use(n)
			gen, err := generate.Generate(m, ids, o.Context, generate.Options{MaxTokens: o.SampleLen, Temperature: 0.8, TopK: 40, Seed: 7, Stop: []int{tok.EOS()}}, nil)
			if err != nil {
				return err
			}
			text, err := tok.Decode(append(append([]int(nil), ids...), gen...), true)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "[%s] %s\n", n, oneLine(text))
		}
		fmt.Fprintln(out)
	}

	baseBytes := fileSize(filepath.Join(baseDir, "model.safetensors"))
	for _, p := range personalities {
		ab := fileSize(filepath.Join(o.Out, p.name, lora.WeightsFile))
		fmt.Fprintf(out, "adapter %-7s %9s on disk vs base %s: %.1f%% of the base\n", p.name, human.Bytes(ab), human.Bytes(baseBytes), 100*float64(ab)/float64(baseBytes))
	}
	fmt.Fprintf(out, "\ndone in %s. Try:\n  golora logits --model %s --adapter %s --ids 1,2,3\n  golora merge --model %s --adapter %s --out %s\n",
		time.Since(start).Round(time.Second), baseDir, filepath.Join(o.Out, "newton"), baseDir, filepath.Join(o.Out, "newton"), filepath.Join(o.Out, "newton-merged"))
	fmt.Fprintf(out, "  %s\n  (then chat with the base and both personalities at http://127.0.0.1:8080/)\n", serveCommand(o.Out))
	return nil
}

// serveCommand is the golora serve command line that serves the base
// model in out and every personality's adapter on it.
func serveCommand(out string) string {
	cmd := "golora serve --model " + filepath.Join(out, "base")
	for _, p := range personalities {
		cmd += fmt.Sprintf(" --adapter %s=%s", p.name, filepath.Join(out, p.name))
	}
	return cmd
}

// cached reports whether dir holds a complete base model from an earlier run.
func cached(dir string) bool {
	for _, f := range []string{"config.json", "model.safetensors", "tokenizer.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return false
		}
	}
	return true
}

// pretrain learns the tokenizer and trains every weight of a fresh model
// on the first part of the prose and of the code together, then saves both
// into dir.
func pretrain(o Options, c *corpus, dir string) error {
	proseTrain, _, _ := thirds(c.prose)
	codeTrain, _, _ := thirds(c.code)
	mixed := append(append([]byte{}, proseTrain...), codeTrain...)
	t0 := time.Now()
	tok, err := tokenizer.TrainByteLevel(mixed, o.Vocab, []string{"<|endoftext|>"})
	if err != nil {
		return err
	}
	fmt.Fprintf(o.Stdout, "   byte-level BPE tokenizer, %d tokens, learned in %s\n", tok.VocabSize(), time.Since(t0).Round(time.Millisecond))
	var examples []data.Example
	for _, text := range [][]byte{proseTrain, codeTrain} {
		ex, err := chunks(tok, text, o.Context)
		if err != nil {
			return err
		}
		examples = append(examples, ex...)
	}
	cfg, err := baseConfig(o, tok)
	if err != nil {
		return err
	}
	m := model.NewRandom(cfg, 0.02, 1)
	tmp := dir + ".tmp"
	os.RemoveAll(tmp)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	tc := train.Defaults()
	tc.Steps, tc.BatchSize, tc.LR, tc.Schedule, tc.Warmup = o.BaseSteps, o.Batch, 3e-3, "cosine", max(1, o.BaseSteps/20)
	tc.WeightDecay = 0.01
	r := &train.Run{Config: tc, Model: m, Full: true, Train: examples, PadID: tok.EOS()}
	if err := r.Prepare(); err != nil {
		return err
	}
	fmt.Fprintf(o.Stdout, "   %s of %s, %s of %d, every weight trainable\n",
		human.Plural(len(examples), "sequence"), human.Plural(o.Context, "token"), human.Plural(o.BaseSteps, "step"), o.Batch)
	progress := finetune.NewProgress(o.Log, r.TotalSteps(), 0)
	r.Sink = progress
	err = r.Fit(0)
	progress.Done()
	if err != nil {
		return err
	}
	if err := r.SaveWeights(tmp); err != nil {
		return err
	}
	if err := tok.Save(tmp); err != nil {
		return err
	}
	os.RemoveAll(dir)
	return os.Rename(tmp, dir)
}

// baseConfig is a Llama config.json for the demo's base model.
func baseConfig(o Options, tok *tokenizer.Tokenizer) (*model.Config, error) {
	heads := max(2, o.Hidden/32)
	raw := map[string]any{
		"architectures": []string{"LlamaForCausalLM"}, "model_type": "llama",
		"vocab_size": tok.VocabSize(), "hidden_size": o.Hidden, "intermediate_size": 3 * o.Hidden,
		"num_hidden_layers": o.Layers, "num_attention_heads": heads, "num_key_value_heads": heads / 2,
		"max_position_embeddings": o.Context, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
		"tie_word_embeddings": true, "hidden_act": "silu", "torch_dtype": "float32",
		"bos_token_id": tok.EOS(), "eos_token_id": tok.EOS(), "initializer_range": 0.02,
	}
	js, err := json.Marshal(raw)
	if err != nil {
		return nil, err
	}
	return model.ParseConfig(js, "demo config")
}

// chunks tokenizes text and cuts it into training examples of n tokens.
func chunks(tok *tokenizer.Tokenizer, text []byte, n int) ([]data.Example, error) {
	ids, err := tok.Encode(string(text), false)
	if err != nil {
		return nil, err
	}
	var out []data.Example
	for i := 0; i+n <= len(ids); i += n {
		c := ids[i : i+n]
		out = append(out, data.Example{IDs: c, Labels: c})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("demo: text too short for one %d-token sequence", n)
	}
	return out, nil
}

// trainPersonality trains one LoRA adapter on the loaded base and saves it
// as a PEFT directory, then detaches it so the base is clean again.
func trainPersonality(o Options, m *model.Model, name string, trainSet, valid []data.Example) error {
	out := filepath.Join(o.Out, name)
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	lc := &lora.Config{R: 8, Alpha: 16, Init: "default", BaseModel: m.Source, Bias: "none",
		Targets: []string{"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}}
	cfg := train.Defaults()
	cfg.Steps, cfg.BatchSize, cfg.LR, cfg.Schedule, cfg.Warmup = o.LoRASteps, o.Batch, 2e-3, "linear", max(1, o.LoRASteps/10)
	cfg.EvalEvery = max(1, o.LoRASteps/4)
	a, err := lora.New(m, name, lc, cfg.Seed)
	if err != nil {
		return err
	}
	defer a.Detach(m)
	r := &train.Run{Config: cfg, Model: m, Adapter: a, Train: trainSet, Valid: valid, PadID: 0}
	if err := r.Prepare(); err != nil {
		return err
	}
	fmt.Fprintf(o.Stdout, "   %s\n", r.ParamReport())
	before, err := r.Evaluate(valid)
	if err != nil {
		return err
	}
	s := finetune.RunSettings(r)
	s.Model, s.Out, s.MaxSeqLen = m.Source, out, o.Context
	rec, err := finetune.NewRecorder(r, s, 0, o.Log)
	if err != nil {
		return err
	}
	sink := &firstLast{Recorder: rec}
	r.Sink = sink
	err = r.Fit(0)
	if err == nil {
		err = r.SaveWeights(out)
	}
	if ferr := rec.Finish(err); err == nil {
		err = ferr
	}
	if err != nil {
		return err
	}
	first, last := sink.first, sink.last
	reportPath, err := report.Write(out, report.Options{})
	if err != nil {
		return err
	}
	after := before
	if last.ValidLoss != nil {
		after = *last.ValidLoss
	}
	fmt.Fprintf(o.Stdout, "   train loss %.3f → %.3f, held-out loss %.3f → %.3f, %.0f tokens/s\n   report with pictures: %s\n\n",
		first.Loss, last.Loss, before, after, last.TokensPerSec, reportPath)
	return nil
}

// firstLast records a run with a finetune.Recorder and keeps the metrics
// of its first and last steps.
type firstLast struct {
	*finetune.Recorder
	first, last runlog.Metric
}

func (f *firstLast) Step(r *train.Run, m runlog.Metric) error {
	if m.Step == 1 {
		f.first = m
	}
	f.last = m
	return f.Recorder.Step(r, m)
}

// evalLoss is the mean loss over examples with whatever adapters are enabled.
func evalLoss(m *model.Model, ex []data.Example, batch int) (float64, error) {
	return train.Evaluate(m, ex, batch, 0)
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", "⏎")
	return strings.ReplaceAll(s, "\t", "  ")
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"

	"github.com/golora/golora/data"
	"github.com/golora/golora/finetune"
	"github.com/golora/golora/internal/cli"
	"github.com/golora/golora/internal/human"
	"github.com/golora/golora/train"
)

func init() {
	register(&cli.Command{Name: "eval", Summary: "mean loss and perplexity of a model (with adapters) over a jsonl data set", Run: runEval,
		Usage: "eval --model DIR [--adapter DIR[:SCALE]]... --data FILE [flags]",
		Doc: "Computes the mean cross-entropy loss, in nats per target token, and the perplexity of the model with the given adapters " +
			"over a jsonl data set, masking prompts as training does."})
}

// evalResult is what `golora eval --json` prints.
type evalResult struct {
	Model      string   `json:"model"`
	Adapters   []string `json:"adapters"`
	Data       string   `json:"data"`
	Examples   int      `json:"examples"`
	Tokens     int      `json:"tokens"` // predicted (unmasked) target tokens
	Loss       float64  `json:"loss"`   // mean cross-entropy, nats per target token
	Perplexity float64  `json:"perplexity"`
	// Accuracy is the fraction of target tokens that are the argmax of
	// the logits.
	Accuracy float64 `json:"mean_token_accuracy"`
}

func runEval(fs *cli.FlagSet, args []string, stdout, stderr io.Writer) error {
	fs.Group("Model")
	dir := fs.String("model", "", "Hugging Face model `DIR`")
	var adapters adapterFlags
	fs.Var(&adapters, "adapter", "PEFT adapter `DIR[:SCALE]` to apply (repeatable)")
	fs.Group("Data")
	path := fs.String("data", "", "jsonl `FILE` (text, prompt/completion, messages or input_ids lines, as for training)")
	d := finetune.Defaults()
	maxLen := fs.Int("max-seq-len", d.MaxSeqLen, "truncate examples to this many tokens")
	onPrompt := fs.Bool("train-on-prompt", false, "also score prompt tokens (as --train-on-prompt trains them)")
	var thinking *bool
	fs.OptBoolVar(&thinking, "enable-thinking", "set the chat template's enable_thinking for messages lines, as training did (default: the template's)")
	fs.Group("Performance")
	batch := fs.Int("batch-size", d.BatchSize, "sequences per forward pass")
	fs.Group("Output")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cli.Usagef("unexpected argument %q", fs.Arg(0))
	}
	if *dir == "" || *path == "" {
		return fmt.Errorf("--model and --data are required")
	}
	if *batch <= 0 || *maxLen < 2 {
		return fmt.Errorf("--batch-size must be positive and --max-seq-len at least 2")
	}
	m, err := loadWithAdapters(*dir, adapters)
	if err != nil {
		return err
	}
	defer m.Close()
	enc, err := finetune.LoadEncoder(*dir)
	if err != nil {
		return err
	}
	exs, st, err := finetune.LoadData(*dir, enc, *path, data.Options{TrainOnPrompt: *onPrompt, MaxSeqLen: *maxLen, VocabSize: m.Cfg.VocabSize}, thinking)
	if err != nil {
		return err
	}
	if w := st.Warning(*path); w != "" {
		fmt.Fprintln(stderr, "warning: "+w)
	}
	res := evalResult{Model: *dir, Adapters: append([]string{}, adapters...), Data: *path, Examples: len(exs)}
	for _, e := range exs {
		for _, l := range e.Labels[1:] {
			if l != data.IgnoreIndex {
				res.Tokens++
			}
		}
	}
	if res.Tokens == 0 {
		return fmt.Errorf("%s: no target tokens to score (every label is masked)", *path)
	}
	sc, err := train.Score(m, exs, *batch, data.PadID(enc, m.Cfg.VocabSize))
	if err != nil {
		return err
	}
	res.Loss, res.Accuracy = sc.Loss, sc.Accuracy
	res.Perplexity = math.Exp(res.Loss)
	if *asJSON {
		js, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			return fmt.Errorf("loss %v: %w", res.Loss, err)
		}
		_, err = fmt.Fprintf(stdout, "%s\n", js)
		return err
	}
	_, err = fmt.Fprintf(stdout, "loss %.4f nats/token, perplexity %.4g, mean token accuracy %.4f over %s in %s of %s\n",
		res.Loss, res.Perplexity, res.Accuracy, human.Plural(res.Tokens, "target token"), human.Plural(res.Examples, "example"), *path)
	return err
}

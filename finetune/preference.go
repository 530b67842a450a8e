package finetune

import (
	"fmt"

	"github.com/golora/golora/data"
	"github.com/golora/golora/internal/human"
	"github.com/golora/golora/tokenizer"
	"github.com/golora/golora/train"
)

// dataSets are a run's training and validation data: examples, or with
// --method dpo or orpo preference pairs.
type dataSets struct {
	train, valid           []data.Example
	pairs, validPairs      []data.Pair
	trainStats, validStats data.Stats
}

// loadSets reads --data and --valid as the run's method wants them: with
// LoadData, or with LoadPairs for a preference method. A file of the other
// kind gets an error saying which --method it is for.
func loadSets(o Options, enc data.Encoder, dopt data.Options) (dataSets, error) {
	var d dataSets
	var err error
	if !o.Preference() {
		if d.train, d.trainStats, err = LoadData(o.Model, enc, o.Data, dopt, o.EnableThinking); err != nil {
			return d, err
		}
		if o.Valid != "" {
			if d.valid, d.validStats, err = LoadData(o.Model, enc, o.Valid, dopt, o.EnableThinking); err != nil {
				return d, err
			}
		}
		return d, nil
	}
	if d.pairs, d.trainStats, err = LoadPairs(o.Model, enc, o.Data, dopt); err != nil {
		return d, fmt.Errorf("%w (--method %s trains on {\"prompt\", \"chosen\", \"rejected\"} lines)", err, o.Method)
	}
	if o.Valid != "" {
		if d.validPairs, d.validStats, err = LoadPairs(o.Model, enc, o.Valid, dopt); err != nil {
			return d, fmt.Errorf("%w (--method %s validates on {\"prompt\", \"chosen\", \"rejected\"} lines)", err, o.Method)
		}
	}
	return d, nil
}

// pairHint adds to err, an error reading path as examples, that the file
// holds preference pairs when it parses as such.
func pairHint(err error, path string) error {
	if _, _, perr := data.LoadPairs(path, byteText{}, data.Options{}, nil); perr == nil {
		return fmt.Errorf("%w: %s holds preference pairs: golora train --method dpo or orpo trains on them", err, path)
	}
	return err
}

// byteText encodes a text as one id per byte: enough to check the
// structure of a data file.
type byteText struct{}

func (byteText) Encode(s string, _ bool) ([]int, error) { return make([]int, len(s)), nil }
func (byteText) BOS() int                               { return -1 }
func (byteText) EOS() int                               { return -1 }

// LoadPairs reads a preference jsonl data set (data.LoadPairs) for the
// model in modelDir, tokenized by enc: conversational pairs are rendered
// with the model's chat template (ChatML when it has none), as LoadData
// renders messages.
func LoadPairs(modelDir string, enc data.Encoder, path string, o data.Options) ([]data.Pair, data.Stats, error) {
	var render data.Renderer
	if tok, ok := enc.(*tokenizer.Tokenizer); ok {
		tmpl, vars, err := tok.Chat()
		if err != nil {
			return nil, data.Stats{}, fmt.Errorf("%s: %w", modelDir, err)
		}
		render = func(msgs []data.Message, gen bool) (string, error) {
			v := vars
			v.AddGenerationPrompt = gen
			return tmpl.Render(msgs, v)
		}
	}
	return data.LoadPairs(path, enc, o, render)
}

// rowLen is the length of the run's rows (train.RowLen; a pair's longer side).
func (d dataSets) rowLen(o Options) int {
	return max(train.RowLen(o.Packing, o.MaxSeqLen, d.train, d.valid), train.PairsPaddedLen(d.pairs, d.validPairs))
}

// trainName counts the training items ("3 training examples", "2 pairs").
func (d dataSets) trainName() string {
	if d.pairs != nil {
		return human.Plural(len(d.pairs), "preference pair")
	}
	return human.Plural(len(d.train), "training example")
}

// validCount is the number of validation items.
func (d dataSets) validCount() int { return len(d.valid) + len(d.validPairs) }

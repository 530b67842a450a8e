// Package generate samples continuations from a model: greedy at
// temperature 0, else softmax sampling with temperature, top-k, top-p
// (nucleus) and min-p filtering, after an optional repetition penalty,
// stopping at end-of-sequence tokens.
package generate

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	"github.com/golora/golora/internal/human"
	"github.com/golora/golora/model"
	"github.com/golora/golora/tokenizer"
)

// Options control sampling.
type Options struct {
	MaxTokens   int
	Temperature float64 // 0: greedy (argmax)
	TopK        int     // 0: no limit
	TopP        float64 // 0 or 1: no nucleus filtering
	MinP        float64 // keep tokens with p ≥ MinP·p_max; 0: all
	Seed        uint64
	Stop        []int // token ids that end generation (not emitted)
	// PrefillChunk is the most prompt tokens Generate prefills in one
	// forward pass (0: PrefillChunk), as golora serve's --prefill-chunk:
	// with the same chunks, a greedy answer is token for token the
	// server's for prompts of any length.
	PrefillChunk int
	// RepetitionPenalty θ (Generate and serve; 0 or 1: none) penalises every
	// token of the prompt and the output so far, as transformers'
	// RepetitionPenaltyLogitsProcessor: its logit l becomes l/θ when
	// positive, l·θ when negative (Penalize).
	RepetitionPenalty float64
}

// PrefillChunk is Options.PrefillChunk's default (and golora serve's).
const PrefillChunk = 256

// Generate extends prompt by up to o.MaxTokens tokens, calling emit (when
// not nil) with each new token as it is chosen, and returns the new tokens.
// The prompt is run into a KV cache (prefill) in chunks of at most
// o.PrefillChunk tokens, then each new token costs one position's forward
// pass. The sequence never exceeds maxLen tokens (the context the caller
// allows).
func Generate(m *model.Model, prompt []int, maxLen int, o Options, emit func(id int)) ([]int, error) {
	if len(prompt) == 0 {
		return nil, fmt.Errorf("generate: empty prompt")
	}
	total := Total(len(prompt), o.MaxTokens, maxLen)
	if total <= len(prompt) {
		return nil, fmt.Errorf("generate: the prompt (%s) leaves no room under the %d-token limit", human.Plural(len(prompt), "token"), maxLen)
	}
	cache := m.NewCache(total)
	logits, err := Prefill(m, cache, prompt, o.PrefillChunk)
	if err != nil {
		return nil, err
	}
	V := m.Cfg.VocabSize
	step := m.NewState(1, 1, false)
	rng := NewRNG(o.Seed)
	probs := make([]float64, V)
	order := make([]int, V)
	pen := NewPenalty(o.RepetitionPenalty, V, prompt)
	var out []int
	for n := len(prompt); n < total; n++ {
		pen.Apply(logits)
		next := Pick(logits, o, rng, probs, order)
		pen.Note(next)
		if stops(next, o.Stop) {
			break
		}
		out = append(out, next)
		if emit != nil {
			emit(next)
		}
		if n+1 == total {
			break
		}
		if err := m.Decode(step, cache, []int{next}); err != nil {
			return out, err
		}
		logits = step.Logits
	}
	return out, nil
}

// Prefill runs prompt into cache in chunks of at most chunk tokens (0:
// PrefillChunk), each through a prefill state (model.NewPrefillState),
// and returns the next-token logits after the prompt's last token.
func Prefill(m *model.Model, cache *model.Cache, prompt []int, chunk int) ([]float32, error) {
	if len(prompt) == 0 {
		return nil, fmt.Errorf("generate: empty prompt")
	}
	if chunk <= 0 {
		chunk = PrefillChunk
	}
	var st, full *model.State
	for at := 0; at < len(prompt); at += chunk {
		ids := prompt[at:min(at+chunk, len(prompt))]
		switch {
		case len(ids) < chunk:
			st = m.NewPrefillState(len(ids))
		case full == nil:
			full = m.NewPrefillState(chunk)
			st = full
		default:
			st = full
		}
		if err := m.Decode(st, cache, ids); err != nil {
			return nil, err
		}
	}
	return st.Logits[len(st.Logits)-m.Cfg.VocabSize:], nil
}

// Total is the most tokens a sequence grows to from a prompt of prompt
// tokens: prompt + maxTokens, at most maxLen (the KV cache's size).
func Total(prompt, maxTokens, maxLen int) int { return min(prompt+maxTokens, maxLen) }

// NewRNG is the random source sampling with seed uses: the same seed
// draws the same tokens from the same logits.
func NewRNG(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0xda3e39cb94b95bdb)) }

// StopIDs are the tokens that end generation: the tokenizer's EOS and the
// config's eos_token_id(s).
func StopIDs(m *model.Model, tok *tokenizer.Tokenizer) []int {
	stop := append([]int(nil), m.Cfg.EOS...)
	if e := tok.EOS(); e >= 0 {
		stop = append(stop, e)
	}
	return stop
}

// Penalty is the repetition penalty of one sequence: the tokens of its
// prompt and output so far, each once. A nil *Penalty (no penalty) does
// nothing.
type Penalty struct {
	theta float64
	seen  []bool // (V)
	uniq  []int
}

// NewPenalty returns the penalty θ for a vocabulary of v tokens, with
// the prompt's tokens noted, or nil when θ is 0 or 1 (none).
func NewPenalty(theta float64, v int, prompt []int) *Penalty {
	if theta <= 0 || theta == 1 {
		return nil
	}
	p := &Penalty{theta: theta, seen: make([]bool, v)}
	for _, id := range prompt {
		p.Note(id)
	}
	return p
}

// Note adds token id to the sequence.
func (p *Penalty) Note(id int) {
	if p != nil && id >= 0 && id < len(p.seen) && !p.seen[id] {
		p.seen[id] = true
		p.uniq = append(p.uniq, id)
	}
}

// Apply penalises the logits of the sequence's tokens (Penalize).
func (p *Penalty) Apply(logits []float32) {
	if p != nil {
		Penalize(logits, p.uniq, p.theta)
	}
}

// Penalize applies transformers' RepetitionPenaltyLogitsProcessor with
// penalty θ to the logits of the tokens ids (each listed once): l/θ where
// l > 0, l·θ where l < 0.
func Penalize(logits []float32, ids []int, penalty float64) {
	for _, id := range ids {
		if l := logits[id]; l > 0 {
			logits[id] = float32(float64(l) / penalty)
		} else {
			logits[id] = float32(float64(l) * penalty)
		}
	}
}

func stops(id int, stop []int) bool {
	for _, s := range stop {
		if id == s {
			return true
		}
	}
	return false
}

// Pick chooses the next token from one row of logits. probs and order are
// scratch of the vocabulary's size. Sampling draws from p_i ∝
// exp((logit_i − max)/T) restricted to the tokens with p_i ≥ MinP·p_max,
// then to the TopK most likely, then to the smallest most-likely set
// holding TopP of what is left.
func Pick(logits []float32, o Options, rng *rand.Rand, probs []float64, order []int) int {
	if o.Temperature <= 0 {
		best := 0
		for i, v := range logits {
			if v > logits[best] {
				best = i
			}
		}
		return best
	}
	n, z := weights(logits, o, probs, order)
	u := rng.Float64() * z
	last := order[0]
	for _, id := range order[:n] {
		if probs[id] == 0 { // filtered out by MinP
			continue
		}
		last = id
		u -= probs[id]
		if u <= 0 {
			return id
		}
	}
	return last
}

// weights leaves in probs the unnormalised probabilities Pick samples
// from at a temperature > 0 and returns the candidates, order[:n] (0 in
// probs where MinP filtered them), and the sum z of their probabilities.
func weights(logits []float32, o Options, probs []float64, order []int) (n int, z float64) {
	mx := math.Inf(-1)
	for _, v := range logits {
		mx = math.Max(mx, float64(v))
	}
	for i, v := range logits {
		probs[i] = math.Exp((float64(v) - mx) / o.Temperature)
		if probs[i] < o.MinP { // p_max is exp(0) = 1 before normalisation
			probs[i] = 0
		}
		z += probs[i]
		order[i] = i
	}
	n = len(logits)
	if (o.TopK > 0 && o.TopK < n) || (o.TopP > 0 && o.TopP < 1) {
		sort.Slice(order, func(a, b int) bool { return probs[order[a]] > probs[order[b]] })
		if o.TopK > 0 && o.TopK < n {
			n = o.TopK
		}
		if o.TopP > 0 && o.TopP < 1 {
			var cum float64
			for i := 0; i < n; i++ {
				cum += probs[order[i]] / z
				if cum >= o.TopP {
					n = i + 1
					break
				}
			}
		}
		z = 0
		for _, id := range order[:n] {
			z += probs[id]
		}
	}
	return n, z
}

package data

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/golora/golora/chat"
)

// Pair is one preference example (TRL's DPO and ORPO data): the same
// prompt followed by the chosen and by the rejected completion, the
// prompt's positions masked in both.
type Pair struct {
	Chosen, Rejected Example
}

// Renderer renders a conversation to text with a chat template; with
// generationPrompt the assistant header that starts the next turn is
// appended (transformers' add_generation_prompt).
type Renderer func(msgs []Message, generationPrompt bool) (string, error)

// pairKeys are the keys of a preference line.
var pairKeys = []string{"prompt", "chosen", "rejected"}

// LoadPairs reads a preference jsonl file with ParsePairs, naming errors
// after path.
func LoadPairs(path string, enc Encoder, opt Options, render Renderer) ([]Pair, Stats, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, Stats{}, fmt.Errorf("data: %w", err)
	}
	defer f.Close()
	return ParsePairs(f, path, enc, opt, render)
}

// ParsePairs reads preference pairs, one JSON object per non-blank line,
// in TRL's two forms:
//
//	{"prompt": "...", "chosen": "...", "rejected": "..."}
//	    each side is Encode(prompt, true) ++ Encode(completion, false) ++
//	    EOS (if the tokenizer has one and it is not already last), as the
//	    prompt/completion format.
//	{"prompt": [messages], "chosen": [messages], "rejected": [messages]}
//	    the prompt is rendered with the generation prompt (P), the prompt
//	    with the completion's messages (the assistant turn) after it (F),
//	    F must start with P, and each side is Encode(F, false), its first
//	    len(Encode(P, false)) tokens the prompt, as TRL splits them: the
//	    end-of-turn and EOS tokens are the template's. render nil renders
//	    ChatML.
//
// Only the completion's positions are trained (Options.TrainOnPrompt is
// not used); MaxSeqLen cuts each side as Options.Truncation says, and a
// pair one of whose sides is dropped is left out. Keys other than the
// three are ignored (counted in Stats), or refused with Options.Strict.
// Errors name the file, the line and the key.
func ParsePairs(r io.Reader, name string, enc Encoder, opt Options, render Renderer) ([]Pair, Stats, error) {
	var st Stats
	if opt.MaxSeqLen < 0 {
		return nil, st, fmt.Errorf("data: %s: negative MaxSeqLen %d", name, opt.MaxSeqLen)
	}
	if err := CheckTruncation(opt.Truncation); err != nil {
		return nil, st, fmt.Errorf("data: %s: %w", name, err)
	}
	if render == nil {
		render = func(msgs []Message, gen bool) (string, error) {
			return chat.ChatML().Render(msgs, chat.Vars{AddGenerationPrompt: gen})
		}
	}
	opt.TrainOnPrompt = false
	out, err := parseLines(r, name, &st, func(line []byte) (Pair, lineInfo, error) {
		return parsePair(line, enc, opt, render)
	})
	if err != nil {
		return nil, st, err
	}
	if len(out) == 0 {
		return nil, st, fmt.Errorf("%s: no preference pairs", name)
	}
	return out, st, nil
}

// parsePair makes the pair of one line.
func parsePair(line []byte, enc Encoder, opt Options, render Renderer) (Pair, lineInfo, error) {
	var obj map[string]json.RawMessage
	var l lineInfo
	if err := json.Unmarshal(line, &obj); err != nil || obj == nil {
		return Pair{}, l, errors.New("want a JSON object with prompt, chosen and rejected")
	}
	var unknown []string
	for k := range obj {
		if !strings.Contains(" prompt chosen rejected ", " "+k+" ") {
			unknown = append(unknown, strconv.Quote(k))
		}
	}
	sort.Strings(unknown)
	if opt.Strict && len(unknown) > 0 {
		return Pair{}, l, fmt.Errorf("unknown key %s (want prompt, chosen and rejected)", strings.Join(unknown, ", "))
	}
	for _, k := range pairKeys {
		if _, ok := obj[k]; !ok {
			return Pair{}, l, fmt.Errorf("preference format without %q", k)
		}
	}
	conversational := jsonType(obj["prompt"]) == "an array"
	var prompt []int
	var promptMsgs []Message
	var promptText string
	if conversational {
		var err error
		if promptMsgs, err = messages(obj["prompt"], "prompt"); err != nil {
			return Pair{}, l, err
		}
		if promptText, err = render(promptMsgs, true); err != nil {
			return Pair{}, l, fmt.Errorf("prompt: chat template: %w", err)
		}
		if prompt, err = enc.Encode(promptText, false); err != nil {
			return Pair{}, l, fmt.Errorf("encode prompt: %w", err)
		}
	} else {
		text, err := str(obj["prompt"], "prompt")
		if err != nil {
			return Pair{}, l, fmt.Errorf("%w or a list of messages", err)
		}
		if prompt, err = enc.Encode(text, true); err != nil {
			return Pair{}, l, fmt.Errorf("encode prompt: %w", err)
		}
	}
	var sides [2]Example
	for i, k := range pairKeys[1:] {
		var ids []int
		if conversational {
			msgs, err := messages(obj[k], k)
			if err != nil {
				return Pair{}, l, err
			}
			full, err := render(append(append([]Message(nil), promptMsgs...), msgs...), false)
			if err != nil {
				return Pair{}, l, fmt.Errorf("%s: chat template: %w", k, err)
			}
			if !strings.HasPrefix(full, promptText) {
				return Pair{}, l, fmt.Errorf("%s: the chat template renders the prompt with the %s turn without the prompt rendered alone before it", k, k)
			}
			if ids, err = enc.Encode(full, false); err != nil {
				return Pair{}, l, fmt.Errorf("encode %s: %w", k, err)
			}
			if len(ids) <= len(prompt) {
				return Pair{}, l, fmt.Errorf("%s: no tokens after the prompt's", k)
			}
		} else {
			text, err := str(obj[k], k)
			if err != nil {
				return Pair{}, l, fmt.Errorf("%w (as the prompt)", err)
			}
			if text == "" {
				return Pair{}, l, fmt.Errorf("%s is empty", k)
			}
			c, err := enc.Encode(text, false)
			if err != nil {
				return Pair{}, l, fmt.Errorf("encode %s: %w", k, err)
			}
			ids = withEOS(append(append(make([]int, 0, len(prompt)+len(c)+1), prompt...), c...), enc)
		}
		labels := append([]int(nil), ids...)
		for j := range prompt {
			labels[j] = IgnoreIndex
		}
		ex, truncated, dropped, err := finish(Example{IDs: ids, Labels: labels}, opt)
		if err != nil {
			return Pair{}, l, fmt.Errorf("%s: %w", k, err)
		}
		l.truncated = l.truncated || truncated
		l.dropped = l.dropped || dropped
		sides[i] = ex
	}
	l.ignored = unknown
	return Pair{Chosen: sides[0], Rejected: sides[1]}, l, nil
}

// messages decodes a list of {"role", "content"} messages under key.
func messages(raw json.RawMessage, key string) ([]Message, error) {
	var list []struct {
		Role    *string `json:"role"`
		Content *string `json:"content"`
	}
	if jsonType(raw) != "an array" || json.Unmarshal(raw, &list) != nil {
		return nil, fmt.Errorf("%s: want a list of {\"role\", \"content\"} messages (strings), got %s", key, jsonType(raw))
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("%s is empty", key)
	}
	msgs := make([]Message, len(list))
	for i, m := range list {
		switch {
		case m.Role == nil || m.Content == nil:
			return nil, fmt.Errorf("%s[%d]: want role and content", key, i)
		case !roles[*m.Role]:
			return nil, fmt.Errorf("%s[%d]: unknown role %q (want system, user or assistant)", key, i, *m.Role)
		}
		msgs[i] = Message{Role: *m.Role, Content: *m.Content}
	}
	return msgs, nil
}

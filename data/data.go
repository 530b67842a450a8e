// Package data turns a jsonl training file into token sequences with loss
// masks, and draws the reproducible shuffled order they are trained in.
//
// Each non-empty line of the file is one JSON object in one of four formats
// (blank lines are skipped; keys of two formats are an error):
//
//	{"text": "..."}
//	    Encode(text, addSpecial=true), then EOS appended if the tokenizer has
//	    one and it is not already last. Every position is trained.
//	{"prompt": "...", "completion": "..."}
//	    Encode(prompt, true) ++ Encode(completion, false) ++ EOS (as above).
//	    The prompt's positions are masked unless Options.TrainOnPrompt.
//	    The prompt may be empty, the completion may not.
//	{"messages": [{"role": "system"|"user"|"assistant"|"tool", "content": "..."}, ...],
//	 "tools": [{...}, ...]}
//	    An assistant message may also have "reasoning_content" (a string) and
//	    "tool_calls" (OpenAI's [{"type": "function", "id": "...", "function":
//	    {"name": "...", "arguments": {...} or "{...}"}}], type and id
//	    optional; content may then be missing or null); a tool message
//	    "tool_call_id" and "name". "tools" (optional, an array of objects)
//	    is handed to Options.Chat with the messages.
//	    Rendered to segments by Options.Chat, or by the ChatML fallback below;
//	    segments marked Train are trained, the rest masked unless
//	    TrainOnPrompt. Adjacent segments with the same mark are joined and
//	    each run is encoded with addSpecial=false: a template writes its own
//	    special tokens, as transformers' apply_chat_template does.
//	{"input_ids": [...], "labels": [...]}
//	    Used exactly as given, no special tokens added. labels is optional
//	    (default: equal to input_ids); it must have the same length, and
//	    -100 marks a masked position.
//
// The ChatML fallback (chat.ChatML), for models without a chat template,
// renders every message as
//
//	<|im_start|>{role}\n{content}<|im_end|>\n
//
// and trains, for assistant messages only, "{content}<|im_end|>"; the
// "<|im_start|>assistant\n" header and the final "\n" stay masked. Nothing
// (no BOS, no EOS) is added around the rendered conversation.
//
// An Example's Labels has the length of its IDs: Labels[t] = IDs[t] where
// position t is trained and IgnoreIndex where it is masked. As in Hugging
// Face, the shift happens in the loss: the logits at position t are scored
// against Labels[t+1], so Labels[0] never counts, and an example must keep
// a trained label at some t ≥ 1 after truncation to MaxSeqLen.
//
// Other keys (an "id", a "source", "metadata") are ignored and counted in
// Stats, or refused with Options.Strict. A key within edit distance 2 of a
// key of the line's format, or of any format when the line has no complete
// one ("promt"), is refused as a likely misspelling.
//
// An example longer than MaxSeqLen is cut as Options.Truncation says:
// "right" (or "") keeps its first MaxSeqLen tokens, "left" its last (the
// end of the conversation or the completion, as TRL truncates prompts from
// the left), "drop" leaves it out of the data set.
//
// Errors name the file and line and what is wrong, and the whole file is
// checked before any example is returned.
package data

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/golora/golora/chat"
	"github.com/golora/golora/internal/suggest"
)

// IgnoreIndex is the label of a position the loss skips (PyTorch's
// CrossEntropyLoss ignore_index, Hugging Face's -100).
const IgnoreIndex = -100

// Encoder is the part of a tokenizer data needs. Encode with addSpecial adds
// what the tokenizer adds around a text (e.g. BOS); BOS and EOS return -1
// when the tokenizer has no such token.
type Encoder interface {
	Encode(text string, addSpecial bool) ([]int, error)
	BOS() int
	EOS() int
}

// Message is one turn of a conversation.
type Message = chat.Message

// Segment is a piece of rendered conversation and whether its tokens are
// trained (when Options.TrainOnPrompt is false).
type Segment = chat.Segment

// Example is one training sequence: IDs (T) and Labels (T), Labels[t] being
// IDs[t] (or a label given in the file) where trained, IgnoreIndex where
// masked.
type Example struct {
	IDs    []int
	Labels []int
}

// Options control how lines become examples.
type Options struct {
	// TrainOnPrompt trains every position, not only completions and
	// assistant turns.
	TrainOnPrompt bool
	// MaxSeqLen truncates longer examples as Truncation says; 0 means no
	// limit.
	MaxSeqLen int
	// Truncation is how an example longer than MaxSeqLen is cut:
	// TruncateRight ("" too), TruncateLeft or TruncateDrop.
	Truncation string
	// Strict refuses keys that no format uses instead of ignoring them.
	Strict bool
	// VocabSize, when > 0, makes any id or label ≥ VocabSize an error.
	VocabSize int
	// Chat renders a conversation, with the tools its line lists (nil
	// when none), to segments (the model's chat template); nil uses
	// ChatML, which renders neither tools nor tool calls.
	Chat func(msgs []Message, tools []json.RawMessage) (segments []Segment, err error)
}

// The values of Options.Truncation.
const (
	TruncateRight = "right"
	TruncateLeft  = "left"
	TruncateDrop  = "drop"
)

// CheckTruncation returns an error unless t is a value of
// Options.Truncation.
func CheckTruncation(t string) error {
	switch t {
	case "", TruncateRight, TruncateLeft, TruncateDrop:
		return nil
	}
	return fmt.Errorf("unknown truncation %q (want right, left or drop)", t)
}

// Stats count what Parse did to a file besides reading its examples.
type Stats struct {
	// IgnoredKeys are the keys no format uses (sorted, quoted), found on
	// IgnoredLines lines.
	IgnoredKeys  []string
	IgnoredLines int
	// Truncated examples were cut to MaxSeqLen; Dropped ones left out.
	Truncated, Dropped int
}

// Warning is the one line that tells a user about ignored keys, "" when
// there were none.
func (s Stats) Warning(name string) string {
	if s.IgnoredLines == 0 {
		return ""
	}
	return fmt.Sprintf("%s: ignoring key%s %s on %d line%s (--strict-data refuses them)", name,
		plural(len(s.IgnoredKeys)), strings.Join(s.IgnoredKeys, ", "), s.IgnoredLines, plural(s.IgnoredLines))
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// LoadFile reads a jsonl file with Parse, naming errors after path.
func LoadFile(path string, enc Encoder, opt Options) ([]Example, Stats, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, Stats{}, fmt.Errorf("data: %w", err)
	}
	defer f.Close()
	return Parse(f, path, enc, opt)
}

// Parse reads jsonl from r (name is used in errors) and returns one Example
// per non-blank line that is not dropped, with what it ignored and cut, or
// the first error, as "name:line: what is wrong". A file without examples
// is an error.
func Parse(r io.Reader, name string, enc Encoder, opt Options) ([]Example, Stats, error) {
	var st Stats
	if opt.MaxSeqLen < 0 {
		return nil, st, fmt.Errorf("data: %s: negative MaxSeqLen %d", name, opt.MaxSeqLen)
	}
	if err := CheckTruncation(opt.Truncation); err != nil {
		return nil, st, fmt.Errorf("data: %s: %w", name, err)
	}
	out, err := parseLines(r, name, &st, func(line []byte) (Example, lineInfo, error) {
		return parseLine(line, enc, opt)
	})
	if err != nil {
		return nil, st, err
	}
	if len(out) == 0 {
		if st.Dropped > 0 {
			return nil, st, fmt.Errorf("%s: no examples: all %d are longer than MaxSeqLen %d (truncation drop)", name, st.Dropped, opt.MaxSeqLen)
		}
		return nil, st, fmt.Errorf("%s: no examples", name)
	}
	return out, st, nil
}

// lineInfo is what parseLine did to a line besides making its example.
type lineInfo struct {
	ignored            []string // quoted keys no format uses
	truncated, dropped bool
}

// keys each format may use; a line must use keys of exactly one.
var formats = []struct {
	name string
	keys []string
}{
	{"text", []string{"text"}},
	{"prompt/completion", []string{"prompt", "completion"}},
	{"messages", []string{"messages", "tools"}},
	{"input_ids", []string{"input_ids", "labels"}},
}

// optional are the keys a format may leave out.
var optional = map[string]bool{"labels": true, "tools": true}

func parseLine(line []byte, enc Encoder, opt Options) (Example, lineInfo, error) {
	var obj map[string]json.RawMessage
	var l lineInfo
	if err := json.Unmarshal(line, &obj); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return Example{}, l, fmt.Errorf("want a JSON object, got %s", te.Value)
		}
		return Example{}, l, fmt.Errorf("invalid JSON: %v", err)
	}
	if obj == nil {
		return Example{}, l, errors.New("want a JSON object, got null")
	}
	format, ignored, err := detect(obj, opt.Strict)
	if err != nil {
		return Example{}, l, err
	}
	l.ignored = ignored
	var ex Example
	switch format {
	case "text":
		ex, err = fromText(obj, enc)
	case "prompt/completion":
		ex, err = fromPrompt(obj, enc, opt)
	case "messages":
		ex, err = fromMessages(obj, enc, opt)
	case "input_ids":
		ex, err = fromIDs(obj)
	}
	if err != nil {
		return Example{}, l, err
	}
	ex, l.truncated, l.dropped, err = finish(ex, opt)
	return ex, l, err
}

// detect names the line's format and the keys it ignores (quoted, sorted),
// or says which keys are wrong: every unknown key when strict, else one
// that looks like a misspelt key of the format (or of any format when the
// line has no complete one).
func detect(obj map[string]json.RawMessage, strict bool) (string, []string, error) {
	var unknown, found []string
	seen := map[string]bool{}
	for k := range obj {
		f := formatOf(k)
		if f == "" {
			unknown = append(unknown, strconv.Quote(k))
			continue
		}
		if !seen[f] {
			seen[f] = true
			found = append(found, f)
		}
	}
	sort.Strings(unknown)
	sort.Strings(found)
	format, err := "", error(nil)
	switch {
	case len(found) > 1:
		return "", nil, fmt.Errorf("keys of several formats (%s): use one per line", strings.Join(found, ", "))
	case len(found) == 0:
		err = errors.New("no key of a format: want text, prompt+completion, messages or input_ids[+labels]")
	default:
		format = found[0]
		err = missingKey(obj, format)
	}
	for _, q := range unknown {
		k, _ := strconv.Unquote(q)
		for _, f := range formats {
			if err == nil && f.name != format {
				continue
			}
			for _, known := range f.keys {
				if suggest.Distance(k, known) <= 2 {
					return "", nil, fmt.Errorf("unknown key %s (did you mean %q?)", q, known)
				}
			}
		}
	}
	switch {
	case strict && len(unknown) == 1:
		return "", nil, fmt.Errorf("unknown key %s (want text, prompt+completion, messages or input_ids[+labels])", unknown[0])
	case strict && len(unknown) > 1:
		return "", nil, fmt.Errorf("unknown keys %s (want text, prompt+completion, messages or input_ids[+labels])", strings.Join(unknown, ", "))
	}
	if err != nil {
		if len(obj) == 0 {
			err = errors.New("empty object: want text, prompt+completion, messages or input_ids[+labels]")
		}
		return "", nil, err
	}
	return format, unknown, nil
}

// missingKey says which required key of format the line lacks.
func missingKey(obj map[string]json.RawMessage, format string) error {
	for _, f := range formats {
		if f.name != format {
			continue
		}
		for _, k := range f.keys {
			if _, ok := obj[k]; !ok && !optional[k] {
				return fmt.Errorf("%s format without %q", f.name, k)
			}
		}
	}
	return nil
}

func formatOf(key string) string {
	for _, f := range formats {
		for _, k := range f.keys {
			if k == key {
				return f.name
			}
		}
	}
	return ""
}

// jsonType names the JSON type of a raw value for messages.
func jsonType(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

func str(raw json.RawMessage, what string) (string, error) {
	var s string
	if jsonType(raw) != "a string" || json.Unmarshal(raw, &s) != nil {
		return "", fmt.Errorf("%s: want a string, got %s", what, jsonType(raw))
	}
	return s, nil
}

// ints decodes an array of integers without letting null or 1.5 through.
func ints(raw json.RawMessage, what string) ([]int, error) {
	var elems []json.RawMessage
	if jsonType(raw) != "an array" || json.Unmarshal(raw, &elems) != nil {
		return nil, fmt.Errorf("%s: want an array of integers, got %s", what, jsonType(raw))
	}
	out := make([]int, len(elems))
	for i, e := range elems {
		v, err := strconv.ParseInt(string(bytes.TrimSpace(e)), 10, 32)
		if err != nil {
			if jsonType(e) == "a number" {
				return nil, fmt.Errorf("%s[%d] = %s: want an integer in int32 range", what, i, e)
			}
			return nil, fmt.Errorf("%s[%d]: want an integer, got %s", what, i, jsonType(e))
		}
		out[i] = int(v)
	}
	return out, nil
}

// withEOS appends the tokenizer's EOS unless there is none or it is last.
func withEOS(ids []int, enc Encoder) []int {
	if eos := enc.EOS(); eos >= 0 && (len(ids) == 0 || ids[len(ids)-1] != eos) {
		ids = append(ids, eos)
	}
	return ids
}

func fromText(obj map[string]json.RawMessage, enc Encoder) (Example, error) {
	text, err := str(obj["text"], "text")
	if err != nil {
		return Example{}, err
	}
	if text == "" {
		return Example{}, errors.New("text is empty")
	}
	ids, err := enc.Encode(text, true)
	if err != nil {
		return Example{}, fmt.Errorf("encode text: %w", err)
	}
	ids = withEOS(ids, enc)
	return Example{IDs: ids, Labels: append([]int(nil), ids...)}, nil
}

func fromPrompt(obj map[string]json.RawMessage, enc Encoder, opt Options) (Example, error) {
	prompt, err := str(obj["prompt"], "prompt")
	if err != nil {
		return Example{}, err
	}
	completion, err := str(obj["completion"], "completion")
	if err != nil {
		return Example{}, err
	}
	if completion == "" {
		return Example{}, errors.New("completion is empty")
	}
	p, err := enc.Encode(prompt, true)
	if err != nil {
		return Example{}, fmt.Errorf("encode prompt: %w", err)
	}
	c, err := enc.Encode(completion, false)
	if err != nil {
		return Example{}, fmt.Errorf("encode completion: %w", err)
	}
	ids := withEOS(append(append(make([]int, 0, len(p)+len(c)+1), p...), c...), enc)
	labels := append([]int(nil), ids...)
	if !opt.TrainOnPrompt {
		for i := range p {
			labels[i] = IgnoreIndex
		}
	}
	return Example{IDs: ids, Labels: labels}, nil
}

var roles = map[string]bool{"system": true, "user": true, "assistant": true, "tool": true}

// messageKeys are the keys of a message, and the roles that may have each
// (all when nil).
var messageKeys = map[string]map[string]bool{
	"role": nil, "content": nil,
	"reasoning_content": {"assistant": true}, "tool_calls": {"assistant": true},
	"tool_call_id": {"tool": true}, "name": {"tool": true},
}

func fromMessages(obj map[string]json.RawMessage, enc Encoder, opt Options) (Example, error) {
	var raws []json.RawMessage
	if jsonType(obj["messages"]) != "an array" || json.Unmarshal(obj["messages"], &raws) != nil {
		return Example{}, fmt.Errorf("messages: want an array of objects, got %s", jsonType(obj["messages"]))
	}
	if len(raws) == 0 {
		return Example{}, errors.New("messages is empty")
	}
	msgs := make([]Message, len(raws))
	for i, raw := range raws {
		m, err := parseMessage(raw, fmt.Sprintf("messages[%d]", i))
		if err != nil {
			return Example{}, err
		}
		msgs[i] = m
	}
	var tools []json.RawMessage
	if raw, ok := obj["tools"]; ok {
		var err error
		if tools, err = objects(raw, "tools"); err != nil {
			return Example{}, err
		}
	}
	render := opt.Chat
	if render == nil {
		render = chatML
	}
	segs, err := render(msgs, tools)
	if err != nil {
		return Example{}, fmt.Errorf("chat template: %w", err)
	}
	var ids, labels []int
	for i := 0; i < len(segs); {
		train := segs[i].Train || opt.TrainOnPrompt
		var sb strings.Builder
		for ; i < len(segs) && (segs[i].Train || opt.TrainOnPrompt) == train; i++ {
			sb.WriteString(segs[i].Text)
		}
		if sb.Len() == 0 {
			continue
		}
		t, err := enc.Encode(sb.String(), false)
		if err != nil {
			return Example{}, fmt.Errorf("encode messages: %w", err)
		}
		ids = append(ids, t...)
		for _, id := range t {
			if train {
				labels = append(labels, id)
			} else {
				labels = append(labels, IgnoreIndex)
			}
		}
	}
	return Example{IDs: ids, Labels: labels}, nil
}

// parseMessage reads the message what (messages[i]): a role, its content
// (a string; an assistant message with tool_calls may leave it out or
// null), an assistant's reasoning_content and tool_calls (OpenAI's shape,
// checked by toolCall), and a tool message's tool_call_id and name.
func parseMessage(raw json.RawMessage, what string) (Message, error) {
	var m map[string]json.RawMessage
	if jsonType(raw) != "an object" || json.Unmarshal(raw, &m) != nil {
		return Message{}, fmt.Errorf("%s: want an object, got %s", what, jsonType(raw))
	}
	var unknown []string
	for k := range m {
		if _, ok := messageKeys[k]; !ok {
			unknown = append(unknown, strconv.Quote(k))
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return Message{}, fmt.Errorf("%s: unknown key %s (want role, content, reasoning_content, tool_calls, tool_call_id or name)", what, strings.Join(unknown, ", "))
	}
	rawRole, ok := m["role"]
	if !ok {
		return Message{}, fmt.Errorf("%s: missing role", what)
	}
	role, err := str(rawRole, what+".role")
	if err != nil {
		return Message{}, err
	}
	if !roles[role] {
		return Message{}, fmt.Errorf("%s: unknown role %q (want system, user, assistant or tool)", what, role)
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if only := messageKeys[k]; only != nil && !only[role] {
			return Message{}, fmt.Errorf("%s.%s: a %s message has none (only %s)", what, k, role, strings.Join(slices.Sorted(maps.Keys(only)), ", "))
		}
	}
	msg := Message{Role: role}
	if raw, ok := m["tool_calls"]; ok {
		calls, err := objects(raw, what+".tool_calls")
		if err != nil {
			return Message{}, err
		}
		for j, c := range calls {
			if err := toolCall(c, fmt.Sprintf("%s.tool_calls[%d]", what, j)); err != nil {
				return Message{}, err
			}
		}
		msg.ToolCalls = calls
	}
	rawContent, ok := m["content"]
	switch {
	case (!ok || jsonType(rawContent) == "null") && len(msg.ToolCalls) > 0:
	case !ok:
		return Message{}, fmt.Errorf("%s: missing content", what)
	default:
		if msg.Content, err = str(rawContent, what+".content"); err != nil {
			return Message{}, err
		}
	}
	if raw, ok := m["reasoning_content"]; ok {
		rc, err := str(raw, what+".reasoning_content")
		if err != nil {
			return Message{}, err
		}
		msg.ReasoningContent = &rc
	}
	for _, f := range []struct {
		key string
		dst *string
	}{{"tool_call_id", &msg.ToolCallID}, {"name", &msg.Name}} {
		if raw, ok := m[f.key]; ok {
			if *f.dst, err = str(raw, what+"."+f.key); err != nil {
				return Message{}, err
			}
		}
	}
	return msg, nil
}

// objects decodes an array of JSON objects, each kept as written.
func objects(raw json.RawMessage, what string) ([]json.RawMessage, error) {
	var elems []json.RawMessage
	if jsonType(raw) != "an array" || json.Unmarshal(raw, &elems) != nil {
		return nil, fmt.Errorf("%s: want an array of objects, got %s", what, jsonType(raw))
	}
	for i, e := range elems {
		if jsonType(e) != "an object" {
			return nil, fmt.Errorf("%s[%d]: want an object, got %s", what, i, jsonType(e))
		}
	}
	return elems, nil
}

// toolCall checks a tool call (what names it) in OpenAI's shape:
// {"type": "function", "id": "...", "function": {"name": "...",
// "arguments": {...}}}, type and id optional, arguments an object or a
// string holding one.
func toolCall(raw json.RawMessage, what string) error {
	const want = `{"type": "function", "function": {"name", "arguments"}}`
	var c map[string]json.RawMessage
	json.Unmarshal(raw, &c)
	for _, k := range slices.Sorted(maps.Keys(c)) {
		if k != "type" && k != "id" && k != "function" {
			return fmt.Errorf("%s: unknown key %q (want %s)", what, k, want)
		}
	}
	if raw, ok := c["type"]; ok {
		if t, err := str(raw, what+".type"); err != nil || t != "function" {
			return fmt.Errorf("%s.type: want \"function\", got %s", what, raw)
		}
	}
	if raw, ok := c["id"]; ok {
		if _, err := str(raw, what+".id"); err != nil {
			return err
		}
	}
	rawFn, ok := c["function"]
	if !ok {
		return fmt.Errorf("%s: missing function (want %s)", what, want)
	}
	var fn map[string]json.RawMessage
	if jsonType(rawFn) != "an object" || json.Unmarshal(rawFn, &fn) != nil {
		return fmt.Errorf("%s.function: want an object, got %s", what, jsonType(rawFn))
	}
	for _, k := range slices.Sorted(maps.Keys(fn)) {
		if k != "name" && k != "arguments" {
			return fmt.Errorf("%s.function: unknown key %q (want name and arguments)", what, k)
		}
	}
	rawName, ok := fn["name"]
	if !ok {
		return fmt.Errorf("%s.function: missing name", what)
	}
	if name, err := str(rawName, what+".function.name"); err != nil {
		return err
	} else if name == "" {
		return fmt.Errorf("%s.function.name is empty", what)
	}
	args, ok := fn["arguments"]
	if !ok {
		return fmt.Errorf("%s.function: missing arguments", what)
	}
	switch jsonType(args) {
	case "an object":
	case "a string":
		var s string
		json.Unmarshal(args, &s)
		if jsonType(json.RawMessage(s)) != "an object" || !json.Valid([]byte(s)) {
			return fmt.Errorf("%s.function.arguments: want a JSON object, or a string holding one; got the string %s", what, args)
		}
	default:
		return fmt.Errorf("%s.function.arguments: want an object or a string holding one, got %s", what, jsonType(args))
	}
	return nil
}

// chatML is the fallback renderer: package chat's ChatML template.
func chatML(msgs []Message, _ []json.RawMessage) ([]Segment, error) {
	return chat.ChatML().Segments(msgs, chat.Vars{})
}

func fromIDs(obj map[string]json.RawMessage) (Example, error) {
	ids, err := ints(obj["input_ids"], "input_ids")
	if err != nil {
		return Example{}, err
	}
	if len(ids) == 0 {
		return Example{}, errors.New("input_ids is empty")
	}
	labels := append([]int(nil), ids...)
	if raw, ok := obj["labels"]; ok {
		if labels, err = ints(raw, "labels"); err != nil {
			return Example{}, err
		}
		if len(labels) != len(ids) {
			return Example{}, fmt.Errorf("labels has %d entries, input_ids %d", len(labels), len(ids))
		}
	}
	return Example{IDs: ids, Labels: labels}, nil
}

// finish checks ids and labels, cuts an example longer than MaxSeqLen as
// Truncation says (truncated or dropped) and checks that some label is
// still trained.
func finish(ex Example, opt Options) (out Example, truncated, dropped bool, err error) {
	for i, id := range ex.IDs {
		if id < 0 || (opt.VocabSize > 0 && id >= opt.VocabSize) {
			return Example{}, false, false, fmt.Errorf("token id %d at position %d %s", id, i, rangeMsg(opt.VocabSize))
		}
	}
	for i, l := range ex.Labels {
		if l != IgnoreIndex && (l < 0 || (opt.VocabSize > 0 && l >= opt.VocabSize)) {
			return Example{}, false, false, fmt.Errorf("label %d at position %d %s (or %d to mask)", l, i, rangeMsg(opt.VocabSize), IgnoreIndex)
		}
	}
	orig, n := len(ex.IDs), len(ex.IDs)
	if opt.MaxSeqLen > 0 && n > opt.MaxSeqLen {
		n = opt.MaxSeqLen
		switch opt.Truncation {
		case TruncateDrop:
			return Example{}, false, true, nil
		case TruncateLeft:
			ex.IDs, ex.Labels = ex.IDs[orig-n:], ex.Labels[orig-n:]
		default:
			ex.IDs, ex.Labels = ex.IDs[:n:n], ex.Labels[:n:n]
		}
	}
	for _, l := range ex.Labels[min(1, n):] {
		if l != IgnoreIndex {
			return ex, n < orig, false, nil
		}
	}
	if n < orig {
		return Example{}, false, false, fmt.Errorf("no trained token left after truncating %d tokens to MaxSeqLen %d (labels[0] never counts)", orig, n)
	}
	return Example{}, false, false, fmt.Errorf("no trained token in %d tokens (labels[0] never counts)", n)
}

func rangeMsg(vocab int) string {
	if vocab > 0 {
		return fmt.Sprintf("is outside [0, %d)", vocab)
	}
	return "is negative"
}

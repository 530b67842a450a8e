// Package chat renders conversations with a model's chat template (the
// chat_template of tokenizer_config.json, a Jinja template) and tells which
// parts of the result are the assistant's, for training masks.
//
// It implements the subset of Jinja that chat templates use, with the
// semantics transformers gives them (Python Jinja2 in a sandbox with
// trim_blocks and lstrip_blocks, the loopcontrols extension, its own
// tojson, raise_exception, and the {% generation %} tag):
//
//   - {{ expr }}, {% if %}/{% elif %}/{% else %}, {% for x in xs [if cond] %}
//     with {% else %}, {% break %} and {% continue %} and the loop variable
//     (index, index0, revindex, revindex0, first, last, length, previtem,
//     nextitem), {% set x = expr %}, {% set ns.attr = expr %},
//     {% set x %}...{% endset %}, {% generation %}, comments {# #}, and
//     whitespace control ({%- -%} {{- -}} {#- -#}, {%+);
//   - literals (strings with Python escapes, integers, floats, true/false,
//     none, lists, dicts with string keys, tuples, which behave as lists),
//     attribute and item access, slices with
//     steps, + - * / // % ** ~, comparisons (chained), in / not in,
//     and / or / not, conditional expressions (a if c else b);
//   - tests: defined, undefined, none, string, number, integer, float,
//     boolean, true, false, mapping, iterable, sequence, callable, odd,
//     even, divisibleby, lower, upper, sameas, in, and the comparison tests
//     (equalto/eq/==, ne/!=, lt/<, gt/>, le/<=, ge/>=);
//   - filters: trim, length/count, upper, lower, capitalize, title,
//     default/d, tojson (indent, sort_keys), string, int, float, list,
//     first, last, join, select, reject, selectattr, rejectattr, map, items,
//     replace, reverse, abs, safe;
//   - methods: str.strip/lstrip/rstrip/split/startswith/endswith/upper/
//     lower/title/capitalize/replace/find/count, dict.get/items/keys/values;
//   - globals: raise_exception, namespace, dict, range; the variables
//     messages, bos_token, eos_token and add_generation_prompt, and
//     enable_thinking and tools where Vars sets them.
//
// strftime_now is not defined, so templates that check for it (Llama 3.2)
// fall back to their fixed date and renders stay reproducible; other
// variables a template may test (documents, ...) are undefined.
// Anything else (macros, includes, unknown filters, tests or methods) is a
// *SyntaxError from Parse naming the construct and its line and column.
// Errors while rendering are *RenderError, or *RaisedError when the
// template calls raise_exception. Rendering is bounded (output size, steps,
// list lengths), so a hostile template fails instead of running away.
//
// The tests compare renders with fixtures made by @huggingface/jinja
// (testdata/gen) and, where that implementation departs from Python's
// Jinja2, with values checked against Jinja2.
package chat

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Message is one turn of a conversation. Templates see it as a dict with
// role and content, and reasoning_content, tool_calls, tool_call_id and
// name where set (they are undefined otherwise).
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
	// ReasoningContent is an assistant turn's reasoning, kept apart from
	// its content (Qwen3 renders it in a <think> block); nil leaves
	// reasoning_content undefined.
	ReasoningContent *string `json:"reasoning_content,omitempty"`
	// ToolCalls are an assistant turn's tool calls, each a JSON value as
	// in transformers' and OpenAI's messages, e.g.
	// {"type": "function", "function": {"name": "f", "arguments": {...}}};
	// objects keep their key order.
	ToolCalls []json.RawMessage `json:"tool_calls,omitempty"`
	// ToolCallID and Name are a tool message's tool_call_id and name
	// (the call it answers, the tool that answered); "" leaves them
	// undefined.
	ToolCallID string `json:"tool_call_id,omitempty"`
	Name       string `json:"name,omitempty"`
}

// Vars are the template variables besides the messages: bos_token,
// eos_token, add_generation_prompt, and enable_thinking and tools where
// set. Empty BOS or EOS render as "".
type Vars struct {
	BOS, EOS            string
	AddGenerationPrompt bool
	// EnableThinking sets enable_thinking (Qwen3's switch for reasoning);
	// nil leaves it undefined.
	EnableThinking *bool
	// Tools sets tools, the JSON schemas of the tools a template lists;
	// empty leaves it undefined.
	Tools []json.RawMessage
}

// Template is a parsed chat template. It is immutable and safe for
// concurrent use.
type Template struct {
	src    string // as given
	norm   string // with "\r\n" and "\r" turned into "\n", as Jinja does
	body   []node
	hasGen bool // uses {% generation %}
}

// Parse parses a chat template. An error is a *SyntaxError that names the
// problem (or the unsupported construct) and its line and column.
func Parse(src string) (*Template, error) {
	norm := strings.ReplaceAll(strings.ReplaceAll(src, "\r\n", "\n"), "\r", "\n")
	body, hasGen, err := parseTemplate(norm)
	if err != nil {
		return nil, err
	}
	return &Template{src: src, norm: norm, body: body, hasGen: hasGen}, nil
}

// Source returns the template's source text.
func (t *Template) Source() string { return t.src }

// ErrNoTemplate is returned by ParseConfig when tokenizer_config.json has
// no chat_template, an empty one, or a list without a "default" one.
var ErrNoTemplate = errors.New("no chat_template in tokenizer config")

// ParseConfig parses the chat template of a tokenizer_config.json. Its
// chat_template is either a string or a list of {"name", "template"}
// objects, of which the one named "default" is used.
func ParseConfig(tokenizerConfig []byte) (*Template, error) {
	var cfg struct {
		ChatTemplate json.RawMessage `json:"chat_template"`
	}
	if err := json.Unmarshal(tokenizerConfig, &cfg); err != nil {
		return nil, fmt.Errorf("tokenizer config: %w", err)
	}
	if len(cfg.ChatTemplate) == 0 || string(cfg.ChatTemplate) == "null" {
		return nil, ErrNoTemplate
	}
	var src string
	if err := json.Unmarshal(cfg.ChatTemplate, &src); err != nil {
		var list []struct {
			Name     string `json:"name"`
			Template string `json:"template"`
		}
		if err := json.Unmarshal(cfg.ChatTemplate, &list); err != nil {
			return nil, errors.New("tokenizer config: chat_template: want a string or a list of {name, template}")
		}
		found := false
		for _, e := range list {
			if e.Name == "default" {
				src, found = e.Template, true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("tokenizer config: chat_template: no template named \"default\": %w", ErrNoTemplate)
		}
	}
	if src == "" {
		return nil, ErrNoTemplate
	}
	return Parse(src)
}

const chatMLSource = "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}" +
	"{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"

var chatML = func() *Template {
	t, err := Parse(chatMLSource)
	if err != nil {
		panic("chat: built-in ChatML template: " + err.Error())
	}
	return t
}()

// ChatML returns the template golora uses when a model has none: every
// message as "<|im_start|>{role}\n{content}<|im_end|>\n", and
// "<|im_start|>assistant\n" as the generation prompt. Segments trains an
// assistant message's "{content}<|im_end|>".
func ChatML() *Template { return chatML }

// Render renders the conversation. A template that calls raise_exception
// returns a *RaisedError with its message; other failures of the template
// are *RenderError. A tool call or tool that is not valid JSON is an error
// naming the message and index ("chat: message 2: tool_calls[0]: ...").
func (t *Template) Render(msgs []Message, v Vars) (string, error) {
	out, _, err := t.render(msgs, v)
	return out, err
}

func (t *Template) render(msgs []Message, v Vars) (string, [][2]int, error) {
	list := make([]value, len(msgs))
	for i, m := range msgs {
		d := newDict()
		d.set("role", m.Role)
		d.set("content", m.Content)
		if m.ReasoningContent != nil {
			d.set("reasoning_content", *m.ReasoningContent)
		}
		if m.ToolCallID != "" {
			d.set("tool_call_id", m.ToolCallID)
		}
		if m.Name != "" {
			d.set("name", m.Name)
		}
		if m.ToolCalls != nil {
			calls, err := jsonList(m.ToolCalls)
			if err != nil {
				return "", nil, fmt.Errorf("chat: message %d: tool_calls%w", i, err)
			}
			d.set("tool_calls", calls)
		}
		list[i] = d
	}
	sc := &scope{vars: map[string]value{
		"messages":              list,
		"bos_token":             v.BOS,
		"eos_token":             v.EOS,
		"add_generation_prompt": v.AddGenerationPrompt,
	}}
	if v.EnableThinking != nil {
		sc.vars["enable_thinking"] = *v.EnableThinking
	}
	if len(v.Tools) > 0 {
		tools, err := jsonList(v.Tools)
		if err != nil {
			return "", nil, fmt.Errorf("chat: tools%w", err)
		}
		sc.vars["tools"] = tools
	}
	r := &renderer{src: t.norm}
	if _, err := r.execBody(t.body, sc); err != nil {
		return "", nil, err
	}
	return r.out.String(), r.gen, nil
}

// Segment is a piece of a rendered conversation; Train marks the pieces
// the loss should learn (the assistant's).
type Segment struct {
	Text  string
	Train bool
}

// Segments renders the conversation like Render and splits the result into
// trained and untrained segments; their texts concatenate to the rendered
// text, adjacent segments differ in Train, and none is empty.
//
// If the template marks assistant text with {% generation %} blocks, as
// transformers' return_assistant_tokens_mask requires, those blocks are the
// trained text. Otherwise each message with role "assistant" is located by
// rendering the conversation again with its content replaced by a unique
// sentinel; where the two renders differ is what the template made of that
// content (trimmed, transformed, with reasoning a template adds before it),
// and that is trained, together with:
//
//   - text between the end of the generation prompt and the content, when
//     the template has a generation prompt and rendering the preceding
//     messages with it gives a prefix of the output (Qwen3's empty
//     "<think>\n\n</think>\n\n" block, Mistral's space);
//   - spaces right before the content, which tokenizers attach to the word
//     after them;
//   - the end-of-turn text after the content: what the template emits after
//     the message both here and when the message ends the conversation (so
//     not the next message's header), cut back to a token boundary and
//     without trailing whitespace: "<|im_end|>", "<|eot_id|>",
//     "<end_of_turn>", "</s>"; or, if that is empty, vars.EOS when the text
//     after the content starts with it.
//
// System and user turns, role headers and the generation prompt are not
// trained. An assistant message that the template does not copy into the
// output exactly once is an error, as is any error of Render.
func (t *Template) Segments(msgs []Message, v Vars) ([]Segment, error) {
	out, gen, err := t.render(msgs, v)
	if err != nil {
		return nil, err
	}
	var spans [][2]int
	if t.hasGen {
		spans = mergeSpans(gen)
	} else {
		sentinel := t.sentinel(msgs, out)
		prevEnd := 0
		for i, m := range msgs {
			if m.Role != "assistant" {
				continue
			}
			sp, err := t.assistantSpan(msgs, i, v, out, sentinel, prevEnd)
			if err != nil {
				return nil, err
			}
			if sp[1] > sp[0] {
				spans = append(spans, sp)
				prevEnd = sp[1]
			}
		}
	}
	var segs []Segment
	add := func(s string, train bool) {
		if s == "" {
			return
		}
		if n := len(segs); n > 0 && segs[n-1].Train == train {
			segs[n-1].Text += s
			return
		}
		segs = append(segs, Segment{Text: s, Train: train})
	}
	pos := 0
	for _, sp := range spans {
		add(out[pos:sp[0]], false)
		add(out[sp[0]:sp[1]], true)
		pos = sp[1]
	}
	add(out[pos:], false)
	return segs, nil
}

// mergeSpans sorts spans and merges overlapping ones, dropping empty ones.
func mergeSpans(in [][2]int) [][2]int {
	sort.Slice(in, func(i, j int) bool { return in[i][0] < in[j][0] })
	var out [][2]int
	for _, s := range in {
		if s[1] <= s[0] {
			continue
		}
		if n := len(out); n > 0 && s[0] <= out[n-1][1] {
			if s[1] > out[n-1][1] {
				out[n-1][1] = s[1]
			}
			continue
		}
		out = append(out, s)
	}
	return out
}

// sentinel returns a string found in neither the messages, the output nor
// the template source. It is made of private-use characters and digits,
// which trim, upper, lower and the like leave alone.
func (t *Template) sentinel(msgs []Message, out string) string {
	for k := 0; ; k++ {
		s := "\uE000" + strconv.Itoa(k) + "\uE001"
		clash := strings.Contains(out, s) || strings.Contains(t.src, s)
		for _, m := range msgs {
			clash = clash || strings.Contains(m.Content, s)
		}
		if !clash {
			return s
		}
	}
}

// assistantSpan returns the byte range of out to train for assistant
// message i (see Segments); it starts at or after prevEnd.
func (t *Template) assistantSpan(msgs []Message, i int, v Vars, out, sentinel string, prevEnd int) ([2]int, error) {
	mod := append([]Message(nil), msgs...)
	mod[i].Content = sentinel
	rs, _, err := t.render(mod, v)
	if err != nil {
		return [2]int{}, fmt.Errorf("chat: locating assistant message %d: %w", i, err)
	}
	if n := strings.Count(rs, sentinel); n != 1 {
		return [2]int{}, fmt.Errorf("chat: the template copies assistant message %d into its output %d times (want once); cannot mask it", i, n)
	}
	k := strings.Index(rs, sentinel)
	q := rs[k+len(sentinel):] // what follows the content

	// The differing region of out and rs is what the content produced.
	a := commonPrefix(out, rs)
	maxB := len(out) - a
	if len(rs)-a < maxB {
		maxB = len(rs) - a
	}
	b := commonSuffix(out, rs, maxB)
	// Keep the sentinel inside the region (content may share its first or
	// last characters) and cut at character boundaries.
	if a > k {
		a = k
	}
	if b > len(q) {
		b = len(q)
	}
	for a > 0 && a < len(out) && !utf8.RuneStart(out[a]) {
		a--
	}
	for b > 0 && !utf8.RuneStart(out[len(out)-b]) {
		b--
	}
	start, end := a, len(out)-b

	// Text the assistant generates before its content (after the
	// generation prompt) is trained too.
	// (Only for templates with a generation prompt: without one, the text
	// before the content is the assistant's header.)
	gv, nv := v, v
	gv.AddGenerationPrompt, nv.AddGenerationPrompt = true, false
	if gp, _, err := t.render(msgs[:i], gv); err == nil &&
		len(gp) < start && strings.HasPrefix(out, gp) {
		if noGP, _, err := t.render(msgs[:i], nv); err == nil && noGP != gp {
			start = len(gp)
		}
	}
	// Spaces right before the content go with it, as tokenizers attach a
	// space to the word after it (" A" is one token, "▁A" or "ĠA").
	for start > prevEnd && out[start-1] == ' ' {
		start--
	}
	if start < prevEnd {
		start = prevEnd
	}

	// End of turn: what the template emits after the content whether or
	// not other messages follow.
	after := q[len(q)-b:]
	last := ""
	if ts, _, err := t.render(mod[:i+1], nv); err == nil && strings.Count(ts, sentinel) == 1 {
		last = ts[strings.Index(ts, sentinel)+len(sentinel):]
		d := len(q) - b // content-dependent text right after the content
		if len(last) >= d && last[:d] == q[:d] {
			last = last[d:]
		} else {
			last = ""
		}
	}
	n := commonPrefix(after, last)
	if n < len(after) && n < len(last) {
		// The two diverge inside a token ("<|im_end|>\n<|im_start|>" and
		// "<|im_end|>\n</s>"): cut back to a boundary.
		for n > 0 && !isBoundary(after[n-1]) {
			n--
		}
	}
	tail := strings.TrimRightFunc(after[:n], unicode.IsSpace)
	if tail == "" && v.EOS != "" && strings.HasPrefix(after, v.EOS) {
		tail = v.EOS
	}
	return [2]int{start, end + len(tail)}, nil
}

func isBoundary(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '>', ']', '}', ')':
		return true
	}
	return false
}

func commonPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// commonSuffix is the length of the common suffix of a and b, at most max.
func commonSuffix(a, b string, max int) int {
	n := 0
	for n < max && a[len(a)-1-n] == b[len(b)-1-n] {
		n++
	}
	return n
}

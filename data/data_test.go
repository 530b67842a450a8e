package data

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/golora/golora/chat"
)

// byteEnc is a fake tokenizer: id = byte + 3, BOS 1, EOS 2, and the text
// "</s>" encodes to EOS. Text containing "FAIL" cannot be encoded.
type byteEnc struct{ bos, eos int }

var enc = byteEnc{bos: 1, eos: 2}

func (e byteEnc) BOS() int { return e.bos }
func (e byteEnc) EOS() int { return e.eos }
func (e byteEnc) Encode(text string, addSpecial bool) ([]int, error) {
	if strings.Contains(text, "FAIL") {
		return nil, errors.New("cannot encode FAIL")
	}
	var ids []int
	if addSpecial && e.bos >= 0 {
		ids = append(ids, e.bos)
	}
	for i, part := range strings.Split(text, "</s>") {
		if i > 0 {
			ids = append(ids, 2)
		}
		ids = append(ids, bytesOf(part)...)
	}
	return ids, nil
}

func bytesOf(s string) []int {
	ids := make([]int, len(s))
	for i := 0; i < len(s); i++ {
		ids[i] = int(s[i]) + 3
	}
	return ids
}

func cat(parts ...[]int) []int {
	var out []int
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func masked(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = IgnoreIndex
	}
	return out
}

func TestParseFormats(t *testing.T) {
	const sys = `{"role":"system","content":"S"}`
	chatIDs := bytesOf("<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\nA<|im_end|>\n")
	prefix := len("<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n")
	trained := len("A<|im_end|>")
	chatLabels := cat(masked(prefix), chatIDs[prefix:prefix+trained], masked(1))
	custom := func(msgs []Message, _ []json.RawMessage) ([]Segment, error) {
		var segs []Segment
		for _, m := range msgs {
			segs = append(segs, Segment{Text: "[" + m.Role[:1] + "]"}, Segment{Text: m.Content, Train: m.Role == "assistant"})
		}
		return segs, nil
	}
	for _, tc := range []struct {
		name   string
		line   string
		opt    Options
		enc    Encoder
		ids    []int
		labels []int
	}{
		{"text", `{"text": "hi"}`, Options{}, enc,
			cat([]int{1}, bytesOf("hi"), []int{2}), cat([]int{1}, bytesOf("hi"), []int{2})},
		{"text ending in EOS gets no second", `{"text": "hi</s>"}`, Options{}, enc,
			cat([]int{1}, bytesOf("hi"), []int{2}), cat([]int{1}, bytesOf("hi"), []int{2})},
		{"text without special tokens", `{"text": "hi"}`, Options{}, byteEnc{-1, -1},
			bytesOf("hi"), bytesOf("hi")},
		{"prompt/completion", `{"prompt": "ab", "completion": "c"}`, Options{}, enc,
			cat([]int{1}, bytesOf("abc"), []int{2}), cat(masked(3), bytesOf("c"), []int{2})},
		{"prompt/completion train on prompt", `{"completion": "c", "prompt": "ab"}`, Options{TrainOnPrompt: true}, enc,
			cat([]int{1}, bytesOf("abc"), []int{2}), cat([]int{1}, bytesOf("abc"), []int{2})},
		{"empty prompt", `{"prompt": "", "completion": "c"}`, Options{}, enc,
			cat([]int{1}, bytesOf("c"), []int{2}), cat(masked(1), bytesOf("c"), []int{2})},
		{"messages ChatML", `{"messages": [` + sys + `, {"role":"user","content":"Q"}, {"role":"assistant","content":"A"}]}`, Options{}, enc,
			chatIDs, chatLabels},
		{"messages ChatML train on prompt", `{"messages": [` + sys + `, {"role":"user","content":"Q"}, {"role":"assistant","content":"A"}]}`, Options{TrainOnPrompt: true}, enc,
			chatIDs, chatIDs},
		{"messages custom template", `{"messages": [{"role":"user","content":"Q"}, {"role":"assistant","content":"A"}, {"role":"user","content":"R"}, {"role":"assistant","content":"B"}]}`, Options{Chat: custom}, enc,
			bytesOf("[u]Q[a]A[u]R[a]B"), cat(masked(7), bytesOf("A"), masked(7), bytesOf("B"))},
		{"input_ids", `{"input_ids": [5, 6, 7]}`, Options{}, enc,
			[]int{5, 6, 7}, []int{5, 6, 7}},
		{"input_ids with labels", `{"input_ids": [5, 6, 7], "labels": [-100, 9, 7]}`, Options{VocabSize: 10}, enc,
			[]int{5, 6, 7}, []int{-100, 9, 7}},
		{"truncated", `{"prompt": "ab", "completion": "cdef"}`, Options{MaxSeqLen: 5}, enc,
			cat([]int{1}, bytesOf("abcd")), cat(masked(3), bytesOf("cd"))},
		{"max len not reached", `{"input_ids": [5, 6]}`, Options{MaxSeqLen: 5}, enc,
			[]int{5, 6}, []int{5, 6}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exs, _, err := Parse(strings.NewReader(tc.line), "x.jsonl", tc.enc, tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			if len(exs) != 1 {
				t.Fatalf("%d examples", len(exs))
			}
			if !reflect.DeepEqual(exs[0].IDs, tc.ids) {
				t.Errorf("ids\n got %v\nwant %v", exs[0].IDs, tc.ids)
			}
			if !reflect.DeepEqual(exs[0].Labels, tc.labels) {
				t.Errorf("labels\n got %v\nwant %v", exs[0].Labels, tc.labels)
			}
		})
	}
}

func TestParseLinesAndBlanks(t *testing.T) {
	in := "\xef\xbb\xbf{\"text\":\"a\"}\r\n\n   \n{\"input_ids\":[4,5]}\n{\"text\":\"b\"}" // BOM, CRLF, blanks, no final newline
	exs, _, err := Parse(strings.NewReader(in), "x.jsonl", enc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(exs) != 3 || !reflect.DeepEqual(exs[1].IDs, []int{4, 5}) || exs[2].IDs[1] != int('b')+3 {
		t.Fatalf("got %+v", exs)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		line string
		opt  Options
		want string // substring of the message after "bad.jsonl:2: "
	}{
		{`{"text": "a"`, Options{}, "invalid JSON"},
		{`{"text": "a"} {"text": "b"}`, Options{}, "invalid JSON"},
		{`[1, 2]`, Options{}, "want a JSON object, got array"},
		{`null`, Options{}, "want a JSON object, got null"},
		{`{}`, Options{}, "empty object"},
		{`{"txt": "a"}`, Options{}, `unknown key "txt"`},
		{`{"text": "a", "id": 3, "source": "x"}`, Options{Strict: true}, `unknown keys "id", "source"`},
		{`{"text": "a", "id": 3}`, Options{Strict: true}, `unknown key "id"`},
		{`{"promt": "a", "completion": "b"}`, Options{}, `unknown key "promt" (did you mean "prompt"?)`},
		{`{"prompt": "a", "completion": "b", "completoin": "c"}`, Options{}, `unknown key "completoin" (did you mean "completion"?)`},
		{`{"input_ids": [4, 5], "label": [4, 5]}`, Options{}, `unknown key "label" (did you mean "labels"?)`},
		{`{"mesages": []}`, Options{}, `did you mean "messages"?`},
		{`{"promt": "a", "completion": "b"}`, Options{Strict: true}, `unknown key "promt" (did you mean "prompt"?)`},
		{`{"id": 3}`, Options{}, "no key of a format"},
		{`{"text": "a", "prompt": "b", "completion": "c"}`, Options{}, "several formats (prompt/completion, text)"},
		{`{"text": "a", "input_ids": [4]}`, Options{}, "several formats"},
		{`{"prompt": "a"}`, Options{}, `without "completion"`},
		{`{"completion": "a"}`, Options{}, `without "prompt"`},
		{`{"labels": [4]}`, Options{}, `without "input_ids"`},
		{`{"text": ""}`, Options{}, "text is empty"},
		{`{"text": 3}`, Options{}, "text: want a string, got a number"},
		{`{"text": null}`, Options{}, "text: want a string, got null"},
		{`{"text": "FAIL"}`, Options{}, "encode text: cannot encode FAIL"},
		{`{"prompt": "p", "completion": ""}`, Options{}, "completion is empty"},
		{`{"prompt": ["p"], "completion": "c"}`, Options{}, "prompt: want a string, got an array"},
		{`{"prompt": "p", "completion": "FAIL"}`, Options{}, "encode completion"},
		{`{"messages": []}`, Options{}, "messages is empty"},
		{`{"messages": {"role": "user"}}`, Options{}, "messages: want an array of objects, got an object"},
		{`{"messages": ["hi"]}`, Options{}, "messages[0]: want an object, got a string"},
		{`{"messages": [{"role": "bot", "content": "x"}]}`, Options{}, `messages[0]: unknown role "bot"`},
		{`{"messages": [{"role": "user", "content": "x"}, {"role": "assistant"}]}`, Options{}, "messages[1]: missing content"},
		{`{"messages": [{"content": "x"}]}`, Options{}, "messages[0]: missing role"},
		{`{"messages": [{"role": "user", "content": null}]}`, Options{}, "messages[0].content: want a string, got null"},
		{`{"messages": [{"role": "user", "content": "x", "nom": "n"}]}`, Options{}, `messages[0]: unknown key "nom"`},
		{`{"messages": [{"role": "user", "content": "x", "name": "n"}]}`, Options{}, `messages[0].name: a user message has none (only tool)`},
		{`{"messages": [{"role": "user", "content": "x", "reasoning_content": "r"}]}`, Options{}, `messages[0].reasoning_content: a user message has none (only assistant)`},
		{`{"messages": [{"role": "assistant", "content": "x", "reasoning_content": 5}]}`, Options{}, `messages[0].reasoning_content: want a string, got a number`},
		{`{"messages": [{"role": "tool", "content": "x", "tool_call_id": 1}]}`, Options{}, `messages[0].tool_call_id: want a string, got a number`},
		{`{"messages": [{"role": "assistant", "content": null}]}`, Options{}, "messages[0].content: want a string, got null"},
		{`{"messages": [{"role": "assistant", "tool_calls": {}}]}`, Options{}, "messages[0].tool_calls: want an array of objects, got an object"},
		{`{"messages": [{"role": "assistant", "tool_calls": ["f"]}]}`, Options{}, "messages[0].tool_calls[0]: want an object, got a string"},
		{`{"messages": [{"role": "assistant", "tool_calls": [{"name": "f", "arguments": {}}]}]}`, Options{}, `messages[0].tool_calls[0]: unknown key "arguments"`},
		{`{"messages": [{"role": "assistant", "tool_calls": [{"type": "function"}]}]}`, Options{}, "messages[0].tool_calls[0]: missing function"},
		{`{"messages": [{"role": "assistant", "tool_calls": [{"type": "code", "function": {"name": "f", "arguments": {}}}]}]}`, Options{}, `messages[0].tool_calls[0].type: want "function", got "code"`},
		{`{"messages": [{"role": "assistant", "tool_calls": [{"function": {"arguments": {}}}]}]}`, Options{}, "messages[0].tool_calls[0].function: missing name"},
		{`{"messages": [{"role": "assistant", "tool_calls": [{"function": {"name": "", "arguments": {}}}]}]}`, Options{}, "messages[0].tool_calls[0].function.name is empty"},
		{`{"messages": [{"role": "assistant", "tool_calls": [{"function": {"name": "f"}}]}]}`, Options{}, "messages[0].tool_calls[0].function: missing arguments"},
		{`{"messages": [{"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": "{\"x\": "}}]}]}`, Options{}, "messages[0].tool_calls[0].function.arguments: want a JSON object, or a string holding one"},
		{`{"messages": [{"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": [1]}}]}]}`, Options{}, "messages[0].tool_calls[0].function.arguments: want an object or a string holding one, got an array"},
		{`{"messages": [{"role": "assistant", "content": "x"}], "tools": {"type": "function"}}`, Options{}, "tools: want an array of objects, got an object"},
		{`{"messages": [{"role": "assistant", "content": "x"}], "tools": [1]}`, Options{}, "tools[0]: want an object, got a number"},
		{`{"messages": [{"role": "user", "content": "only a question"}]}`, Options{}, "no trained token in"},
		{`{"messages": [{"role": "assistant", "content": "x"}]}`, Options{Chat: func([]Message, []json.RawMessage) ([]Segment, error) { return nil, errors.New("boom") }}, "chat template: boom"},
		{`{"input_ids": []}`, Options{}, "input_ids is empty"},
		{`{"input_ids": "1 2"}`, Options{}, "input_ids: want an array of integers, got a string"},
		{`{"input_ids": [1, null]}`, Options{}, "input_ids[1]: want an integer, got null"},
		{`{"input_ids": [1, 2.5]}`, Options{}, "input_ids[1] = 2.5: want an integer"},
		{`{"input_ids": [1, 99999999999]}`, Options{}, "input_ids[1] = 99999999999"},
		{`{"input_ids": [4, -1]}`, Options{}, "token id -1 at position 1 is negative"},
		{`{"input_ids": [4, 10]}`, Options{VocabSize: 10}, "token id 10 at position 1 is outside [0, 10)"},
		{`{"text": "a"}`, Options{VocabSize: 50}, "token id 100 at position 1 is outside [0, 50)"},
		{`{"input_ids": [4, 5], "labels": [4]}`, Options{}, "labels has 1 entries, input_ids 2"},
		{`{"input_ids": [4, 5], "labels": [4, -7]}`, Options{}, "label -7 at position 1 is negative"},
		{`{"input_ids": [4, 5], "labels": [4, 12]}`, Options{VocabSize: 12}, "label 12 at position 1 is outside [0, 12)"},
		{`{"input_ids": [4, 5], "labels": [4, -100]}`, Options{}, "no trained token in 2 tokens"},
		{`{"input_ids": [4]}`, Options{}, "no trained token in 1 tokens"},
		{`{"prompt": "long prompt", "completion": "c"}`, Options{MaxSeqLen: 4}, "no trained token left after truncating 14 tokens to MaxSeqLen 4"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			in := `{"input_ids": [3, 4]}` + "\n" + tc.line + "\n" + `{"text": "never reached"}` + "\n"
			exs, _, err := Parse(strings.NewReader(in), "bad.jsonl", enc, tc.opt)
			if err == nil {
				t.Fatalf("no error, %d examples", len(exs))
			}
			if exs != nil {
				t.Errorf("examples returned with the error")
			}
			if !strings.HasPrefix(err.Error(), "bad.jsonl:2: ") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want bad.jsonl:2: ...%s...", err, tc.want)
			}
		})
	}
}

func TestParseEmptyAndOptions(t *testing.T) {
	if _, _, err := Parse(strings.NewReader("\n \n"), "e.jsonl", enc, Options{}); err == nil || !strings.Contains(err.Error(), "e.jsonl: no examples") {
		t.Errorf("empty file: %v", err)
	}
	if _, _, err := Parse(strings.NewReader(`{"text":"a"}`), "e.jsonl", enc, Options{MaxSeqLen: -1}); err == nil {
		t.Error("negative MaxSeqLen: no error")
	}
	if _, _, err := Parse(strings.NewReader(`{"text":"a"}`), "e.jsonl", enc, Options{Truncation: "middle"}); err == nil ||
		!strings.Contains(err.Error(), `e.jsonl: unknown truncation "middle" (want right, left or drop)`) {
		t.Errorf("unknown truncation: %v", err)
	}
}

func TestLoadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "train.jsonl")
	if err := os.WriteFile(path, []byte("{\"text\":\"ab\"}\n{\"text\":7}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadFile(path, enc, Options{}); err == nil || !strings.HasPrefix(err.Error(), path+":2: text: want a string") {
		t.Errorf("got %v", err)
	}
	if _, _, err := LoadFile(path+".missing", enc, Options{}); err == nil {
		t.Error("missing file: no error")
	}
	if err := os.WriteFile(path, []byte("{\"text\":\"ab\"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if exs, _, err := LoadFile(path, enc, Options{}); err != nil || len(exs) != 1 {
		t.Errorf("got %v, %v", exs, err)
	}
}

func TestChatML(t *testing.T) {
	segs, err := chatML([]Message{{Role: "user", Content: "hi"}, {Role: "assistant", Content: "yo"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []Segment{
		{Text: "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"}, {Text: "yo<|im_end|>", Train: true}, {Text: "\n"},
	}
	if !reflect.DeepEqual(segs, want) {
		t.Errorf("got %+v", segs)
	}
}

// FuzzParse checks that Parse never panics and that what it accepts keeps
// the Example invariants.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"text": "hello"}`,
		`{"prompt": "a", "completion": "b"}`,
		`{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}`,
		`{"input_ids": [1, 2, 3], "labels": [-100, 2, 3]}`,
		"{\"text\": \"a\"}\n\n{\"text\": \"b</s>\"}",
		`{"input_ids": [1, null]}`,
		`{"text": "\u0000\ud800"}`,
		`{"messages": [{"role": "assistant", "reasoning_content": "r", "content": null, "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": "{\"x\": 1}"}}]}, {"role": "tool", "tool_call_id": "1", "name": "f", "content": "r"}], "tools": [{"type": "function"}]}`,
	} {
		f.Add([]byte(s), false, uint8(0))
	}
	f.Fuzz(func(t *testing.T, in []byte, trainOnPrompt bool, maxLen uint8) {
		opt := Options{TrainOnPrompt: trainOnPrompt, MaxSeqLen: int(maxLen % 16), VocabSize: 300}
		exs, _, err := Parse(strings.NewReader(string(in)), "f.jsonl", enc, opt)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.jsonl") {
				t.Errorf("error without file name: %v", err)
			}
			return
		}
		for i, ex := range exs {
			if len(ex.IDs) == 0 || len(ex.IDs) != len(ex.Labels) {
				t.Fatalf("example %d: %d ids, %d labels", i, len(ex.IDs), len(ex.Labels))
			}
			if opt.MaxSeqLen > 0 && len(ex.IDs) > opt.MaxSeqLen {
				t.Fatalf("example %d: %d ids > MaxSeqLen %d", i, len(ex.IDs), opt.MaxSeqLen)
			}
			trained := false
			for j, id := range ex.IDs {
				if id < 0 || id >= opt.VocabSize {
					t.Fatalf("example %d: id %d", i, id)
				}
				if l := ex.Labels[j]; l != IgnoreIndex && j > 0 {
					trained = true
				}
			}
			if !trained {
				t.Fatalf("example %d: nothing trained", i)
			}
		}
	})
}

func TestParseIgnoredKeys(t *testing.T) {
	in := `{"text": "a", "id": 1, "source": "web"}` + "\n" +
		`{"prompt": "p", "completion": "c", "metadata": {"k": 1}}` + "\n" +
		`{"text": "b", "label": 1}` + "\n" + // near "labels", but not a key of the text format
		`{"text": "d"}` + "\n"
	plain := `{"text": "a"}` + "\n" + `{"prompt": "p", "completion": "c"}` + "\n" + `{"text": "b"}` + "\n" + `{"text": "d"}` + "\n"
	exs, st, err := Parse(strings.NewReader(in), "x.jsonl", enc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want, _, err := Parse(strings.NewReader(plain), "x.jsonl", enc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(exs, want) {
		t.Errorf("examples with ignored keys differ from those without:\n got %v\nwant %v", exs, want)
	}
	if keys := []string{`"id"`, `"label"`, `"metadata"`, `"source"`}; !reflect.DeepEqual(st.IgnoredKeys, keys) || st.IgnoredLines != 3 {
		t.Errorf("stats %+v, want keys %v on 3 lines", st, keys)
	}
	if w := st.Warning("x.jsonl"); w != `x.jsonl: ignoring keys "id", "label", "metadata", "source" on 3 lines (--strict-data refuses them)` {
		t.Errorf("warning %q", w)
	}
	if w := (Stats{}).Warning("x.jsonl"); w != "" {
		t.Errorf("warning without ignored keys: %q", w)
	}
	if _, _, err := Parse(strings.NewReader(in), "x.jsonl", enc, Options{Strict: true}); err == nil ||
		err.Error() != `x.jsonl:1: unknown keys "id", "source" (want text, prompt+completion, messages or input_ids[+labels])` {
		t.Errorf("strict: %v", err)
	}
}

func TestParseTruncation(t *testing.T) {
	// Line 1 has 7 tokens, line 2 has 3, line 3 has 8 (BOS, "ab" masked, "cdef", EOS).
	in := `{"input_ids": [1, 2, 3, 4, 5, 6, 7]}` + "\n" + `{"input_ids": [8, 9, 10]}` + "\n" + `{"prompt": "ab", "completion": "cdef"}` + "\n"
	for _, tc := range []struct {
		trunc              string
		ids, labels        [][]int
		truncated, dropped int
	}{
		{"", [][]int{{1, 2, 3, 4, 5}, {8, 9, 10}, cat([]int{1}, bytesOf("abcd"))},
			[][]int{{1, 2, 3, 4, 5}, {8, 9, 10}, cat(masked(3), bytesOf("cd"))}, 2, 0},
		{TruncateRight, [][]int{{1, 2, 3, 4, 5}, {8, 9, 10}, cat([]int{1}, bytesOf("abcd"))},
			[][]int{{1, 2, 3, 4, 5}, {8, 9, 10}, cat(masked(3), bytesOf("cd"))}, 2, 0},
		{TruncateLeft, [][]int{{3, 4, 5, 6, 7}, {8, 9, 10}, cat(bytesOf("cdef"), []int{2})},
			[][]int{{3, 4, 5, 6, 7}, {8, 9, 10}, cat(bytesOf("cdef"), []int{2})}, 2, 0},
		{TruncateDrop, [][]int{{8, 9, 10}}, [][]int{{8, 9, 10}}, 0, 2},
	} {
		t.Run(tc.trunc, func(t *testing.T) {
			exs, st, err := Parse(strings.NewReader(in), "x.jsonl", enc, Options{MaxSeqLen: 5, Truncation: tc.trunc})
			if err != nil {
				t.Fatal(err)
			}
			if len(exs) != len(tc.ids) {
				t.Fatalf("%d examples, want %d", len(exs), len(tc.ids))
			}
			for i, ex := range exs {
				if !reflect.DeepEqual(ex.IDs, tc.ids[i]) || !reflect.DeepEqual(ex.Labels, tc.labels[i]) {
					t.Errorf("example %d: ids %v labels %v, want %v %v", i, ex.IDs, ex.Labels, tc.ids[i], tc.labels[i])
				}
			}
			if st.Truncated != tc.truncated || st.Dropped != tc.dropped {
				t.Errorf("truncated %d dropped %d, want %d %d", st.Truncated, st.Dropped, tc.truncated, tc.dropped)
			}
		})
	}
	_, _, err := Parse(strings.NewReader(`{"input_ids": [1, 2, 3]}`), "x.jsonl", enc, Options{MaxSeqLen: 2, Truncation: TruncateDrop})
	if err == nil || !strings.Contains(err.Error(), "x.jsonl: no examples: all 1 are longer than MaxSeqLen 2") {
		t.Errorf("all dropped: %v", err)
	}
}

// A tool-call conversation with tools, in OpenAI's shape, renders through
// the Qwen3 template to what @huggingface/jinja renders
// (chat/testdata/fixtures.json), and only the assistant turns are trained:
// the tool calls and the final answer, not the tool responses.
func TestMessagesWithToolCalls(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "chat", "testdata", "templates", "qwen3.jinja"))
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := chat.Parse(string(src))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join("..", "chat", "testdata", "fixtures.json"))
	if err != nil {
		t.Fatal(err)
	}
	var fx struct {
		Cases []struct {
			Template, Conversation, Variant string
			AddGenerationPrompt             bool `json:"add_generation_prompt"`
			Output                          string
		}
	}
	if err := json.Unmarshal(raw, &fx); err != nil {
		t.Fatal(err)
	}
	want := ""
	for _, c := range fx.Cases {
		if c.Template == "qwen3" && c.Conversation == "tool-calls" && c.Variant == "tools" && !c.AddGenerationPrompt {
			want = c.Output
		}
	}
	if want == "" {
		t.Fatal("no qwen3 tool-calls fixture")
	}
	line := `{"tools": [{"type": "function", "function": {"name": "get_weather", "description": "Current weather.", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}],
	"messages": [{"role": "system", "content": "You are a weather bot."}, {"role": "user", "content": "Weather in Paris and Rome?"},
	{"role": "assistant", "content": null, "tool_calls": [
		{"type": "function", "id": "c1", "function": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius", "days": 2, "hourly": false, "extra": null, "tags": ["a", "b"], "scale": 1.5}}},
		{"type": "function", "id": "c2", "function": {"name": "get_weather", "arguments": "{\"city\": \"Rome\"}"}}]},
	{"role": "tool", "tool_call_id": "c1", "name": "get_weather", "content": "{\"temperature\": 20}"},
	{"role": "tool", "tool_call_id": "c2", "content": "{\"temperature\": 25}"},
	{"role": "assistant", "content": "<think>\nBoth are warm.\n</think>\n\nParis: 20 degrees, Rome: 25."}]}`
	line = strings.ReplaceAll(line, "\n", " ")
	opt := Options{Chat: func(msgs []Message, tools []json.RawMessage) ([]Segment, error) {
		return tmpl.Segments(msgs, chat.Vars{EOS: "<|im_end|>", Tools: tools})
	}}
	exs, _, err := Parse(strings.NewReader(line), "tools.jsonl", enc, opt)
	if err != nil {
		t.Fatal(err)
	}
	if got := exs[0].IDs; !reflect.DeepEqual(got, bytesOf(want)) {
		t.Fatalf("ids are not the template's rendering\n got %q\nwant %q", decodeBytes(got), want)
	}
	calls := "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"unit\": \"celsius\", \"days\": 2, \"hourly\": false, \"extra\": null, \"tags\": [\"a\", \"b\"], \"scale\": 1.5}}\n</tool_call>\n" +
		"<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Rome\"}}\n</tool_call><|im_end|>"
	answer := "<think>\nBoth are warm.\n</think>\n\nParis: 20 degrees, Rome: 25.<|im_end|>"
	labels := masked(len(want))
	for _, s := range []string{calls, answer} {
		i := strings.Index(want, s)
		if i < 0 || strings.Count(want, s) != 1 {
			t.Fatalf("%q is not once in the rendering", s)
		}
		copy(labels[i:], bytesOf(s))
	}
	if !reflect.DeepEqual(exs[0].Labels, labels) {
		t.Errorf("trained text %q, want %q and %q", trainedText(exs[0]), calls, answer)
	}
}

// Tool messages' tool_call_id and name reach the template.
func TestToolMessageFields(t *testing.T) {
	tmpl, err := chat.Parse("{% for m in messages %}{{ m.role }}{% if m.tool_call_id is defined %}[{{ m.tool_call_id }} {{ m.name }}]{% endif %}:{{ m.content }};{% endfor %}")
	if err != nil {
		t.Fatal(err)
	}
	opt := Options{Chat: func(msgs []Message, tools []json.RawMessage) ([]Segment, error) {
		return tmpl.Segments(msgs, chat.Vars{})
	}}
	line := `{"messages": [{"role": "tool", "tool_call_id": "c1", "name": "f", "content": "R"}, {"role": "assistant", "content": "A"}]}`
	exs, _, err := Parse(strings.NewReader(line), "t.jsonl", enc, opt)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := decodeBytes(exs[0].IDs), "tool[c1 f]:R;assistant:A;"; got != want {
		t.Errorf("rendered %q, want %q", got, want)
	}
}

// decodeBytes inverts bytesOf.
func decodeBytes(ids []int) string {
	b := make([]byte, len(ids))
	for i, id := range ids {
		b[i] = byte(id - 3)
	}
	return string(b)
}

// trainedText is the text of an example's trained positions.
func trainedText(ex Example) string {
	var b []int
	for _, l := range ex.Labels {
		if l != IgnoreIndex {
			b = append(b, l)
		}
	}
	return decodeBytes(b)
}

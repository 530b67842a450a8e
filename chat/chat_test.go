package chat

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

var testConversation = []Message{
	{Role: "system", Content: "You are a helpful assistant."},
	{Role: "user", Content: "What is 2+2?"},
	{Role: "assistant", Content: "4"},
	{Role: "user", Content: "And 3+3?"},
}

var testVars = Vars{BOS: "<s>", EOS: "</s>", AddGenerationPrompt: true}

// TestJinja2Semantics covers what @huggingface/jinja gets wrong or lacks
// (so the fixtures cannot); each want was rendered by Python's Jinja2
// 3.1.6 configured as transformers does (sandbox, trim_blocks,
// lstrip_blocks, loopcontrols, its tojson), with testConversation.
func TestJinja2Semantics(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"plus keeps lstrip off", "a\n  {%+ if true %}b{% endif %}\n  {% if true %}c{% endif %}", "a\n  bc"},
		{"string and chained comparisons", "{% if 'a' < 'b' and 'b' >= 'b' and 1 < 2 < 3 and not 1 < 3 < 2 %}ok{% endif %}", "ok"},
		{"tests with arguments", "{{ 9 is divisibleby 3 }} {{ 9 is divisibleby(2) }} {{ 'a' is eq('a') }} {{ 'a' is equalto 'b' }} {{ 2 is gt 1 }} {{ 1.5 is float }} {{ 1 is float }} {{ none is sameas none }} {{ true is integer }}",
			"True False True False True True False True False"},
		{"more filters", "{{ 'abc' | reverse }} {{ [1, 2, 3] | reverse | list }} {{ nothing | d('x') }} {{ 'hELLO wORLD' | capitalize }} {{ 'xxaxx' | trim('x') }}",
			"cba [3, 2, 1] x Hello world a"},
		{"select and reject", "{{ [1, 2, 3, 4] | select('even') | list }} {{ [1, 2, 3, 4] | reject('odd') | list }} {{ [0, 1, '', 'a', none] | select | list }} {{ [1, 5, 9] | select('gt', 4) | list }}",
			"[2, 4] [2, 4] [1, 'a'] [5, 9]"},
		{"printing constants and containers", "{{ true }} {{ false }} {{ none }} {{ [1, 'a', none, true, 1.5] }} {{ {'k': 'v', 'n': [1]} }} {{ [\"it's\", 'q\"', 'nl\\n'] }}",
			`True False None [1, 'a', None, True, 1.5] {'k': 'v', 'n': [1]} ["it's", 'q"', 'nl\n']`},
		{"string iteration", "{% for ch in 'héllo' %}{{ ch }}.{% endfor %}", "h.é.l.l.o."},
		{"adjacent strings and tuple unpacking", "{{ 'a' 'b' \"c\" }}{% for a, b in [(1, 2), (3, 4)] %}{{ a * b }}{% endfor %}{% for k, v in {'x': 1}.items() %}{{ k }}{{ v }}{% endfor %}",
			"abc212x1"},
		{"arithmetic", "{{ -7 % 3 }} {{ 7 % -3 }} {{ -7 // 2 }} {{ 7.5 % 2 }} {{ -7.5 // 2 }} {{ 10 / 4 }} {{ 4 / 2 }} {{ 2 ** 0.5 }} {{ 2 ** -1 }} {{ 1e20 }} {{ 1.5e-7 }} {{ 123456789.0 * 1000000000 }} {{ 0.1 * 3 }} {{ 1 + 1.0 }} {{ true + 1 }}",
			"2 -2 -4 1.5 -4.0 2.5 2.0 1.4142135623730951 0.5 1e+20 1.5e-07 1.23456789e+17 0.30000000000000004 2.0 2"},
		{"each iteration has its own scope", "{% set a = 1 %}{% for x in [1, 2, 3] %}{% set a = a + x %}{{ a }},{% endfor %}{{ a }}", "2,3,4,1"},
		{"loop sets do not leak, if sets do", "{% for x in [1] %}{% set inner = 'i' %}{% endfor %}[{{ inner }}]{% if true %}{% set t = 'top' %}{% endif %}{{ t }}", "[]top"},
		{"strip with characters", "[{{ 'xxaxx'.strip('x') }}][{{ '\\n\\nx\\n'.strip('\\n') }}][{{ 'abcba'.lstrip('ab') }}][{{ 'abcba'.rstrip('ab') }}][{{ ' x '.strip(none) }}]",
			"[a][x][cba][abc][x]"},
		{"string methods", "{{ 'a,b,c'.split(',', 1) }} {{ '  a b  c '.split() }} {{ 'a b c'.split(none, 1) }} {{ 'abc'.startswith(('x', 'a')) }} {{ 'aXbX'.replace('X', '-', 1) }} {{ 'abcabc'.find('c') }} {{ 'abcabc'.count('bc') }} {{ 'hello wORLD'.title() }} {{ 'hELLO'.capitalize() }}",
			"['a', 'b,c'] ['a', 'b', 'c'] ['a', 'b c'] True a-bX 2 2 Hello World Hello"},
		{"defined globals", "{{ strftime_now is defined }} {{ tools is defined }} {{ raise_exception is defined }} {{ namespace is defined }} {{ range is callable }}",
			"False False True True True"},
		{"tojson", "{{ {'b': 'é', 'a': [1, 2.5, none]} | tojson }} {{ {'b': 1, 'a': 2} | tojson(sort_keys=true) }} {{ 'tab\\there' | tojson }} {{ '\\x01' | tojson }}",
			`{"b": "é", "a": [1, 2.5, null]} {"a": 2, "b": 1} "tab\there" "\u0001"`},
		{"namespace and dict", "{% set ns = namespace({'a': 1}, b=2) %}{{ ns.a }}{{ ns.b }}{% set ns.a = 5 %}{{ ns.a }}{{ dict(x=1, y='z') }}{{ dict(x=1)['x'] }}",
			"125{'x': 1, 'y': 'z'}1"},
		{"precedence", "{{ messages|length - 1 }} {{ not 'x' in 'y' }} {{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 2 ** 3 ** 2 }} {{ -2 ** 2 }} {{ 'a' ~ 1 ~ 2 }} {{ 10 - 2 - 3 }} {{ 100 // 7 % 4 }}",
			"3 True 7 9 64 4 a12 5 2"},
		{"concatenation and repetition", "{{ 'a' ~ none ~ true }} {{ [1, 2] + [3] }} {{ 'ab' * 2 }} {{ 2 * 'ab' }} {{ [0] * 3 }}", "aNoneTrue [1, 2, 3] abab abab [0, 0, 0]"},
		{"conversions", "{{ 'x' | int }} {{ '3' | int }} {{ 3.7 | int }} {{ '2.5' | float }} {{ 'x' | int(7) }} {{ -3 | abs }} {{ 4 | float }}", "0 3 3 2.5 7 3 4.0"},
		{"map, join, first, last", "{{ ['a', 'b'] | map('upper') | join }} {{ messages | join(', ', attribute='role') }} {{ 'abc' | first }}{{ 'abc' | last }} {{ [] | first is defined }}",
			"AB system, user, assistant, user ac False"},
		{"for-else after a filter", "{% for m in messages if m.role == 'tool' %}x{% else %}none{% endfor %}", "none"},
		{"nested break and continue", "{% for i in range(3) %}{% for j in range(3) %}{% if j == 1 %}{% break %}{% endif %}{{ i }}{{ j }} {% endfor %}{% if i == 1 %}{% continue %}{% endif %}|{% endfor %}",
			"00 |10 20 |"},
		{"access", "{{ messages[0].role.upper() }} {{ messages[1]['content'][:4] }} {{ messages[-1].content[-2:] }} {{ messages[99] is defined }} {{ messages[0].nothing is defined }} {{ messages[0]['role'][0] }}",
			"SYSTEM What 3? False False s"},
		{"selectattr with in", "{% if messages[0].content.startswith('You') %}sys{% endif %}{{ messages | selectattr('role', 'in', ['user', 'system']) | list | length }}{{ messages | map(attribute='role') | select('equalto', 'user') | list | length }}",
			"sys32"},
		{"conditional and equality", "{{ 'x' if none else 'y' }} {{ none if false }} {{ {'a': 1} == {'a': 1} }} {{ 1 == 1.0 }} {{ 'a' != 'a' }} {{ [1, [2]] == [1, [2]] }}",
			"y  True True False True"},
		{"whitespace control", "{%- for m in messages -%}\n  {{ m.role }}\n{%- endfor %}\n\n{# comment #}\n   {%- if true %}\nyes\n{% endif -%}\n   tail  ",
			"systemuserassistantuser\nyes\ntail  "},
		{"escapes", "{{ '\\u00e9\\x41\\101' }}|{{ \"it's\" }}|{{ 'say \"hi\"' }}|{{ 'line\\\ncont' }}|{{ '\\d\\q' }}", `éAA|it's|say "hi"|linecont|\d\q`},
		{"block set", "{% set x %}{% for m in messages %}{{ m.role[0] }}{% endfor %}{% endset %}{{ x | upper }}{{ x | length }}", "SUAU4"},
		{"dict items and keys", "{{ messages[0] | items | list | length }} {{ messages[0].items() | list | first | first }} {{ messages[0] | list }} {{ messages[0].keys() | list }}",
			"2 role ['role', 'content'] ['role', 'content']"},
		{"more tests", "{{ (messages|length) is odd }} {{ 'HELLO' is upper }} {{ 'Hello' is lower }} {{ messages is sequence }} {{ 5 is number }} {{ 'x' is number }} {{ none is mapping }}",
			"False True False True True False False"},
		{"attributes of non-containers", "{{ none.x }}|{{ 'abc'.nothing }}|{{ 3.foo }}", "||"},
		{"newlines are normalized", "a\r\nb{% if true %}\r\nc\r{{ \"x\r\ny\" }}{% endif %}\r\n", "a\nbc\nx\ny"},
		{"lstrip_blocks at the start", "  {% if true %}x{% endif %}\n  {%- if true %}y{% endif %}", "xy"},
		{"trim_blocks takes one newline only", "a\n{% if true %}   \nx{% endif %}|{% if true %}\n\n{% endif %}", "a\n   \nx|\n"},
		{"comments strip like blocks", "{{ 'a' }}\n  {# c #}  \nb", "a\n  \nb"},
		{"no lstrip after text", "a  {% if true %}b{% endif %}", "a  b"},
		{"tabs", "\t{% if true %}\n\tx\n\t{% endif %}\n", "\tx\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tmpl, err := Parse(tc.src)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			got, err := tmpl.Render(testConversation, testVars)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if got != tc.want {
				t.Fatalf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

// TestRenderErrors: templates Jinja2 also rejects at render time.
func TestRenderErrors(t *testing.T) {
	tests := []struct {
		name, src  string
		line, col  int
		msg        string // substring of the error
		raisedWith string // for raise_exception
	}{
		{"attribute of undefined", "{{ messages[0].nothing.deeper }}", 1, 24, "attribute 'deeper' of undefined value 'nothing'", ""},
		{"item of missing element", "{{ messages[5]['role'] }}", 1, 15, "cannot index undefined value '[5]'", ""},
		{"int plus str", "{{ 1 + 'a' }}", 1, 6, "unsupported operand type(s) for +: 'int' and 'str'", ""},
		{"str plus int", "{{ 'a' + 1 }}", 1, 8, "unsupported operand type(s) for +: 'str' and 'int'", ""},
		{"concat binds tighter than plus", "{{ 'a' ~ 1 + 2 }}", 1, 12, "'str' and 'int'", ""},
		{"undefined plus str", "{{ nothing + 'a' }}", 1, 12, "undefined value 'nothing'", ""},
		{"ordering str and int", "{{ 'abc' < 1 }}", 1, 12, "'<' not supported between instances of 'str' and 'int'", ""},
		{"strftime_now is undefined", "{{ strftime_now('%d') }}", 1, 16, "'strftime_now' is undefined", ""},
		{"division by zero", "{{ 1 // 0 }}", 1, 6, "division or modulo by zero", ""},
		{"attribute of a dict", "{% set d = {'a': 1} %}{% set d.a = 2 %}", 1, 26, "not a namespace", ""},
		{"unpacking", "{% for a, b in [[1, 2, 3]] %}{% endfor %}", 1, 4, "cannot unpack 3 values into 2", ""},
		{"iterating an int", "{% for x in 5 %}{% endfor %}", 1, 13, "'int' object is not iterable", ""},
		{"string formatting", "{{ '%s' % 1 }}", 1, 9, "printf-style", ""},
		{"integer overflow", "{{ 9223372036854775807 + 1 }}", 1, 24, "integer overflow", ""},
		{"filter arguments", "{{ 'a' | trim(1, 2) }}", 1, 10, "filter 'trim'", ""},
		{"method arguments", "{{ 'a'.upper(1) }}", 1, 13, "str.upper()", ""},
		{"raise_exception", "{% if messages[0].role == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}", 0, 0, "", "System role not supported"},
		{"raise_exception with concatenation", "{{ raise_exception('custom ' ~ 42) }}", 0, 0, "", "custom 42"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tmpl, err := Parse(tc.src)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			got, err := tmpl.Render(testConversation, testVars)
			if err == nil {
				t.Fatalf("rendered %q, want an error", got)
			}
			if tc.raisedWith != "" {
				var re *RaisedError
				if !errors.As(err, &re) || re.Message != tc.raisedWith || err.Error() != "chat template: "+tc.raisedWith {
					t.Fatalf("got %v, want raise_exception(%q)", err, tc.raisedWith)
				}
				return
			}
			var re *RenderError
			if !errors.As(err, &re) {
				t.Fatalf("got %T %v, want *RenderError", err, err)
			}
			if !strings.Contains(re.Msg, tc.msg) || re.Line != tc.line || re.Col != tc.col {
				t.Fatalf("got %v (line %d, col %d), want %q at line %d, col %d", err, re.Line, re.Col, tc.msg, tc.line, tc.col)
			}
		})
	}
}

// TestParseErrors: templates outside the subset, or malformed, are errors
// that name the construct and its position.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, src string
		line, col int
		msg       string
	}{
		{"macro", "ok\n{% macro m() %}x{% endmacro %}", 2, 4, "unsupported tag {% macro %}"},
		{"include", "{% include 'x.jinja' %}", 1, 4, "unsupported tag {% include %}"},
		{"raw", "{% raw %}{{ x }}{% endraw %}", 1, 4, "unsupported tag {% raw %}"},
		{"unknown tag", "{% frobnicate %}", 1, 4, "unknown tag {% frobnicate %}"},
		{"unknown filter", "{{ x | wordwrap(5) }}", 1, 8, "unsupported filter 'wordwrap'"},
		{"unknown test", "{% if x is escaped %}{% endif %}", 1, 12, "unsupported test 'escaped'"},
		{"unknown method", "{{ 'a {}'.format(1) }}", 1, 11, "unsupported method 'format'"},
		{"loop.cycle", "{% for m in messages %}{{ loop.cycle('a', 'b') }}{% endfor %}", 1, 32, "unsupported method 'cycle'"},
		{"recursive loop", "{% for m in messages recursive %}{% endfor %}", 1, 22, "recursive"},
		{"tuple set", "{% set a, b = 1, 2 %}", 1, 9, "unsupported {% set %} target"},
		{"star args", "{{ f(*xs) }}", 1, 6, "*args"},
		{"break outside a loop", "{% break %}", 1, 4, "{% break %} outside a for-loop"},
		{"unclosed if", "{% if x %}\nx", 1, 4, "{% if %} is never closed"},
		{"unclosed for", "{% for x in y %}", 1, 4, "missing {% endfor %}"},
		{"mismatched end", "{% if x %}{% endfor %}", 1, 14, "unexpected {% endfor %}"},
		{"stray endif", "a{% endif %}", 1, 5, "unexpected {% endif %}"},
		{"unclosed tag", "{{ x ", 1, 1, "unclosed tag"},
		{"unclosed comment", "a {# b", 1, 3, "unclosed comment"},
		{"unterminated string", "{{ 'abc }}", 1, 4, "unterminated string"},
		{"bad character", "{{ x $ y }}", 1, 6, "unexpected character '$'"},
		{"missing bracket", "{{ [1, 2 }}", 1, 10, "unexpected '}'"},
		{"unclosed bracket", "{{ (1, 2 ", 1, 4, "unclosed '('"},
		{"empty expression", "{{ }}", 1, 4, "unexpected end of tag"},
		{"trailing tokens", "{{ x y }}", 1, 6, "unexpected 'y'"},
		{"test arity", "{% if x is divisibleby %}{% endif %}", 1, 12, "takes 1 argument"},
		{"bad escape", "{{ '\\xZZ' }}", 1, 5, "bad \\x escape"},
		{"deep nesting", strings.Repeat("(", 300) + "1" + strings.Repeat(")", 300), 0, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := tc.src
			if tc.name == "deep nesting" {
				src = "{{ " + src + " }}"
			}
			_, err := Parse(src)
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("got %v, want a *SyntaxError", err)
			}
			if tc.line == 0 {
				return
			}
			if !strings.Contains(se.Msg, tc.msg) || se.Line != tc.line || se.Col != tc.col {
				t.Fatalf("got %q at line %d, col %d; want %q at line %d, col %d", se.Msg, se.Line, se.Col, tc.msg, tc.line, tc.col)
			}
		})
	}
}

func seg(text string, train bool) Segment { return Segment{Text: text, Train: train} }

func ptr[T any](v T) *T { return &v }

func fmtSegs(segs []Segment) string {
	var b strings.Builder
	for _, s := range segs {
		fmt.Fprintf(&b, "{%q %v} ", s.Text, s.Train)
	}
	return b.String()
}

func TestSegments(t *testing.T) {
	qa := []Message{{Role: "user", Content: "Q1"}, {Role: "assistant", Content: "A1"}, {Role: "user", Content: "Q2"}, {Role: "assistant", Content: "A2"}}
	tests := []struct {
		name     string
		template string // file in testdata/templates, or source when it contains "{"
		msgs     []Message
		vars     Vars
		want     []Segment
	}{
		{"chatml", "chatml", []Message{{Role: "system", Content: "S"}, {Role: "user", Content: "Q"}, {Role: "assistant", Content: "A"}}, Vars{}, []Segment{
			seg("<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n", false),
			seg("A<|im_end|>", true), seg("\n", false)}},
		{"llama3 trims the content", "llama3", []Message{{Role: "user", Content: "Q"}, {Role: "assistant", Content: "  A \n"}}, Vars{BOS: "<|begin_of_text|>"}, []Segment{
			seg("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nQ<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n", false),
			seg("A<|eot_id|>", true)}},
		{"llama3.1 system header", "llama3.1", qa[:2], Vars{BOS: "<|begin_of_text|>"}, []Segment{
			seg("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nQ1<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n", false),
			seg("A1<|eot_id|>", true)}},
		{"mistral v0.1 leaves the space after </s>", "mistral-v0.1", qa, Vars{BOS: "<s>", EOS: "</s>"}, []Segment{
			seg("<s>[INST] Q1 [/INST]", false), seg("A1</s>", true), seg(" [INST] Q2 [/INST]", false), seg("A2</s>", true), seg(" ", false)}},
		{"mistral v0.3 moves the system message", "mistral-v0.3", append([]Message{{Role: "system", Content: "S"}}, qa...), Vars{BOS: "<s>", EOS: "</s>"}, []Segment{
			seg("<s>[INST] Q1[/INST]", false), seg(" A1</s>", true), seg("[INST] Q2[/INST]", false), seg(" A2</s>", true)}},
		{"mistral v0.3 with the system message in the last user turn", "mistral-v0.3", []Message{{Role: "system", Content: "S"}, {Role: "user", Content: "Q1"}, {Role: "assistant", Content: "A1"}, {Role: "user", Content: "Q2"}}, Vars{BOS: "<s>", EOS: "</s>"}, []Segment{
			seg("<s>[INST] Q1[/INST]", false), seg(" A1</s>", true), seg("[INST] S\n\nQ2[/INST]", false)}},
		{"gemma", "gemma", qa[:2], Vars{BOS: "<bos>", EOS: "<eos>"}, []Segment{
			seg("<bos><start_of_turn>user\nQ1<end_of_turn>\n<start_of_turn>model\n", false), seg("A1<end_of_turn>", true), seg("\n", false)}},
		{"zephyr", "zephyr", qa[:2], Vars{EOS: "</s>"}, []Segment{
			seg("<|user|>\nQ1</s>\n<|assistant|>\n", false), seg("A1</s>", true), seg("\n", false)}},
		{"qwen1.5 omits the final <|im_end|>; EOS marks the others", "qwen1.5", qa, Vars{EOS: "<|im_end|>"}, []Segment{
			seg("<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\nQ1<|im_end|>\n<|im_start|>assistant\n", false),
			seg("A1<|im_end|>", true), seg("\n<|im_start|>user\nQ2<|im_end|>\n<|im_start|>assistant\n", false), seg("A2", true)}},
		{"internlm2 ends a finished conversation with EOS", "internlm2", qa[:2], Vars{BOS: "<s>", EOS: "</s>"}, []Segment{
			seg("<s><|im_start|>user\nQ1<|im_end|>\n<|im_start|>assistant\n", false), seg("A1<|im_end|>\n</s>", true)}},
		{"qwen3 trains reasoning of the last turn only", "qwen3",
			[]Message{{Role: "user", Content: "Q1"}, {Role: "assistant", Content: "<think>\nR1\n</think>\n\nA1"}, {Role: "user", Content: "Q2"}, {Role: "assistant", Content: "<think>\nR2\n</think>\n\nA2"}}, Vars{EOS: "<|im_end|>"}, []Segment{
				seg("<|im_start|>user\nQ1<|im_end|>\n<|im_start|>assistant\n", false), seg("A1<|im_end|>", true),
				seg("\n<|im_start|>user\nQ2<|im_end|>\n<|im_start|>assistant\n", false), seg("<think>\nR2\n</think>\n\nA2<|im_end|>", true), seg("\n", false)}},
		{"qwen3 trains the reasoning_content of the last turn only", "qwen3",
			[]Message{{Role: "user", Content: "Q1"}, {Role: "assistant", Content: "A1", ReasoningContent: ptr("R1")}, {Role: "user", Content: "Q2"}, {Role: "assistant", Content: "A2", ReasoningContent: ptr("R2")}}, Vars{EOS: "<|im_end|>"}, []Segment{
				seg("<|im_start|>user\nQ1<|im_end|>\n<|im_start|>assistant\n", false), seg("A1<|im_end|>", true),
				seg("\n<|im_start|>user\nQ2<|im_end|>\n<|im_start|>assistant\n", false), seg("<think>\nR2\n</think>\n\nA2<|im_end|>", true), seg("\n", false)}},
		{"qwen3 trains the empty think block the template adds", "qwen3", qa[:2], Vars{EOS: "<|im_end|>"}, []Segment{
			seg("<|im_start|>user\nQ1<|im_end|>\n<|im_start|>assistant\n", false), seg("<think>\n\n</think>\n\nA1<|im_end|>", true), seg("\n", false)}},
		{"qwen3 with enable_thinking=false prompts with the empty think block", "qwen3", qa[:2], Vars{EOS: "<|im_end|>", EnableThinking: ptr(false)}, []Segment{
			seg("<|im_start|>user\nQ1<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n", false), seg("A1<|im_end|>", true), seg("\n", false)}},
		{"qwen3 trains tool calls, not tool responses", "qwen3",
			[]Message{{Role: "user", Content: "Q"}, {Role: "assistant", ToolCalls: []json.RawMessage{[]byte(`{"type": "function", "function": {"name": "f", "arguments": {"x": 1}}}`)}}, {Role: "tool", Content: "R"}, {Role: "assistant", Content: "A"}}, Vars{EOS: "<|im_end|>"}, []Segment{
				seg("<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n", false), seg("<tool_call>\n{\"name\": \"f\", \"arguments\": {\"x\": 1}}\n</tool_call><|im_end|>", true),
				seg("\n<|im_start|>user\n<tool_response>\nR\n</tool_response><|im_end|>\n<|im_start|>assistant\n", false), seg("<think>\n\n</think>\n\nA<|im_end|>", true), seg("\n", false)}},
		{"qwen3 thinking-2507 prompts with <think>, trains the reasoning after it", "qwen3-thinking-2507",
			[]Message{{Role: "user", Content: "Q1"}, {Role: "assistant", Content: "A1", ReasoningContent: ptr("R1")}}, Vars{EOS: "<|im_end|>"}, []Segment{
				seg("<|im_start|>user\nQ1<|im_end|>\n<|im_start|>assistant\n<think>\n", false), seg("R1\n</think>\n\nA1<|im_end|>", true), seg("\n", false)}},
		{"empty assistant content", "chatml", []Message{{Role: "user", Content: "Q"}, {Role: "assistant", Content: ""}}, Vars{}, []Segment{
			seg("<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n", false), seg("<|im_end|>", true), seg("\n", false)}},
		{"content that looks like a sentinel", "chatml", []Message{{Role: "user", Content: "Q"}, {Role: "assistant", Content: "\uE0000\uE001\uE001"}}, Vars{}, []Segment{
			seg("<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n", false), seg("\uE0000\uE001\uE001<|im_end|>", true), seg("\n", false)}},
		{"no assistant message", "chatml", []Message{{Role: "user", Content: "Q"}}, Vars{AddGenerationPrompt: true}, []Segment{
			seg("<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n", false)}},
		{"generation blocks decide", "{% for m in messages %}[{{ m.role }}]{% if m.role == 'assistant' %}{% generation %}{{ m.content }}<end>{% endgeneration %}{% else %}{{ m.content }}{% endif %}\n{% endfor %}",
			qa[:2], Vars{}, []Segment{seg("[user]Q1[assistant]", false), seg("A1<end>", true)}},
		{"nested generation blocks merge", "{% for m in messages %}{{ m.content }}{% generation %}<{% generation %}{{ m.role }}{% endgeneration %}>{% endgeneration %}{% endfor %}",
			qa[:2], Vars{}, []Segment{seg("Q1", false), seg("<user>", true), seg("A1", false), seg("<assistant>", true)}},
		{"uppercased content", "{% for m in messages %}{{ m.role }}: {{ m.content | upper }}.\n{% endfor %}",
			qa[:2], Vars{}, []Segment{seg("user: Q1.\nassistant:", false), seg(" A1.", true), seg("\n", false)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var tmpl *Template
			if strings.Contains(tc.template, "{") {
				var err error
				if tmpl, err = Parse(tc.template); err != nil {
					t.Fatal(err)
				}
			} else {
				tmpl = loadTemplate(t, tc.template)
			}
			got, err := tmpl.Segments(tc.msgs, tc.vars)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got  %s\nwant %s", fmtSegs(got), fmtSegs(tc.want))
			}
			rendered, err := tmpl.Render(tc.msgs, tc.vars)
			if err != nil {
				t.Fatal(err)
			}
			if !tmpl.hasGen { // generation blocks may mark anything
				checkSegments(t, tmpl, tc.msgs, tc.vars, rendered)
			}
		})
	}
}

func TestSegmentsErrors(t *testing.T) {
	tests := []struct{ name, src, msg string }{
		{"assistant dropped", "{% for m in messages if m.role != 'assistant' %}{{ m.content }}{% endfor %}", "0 times"},
		{"assistant copied twice", "{% for m in messages %}{{ m.content }}{{ m.content }}{% endfor %}", "2 times"},
		{"raise_exception", "{% for m in messages %}{% if m.role == 'system' %}{{ raise_exception('no system') }}{% endif %}{% endfor %}", "no system"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tmpl, err := Parse(tc.src)
			if err != nil {
				t.Fatal(err)
			}
			_, err = tmpl.Segments(testConversation, Vars{})
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %v, want an error containing %q", err, tc.msg)
			}
		})
	}
}

// TestChatML checks the built-in template against the layout the data
// package's hand-written fallback produces.
func TestChatML(t *testing.T) {
	if got, want := ChatML().Source(), loadTemplate(t, "chatml").Source(); got != want {
		t.Fatalf("ChatML source %q differs from testdata/templates/chatml.jinja %q", got, want)
	}
	msgs := []Message{{Role: "user", Content: "hi"}, {Role: "assistant", Content: "yo"}}
	segs, err := ChatML().Segments(msgs, Vars{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Segment{seg("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n", false), seg("yo<|im_end|>", true), seg("\n", false)}
	if !reflect.DeepEqual(segs, want) {
		t.Fatalf("got %s, want %s", fmtSegs(segs), fmtSegs(want))
	}
	got, err := ChatML().Render(msgs[:1], Vars{AddGenerationPrompt: true})
	if err != nil || got != "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n" {
		t.Fatalf("generation prompt: got %q, %v", got, err)
	}
}

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name, config string
		want         string // rendered test conversation, or error substring
		err          bool
	}{
		{"string", `{"chat_template": "{{ messages | length }}", "bos_token": "<s>"}`, "4", false},
		{"list with default", `{"chat_template": [{"name": "tool_use", "template": "T"}, {"name": "default", "template": "D{{ bos_token }}"}]}`, "D<s>", false},
		{"list without default", `{"chat_template": [{"name": "tool_use", "template": "T"}]}`, "no template named \"default\"", true},
		{"missing", `{"bos_token": "<s>"}`, "no chat_template", true},
		{"null", `{"chat_template": null}`, "no chat_template", true},
		{"empty", `{"chat_template": ""}`, "no chat_template", true},
		{"wrong type", `{"chat_template": 7}`, "want a string or a list", true},
		{"bad JSON", `{"chat_template": `, "tokenizer config", true},
		{"bad template", `{"chat_template": "{% macro x() %}{% endmacro %}"}`, "unsupported tag {% macro %}", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tmpl, err := ParseConfig([]byte(tc.config))
			if tc.err {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("got %v, want an error containing %q", err, tc.want)
				}
				if strings.Contains(tc.want, "no ") && !errors.Is(err, ErrNoTemplate) {
					t.Fatalf("got %v, want ErrNoTemplate", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := tmpl.Render(testConversation, testVars)
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestLimits(t *testing.T) {
	defer func(o, s, i int) { maxOutput, maxSteps, maxItems = o, s, i }(maxOutput, maxSteps, maxItems)
	maxOutput, maxSteps, maxItems = 1000, 10000, 100
	tests := []struct{ name, src, msg string }{
		{"output", "{% for i in range(50) %}{{ 'x' * 50 }}{% endfor %}", "output larger than 1000 bytes"},
		{"steps", "{% for i in range(100) %}{% for j in range(100) %}{% endfor %}{% endfor %}", "too many steps"},
		{"range", "{{ range(1000) | length }}", "range longer than 100"},
		{"repetition", "{{ 'ab' * 1000 }}", "string longer than 1000 bytes"},
		{"list repetition", "{{ [1, 2] * 1000 }}", "list longer than 100 items"},
		{"doubling", "{% set ns = namespace(s='ab') %}{% for i in range(20) %}{% set ns.s = ns.s + ns.s %}{% endfor %}", "string longer than 1000 bytes"},
		{"shared nesting", "{% set ns = namespace(l=[1]) %}{% for i in range(60) %}{% set ns.l = [ns.l, ns.l] %}{% endfor %}{{ ns.l }}", "larger than 1000 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tmpl, err := Parse(tc.src)
			if err != nil {
				t.Fatal(err)
			}
			_, err = tmpl.Render(testConversation, testVars)
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %v, want an error containing %q", err, tc.msg)
			}
		})
	}
}

func TestPyFloat(t *testing.T) {
	for f, want := range map[float64]string{
		0: "0.0", 1: "1.0", -2.5: "-2.5", 0.1: "0.1", 1e16: "1e+16", 1.5e16: "1.5e+16", 1e15: "1000000000000000.0",
		0.0001: "0.0001", 0.00001: "1e-05", 123.456: "123.456", 1e-300: "1e-300",
	} {
		if got := pyFloat(f); got != want {
			t.Errorf("pyFloat(%v) = %q, want %q", f, got, want)
		}
	}
}

// BenchmarkSegments measures masking a 10-turn conversation with the
// Llama 3.1 template, as data loading does for every example.
func BenchmarkSegments(b *testing.B) {
	src := loadTemplate(b, "llama3.1")
	var msgs []Message
	msgs = append(msgs, Message{Role: "system", Content: "You are a helpful assistant."})
	for i := 0; i < 5; i++ {
		msgs = append(msgs, Message{Role: "user", Content: strings.Repeat("question words ", 20)}, Message{Role: "assistant", Content: strings.Repeat("answer words ", 40)})
	}
	v := Vars{BOS: "<|begin_of_text|>", EOS: "<|eot_id|>"}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := src.Segments(msgs, v); err != nil {
			b.Fatal(err)
		}
	}
}

// TestMessageFields checks reasoning_content, tool_calls, tools and
// enable_thinking as templates see them: JSON decoded as json.loads does
// (key order kept, a repeated key in its first place with its last value,
// 1.0 a float), undefined where not set. The expected text is Jinja2
// 3.1.6's with transformers' tojson.
func TestMessageFields(t *testing.T) {
	tmpl, err := Parse("{{ messages[0].tool_calls | tojson }}|{{ messages[0].tool_calls[0].a.b[2] is float }} {{ messages[0].tool_calls[0].z is integer }} {{ messages[0].tool_calls[1] is string }}|{{ messages[0].tool_calls[0].a.b[3] }}|{{ tools[0] }} {{ tools | length }}|{{ enable_thinking }}|{{ messages[0].reasoning_content is defined }} {{ messages[1].reasoning_content }} {{ messages[1].tool_calls is defined }}")
	if err != nil {
		t.Fatal(err)
	}
	msgs := []Message{
		{Role: "assistant", ToolCalls: []json.RawMessage{
			[]byte(`{"z": 1, "a": {"y": null, "b": [true, false, 1.0, 2.5e3, -7, "é\n\"q\""]}, "z": 2}`),
			[]byte(`"{\"k\": 1}"`),
		}},
		{Role: "assistant", Content: "x", ReasoningContent: ptr("")},
	}
	v := Vars{Tools: []json.RawMessage{[]byte(`{"name": "f", "n": [1, null]}`)}, EnableThinking: ptr(false)}
	got, err := tmpl.Render(msgs, v)
	if err != nil {
		t.Fatal(err)
	}
	want := "[{\"z\": 2, \"a\": {\"y\": null, \"b\": [true, false, 1.0, 2500.0, -7, \"é\\n\\\"q\\\"\"]}}, \"{\\\"k\\\": 1}\"]|True True True|2500.0|{'name': 'f', 'n': [1, None]} 1|False|False  False"
	if got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}

	undef, err := Parse("{{ enable_thinking is defined }} {{ tools is defined }}")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := undef.Render(nil, Vars{}); err != nil || got != "False False" {
		t.Fatalf("got %q, %v; want enable_thinking and tools undefined", got, err)
	}
}

func TestMessageFieldsErrors(t *testing.T) {
	tmpl := ChatML()
	tests := []struct {
		name string
		msgs []Message
		v    Vars
		want string
	}{
		{"tool call not JSON", []Message{{Role: "user"}, {Role: "assistant", ToolCalls: []json.RawMessage{[]byte(`{}`), []byte(`{"a": }`)}}}, Vars{},
			"chat: message 1: tool_calls[1]: invalid JSON"},
		{"data after the tool call", []Message{{Role: "assistant", ToolCalls: []json.RawMessage{[]byte(`{} {}`)}}}, Vars{},
			"chat: message 0: tool_calls[0]: invalid JSON: data after the value"},
		{"integer out of range", []Message{{Role: "assistant", ToolCalls: []json.RawMessage{[]byte(`{"n": 99999999999999999999}`)}}}, Vars{},
			"integer 99999999999999999999 out of range"},
		{"tools not JSON", nil, Vars{Tools: []json.RawMessage{[]byte(`[`)}}, "chat: tools[0]: invalid JSON"},
		{"nested too deep", nil, Vars{Tools: []json.RawMessage{[]byte(strings.Repeat("[", maxNesting+2) + strings.Repeat("]", maxNesting+2))}}, "nested more than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tmpl.Render(tc.msgs, tc.v)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
			if _, err := tmpl.Segments(tc.msgs, tc.v); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Segments: got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

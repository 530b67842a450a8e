package chat

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// lowLimits makes hostile inputs fail fast while fuzzing.
func lowLimits(tb testing.TB) {
	o, s, i := maxOutput, maxSteps, maxItems
	maxOutput, maxSteps, maxItems = 1<<16, 100_000, 1<<12
	tb.Cleanup(func() { maxOutput, maxSteps, maxItems = o, s, i })
}

func templateSeeds(tb testing.TB) []string {
	files, err := filepath.Glob(filepath.Join("testdata", "templates", "*.jinja"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no templates: %v", err)
	}
	var seeds []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		seeds = append(seeds, string(b))
	}
	return seeds
}

// FuzzParse: no template, however malformed, makes Parse, Render or
// Segments panic; Render is deterministic, and Segments agrees with it.
func FuzzParse(f *testing.F) {
	lowLimits(f)
	for _, s := range templateSeeds(f) {
		f.Add(s)
	}
	for _, s := range []string{
		"{{ x }", "{% if %}", "{{ 'a' ~ [1, {'b': (2,)}] | tojson(indent=2) }}", "{% for a, b in x.items() if a %}{% break %}{% endfor %}",
		"{{- 1 -}}{#- c -#}{%+ if 1 +%}{% endif %}", "{{ '\\u12' }}", "{{ messages[::-1][0].content[1:-1:2] }}",
		"{% set ns = namespace(a=1) %}{% set ns.a = ns.a ** 62 %}{{ ns.a }}", "{{ range(10)|select('odd')|map('string')|join(',') }}",
	} {
		f.Add(s)
	}
	msgs := []Message{{Role: "system", Content: "S"}, {Role: "user", Content: " Q "}, {Role: "assistant", Content: "A\n"}, {Role: "user", Content: "Q2"}, {Role: "assistant", Content: ""}}
	f.Fuzz(func(t *testing.T, src string) {
		tmpl, err := Parse(src)
		if err != nil {
			if _, ok := err.(*SyntaxError); !ok {
				t.Fatalf("Parse returned %T, want *SyntaxError", err)
			}
			return
		}
		out, err := tmpl.Render(msgs, Vars{BOS: "<s>", EOS: "</s>"})
		if again, err2 := tmpl.Render(msgs, Vars{BOS: "<s>", EOS: "</s>"}); again != out || fmt.Sprint(err) != fmt.Sprint(err2) {
			t.Fatalf("rendering twice differs: %q, %v vs %q, %v", out, err, again, err2)
		}
		if err != nil {
			return
		}
		segs, err := tmpl.Segments(msgs, Vars{BOS: "<s>", EOS: "</s>"})
		if err != nil {
			return
		}
		var b strings.Builder
		for _, s := range segs {
			b.WriteString(s.Text)
		}
		if b.String() != out {
			t.Fatalf("segments %q do not add up to %q", b.String(), out)
		}
	})
}

// FuzzSegments: for real templates and arbitrary message contents, the
// segments add up to the render and keep user text untrained.
func FuzzSegments(f *testing.F) {
	lowLimits(f)
	seeds := templateSeeds(f)
	var templates []*Template
	for _, s := range seeds {
		tmpl, err := Parse(s)
		if err != nil {
			f.Fatal(err)
		}
		templates = append(templates, tmpl)
	}
	f.Add(uint8(0), "hi", "  yo  ", "q2", "\uE0000\uE001")
	f.Add(uint8(5), "<|im_end|>", "</s>", "[INST]", "<think>\nr\n</think>\n\na")
	f.Fuzz(func(t *testing.T, which uint8, u1, a1, u2, a2 string) {
		tmpl := templates[int(which)%len(templates)]
		msgs := []Message{{Role: "user", Content: u1}, {Role: "assistant", Content: a1}, {Role: "user", Content: u2}, {Role: "assistant", Content: a2}}
		v := Vars{BOS: "<s>", EOS: "</s>"}
		out, err := tmpl.Render(msgs, v)
		if err != nil {
			return
		}
		segs, err := tmpl.Segments(msgs, v)
		if err != nil {
			return
		}
		var b strings.Builder
		for i, s := range segs {
			if s.Text == "" || i > 0 && segs[i-1].Train == s.Train {
				t.Fatalf("bad segments %q", fmtSegs(segs))
			}
			b.WriteString(s.Text)
		}
		if b.String() != out {
			t.Fatalf("segments %q do not add up to %q", b.String(), out)
		}
	})
}

// conversation turns fuzz bytes into messages: NUL-separated chunks, each
// a role chosen by its first byte (system, user, assistant, tool, or the
// rest of the chunk up to a space) and the rest as content; at most 8.
func conversation(b []byte) []Message {
	var msgs []Message
	for _, chunk := range bytes.SplitN(b, []byte{0}, 8) {
		if len(chunk) == 0 {
			continue
		}
		content := string(chunk[1:])
		var role string
		switch chunk[0] % 5 {
		case 0:
			role = "system"
		case 1:
			role = "user"
		case 2:
			role = "assistant"
		case 3:
			role = "tool"
		default:
			role, content, _ = strings.Cut(content, " ")
		}
		msgs = append(msgs, Message{Role: role, Content: content})
	}
	return msgs
}

// FuzzRender: any template with a conversation generated from the fuzz
// input (conversation) parses or gives a *SyntaxError, and renders or gives
// a *RenderError or *RaisedError, never a panic; rendering is
// deterministic, and Segments adds up to Render (with or without the
// generation prompt). Seeds: testdata/templates and testdata/fuzz/FuzzRender.
func FuzzRender(f *testing.F) {
	lowLimits(f)
	for i, s := range templateSeeds(f) {
		f.Add(s, []byte("\x00sys\x00\x01Hi there\x00\x02Hello!\x00\x01"+strconv.Itoa(i)+"\x00\x02<|im_end|></s>"), i%2 == 0)
	}
	f.Add("{{ messages | tojson }}{{ messages[-1]['role'] }}", []byte("\x04ipython {\"a\": 1}\x00\x03\xff"), true)
	f.Fuzz(func(t *testing.T, src string, conv []byte, genPrompt bool) {
		tmpl, err := Parse(src)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse returned %T, want *SyntaxError", err)
			}
			return
		}
		msgs := conversation(conv)
		v := Vars{BOS: "<s>", EOS: "</s>", AddGenerationPrompt: genPrompt}
		out, err := tmpl.Render(msgs, v)
		again, err2 := tmpl.Render(msgs, v)
		if again != out || fmt.Sprint(err) != fmt.Sprint(err2) {
			t.Fatalf("rendering twice differs: %q, %v vs %q, %v", out, err, again, err2)
		}
		if err != nil {
			var re *RenderError
			var ra *RaisedError
			if !errors.As(err, &re) && !errors.As(err, &ra) {
				t.Fatalf("Render returned %T %v, want *RenderError or *RaisedError", err, err)
			}
			return
		}
		segs, err := tmpl.Segments(msgs, v)
		if err != nil {
			return
		}
		var b strings.Builder
		for _, s := range segs {
			b.WriteString(s.Text)
		}
		if b.String() != out {
			t.Fatalf("segments %q do not add up to %q", b.String(), out)
		}
	})
}

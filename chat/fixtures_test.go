package chat

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fixtures.json holds renders made by an independent implementation,
// @huggingface/jinja (see testdata/gen/gen.mjs).
// A case with a variant also sets enable_thinking or tools. Error is the
// message of raise_exception, or, with RenderError, of an error the
// template ran into by itself (its text is the JavaScript library's).
type fixtureCase struct {
	Template            string
	Conversation        string
	Variant             string
	BOS                 string            `json:"bos"`
	EOS                 string            `json:"eos"`
	AddGenerationPrompt bool              `json:"add_generation_prompt"`
	EnableThinking      *bool             `json:"enable_thinking"`
	Tools               []json.RawMessage `json:"tools"`
	Output              *string
	Error               *string
	RenderError         bool `json:"render_error"`
}

type fixtureFeature struct {
	Name, Source string
	Output       *string
	Error        *string
}

type fixtures struct {
	Generator     string
	Conversations map[string][]Message
	Cases         []fixtureCase
	Features      []fixtureFeature
}

func loadFixtures(t *testing.T) *fixtures {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "fixtures.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f fixtures
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Cases) == 0 || len(f.Features) == 0 || len(f.Conversations) == 0 {
		t.Fatal("fixtures.json is empty")
	}
	return &f
}

func loadTemplate(t testing.TB, name string) *Template {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", "templates", name+".jinja"))
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := Parse(string(src))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return tmpl
}

// jsDeviations are where @huggingface/jinja departs from Python's Jinja2,
// which transformers uses: in the cases whose name starts with prefix, the
// expected output is the fixture's with js replaced by jinja2. Its
// str.lstrip ignores the characters argument, so Qwen3's
// content.lstrip('\n') also strips spaces. testdata/gen/jinja2_check.py
// renders the cases with Jinja2 (3.1.6) and lists these differences.
var jsDeviations = []struct{ prefix, js, jinja2 string }{
	{"qwen3/whitespace/", "</think>\n\npadded answer", "</think>\n\n  padded answer"},
	{"qwen3-thinking-2507/whitespace/", "</think>\n\npadded answer", "</think>\n\n  padded answer"},
}

// expectedOutput is the output case name should render, from the fixture's.
func expectedOutput(t *testing.T, name, fixture string) string {
	t.Helper()
	for _, d := range jsDeviations {
		if strings.HasPrefix(name, d.prefix) {
			if !strings.Contains(fixture, d.js) {
				t.Fatalf("deviation %q: fixture %q lacks %q", d.prefix, fixture, d.js)
			}
			return strings.Replace(fixture, d.js, d.jinja2, 1)
		}
	}
	return fixture
}

func TestTemplateFixtures(t *testing.T) {
	f := loadFixtures(t)
	templates := map[string]*Template{}
	for _, c := range f.Cases {
		name := c.Template + "/" + c.Conversation
		if c.Variant != "" {
			name += "/" + c.Variant
		}
		if c.AddGenerationPrompt {
			name += "/true"
		} else {
			name += "/false"
		}
		t.Run(name, func(t *testing.T) {
			tmpl := templates[c.Template]
			if tmpl == nil {
				tmpl = loadTemplate(t, c.Template)
				templates[c.Template] = tmpl
			}
			msgs, ok := f.Conversations[c.Conversation]
			if !ok {
				t.Fatalf("unknown conversation %q", c.Conversation)
			}
			v := Vars{BOS: c.BOS, EOS: c.EOS, AddGenerationPrompt: c.AddGenerationPrompt, EnableThinking: c.EnableThinking, Tools: c.Tools}
			got, err := tmpl.Render(msgs, v)
			var want string
			if c.Output != nil {
				want = expectedOutput(t, name, *c.Output)
			}
			switch {
			case c.RenderError:
				var re *RenderError
				if !errors.As(err, &re) {
					t.Fatalf("got %q, %v; want a *RenderError like %q", got, err, *c.Error)
				}
				return
			case c.Error != nil:
				var re *RaisedError
				if !errors.As(err, &re) || re.Message != *c.Error {
					t.Fatalf("got %q, %v; want raise_exception(%q)", got, err, *c.Error)
				}
				return
			case err != nil:
				t.Fatalf("unexpected error: %v", err)
			case got != want:
				t.Fatalf("got  %q\nwant %q", got, want)
			}
			checkSegments(t, tmpl, msgs, v, got)
		})
	}
}

// checkSegments checks the invariants of Segments: the texts concatenate
// to the render, alternate in Train and are not empty, and every assistant
// message's text is inside a trained segment while no other message's
// content (when it does not occur in an assistant message) is trained.
func checkSegments(t *testing.T, tmpl *Template, msgs []Message, v Vars, rendered string) {
	t.Helper()
	segs, err := tmpl.Segments(msgs, v)
	if err != nil {
		t.Fatalf("Segments: %v", err)
	}
	var all, trained strings.Builder
	for i, s := range segs {
		if s.Text == "" {
			t.Fatalf("segment %d is empty", i)
		}
		if i > 0 && segs[i-1].Train == s.Train {
			t.Fatalf("segments %d and %d have the same Train", i-1, i)
		}
		all.WriteString(s.Text)
		if s.Train {
			trained.WriteString(s.Text)
			trained.WriteString("\x00")
		}
	}
	if all.String() != rendered {
		t.Fatalf("segments concatenate to %q, render is %q", all.String(), rendered)
	}
	for _, m := range msgs {
		c := strings.TrimSpace(m.Content)
		if c == "" {
			continue
		}
		if i := strings.LastIndex(c, "</think>"); i >= 0 { // templates may drop the reasoning
			c = strings.TrimSpace(c[i+len("</think>"):])
		}
		if m.Role == "assistant" && !strings.Contains(trained.String(), c) {
			t.Errorf("assistant content %q not in trained text %q", c, trained.String())
		}
		if m.Role != "assistant" && strings.Contains(trained.String(), c) {
			t.Errorf("%s content %q is trained: %q", m.Role, c, trained.String())
		}
	}
}

func TestFeatureFixtures(t *testing.T) {
	f := loadFixtures(t)
	msgs := f.Conversations["system"]
	for _, c := range f.Features {
		t.Run(c.Name, func(t *testing.T) {
			tmpl, err := Parse(c.Source)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			got, err := tmpl.Render(msgs, Vars{BOS: "<s>", EOS: "</s>", AddGenerationPrompt: true})
			switch {
			case c.Error != nil:
				var re *RaisedError
				if !errors.As(err, &re) || re.Message != *c.Error {
					t.Fatalf("got %q, %v; want raise_exception(%q)", got, err, *c.Error)
				}
			case err != nil:
				t.Fatalf("unexpected error: %v", err)
			case got != *c.Output:
				t.Fatalf("got  %q\nwant %q", got, *c.Output)
			}
		})
	}
}

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
type fixtureCase struct {
	Template            string
	Conversation        string
	BOS                 string `json:"bos"`
	EOS                 string `json:"eos"`
	AddGenerationPrompt bool   `json:"add_generation_prompt"`
	Output              *string
	Error               *string
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

// jsDeviations are the fixture cases where @huggingface/jinja departs from
// Python's Jinja2, which transformers uses: its str.lstrip ignores the
// characters argument, so Qwen3's content.lstrip('\n') also strips spaces.
// The expected values were checked with Jinja2 3.1.6.
var jsDeviations = map[string]string{
	"qwen3/whitespace/false": "<|im_start|>user\n  padded question \n<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n  padded answer  \n<|im_end|>\n",
	"qwen3/whitespace/true":  "<|im_start|>user\n  padded question \n<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n  padded answer  \n<|im_end|>\n<|im_start|>assistant\n",
}

func TestTemplateFixtures(t *testing.T) {
	f := loadFixtures(t)
	templates := map[string]*Template{}
	for _, c := range f.Cases {
		name := c.Template + "/" + c.Conversation
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
			v := Vars{BOS: c.BOS, EOS: c.EOS, AddGenerationPrompt: c.AddGenerationPrompt}
			got, err := tmpl.Render(msgs, v)
			want, deviates := jsDeviations[name]
			if !deviates && c.Output != nil {
				want = *c.Output
			}
			switch {
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

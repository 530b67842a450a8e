package chat

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestGemma3Template renders Gemma 3's chat template (the system message
// folded into the first user turn, `is string` and `is iterable` tests,
// a sliced message list, an inline if, `| trim`, raise_exception) over
// the fixture conversations and compares with Python Jinja2's renders
// (testdata/gemma3.json, written by testdata/gen/gemma3_jinja2.py).
func TestGemma3Template(t *testing.T) {
	var f struct {
		Template, BOS, EOS string
		Cases              []struct {
			Conversation        string
			AddGenerationPrompt bool `json:"add_generation_prompt"`
			Output, Error       *string
		}
	}
	data, err := os.ReadFile(filepath.Join("testdata", "gemma3.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	tmpl := loadTemplate(t, f.Template)
	convs := loadFixtures(t).Conversations
	for _, c := range f.Cases {
		got, err := tmpl.Render(convs[c.Conversation], Vars{BOS: f.BOS, EOS: f.EOS, AddGenerationPrompt: c.AddGenerationPrompt})
		switch {
		case c.Error != nil:
			var re *RaisedError
			if !errors.As(err, &re) || re.Message != *c.Error {
				t.Errorf("%s/%v: got %q, %v; want raise_exception(%q)", c.Conversation, c.AddGenerationPrompt, got, err, *c.Error)
			}
		case err != nil:
			t.Errorf("%s/%v: %v", c.Conversation, c.AddGenerationPrompt, err)
		case got != *c.Output:
			t.Errorf("%s/%v:\ngot  %q\nwant %q", c.Conversation, c.AddGenerationPrompt, got, *c.Output)
		}
	}
}

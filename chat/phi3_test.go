package chat

import "testing"

// TestPhi3Template: Phi-3-mini's template (testdata/templates/phi3.jinja)
// differs from Phi-3.5-mini's only in printing a system message whose
// content is empty, so on every fixture conversation (none has one) it
// renders what @huggingface/jinja rendered for phi3.5; with an empty
// system message it renders what Python's Jinja2 (3.1.2, configured as
// transformers configures it) renders.
func TestPhi3Template(t *testing.T) {
	f := loadFixtures(t)
	tmpl := loadTemplate(t, "phi3")
	n := 0
	for _, c := range f.Cases {
		if c.Template != "phi3.5" || c.Output == nil {
			continue
		}
		got, err := tmpl.Render(f.Conversations[c.Conversation], Vars{BOS: c.BOS, EOS: c.EOS, AddGenerationPrompt: c.AddGenerationPrompt})
		if err != nil || got != *c.Output {
			t.Errorf("%s (generation prompt %v): %q, %v; want %q", c.Conversation, c.AddGenerationPrompt, got, err, *c.Output)
		}
		n++
	}
	if n == 0 {
		t.Fatal("no phi3.5 fixture cases")
	}
	msgs := []Message{{Role: "system", Content: ""}, {Role: "user", Content: "Hi"}}
	for _, tc := range []struct {
		gen  bool
		want string
	}{
		{true, "<|system|>\n<|end|>\n<|user|>\nHi<|end|>\n<|assistant|>\n"},
		{false, "<|system|>\n<|end|>\n<|user|>\nHi<|end|>\n<|endoftext|>"},
	} {
		got, err := tmpl.Render(msgs, Vars{BOS: "<s>", EOS: "<|endoftext|>", AddGenerationPrompt: tc.gen})
		if err != nil || got != tc.want {
			t.Errorf("empty system message, generation prompt %v: %q, %v; want %q", tc.gen, got, err, tc.want)
		}
	}
}

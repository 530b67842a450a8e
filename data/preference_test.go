package data

import (
	"reflect"
	"strings"
	"testing"
)

func TestParsePairs(t *testing.T) {
	in := `{"prompt": "Q", "chosen": "ab", "rejected": "c", "id": 7}

{"prompt": [{"role": "user", "content": "hi"}], "chosen": [{"role": "assistant", "content": "yo"}], "rejected": [{"role": "assistant", "content": "no"}]}
`
	pairs, st, err := ParsePairs(strings.NewReader(in), "p.jsonl", enc, Options{TrainOnPrompt: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(pairs) != 2 || st.IgnoredLines != 1 || !reflect.DeepEqual(st.IgnoredKeys, []string{`"id"`}) {
		t.Fatalf("%d pairs, stats %+v", len(pairs), st)
	}
	// A string prompt: BOS + prompt, the completion and EOS; only the
	// completion and EOS trained (TrainOnPrompt does not apply).
	p := []int{1, 'Q' + 3}
	want := Pair{
		Chosen:   Example{IDs: cat(p, bytesOf("ab"), []int{2}), Labels: cat(masked(2), bytesOf("ab"), []int{2})},
		Rejected: Example{IDs: cat(p, bytesOf("c"), []int{2}), Labels: cat(masked(2), bytesOf("c"), []int{2})},
	}
	if !reflect.DeepEqual(pairs[0], want) {
		t.Errorf("string pair %+v, want %+v", pairs[0], want)
	}
	// A conversation: ChatML with the generation prompt, then the
	// assistant turn as the template ends it (no EOS added).
	prompt := bytesOf("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n")
	for side, text := range map[*Example]string{&pairs[1].Chosen: "yo", &pairs[1].Rejected: "no"} {
		c := bytesOf(text + "<|im_end|>\n")
		w := Example{IDs: cat(prompt, c), Labels: cat(masked(len(prompt)), c)}
		if !reflect.DeepEqual(*side, w) {
			t.Errorf("conversational side %q: %+v, want %+v", text, *side, w)
		}
	}
}

func TestParsePairsErrors(t *testing.T) {
	for _, tc := range []struct{ line, want string }{
		{`{"prompt": "a", "chosen": "b"}`, `p.jsonl:1: preference format without "rejected"`},
		{`{"prompt": "a", "chosen": 3, "rejected": "c"}`, `p.jsonl:1: chosen: want a string, got a number`},
		{`{"prompt": 1, "chosen": "b", "rejected": "c"}`, `p.jsonl:1: prompt: want a string, got a number or a list of messages`},
		{`{"prompt": "a", "chosen": "b", "rejected": ""}`, `p.jsonl:1: rejected is empty`},
		{`{"prompt": [{"role": "user", "content": "x"}], "chosen": "b", "rejected": []}`, `p.jsonl:1: chosen: want a list`},
		{`{"prompt": [{"role": "user", "content": "x"}], "chosen": [{"role": "bot", "content": "b"}], "rejected": []}`, `p.jsonl:1: chosen[0]: unknown role "bot"`},
		{`{"prompt": [{"role": "user"}], "chosen": [], "rejected": []}`, `p.jsonl:1: prompt[0]: want role and content`},
		{`[1]`, `p.jsonl:1: want a JSON object`},
	} {
		_, _, err := ParsePairs(strings.NewReader(tc.line), "p.jsonl", enc, Options{}, nil)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q…", tc.line, err, tc.want)
		}
	}
	_, _, err := ParsePairs(strings.NewReader(`{"prompt": "a", "chosen": "b", "rejected": "c", "x": 1}`), "p.jsonl", enc, Options{Strict: true}, nil)
	if err == nil || !strings.Contains(err.Error(), `p.jsonl:1: unknown key "x"`) {
		t.Errorf("strict: %v", err)
	}
}

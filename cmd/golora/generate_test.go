package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestGenerateSeedAndSystem: without --seed a random seed is drawn and
// printed, and --seed with it repeats the run; --system puts a system
// message before the prompt in the chat template; bad options are refused.
func TestGenerateSeedAndSystem(t *testing.T) {
	dir := tinyModelWithTokenizer(t)
	type result struct {
		PromptIDs []int `json:"prompt_ids"`
		IDs       []int `json:"ids"`
	}
	gen := func(args ...string) (result, string) {
		t.Helper()
		out, errs, code := golora(t, append([]string{"generate", "--model", dir, "--prompt", "the dog", "--max-tokens", "12", "--json", "--temperature", "5"}, args...)...)
		if code != 0 {
			t.Fatal(errs)
		}
		var r result
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		return r, errs
	}
	seedOf := func(errs string) uint64 {
		var s uint64
		if _, err := fmt.Sscanf(errs, "seed %d (--seed", &s); err != nil {
			t.Fatalf("no seed in stderr %q", errs)
		}
		return s
	}
	a, errsA := gen()
	b, errsB := gen()
	sa, sb := seedOf(errsA), seedOf(errsB)
	if sa == sb || slices.Equal(a.IDs, b.IDs) {
		t.Errorf("two runs without --seed: seeds %d %d, ids %v %v", sa, sb, a.IDs, b.IDs)
	}
	again, errs := gen("--seed", fmt.Sprint(sa))
	if !slices.Equal(again.IDs, a.IDs) || strings.Contains(errs, "seed ") {
		t.Errorf("--seed %d: %v, the first run drew %v (stderr %q)", sa, again.IDs, a.IDs, errs)
	}

	plain, _ := gen("--chat", "--seed", "1")
	sys, _ := gen("--chat", "--seed", "1", "--system", "be brief")
	if len(sys.PromptIDs) <= len(plain.PromptIDs) || slices.Equal(sys.PromptIDs[:len(plain.PromptIDs)], plain.PromptIDs) {
		t.Errorf("--system: prompt %v, without %v", sys.PromptIDs, plain.PromptIDs)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--system", "x"}, "--system is a message of the chat template"},
		{[]string{"--min-p", "1.5"}, "--min-p 1.5: want a number in [0, 1]"},
		{[]string{"--repetition-penalty", "0"}, "--repetition-penalty 0: want a positive number"},
	} {
		_, errs, code := golora(t, append([]string{"generate", "--model", dir, "--prompt", "x"}, tc.args...)...)
		if code == 0 || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, %s", tc.args, code, errs)
		}
	}
	// Both sampling options run end to end.
	gen("--min-p", "0.1", "--repetition-penalty", "1.3", "--seed", "2")
}

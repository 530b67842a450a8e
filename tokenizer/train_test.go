package tokenizer

import (
	"bytes"
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite testdata/trained/ (then run testdata/gen/gen.js)")

// trainCorpus makes a deterministic multilingual corpus of about n bytes.
func trainCorpus(n int) []byte {
	words := strings.Fields(`the of and to in is was for on that with as by at from it his an were are
		which this be or have had not but first one their its new after who they been has her she two
		been also would more about can time people year world said he we you I don't it's we'll they're
		Hello World Language Model training tokenizer merges bytes rank
		привет мир язык модель обучение это как для что
		日本語 中文 你好 世界 模型 学习 数据
		café naïve résumé Straße
		func main() { return nil } if err != nil { x := y[i] + 1 } // comment
		0 1 2 3 42 100 2024 3.14 1,000 50%`)
	syllables := strings.Fields("ka to ri mu sen dra vel in or an qu est pho lo gi ne ста ко ли ва 的 是 ing ed er")
	rng := rand.New(rand.NewPCG(1, 2))
	seps := []string{" ", " ", " ", " ", ", ", ". ", "\n", "  ", "\t", "! ", "? ", "\n\n"}
	var b bytes.Buffer
	for b.Len() < n {
		k := 5 + rng.IntN(40)
		for i := 0; i < k; i++ {
			if rng.IntN(3) == 0 { // an invented word, for a long tail
				for j := 1 + rng.IntN(4); j > 0; j-- {
					b.WriteString(syllables[rng.IntN(len(syllables))])
				}
			} else {
				b.WriteString(words[rng.IntN(len(words))])
			}
			b.WriteString(seps[rng.IntN(len(seps))])
		}
		if rng.IntN(8) == 0 {
			b.WriteString("😀 ")
		}
		b.WriteString("<|endoftext|>")
	}
	return b.Bytes()
}

var trainSpecials = []string{"<|endoftext|>", "<pad>"}

// TestTrainedFixture trains on a fixed corpus and checks the result is the
// committed testdata/trained/tokenizer.json, whose reference ids
// (testdata/trained/cases.json.gz) come from transformers.js loading that
// file: so the file is valid Hugging Face format and golora encodes with it
// exactly like an independent implementation. With -update the files are
// rewritten (run gen.js afterwards).
func TestTrainedFixture(t *testing.T) {
	tk, err := TrainByteLevel(trainCorpus(200_000), 1000, trainSpecials)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("testdata", "trained")
	if *update {
		if err := tk.Save(dir); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(tk.tokenizerJSON, want) {
		t.Fatalf("trained tokenizer.json differs from %s (training not deterministic, or changed: rerun with -update and gen.js)", dir)
	}
	loaded, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if loaded.VocabSize() != 1000 || loaded.BOS() != 998 || loaded.EOS() != 998 {
		t.Errorf("VocabSize %d BOS %d EOS %d, want 1000 998 998", loaded.VocabSize(), loaded.BOS(), loaded.EOS())
	}
	checkCases(t, loaded, loadCases(t, "trained"), nil)
}

func TestTrainRoundTrip(t *testing.T) {
	corpus := trainCorpus(50_000)
	tk, err := TrainByteLevel(corpus, 600, []string{"<s>", "</s>", "<pad>"})
	if err != nil {
		t.Fatal(err)
	}
	if tk.VocabSize() != 600 {
		t.Fatalf("VocabSize %d", tk.VocabSize())
	}
	if tk.BOS() != 597 || tk.EOS() != 598 {
		t.Fatalf("BOS %d EOS %d", tk.BOS(), tk.EOS())
	}
	dir := t.TempDir()
	if err := tk.Save(dir); err != nil {
		t.Fatal(err)
	}
	back, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{"", "Hello World", "привет мир 日本語 😀", "  a\n\n\tb  ", "<s>x</s><pad>", "unseen words zzz qqq"}
	for _, s := range texts {
		a, err := tk.Encode(s, true)
		if err != nil {
			t.Fatal(err)
		}
		b, err := back.Encode(s, true)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(a, b) {
			t.Errorf("%q: trained %v, reloaded %v", s, a, b)
		}
		for _, id := range a {
			if id < 0 || id >= 600 {
				t.Errorf("%q: id %d out of range", s, id)
			}
		}
		dec, err := back.Decode(a, false)
		if err != nil || dec != s {
			t.Errorf("Decode(Encode(%q)) = %q, %v", s, dec, err)
		}
	}
	// The merges compress the corpus.
	ids, _ := tk.Encode(string(corpus[:10000]), false)
	if len(ids) > 10000/2 {
		t.Errorf("10000 bytes of training text took %d tokens", len(ids))
	}
}

func TestTrainErrors(t *testing.T) {
	if _, err := TrainByteLevel([]byte("abc"), 100, nil); err == nil {
		t.Error("vocab below 256 accepted")
	}
	if _, err := TrainByteLevel([]byte("a\xffb"), 300, nil); err == nil {
		t.Error("invalid UTF-8 accepted")
	}
	if _, err := TrainByteLevel([]byte("abc"), 300, []string{"<s>", "<s>"}); err == nil {
		t.Error("duplicate special accepted")
	}
	// A tiny corpus runs out of pairs: the vocabulary is smaller.
	tk, err := TrainByteLevel([]byte("ab ab"), 1000, []string{"<|endoftext|>"})
	if err != nil {
		t.Fatal(err)
	}
	if tk.VocabSize() >= 1000 || !utf8.ValidString(tk.Token(256)) {
		t.Errorf("VocabSize %d", tk.VocabSize())
	}
}

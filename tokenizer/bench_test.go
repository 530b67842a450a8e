package tokenizer

import (
	"fmt"
	"strings"
	"testing"
)

func benchText() string {
	return strings.Repeat("The quick brown fox jumps over the lazy dog. It's 2024, and we've got 1,234 tokens!\n\tПривет мир 日本語 😀  \n", 200)
}

func benchEncode(b *testing.B, name string) {
	tk := loadFixture(b, name, nil)
	text := benchText()
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := tk.Encode(text, false); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeGPT2 measures encoding throughput (bytes of text per second).
func BenchmarkEncodeGPT2(b *testing.B) { benchEncode(b, "gpt2") }

// BenchmarkEncodeLlama2 measures SentencePiece-style BPE, where the whole
// text is one word for the model (too long for the word cache).
func BenchmarkEncodeLlama2(b *testing.B) { benchEncode(b, "llama2") }

// BenchmarkEncodeLlama3 measures the Split-regex pre-tokenizer.
func BenchmarkEncodeLlama3(b *testing.B) { benchEncode(b, "llama3") }

// BenchmarkEncodeQwen3 adds NFC normalization.
func BenchmarkEncodeQwen3(b *testing.B) { benchEncode(b, "qwen3") }

// BenchmarkRegexGPT2 measures the regex engine alone, on GPT-2's pattern.
func BenchmarkRegexGPT2(b *testing.B) {
	text := benchText()
	b.SetBytes(int64(len(text)))
	for i := 0; i < b.N; i++ {
		if _, err := gpt2Regex.findAll(text); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGPT2Split measures the hand-written GPT-2 splitter.
func BenchmarkGPT2Split(b *testing.B) {
	text := benchText()
	b.SetBytes(int64(len(text)))
	for i := 0; i < b.N; i++ {
		gpt2Split(text)
	}
}

// BenchmarkTrainByteLevel measures training on 1 MB of the synthetic corpus
// to 2048 tokens and on 3 MB to 4096 tokens, and reports seconds per MB of
// corpus.
func BenchmarkTrainByteLevel(b *testing.B) {
	for _, tc := range []struct{ mb, vocab int }{{1, 2048}, {3, 4096}} {
		b.Run(fmt.Sprintf("%dMB_%d", tc.mb, tc.vocab), func(b *testing.B) {
			corpus := trainCorpus(tc.mb << 20)
			b.SetBytes(int64(len(corpus)))
			for b.Loop() {
				tk, err := TrainByteLevel(corpus, tc.vocab, trainSpecials)
				if err != nil {
					b.Fatal(err)
				}
				if tk.VocabSize() != tc.vocab {
					b.Fatalf("VocabSize %d, want %d", tk.VocabSize(), tc.vocab)
				}
			}
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)/(float64(len(corpus))/(1<<20)), "s/MB")
		})
	}
}

package tokenizer

import (
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func splitStrings(t *testing.T, re *regex, s string) []string {
	t.Helper()
	ms, err := re.findAll(s)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, sp := range splitSpans(s, ms, behIsolated, false) {
		out = append(out, s[sp.start:sp.end])
	}
	return out
}

// TestGPT2Lookahead pins the behaviour of \s+(?!\S): a run of whitespace
// before a word gives up its last space to the word.
func TestGPT2Lookahead(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"Hello world", []string{"Hello", " world"}},
		{"Hello   world", []string{"Hello", "  ", " world"}},
		{"a  ", []string{"a", "  "}},
		{"a \n b", []string{"a", " \n", " b"}},
		{"a\n\nb", []string{"a", "\n", "\n", "b"}},
		{"a\t\tb", []string{"a", "\t", "\t", "b"}},
		{"   ", []string{"   "}},
		{" !", []string{" !"}},
		{"x  !", []string{"x", " ", " !"}},
		{"I'm", []string{"I", "'m"}},
		{"I'M", []string{"I", "'", "M"}},
		{"123 4567", []string{"123", " 4567"}},
		{"ab12", []string{"ab", "12"}},
		{"héllo wörld", []string{"héllo", " wörld"}},
		{"😀😀 x", []string{"😀😀", " x"}},
	} {
		if got := splitStrings(t, gpt2Regex, c.in); !slices.Equal(got, c.want) {
			t.Errorf("split(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestLlama3PatternCases(t *testing.T) {
	re := mustCompile(`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`)
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"I'M here", []string{"I", "'M", " here"}},
		{"WE'LL", []string{"WE", "'LL"}},
		{"1234567", []string{"123", "456", "7"}},
		{"a,\n\nb", []string{"a", ",\n\n", "b"}},
		{"x  \n  y", []string{"x", "  \n", " ", " y"}},
		{"$hello", []string{"$hello"}},
	} {
		if got := splitStrings(t, re, c.in); !slices.Equal(got, c.want) {
			t.Errorf("split(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestRegexAgainstGo compares leftmost-first matches with Go's regexp on
// patterns Go can run (no look-ahead), over random strings.
func TestRegexAgainstGo(t *testing.T) {
	patterns := []string{
		`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+`,
		`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+`,
		`[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|\p{N}{1,3}`,
		`a+?b|a*|b{2,3}c?`,
		`(ab|a)(bc|c)?`,
		`[a-c\pN]+|[\pL\pM\pN_]+|[^\pL\pM\pN_]`, // Go's \w, \d and \b are ASCII-only
		`x{0,2}y{1,}|(?:xy)*z`,
		`\s*\n|`, // an empty alternative: empty matches are skipped
		`.+?\.|.`,
		`(?i)ab|AC`,
		`[^a-z]+|[\x41-\x{5A}]`,
		`foo|o+`,
	}
	rng := rand.New(rand.NewPCG(3, 4))
	alphabet := []string{"a", "b", "c", "x", "y", "z", "A", "C", "1", "23", " ", "  ", "\n", "\r", "\t", "'", "'s", "'S", "'ll", ".", ",", "!", "é", "Ж", "日", "😀", "foo", "_"} // no U+00A0: Go's \s is ASCII-only
	for _, p := range patterns {
		mine, err := compileRegex(p)
		if err != nil {
			t.Fatalf("%q: %v", p, err)
		}
		goRe := regexp.MustCompile(p)
		for i := 0; i < 400; i++ {
			var b strings.Builder
			for j := rng.IntN(12); j > 0; j-- {
				b.WriteString(alphabet[rng.IntN(len(alphabet))])
			}
			s := b.String()
			got, err := mine.findAll(s)
			if err != nil {
				t.Fatal(err)
			}
			var want [][2]int
			for _, m := range goRe.FindAllStringIndex(s, -1) {
				if m[1] > m[0] { // findAll skips empty matches
					want = append(want, [2]int{m[0], m[1]})
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("pattern %q on %q: got %v, want %v", p, s, got, want)
			}
		}
	}
}

func TestRegexFeatures(t *testing.T) {
	for _, c := range []struct {
		pat, in string
		want    []string
	}{
		{`a(?=b)`, "abac", []string{"a"}},
		{`a(?!b)`, "abac", []string{"a"}},
		{`(?>a+)b`, "aaab", []string{"aaab"}},
		{`(?>a*)a`, "aaa", nil}, // atomic: never gives a back
		{`a*+a`, "aaa", nil},    // possessive, the same
		{`a++b`, "aab", []string{"aab"}},
		{`(?i:σ)`, "Σσς", []string{"Σ", "σ", "ς"}},
		{`(?i)k`, "kK\u212a", []string{"k", "K", "\u212a"}},
		{`[\p{Han}]+`, "ab日本c", []string{"日本"}},
		{`\p{^L}+`, "ab12c", []string{"12"}},
		{`\PL+`, "ab12c", []string{"12"}},
		{`[a\-z]+`, "a-zb", []string{"a-z"}},
		{`[]a]+`, "]a]b", []string{"]a]"}},
		{`\u0041\x42\x{43}`, "ABC", []string{"ABC"}},
		{`\#\&\~`, "#&~", []string{"#&~"}},
		{`(?m:.)+`, "a\nb", []string{"a\nb"}},
		{`.+`, "a\nb", []string{"a", "b"}},
		{`^a|b$`, "ab\nab", []string{"a", "b", "a", "b"}},
		{`\Aa|b\z`, "ab\nab", []string{"a", "b"}},
		{`a{,2}`, "aaa", []string{"aa", "a"}},
		{`x{2`, "x{2", []string{"x{2"}},
		{`(?<name>ab)`, "abab", []string{"ab", "ab"}},
		{`a(?#comment)b`, "ab", []string{"ab"}},
	} {
		re, err := compileRegex(c.pat)
		if err != nil {
			t.Errorf("%q: %v", c.pat, err)
			continue
		}
		ms, err := re.findAll(c.in)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range ms {
			got = append(got, c.in[m[0]:m[1]])
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%q on %q: got %q, want %q", c.pat, c.in, got, c.want)
		}
	}
}

func TestRegexErrors(t *testing.T) {
	for _, p := range []string{
		`(?<=a)b`, `(?<!a)b`, `(a)\1`, `(ab`, `ab)`, `[ab`, `a**`, `*a`, `\p{NoSuchThing}`,
		`a{3,2}`, `((a{1000}){1000}){1000}`, `(?x)a`, `(?z)`, `\q`, `a{2000}`, `(a*)*`, `(?:a?)+`, `[z-a]`, `\`, `[[:alpha:]]`, `[a&&b]`,
	} {
		if _, err := compileRegex(p); err == nil {
			t.Errorf("%q compiled, want an error", p)
		}
	}
}

// TestRegexBudget makes sure a catastrophic pattern fails instead of hanging.
func TestRegexBudget(t *testing.T) {
	re := mustCompile(`(a|aa)+b`)
	_, err := re.findAll(strings.Repeat("a", 60))
	if err == nil {
		t.Fatal("no error from an exponential match")
	}
}

// TestGPT2SplitMatchesRegex checks the hand-written GPT-2 splitter against
// the regex engine running the pattern, on the fixture texts and on random
// strings.
func TestGPT2SplitMatchesRegex(t *testing.T) {
	var texts []string
	for _, c := range loadCases(t, "gpt2") {
		texts = append(texts, c.Text)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	alphabet := []string{"a", "Z", "é", "Ж", "日", "1", "٣", "½", " ", " ", "\t", "\n", "\r", "\u00a0", "\u3000", "\u0085",
		"'", "s", "t", "re", "ve", "m", "ll", "d", "'S", ".", "!", "😀", "\u0301", "_", "-"}
	for i := 0; i < 3000; i++ {
		var b strings.Builder
		for j := rng.IntN(16); j > 0; j-- {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		texts = append(texts, b.String())
	}
	for _, s := range texts {
		want, err := gpt2Regex.findAll(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := gpt2Split(s); !slices.Equal(got, want) {
			t.Errorf("gpt2Split(%q) = %v, regex gives %v", s, got, want)
		}
	}
}

func FuzzGPT2Split(f *testing.F) {
	f.Add("Hello  world's 123 日本 \n\t x")
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return
		}
		want, err := gpt2Regex.findAll(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := gpt2Split(s); !slices.Equal(got, want) {
			t.Fatalf("gpt2Split(%q) = %v, regex gives %v", s, got, want)
		}
	})
}

package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// gpt2Split finds the matches of GPT-2's pattern
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// by hand, as a fast path for the ByteLevel pre-tokenizer and for training.
// It gives the same matches as the regex engine (TestGPT2SplitMatchesRegex):
// the alternatives are tried in order at each position, and \s+(?!\S) takes
// a whitespace run but leaves its last rune when a non-space follows, so
// that the next word keeps its leading space.
func gpt2Split(s string) [][2]int {
	out := make([][2]int, 0, len(s)/4+1)
	for i := 0; i < len(s); {
		end := gpt2MatchAt(s, i)
		out = append(out, [2]int{i, end})
		i = end
	}
	return out
}

type runeKind uint8

const (
	kindOther runeKind = iota
	kindSpace
	kindLetter
	kindNumber
)

// asciiKind classifies the ASCII runes.
var asciiKind = func() (k [128]runeKind) {
	for r := rune(0); r < 128; r++ {
		k[r] = classifyRune(r)
	}
	return k
}()

func classifyRune(r rune) runeKind {
	switch {
	case unicode.IsSpace(r):
		return kindSpace
	case unicode.IsLetter(r):
		return kindLetter
	case unicode.IsNumber(r):
		return kindNumber
	}
	return kindOther
}

func runeAt(s string, i int) (rune, int, runeKind) {
	if c := s[i]; c < utf8.RuneSelf {
		return rune(c), 1, asciiKind[c]
	}
	r, n := utf8.DecodeRuneInString(s[i:])
	return r, n, classifyRune(r)
}

// gpt2MatchAt returns the end of the match starting at i (i < len(s)); the
// pattern matches at every position.
func gpt2MatchAt(s string, i int) int {
	c := s[i]
	if c == '\'' && i+1 < len(s) {
		switch s[i+1] {
		case 's', 't', 'm', 'd':
			return i + 2
		case 'r', 'v':
			if i+2 < len(s) && s[i+2] == 'e' {
				return i + 3
			}
		case 'l':
			if i+2 < len(s) && s[i+2] == 'l' {
				return i + 3
			}
		}
	}
	// ` ?X+` for X in letters, numbers, others: an optional space, then a
	// run of one kind.
	j := i
	if c == ' ' && i+1 < len(s) {
		j = i + 1
	}
	_, n, k := runeAt(s, j)
	if k != kindSpace {
		end := j + n
		for end < len(s) {
			_, n2, k2 := runeAt(s, end)
			if k2 != k {
				break
			}
			end += n2
		}
		return end
	}
	// A whitespace run (s[i] is whitespace here: a lone ' ' before a
	// non-space was taken above).
	end, last := i, i
	for end < len(s) {
		_, n2, k2 := runeAt(s, end)
		if k2 != kindSpace {
			break
		}
		last = end
		end += n2
	}
	if end == len(s) || last == i {
		return end // \s+(?!\S) at the end of text, or \s+ for a single rune
	}
	return last // \s+(?!\S): give back the last whitespace rune
}

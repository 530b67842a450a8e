package tokenizer

import (
	"strings"
	"unicode/utf8"
)

// GPT-2's byte-to-unicode table: every byte gets a printable rune so that
// byte-level BPE can work on ordinary strings. The printable bytes '!'..'~',
// '¡'..'¬' and '®'..'ÿ' map to themselves; the other 68 bytes map, in
// increasing order, to U+0100, U+0101, ….
var (
	byteToRune [256]rune
	runeToByte = map[rune]byte{}
)

func init() {
	printable := func(b int) bool {
		return b >= '!' && b <= '~' || b >= 0xA1 && b <= 0xAC || b >= 0xAE && b <= 0xFF
	}
	n := 0
	for b := 0; b < 256; b++ {
		if printable(b) {
			byteToRune[b] = rune(b)
		} else {
			byteToRune[b] = rune(256 + n)
			n++
		}
		runeToByte[byteToRune[b]] = byte(b)
	}
}

// byteLevelEncode maps each byte of s to its rune in the table.
func byteLevelEncode(s string) string {
	var b strings.Builder
	b.Grow(len(s) * 2)
	for i := 0; i < len(s); i++ {
		b.WriteRune(byteToRune[s[i]])
	}
	return b.String()
}

// byteLevelDecodeToken maps the runes of one token back to bytes; a token
// with a rune outside the table is kept as its own UTF-8 bytes (as the Hugging
// Face ByteLevel decoder does, e.g. for added tokens).
func byteLevelDecodeToken(dst []byte, tok string) []byte {
	start := len(dst)
	for _, r := range tok {
		b, ok := runeToByte[r]
		if !ok {
			return append(dst[:start], tok...)
		}
		dst = append(dst, b)
	}
	return dst
}

// lossyUTF8 converts b to a string, replacing each maximal invalid sequence
// by U+FFFD the way Rust's String::from_utf8_lossy does.
func lossyUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var sb strings.Builder
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n <= 1 {
			// Rust replaces the longest prefix of a valid sequence by one
			// U+FFFD; Go's decoder reports one byte at a time, so skip the
			// continuation bytes that a valid lead byte announced.
			n = invalidPrefixLen(b)
			sb.WriteRune(utf8.RuneError)
			b = b[n:]
			continue
		}
		sb.Write(b[:n])
		b = b[n:]
	}
	return sb.String()
}

// invalidPrefixLen returns the length of the maximal prefix of b that
// starts a valid UTF-8 sequence but is cut short (at least 1).
func invalidPrefixLen(b []byte) int {
	c := b[0]
	var need int
	lo, hi := byte(0x80), byte(0xBF)
	switch {
	case c >= 0xC2 && c <= 0xDF:
		need = 1
	case c == 0xE0:
		need, lo = 2, 0xA0
	case c >= 0xE1 && c <= 0xEC, c == 0xEE, c == 0xEF:
		need = 2
	case c == 0xED:
		need, hi = 2, 0x9F
	case c == 0xF0:
		need, lo = 3, 0x90
	case c >= 0xF1 && c <= 0xF3:
		need = 3
	case c == 0xF4:
		need, hi = 3, 0x8F
	default:
		return 1
	}
	i := 1
	for ; i <= need && i < len(b); i++ {
		if b[i] < lo || b[i] > hi {
			break
		}
		lo, hi = 0x80, 0xBF
	}
	return i
}

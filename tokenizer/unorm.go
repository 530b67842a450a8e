package tokenizer

//go:generate python3 gen_unorm.py

import (
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// Unicode normalization (NFC, NFD, NFKC, NFKD) for the normalizers of
// tokenizer.json, as Go's standard library has none. The data comes from
// unorm_tables.go; the algorithm is that of UAX #15: full decomposition,
// canonical ordering of combining marks, then canonical composition for the
// C forms. Hangul syllables are handled algorithmically.

type normForm int

const (
	formNFC normForm = iota
	formNFD
	formNFKC
	formNFKD
)

type decompEntry struct {
	compat bool
	to     []rune
}

var (
	unormOnce sync.Once
	decompMap map[rune]decompEntry
	compMap   map[uint64]rune
)

func unormInit() {
	unormOnce.Do(func() {
		hex := func(s string) rune {
			v, err := strconv.ParseUint(s, 16, 32)
			if err != nil {
				panic("unorm tables: " + err.Error())
			}
			return rune(v)
		}
		decompMap = make(map[rune]decompEntry, 6000)
		for _, line := range strings.Split(strings.TrimSpace(unormDecomp), "\n") {
			f := strings.Fields(line)
			e := decompEntry{compat: f[1] == "k"}
			for _, h := range f[2:] {
				e.to = append(e.to, hex(h))
			}
			decompMap[hex(f[0])] = e
		}
		compMap = make(map[uint64]rune, 1000)
		for _, line := range strings.Split(strings.TrimSpace(unormComp), "\n") {
			f := strings.Fields(line)
			compMap[uint64(hex(f[1]))<<32|uint64(hex(f[2]))] = hex(f[0])
		}
	})
}

// combiningClass returns the canonical combining class of r.
func combiningClass(r rune) int32 {
	i := sort.Search(len(unormCCC), func(i int) bool { return unormCCC[i][1] >= r })
	if i < len(unormCCC) && unormCCC[i][0] <= r {
		return unormCCC[i][2]
	}
	return 0
}

const (
	hangulSBase  = 0xAC00
	hangulLBase  = 0x1100
	hangulVBase  = 0x1161
	hangulTBase  = 0x11A7
	hangulLCount = 19
	hangulVCount = 21
	hangulTCount = 28
	hangulNCount = hangulVCount * hangulTCount
	hangulSCount = hangulLCount * hangulNCount
)

func decomposeRune(dst []rune, r rune, compat bool) []rune {
	if r >= hangulSBase && r < hangulSBase+hangulSCount {
		s := r - hangulSBase
		dst = append(dst, hangulLBase+s/hangulNCount, hangulVBase+(s%hangulNCount)/hangulTCount)
		if t := s % hangulTCount; t != 0 {
			dst = append(dst, hangulTBase+t)
		}
		return dst
	}
	if e, ok := decompMap[r]; ok && (compat || !e.compat) {
		for _, c := range e.to {
			dst = decomposeRune(dst, c, compat)
		}
		return dst
	}
	return append(dst, r)
}

func composePair(a, b rune) (rune, bool) {
	if a >= hangulLBase && a < hangulLBase+hangulLCount && b >= hangulVBase && b < hangulVBase+hangulVCount {
		return hangulSBase + ((a-hangulLBase)*hangulVCount+(b-hangulVBase))*hangulTCount, true
	}
	if a >= hangulSBase && a < hangulSBase+hangulSCount && (a-hangulSBase)%hangulTCount == 0 &&
		b > hangulTBase && b < hangulTBase+hangulTCount {
		return a + (b - hangulTBase), true
	}
	c, ok := compMap[uint64(a)<<32|uint64(b)]
	return c, ok
}

// normalizeUnicode returns s in normalization form f.
func normalizeUnicode(f normForm, s string) string {
	compat := f == formNFKC || f == formNFKD
	// Fast path: text below these code points is unchanged.
	limit := rune(0x300) // NFC: Latin-1 letters are already composed
	switch f {
	case formNFD:
		limit = 0xC0
	case formNFKC, formNFKD:
		limit = 0xA0
	}
	quick := true
	for _, r := range s {
		if r >= limit {
			quick = false
			break
		}
	}
	if quick {
		return s
	}
	unormInit()
	rs := make([]rune, 0, utf8.RuneCountInString(s)+8)
	for _, r := range s {
		rs = decomposeRune(rs, r, compat)
	}
	// Canonical ordering: stable sort of each run of non-starters by class.
	for i := 1; i < len(rs); i++ {
		c := combiningClass(rs[i])
		if c == 0 {
			continue
		}
		for j := i; j > 0; j-- {
			p := combiningClass(rs[j-1])
			if p == 0 || p <= c {
				break
			}
			rs[j], rs[j-1] = rs[j-1], rs[j]
		}
	}
	if f == formNFC || f == formNFKC {
		out := rs[:0]
		starter := -1
		var last int32
		for _, r := range rs {
			c := combiningClass(r)
			if starter >= 0 {
				adjacent := len(out)-1 == starter
				if adjacent || (last != 0 && last < c) {
					if comp, ok := composePair(out[starter], r); ok {
						out[starter] = comp
						continue
					}
				}
			}
			if c == 0 {
				starter = len(out)
			}
			last = c
			out = append(out, r)
		}
		rs = out
	}
	return string(rs)
}

package tokenizer

import (
	"encoding/json"
	"path/filepath"
	"testing"
)

// TestUnicodeNormalization compares with Python's unicodedata.normalize
// (testdata/unorm_cases.json.gz, written by gen_unorm.py).
func TestUnicodeNormalization(t *testing.T) {
	var f struct {
		Version string `json:"version"`
		Cases   []struct {
			S, NFC, NFD, NFKC, NFKD string
		} `json:"cases"`
	}
	if err := json.Unmarshal(readGz(t, filepath.Join("testdata", "unorm_cases.json.gz")), &f); err != nil {
		t.Fatal(err)
	}
	if f.Version != unormVersion {
		t.Fatalf("cases are for Unicode %s, tables for %s", f.Version, unormVersion)
	}
	if len(f.Cases) < 1000 {
		t.Fatalf("only %d cases", len(f.Cases))
	}
	bad := 0
	for _, c := range f.Cases {
		for _, x := range []struct {
			form normForm
			name string
			want string
		}{{formNFC, "NFC", c.NFC}, {formNFD, "NFD", c.NFD}, {formNFKC, "NFKC", c.NFKC}, {formNFKD, "NFKD", c.NFKD}} {
			if got := normalizeUnicode(x.form, c.S); got != x.want {
				t.Errorf("%s(%+q) = %+q, want %+q", x.name, c.S, got, x.want)
				bad++
			}
		}
		if bad > 10 {
			t.FailNow()
		}
	}
}

// Package tokenizertest loads the tokenizer fixtures of tokenizer/testdata
// for other packages' tests.
package tokenizertest

import (
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/golora/golora/tokenizer"
)

// Load loads tokenizer/testdata/name (its gzipped tokenizer.json and
// tokenizer_config.json when present) from a temporary directory, which
// it returns too.
func Load(t testing.TB, name string) (*tokenizer.Tokenizer, string) {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	src := filepath.Join(filepath.Dir(file), "..", "testdata", name)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), Gunzip(t, filepath.Join(src, "tokenizer.json.gz")), 0o644); err != nil {
		t.Fatal(err)
	}
	if cfg, err := os.ReadFile(filepath.Join(src, "tokenizer_config.json")); err == nil {
		if err := os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), cfg, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return tok, dir
}

// Gunzip returns the contents of the gzipped file at path.
func Gunzip(t testing.TB, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

package demo

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// The demo's text ships with the Go toolchain: Newton's Opticks as prose
// and the standard library's Go sources as code.

// goroot finds the Go installation: $GOROOT, `go env GOROOT`, the
// directory above the bin/ that holds the `go` found on $PATH (symlinks
// resolved), or /usr/local/go. None of these depends on where this binary
// was built, so a copied binary finds the toolchain of the machine it runs on.
func goroot() (string, error) {
	var cands []string
	if g := os.Getenv("GOROOT"); g != "" {
		cands = append(cands, g)
	}
	if out, err := exec.Command("go", "env", "GOROOT").Output(); err == nil {
		cands = append(cands, strings.TrimSpace(string(out)))
	}
	if bin, err := exec.LookPath("go"); err == nil {
		if resolved, err := filepath.EvalSymlinks(bin); err == nil {
			cands = append(cands, filepath.Dir(filepath.Dir(resolved)))
		}
	}
	cands = append(cands, "/usr/local/go")
	for _, c := range cands {
		if c == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(c, "src", "testdata", "Isaac.Newton-Opticks.txt")); err == nil {
			return c, nil
		}
	}
	return "", fmt.Errorf("demo: cannot find the Go toolchain's sources (looked for src/testdata/Isaac.Newton-Opticks.txt under %s); set GOROOT", strings.Join(cands, ", "))
}

// corpus is the demo's text, split into the parts each model sees.
type corpus struct {
	prose, code []byte
}

// loadCorpus reads the Opticks (minus its Project Gutenberg header and
// licence) and up to codeBytes of Go sources from a fixed list of standard
// library packages, in a fixed order, so every run sees the same text.
func loadCorpus(root string, codeBytes int) (*corpus, error) {
	raw, err := os.ReadFile(filepath.Join(root, "src", "testdata", "Isaac.Newton-Opticks.txt"))
	if err != nil {
		return nil, err
	}
	prose := raw
	if i := bytes.Index(prose, []byte("OPTICKS:")); i >= 0 {
		prose = prose[i:]
	}
	if i := bytes.Index(prose, []byte("End of the Project Gutenberg")); i >= 0 {
		prose = prose[:i]
	}
	prose = bytes.ReplaceAll(prose, []byte("\r\n"), []byte("\n"))
	var code bytes.Buffer
	for _, pkg := range []string{"strings", "bytes", "sort", "strconv", "bufio", "container/list", "text/tabwriter", "unicode/utf8", "path", "errors", "math/bits", "encoding/csv", "encoding/hex", "flag"} {
		files, _ := filepath.Glob(filepath.Join(root, "src", pkg, "*.go"))
		sort.Strings(files)
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") || code.Len() >= codeBytes {
				continue
			}
			src, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			code.Write(stripLicense(src))
			code.WriteByte('\n')
		}
	}
	if code.Len() == 0 {
		return nil, fmt.Errorf("demo: no Go sources under %s/src", root)
	}
	return &corpus{prose: prose, code: code.Bytes()}, nil
}

// stripLicense drops the copyright comment at the top of a Go file.
func stripLicense(src []byte) []byte {
	for bytes.HasPrefix(src, []byte("//")) {
		i := bytes.IndexByte(src, '\n')
		if i < 0 {
			return nil
		}
		src = src[i+1:]
	}
	return bytes.TrimLeft(src, "\n")
}

// thirds cuts text into what the base model pretrains on (the first 45%),
// what a personality's adapter trains on (the next 45%, text the base has
// not seen) and a held-out tail (10%) for validation.
func thirds(text []byte) (base, adapter, held []byte) {
	a, b := len(text)*45/100, len(text)*90/100
	return text[:a], text[a:b], text[b:]
}

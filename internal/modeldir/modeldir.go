// Package modeldir writes Hugging Face model directories: atomically as a
// whole (built in a temporary directory beside the destination, then
// renamed), with the tokenizer, generation and chat template files of the
// model they were made from.
package modeldir

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/golora/golora/internal/atomicfile"
)

// Companions are the files besides config.json and the weights that make a
// model directory usable (tokenizer, generation settings, chat template).
var Companions = []string{"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
	"tokenizer.model", "generation_config.json", "vocab.json", "merges.txt", "chat_template.jinja"}

// CopyCompanions copies each of Companions that exists in from into to
// (none when from is a file, such as a GGUF model). A companion that
// exists but cannot be read is an error naming it.
func CopyCompanions(from, to string) error {
	if st, err := os.Stat(from); err == nil && !st.IsDir() {
		return nil
	}
	for _, name := range Companions {
		data, err := os.ReadFile(filepath.Join(from, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("companion file: %w", err)
		}
		if err := atomicfile.WriteFile(filepath.Join(to, name), data); err != nil {
			return err
		}
	}
	return nil
}

// Write creates the directory out with whatever fill writes into the
// directory it is given: a new temporary directory beside out, renamed to
// out once fill succeeds. A reader sees no out or the complete one; when
// fill fails the temporary directory is removed and out is not created.
// out must not exist or be an empty directory: Write never replaces files.
func Write(out string, fill func(dir string) error) (err error) {
	out = filepath.Clean(out)
	switch empty, serr := isEmptyDir(out); {
	case errors.Is(serr, fs.ErrNotExist):
	case serr != nil:
		return serr
	case !empty:
		return fmt.Errorf("%s exists and is not empty: choose a new output directory or remove it", out)
	}
	parent := filepath.Dir(out)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(out)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	if err = fill(tmp); err != nil {
		return &tempError{err, tmp, out}
	}
	if err = os.Chmod(tmp, 0o755); err != nil { // MkdirTemp makes it 0700
		return err
	}
	// Another writer may have made out meanwhile: an empty out is replaced,
	// a non-empty one never.
	if err = os.Remove(out); err == nil || errors.Is(err, fs.ErrNotExist) {
		err = os.Rename(tmp, out)
	}
	if err != nil {
		if empty, serr := isEmptyDir(out); serr == nil && !empty {
			return fmt.Errorf("%s was written by another process meanwhile: it is left as that process wrote it", out)
		}
		return err
	}
	if d, derr := os.Open(parent); derr == nil {
		d.Sync() // best effort, as in atomicfile
		d.Close()
	}
	return nil
}

// tempError is an error of writing into the temporary directory tmp,
// told as if of out: the files a user will look for.
type tempError struct {
	err      error
	tmp, out string
}

func (e *tempError) Error() string { return strings.ReplaceAll(e.err.Error(), e.tmp, e.out) }

func (e *tempError) Unwrap() error { return e.err }

// isEmptyDir reports whether path is a directory with no entries; a path
// that is not a directory is an error.
func isEmptyDir(path string) (bool, error) {
	d, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer d.Close()
	st, err := d.Stat()
	if err != nil {
		return false, err
	}
	if !st.IsDir() {
		return false, fmt.Errorf("%s exists and is not a directory", path)
	}
	if _, err := d.Readdirnames(1); err == io.EOF {
		return true, nil
	} else if err != nil {
		return false, err
	}
	return false, nil
}

// Same reports whether two paths name the same existing file or directory.
func Same(a, b string) bool {
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}

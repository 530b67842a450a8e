// Package atomicfile writes files so that a reader sees either the old
// content or the complete new content, never a half-written file: the data
// goes to a temporary file in the same directory, is fsynced, and is renamed
// over the destination, after which the directory is fsynced too.
package atomicfile

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Write atomically replaces path with whatever fill writes. If fill returns
// an error the destination is left untouched and the temporary file removed.
func Write(path string, fill func(w io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if pe, ok := err.(*fs.PathError); ok {
		err = pe.Err // it names the temporary file
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = fill(f); err != nil {
		return fmt.Errorf("write %s: %w", path, unwrapTemp(err, tmp))
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("write %s: sync: %w", path, unwrapTemp(err, tmp))
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("write %s: close: %w", path, unwrapTemp(err, tmp))
	}
	if err = os.Chmod(tmp, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if d, derr := os.Open(dir); derr == nil {
		d.Sync() // best effort: some filesystems refuse to sync a directory
		d.Close()
	}
	return nil
}

// unwrapTemp drops the temporary file's name from an error of an operation
// on it (a *fs.PathError such as "write .x.tmp-1: no space left on
// device"): the error names the destination instead.
func unwrapTemp(err error, tmp string) error {
	if pe, ok := err.(*fs.PathError); ok && pe.Path == tmp {
		return pe.Err
	}
	return err
}

// WriteFile atomically replaces path with data.
func WriteFile(path string, data []byte) error {
	return Write(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

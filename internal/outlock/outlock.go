// Package outlock gives one process at a time the right to write an output
// directory: Acquire takes an exclusive advisory lock (flock) on
// DIR/.golora.lock and records the holder's pid and command line in it, so
// that a second writer is refused with a message naming the first. The
// kernel drops the lock when its process ends, however it ends, so a lock
// left by a killed process does not block. Where flock does not exist (not
// unix) the holder is recorded but nothing is locked.
package outlock

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// FileName is the lock file inside the directory.
const FileName = ".golora.lock"

// Lock is a held lock; Release gives it up.
type Lock struct{ f *os.File }

// Acquire locks dir (which must exist) for this process. When another
// process holds it, the error names that process's pid and command line
// as it recorded them.
func Acquire(dir string) (*Lock, error) {
	path := filepath.Join(dir, FileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	held, err := lock(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if held {
		holder, _ := os.ReadFile(path)
		f.Close()
		return nil, fmt.Errorf("%s is being written by %s; wait for it to end or choose another output directory", dir, describe(holder))
	}
	rec := strconv.Itoa(os.Getpid()) + "\n" + strings.Join(os.Args, " ") + "\n"
	err = f.Truncate(0)
	if err == nil {
		_, err = f.WriteAt([]byte(rec), 0)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return &Lock{f}, nil
}

// describe renders a lock file's record ("pid\ncommand\n") for a message.
func describe(rec []byte) string {
	pid, cmd, _ := strings.Cut(strings.TrimSpace(string(rec)), "\n")
	if pid == "" {
		return "another process"
	}
	if cmd == "" {
		return "process " + pid
	}
	return fmt.Sprintf("process %s (%s)", pid, cmd)
}

// Release gives the lock up. The file stays: removing it could let a
// third process lock a new file while a second holds the old one.
func (l *Lock) Release() error { return l.f.Close() }

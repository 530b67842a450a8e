package mem

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"github.com/golora/golora/internal/human"
)

// MeminfoEnv names an environment variable that, when set, is read in
// place of /proc/meminfo (to check a container's share, or in tests).
const MeminfoEnv = "GOLORA_MEMINFO"

// Available returns MemAvailable of /proc/meminfo (or of the file
// $GOLORA_MEMINFO names) in bytes: the kernel's estimate of the memory a
// new program can take without swapping. ok is false where there is no
// such file (not Linux); a file without a readable MemAvailable line is
// an error naming it.
func Available() (bytes int64, path string, ok bool, err error) {
	path = os.Getenv(MeminfoEnv)
	if path == "" {
		path = "/proc/meminfo"
	}
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && os.Getenv(MeminfoEnv) == "" {
		return 0, path, false, nil
	}
	if err != nil {
		return 0, path, false, err
	}
	n, err := parseMemAvailable(raw)
	if err != nil {
		return 0, path, false, fmt.Errorf("%s: %w", path, err)
	}
	return n, path, true, nil
}

// parseMemAvailable reads the "MemAvailable:   123456 kB" line.
func parseMemAvailable(raw []byte) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "MemAvailable:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("MemAvailable line %q: want a number of kB", sc.Text())
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || kb < 0 {
			return 0, fmt.Errorf("MemAvailable line %q: want a number of kB", sc.Text())
		}
		return kb * 1024, nil
	}
	return 0, fmt.Errorf("no MemAvailable line")
}

// Check refuses a job whose predicted peak memory need (bytes) exceeds
// Available: the error gives both numbers, then advice (what to change)
// and that --force tries anyway. Where the available memory is unknown
// it passes.
func Check(need int64, advice string) error {
	avail, path, ok, err := Available()
	if err != nil {
		return err
	}
	if !ok || need <= avail {
		return nil
	}
	if advice != "" {
		advice += "; "
	}
	return fmt.Errorf("the predicted peak memory, %s, exceeds the %s available (MemAvailable in %s): %s--force tries anyway",
		human.Bytes(need), human.Bytes(avail), path, advice)
}

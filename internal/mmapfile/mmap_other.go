//go:build !unix

package mmapfile

import (
	"io"
	"os"
)

// Map reads the first size bytes of f into memory: the fallback where
// golora does not memory-map.
func Map(f *os.File, size int) ([]byte, func([]byte) error, error) {
	buf := make([]byte, size)
	if _, err := io.ReadFull(f, buf); err != nil {
		return nil, nil, err
	}
	return buf, func([]byte) error { return nil }, nil
}

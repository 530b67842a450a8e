//go:build !unix

package safetensors

import (
	"io"
	"os"
)

// mapFile reads the first size bytes of f into memory: the fallback where
// golora does not memory-map.
func mapFile(f *os.File, size int) ([]byte, func([]byte) error, error) {
	buf := make([]byte, size)
	if _, err := io.ReadFull(f, buf); err != nil {
		return nil, nil, err
	}
	return buf, func([]byte) error { return nil }, nil
}

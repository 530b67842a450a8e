package data

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"sort"
)

// parseLines runs parse on every non-blank line of r (a UTF-8 BOM at the
// start dropped) and returns the items it keeps, counting in st the keys
// it ignored and the items it truncated or dropped, or the first error as
// "name:line: what is wrong".
func parseLines[T any](r io.Reader, name string, st *Stats, parse func(line []byte) (T, lineInfo, error)) ([]T, error) {
	ignored := map[string]bool{}
	br := bufio.NewReader(r)
	var out []T
	for lineNo := 1; ; lineNo++ {
		line, err := br.ReadBytes('\n')
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("%s:%d: read: %w", name, lineNo, err)
		}
		if lineNo == 1 {
			line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf")) // UTF-8 BOM
		}
		if len(bytes.TrimSpace(line)) > 0 {
			item, l, perr := parse(line)
			if perr != nil {
				return nil, fmt.Errorf("%s:%d: %w", name, lineNo, perr)
			}
			if len(l.ignored) > 0 {
				st.IgnoredLines++
				for _, k := range l.ignored {
					ignored[k] = true
				}
			}
			switch {
			case l.dropped:
				st.Dropped++
			case l.truncated:
				st.Truncated++
				out = append(out, item)
			default:
				out = append(out, item)
			}
		}
		if err == io.EOF {
			break
		}
	}
	for k := range ignored {
		st.IgnoredKeys = append(st.IgnoredKeys, k)
	}
	sort.Strings(st.IgnoredKeys)
	return out, nil
}

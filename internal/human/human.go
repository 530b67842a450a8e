// Package human formats numbers for people: counts with thousands
// separators and byte sizes in binary units.
package human

import (
	"fmt"
	"strconv"
)

// Count writes n with thousands separators: 1234567 → "1,234,567".
func Count(n int) string {
	if n < 0 {
		return "-" + Count(-n)
	}
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// Bytes writes a byte count in binary units with three significant
// digits: 512 → "512 B", 3<<20 → "3 MiB", 3670016 → "3.5 MiB".
func Bytes(n int64) string {
	f := float64(n)
	for _, u := range []string{"B", "KiB", "MiB", "GiB", "TiB"} {
		if f < 1024 || u == "TiB" {
			if u == "B" {
				return fmt.Sprintf("%d B", n)
			}
			return fmt.Sprintf("%.3g %s", f, u)
		}
		f /= 1024
	}
	return ""
}

// Plural writes n and the noun, with an "s" added unless n is 1:
// Plural(1, "step") is "1 step", Plural(2, "step") "2 steps", Plural(0,
// "training run") "0 training runs".
func Plural(n int, noun string) string {
	if n != 1 {
		noun += "s"
	}
	return strconv.Itoa(n) + " " + noun
}

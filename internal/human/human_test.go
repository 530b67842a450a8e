package human

import "testing"

func TestFormats(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{Count(0), "0"}, {Count(999), "999"}, {Count(1000), "1,000"}, {Count(6738415616), "6,738,415,616"},
		{Count(-1234567), "-1,234,567"},
		{Plural(0, "step"), "0 steps"}, {Plural(1, "step"), "1 step"}, {Plural(2, "training run"), "2 training runs"},
		{Plural(-1, "step"), "-1 steps"}, {Plural(1234, "token"), "1234 tokens"},
		{Bytes(512), "512 B"}, {Bytes(3 << 20), "3 MiB"}, {Bytes(3670016), "3.5 MiB"}, {Bytes(5 << 40), "5 TiB"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

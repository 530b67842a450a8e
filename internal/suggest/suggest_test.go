package suggest

import "testing"

func TestDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		d    int
	}{{"", "abc", 3}, {"kitten", "sitting", 3}, {"rnak", "rank", 1}, {"ab", "ba", 1}, {"ca", "abc", 3}, {"√r", "r", 1}, {"same", "same", 0}} {
		if d := Distance(tc.a, tc.b); d != tc.d {
			t.Errorf("Distance(%q, %q) = %d, want %d", tc.a, tc.b, d, tc.d)
		}
	}
}

func TestNearest(t *testing.T) {
	names := []string{"rank", "alpha", "lr-schedule", "epochs", "batch-size", "learning_rate"}
	for _, tc := range []struct{ name, want string }{
		{"rnak", "rank"},
		{"rank2", "rank"},
		{"alpah", "alpha"},
		{"alfa", ""}, // two edits in four letters: not close
		{"lr-shedule", "lr-schedule"},
		{"epoch", "epochs"},
		{"lerning_rate", "learning_rate"},
		{"batch", ""},
		{"x", ""},
		{"learning-rate", "learning_rate"},
	} {
		if got := Nearest(tc.name, names); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

package model

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestPackedMatchesUnpacked: examples packed several to a row (positions
// restarting at each, attention confined to each) give the loss, target
// count and every gradient (base weights and LoRA factors) of the same
// examples one per row, up to float rounding: for RoPE models, a sliding
// window, head norms and GPT-2's learned positions, with and without
// gradient checkpointing, with query blocks smaller than an example.
func TestPackedMatchesUnpacked(t *testing.T) {
	for _, tc := range []struct {
		name, model string
		extra       map[string]any
	}{
		{"llama", "llama", nil},
		{"sliding-window", "mistral", map[string]any{"sliding_window": 3}},
		{"qwen3", "qwen3", nil},
		{"gpt2", "gpt2", nil},
		{"gemma3 local rope, sliding layers, soft-caps", "gemma3_text", map[string]any{"sliding_window": 3, "sliding_window_pattern": 2,
			"rope_local_base_freq": 100, "attn_logit_softcapping": 2, "final_logit_softcapping": 1.5}},
		{"phi3 partial rotary", "phi3", map[string]any{"head_dim": 8, "partial_rotary_factor": 0.5}},
	} {
		for _, rows := range []int{64, 2} {
			for _, ckpt := range []bool{false, true} {
				name := tc.name
				if rows != 64 {
					name += "-blocks"
				}
				if ckpt {
					name += "-checkpointed"
				}
				t.Run(name, func(t *testing.T) {
					defer func(r int) { attnRows = r }(attnRows)
					attnRows = rows
					testPackedMatchesUnpacked(t, tc.model, tc.extra, ckpt)
				})
			}
		}
	}
}

func testPackedMatchesUnpacked(t *testing.T, model string, extra map[string]any, ckpt bool) {
	r := rand.New(rand.NewPCG(41, 42))
	m := NewRandom(testConfig(t, model, extra), 0.3, 6)
	addRandomLoRA(m, "x", 2, 43)
	m.SetTrainable(func(string) bool { return true })
	var params []*Param
	for _, lin := range m.Linears() {
		for _, a := range lin.LoRA {
			a.A.SetTrainable(true)
			a.B.SetTrainable(true)
			params = append(params, a.A, a.B)
		}
	}
	params = append(params, m.Params()...)
	// Five examples; packed into rows of 12 in order: [5 3 | pad 4],
	// [7 2 | pad 3], [4 | pad 8].
	lens := []int{5, 3, 7, 2, 4}
	exs := make([][]int, len(lens))
	for i, n := range lens {
		for range n {
			exs[i] = append(exs[i], 1+r.IntN(18))
		}
	}
	const pad = 0
	// run returns the loss, targets and gradients, and the first layer's
	// queries after RoPE (without checkpointing), which depend on each
	// token and its position alone.
	run := func(s *State, ids, labels []int) (float64, int, [][]float32, []float32) {
		for _, p := range params {
			clear(p.Grad)
		}
		if err := m.Forward(s, ids); err != nil {
			t.Fatal(err)
		}
		sum, n, err := m.Loss(s, labels, 10)
		if err != nil {
			t.Fatal(err)
		}
		q := append([]float32(nil), s.cache(0).q...)
		m.Backward(s)
		var g [][]float32
		for _, p := range params {
			g = append(g, append([]float32(nil), p.Grad...))
		}
		return sum, n, g, q
	}
	state := func(B, T int) *State {
		if ckpt {
			return m.NewCheckpointedState(B, T)
		}
		return m.NewState(B, T, true)
	}
	// Unpacked: one example per row of 7, padded on the right.
	var ids, labels []int
	for _, e := range exs {
		for t := range 7 {
			if t < len(e) {
				ids, labels = append(ids, e[t]), append(labels, e[t])
			} else {
				ids, labels = append(ids, pad), append(labels, IgnoreIndex)
			}
		}
	}
	wantSum, wantN, want, wantQ := run(state(len(exs), 7), ids, labels)

	ids, labels = nil, nil
	var pos []int
	for _, row := range [][]int{{0, 1}, {2, 3}, {4}} {
		n := 0
		for _, i := range row {
			for t, id := range exs[i] {
				ids, pos = append(ids, id), append(pos, t)
				if t == 0 { // predicted by the previous example's last token
					labels = append(labels, IgnoreIndex)
				} else {
					labels = append(labels, id)
				}
			}
			n += len(exs[i])
		}
		for t := range 12 - n { // the tail: an example of its own, never trained
			ids, labels, pos = append(ids, pad), append(labels, IgnoreIndex), append(pos, t)
		}
	}
	s := state(3, 12)
	s.Positions = pos
	gotSum, gotN, got, gotQ := run(s, ids, labels)

	qd := m.Cfg.NumHeads * m.Cfg.HeadDim
	for i, n := range []int{0, 5, 12, 19, 24} { // each example's first token, packed
		if ckpt {
			break
		}
		for j := range lens[i] {
			w, g := wantQ[(i*7+j)*qd:(i*7+j+1)*qd], gotQ[(n+j)*qd:(n+j+1)*qd]
			if !slices.Equal(w, g) {
				t.Fatalf("example %d, token %d: packed queries differ", i, j)
			}
		}
	}

	if gotN != wantN || math.Abs(gotSum-wantSum) > 1e-5*math.Abs(wantSum) {
		t.Fatalf("packed loss %v over %d targets, unpacked %v over %d", gotSum, gotN, wantSum, wantN)
	}
	for i, p := range params {
		scale, diff := 0.0, 0.0
		for j := range want[i] {
			scale = max(scale, math.Abs(float64(want[i][j])))
			diff = max(diff, math.Abs(float64(got[i][j]-want[i][j])))
		}
		if diff > 1e-5*max(scale, 1e-3) {
			t.Errorf("%s: packed gradient differs by %g (largest %g)", p.Name, diff, scale)
		}
	}
}

// TestPositionsChecked: positions that do not describe packed rows, or a
// packed state decoding with a KV cache, are errors naming the token.
func TestPositionsChecked(t *testing.T) {
	m := NewRandom(testConfig(t, "llama", nil), 0.3, 6)
	s := m.NewState(2, 3, false)
	ids := []int{1, 2, 3, 4, 5, 6}
	for _, tc := range []struct {
		pos  []int
		want string
	}{
		{[]int{0, 1, 2, 0}, "4 positions for a state of 2×3"},
		{[]int{0, 1, 2, 1, 2, 0}, "position 1 at token 0 of row 1"},
		{[]int{0, 2, 0, 0, 1, 2}, "position 2 at token 1 of row 0"},
	} {
		s.Positions = tc.pos
		if err := m.Forward(s, ids); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("positions %v: error %v, want %q", tc.pos, err, tc.want)
		}
	}
	s.Positions = []int{0, 1, 0, 0, 1, 2}
	if err := m.Forward(s, ids); err != nil {
		t.Fatal(err)
	}
	p := m.NewState(1, 2, false)
	p.Positions = []int{0, 0}
	if err := m.Decode(p, m.NewCache(4), []int{1, 2}); err == nil || !strings.Contains(err.Error(), "KV cache") {
		t.Errorf("decode with positions: error %v", err)
	}
}

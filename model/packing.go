package model

import (
	"fmt"

	"github.com/golora/golora/tensor"
)

// Packing puts several examples into one row of a batch. State.Positions,
// when set, gives each of the N tokens its position within its example,
// as Hugging Face's position_ids do for packed sequences: 0 where an
// example begins (every row's first token), else the previous token's
// position + 1. Token t of a row then sees the keys [t − Positions[t], t]
// only (intersected with the sliding window), RoPE rotates it by
// Positions[t] and GPT-2 adds learned position Positions[t]: each example
// computes exactly what it computes alone at the start of a row, and the
// attention blocks never cross an example's boundary, so the other
// examples' keys are never computed.

// checkPositions returns an error unless s.Positions is nil or describes
// packed rows of s (see Packing) on a state without a KV cache.
func (s *State) checkPositions() error {
	p := s.Positions
	if p == nil {
		return nil
	}
	if s.kv != nil {
		return fmt.Errorf("forward: packed positions cannot be decoded with a KV cache")
	}
	if len(p) != s.N {
		return fmt.Errorf("forward: %d positions for a state of %d×%d", len(p), s.B, s.T)
	}
	for n, v := range p {
		if v != 0 && (n%s.T == 0 || v != p[n-1]+1) {
			return fmt.Errorf("forward: position %d at token %d of row %d: want 0 (an example begins) or the previous position + 1", v, n%s.T, n/s.T)
		}
	}
	return nil
}

// keyStart is the first key query i of row b may attend to in layer li:
// its sliding window's start and, packed, its example's first token.
func (s *State) keyStart(c *Config, li, b, i int) int {
	k := c.windowStart(li, s.pos0+i)
	if s.Positions != nil {
		k = max(k, i-s.Positions[b*s.T+i])
	}
	return k
}

// blockEnd ends the block of query rows attention computes together from
// row i0 of sequence b: attnRows rows, fewer at the end of the sequence
// and, packed, at the end of i0's example.
func (s *State) blockEnd(b, i0 int) int {
	i1 := min(i0+attnRows, s.T)
	if s.Positions != nil {
		p := s.Positions[b*s.T : (b+1)*s.T]
		for i := i0 + 1; i < i1; i++ {
			if p[i] == 0 {
				return i
			}
		}
	}
	return i1
}

// ropeRows is ropeRotate over rows [lo, hi) of x with the tables cos and
// sin at each row's position: pos0 + n mod T, or Positions[n] when packed.
func (s *State) ropeRows(x []float32, lo, hi, nh, D int, cos, sin []float32, dir float32) {
	if s.Positions == nil {
		ropeRotate(x, lo, hi, s.T, s.pos0, nh, D, s.rot, cos, sin, dir)
		return
	}
	w := nh * D
	for n := lo; n < hi; n++ {
		ropeRotate(x[n*w:(n+1)*w], 0, 1, 1, s.Positions[n], nh, D, s.rot, cos, sin, dir)
	}
}

// addPositions is posForward at each row's position (see ropeRows).
func (s *State) addPositions(x []float32, P tensor.Mat, row []float32) {
	if s.Positions == nil {
		posForward(x, P, s.T, s.pos0, row)
		return
	}
	C := P.Cols
	for n, p := range s.Positions {
		posForward(x[n*C:(n+1)*C], P, 1, p, row)
	}
}

// positionGrads is posBackward at each row's position (see ropeRows).
func (s *State) positionGrads(dP, dx []float32, C int) {
	if s.Positions == nil {
		posBackward(dP, dx, s.T, C)
		return
	}
	for n, p := range s.Positions {
		posBackward(dP[p*C:(p+1)*C], dx[n*C:(n+1)*C], 1, C)
	}
}

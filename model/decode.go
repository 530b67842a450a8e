package model

import "fmt"

// Cache holds the keys and values (after RoPE) of every layer for the
// positions decoded so far, for one sequence: generation then costs one
// token's forward pass per step instead of the whole prefix.
type Cache struct {
	k, v     [][]float32 // per layer (Max, KV·D)
	Len, Max int
	cos, sin []float32 // (Max, D/2)
	// the sliding layers' tables (Config.RopeLocalTheta), else nil
	cosL, sinL []float32 // (Max, D/2)
}

// NewCache makes an empty cache for sequences of up to max tokens.
func (m *Model) NewCache(max int) *Cache {
	c := &Cache{Max: max}
	kvd := m.Cfg.NumKVHeads * m.Cfg.HeadDim
	for range m.Layers {
		c.k = append(c.k, make([]float32, max*kvd))
		c.v = append(c.v, make([]float32, max*kvd))
	}
	c.cos, c.sin = m.Cfg.ropeTables(max)
	if m.Cfg.RopeLocalTheta > 0 {
		c.cosL, c.sinL = make([]float32, len(c.cos)), make([]float32, len(c.sin))
		m.Cfg.ropeLocalFill(c.cosL, c.sinL)
	}
	return c
}

// Reset empties the cache for a new sequence.
func (c *Cache) Reset() { c.Len = 0 }

// Decode runs ids (one sequence: s must be made with B = 1, T = len(ids),
// train false) at positions c.Len, c.Len+1, …, attending to everything in
// the cache, appends their keys and values, and leaves their logits in
// s.Logits. Prefill with the prompt, then decode one token at a time.
func (m *Model) Decode(s *State, c *Cache, ids []int) error {
	if s.B != 1 || s.train {
		return fmt.Errorf("decode: needs an inference state with one sequence")
	}
	if c.Len+len(ids) > c.Max {
		return fmt.Errorf("decode: %d cached + %d new tokens exceed the cache's %d", c.Len, len(ids), c.Max)
	}
	L := c.Len + s.T
	for i := range s.scores {
		if len(s.scores[i]) < s.T*L {
			s.scores[i] = make([]float32, s.T*c.Max)
		}
	}
	cos, sin, cosL, sinL := s.cos, s.sin, s.cosL, s.sinL
	s.kv, s.pos0, s.cos, s.sin, s.cosL, s.sinL = c, c.Len, c.cos, c.sin, c.cosL, c.sinL
	err := m.Forward(s, ids)
	s.kv, s.pos0, s.cos, s.sin, s.cosL, s.sinL = nil, 0, cos, sin, cosL, sinL
	if err == nil {
		c.Len = L
	}
	return err
}

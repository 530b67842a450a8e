package model

import (
	"fmt"
	"strconv"
)

// Cache holds the keys and values (after RoPE) of every layer for the
// positions decoded so far, for one sequence: generation then costs one
// token's forward pass per step instead of the whole prefix.
type Cache struct {
	k, v     [][]float32 // per layer (Max, KV·D)
	Len, Max int
	cos, sin []float32 // (Max, R/2): the RoPE tables of the factors in use
	// the sliding layers' tables (Config.RopeLocalTheta), else nil
	cosL, sinL []float32 // (Max, R/2)
	// With longrope, when Max > original_max_position_embeddings: the
	// tokens cached (Max), recomputed when the sequence crosses that bound
	// (Model.ropeSwitch), and whether the cache holds the long factors'
	// numbers.
	ids  []int
	long bool
	cfg  *Config
}

// NewCache makes an empty cache for sequences of up to max tokens: the
// CacheBytes(max) bytes of its buffers.
func (m *Model) NewCache(max int) *Cache {
	c := &Cache{Max: max, cfg: m.Cfg}
	kvd := m.Cfg.NumKVHeads * m.Cfg.HeadDim
	for range m.Layers {
		c.k = append(c.k, make([]float32, max*kvd))
		c.v = append(c.v, make([]float32, max*kvd))
	}
	c.cos, c.sin = m.Cfg.ropeTables(max, 0)
	if m.Cfg.RopeLocalTheta > 0 {
		c.cosL, c.sinL = make([]float32, len(c.cos)), make([]float32, len(c.sin))
		m.Cfg.ropeLocalFill(c.cosL, c.sinL)
	}
	if m.Cfg.ropeLong(max) {
		c.ids = make([]int, max)
	}
	return c
}

// CacheBytes is the size of a cache for max tokens: keys and values,
// 2·L·max·KV·D float32; the RoPE tables, 2·max·R/2 float32 (twice with
// Gemma 3's local tables); with longrope
// and max > original_max_position_embeddings, the max token ids.
func (c *Config) CacheBytes(max int) int64 {
	n := 2*int64(c.NumLayers)*int64(max)*int64(c.NumKVHeads*c.HeadDim)*4 + 2*int64(max)*int64(c.RotaryDim/2)*4
	if c.RopeLocalTheta > 0 {
		n += 2 * int64(max) * int64(c.RotaryDim/2) * 4
	}
	if c.ropeLong(max) {
		n += int64(max) * strconv.IntSize / 8
	}
	return n
}

// Reset empties the cache for a new sequence.
func (c *Cache) Reset() {
	c.Len = 0
	if c.long {
		c.long = false
		c.cfg.ropeFill(c.cos, c.sin, 0)
	}
}

// Decode runs ids (one sequence: s must be made with B = 1, T = len(ids),
// train false) at positions c.Len, c.Len+1, …, attending to everything in
// the cache, appends their keys and values, and leaves their logits in
// s.Logits. Prefill with the prompt, then decode one token at a time.
// With longrope, a call that takes the sequence past
// original_max_position_embeddings first recomputes the cached tokens
// with the long factors (Model.ropeSwitch).
func (m *Model) Decode(s *State, c *Cache, ids []int) error {
	if s.B != 1 || s.train {
		return fmt.Errorf("decode: needs an inference state with one sequence")
	}
	if c.Len+len(ids) > c.Max {
		return fmt.Errorf("decode: %d cached + %d new tokens exceed the cache's %d", c.Len, len(ids), c.Max)
	}
	if err := m.ropeSwitch(c, c.Len+len(ids)); err != nil {
		return err
	}
	return m.decode(s, c, ids)
}

// decode is Decode with the cache's RoPE factors as they are.
func (m *Model) decode(s *State, c *Cache, ids []int) error {
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
		if c.ids != nil {
			copy(c.ids[c.Len:], ids)
		}
		c.Len = L
	}
	return err
}

package data

import "math/bits"

// Permutation returns a permutation of 0..n-1: Fisher–Yates driven by a
// splitmix64 generator seeded with seed, the same on every run and
// platform, so a resumed run that derives the same seed (base seed and
// epoch) draws the same order.
func Permutation(n int, seed uint64) []int {
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	r := splitmix64{state: seed}
	for i := n - 1; i > 0; i-- {
		j := r.below(uint64(i + 1))
		order[i], order[j] = order[j], order[i]
	}
	return order
}

// splitmix64 is Steele, Lea and Flood's SplitMix64: state += 0x9e3779b97f4a7c15,
// then the state is mixed by two xor-shift-multiply rounds and a final
// xor-shift. Small, fast and the same everywhere.
type splitmix64 struct{ state uint64 }

func (r *splitmix64) next() uint64 {
	r.state += 0x9e3779b97f4a7c15
	z := r.state
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// below returns a uniform integer in [0, n), n > 0, by Lemire's
// multiply-and-reject method (no modulo bias).
func (r *splitmix64) below(n uint64) int {
	hi, lo := bits.Mul64(r.next(), n)
	if lo < n {
		thresh := -n % n // 2^64 mod n
		for lo < thresh {
			hi, lo = bits.Mul64(r.next(), n)
		}
	}
	return int(hi)
}

// PadID is the id written into padding positions (never trained on and,
// with right padding and causal attention, never attended to by real
// tokens): enc's EOS when it is one of the model's vocabSize ids, else 0.
func PadID(enc Encoder, vocabSize int) int {
	if e := enc.EOS(); e >= 0 && e < vocabSize {
		return e
	}
	return 0
}

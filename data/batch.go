package data

import "math/bits"

// Batches splits the indices 0..len(examples)-1 into batches of batchSize,
// the last one shorter when len(examples) is not a multiple (nothing is
// dropped). With shuffle the order is a Fisher–Yates permutation drawn from
// a splitmix64 generator seeded with seed, so it is the same on every run
// and platform: a resumed run that passes the same seed (e.g. base seed +
// epoch) sees the same batches. batchSize < 1 is taken as 1.
func Batches(examples []Example, batchSize int, shuffle bool, seed uint64) [][]int {
	batchSize = max(batchSize, 1)
	n := len(examples)
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	if shuffle {
		r := splitmix64{state: seed}
		for i := n - 1; i > 0; i-- {
			j := r.below(uint64(i + 1))
			order[i], order[j] = order[j], order[i]
		}
	}
	out := make([][]int, 0, (n+batchSize-1)/batchSize)
	for lo := 0; lo < n; lo += batchSize {
		hi := min(lo+batchSize, n)
		out = append(out, order[lo:hi:hi])
	}
	return out
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

// Pad right-pads a batch to its longest example, T = max len(IDs), and
// returns ids and labels as row-major [B][T] slices flattened to B·T:
// ids[b·T+t] = batch[b].IDs[t] for t < len, padID after; labels likewise
// with IgnoreIndex after. With right padding a causal model's real positions
// never attend to padding and the padding has no loss, so no attention mask
// is needed. An empty batch gives nil, nil, 0.
func Pad(batch []Example, padID int) (ids, labels []int, seqLen int) {
	for _, ex := range batch {
		seqLen = max(seqLen, len(ex.IDs))
	}
	if seqLen == 0 {
		return nil, nil, 0
	}
	ids = make([]int, len(batch)*seqLen)
	labels = make([]int, len(batch)*seqLen)
	for b, ex := range batch {
		row, lrow := ids[b*seqLen:(b+1)*seqLen], labels[b*seqLen:(b+1)*seqLen]
		n := copy(row, ex.IDs)
		for t := n; t < seqLen; t++ {
			row[t] = padID
		}
		m := copy(lrow, ex.Labels)
		for t := m; t < seqLen; t++ {
			lrow[t] = IgnoreIndex
		}
	}
	return ids, labels, seqLen
}

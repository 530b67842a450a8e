package quant

import (
	"math"
	"sort"
	"sync"
)

// nearestCode maps a float32 to the index of the nearest entry of a code
// book exactly as bitsandbytes' reference (PyTorch) quantizers do:
//
//	q(x) = argmin_i |x − code[i]|   distances in float32, lowest index on ties
//	q(NaN) = 0                      (torch.argmin of an all-NaN row)
//
// Because float32 rounding is monotone, the answer between two neighbouring
// code values switches exactly once, so the argmin is a search over
// precomputed switch points: q(x) = idx[k] where k = #{j : x > thr[j]}.
type nearestCode struct {
	thr []float32 // ascending; x > thr[k] moves the answer past idx[k]
	idx []byte    // code indices in ascending order of their values
}

func newNearestCode(code []float32) *nearestCode {
	type entry struct {
		v float32
		i byte
	}
	es := make([]entry, len(code))
	for i, v := range code {
		es[i] = entry{v, byte(i)}
	}
	sort.SliceStable(es, func(a, b int) bool { return es[a].v < es[b].v })
	// Equal values (0 and −0 included): only the lowest index can win.
	uniq := es[:1]
	for _, e := range es[1:] {
		last := &uniq[len(uniq)-1]
		if e.v == last.v {
			last.i = min(last.i, e.i)
			continue
		}
		uniq = append(uniq, e)
	}
	nc := &nearestCode{idx: make([]byte, len(uniq)), thr: make([]float32, len(uniq)-1)}
	for k, e := range uniq {
		nc.idx[k] = e.i
	}
	for k := range nc.thr {
		a, b := uniq[k], uniq[k+1]
		// upper(x): argmin of {a, b} is b. False at a.v, true at b.v and
		// monotone in between; find the last x where it is false.
		upper := func(x float32) bool {
			da, db := abs32(x-a.v), abs32(x-b.v)
			return db < da || (db == da && b.i < a.i)
		}
		lo, hi := orderKey(a.v), orderKey(b.v) // upper(lo) false, upper(hi) true
		for hi-lo > 1 {
			mid := lo + (hi-lo)/2
			if upper(fromOrderKey(mid)) {
				hi = mid
			} else {
				lo = mid
			}
		}
		nc.thr[k] = fromOrderKey(lo)
	}
	return nc
}

func (nc *nearestCode) quantize(x float32) byte {
	if x != x {
		return 0
	}
	lo, hi := 0, len(nc.thr)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if x > nc.thr[mid] {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return nc.idx[lo]
}

// orderKey maps float32 to uint32 so that a < b ⇔ key(a) < key(b)
// (for non-NaN values; −0 sorts just below +0).
func orderKey(f float32) uint32 {
	b := math.Float32bits(f)
	if b>>31 != 0 {
		return ^b
	}
	return b | 1<<31
}

func fromOrderKey(k uint32) float32 {
	if k>>31 != 0 {
		return math.Float32frombits(k &^ (1 << 31))
	}
	return math.Float32frombits(^k)
}

var (
	nf4Nearest = sync.OnceValue(func() *nearestCode { c := NF4.StoredQuantMap(); return newNearestCode(c[:]) })
	fp4Nearest = sync.OnceValue(func() *nearestCode { c := FP4.StoredQuantMap(); return newNearestCode(c[:]) })
	dynNearest = sync.OnceValue(func() *nearestCode { c := DynamicMap(); return newNearestCode(c[:]) })
)

func nearest4(t Type) *nearestCode {
	if t == FP4 {
		return fp4Nearest()
	}
	return nf4Nearest()
}

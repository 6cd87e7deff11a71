package pseudonymize

import (
	"bytes"
	"hash/maphash"
)

// The pseudonym cache. Within a Firehose batch the same values recur across
// events — user, session and network ids, IP addresses, URLs, page titles,
// project and namespace ids, host names — and an HMAC costs ~140 ns while a
// cache probe costs a hash and a compare. Each worker keeps a direct-mapped
// table of recent values and their pseudonyms: a probe either matches the
// exact bytes (same key, so the same pseudonym) or the slot is overwritten.
// Memory is fixed: memoSlots × (memoMaxValue + 65) bytes per worker.
const (
	memoSlots    = 4096 // power of two
	memoMaxValue = 96   // longer values are not cached
	hexLen       = 64
)

type memo struct {
	seed maphash.Seed
	lens [memoSlots]uint8 // value length + 1; 0 is an empty slot
	vals [memoSlots * memoMaxValue]byte
	hexs [memoSlots * hexLen]byte
}

func newMemo() *memo { return &memo{seed: maphash.MakeSeed()} }

// lookup appends v's pseudonym to dst, from the table or from compute.
func (m *memo) lookup(dst, v []byte, compute func(dst, v []byte) []byte) []byte {
	s := int(maphash.Bytes(m.seed, v) & (memoSlots - 1))
	val := m.vals[s*memoMaxValue : s*memoMaxValue+len(v)]
	hx := m.hexs[s*hexLen : (s+1)*hexLen]
	if int(m.lens[s]) == len(v)+1 && bytes.Equal(val, v) {
		return append(dst, hx...)
	}
	n := len(dst)
	dst = compute(dst, v)
	copy(val, v)
	copy(hx, dst[n:])
	m.lens[s] = uint8(len(v) + 1)
	return dst
}

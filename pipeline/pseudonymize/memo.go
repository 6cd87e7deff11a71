package pseudonymize

import (
	"bytes"
	"hash/maphash"
)

// The pseudonym cache. Within a Firehose batch the same values recur across
// events — user, session and network ids, IP addresses, URLs, page titles,
// project and namespace ids, host names — and an HMAC costs ~140 ns while a
// cache probe costs a hash and a compare or two. Each long-lived worker
// keeps a table of recent values and their pseudonyms; a value may sit in
// one of two slots chosen by its hash (two-choice hashing keeps collisions
// from evicting hot values). A hit requires the exact bytes, and the key
// never changes, so a hit is always the right pseudonym.
// Memory is fixed: memoSlots × 160 bytes ≈ 2.6 MB per worker.
const (
	memoSlots    = 16384 // power of two
	memoMaxValue = 95    // longer values are not cached
	hexLen       = 64
)

// memoSlot is one cache entry, laid out contiguously (160 bytes) so a probe
// touches adjacent cache lines.
type memoSlot struct {
	n   uint8 // value length + 1; 0 is an empty slot
	val [memoMaxValue]byte
	hex [hexLen]byte
}

type memo struct {
	seed  maphash.Seed
	slots [memoSlots]memoSlot
}

func newMemo() *memo { return &memo{seed: maphash.MakeSeed()} }

func (s *memoSlot) holds(v []byte) bool {
	return int(s.n) == len(v)+1 && bytes.Equal(s.val[:len(v)], v)
}

// lookup appends v's pseudonym to dst, from the table or from compute.
func (m *memo) lookup(dst, v []byte, compute func(dst, v []byte) []byte) []byte {
	h := maphash.Bytes(m.seed, v)
	s1, s2 := &m.slots[h&(memoSlots-1)], &m.slots[(h>>32)&(memoSlots-1)]
	if s1.holds(v) {
		return append(dst, s1.hex[:]...)
	}
	if s2.holds(v) {
		return append(dst, s2.hex[:]...)
	}
	n := len(dst)
	dst = compute(dst, v)
	// Fill an empty slot if there is one, else evict one chosen by the hash.
	s := s1
	switch {
	case s1.n == 0:
	case s2.n == 0, h&(1<<20) != 0:
		s = s2
	}
	copy(s.val[:], v)
	copy(s.hex[:], dst[n:])
	s.n = uint8(len(v) + 1)
	return dst
}

package enrich

import (
	"encoding/binary"
	"strings"
	"testing"
	"unicode/utf8"
)

// cleanBytewise is clean as it was before the eight-byte scan: the
// reference the fast version must agree with.
func cleanBytewise(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return cleanSlow(s)
		}
	}
	if utf8.ValidString(s) {
		return s
	}
	return cleanSlow(s)
}

func cleanSlow(s string) string {
	// Tabs first, then every other control character: the two regular
	// expressions of Snowplow's fixTabsNewlines, in their order.
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\t", "    ")
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

func TestCleanSpecial(t *testing.T) {
	special := func(c byte) bool { return c < 0x20 || c == 0x7f || c >= 0x80 }
	for _, fill := range []byte{'a', 0x20, 0x7e, 0x7f, 0x00, 0x80, 0x1f} {
		for pos := range 8 {
			for v := range 256 {
				var w [8]byte
				for i := range w {
					w[i] = fill
				}
				w[pos] = byte(v)
				want := false
				for _, c := range w {
					want = want || special(c)
				}
				if got := cleanSpecial(binary.LittleEndian.Uint64(w[:])); got != want {
					t.Fatalf("% x: cleanSpecial %v, byte-wise %v", w, got, want)
				}
			}
		}
	}
}

// FuzzClean checks clean against the byte-wise reference.
func FuzzClean(f *testing.F) {
	for _, s := range []string{"", "plain ascii text, longer than eight", "tab\there", "0123456\x7f89", "caf\xc3\xa9 ok",
		"bad \xff utf8 after sixteen bytes", "line\r\nbreak", strings.Repeat("x", 64) + "\x01"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := clean(s), cleanBytewise(s); got != want {
			t.Fatalf("clean(%q) = %q, want %q", s, got, want)
		}
	})
}

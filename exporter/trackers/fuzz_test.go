package trackers

import (
	"encoding/binary"
	"math"
	"testing"
	"time"

	"github.com/prometheus/common/model"
)

// FuzzIncreases feeds the counter arithmetic arbitrary answers — values,
// timestamps on and off the boundaries, resets, NaN, several series — and
// checks it never panics and never reports a negative or non-finite count.
func FuzzIncreases(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 2, 1}, false)
	f.Add([]byte("\x00\x00\x00\x00\x00\x00\x00\x05\x03\x00\x00\x00\x00\x00\x00\x00\x01\x04\xff"), true)
	from := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	const w = time.Hour
	const n = 6
	f.Fuzz(func(t *testing.T, data []byte, absent bool) {
		var m model.Matrix
		ss := &model.SampleStream{}
		for len(data) >= 10 {
			v := math.Float64frombits(binary.BigEndian.Uint64(data[:8]))
			if data[8]%5 == 0 {
				v = float64(binary.BigEndian.Uint64(data[:8]) % 1000) // plausible values too
			}
			k := int(data[9]%16) - 4 // boundaries before, on and after the range
			ts := from.Add(time.Duration(k) * w)
			if data[8]%7 == 0 {
				ts = ts.Add(time.Duration(data[8]) * time.Millisecond) // off a boundary
			}
			ss.Values = append(ss.Values, model.SamplePair{Timestamp: model.TimeFromUnixNano(ts.UnixNano()), Value: model.SampleValue(v)})
			if data[8]%3 == 0 {
				m = append(m, ss)
				ss = &model.SampleStream{}
			}
			data = data[10:]
		}
		if len(ss.Values) > 0 {
			m = append(m, ss)
		}
		counts, known := increases(m, from, w, n, absent)
		if len(counts) != n || len(known) != n {
			t.Fatalf("%d counts, %d known", len(counts), len(known))
		}
		for k, c := range counts {
			if known[k] && (c < 0 || math.IsNaN(c) || math.IsInf(c, 0)) {
				t.Fatalf("window %d: count %v", k, c)
			}
		}
	})
}

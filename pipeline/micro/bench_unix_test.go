//go:build unix

package micro

import (
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/plowline/plowline/pipeline/payload"
)

// cpuTime is the process's user+system CPU time: on a machine shared with
// other work, wall time says little.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// discard is a ResponseWriter that counts the answer's bytes, so the
// benchmark measures the API rather than a recorder's buffer growth.
type discard struct {
	h    http.Header
	code int
	n    int
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) WriteHeader(code int)        { d.code = code }
func (d *discard) Write(p []byte) (int, error) { d.n += len(p); return len(p), nil }

// benchRecord is one tp2 payload of the three events of fixture.three.
func benchRecord(b *testing.B) (*fixture, []byte) {
	f := newFixture(b, 0)
	f.three()
	var rec []byte
	for _, g := range f.store.good.buf {
		rec = g.p.record
	}
	if _, err := payload.Unmarshal(rec); err != nil {
		b.Fatal(err)
	}
	f.store.Reset()
	return f, rec
}

// BenchmarkEnrichTap compares the enricher alone with the enricher plus
// the Micro store's tap (plowline run --micro), in the same run: the ratio
// of the two is the tap's cost on the enricher's path.
func BenchmarkEnrichTap(b *testing.B) {
	f, rec := benchRecord(b)
	ctx := context.Background()
	b.Run("enrich", func(b *testing.B) {
		b.ReportAllocs()
		start := cpuTime(b)
		for b.Loop() {
			f.en.Enrich(ctx, rec)
		}
		b.ReportMetric(float64((cpuTime(b)-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
	})
	b.Run("enrich+tap", func(b *testing.B) {
		b.ReportAllocs()
		s := NewStore(1000)
		start := cpuTime(b)
		for b.Loop() {
			s.AddEnriched(rec, f.en.Enrich(ctx, rec))
		}
		b.ReportMetric(float64((cpuTime(b)-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
	})
}

// BenchmarkGood measures a GET /micro/good over a full default store
// (10,000 good events), in clear (raw events parsed on the first query,
// then cached) and pseudonymized, and reports the heap the store holds
// per event.
func BenchmarkGood(b *testing.B) {
	f, rec := benchRecord(b)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	out := f.en.Enrich(context.Background(), rec)
	for f.store.Summary().Good < f.store.MaxEvents() {
		f.store.AddEnriched(rec, out)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	perEvent := float64(after.HeapAlloc-before.HeapAlloc) / DefaultMaxEvents
	for _, path := range []string{"/micro/good", "/pseudonymized/micro/good"} {
		b.Run(path, func(b *testing.B) {
			start := cpuTime(b)
			for b.Loop() {
				r := httptest.NewRequest("GET", path, nil)
				r.RemoteAddr = "127.0.0.1:1"
				w := &discard{h: http.Header{}}
				f.h.ServeHTTP(w, r)
				if w.code != 200 || w.n < DefaultMaxEvents*1000 {
					b.Fatalf("status %d, %d bytes", w.code, w.n)
				}
			}
			b.ReportMetric(float64((cpuTime(b)-start).Nanoseconds())/float64(b.N)/DefaultMaxEvents, "cpu-ns/event")
			b.ReportMetric(perEvent, "heapB/held-event")
		})
	}
}

package lake

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/plowline/plowline/pipeline/event"
	"github.com/plowline/plowline/pipeline/stream"
)

// realisticLine is a pseudonymized-looking event: about 60 of 131 fields
// set, identifiers as 64-hex pseudonyms, contexts as JSON.
func realisticLine(i int) []byte {
	var e event.Event
	h := strings.Repeat(fmt.Sprintf("%08x", i), 8)
	for f := range event.NumFields {
		if f%2 == 0 {
			e[f] = h
		}
	}
	e[event.AppID], e[event.EventID], e[event.EventType] = "gitlab", fmt.Sprintf("%08x-0000-4000-8000-000000000000", i), "page_view"
	e[event.CollectorTstamp] = "2026-11-26 18:00:00.000"
	e[event.Contexts] = `{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0","data":[{"schema":"iglu:com.gitlab/gitlab_standard/jsonschema/1-0-9","data":{"environment":"production","source":"gitlab-javascript","plan":"free","project_id":"` + h + `"}}]}`
	return []byte(strings.Join(e[:], "\t"))
}

// BenchmarkLoader measures the loader alone: rows/s into gitlab_events
// from 5 MiB-class objects already in the embedded store.
func BenchmarkLoader(b *testing.B) {
	dir := b.TempDir()
	s, err := StartLocalS3(dir, testBucket, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close(context.Background())
	const perObject = 1000 // ~5 MiB uncompressed, the local buffer size
	cfg := DefaultWriterConfig(testBucket, PrefixOutput, "bench")
	cfg.BufferBytes = MaxBufferBytes
	w, _ := NewWriter(cfg, s.Client(), nil, nil)
	recs := make([]stream.Record, perObject)
	for i := range recs {
		recs[i] = stream.Record{Data: realisticLine(i)}
	}
	objects := (b.N + perObject - 1) / perObject
	for o := 0; o < objects; o++ {
		w.Put(context.Background(), recs)
		w.Flush(context.Background())
	}
	w.Close(context.Background())
	wh, err := OpenWarehouse(filepath.Join(dir, "w.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer wh.Close()
	ld, err := NewLoader(LoaderConfig{Bucket: testBucket}, wh, s.Client(), nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	ld.Scan(context.Background())
	var page int
	wh.DB.QueryRow("PRAGMA page_size").Scan(&page)
	if page != 65536 {
		b.Errorf("page_size %d, want 65536", page)
	}
	cpu0 := cpuTime()
	b.ResetTimer()
	n, err := ld.LoadPending(context.Background())
	if err != nil || n != objects {
		b.Fatalf("loaded %d objects of %d: %v", n, objects, err)
	}
	b.ReportMetric(float64(objects*perObject)/b.Elapsed().Seconds(), "rows/s")
	// CPU time is steadier than wall time on a shared machine.
	b.ReportMetric(float64(objects*perObject)/(cpuTime()-cpu0).Seconds(), "rows/cpu-s")
}

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

package local

import (
	"context"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/plowline/plowline/pipeline/demo"
	"github.com/plowline/plowline/pipeline/lake"
)

// rssBreakdown returns the kernel's split of resident memory.
func rssBreakdown() string {
	b, _ := os.ReadFile("/proc/self/status")
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "Rss") || strings.HasPrefix(line, "VmHWM") {
			out = append(out, strings.Join(strings.Fields(line), " "))
		}
	}
	return strings.Join(out, ", ")
}

// peakRSS returns the process's peak resident set size in bytes (Linux).
func peakRSS() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb * 1024
		}
	}
	return 0
}

// BenchmarkPipeline drives the whole local pipeline end to end in this
// process: load generators build realistic tracker batches (demo.Builder,
// unique event ids) and POST them to the collector over HTTP; the timer
// stops once Shutdown has drained every stage and the last object is in
// the warehouse. It reports events/s end to end and the process's peak
// RSS, and fails if the warehouse row count differs from the events sent.
//
//	go test -run '^$' -bench Pipeline -benchtime 200000x ./pipeline/local
func BenchmarkPipeline(b *testing.B) {
	const batch = 50
	// As `plowline run` does by default (--memory-limit).
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(DefaultMemoryLimit))
	dir := b.TempDir()
	cfg := DefaultConfig()
	cfg.DataDir = dir
	cfg.CollectorAddress, cfg.WebAddress = "127.0.0.1:0", "127.0.0.1:0"
	cfg.BufferInterval = time.Second
	if testing.Verbose() {
		cfg.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	p, err := Start(cfg)
	if err != nil {
		b.Fatal(err)
	}
	url := p.Info().CollectorURL
	batches := (b.N + batch - 1) / batch
	var next, sent, failed atomic.Int64
	senders := 2 * runtime.GOMAXPROCS(0)
	tr := &http.Transport{MaxIdleConnsPerHost: senders}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	cpu0 := cpuTime()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for g := 0; g < senders; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bl := demo.NewBuilder(uint64(g+1), 0)
			for next.Add(1) <= int64(batches) {
				body, valid, _ := bl.Batch(batch)
				for {
					if err := demo.Post(context.Background(), client, url, body); err != nil {
						// 503 under back-pressure: retry, as trackers do.
						failed.Add(1)
						time.Sleep(5 * time.Millisecond)
						continue
					}
					break
				}
				sent.Add(int64(valid))
			}
		}()
	}
	wg.Wait()
	ingest := time.Since(start)
	if testing.Verbose() {
		b.Logf("at end of ingest: %s", rssBreakdown())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := p.Shutdown(ctx); err != nil {
		b.Fatal(err)
	}
	total := time.Since(start)
	cpu := cpuTime() - cpu0
	b.StopTimer()
	db, err := lake.OpenReadOnly(filepath.Join(dir, WarehouseFile))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	var rows int64
	if err := db.QueryRow("SELECT COUNT(*) FROM gitlab_events").Scan(&rows); err != nil {
		b.Fatal(err)
	}
	if rows != sent.Load() {
		b.Fatalf("gitlab_events has %d rows; %d events sent", rows, sent.Load())
	}
	b.ReportMetric(float64(rows)/total.Seconds(), "events/s")
	b.ReportMetric(float64(rows)/ingest.Seconds(), "ingest-events/s")
	b.ReportMetric(peakRSS()/(1<<20), "peak-RSS-MiB")
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapSys)/(1<<20), "heap-sys-MiB")
	// All the Go runtime took from the OS (heap, stacks, metadata); what
	// peak RSS holds beyond it is outside Go: SQLite's memory.
	b.ReportMetric(float64(ms.Sys)/(1<<20), "go-sys-MiB")
	var storeBytes int64
	filepath.WalkDir(filepath.Join(dir, lake.ObjectStoreDir), func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				storeBytes += info.Size()
			}
		}
		return nil
	})
	b.ReportMetric(float64(storeBytes)/(1<<20), "store-MiB")
	b.ReportMetric(float64(failed.Load()), "retried-requests")
	// On a shared machine wall time depends on the neighbours; CPU time per
	// event (load generator included) says what two idle cores could do.
	b.ReportMetric(float64(rows)/cpu.Seconds(), "events/cpu-s")
}

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

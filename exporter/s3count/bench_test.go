package s3count

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/klauspost/compress/gzip"
)

// benchObject is a gzipped object of realistic enriched events, as
// Firehose writes them: events spread over a few minutes.
func benchObject(b *testing.B, n int) []byte {
	var sb strings.Builder
	base := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		sb.WriteString(tsvLine("gitlab", fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i), base.Add(time.Duration(i)*13*time.Millisecond), i))
		sb.WriteByte('\n')
	}
	return gz(b, sb.String())
}

// BenchmarkCountGzippedTSV measures exact counting throughput in bytes of
// gzipped input (the MB/s column), per core when run with -cpu 1.
func BenchmarkCountGzippedTSV(b *testing.B) {
	obj := benchObject(b, 20000)
	if c, err := Count(bytes.NewReader(obj), FormatTSV, 3600, time.Time{}); err != nil || len(c.windows) == 0 {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(obj)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Count(bytes.NewReader(obj), FormatTSV, 3600, time.Time{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGunzipOnly is the floor: decompressing the same object and
// discarding it, so the ratio to BenchmarkCountGzippedTSV shows what
// counting adds.
func BenchmarkGunzipOnly(b *testing.B) {
	obj := benchObject(b, 20000)
	b.SetBytes(int64(len(obj)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		zr, err := gzip.NewReader(bytes.NewReader(obj))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, zr); err != nil {
			b.Fatal(err)
		}
	}
}

func rssMB() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			var kb float64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(l, "VmRSS:"), "kB")), &kb)
			return kb / 1024
		}
	}
	return -1
}

// TestTrack100kObjects lists 100,000 objects through gofakes3 and the real
// SDK (counting objects; records counting of the same number of objects
// would only add their per-window counts to each entry), then a second
// refresh that reads nothing. It reports the heap and RSS.
// Set PLOWLINE_BIG=1 to run it (it takes about a minute).
func TestTrack100kObjects(t *testing.T) {
	if os.Getenv("PLOWLINE_BIG") == "" {
		t.Skip("set PLOWLINE_BIG=1 to track 100,000 objects and report memory")
	}
	api, _ := fakeS3(t)
	now := time.Now().UTC()
	hour := now.Format("2006/01/02/15/")
	body := gz(t, tsvLine("gitlab", "e", now.Truncate(time.Minute), 1)+"\n")
	const n = 100_000
	for i := 0; i < n; i++ {
		key := fmt.Sprintf("output/%ssnowplow-enriched-good-1-%s-%08d.gz", hour, now.Format("2006-01-02-15-04-05"), i)
		if _, err := api.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
	}
	state := t.TempDir() + "/s3.json"
	s := newSource(t, api, state)
	s.set.ReadBudget = time.Hour
	s.set.ReadConcurrency = 4
	start := time.Now()
	c := refresh(t, s, now)
	first := time.Since(start)
	if got := c["good_records"][now.Truncate(time.Minute)]; got != n {
		t.Fatalf("records = %v, want %d", got, n)
	}
	read := s.Usage().Costs()["bytes_read"]
	start = time.Now()
	refresh(t, s, now)
	second := time.Since(start)
	if again := s.Usage().Costs()["bytes_read"] - read; again != 0 {
		t.Errorf("second pass read %d bytes", again)
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	st, _ := os.Stat(state)
	t.Logf("100k objects: first refresh %s (read %d bytes), second %s (0 bytes); heap in use %.1f MB; process RSS %.1f MB (includes the in-process gofakes3 holding every object); state file %.1f MB",
		first, read, second, float64(ms.HeapInuse)/1e6, rssMB(), float64(st.Size())/1e6)
}

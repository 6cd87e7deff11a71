package s3count

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/plowline/plowline/testkit"
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
	cpu := cpuTime()
	for i := 0; i < b.N; i++ {
		if _, err := Count(bytes.NewReader(obj), FormatTSV, 3600, time.Time{}); err != nil {
			b.Fatal(err)
		}
	}
	reportPerCPU(b, cpu, len(obj))
}

// cpuTime is the process's user+system CPU time: on a shared machine,
// MB per CPU-second is the per-core throughput that wall-clock MB/s hides.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportPerCPU(b *testing.B, start time.Duration, size int) {
	used := cpuTime() - start
	if used > 0 {
		b.ReportMetric(float64(size)*float64(b.N)/1e6/used.Seconds(), "MB/cpu-s")
	}
}

// BenchmarkGunzipOnly is the floor: decompressing the same object and
// discarding it, so the ratio to BenchmarkCountGzippedTSV shows what
// counting adds.
func BenchmarkGunzipOnly(b *testing.B) {
	obj := benchObject(b, 20000)
	b.SetBytes(int64(len(obj)))
	b.ResetTimer()
	cpu := cpuTime()
	defer func() { reportPerCPU(b, cpu, len(obj)) }()
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

// TestTrack100kObjects measures the exporter tracking 100,000 objects:
// plowline reconcile, as its own process, loads the state of 100,000
// objects already read, lists them all through the real SDK from gofakes3,
// reads none, and reports its peak RSS. The objects go straight into
// gofakes3's backend and the state is written as a previous refresh would
// have (key, ETag, size, counts), so the test takes seconds, not the
// minutes 100,000 GETs through gofakes3 take; the read path itself is
// covered by TestCountsRecordsOnceAcrossRestarts.
// Set PLOWLINE_BIG=1 to run it, or PLOWLINE_BIG=N for N objects.
func TestTrack100kObjects(t *testing.T) {
	if os.Getenv("PLOWLINE_BIG") == "" {
		t.Skip("set PLOWLINE_BIG=1 to track 100,000 objects and report memory")
	}
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("PLOWLINE_BIG")); err == nil && v > 1 {
		n = v
	}
	backend, _, endpoint := fakeS3Backend(t)
	now := time.Now().UTC()
	hour := now.Truncate(time.Hour)
	body := gz(t, tsvLine("gitlab", "e", now.Truncate(time.Minute), 1)+"\n")
	sum := md5.Sum(body)
	etag := `"` + hex.EncodeToString(sum[:]) + `"`
	st := newState()
	st.Window = 60
	ps := st.prefix("output/")
	w := now.Truncate(time.Minute).Unix()
	for i := 0; i < n; i++ {
		key := fmt.Sprintf("output/%ssnowplow-enriched-good-1-%s-%08d.gz", hour.Format("2006/01/02/15/"), now.Format("2006-01-02-15-04-05"), i)
		if _, err := backend.PutObject(bucket, key, map[string]string{}, bytes.NewReader(body), int64(len(body)), nil); err != nil {
			t.Fatal(err)
		}
		o := &object{Size: int64(len(body)), Modified: now.UnixMilli(), Hour: hour.Unix(), Read: true, W: w, N: 1}
		o.setETag(etag)
		ps.Objects[key] = o
	}
	state := filepath.Join(t.TempDir(), "s3.json")
	if err := st.save(state); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(state)

	bin := testkit.Binary(t)
	cfgPath := filepath.Join(t.TempDir(), "exporter.yaml")
	cfgText := fmt.Sprintf(`window: 1m
lookback: 2h
sources:
  - {name: lake, kind: s3, interval: 1m, timeout: 5m, s3: {bucket: %s, endpoint: %q, force_path_style: true, anonymous: true, region: us-east-1, state_file: %q}}
nodes:
  - {name: good, source: lake, select: {prefix: output/}}
`, bucket, endpoint, state)
	if err := os.WriteFile(cfgPath, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	// ru_maxrss of a child the test execs directly would include the test
	// process's own RSS (exec keeps the parent's high-water mark after
	// vfork), so GNU time forks it afresh and reports its peak alone.
	timeBin := testkit.LookPath(t, "time", "apt-get install -y time")
	rssFile := filepath.Join(t.TempDir(), "maxrss")
	cmd := exec.Command(timeBin, "-f", "%M", "-o", rssFile, bin, "reconcile", "--config", cfgPath, "--from", "-1h", "--json")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("reconcile: %v\n%s", err, stderr.String())
	}
	took := time.Since(start)
	var rep struct {
		Nodes []struct {
			Counts []*float64 `json:"counts"`
		} `json:"nodes"`
		Sources []struct {
			Costs map[string]int64 `json:"costs"`
		} `json:"sources"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	var total float64
	for _, c := range rep.Nodes[0].Counts {
		if c != nil {
			total += *c
		}
	}
	costs := rep.Sources[0].Costs
	if total != float64(n) || costs["bytes_read"] != 0 || costs["get_requests"] != 0 {
		t.Errorf("counted %v records (want %d), read %d bytes in %d GETs (want none)", total, n, costs["bytes_read"], costs["get_requests"])
	}
	kb, err := os.ReadFile(rssFile)
	if err != nil {
		t.Fatal(err)
	}
	var maxKB float64
	if _, err := fmt.Sscan(string(kb), &maxKB); err != nil {
		t.Fatalf("GNU time wrote %q", kb)
	}
	maxRSS := maxKB / 1024
	t.Logf("plowline reconcile tracking %d objects: %s, %d list requests, 0 bytes read, peak RSS %.1f MB (state file %.1f MB)",
		n, took.Round(time.Millisecond), costs["list_requests"], maxRSS, float64(fi.Size())/1e6)
	if maxRSS > 100 {
		t.Errorf("peak RSS %.1f MB tracking %d objects, want under 100 MB", maxRSS, n)
	}
}

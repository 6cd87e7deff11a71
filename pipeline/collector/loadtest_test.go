package collector

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/plowline/plowline/pipeline/stream"
	"github.com/plowline/plowline/testkit"
)

// The load tests measure the numbers the collector's issue sets, on
// loopback, with the load generator on the same machine:
//
//	PLOWLINE_LOADTEST=1 go test -run TestLoad -v -timeout 20m ./pipeline/collector
//
// PLOWLINE_LOADTEST_SECONDS sets the length of each throughput phase
// (default 5) and PLOWLINE_LOADTEST_SOAK the sustained-load phase (default
// 60). They log numbers and assert none (timings are never asserted).
// BenchmarkLoopback gives the same single-event comparison under go test
// -bench.

// trackerEvent is a realistic server-side tracker event (~450 bytes).
func trackerEvent(i int) string {
	return fmt.Sprintf(`{"e":"se","p":"srv","tv":"rb-0.8.0","eid":"5c4e3b2a-1a2b-4c3d-8e9f-%012d","dtm":"1764151200%03d","stm":"1764151200%03d",`+
		`"aid":"gitlab","se_ca":"projects:merge_requests:show","se_ac":"click_approve_button","se_la":"approve","se_pr":"merge_request",`+
		`"cx":"eyJzY2hlbWEiOiJpZ2x1OmNvbS5zbm93cGxvd2FuYWx5dGljcy5zbm93cGxvdy9jb250ZXh0cy9qc29uc2NoZW1hLzEtMC0xIiwiZGF0YSI6W3sic2NoZW1hIjoiaWdsdTpjb20uZ2l0bGFiL2dpdGxhYl9zdGFuZGFyZC9qc29uc2NoZW1hLzEtMC0xMCIsImRhdGEiOnt9fV19"}`,
		i, i%1000, i%1000)
}

func batchBody(n int) []byte {
	events := make([]string, n)
	for i := range events {
		events[i] = trackerEvent(i)
	}
	return []byte(`{"schema":"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4","data":[` + strings.Join(events, ",") + `]}`)
}

// memoryTarget is the collector over in-memory streams that a goroutine
// drains, as `plowline run` wires it.
func memoryTarget(tb testing.TB) (http.Handler, func()) {
	good, bad := stream.NewMemory("raw-good", 4096), stream.NewMemory("raw-bad", 64)
	cfg := DefaultConfig()
	cfg.Sink.Type = "memory"
	c, err := New(cfg, good, bad, nil, nil)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if _, err := good.Read(ctx, 500); err != nil {
				return
			}
		}
	}()
	return c.Handler(), func() { cancel(); <-done; c.Shutdown(context.Background()) }
}

var noop = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	w.Write([]byte("ok"))
})

// listen serves h on 127.0.0.1 with the collector's server settings.
func listen(tb testing.TB, h http.Handler) (string, func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := NewServer("", h, DefaultConfig())
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), func() { srv.Close() }
}

// rawConn is a minimal keep-alive HTTP/1.1 client connection: the request
// bytes are built once and the response is parsed just enough to find its
// status and length. It costs a fraction of net/http's client, so on a
// machine where the generator shares the CPU the collector, not the
// generator, is what gets measured.
type rawConn struct {
	addr string
	req  []byte
	conn net.Conn
	br   *bufio.Reader
}

func newRawConn(url string, body []byte) *rawConn {
	hostPath := strings.TrimPrefix(url, "http://")
	i := strings.IndexByte(hostPath, '/')
	host, path := hostPath[:i], hostPath[i:]
	req := fmt.Appendf(nil, "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: plowline-loadtest\r\nContent-Type: application/json; charset=UTF-8\r\nContent-Length: %d\r\n\r\n",
		path, host, len(body))
	return &rawConn{addr: host, req: append(req, body...)}
}

// do sends the request and returns the response status.
func (c *rawConn) do() (int, error) {
	if c.conn == nil {
		conn, err := net.Dial("tcp", c.addr)
		if err != nil {
			return 0, err
		}
		c.conn, c.br = conn, bufio.NewReaderSize(conn, 4096)
	}
	code, err := c.roundTrip()
	if err != nil {
		c.conn.Close()
		c.conn = nil
	}
	return code, err
}

func (c *rawConn) roundTrip() (int, error) {
	if _, err := c.conn.Write(c.req); err != nil {
		return 0, err
	}
	line, err := c.br.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 12 {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	code, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, err
	}
	length, closing := 0, false
	for {
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		if len(line) <= 2 {
			break
		}
		if k, v, ok := bytes.Cut(line, []byte(":")); ok {
			switch string(bytes.ToLower(k)) {
			case "content-length":
				length, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
			case "connection":
				closing = bytes.Contains(bytes.ToLower(v), []byte("close"))
			}
		}
	}
	if _, err := c.br.Discard(length); err != nil {
		return 0, err
	}
	if closing {
		return code, io.EOF
	}
	return code, nil
}

func (c *rawConn) close() {
	if c.conn != nil {
		c.conn.Close()
	}
}

// closedLoop sends as fast as conns connections allow for d and returns
// the rate of 200 answers.
func closedLoop(url string, body []byte, conns int, d time.Duration) (okPerSec float64, failed int64) {
	r, f, _ := closedLoopCPU(url, body, conns, d)
	return r, f
}

// closedLoopCPU is closedLoop that also returns 200 answers per CPU-second
// this process spent (server and generator both live in it). On a machine
// shared with other work the wall-clock rate swings with the neighbours;
// the CPU cost per request does not, and its ratio between two targets is
// the ratio of their rates on a machine of their own.
func closedLoopCPU(url string, body []byte, conns int, d time.Duration) (okPerSec float64, failed int64, okPerCPUSec float64) {
	cpu0 := cpuSeconds(syscall.RUSAGE_SELF)
	var ok, bad atomic.Int64
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	start := time.Now()
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newRawConn(url, body)
			defer c.close()
			for time.Now().Before(deadline) {
				if code, err := c.do(); (err == nil || err == io.EOF) && code == 200 {
					ok.Add(1)
				} else {
					bad.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	cpu := cpuSeconds(syscall.RUSAGE_SELF) - cpu0
	return float64(ok.Load()) / time.Since(start).Seconds(), bad.Load(), float64(ok.Load()) / cpu
}

// cpuSeconds is the user+system CPU time of this process (RUSAGE_SELF) or
// of its waited-for children (RUSAGE_CHILDREN).
func cpuSeconds(who int) float64 {
	var ru syscall.Rusage
	syscall.Getrusage(who, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// openLoop sends at a fixed rate for d and returns latency percentiles,
// measured from each request's scheduled time, so a stall counts against
// every request it delays (no coordinated omission).
func openLoop(url string, body []byte, rate float64, conns int, d time.Duration) (p50, p99, max time.Duration, sent, failed int) {
	interval := time.Duration(float64(time.Second) * float64(conns) / rate)
	var mu sync.Mutex
	var lat []time.Duration
	var fails int
	start := time.Now().Add(10 * time.Millisecond)
	var wg sync.WaitGroup
	for w := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newRawConn(url, body)
			defer c.close()
			local := make([]time.Duration, 0, int(d/interval)+1)
			lf := 0
			for i := 0; ; i++ {
				at := start.Add(time.Duration(w)*interval/time.Duration(conns) + time.Duration(i)*interval)
				if at.Sub(start) > d {
					break
				}
				time.Sleep(time.Until(at))
				if code, err := c.do(); (err != nil && err != io.EOF) || code != 200 {
					lf++
				}
				local = append(local, time.Since(at))
			}
			mu.Lock()
			lat = append(lat, local...)
			fails += lf
			mu.Unlock()
		}()
	}
	wg.Wait()
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	return pct(0.50), pct(0.99), lat[len(lat)-1], len(lat), fails
}

// wrkRate runs wrk (a C load generator, lighter than Go's client) with a
// POST script and returns its Requests/sec, or 0 without wrk.
func wrkRate(t *testing.T, url string, body []byte, conns int, d time.Duration) float64 {
	r, _ := wrkRateCPU(t, url, body, conns, d)
	return r
}

// wrkRateCPU also returns requests per CPU-second of this process (the
// server) plus wrk.
func wrkRateCPU(t *testing.T, url string, body []byte, conns int, d time.Duration) (float64, float64) {
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		return 0, 0
	}
	cpu0 := cpuSeconds(syscall.RUSAGE_SELF) + cpuSeconds(syscall.RUSAGE_CHILDREN)
	script := filepath.Join(t.TempDir(), "post.lua")
	lua := fmt.Sprintf("wrk.method = \"POST\"\nwrk.body = %q\nwrk.headers[\"Content-Type\"] = \"application/json; charset=UTF-8\"\n", body)
	if err := os.WriteFile(script, []byte(lua), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(wrk, "-t1", "-c"+strconv.Itoa(conns), "-d"+strconv.Itoa(int(d.Seconds()))+"s", "-s", script, url).CombinedOutput()
	cpu := cpuSeconds(syscall.RUSAGE_SELF) + cpuSeconds(syscall.RUSAGE_CHILDREN) - cpu0
	if err != nil {
		t.Logf("wrk: %v\n%s", err, out)
		return 0, 0
	}
	if bytes.Contains(out, []byte("Non-2xx")) {
		t.Logf("wrk saw failures:\n%s", out)
	}
	m := regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		return 0, 0
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v, v * d.Seconds() / cpu
}

func envSeconds(name string, def int) time.Duration {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return time.Duration(v) * time.Second
	}
	return time.Duration(def) * time.Second
}

func TestLoad(t *testing.T) {
	if os.Getenv("PLOWLINE_LOADTEST") == "" {
		t.Skip("load test: set PLOWLINE_LOADTEST=1 (takes a few minutes; numbers are logged, not asserted)")
	}
	phase := envSeconds("PLOWLINE_LOADTEST_SECONDS", 5)
	collectorURL, stopC := listen(t, mustMemoryTarget(t))
	defer stopC()
	noopURL, stopN := listen(t, noop)
	defer stopN()
	one := batchBody(1)

	t.Run("single_event_vs_noop", func(t *testing.T) {
		// The machine is shared: alternate the two targets in short slices
		// and take medians of each pair's ratio, so drift in the load others
		// put on the machine hits both sides of every ratio alike; and
		// compare requests per CPU-second as well, which neighbours barely
		// move.
		const conns, rounds = 32, 7
		slice := max(phase/3, 2*time.Second)
		var n, c, ratios, cpuRatios []float64
		for range rounds {
			rn, _, cn := closedLoopCPU(noopURL+PathTP2, one, conns, slice)
			rc, f, cc := closedLoopCPU(collectorURL+PathTP2, one, conns, slice)
			if f > 0 {
				t.Errorf("%d requests failed", f)
			}
			n, c, ratios, cpuRatios = append(n, rn), append(c, rc), append(ratios, rc/rn), append(cpuRatios, cc/cn)
		}
		t.Logf("Go raw client, %d connections, %d rounds of %s each: no-op %.0f req/s, collector %.0f req/s (medians); "+
			"median ratio %.2f (per round %.2f); per CPU-second ratio %.2f (per round %.2f); load average %s",
			conns, rounds, slice, median(n), median(c), median(ratios), ratios, median(cpuRatios), cpuRatios, loadavg())
		var wn, wc, wr, wcr []float64
		for range rounds {
			a, acpu := wrkRateCPU(t, noopURL+PathTP2, one, conns, slice)
			b, bcpu := wrkRateCPU(t, collectorURL+PathTP2, one, conns, slice)
			if a == 0 || b == 0 {
				return
			}
			wn, wc, wr, wcr = append(wn, a), append(wc, b), append(wr, b/a), append(wcr, bcpu/acpu)
		}
		t.Logf("wrk, %d connections, %d rounds of %s each: no-op %.0f req/s, collector %.0f req/s (medians); "+
			"median ratio %.2f (per round %.2f); per CPU-second (server + wrk) ratio %.2f (per round %.2f); load average %s",
			conns, rounds, slice, median(wn), median(wc), median(wr), wr, median(wcr), wcr, loadavg())
	})

	ten := batchBody(10)
	t.Run("batch_of_10_throughput", func(t *testing.T) {
		var rates, perCPU []float64
		for range 3 {
			r, f, rc := closedLoopCPU(collectorURL+PathTP2, ten, 32, phase)
			if f > 0 {
				t.Errorf("%d requests failed", f)
			}
			rates, perCPU = append(rates, r*10), append(perCPU, rc*10)
		}
		t.Logf("Go raw client, 32 connections, %d-byte bodies: %.0f events/s accepted (median of %.0f); %.0f events per CPU-second "+
			"(generator included), i.e. %.0f events/s on 2 dedicated cores; load average %s",
			len(ten), median(rates), rates, median(perCPU), 2*median(perCPU), loadavg())
		if w, wcpu := wrkRateCPU(t, collectorURL+PathTP2, ten, 32, phase); w > 0 {
			t.Logf("wrk, 32 connections: %.0f events/s accepted; %.0f events per CPU-second (server + wrk); load average %s", w*10, wcpu*10, loadavg())
		}
	})

	t.Run("batch_of_10_latency_at_half_rate", func(t *testing.T) {
		// Half the 100,000 events/s target: 5,000 requests/s of 10 events,
		// spread over 256 connections as many trackers would.
		rate := 100_000.0 / 2 / 10
		// Also time the handler itself, to tell the collector's own latency
		// from time spent waiting for a CPU on a busy machine.
		h, stop := memoryTarget(t)
		defer stop()
		var mu sync.Mutex
		var inHandler []time.Duration
		timed := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			h.ServeHTTP(w, r)
			d := time.Since(start)
			mu.Lock()
			inHandler = append(inHandler, d)
			mu.Unlock()
		})
		url, stopServer := listen(t, timed)
		defer stopServer()
		p50, p99, mx, sent, failed := openLoop(url+PathTP2, ten, rate, 256, 2*phase)
		mu.Lock()
		slices.Sort(inHandler)
		hp50, hp99 := inHandler[len(inHandler)/2], inHandler[len(inHandler)*99/100]
		mu.Unlock()
		t.Logf("open loop at %.0f events/s (%.0f req/s), 256 connections: %d requests, %d failed, p50 %s, p99 %s, max %s "+
			"(inside the handler: p50 %s, p99 %s); load average %s",
			rate*10, rate, sent, failed, p50, p99, mx, hp50, hp99, loadavg())
	})

	t.Run("rss_under_sustained_load", func(t *testing.T) {
		soak := envSeconds("PLOWLINE_LOADTEST_SOAK", 60)
		bin := testkit.Binary(t)
		port := testkit.FreePort(t)
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		p := testkit.Start(t, nil, bin, "collector", "--sink", "file", "--good", os.DevNull, "--bad", os.DevNull,
			"--listen-address", addr, "--web.listen-address", fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t)))
		testkit.WaitTCP(t, addr, 10*time.Second)
		pid := p.Cmd.Process.Pid
		closedLoop("http://"+addr+PathTP2, ten, 32, 5*time.Second) // warm up
		start := rss(t, pid)
		var samples []string
		var total float64
		for elapsed := time.Duration(0); elapsed < soak; elapsed += 10 * time.Second {
			r, f := closedLoop("http://"+addr+PathTP2, ten, 32, min(10*time.Second, soak-elapsed))
			if f > 0 {
				t.Errorf("%d requests failed", f)
			}
			total += r * 10 * min(10*time.Second, soak-elapsed).Seconds()
			samples = append(samples, fmt.Sprintf("%.1f", float64(rss(t, pid))/(1<<20)))
		}
		end := rss(t, pid)
		t.Logf("plowline collector (file sink to /dev/null), %s of batched POSTs (%.0f events): RSS after warm-up %.1f MiB, at end %.1f MiB; every 10 s: %s MiB",
			soak, total, float64(start)/(1<<20), float64(end)/(1<<20), strings.Join(samples, " "))
	})
}

func mustMemoryTarget(t *testing.T) http.Handler {
	h, stop := memoryTarget(t)
	t.Cleanup(stop)
	return h
}

// loadavg is the machine's 1-minute load average: on a shared machine it
// says how much the numbers next to it are worth.
func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// rss reads a process's resident set size in bytes.
func rss(t *testing.T, pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if kb, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			v, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(kb), "kB")), 10, 64)
			return v << 10
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// BenchmarkLoopback compares single-event tp2 POSTs through the collector
// (in-memory sink) with a no-op handler, same client, same run:
//
//	go test -run '^$' -bench Loopback -cpu 2 -count 3 ./pipeline/collector
func BenchmarkLoopback(b *testing.B) {
	one := batchBody(1)
	h, stop := memoryTarget(b)
	defer stop()
	for _, target := range []struct {
		name string
		h    http.Handler
	}{{"noop", noop}, {"collector", h}} {
		b.Run(target.name, func(b *testing.B) {
			url, stop := listen(b, target.h)
			defer stop()
			b.SetParallelism(16)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				c := newRawConn(url+PathTP2, one)
				defer c.close()
				for pb.Next() {
					if code, err := c.do(); (err != nil && err != io.EOF) || code != 200 {
						b.Errorf("%d %v", code, err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		})
	}
}

// BenchmarkHandler is the collector's own cost per request, no network:
// what profiling (-cpuprofile) looks at.
func BenchmarkHandler(b *testing.B) {
	for _, n := range []int{1, 10} {
		body := batchBody(n)
		b.Run(fmt.Sprintf("tp2_%d_events", n), func(b *testing.B) {
			h, stop := memoryTarget(b)
			defer stop()
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				r := httptest.NewRequest("POST", PathTP2, bytes.NewReader(body))
				r.Header.Set("Content-Type", "application/json; charset=UTF-8")
				r.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36")
				r.Header.Set("Origin", "https://gitlab.example.com")
				r.Header.Set("Cookie", "sp=aaaaaaaa-0000-4000-8000-000000000001; _gitlab_session=abcdef")
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != 200 {
					b.Fatal(w.Code)
				}
			}
		})
	}
	b.Run("pixel", func(b *testing.B) {
		h, stop := memoryTarget(b)
		defer stop()
		b.ReportAllocs()
		for b.Loop() {
			r := httptest.NewRequest("GET", "/i?e=pv&url=https%3A%2F%2Fgitlab.example.com%2F&aid=gitlab&p=web&tv=js-4.10.1", nil)
			r.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
		}
	})
}

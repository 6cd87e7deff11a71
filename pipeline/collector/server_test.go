package collector

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plowline/plowline/metricname"
	"github.com/plowline/plowline/pipeline/badrow"
	"github.com/plowline/plowline/pipeline/payload"
)

// serve runs the harness's collector behind NewServer on 127.0.0.1.
func (h *harness) serve(cfg Config) string {
	h.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		h.t.Fatal(err)
	}
	srv := NewServer(ln.Addr().String(), h.c.Handler(), cfg)
	go srv.Serve(WrapListener(ln, cfg.Limits))
	h.t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// rawRoundTrip writes raw bytes on a new connection and reads one response.
func rawRoundTrip(t *testing.T, addr, raw string) (*http.Response, string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading response: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func TestServerLimitsAndHostileInputOnTheWire(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Limits.MaxHeaderBytes = 4096
	h := newHarness(t, func(c *Config) { *c = cfg; c.Version = "0.1.0"; c.Sink.Type = "memory" })
	addr := h.serve(cfg)
	good := func() {
		t.Helper()
		n := len(h.payloads())
		resp, err := http.Post("http://"+addr+PathTP2, "application/json", strings.NewReader(tp2Body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		ps := h.payloads()
		if resp.StatusCode != 200 || len(ps) != n+1 || ps[n].Body != tp2Body {
			t.Fatalf("a well-formed request after hostile input: %d, %d payloads", resp.StatusCode, len(ps)-n)
		}
	}
	good()

	// A huge header is refused before the handler runs.
	resp, _ := rawRoundTrip(t, addr, "GET /i HTTP/1.1\r\nHost: x\r\nX-Big: "+strings.Repeat("a", 20000)+"\r\n\r\n")
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("huge header: %d", resp.StatusCode)
	}
	good()

	// A non-UTF-8 query string is recorded byte for byte.
	n := len(h.payloads())
	resp, _ = rawRoundTrip(t, addr, "GET /i?e=pv&x=\xff\xfe%FF HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp.StatusCode == 200 {
		if q := h.payloads()[n].Querystring; q != "e=pv&x=\xff\xfe%FF" {
			t.Fatalf("querystring recorded as %q", q)
		}
	} else if resp.StatusCode != 400 {
		t.Fatalf("non-UTF-8 query: %d", resp.StatusCode)
	}
	good()

	// A malformed cookie does not break nuid handling.
	n = len(h.payloads())
	resp, _ = rawRoundTrip(t, addr, "GET /i HTTP/1.1\r\nHost: x\r\nCookie: ;;==; sp=\"abc; sp=a\tb; =x; sp=\xff\xfe\r\n\r\n")
	if resp.StatusCode != 200 || !uuidRe.MatchString(h.payloads()[n].NetworkUserID) {
		t.Fatalf("bad cookie: %d", resp.StatusCode)
	}
	good()

	// A body shorter than its Content-Length writes nothing.
	n = len(h.payloads())
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"schema\":", PathTP2)
	conn.(*net.TCPConn).CloseWrite()
	io.Copy(io.Discard, conn)
	conn.Close()
	if len(h.payloads()) != n {
		t.Fatal("a truncated body was written")
	}
	good()

	// A 413 closes the connection instead of reading the body.
	resp, _ = rawRoundTrip(t, addr, fmt.Sprintf("POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", PathTP2, cfg.Limits.MaxBodyBytes+1))
	if resp.StatusCode != 413 || !resp.Close {
		t.Fatalf("oversized body: %d close=%v", resp.StatusCode, resp.Close)
	}
	good()
}

func TestServerClosesSlowAndIdleConnections(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Limits.ReadHeaderTimeout = 150 * time.Millisecond
	cfg.Limits.IdleTimeout = 150 * time.Millisecond
	h := newHarness(t, func(c *Config) { *c = cfg; c.Sink.Type = "memory" })
	addr := h.serve(cfg)
	srv := NewServer(addr, nil, cfg)
	if srv.ReadHeaderTimeout != cfg.Limits.ReadHeaderTimeout || srv.ReadTimeout != cfg.Limits.ReadTimeout ||
		srv.IdleTimeout != cfg.Limits.IdleTimeout || srv.MaxHeaderBytes != cfg.Limits.MaxHeaderBytes || srv.WriteTimeout != cfg.Limits.WriteTimeout {
		t.Fatalf("server limits not from config: %+v", srv)
	}
	for name, raw := range map[string]string{
		"slow headers": "GET /i HTTP/1.1\r\nHost: x\r\n",     // never finishes its headers
		"idle":         "GET /i HTTP/1.1\r\nHost: x\r\n\r\n", // one request, then silence
	} {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(conn, raw)
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		start := time.Now()
		io.Copy(io.Discard, conn) // returns when the server closes the connection
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("%s: connection held for %s", name, d)
		}
		conn.Close()
	}
}

func FuzzRequest(f *testing.F) {
	f.Add("POST", PathTP2, "", "Content-Type", "application/json", "", []byte(tp2Body))
	f.Add("GET", "/i", "e=pv&nuid=abc", "Origin", "https://a.example.com", "sp=x", []byte(nil))
	f.Add("GET", "/com.acme/v1", "\xff\xfe=%zz", "SP-Anonymous", "*", "sp=\x00", []byte(nil))
	f.Add("OPTIONS", "/x", "", "Origin", "null", "", []byte(nil))
	f.Add("POST", "/-/collect_events", "", "X-Forwarded-For", "::1, garbage", "dnt=1", []byte(`{"schema":"s","data":[`))
	f.Add("GET", "/r/tp2", "u=https%3A%2F%2Fexample.com", "", "", "", []byte(nil))
	f.Add("POST", PathTP2, "", "Content-Length", "-1", "", bytes.Repeat([]byte(`{"schema":"s","data":[1,2,3]}`), 300))
	h := newHarness(f, func(c *Config) {
		c.Limits.MaxRecordBytes = 4096
		c.Limits.MaxBodyBytes = 8192
		c.Cookie.Domains = []string{"example.com"}
		c.DoNotTrackCookie = DoNotTrackConfig{Enabled: true, Name: "dnt", Value: "1"}
		c.Redirect = RedirectConfig{Enabled: true, Domains: []string{"example.com"}}
	})
	f.Fuzz(func(t *testing.T, method, path, query, hname, hvalue, cookie string, body []byte) {
		h.t = t
		u := &url.URL{Path: path, RawQuery: query}
		r := &http.Request{Method: method, URL: u, Header: http.Header{}, Host: "c.example.com",
			RemoteAddr: "192.0.2.1:1", Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body))}
		if hname != "" {
			r.Header[http.CanonicalHeaderKey(hname)] = []string{hvalue}
		}
		if cookie != "" {
			r.Header.Set("Cookie", cookie)
		}
		goodBefore, badBefore := len(h.good.records()), len(h.bad.records())
		h.do(r)
		// A well-formed request right after still gets its data through intact.
		w := h.do(req("POST", PathTP2, tp2Body))
		recs := h.good.records()
		if w.Code != 200 || len(recs) == 0 {
			t.Fatalf("follow-up request: %d", w.Code)
		}
		if p, err := payload.Unmarshal(recs[len(recs)-1].Data); err != nil || p.Body != tp2Body {
			t.Fatalf("follow-up payload damaged: %v", err)
		}
		for _, rec := range recs[goodBefore:] {
			if len(rec.Data) > 4096 {
				t.Fatalf("record of %d bytes over the limit", len(rec.Data))
			}
			if _, err := payload.Unmarshal(rec.Data); err != nil {
				t.Fatalf("good record does not decode: %v", err)
			}
		}
		for _, rec := range h.bad.records()[badBefore:] {
			if _, err := badrow.Parse(rec.Data); err != nil || len(rec.Data) > 4096 {
				t.Fatalf("bad row %q: %v", rec.Data, err)
			}
		}
		if h.metric(metricname.CollectorPanics.Name) != 0 {
			t.Fatal("a request panicked")
		}
		// Keep memory bounded over a long fuzzing run.
		h.good.set(func(s *recordingSink) { s.recs = nil })
		h.bad.set(func(s *recordingSink) { s.recs = nil })
	})
}

// TestHostileTrafficDoesNotCostOthersTheirData runs well-formed tracker
// requests concurrently with garbage, oversized and stalled ones, and
// checks that every well-formed request answered 200 has its payload,
// intact, exactly once.
func TestHostileTrafficDoesNotCostOthersTheirData(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Limits.MaxHeaderBytes = 4096
	cfg.Limits.MaxBodyBytes = 16 << 10
	cfg.Limits.ReadHeaderTimeout = 300 * time.Millisecond
	h := newHarness(t, func(c *Config) { *c = cfg; c.Sink.Type = "memory" })
	addr := h.serve(cfg)

	hostile := []string{
		"GET /i HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 20000) + "\r\n\r\n",
		"POST " + PathTP2 + " HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\n\r\n{",
		"POST " + PathTP2 + " HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"\x00\x01\x02 garbage \xff\r\n\r\n",
		"GET /i?\xff\xfe HTTP/1.1\r\nHost: x\r\nCookie: sp=\"\r\n\r\n",
		"GET /i HTTP/1.1\r\nHost: x\r\n",                                                      // stalls
		"POST " + PathTP2 + " HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"schema\":", // truncated
	}
	stop := make(chan struct{})
	var hw sync.WaitGroup
	for i := range 4 {
		hw.Add(1)
		go func() {
			defer hw.Done()
			for j := i; ; j++ {
				select {
				case <-stop:
					return
				default:
				}
				conn, err := net.Dial("tcp", addr)
				if err != nil {
					continue
				}
				conn.SetDeadline(time.Now().Add(2 * time.Second))
				io.WriteString(conn, hostile[j%len(hostile)])
				if tc, ok := conn.(*net.TCPConn); ok && j%2 == 0 {
					tc.CloseWrite()
				}
				io.Copy(io.Discard, conn)
				conn.Close()
			}
		}()
	}

	const workers, perWorker = 4, 50
	var mu sync.Mutex
	accepted := map[string]bool{}
	var gw sync.WaitGroup
	client := &http.Client{Timeout: 10 * time.Second}
	for w := range workers {
		gw.Add(1)
		go func() {
			defer gw.Done()
			for i := range perWorker {
				marker := fmt.Sprintf("w%d-%d", w, i)
				body := strings.Replace(tp2Body, `"pv"`, `"pv","tid":"`+marker+`"`, 1)
				resp, err := client.Post("http://"+addr+PathTP2+"?m="+marker, "application/json", strings.NewReader(body))
				if err != nil {
					t.Errorf("%s: %v", marker, err)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Errorf("%s: %d", marker, resp.StatusCode)
					continue
				}
				mu.Lock()
				accepted[marker] = true
				mu.Unlock()
			}
		}()
	}
	gw.Wait()
	close(stop)
	hw.Wait()

	seen := map[string]int{}
	for _, p := range h.payloads() {
		m, ok := strings.CutPrefix(p.Querystring, "m=")
		if !ok {
			continue
		}
		if !strings.Contains(p.Body, `"tid":"`+m+`"`) {
			t.Fatalf("payload for %s carries another body: %q", m, p.Body)
		}
		seen[m]++
	}
	for m := range accepted {
		if seen[m] != 1 {
			t.Errorf("accepted request %s has %d payloads", m, seen[m])
		}
	}
	if len(accepted) != workers*perWorker {
		t.Errorf("%d of %d well-formed requests accepted", len(accepted), workers*perWorker)
	}
	if h.metric("plowline_collector_panics_total") != 0 {
		t.Error("a request panicked")
	}
}

// TestServerServesNothingSmuggledAfterAChunkedBody sends, over one raw TCP
// connection, a POST with both Content-Length and Transfer-Encoding whose
// chunked body is followed by a second request: the connection must be
// closed after the first response, so the smuggled request is never served.
func TestServerServesNothingSmuggledAfterAChunkedBody(t *testing.T) {
	var served atomic.Int32
	var smuggled atomic.Bool
	srv := NewServer("127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		if r.URL.Path == "/smuggled" {
			smuggled.Store(true)
		}
		io.Copy(io.Discard, r.Body)
	}), DefaultConfig())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(WrapListener(ln, DefaultConfig().Limits))
	defer srv.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprint(c, "POST /com.snowplowanalytics.snowplow/tp2 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !resp.Close {
		t.Errorf("response to a request with Content-Length and Transfer-Encoding keeps the connection open")
	}
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("request with Content-Length and Transfer-Encoding answered %d, want 400", resp.StatusCode)
	}
	if served.Load() != 0 {
		t.Errorf("the handler served %d requests, want 0 (the first is refused before it)", served.Load())
	}
	if _, err := http.ReadResponse(br, nil); err == nil {
		t.Errorf("a second response came on the same connection")
	}
	if smuggled.Load() {
		t.Errorf("the smuggled request was served")
	}
}

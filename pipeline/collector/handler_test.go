package collector

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/plowline/plowline/metricname"
	"github.com/plowline/plowline/pipeline/payload"
	"github.com/plowline/plowline/pipeline/stream"
)

const tp2Body = `{"schema":"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4","data":[{"e":"pv","url":"https://example.com/"},{"e":"se","se_ca":"cat","se_ac":"act"}]}`

var uuidRe = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestTP2PostBecomesOneCompletePayload(t *testing.T) {
	h := newHarness(t, nil)
	w := h.do(req("POST", "http://c.example.com:8080/com.snowplowanalytics.snowplow/tp2?x=1", tp2Body,
		"Content-Type", "application/json; charset=UTF-8",
		"User-Agent", "Mozilla/5.0 test",
		"Referer", "https://example.com/page",
		"Origin", "https://example.com",
		"X-Forwarded-For", "203.0.113.9, 10.0.0.1",
		"Cookie", "sp=11111111-2222-4333-8444-555555555555; other=1"))
	if w.Code != 200 || w.Body.String() != "ok" {
		t.Fatalf("got %d %q", w.Code, w.Body)
	}
	if got := w.Header().Get("Access-Control-Allow-Origin"); got != "https://example.com" {
		t.Errorf("Access-Control-Allow-Origin = %q", got)
	}
	if got := w.Header().Get("Access-Control-Allow-Credentials"); got != "true" {
		t.Errorf("Access-Control-Allow-Credentials = %q", got)
	}
	p := h.onePayload()
	want := &payload.CollectorPayload{
		Schema: payload.Schema, IPAddress: "203.0.113.9", Timestamp: fixedNow.UnixMilli(), Encoding: "UTF-8",
		Collector: "plowline-0.1.0-memory", UserAgent: "Mozilla/5.0 test", RefererURI: "https://example.com/page",
		Path: PathTP2, Querystring: "x=1", Body: tp2Body, ContentType: "application/json; charset=utf-8",
		Hostname: "c.example.com", NetworkUserID: "11111111-2222-4333-8444-555555555555",
	}
	gotHeaders := p.Headers
	p.Headers, p.HasHeaders = nil, false
	if fmt.Sprintf("%+v", p) != fmt.Sprintf("%+v", want) {
		t.Fatalf("payload\n got %+v\nwant %+v", p, want)
	}
	for _, hd := range []string{"Host: c.example.com:8080", "User-Agent: Mozilla/5.0 test", "X-Forwarded-For: 203.0.113.9, 10.0.0.1",
		"Cookie: sp=11111111-2222-4333-8444-555555555555; other=1", "Origin: https://example.com", "Content-Type: application/json; charset=UTF-8"} {
		if !slices.Contains(gotHeaders, hd) {
			t.Errorf("headers %q lack %q", gotHeaders, hd)
		}
	}
	if h.metric(metricname.CollectorEvents.Name) != 2 {
		t.Errorf("events = %v, want 2", h.metric(metricname.CollectorEvents.Name))
	}
	if h.metric(metricname.CollectorRequests.Name, "route", "tp2", "code", "200") != 1 {
		t.Error("request not counted under route tp2, code 200")
	}
	if h.metric(metricname.CollectorPayloads.Name, "sink", "good") != 1 {
		t.Error("payload not counted")
	}
	if h.metric(metricname.CollectorReceivedBytes.Name) != float64(len(tp2Body)) {
		t.Error("bytes not counted")
	}
	if h.metric(metricname.CollectorSinkLatency.Name, "sink", "good") != 1 {
		t.Error("sink latency not observed")
	}
}

func TestPixelRoutesAnswerGIFAndRecordQuery(t *testing.T) {
	for _, tc := range []struct{ path, route string }{
		{"/i", "pixel"}, {"/ice.png", "pixel"}, {"/com.acme/v1", "vendor_get"}, {"/com.snowplowanalytics.snowplow/tp2", "vendor_get"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			h := newHarness(t, nil)
			for _, method := range []string{"GET", "HEAD"} {
				w := h.do(req(method, tc.path+"?e=pv&aid=web&url=https%3A%2F%2Fa.b%2F", ""))
				if w.Code != 200 {
					t.Fatalf("%s: %d", method, w.Code)
				}
				if method == "GET" && !bytes.Equal(w.Body.Bytes(), pixel) {
					t.Fatalf("body %x is not the pixel", w.Body.Bytes())
				}
				if w.Header().Get("Content-Type") != "image/gif" || w.Header().Get("Cache-Control") != "no-cache, no-store, must-revalidate" {
					t.Fatalf("headers %v", w.Header())
				}
			}
			ps := h.payloads()
			if len(ps) != 2 {
				t.Fatalf("%d payloads", len(ps))
			}
			p := ps[0]
			if p.Path != tc.path || p.Querystring != "e=pv&aid=web&url=https%3A%2F%2Fa.b%2F" || p.Body != "" || p.IPAddress != "192.0.2.1" {
				t.Fatalf("payload %+v", p)
			}
			if h.metric(metricname.CollectorRequests.Name, "route", tc.route, "code", "200") != 2 || h.metric(metricname.CollectorEvents.Name) != 2 {
				t.Fatal("not counted")
			}
		})
	}
	if string(pixel[:6]) != "GIF89a" || pixel[len(pixel)-1] != 0x3b || pixel[6] != 1 || pixel[8] != 1 {
		t.Fatalf("pixel is not a GIF: %x", pixel)
	}
}

func TestAnyTwoSegmentPostAndCustomPaths(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.Paths["/acme/track"] = PathTP2
		c.Paths["/acme/pixel"] = PathPixel
	})
	for _, tc := range []struct {
		method, path, wantPath, route string
		code                          int
	}{
		{"POST", "/com.acme/webhook", "/com.acme/webhook", "vendor_post", 200},
		{"POST", "/-/collect_events", PathTP2, "custom", 200},
		{"POST", "/acme/track", PathTP2, "custom", 200},
		{"GET", "/acme/pixel", PathPixel, "custom", 200},
		{"POST", "/a/b/c", "", "other", 404},
		{"POST", "/i", "", "pixel", 405},
		{"PUT", "/com.acme/v1", "", "vendor_post", 405},
		{"POST", "/a//", "", "other", 404},
	} {
		before := len(h.payloads())
		w := h.do(req(tc.method, tc.path, tp2Body))
		if w.Code != tc.code {
			t.Fatalf("%s %s: %d, want %d", tc.method, tc.path, w.Code, tc.code)
		}
		if h.metric(metricname.CollectorRequests.Name, "route", tc.route, "code", fmt.Sprint(tc.code)) == 0 {
			t.Errorf("%s %s not counted under route %s", tc.method, tc.path, tc.route)
		}
		ps := h.payloads()
		if tc.code != 200 {
			if len(ps) != before {
				t.Fatalf("%s %s: payload written for a %d", tc.method, tc.path, tc.code)
			}
			continue
		}
		if got := ps[len(ps)-1].Path; got != tc.wantPath {
			t.Errorf("%s %s recorded path %q, want %q", tc.method, tc.path, got, tc.wantPath)
		}
	}
	// The custom tp2 path counts the batch's events; other POSTs count one.
	if got := h.metric(metricname.CollectorEvents.Name); got != 1+2+2+1 {
		t.Errorf("events = %v, want 6", got)
	}
}

func TestPreflightAndCORS(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.CORS.AccessControlMaxAge = 90 * time.Second })
	w := h.do(req("OPTIONS", PathTP2, "", "Origin", "https://shop.example.org", "Access-Control-Request-Method", "POST"))
	if w.Code != 200 {
		t.Fatal(w.Code)
	}
	want := map[string]string{
		"Access-Control-Allow-Origin":      "https://shop.example.org",
		"Access-Control-Allow-Credentials": "true",
		"Access-Control-Allow-Headers":     "Content-Type, SP-Anonymous",
		"Access-Control-Max-Age":           "90",
	}
	for k, v := range want {
		if got := w.Header().Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	w = h.do(req("OPTIONS", "/anything/at/all", ""))
	if w.Header().Get("Access-Control-Allow-Origin") != "*" || w.Code != 200 {
		t.Errorf("without Origin: %d %q", w.Code, w.Header().Get("Access-Control-Allow-Origin"))
	}
	if len(h.payloads()) != 0 {
		t.Error("preflight wrote a payload")
	}
	if h.metric(metricname.CollectorRequests.Name, "route", "options", "code", "200") != 2 {
		t.Error("preflights not counted")
	}
	w = h.do(req("GET", "/i", ""))
	if w.Header().Get("Access-Control-Allow-Origin") != "*" {
		t.Error("pixel without Origin lacks Access-Control-Allow-Origin: *")
	}
}

func TestNetworkUserIDPrecedence(t *testing.T) {
	h := newHarness(t, nil)
	const cookieID, paramID = "aaaaaaaa-0000-4000-8000-000000000001", "bbbbbbbb-0000-4000-8000-000000000002"
	cases := []struct {
		name   string
		target string
		cookie string
		want   string
	}{
		{"param wins", "/i?nuid=" + paramID, "sp=" + cookieID, paramID},
		{"cookie", "/i?e=pv", "sp=" + cookieID, cookieID},
		{"new", "/i", "", ""},
		{"other cookie name", "/i", "spx=" + cookieID, ""},
		{"unsafe param ignored", "/i?nuid=a%3Bb%0D%0AX:1", "sp=" + cookieID, cookieID},
		{"bad cookie ignored", "/i", "sp=\"a b\"", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := req("GET", tc.target, "")
			if tc.cookie != "" {
				r.Header.Set("Cookie", tc.cookie)
			}
			n := len(h.payloads())
			w := h.do(r)
			p := h.payloads()[n]
			want := tc.want
			if want == "" {
				if !uuidRe.MatchString(p.NetworkUserID) {
					t.Fatalf("new nuid %q is not a v4 UUID", p.NetworkUserID)
				}
				want = p.NetworkUserID
			}
			if p.NetworkUserID != want {
				t.Fatalf("nuid %q, want %q", p.NetworkUserID, want)
			}
			if sc := w.Header().Get("Set-Cookie"); !strings.HasPrefix(sc, "sp="+want+";") {
				t.Fatalf("Set-Cookie %q does not carry %s", sc, want)
			}
		})
	}
}

func TestCookieAttributes(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.Cookie.Name = "nuid_c"
		c.Cookie.Domains = []string{"example.com", ".example.org"}
		c.Cookie.FallbackDomain = "fallback.net"
		c.Cookie.Expiration = 48 * time.Hour
	})
	expires := fixedNow.Add(48 * time.Hour).Format(http.TimeFormat)
	for origin, domain := range map[string]string{
		"https://www.example.com":          "example.com",
		"https://example.com:8443":         "example.com",
		"http://a.b.example.org":           ".example.org",
		"https://notexample.com":           "fallback.net",
		"":                                 "fallback.net",
		"null":                             "fallback.net",
		"https://x.io https://example.com": "example.com",
	} {
		r := req("GET", "/i", "")
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		sc := h.do(r).Header().Get("Set-Cookie")
		want := regexp.MustCompile(`^nuid_c=[0-9a-f-]{36}; Expires=` + regexp.QuoteMeta(expires) +
			`; Domain=` + regexp.QuoteMeta(domain) + `; Path=/; Secure; HttpOnly; SameSite=None$`)
		if !want.MatchString(sc) {
			t.Errorf("origin %q: Set-Cookie %q, want domain %s", origin, sc, domain)
		}
		// net/http's own parser agrees with what we wrote.
		resp := http.Response{Header: http.Header{"Set-Cookie": {sc}}}
		cs := resp.Cookies()
		if len(cs) != 1 || !cs[0].Secure || !cs[0].HttpOnly || cs[0].SameSite != http.SameSiteNoneMode || !cs[0].Expires.Equal(fixedNow.Add(48*time.Hour)) {
			t.Errorf("Set-Cookie %q parses as %+v", sc, cs)
		}
	}

	h = newHarness(t, func(c *Config) {
		c.Cookie.Secure, c.Cookie.HTTPOnly, c.Cookie.SameSite = false, false, "Lax"
	})
	sc := h.do(req("GET", "/i", "")).Header().Get("Set-Cookie")
	if strings.Contains(sc, "Domain=") || strings.Contains(sc, "Secure") || strings.Contains(sc, "HttpOnly") || !strings.HasSuffix(sc, "; Path=/; SameSite=Lax") {
		t.Errorf("Set-Cookie %q", sc)
	}

	h = newHarness(t, func(c *Config) { c.Cookie.Enabled = false })
	w := h.do(req("GET", "/i", "", "Cookie", "sp=aaaaaaaa-0000-4000-8000-000000000001"))
	if w.Header().Get("Set-Cookie") != "" {
		t.Error("cookie disabled but set")
	}
	if h.onePayload().NetworkUserID != "aaaaaaaa-0000-4000-8000-000000000001" {
		t.Error("cookie disabled: the existing cookie should still be read")
	}
}

func TestSPAnonymous(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.UseIPAddressAsPartitionKey = true })
	w := h.do(req("POST", PathTP2, tp2Body, "SP-Anonymous", "*", "Cookie", "sp=aaaaaaaa-0000-4000-8000-000000000001",
		"X-Forwarded-For", "203.0.113.9", "X-Real-Ip", "203.0.113.9", "Forwarded", "for=203.0.113.9", "User-Agent", "UA"))
	if w.Code != 200 {
		t.Fatal(w.Code)
	}
	if sc := w.Header().Get("Set-Cookie"); sc != "" {
		t.Errorf("anonymous request got Set-Cookie %q", sc)
	}
	p := h.onePayload()
	if p.NetworkUserID != zeroNUID || p.IPAddress != "unknown" || p.UserAgent != "UA" {
		t.Fatalf("payload %+v", p)
	}
	for _, hd := range p.Headers {
		for _, banned := range []string{"Cookie:", "X-Forwarded-For:", "X-Real-Ip:", "Forwarded:"} {
			if strings.HasPrefix(hd, banned) {
				t.Errorf("anonymous payload kept header %q", hd)
			}
		}
	}
	if k := h.good.records()[0].PartitionKey; k != "" {
		t.Errorf("anonymous record keyed by %q", k)
	}
	h.do(req("GET", "/i", "", "X-Forwarded-For", "203.0.113.9"))
	if k := h.good.records()[1].PartitionKey; k != "203.0.113.9" {
		t.Errorf("record keyed by %q, want the IP", k)
	}
}

func TestClientIP(t *testing.T) {
	for _, tc := range []struct {
		remote string
		hdrs   []string
		want   string
	}{
		{"192.0.2.1:1", nil, "192.0.2.1"},
		{"[2001:db8::1]:1", nil, "2001:db8::1"},
		{"192.0.2.1:1", []string{"X-Forwarded-For", " 198.51.100.2 ,10.0.0.1"}, "198.51.100.2"},
		{"192.0.2.1:1", []string{"X-Forwarded-For", "198.51.100.2:5555"}, "198.51.100.2"},
		{"192.0.2.1:1", []string{"X-Forwarded-For", "garbage", "X-Real-Ip", "198.51.100.3"}, "198.51.100.3"},
		{"192.0.2.1:1", []string{"X-Forwarded-For", "unknown"}, "192.0.2.1"},
		{"pipe", nil, "unknown"},
		{"[::ffff:192.0.2.5]:80", nil, "192.0.2.5"},
	} {
		r := req("GET", "/i", "", tc.hdrs...)
		r.RemoteAddr = tc.remote
		if got := clientIP(r); got != tc.want {
			t.Errorf("%s %v: %q, want %q", tc.remote, tc.hdrs, got, tc.want)
		}
	}
}

func TestHostname(t *testing.T) {
	for in, want := range map[string]string{
		"c.example.com": "c.example.com", "c.example.com:8080": "c.example.com", "[::1]:80": "::1", "[::1]": "::1",
		"::1": "::1", "127.0.0.1:1": "127.0.0.1", "": "", "[bad": "bad", "a:": "a",
	} {
		if got := hostname(in); got != want {
			t.Errorf("hostname(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDoNotTrackCookie(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.DoNotTrackCookie = DoNotTrackConfig{Enabled: true, Name: "dnt", Value: "yes|1"}
	})
	w := h.do(req("GET", "/i?e=pv", "", "Cookie", "dnt=yes"))
	if w.Code != 200 || !bytes.Equal(w.Body.Bytes(), pixel) || w.Header().Get("Set-Cookie") != "" {
		t.Fatalf("do-not-track: %d, Set-Cookie %q", w.Code, w.Header().Get("Set-Cookie"))
	}
	w = h.do(req("POST", PathTP2, tp2Body, "Cookie", "dnt=1"))
	if w.Code != 200 || w.Body.String() != "ok" {
		t.Fatal(w.Code)
	}
	if n := len(h.payloads()); n != 0 {
		t.Fatalf("do-not-track requests wrote %d payloads", n)
	}
	// Only a whole-value match counts.
	h.do(req("GET", "/i", "", "Cookie", "dnt=yesno"))
	if n := len(h.payloads()); n != 1 {
		t.Fatalf("partial match treated as do-not-track (%d payloads)", n)
	}
	if h.metric(metricname.CollectorDoNotTrack.Name) != 2 || h.metric(metricname.CollectorEvents.Name) != 1 {
		t.Fatal("do-not-track not counted apart from events")
	}
}

func TestHealthRobotsAndSinkHealth(t *testing.T) {
	good := healthSink{&recordingSink{}}
	cfg := DefaultConfig()
	cfg.Sink.Type = "memory"
	reg := prometheus.NewRegistry()
	c, err := New(cfg, good, &recordingSink{}, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, c: c, good: good.recordingSink, reg: reg}
	if w := h.do(req("GET", "/health", "")); w.Code != 200 || w.Body.String() != "OK" {
		t.Fatalf("/health: %d %q", w.Code, w.Body)
	}
	w := h.do(req("GET", "/robots.txt", ""))
	if w.Code != 200 || !strings.HasPrefix(w.Body.String(), "User-agent: *\nDisallow: /\n") {
		t.Fatalf("/robots.txt: %d %q", w.Code, w.Body)
	}
	if w := h.do(req("GET", "/sink-health", "")); w.Code != 200 {
		t.Fatalf("/sink-health healthy: %d", w.Code)
	}
	if h.metric(metricname.CollectorSinkHealthy.Name, "sink", "good") != 1 ||
		h.metric(metricname.CollectorBufferBytes.Name, "sink", "good") != 123 ||
		h.metric(metricname.CollectorBufferLimitBytes.Name, "sink", "good") != 4567 {
		t.Fatal("sink gauges not reported from stream.Health")
	}
	good.set(func(s *recordingSink) { s.health = errors.New("kinesis throttled") })
	w = h.do(req("GET", "/sink-health", ""))
	if w.Code != 503 || !strings.Contains(w.Body.String(), "kinesis throttled") {
		t.Fatalf("/sink-health failing: %d %q", w.Code, w.Body)
	}
	if h.metric(metricname.CollectorSinkHealthy.Name, "sink", "good") != 0 {
		t.Fatal("sink_healthy still 1")
	}
	if w := h.do(req("POST", "/health", "")); w.Code != 405 {
		t.Fatalf("POST /health: %d", w.Code)
	}
}

func TestSinkFailuresAnswer503AndAreNotCounted(t *testing.T) {
	for name, setup := range map[string]func(h *harness){
		"full":    func(h *harness) { h.good.set(func(s *recordingSink) { s.err = stream.ErrFull }) },
		"error":   func(h *harness) { h.good.set(func(s *recordingSink) { s.err = errors.New("boom") }) },
		"timeout": func(h *harness) { h.good.set(func(s *recordingSink) { s.block = make(chan struct{}) }) },
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, func(c *Config) { c.Limits.SinkTimeout = 30 * time.Millisecond })
			setup(h)
			for _, r := range []*http.Request{req("POST", PathTP2, tp2Body), req("GET", "/i?e=pv", "")} {
				w := h.do(r)
				if w.Code != 503 || w.Header().Get("Retry-After") == "" {
					t.Fatalf("%s %s: %d", r.Method, r.URL, w.Code)
				}
				if w.Header().Get("Set-Cookie") != "" {
					t.Fatal("503 set a cookie")
				}
			}
			if h.metric(metricname.CollectorEvents.Name) != 0 || h.metric(metricname.CollectorPayloads.Name, "sink", "good") != 0 {
				t.Fatal("failed writes counted as accepted")
			}
			if h.metric(metricname.CollectorSinkFailures.Name, "sink", "good") != 2 ||
				h.metric(metricname.CollectorRequests.Name, "route", "tp2", "code", "503") != 1 {
				t.Fatal("failures not counted")
			}
			// A sink without its own health report is unhealthy after a
			// failed write, and healthy again after a good one.
			if w := h.do(req("GET", "/sink-health", "")); w.Code != 503 {
				t.Fatalf("/sink-health after failure: %d", w.Code)
			}
			h.good.set(func(s *recordingSink) { s.err, s.block = nil, nil })
			if w := h.do(req("GET", "/i", "")); w.Code != 200 {
				t.Fatal(w.Code)
			}
			if w := h.do(req("GET", "/sink-health", "")); w.Code != 200 {
				t.Fatalf("/sink-health after recovery: %d", w.Code)
			}
		})
	}
}

func TestMemorySinkBackPressureGives503(t *testing.T) {
	good := stream.NewMemory("raw-good", 1)
	cfg := DefaultConfig()
	cfg.Sink.Type = "memory"
	cfg.Limits.SinkTimeout = 20 * time.Millisecond
	c, err := New(cfg, good, stream.NewMemory("raw-bad", 10), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, c: c}
	if w := h.do(req("GET", "/i", "")); w.Code != 200 {
		t.Fatal(w.Code)
	}
	if w := h.do(req("GET", "/i", "")); w.Code != 503 {
		t.Fatalf("full memory stream: %d", w.Code)
	}
}

func TestBodyLimit(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Limits.MaxBodyBytes = 100 })
	w := h.do(req("POST", PathTP2, strings.Repeat("x", 101)))
	if w.Code != 413 {
		t.Fatalf("Content-Length over limit: %d", w.Code)
	}
	// Without Content-Length (chunked), the limit applies while reading.
	r := req("POST", PathTP2, "")
	r.Body = readerOnly{strings.NewReader(strings.Repeat("x", 5000))}
	r.ContentLength = -1
	if w := h.do(r); w.Code != 413 {
		t.Fatalf("chunked body over limit: %d", w.Code)
	}
	if w := h.do(req("POST", PathTP2, strings.Repeat("x", 100))); w.Code != 200 {
		t.Fatalf("body at the limit: %d", w.Code)
	}
	if n := len(h.payloads()); n != 1 {
		t.Fatalf("%d payloads, want 1", n)
	}
}

type readerOnly struct{ r *strings.Reader }

func (r readerOnly) Read(p []byte) (int, error) { return r.r.Read(p) }
func (r readerOnly) Close() error               { return nil }

// event returns a tracker event of about n bytes.
func event(i, n int) string {
	e := fmt.Sprintf(`{"e":"se","se_ca":"c%d","se_la":"`, i)
	return e + strings.Repeat("x", max(0, n-len(e)-2)) + `"}`
}

func TestOversizedBatchIsSplitByEvent(t *testing.T) {
	const limit = 4096
	h := newHarness(t, func(c *Config) { c.Limits.MaxRecordBytes = limit })
	var events []string
	for i := range 20 {
		events = append(events, event(i, 450))
	}
	events = append(events[:7], append([]string{event(99, 5000)}, events[7:]...)...) // one event too big on its own
	body := `{"schema":"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4","data":[` + strings.Join(events, ",") + `]}`
	w := h.do(req("POST", PathTP2, body, "Content-Type", "application/json"))
	if w.Code != 200 {
		t.Fatal(w.Code)
	}
	recs := h.good.records()
	if len(recs) < 3 {
		t.Fatalf("%d records; expected the batch split into several", len(recs))
	}
	var got []string
	for _, r := range recs {
		if len(r.Data) > limit {
			t.Fatalf("record of %d bytes exceeds the %d-byte limit", len(r.Data), limit)
		}
		p, err := payload.Unmarshal(r.Data)
		if err != nil {
			t.Fatal(err)
		}
		var b struct {
			Schema string            `json:"schema"`
			Data   []json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal([]byte(p.Body), &b); err != nil {
			t.Fatalf("split body is not JSON: %v", err)
		}
		if b.Schema != "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4" || p.Path != PathTP2 || p.ContentType != "application/json" {
			t.Fatalf("split payload lost its envelope: %+v", p)
		}
		for _, e := range b.Data {
			got = append(got, string(e))
		}
	}
	want := append(append([]string{}, events[:7]...), events[8:]...)
	if !slices.Equal(got, want) {
		t.Fatalf("split lost or reordered events: got %d, want %d", len(got), len(want))
	}
	bad := h.bad.records()
	if len(bad) != 1 {
		t.Fatalf("%d bad rows, want 1", len(bad))
	}
	br := validateBadRow(t, bad[0].Data)
	d := decodeSizeViolation(t, br)
	if d.Failure.MaximumAllowedSizeBytes != limit || d.Failure.ActualSizeBytes <= limit || !strings.HasPrefix(events[7], d.Payload) || len(d.Payload) != limit/10 {
		t.Fatalf("size violation %+v", d.Failure)
	}
	if h.metric(metricname.CollectorEvents.Name) != 20 || h.metric(metricname.CollectorBadRows.Name, "type", "size_violation") != 1 ||
		h.metric(metricname.CollectorPayloads.Name, "sink", "bad") != 1 {
		t.Fatal("metrics do not match the split")
	}
}

func TestOversizedUnsplittablePayloads(t *testing.T) {
	const limit = 4096
	for name, r := range map[string]*http.Request{
		"get":      req("GET", "/i?e=pv&x="+strings.Repeat("a", 5000), ""),
		"not json": req("POST", PathTP2, strings.Repeat("y", 5000)),
		"no data":  req("POST", PathTP2, `{"schema":"s","data":[],"pad":"`+strings.Repeat("z", 5000)+`"}`),
		"envelope": req("POST", PathTP2, `{"schema":"s","data":[1]}`, "X-Big", strings.Repeat("h", 5000)),
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, func(c *Config) { c.Limits.MaxRecordBytes = limit })
			if w := h.do(r); w.Code != 200 {
				t.Fatal(w.Code)
			}
			if n := len(h.good.records()); n != 0 {
				t.Fatalf("%d good records", n)
			}
			bad := h.bad.records()
			if len(bad) != 1 {
				t.Fatalf("%d bad rows", len(bad))
			}
			d := decodeSizeViolation(t, validateBadRow(t, bad[0].Data))
			if d.Failure.ActualSizeBytes <= limit || d.Payload == "" || len(bad[0].Data) > limit {
				t.Fatalf("%+v", d)
			}
		})
	}
}

func TestBadSinkFailureFailsTheRequest(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Limits.MaxRecordBytes = 4096 })
	h.bad.set(func(s *recordingSink) { s.err = stream.ErrFull })
	if w := h.do(req("GET", "/i?x="+strings.Repeat("a", 5000), "")); w.Code != 503 {
		t.Fatalf("bad row not written but answered %d", w.Code)
	}
	if h.metric(metricname.CollectorBadRows.Name, "type", "size_violation") != 0 {
		t.Fatal("unwritten bad row counted")
	}
}

func TestRedirect(t *testing.T) {
	h := newHarness(t, nil)
	if w := h.do(req("GET", "/r/tp2?u=https%3A%2F%2Fexample.com%2F", "")); w.Code != 404 {
		t.Fatalf("redirect is off by default but answered %d", w.Code)
	}
	h = newHarness(t, func(c *Config) { c.Redirect = RedirectConfig{Enabled: true, Domains: []string{"example.com"}} })
	w := h.do(req("GET", "/r/tp2?e=pv&u=https%3A%2F%2Fshop.example.com%2Fp%3Fa%3D1", ""))
	if w.Code != 302 || w.Header().Get("Location") != "https://shop.example.com/p?a=1" {
		t.Fatalf("%d Location %q", w.Code, w.Header().Get("Location"))
	}
	if p := h.onePayload(); p.Path != PathRedirect || !strings.Contains(p.Querystring, "u=https") {
		t.Fatalf("payload %+v", p)
	}
	for _, u := range []string{"https%3A%2F%2Fevil.com%2F", "https%3A%2F%2Fexample.com.evil.com%2F", "javascript%3Aalert(1)", "%2F%2Fexample.com", ""} {
		if w := h.do(req("GET", "/r/tp2?u="+u, "")); w.Code != 400 {
			t.Errorf("u=%s: %d, want 400", u, w.Code)
		}
	}
	if n := len(h.payloads()); n != 1 {
		t.Fatalf("refused redirects wrote payloads (%d)", n)
	}
}

func TestShutdownDrainsInFlightThenClosesSinks(t *testing.T) {
	h := newHarness(t, nil)
	release := make(chan struct{})
	h.good.set(func(s *recordingSink) { s.block = release })
	done := make(chan int)
	go func() { done <- h.do(req("POST", PathTP2, tp2Body)).Code }()
	for h.c.inflight.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	shut := make(chan error)
	go func() { shut <- h.c.Shutdown(t.Context()) }()
	time.Sleep(20 * time.Millisecond)
	select {
	case <-shut:
		t.Fatal("Shutdown returned with a request in flight")
	default:
	}
	if w := h.do(req("GET", "/i", "")); w.Code != 503 {
		t.Fatalf("request during shutdown: %d", w.Code)
	}
	if w := h.do(req("GET", "/health", "")); w.Code != 503 {
		t.Fatalf("/health during shutdown: %d", w.Code)
	}
	close(release)
	if code := <-done; code != 200 {
		t.Fatalf("in-flight request: %d", code)
	}
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
	if !h.good.closed || !h.bad.closed {
		t.Fatal("sinks not closed")
	}
	if len(h.payloads()) != 1 {
		t.Fatal("in-flight payload lost")
	}
}

func TestPanicIsA500AndTheNextRequestWorks(t *testing.T) {
	h := newHarness(t, nil)
	h.good.set(func(s *recordingSink) { s.panicky = true })
	if w := h.do(req("GET", "/i", "")); w.Code != 500 {
		t.Fatalf("%d", w.Code)
	}
	if h.metric(metricname.CollectorPanics.Name) != 1 || h.metric(metricname.CollectorRequests.Name, "route", "pixel", "code", "500") != 1 {
		t.Fatal("panic not counted")
	}
	h.good.set(func(s *recordingSink) { s.panicky = false })
	if w := h.do(req("GET", "/i", "")); w.Code != 200 || len(h.payloads()) != 1 {
		t.Fatal("collector broken after a panic")
	}
}

func TestMetricsAreRegisteredUnderSharedNames(t *testing.T) {
	h := newHarness(t, nil)
	h.do(req("GET", "/i", ""))
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if !metricname.Known(mf.GetName()) {
			t.Errorf("%s is not defined in metricname", mf.GetName())
		}
	}
	for _, name := range []string{metricname.CollectorRequests.Name, metricname.CollectorPayloads.Name, metricname.CollectorEvents.Name,
		metricname.CollectorBadRows.Name, metricname.CollectorReceivedBytes.Name, metricname.CollectorSinkLatency.Name,
		metricname.CollectorSinkFailures.Name, metricname.CollectorSinkHealthy.Name, metricname.CollectorPanics.Name} {
		if !slices.ContainsFunc(mfs, func(mf *dto.MetricFamily) bool { return mf.GetName() == name }) {
			t.Errorf("%s not exposed", name)
		}
	}
}

// TestSplittingTinyEventsBoundsMemory: a body of ~340,000 "{}" events,
// too big for one record, is split into records holding every event, in
// order, and splitting allocates a small multiple of the body: it never
// builds a list of the events (issue 12; that list alone was 8–16 MiB per
// request). With two "data" members only the last one's events are kept,
// as encoding/json (and so enrich) reads the body.
func TestSplittingTinyEventsBoundsMemory(t *testing.T) {
	const n = 340_000
	schema := `"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4"`
	items := strings.TrimSuffix(strings.Repeat(`{},`, n), ",")
	for _, tc := range []struct{ name, body string }{
		{"one data member", `{"schema":` + schema + `,"data":[` + items + `]}`},
		{"data given twice", `{"data":[{"e":"pv"},{"e":"pv"}],"schema":` + schema + `,"data":[` + items + `]}`},
	} {
		h := newHarness(t, nil)
		body := []byte(tc.body)
		rec := &record{path: PathTP2, contentType: "application/json"}
		var ms0, ms1 runtime.MemStats
		runtime.ReadMemStats(&ms0)
		good, bad, events := h.c.toRecords(rec, body, true, fixedNow)
		runtime.ReadMemStats(&ms1)
		if len(bad) != 0 || events != n || len(good) < 2 {
			t.Fatalf("%s: %d records, %d bad rows, %d events; want %d events split across records", tc.name, len(good), len(bad), events, n)
		}
		got := 0
		for _, r := range good {
			p, err := payload.Unmarshal(r)
			if err != nil {
				t.Fatal(err)
			}
			var b struct {
				Data []json.RawMessage `json:"data"`
			}
			if err := json.Unmarshal([]byte(p.Body), &b); err != nil {
				t.Fatalf("%s: split body is not JSON: %v", tc.name, err)
			}
			for _, e := range b.Data {
				if string(e) != "{}" {
					t.Fatalf("%s: record %d holds %s", tc.name, got, e)
				}
				got++
			}
		}
		if got != n {
			t.Errorf("%s: records hold %d events, want %d", tc.name, got, n)
		}
		if allocated := ms1.TotalAlloc - ms0.TotalAlloc; allocated > 4*uint64(len(body)) {
			t.Errorf("%s: splitting a %d-byte body allocated %d bytes; want at most 4× the body", tc.name, len(body), allocated)
		} else {
			t.Logf("%s: splitting a %d-byte body into %d records allocated %d bytes", tc.name, len(body), len(good), allocated)
		}
	}
}

package collector

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// blockingBody is a request body that hands out its bytes only after
// release is closed: a client still sending.
type blockingBody struct {
	r       io.Reader
	release chan struct{}
}

func (b *blockingBody) Read(p []byte) (int, error) {
	<-b.release
	return b.r.Read(p)
}

// TestInflightBodyBudgetRefusesWhenFull: while bodies worth
// limits.max_inflight_body_bytes are being read, another POST waits at most
// sink_timeout and gets 503 with Retry-After (counted); once they finish,
// the next POST is accepted. GETs carry no body and are not held back.
func TestInflightBodyBudgetRefusesWhenFull(t *testing.T) {
	const limit = 64 << 10
	h := newHarness(t, func(c *Config) {
		c.Limits.MaxBodyBytes = limit
		c.Limits.MaxInflightBodyBytes = 2 * limit
		c.Limits.SinkTimeout = 100 * time.Millisecond
	})
	body := `{"schema":"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4","data":[{"e":"pv","p":"web","tv":"t"}]}`
	release := make(chan struct{})
	done := make(chan int, 2)
	for range 2 {
		// A chunked body (unknown length) weighs max_body_bytes: two fill
		// the budget.
		r := req(http.MethodPost, PathTP2, "", "Content-Type", "application/json")
		r.Body = io.NopCloser(&blockingBody{r: strings.NewReader(body), release: release})
		r.ContentLength = -1
		go func() { done <- h.do(r).Code }()
	}
	// Wait until both hold their share of the budget.
	deadline := time.Now().Add(5 * time.Second)
	for h.c.bodies.TryAcquire(1) {
		h.c.bodies.Release(1)
		if time.Now().After(deadline) {
			t.Fatal("the two slow requests never took the budget")
		}
		time.Sleep(time.Millisecond)
	}
	w := h.do(req(http.MethodPost, PathTP2, body, "Content-Type", "application/json"))
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Fatalf("POST with the budget full: %d (Retry-After %q), want 503 with Retry-After", w.Code, w.Header().Get("Retry-After"))
	}
	if got := h.metric("plowline_collector_body_budget_refusals_total"); got != 1 {
		t.Errorf("refusals counted %v, want 1", got)
	}
	if w := h.do(req(http.MethodGet, "/i?e=pv&p=web&tv=t", "")); w.Code != http.StatusOK {
		t.Errorf("GET with the budget full: %d, want 200", w.Code)
	}
	close(release)
	for range 2 {
		if code := <-done; code != http.StatusOK {
			t.Errorf("slow POST answered %d, want 200", code)
		}
	}
	if w := h.do(req(http.MethodPost, PathTP2, body, "Content-Type", "application/json")); w.Code != http.StatusOK {
		t.Errorf("POST after the budget freed: %d, want 200", w.Code)
	}
	if n := len(h.good.records()); n != 4 {
		t.Errorf("%d good records, want 4 (two slow POSTs, one GET, one POST)", n)
	}
}

// TestInflightBodyBudgetBelowBodyLimitRefused: a budget smaller than one
// body could never admit a maximum-size body.
func TestInflightBodyBudgetBelowBodyLimitRefused(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Limits.MaxInflightBodyBytes = cfg.Limits.MaxBodyBytes - 1
	err := cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), "limits.max_inflight_body_bytes") {
		t.Fatalf("Validate: %v, want an error naming limits.max_inflight_body_bytes", err)
	}
}

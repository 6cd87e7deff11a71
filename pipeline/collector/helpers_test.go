package collector

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/plowline/plowline/pipeline/badrow"
	"github.com/plowline/plowline/pipeline/payload"
	"github.com/plowline/plowline/pipeline/stream"
	"github.com/plowline/plowline/testkit"
)

// harness is a collector over in-memory sinks with its own registry.
type harness struct {
	t         testing.TB
	c         *Collector
	good, bad *recordingSink
	reg       *prometheus.Registry
}

// recordingSink keeps every record it accepts; err and block let a test
// make it fail or hang.
type recordingSink struct {
	mu      sync.Mutex
	recs    []stream.Record
	err     error
	health  error
	block   chan struct{}
	closed  bool
	panicky bool
}

func (s *recordingSink) Put(ctx context.Context, recs []stream.Record) error {
	s.mu.Lock()
	err, block, closed, panicky := s.err, s.block, s.closed, s.panicky
	s.mu.Unlock()
	if panicky {
		panic("sink bug")
	}
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if closed {
		return stream.ErrClosed
	}
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recs = append(s.recs, recs...)
	return nil
}

func (s *recordingSink) Close(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

func (s *recordingSink) set(f func(*recordingSink)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

func (s *recordingSink) records() []stream.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]stream.Record(nil), s.recs...)
}

// healthSink is a recordingSink that reports its own health and buffer.
type healthSink struct{ *recordingSink }

func (h healthSink) Healthy() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.health
}
func (h healthSink) Buffered() (int64, int64) { return 123, 4567 }

var fixedNow = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

func newHarness(t testing.TB, mutate func(*Config)) *harness {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Version = "0.1.0"
	cfg.Sink.Type = "memory"
	if mutate != nil {
		mutate(&cfg)
	}
	h := &harness{t: t, good: &recordingSink{}, bad: &recordingSink{}, reg: prometheus.NewRegistry()}
	c, err := New(cfg, h.good, h.bad, h.reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.now = func() time.Time { return fixedNow }
	h.c = c
	return h
}

// do serves one request through the real handler.
func (h *harness) do(r *http.Request) *httptest.ResponseRecorder {
	h.t.Helper()
	w := httptest.NewRecorder()
	h.c.Handler().ServeHTTP(w, r)
	return w
}

func req(method, target, body string, headers ...string) *http.Request {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, target, rd)
	r.RemoteAddr = "192.0.2.1:4321"
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Add(headers[i], headers[i+1])
	}
	return r
}

// payloads decodes every good record.
func (h *harness) payloads() []*payload.CollectorPayload {
	h.t.Helper()
	var out []*payload.CollectorPayload
	for _, r := range h.good.records() {
		p, err := payload.Unmarshal(r.Data)
		if err != nil {
			h.t.Fatalf("good record does not decode: %v", err)
		}
		out = append(out, p)
	}
	return out
}

// onePayload expects exactly one good record.
func (h *harness) onePayload() *payload.CollectorPayload {
	h.t.Helper()
	ps := h.payloads()
	if len(ps) != 1 {
		h.t.Fatalf("%d good payloads, want 1", len(ps))
	}
	return ps[0]
}

// metric returns the value of a counter or gauge with the given labels (0 if absent).
func (h *harness) metric(name string, labels ...string) float64 {
	h.t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		h.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				if labelValue(m, labels[i]) != labels[i+1] {
					continue next
				}
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return 0
}

func labelValue(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// validateBadRow checks a bad row against its schema in Iglu Central.
func validateBadRow(t *testing.T, line []byte) badrow.BadRow {
	t.Helper()
	return testkit.ValidateBadRow(t, line)
}

// sizeViolation decodes a size_violation's data.
type sizeViolationData struct {
	Failure struct {
		MaximumAllowedSizeBytes int    `json:"maximumAllowedSizeBytes"`
		ActualSizeBytes         int    `json:"actualSizeBytes"`
		Expectation             string `json:"expectation"`
	} `json:"failure"`
	Payload string `json:"payload"`
}

func decodeSizeViolation(t *testing.T, b badrow.BadRow) sizeViolationData {
	t.Helper()
	var d sizeViolationData
	if err := json.Unmarshal(b.Data, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

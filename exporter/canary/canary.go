// Package canary sends one synthetic event to the collector every interval
// and follows it through the pipeline: it asks each later stage (S3, the
// warehouse) whether the event has arrived, and records the latency to
// each stage, or a loss once the deadline passes. It is the heartbeat the
// Prometheus documentation recommends for offline pipelines: when no
// events flow, the canary still says whether the pipeline would deliver.
//
// The event is a structured event with app_id plowline-canary and a unique
// event id (kept in clear by the pseudonymizer's default allowlist), so it
// can be found — and excluded from business queries — everywhere.
package canary

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/plowline/plowline/exporter/config"
)

// AppID is the canary events' app_id.
const AppID = "plowline-canary"

// Stage is one place the canary event is looked for.
type Stage struct {
	Name string
	// Find reports when the event arrived at the stage, if it has.
	Find func(ctx context.Context, eventID string) (arrived time.Time, found bool, err error)
	// Every is how often Find may be called (a warehouse query costs).
	Every time.Duration
}

type inflight struct {
	id   string
	sent time.Time
	// pending are the indexes of stages that have not shown the event yet.
	pending map[int]bool
}

// Canary sends and follows canary events.
type Canary struct {
	cfg    config.Canary
	stages []Stage
	client *http.Client
	log    *slog.Logger
	// Now is the clock; tests replace it.
	Now func() time.Time

	mu        sync.Mutex
	status    Status
	inflight  []*inflight
	lastCheck []time.Time
	// lastFound is, per stage, when the most recently sent event found
	// there was sent.
	lastFound []time.Time
}

// New returns a canary for the configured collector and stages.
func New(cfg config.Canary, stages []Stage, log *slog.Logger) *Canary {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Canary{cfg: cfg, stages: stages, client: &http.Client{Timeout: 10 * time.Second}, log: log, Now: time.Now,
		lastCheck: make([]time.Time, len(stages)), lastFound: make([]time.Time, len(stages))}
	c.status.Stages = append(c.status.Stages, StageStatus{Stage: "collector"})
	for _, s := range stages {
		c.status.Stages = append(c.status.Stages, StageStatus{Stage: s.Name})
	}
	return c
}

// Status returns a copy of the canary's state.
func (c *Canary) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.status
	st.Stages = append([]StageStatus(nil), c.status.Stages...)
	for i := range st.Stages {
		// Deep copies: the caller reads them without the lock.
		st.Stages[i].Recent = append([]EventLatency(nil), st.Stages[i].Recent...)
		st.Stages[i].Latencies.Counts = append([]uint64(nil), st.Stages[i].Latencies.Counts...)
	}
	return st
}

// Run sends a canary every interval and checks in-flight ones until ctx is done.
func (c *Canary) Run(ctx context.Context) {
	tick := min(c.cfg.Interval, 5*time.Second)
	nextSend := c.Now()
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		if !c.Now().Before(nextSend) {
			c.Send(ctx)
			nextSend = nextSend.Add(c.cfg.Interval)
		}
		c.Check(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Send posts one canary event to the collector.
func (c *Canary) Send(ctx context.Context) {
	id := newEventID()
	now := c.Now()
	err := c.post(ctx, id, now)
	took := c.Now().Sub(now)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.status.Sent++
	c.status.LastSent, c.status.LastEventID = now, id
	col := &c.status.Stages[0]
	if err != nil {
		c.status.SendFailures++
		col.Lost++
		col.LastError = err.Error()
		c.log.Warn("canary event not accepted by the collector", "event_id", id, "err", err)
		return
	}
	col.Seen++
	col.Latencies.observe(took.Seconds())
	col.Latency, col.LastSeen, col.LastError = took, now.Add(took), ""
	f := &inflight{id: id, sent: now, pending: map[int]bool{}}
	for i := range c.stages {
		f.pending[i] = true
	}
	c.inflight = append(c.inflight, f)
}

// Body returns the tp2 payload of a canary event (exported for tests and
// for documentation of what the canary sends).
func Body(id string, at time.Time) []byte {
	ms := strconv.FormatInt(at.UnixMilli(), 10)
	payload := map[string]any{
		"schema": "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4",
		"data": []map[string]string{{
			"e": "se", "se_ca": "plowline", "se_ac": "canary", "se_la": id,
			"aid": AppID, "eid": id, "p": "srv", "tv": "plowline-canary-1",
			"dtm": ms, "stm": ms,
		}},
	}
	b, _ := json.Marshal(payload)
	return b
}

func (c *Canary) post(ctx context.Context, id string, at time.Time) error {
	url := strings.TrimRight(c.cfg.CollectorURL, "/") + "/com.snowplowanalytics.snowplow/tp2"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(Body(id, at)))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "plowline-canary/1")
	resp, err := c.client.Do(req)
	if err != nil {
		return fmt.Errorf("posting to %s: %w", url, err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("posting to %s: HTTP %s", url, resp.Status)
	}
	return nil
}

// Check asks each stage (no more often than its Every) about every
// in-flight event, and declares events past the deadline lost.
func (c *Canary) Check(ctx context.Context) {
	c.mu.Lock()
	flights := append([]*inflight(nil), c.inflight...)
	c.mu.Unlock()
	now := c.Now()
	for i, s := range c.stages {
		if now.Sub(c.lastCheck[i]) < s.Every {
			continue
		}
		c.lastCheck[i] = now
		for _, f := range flights {
			c.mu.Lock()
			pending := f.pending[i]
			c.mu.Unlock()
			if !pending {
				continue
			}
			at, found, err := s.Find(ctx, f.id)
			c.mu.Lock()
			st := &c.status.Stages[i+1]
			switch {
			case err != nil:
				st.LastError = err.Error()
			case found:
				delete(f.pending, i)
				c.record(i, f, at, now)
			case now.Sub(f.sent) > c.cfg.Deadline:
				delete(f.pending, i)
				st.Lost++
				c.log.Warn("canary event lost at stage", "stage", s.Name, "event_id", f.id, "sent", f.sent, "deadline", c.cfg.Deadline)
			}
			c.mu.Unlock()
		}
	}
	c.mu.Lock()
	kept := c.inflight[:0]
	for _, f := range c.inflight {
		if len(f.pending) > 0 {
			kept = append(kept, f)
		}
	}
	c.inflight = kept
	c.mu.Unlock()
}

// record notes that in-flight event f reached stage i at arrived: one
// observation per event, so events that arrived together (one S3 object)
// keep their own latencies. Called with c.mu held.
func (c *Canary) record(i int, f *inflight, arrived, now time.Time) {
	st := &c.status.Stages[i+1]
	lat := arrived.Sub(f.sent)
	if lat < 0 {
		// The stage's clock (an object's LastModified, a warehouse
		// timestamp) is behind ours or coarser: it arrived at once.
		lat = 0
	}
	st.Seen++
	st.Latencies.observe(lat.Seconds())
	if !f.sent.Before(c.lastFound[i]) {
		// The gauge follows the most recently sent event found, whatever
		// order the stage reports events in.
		c.lastFound[i] = f.sent
		st.Latency = lat
	}
	st.LastSeen, st.LastError = now, ""
	st.Recent = append(st.Recent, EventLatency{EventID: f.id, Sent: f.sent, Arrived: arrived, Latency: lat})
	if len(st.Recent) > RecentEvents {
		st.Recent = append(st.Recent[:0:0], st.Recent[len(st.Recent)-RecentEvents:]...)
	}
}

// newEventID returns a random UUID v4, the form Snowplow event ids take.
func newEventID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

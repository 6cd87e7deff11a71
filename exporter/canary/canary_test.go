package canary

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/plowline/plowline/exporter/config"
)

// collector records the tp2 payloads it receives, answering status.
type collector struct {
	mu     sync.Mutex
	events []map[string]string
	status int
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r.URL.Path != "/com.snowplowanalytics.snowplow/tp2" || r.Method != http.MethodPost {
		http.NotFound(w, r)
		return
	}
	body, _ := io.ReadAll(r.Body)
	var p struct {
		Schema string              `json:"schema"`
		Data   []map[string]string `json:"data"`
	}
	if err := json.Unmarshal(body, &p); err != nil || p.Schema != "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4" {
		http.Error(w, "bad payload", 400)
		return
	}
	c.events = append(c.events, p.Data...)
	w.WriteHeader(c.status)
}

func TestCanaryFollowsEventToEachStage(t *testing.T) {
	col := &collector{status: 200}
	srv := httptest.NewServer(col)
	defer srv.Close()
	clock := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	arrived := map[string]time.Time{} // event id → when the "s3" stage got it
	var mu sync.Mutex
	s3 := Stage{Name: "s3", Every: time.Second, Find: func(_ context.Context, id string) (time.Time, bool, error) {
		mu.Lock()
		defer mu.Unlock()
		t, ok := arrived[id]
		return t, ok, nil
	}}
	never := Stage{Name: "warehouse", Every: time.Second, Find: func(context.Context, string) (time.Time, bool, error) { return time.Time{}, false, nil }}
	c := New(config.Canary{CollectorURL: srv.URL, Interval: time.Minute, Deadline: 10 * time.Minute}, []Stage{s3, never}, nil)
	c.Now = func() time.Time { return clock }

	c.Send(context.Background())
	if len(col.events) != 1 {
		t.Fatalf("collector got %d events", len(col.events))
	}
	ev := col.events[0]
	id := ev["eid"]
	if ev["aid"] != AppID || len(id) != 36 || ev["e"] != "se" {
		t.Fatalf("canary event %v", ev)
	}
	clock = clock.Add(90 * time.Second)
	c.Check(context.Background())
	if st := c.Status(); st.Stages[1].Seen != 0 {
		t.Fatalf("seen before arrival: %+v", st.Stages[1])
	}
	mu.Lock()
	arrived[id] = clock.Add(-30 * time.Second) // written to S3 60s after sending
	mu.Unlock()
	clock = clock.Add(time.Second)
	c.Check(context.Background())
	st := c.Status()
	if st.Sent != 1 || st.Stages[0].Stage != "collector" || st.Stages[0].Seen != 1 {
		t.Errorf("collector stage %+v", st.Stages[0])
	}
	if s := st.Stages[1]; s.Seen != 1 || s.Latency != 60*time.Second {
		t.Errorf("s3 stage %+v, want seen once with 60s latency", s)
	}
	// The warehouse never shows it: lost once the deadline passes, once.
	clock = clock.Add(11 * time.Minute)
	c.Check(context.Background())
	clock = clock.Add(time.Minute)
	c.Check(context.Background())
	if s := c.Status().Stages[2]; s.Lost != 1 || s.Seen != 0 {
		t.Errorf("warehouse stage %+v, want lost once", s)
	}

	// A collector that refuses counts a send failure and a loss at the collector.
	col.status = 503
	c.Send(context.Background())
	st = c.Status()
	if st.SendFailures != 1 || st.Stages[0].Lost != 1 || st.Stages[0].LastError == "" {
		t.Errorf("after 503: %+v", st)
	}
}

// TestTwoCanariesSharingAnObjectKeepTheirOwnLatency: two canaries sent 30 s
// apart land in one S3 object (one arrival time): each is one observation
// with its own latency (60 s and 30 s), the gauge follows the newer one,
// and the recent events list both.
func TestTwoCanariesSharingAnObjectKeepTheirOwnLatency(t *testing.T) {
	col := &collector{status: 200}
	srv := httptest.NewServer(col)
	defer srv.Close()
	clock := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	t0 := clock
	var mu sync.Mutex
	arrived := map[string]time.Time{}
	s3 := Stage{Name: "s3", Every: time.Second, Find: func(_ context.Context, id string) (time.Time, bool, error) {
		mu.Lock()
		defer mu.Unlock()
		at, ok := arrived[id]
		return at, ok, nil
	}}
	c := New(config.Canary{CollectorURL: srv.URL, Interval: 30 * time.Second, Deadline: 10 * time.Minute}, []Stage{s3}, nil)
	c.Now = func() time.Time { return clock }
	c.Send(context.Background())
	clock = clock.Add(30 * time.Second)
	c.Send(context.Background())
	if len(col.events) != 2 {
		t.Fatalf("collector got %d events", len(col.events))
	}
	object := t0.Add(60 * time.Second) // one object holds both
	mu.Lock()
	for _, ev := range col.events {
		arrived[ev["eid"]] = object
	}
	mu.Unlock()
	clock = t0.Add(65 * time.Second)
	c.Check(context.Background())
	st := c.Status().Stages[1]
	if st.Seen != 2 || st.Latencies.Count != 2 || st.Latencies.Sum != 90 {
		t.Fatalf("s3 stage %+v, want 2 events observed, 60 s + 30 s", st)
	}
	if st.Latency != 30*time.Second {
		t.Errorf("gauge %s, want the newer event's 30s", st.Latency)
	}
	if len(st.Recent) != 2 || st.Recent[0].Latency != 60*time.Second || st.Recent[1].Latency != 30*time.Second ||
		st.Recent[0].EventID == st.Recent[1].EventID || st.MaxRecent() != 60*time.Second {
		t.Errorf("recent %+v", st.Recent)
	}
	cum := st.Latencies.Cumulative()
	if cum[30] != 1 || cum[60] != 2 || cum[10] != 0 {
		t.Errorf("buckets %v", cum)
	}
}

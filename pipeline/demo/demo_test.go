package demo

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestBatchIsATrackerProtocolPayload(t *testing.T) {
	b := NewBuilder(1, 0.3)
	body, valid, invalid := b.Batch(200)
	var pd struct {
		Schema string              `json:"schema"`
		Data   []map[string]string `json:"data"` // every value a string, as the protocol wants
	}
	if err := json.Unmarshal(body, &pd); err != nil {
		t.Fatalf("body is not payload_data JSON with string values: %v", err)
	}
	if pd.Schema != "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4" || len(pd.Data) != 200 {
		t.Fatalf("schema %q, %d events", pd.Schema, len(pd.Data))
	}
	if valid+invalid != 200 || invalid < 30 || invalid > 90 {
		t.Errorf("%d valid, %d invalid at fraction 0.3", valid, invalid)
	}
	ids := map[string]bool{}
	for i, ev := range pd.Data {
		if ev["eid"] != b.LastIDs[i] || ids[ev["eid"]] {
			t.Fatalf("event %d: eid %q (LastIDs %q) missing or repeated", i, ev["eid"], b.LastIDs[i])
		}
		ids[ev["eid"]] = true
		var cx string
		switch ev["e"] {
		case "pv":
			raw, err := base64.RawURLEncoding.DecodeString(ev["cx"])
			if err != nil {
				t.Fatalf("cx is not base64url: %v", err)
			}
			cx = string(raw)
		case "se", "ue":
			cx = ev["co"]
		default:
			t.Fatalf("event type %q", ev["e"])
		}
		var c struct {
			Data []struct {
				Schema string         `json:"schema"`
				Data   map[string]any `json:"data"`
			} `json:"data"`
		}
		if err := json.Unmarshal([]byte(cx), &c); err != nil {
			t.Fatalf("contexts are not JSON: %v\n%s", err, cx)
		}
		gl := c.Data[len(c.Data)-1]
		if gl.Schema != "iglu:com.gitlab/gitlab_standard/jsonschema/1-0-9" {
			t.Fatalf("last context %s, want GitLab's standard context", gl.Schema)
		}
		_, numeric := gl.Data["project_id"].(float64)
		broken := !numeric || ev["e"] == "ue"
		if broken == b.LastValid[i] {
			t.Errorf("event %d: LastValid %v but project_id %v, e=%s", i, b.LastValid[i], gl.Data["project_id"], ev["e"])
		}
	}
}

func TestAppendJSONStringRoundTrips(t *testing.T) {
	for _, s := range []string{"", `a"b\c`, "tab\tnl\n\x00\x1f", "Grüße · 😀", "</script>"} {
		var got string
		if err := json.Unmarshal(appendJSONString(nil, s), &got); err != nil || got != s {
			t.Errorf("%q round-trips to %q (%v)", s, got, err)
		}
	}
}

func TestRunSendsAtTheRateAndCountsFailures(t *testing.T) {
	var events, calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != PostPath || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			t.Errorf("request %s %s", r.URL.Path, r.Header.Get("Content-Type"))
		}
		body, _ := io.ReadAll(r.Body)
		if calls.Add(1)%2 == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		events.Add(int64(strings.Count(string(body), `"eid"`)))
	}))
	defer srv.Close()
	cfg := DefaultConfig(srv.URL)
	cfg.Rate, cfg.BatchSize = 200, 10
	var st Stats
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if err := Run(ctx, cfg, &st); err != nil {
		t.Fatal(err)
	}
	sent := st.Valid.Load() + st.Invalid.Load()
	if sent == 0 || sent != events.Load() || st.Rejected.Load() == 0 {
		t.Errorf("stats %d accepted / %d rejected; server counted %d accepted", sent, st.Rejected.Load(), events.Load())
	}
	if bad := (Config{CollectorURL: "x", Rate: 0, BatchSize: 1}).Validate(); bad == nil || !strings.Contains(bad.Error(), "rate 0") {
		t.Errorf("rate 0 accepted: %v", bad)
	}
}

package testkit

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// EventKind says which tracker call a TrackerEvent becomes.
type EventKind string

// The event kinds both trackers send.
const (
	PageView       EventKind = "page_view"       // trackPageView; e=pv
	StructEvent    EventKind = "struct"          // trackStructEvent; e=se
	SelfDescribing EventKind = "self_describing" // trackSelfDescribingEvent; e=ue
	// The kinds below are sent through the tracker core's own builders
	// (buildPagePing, buildLinkClick, buildEcommerceTransaction(Item)),
	// which the browser tracker's activity tracking, link-click plugin and
	// ecommerce plugin call; the browser page calls them on its tracker's
	// core, so the browser adds its page and session fields as for any event.
	PagePing        EventKind = "page_ping"        // buildPagePing; e=pp (PageURL, PageTitle, Referrer, Offsets)
	LinkClick       EventKind = "link_click"       // buildLinkClick; e=ue, link_click 1-0-1
	Transaction     EventKind = "transaction"      // buildEcommerceTransaction; e=tr
	TransactionItem EventKind = "transaction_item" // buildEcommerceTransactionItem; e=ti
)

// LinkClickData is a link click's element (LinkClick events).
type LinkClickData struct {
	TargetURL      string   `json:"targetUrl"`
	ElementID      string   `json:"elementId,omitempty"`
	ElementClasses []string `json:"elementClasses,omitempty"`
	ElementTarget  string   `json:"elementTarget,omitempty"`
	ElementContent string   `json:"elementContent,omitempty"`
}

// TransactionData is an ecommerce transaction (Transaction events) or one
// of its items (TransactionItem events: OrderID, SKU, Price, Name,
// Category, Quantity, Currency).
type TransactionData struct {
	OrderID     string  `json:"orderId"`
	Total       float64 `json:"total,omitempty"`
	Affiliation string  `json:"affiliation,omitempty"`
	Tax         float64 `json:"tax,omitempty"`
	Shipping    float64 `json:"shipping,omitempty"`
	City        string  `json:"city,omitempty"`
	State       string  `json:"state,omitempty"`
	Country     string  `json:"country,omitempty"`
	Currency    string  `json:"currency,omitempty"`
	SKU         string  `json:"sku,omitempty"`
	Price       float64 `json:"price,omitempty"`
	Name        string  `json:"name,omitempty"`
	Category    string  `json:"category,omitempty"`
	Quantity    int     `json:"quantity,omitempty"`
}

// SelfDescribingJSON is an Iglu self-describing JSON: an entity (context)
// or the body of a self-describing event.
type SelfDescribingJSON struct {
	Schema string         `json:"schema"`
	Data   map[string]any `json:"data"`
}

// TrackerEvent is one event for a real Snowplow tracker to track.
type TrackerEvent struct {
	Kind EventKind `json:"kind"`

	// Page view. In the browser, PageURL and Referrer override the page's
	// own (setCustomUrl, setReferrerUrl) for this and every later event of
	// the run; unset, events carry the test page's URL.
	PageURL   string `json:"pageUrl,omitempty"`
	PageTitle string `json:"pageTitle,omitempty"`
	Referrer  string `json:"referrer,omitempty"`

	// Structured event.
	Category string   `json:"category,omitempty"`
	Action   string   `json:"action,omitempty"`
	Label    string   `json:"label,omitempty"`
	Property string   `json:"property,omitempty"`
	Value    *float64 `json:"value,omitempty"`

	// Self-describing event: the Iglu URI and the data.
	Schema string         `json:"schema,omitempty"`
	Data   map[string]any `json:"data,omitempty"`

	// Page ping scroll offsets: min X, max X, min Y, max Y.
	Offsets [4]int `json:"offsets,omitzero"`

	// Link click.
	Link *LinkClickData `json:"link,omitempty"`

	// Transaction or transaction item.
	Transaction *TransactionData `json:"transaction,omitempty"`

	// Contexts are entities attached to the event (cx / co).
	Contexts []SelfDescribingJSON `json:"contexts,omitempty"`

	// TrueTimestamp, if set, is sent as ttm (Unix milliseconds).
	TrueTimestamp int64 `json:"trueTimestamp,omitempty"`
}

// Float returns a pointer to v, for TrackerEvent.Value.
func Float(v float64) *float64 { return &v }

// SentEvent is one event exactly as a tracker sent it: the tracker-protocol
// parameters (e, eid, tv, aid, p, ue_px, cx, …) and their values. For
// events sent by POST it lacks stm, which the tracker adds per request.
type SentEvent map[string]string

// NodeTrackerOptions configure the node tracker. Zero values take the
// defaults in the comments.
type NodeTrackerOptions struct {
	AppID     string // aid (default "plowline-test")
	Namespace string // tna (default "node")
	// Method is "post" (default; batched tp2 POSTs) or "get" (one GET /i per event).
	Method string
	// BufferSize is how many events the tracker batches per POST (default 5).
	BufferSize int
	// PlainJSON sends self-describing events and contexts as ue_pr/co
	// instead of base64 ue_px/cx (encodeBase64 false).
	PlainJSON bool
	// Headers are sent with every POST (e.g. SP-Anonymous).
	Headers map[string]string
	// PostPath replaces /com.snowplowanalytics.snowplow/tp2 (GitLab
	// self-managed posts to /-/collect_events).
	PostPath string
	// ServerAnonymization makes the tracker send SP-Anonymous: * (the
	// collector must then record no IP, a zero network user id, no cookie).
	ServerAnonymization bool
	// Set calls the tracker's setters; zero fields are left alone.
	Set TrackerSetters
	// Timeout bounds the whole run (default 60s).
	Timeout time.Duration
}

// TrackerSetters are the node tracker's setXxx calls.
type TrackerSetters struct {
	Platform         string    `json:"platform,omitempty"`        // p (node default "srv")
	UserID           string    `json:"userId,omitempty"`          // uid
	ScreenResolution [2]string `json:"screenResolution,omitzero"` // res
	Viewport         [2]string `json:"viewport,omitzero"`         // vp
	ColorDepth       string    `json:"colorDepth,omitempty"`      // cd
	Timezone         string    `json:"timezone,omitempty"`        // tz
	Lang             string    `json:"lang,omitempty"`            // lang
	IPAddress        string    `json:"ipAddress,omitempty"`       // ip
	Useragent        string    `json:"useragent,omitempty"`       // ua
	DomainUserID     string    `json:"domainUserId,omitempty"`    // duid
	NetworkUserID    string    `json:"networkUserId,omitempty"`   // tnuid
	SessionID        string    `json:"sessionId,omitempty"`       // sid
	SessionIndex     int       `json:"sessionIndex,omitempty"`    // vid
}

// NodeTracker runs the real @snowplow/node-tracker in node, tracks events
// against the collector at collectorURL (scheme://host:port; the tracker
// adds /com.snowplowanalytics.snowplow/tp2 or /i), waits until the tracker
// has flushed everything, and returns the events as the tracker sent them
// (in send order). It fails the test if any request failed (the tracker's
// onRequestFailure: a non-2xx answer, a refused connection, a timeout);
// failed requests are not retried, so nothing is sent twice.
func NodeTracker(t testing.TB, collectorURL string, events []TrackerEvent, opts NodeTrackerOptions) []SentEvent {
	t.Helper()
	node := Node(t)
	NodeModules(t)
	if opts.AppID == "" {
		opts.AppID = "plowline-test"
	}
	if opts.Namespace == "" {
		opts.Namespace = "node"
	}
	if opts.Method == "" {
		opts.Method = "post"
	}
	if opts.BufferSize <= 0 {
		opts.BufferSize = 5
	}
	if opts.Timeout <= 10*time.Second {
		opts.Timeout = 60 * time.Second
	}
	u, err := url.Parse(collectorURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		t.Fatalf("NodeTracker: collector URL %q: want scheme://host:port", collectorURL)
	}
	cfg := map[string]any{
		"endpoint":     u.Scheme + "://" + u.Host,
		"method":       opts.Method,
		"bufferSize":   opts.BufferSize,
		"appId":        opts.AppID,
		"namespace":    opts.Namespace,
		"encodeBase64": !opts.PlainJSON,
		"headers":      opts.Headers,
		"postPath":     opts.PostPath,
		"anonymous":    opts.ServerAnonymization,
		"setters":      opts.Set,
		"events":       events,
		"timeoutMs":    (opts.Timeout - 5*time.Second).Milliseconds(),
	}
	file := filepath.Join(t.TempDir(), "node-tracker.json")
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatalf("NodeTracker: encoding config: %v", err)
	}
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), opts.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(RepoRoot(t), "testkit", "node", "node_tracker.js"), file)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var res struct {
		Sent     []map[string]any `json:"sent"`
		Failures []struct {
			Status    int    `json:"status"`
			Message   string `json:"message"`
			Events    int    `json:"events"`
			WillRetry bool   `json:"willRetry"`
		} `json:"failures"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &res); err != nil {
		t.Fatalf("node tracker: %v (exit: %v)\nstdout: %s\nstderr: %s", err, runErr, tail(stdout.String(), 4000), tail(stderr.String(), 4000))
	}
	if len(res.Failures) > 0 {
		t.Fatalf("node tracker: %d requests failed, first: HTTP %d %q (%d events)\nstderr: %s",
			len(res.Failures), res.Failures[0].Status, res.Failures[0].Message, res.Failures[0].Events, tail(stderr.String(), 4000))
	}
	if runErr != nil {
		t.Fatalf("node tracker: %v\nstderr: %s", runErr, tail(stderr.String(), 4000))
	}
	sent := make([]SentEvent, len(res.Sent))
	for i, p := range res.Sent {
		sent[i] = stringify(p)
	}
	if len(sent) != len(events) {
		t.Fatalf("node tracker sent %d events, want %d", len(sent), len(events))
	}
	return sent
}

func stringify(p map[string]any) SentEvent {
	out := make(SentEvent, len(p))
	for k, v := range p {
		switch v := v.(type) {
		case string:
			out[k] = v
		case nil:
		default:
			b, _ := json.Marshal(v)
			out[k] = string(b)
		}
	}
	return out
}

// ParseTP2 returns the events of a tracker-protocol POST body (the
// payload_data self-describing JSON), each as its parameters.
func ParseTP2(body []byte) ([]SentEvent, error) {
	var pd struct {
		Schema string           `json:"schema"`
		Data   []map[string]any `json:"data"`
	}
	if err := json.Unmarshal(body, &pd); err != nil {
		return nil, fmt.Errorf("tp2 body is not JSON: %w", err)
	}
	if !strings.HasPrefix(pd.Schema, "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-") {
		return nil, fmt.Errorf("tp2 body has schema %q, want payload_data", pd.Schema)
	}
	out := make([]SentEvent, len(pd.Data))
	for i, d := range pd.Data {
		out[i] = stringify(d)
	}
	return out, nil
}

// ParseQuery returns the event of a GET request's query string.
func ParseQuery(rawQuery string) (SentEvent, error) {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, fmt.Errorf("query string %q: %w", rawQuery, err)
	}
	ev := SentEvent{}
	for k, v := range q {
		ev[k] = v[0]
	}
	return ev, nil
}

// SelfDescribingParam decodes the JSON an event carries in the base64
// parameter b64 (ue_px, cx) or the plain one (ue_pr, co); nil if neither.
func (e SentEvent) SelfDescribingParam(b64, plain string) (map[string]any, error) {
	var raw []byte
	if v, ok := e[b64]; ok {
		var err error
		// Trackers send URL-safe base64 without padding; accept both alphabets.
		raw, err = base64.RawURLEncoding.DecodeString(strings.TrimRight(strings.NewReplacer("+", "-", "/", "_").Replace(v), "="))
		if err != nil {
			return nil, fmt.Errorf("%s=%q: %w", b64, v, err)
		}
	} else if v, ok := e[plain]; ok {
		raw = []byte(v)
	} else {
		return nil, nil
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", b64, err)
	}
	return m, nil
}

// AssertArrived checks that every event the tracker sent arrived, matched
// by event id (eid), with every parameter the tracker sent and the same
// value. Received events may carry more (stm, a collector's additions);
// exempt lists parameters not to compare (e.g. ones the pipeline rewrites).
// It returns the received events by eid for further checks.
func AssertArrived(t testing.TB, sent, received []SentEvent, exempt ...string) map[string]SentEvent {
	t.Helper()
	skip := map[string]bool{}
	for _, k := range exempt {
		skip[k] = true
	}
	byID := map[string]SentEvent{}
	for _, ev := range received {
		if id := ev["eid"]; id != "" {
			if _, dup := byID[id]; dup {
				t.Errorf("event %s received twice", id)
			}
			byID[id] = ev
		}
	}
	for _, s := range sent {
		got, ok := byID[s["eid"]]
		if !ok {
			t.Errorf("event %s (e=%s) did not arrive", s["eid"], s["e"])
			continue
		}
		keys := make([]string, 0, len(s))
		for k := range s {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if skip[k] {
				continue
			}
			if gv, ok := got[k]; !ok {
				t.Errorf("event %s: parameter %s=%q did not arrive", s["eid"], k, s[k])
			} else if gv != s[k] {
				t.Errorf("event %s: parameter %s = %q, tracker sent %q", s["eid"], k, gv, s[k])
			}
		}
	}
	if len(received) != len(sent) {
		t.Errorf("received %d events, tracker sent %d", len(received), len(sent))
	}
	return byID
}

package micro

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/plowline/plowline/pipeline/enrich/iglu"
	"github.com/plowline/plowline/pipeline/event"
	"github.com/plowline/plowline/pipeline/pseudonymize"
)

// Paths the API answers on. Micro's own paths serve events as the enricher
// wrote them, in clear; the same paths under PseudonymizedPrefix serve them
// as the pseudonymizer writes them to S3, so a Micro-based suite is pointed
// at either view by its base URL alone.
const (
	Prefix              = "/micro/"
	PseudonymizedPrefix = "/pseudonymized/micro/"
)

// maxFilterBytes bounds a POSTed filter document.
const maxFilterBytes = 64 << 10

// SchemaSource looks up a schema document the way the enricher resolves
// it; *iglu.Resolver is one.
type SchemaSource interface {
	Raw(ctx context.Context, key iglu.SchemaKey) ([]byte, error)
}

// HandlerOptions configure NewHandler.
type HandlerOptions struct {
	// Pseudonymizer renders the pseudonymized view; nil disables it (404).
	Pseudonymizer *pseudonymize.Pseudonymizer
	// Schemas answers /micro/iglu/...; nil answers 404 for every schema.
	Schemas SchemaSource
	// Next serves every request outside the API: the collector.
	Next http.Handler
	// AllowRemoteClear serves the clear view to clients on other machines
	// too. By default only loopback clients see events in clear; others get
	// 403 and are pointed at the pseudonymized view.
	AllowRemoteClear bool
	Log              *slog.Logger
}

// NewHandler serves Snowplow Micro's REST API over the store, and passes
// every other request to opts.Next. It takes precedence over the
// collector, as in Micro: /micro/good would otherwise be a vendor path.
func NewHandler(s *Store, opts HandlerOptions) http.Handler {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Next == nil {
		opts.Next = http.NotFoundHandler()
	}
	return &handler{s: s, o: opts}
}

type handler struct {
	s *Store
	o HandlerOptions
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	pseudo := false
	switch {
	case strings.HasPrefix(path, Prefix):
		path = strings.TrimPrefix(path, Prefix)
	case strings.HasPrefix(path, PseudonymizedPrefix):
		path = strings.TrimPrefix(path, PseudonymizedPrefix)
		pseudo = true
	default:
		h.o.Next.ServeHTTP(w, r)
		return
	}
	cors(w, r)
	if r.Method == http.MethodOptions {
		w.WriteHeader(http.StatusOK)
		return
	}
	if pseudo && h.o.Pseudonymizer == nil {
		http.Error(w, "the pseudonymized view is not available: no pseudonymizer is configured", http.StatusNotFound)
		return
	}
	get, post := r.Method == http.MethodGet || r.Method == http.MethodHead, r.Method == http.MethodPost
	switch {
	case path == "all" && (get || post):
		writeJSON(w, http.StatusOK, h.s.Summary())
	case path == "reset" && (get || post):
		h.s.Reset()
		writeJSON(w, http.StatusOK, h.s.Summary())
	case (path == "good" || path == "bad") && (get || post):
		if !pseudo && !h.o.AllowRemoteClear && !loopback(r.RemoteAddr) {
			http.Error(w, "events in clear are only served to this machine; use "+PseudonymizedPrefix+path+
				" for the pseudonymized view (or start plowline with --micro.allow-remote-clear)", http.StatusForbidden)
			return
		}
		if path == "good" {
			h.good(w, r, post, pseudo)
		} else {
			h.bad(w, r, post, pseudo)
		}
	case strings.HasPrefix(path, "iglu/") && get:
		h.iglu(w, r, strings.TrimPrefix(path, "iglu/"))
	default:
		http.Error(w, "Path for micro has to be one of: /all /good /bad /reset /iglu", http.StatusNotFound)
	}
}

// cors answers browsers as Micro does: a test page on another origin may
// query the API.
func cors(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Access-Control-Allow-Methods", "POST, GET, OPTIONS")
	if o := r.Header.Get("Origin"); o != "" {
		h.Set("Access-Control-Allow-Origin", o)
		h.Set("Access-Control-Allow-Credentials", "true")
	} else {
		h.Set("Access-Control-Allow-Origin", "*")
	}
	h.Set("Access-Control-Allow-Headers", "Content-Type")
}

func loopback(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encoding the answer: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(b)
}

// decodeFilters reads a POSTed filter document; an empty body means no
// filter. Unknown members are ignored, as Micro's decoder does.
func decodeFilters(r *http.Request, post bool, v any) error {
	if !post {
		return nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxFilterBytes+1))
	if err != nil {
		return fmt.Errorf("reading the filters: %w", err)
	}
	if len(body) > maxFilterBytes {
		return fmt.Errorf("the filter document is larger than %d bytes", maxFilterBytes)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("the filters are not a JSON object of the documented members: %w", err)
	}
	return nil
}

// GoodFilters is Micro's FiltersGood: every member given must match.
type GoodFilters struct {
	// EventType matches the event column (page_view, struct, unstruct, ...).
	EventType *string `json:"event_type"`
	// Schema matches the self-describing event's Iglu URI.
	Schema *string `json:"schema"`
	// Contexts must all be among the event's entities' Iglu URIs.
	Contexts []string `json:"contexts"`
	// Limit keeps the newest Limit events.
	Limit *int `json:"limit"`
}

// BadFilters is Micro's FiltersBad: vendor and version of the payload's
// adapter (com.snowplowanalytics.snowplow, tp2); a bad row without a
// collector payload matches any.
type BadFilters struct {
	Vendor  *string `json:"vendor"`
	Version *string `json:"version"`
	Limit   *int    `json:"limit"`
}

// A GoodEvent, the element of /micro/good's array, is Micro's: rawEvent,
// eventType, schema, contexts, event (see docs/micro.md). A BadEvent, the
// element of /micro/bad's, is collectorPayload, rawEvent and errors (a
// headline, then the bad row). Both are written member by member: the
// enriched event and the raw event are JSON already, and re-encoding
// thousands of them through encoding/json would cost more than the rest.

// arrayWriter streams a JSON array of elements to the client.
type arrayWriter struct {
	w   *bufio.Writer
	buf []byte
	n   int
}

func newArrayWriter(w http.ResponseWriter) *arrayWriter {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	a := &arrayWriter{w: bufio.NewWriterSize(w, 64<<10)}
	a.w.WriteByte('[')
	return a
}

// element writes buf as the next element.
func (a *arrayWriter) element(buf []byte) {
	if a.n > 0 {
		a.w.WriteByte(',')
	}
	a.n++
	a.w.Write(buf)
}

func (a *arrayWriter) close() {
	a.w.WriteByte(']')
	a.w.Flush()
}

// appendMember appends ,"name": (or "name": first) and the value, "null"
// for nil.
func appendMember(dst []byte, first bool, name string, v []byte) []byte {
	if !first {
		dst = append(dst, ',')
	}
	dst = append(dst, '"')
	dst = append(dst, name...)
	dst = append(dst, '"', ':')
	if v == nil {
		return append(dst, "null"...)
	}
	return append(dst, v...)
}

func stringPtrJSON(s *string) []byte {
	if s == nil {
		return nil
	}
	return event.AppendJSONString(nil, *s)
}

func (f *GoodFilters) keep(in eventInfo) bool {
	if f.EventType != nil && (in.EventType == nil || *in.EventType != *f.EventType) {
		return false
	}
	if f.Schema != nil && (in.Schema == nil || *in.Schema != *f.Schema) {
		return false
	}
	for _, want := range f.Contexts {
		found := false
		for _, c := range in.Contexts {
			if c == want {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func (h *handler) good(w http.ResponseWriter, r *http.Request, post, pseudo bool) {
	var f GoodFilters
	if err := decodeFilters(r, post, &f); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	goods, _ := h.s.snapshot()
	out := newArrayWriter(w)
	defer out.close()
	var ev event.Event
	var buf, evBuf []byte
	for _, g := range goods {
		if f.Limit != nil && out.n >= *f.Limit {
			break
		}
		line := g.line
		if pseudo {
			t, err := h.o.Pseudonymizer.Transform(nil, []byte(line))
			if err != nil {
				// The delivery stream writes such an event to
				// processing-failed/, never to the lake: it is not shown.
				h.o.Log.Warn("Micro API: event not shown pseudonymized", "reason", err.Error())
				continue
			}
			line = string(t)
		}
		if err := event.ParseInto(&ev, line); err != nil {
			h.o.Log.Warn("Micro API: enriched line does not parse", "err", err)
			continue
		}
		in := infoOf(&ev)
		if !f.keep(in) {
			continue
		}
		var raw []byte
		if !pseudo {
			// Raw parameters are in clear: only the clear view has them.
			g.p.parse()
			if g.idx < len(g.p.goodJSON) {
				raw = g.p.goodJSON[g.idx]
			}
		}
		evBuf = appendEvent(evBuf[:0], &ev)
		buf = append(buf[:0], '{')
		buf = appendMember(buf, true, "rawEvent", raw)
		buf = appendMember(buf, false, "eventType", stringPtrJSON(in.EventType))
		buf = appendMember(buf, false, "schema", stringPtrJSON(in.Schema))
		buf = appendMember(buf, false, "contexts", mustJSON(in.Contexts))
		buf = appendMember(buf, false, "event", evBuf)
		out.element(append(buf, '}'))
	}
}

// badHeadline is the first error of a BadEvent, Micro's words for the stage
// that failed.
func badHeadline(typ string) string {
	switch typ {
	case "collector_payload_format_violation":
		return "Can't deserialize Thrift bytes."
	case "tracker_protocol_violations", "adapter_failures":
		return "Error while extracting event(s) from collector payload and validating it/them."
	case "size_violation":
		return "The collector rejected the payload."
	}
	return "Error while validating the event."
}

func (h *handler) bad(w http.ResponseWriter, r *http.Request, post, pseudo bool) {
	var f BadFilters
	if err := decodeFilters(r, post, &f); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	_, bads := h.s.snapshot()
	out := newArrayWriter(w)
	defer out.close()
	var buf []byte
	for _, b := range bads {
		if f.Limit != nil && out.n >= *f.Limit {
			break
		}
		var cp, raw []byte
		if b.p != nil {
			b.p.parse()
			if b.p.cp != nil {
				cp = b.p.collectorPayloadOut
				// Micro's filters look at the payload's adapter; a row
				// without a payload matches any.
				if f.Vendor != nil && b.p.api.Vendor != *f.Vendor || f.Version != nil && b.p.api.Version != *f.Version {
					continue
				}
			}
			if b.idx < len(b.p.badJSON) {
				raw = b.p.badJSON[b.idx]
			}
		}
		row := b.row
		if pseudo {
			t, err := h.o.Pseudonymizer.Transform(nil, []byte(row))
			if err != nil {
				h.o.Log.Warn("Micro API: bad row not shown pseudonymized", "reason", err.Error())
				continue
			}
			row = string(t)
			// The request and the raw event are in clear.
			cp, raw = nil, nil
		}
		buf = append(buf[:0], '{')
		buf = appendMember(buf, true, "collectorPayload", cp)
		buf = appendMember(buf, false, "rawEvent", raw)
		buf = appendMember(buf, false, "errors", mustJSON([]string{badHeadline(b.typ), row}))
		out.element(append(buf, '}'))
	}
}

// iglu answers /micro/iglu/{vendor}/{name}/jsonschema/{version} with the
// schema document, or 404 with every registry's answer, as Micro does.
func (h *handler) iglu(w http.ResponseWriter, r *http.Request, rest string) {
	parts := strings.Split(rest, "/")
	var key iglu.SchemaKey
	var err error
	if len(parts) == 4 && parts[2] == "jsonschema" {
		key, err = iglu.ParseURI("iglu:" + rest)
	}
	if len(parts) != 4 || parts[2] != "jsonschema" || err != nil {
		http.Error(w, "Schema lookup should be in format iglu/{vendor}/{schemaName}/jsonschema/{model}-{revision}-{addition}", http.StatusNotFound)
		return
	}
	if h.o.Schemas == nil {
		writeJSON(w, http.StatusNotFound, map[string]any{"value": map[string]any{}})
		return
	}
	raw, err := h.o.Schemas.Raw(r.Context(), key)
	if err == nil {
		w.Header().Set("Content-Type", "application/json")
		w.Write(raw)
		return
	}
	var re *iglu.ResolutionError
	if !errors.As(err, &re) {
		http.Error(w, "looking up "+key.String()+": "+err.Error(), http.StatusBadGateway)
		return
	}
	value := map[string]any{}
	for _, l := range re.History {
		errs := make([]map[string]string, 0, len(l.Errors))
		for _, e := range l.Errors {
			m := map[string]string{"error": e.Kind}
			if e.Message != "" {
				m["message"] = e.Message
			}
			errs = append(errs, m)
		}
		value[l.Repository] = map[string]any{"errors": errs, "attempts": l.Attempts,
			"lastAttempt": l.LastAttempt.UTC().Format(time.RFC3339Nano)}
	}
	writeJSON(w, http.StatusNotFound, map[string]any{"value": value})
}

package micro

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"time"

	"github.com/plowline/plowline/pipeline/enrich/iglu"
	"github.com/plowline/plowline/pipeline/enrich/tp"
	"github.com/plowline/plowline/pipeline/event"
	"github.com/plowline/plowline/pipeline/payload"
)

// apiJSON is enrich's CollectorPayload.Api: the adapter vendor and version.
type apiJSON struct {
	Vendor  string `json:"vendor"`
	Version string `json:"version"`
}

// sourceJSON is enrich's CollectorPayload.Source.
type sourceJSON struct {
	Name     string  `json:"name"`
	Encoding string  `json:"encoding"`
	Hostname *string `json:"hostname"`
}

// contextJSON is enrich's CollectorPayload.Context: what the collector
// knew of the request.
type contextJSON struct {
	Timestamp  *string  `json:"timestamp"`
	IPAddress  *string  `json:"ipAddress"`
	Useragent  *string  `json:"useragent"`
	RefererURI *string  `json:"refererUri"`
	Headers    []string `json:"headers"`
	UserID     *string  `json:"userId"`
}

// rawEventJSON is Micro's rawEvent: enrich's RawEvent, one event of a
// payload with its parameters as a JSON object, before enrichment.
type rawEventJSON struct {
	API         apiJSON     `json:"api"`
	Parameters  params      `json:"parameters"`
	ContentType *string     `json:"contentType"`
	Source      sourceJSON  `json:"source"`
	Context     contextJSON `json:"context"`
}

// collectorPayloadJSON is Micro's BadEvent.collectorPayload: enrich's
// CollectorPayload, the whole request. Micro writes each query-string
// parameter as "name=value".
type collectorPayloadJSON struct {
	API         apiJSON     `json:"api"`
	Querystring []string    `json:"querystring"`
	ContentType *string     `json:"contentType"`
	Body        *string     `json:"body"`
	Source      sourceJSON  `json:"source"`
	Context     contextJSON `json:"context"`
}

// params writes tracker parameters as one JSON object in the order they
// were sent; a repeated name keeps its first place and its last value, as
// the event's own parameter overrides the query string's (tp.Event.Get).
type params []tp.Param

// MarshalJSON implements json.Marshaler.
func (ps params) MarshalJSON() ([]byte, error) {
	last := make(map[string]string, len(ps))
	for _, p := range ps {
		last[p.Name] = p.Value
	}
	b := []byte{'{'}
	seen := make(map[string]bool, len(ps))
	for _, p := range ps {
		if seen[p.Name] {
			continue
		}
		seen[p.Name] = true
		if len(seen) > 1 {
			b = append(b, ',')
		}
		b = event.AppendJSONString(b, p.Name)
		b = append(b, ':')
		b = event.AppendJSONString(b, last[p.Name])
	}
	return append(b, '}'), nil
}

// mustJSON marshals the API's own types, which cannot fail to encode
// (strings, string slices, and params, whose encoder returns no error).
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		return []byte("null")
	}
	return b
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// acceptAll is the validator of the re-parse: the enricher has already
// judged the payload, Micro's view only needs its events' parameters.
type acceptAll struct{}

func (acceptAll) Validate(context.Context, iglu.SchemaKey, any) error { return nil }

// payloadRef is one collector payload as the enricher read it, shared by
// the good and bad events it produced. Its raw events are parsed on the
// first query that needs them, not on the enricher's path.
type payloadRef struct {
	record []byte

	once   sync.Once
	cp     *payload.CollectorPayload // nil when the record is not a payload
	api    apiJSON
	events []tp.Event
	// goodIDs are the event ids of the payload's good lines, badRows its
	// bad rows, in output order; goodJSON and badJSON are their raw events
	// (nil: none), collectorPayloadOut the request.
	goodIDs             []string
	badRows             []string
	goodJSON, badJSON   [][]byte
	collectorPayloadOut []byte
}

func (p *payloadRef) parse() {
	p.once.Do(func() {
		// A per-event bad row carries its raw event itself.
		p.badJSON = make([][]byte, len(p.badRows))
		claimedIDs := map[string]bool{}
		raws := make([]*badRowRaw, len(p.badRows))
		for i, row := range p.badRows {
			if raws[i] = rawOfBadRow(row); raws[i] != nil {
				claimedIDs[raws[i].eid()] = true
			}
		}
		cp, err := payload.Unmarshal(p.record)
		if err == nil {
			p.cp = cp
		}
		for i, r := range raws {
			if r != nil {
				p.badJSON[i] = mustJSON(r.rawEvent(p.cp))
			}
		}
		p.goodJSON = make([][]byte, len(p.goodIDs))
		if p.cp == nil {
			return
		}
		evs, fails := tp.Parse(context.Background(), acceptAll{}, cp)
		p.events = evs
		p.api = apiJSON{Vendor: tp.Vendor, Version: tp.TP2}
		switch {
		case len(evs) > 0:
			p.api.Version = evs[0].Version
		case len(fails) > 0:
			p.api = apiJSON{Vendor: fails[0].Vendor, Version: fails[0].Version}
		}
		p.collectorPayloadOut = mustJSON(p.collectorPayload())
		for i, r := range p.matchGood(claimedIDs) {
			if r >= 0 {
				p.goodJSON[i] = mustJSON(p.rawEvent(&p.events[r]))
			}
		}
	})
}

// matchGood pairs each good line with its raw event (-1: none): by event
// id (eid), which every Snowplow tracker sends. Lines left over (an event
// without a usable eid gets a generated id) take, in order, the raw events
// no line and no bad row claimed, since the enricher keeps the payload's
// order.
func (p *payloadRef) matchGood(claimedIDs map[string]bool) []int {
	byEID := make(map[string]int, len(p.events))
	claimed := make([]bool, len(p.events))
	for i := range p.events {
		eid, _ := p.events[i].Get("eid")
		if eid != "" && claimedIDs[eid] {
			claimed[i] = true
			continue
		}
		if _, dup := byEID[eid]; eid != "" && !dup {
			byEID[eid] = i
		}
	}
	out := make([]int, len(p.goodIDs))
	for i, id := range p.goodIDs {
		out[i] = -1
		if r, ok := byEID[id]; ok && id != "" && !claimed[r] {
			claimed[r] = true
			out[i] = r
		}
	}
	next := 0
	for i := range out {
		if out[i] >= 0 {
			continue
		}
		for next < len(claimed) && claimed[next] {
			next++
		}
		if next < len(claimed) {
			claimed[next] = true
			out[i] = next
		}
	}
	return out
}

func (p *payloadRef) source() sourceJSON {
	return sourceJSON{Name: p.cp.Collector, Encoding: p.cp.Encoding, Hostname: nullable(p.cp.Hostname)}
}

func (p *payloadRef) context() contextJSON {
	c := contextJSON{IPAddress: nullable(p.cp.IPAddress), Useragent: nullable(p.cp.UserAgent),
		RefererURI: nullable(p.cp.RefererURI), Headers: p.cp.Headers, UserID: nullable(p.cp.NetworkUserID)}
	if c.Headers == nil {
		c.Headers = []string{}
	}
	if p.cp.Timestamp != 0 {
		ts := time.UnixMilli(p.cp.Timestamp).UTC().Format("2006-01-02T15:04:05.000Z")
		c.Timestamp = &ts
	}
	return c
}

func (p *payloadRef) rawEvent(ev *tp.Event) *rawEventJSON {
	return &rawEventJSON{API: apiJSON{Vendor: tp.Vendor, Version: ev.Version}, Parameters: params(ev.Params),
		ContentType: nullable(p.cp.ContentType), Source: p.source(), Context: p.context()}
}

func (p *payloadRef) collectorPayload() *collectorPayloadJSON {
	qs := []string{}
	if ps, err := tp.ParseQuery(p.cp.Querystring); err == nil {
		for _, q := range ps {
			qs = append(qs, q.Name+"="+q.Value)
		}
	} else if p.cp.Querystring != "" {
		qs = append(qs, p.cp.Querystring)
	}
	return &collectorPayloadJSON{API: p.api, Querystring: qs, ContentType: nullable(p.cp.ContentType),
		Body: nullable(p.cp.Body), Source: p.source(), Context: p.context()}
}

// badRowRaw is the raw event a per-event bad row (schema_violations,
// enrichment_failures) carries in payload.raw; payload-level rows
// (tracker protocol violations, adapter failures) carry none.
type badRowRaw struct {
	Vendor     string `json:"vendor"`
	Version    string `json:"version"`
	Parameters []struct {
		Name  string  `json:"name"`
		Value *string `json:"value"`
	} `json:"parameters"`
	ContentType *string  `json:"contentType"`
	LoaderName  string   `json:"loaderName"`
	Encoding    string   `json:"encoding"`
	Hostname    *string  `json:"hostname"`
	Timestamp   *string  `json:"timestamp"`
	IPAddress   *string  `json:"ipAddress"`
	Useragent   *string  `json:"useragent"`
	RefererURI  *string  `json:"refererUri"`
	Headers     []string `json:"headers"`
	UserID      *string  `json:"userId"`
}

// rawOfBadRow returns the raw event a bad row carries, or nil.
func rawOfBadRow(row string) *badRowRaw {
	var br struct {
		Data struct {
			Payload struct {
				Raw *badRowRaw `json:"raw"`
			} `json:"payload"`
		} `json:"data"`
	}
	if json.Unmarshal([]byte(row), &br) != nil || br.Data.Payload.Raw == nil || br.Data.Payload.Raw.Vendor == "" {
		return nil
	}
	return br.Data.Payload.Raw
}

// eid is the raw event's eid parameter.
func (r *badRowRaw) eid() string {
	for _, p := range r.Parameters {
		if p.Name == "eid" && p.Value != nil {
			return *p.Value
		}
	}
	return ""
}

// rawEvent turns the bad row's raw event into Micro's shape; the source is
// named after the collector (as Micro does) when the payload is at hand.
func (r *badRowRaw) rawEvent(cp *payload.CollectorPayload) *rawEventJSON {
	ps := make(params, 0, len(r.Parameters))
	for _, p := range r.Parameters {
		v := ""
		if p.Value != nil {
			v = *p.Value
		}
		ps = append(ps, tp.Param{Name: p.Name, Value: v})
	}
	name := r.LoaderName
	if cp != nil {
		name = cp.Collector
	}
	headers := r.Headers
	if headers == nil {
		headers = []string{}
	}
	return &rawEventJSON{API: apiJSON{Vendor: r.Vendor, Version: r.Version}, Parameters: ps, ContentType: r.ContentType,
		Source:  sourceJSON{Name: name, Encoding: r.Encoding, Hostname: r.Hostname},
		Context: contextJSON{Timestamp: r.Timestamp, IPAddress: r.IPAddress, Useragent: r.Useragent, RefererURI: r.RefererURI, Headers: headers, UserID: r.UserID}}
}

// badRowType is the bad row's type (schema_violations, ...) from its schema.
func badRowType(row []byte) string {
	var br struct {
		Schema string `json:"schema"`
	}
	if json.Unmarshal(row, &br) != nil {
		return ""
	}
	s := strings.TrimPrefix(br.Schema, "iglu:com.snowplowanalytics.snowplow.badrows/")
	name, _, _ := strings.Cut(s, "/")
	return name
}

// Package payload is the collector payload: Snowplow's Thrift CollectorPayload
// (iglu:com.snowplowanalytics.snowplow/CollectorPayload/thrift/1-0-0) in the
// binary protocol, the record the collector writes to the raw stream and the
// enricher reads. Being byte-compatible with Snowplow's collector means a real
// Snowplow enrich can read what plowline's collector writes and vice versa.
package payload

import (
	"context"
	"errors"
	"fmt"

	"github.com/apache/thrift/lib/go/thrift"
)

// Schema is the Iglu URI carried in every payload's schema field.
const Schema = "iglu:com.snowplowanalytics.snowplow/CollectorPayload/thrift/1-0-0"

// Thrift field ids of CollectorPayload, as in Snowplow's collector-payload-1.thrift.
const (
	idSchema        = 31337
	idIPAddress     = 100
	idTimestamp     = 200
	idEncoding      = 210
	idCollector     = 220
	idUserAgent     = 300
	idRefererURI    = 310
	idPath          = 320
	idQuerystring   = 330
	idBody          = 340
	idHeaders       = 350
	idContentType   = 360
	idHostname      = 400
	idNetworkUserID = 410
)

// CollectorPayload is one HTTP request as the collector saw it. Optional
// Thrift fields are plain strings here: empty means absent, which is how
// Snowplow's enrich treats them too.
type CollectorPayload struct {
	Schema        string
	IPAddress     string
	Timestamp     int64 // collector time, milliseconds since the Unix epoch
	Encoding      string
	Collector     string
	UserAgent     string
	RefererURI    string
	Path          string
	Querystring   string
	Body          string
	Headers       []string // "Name: value"
	HasHeaders    bool     // distinguishes an empty header list from an absent one
	ContentType   string
	Hostname      string
	NetworkUserID string
}

// MaxSize bounds what Unmarshal accepts, so a corrupt length prefix cannot
// make the decoder allocate gigabytes.
const MaxSize = 10 << 20

var conf = &thrift.TConfiguration{MaxMessageSize: MaxSize, MaxFrameSize: MaxSize}

// Marshal encodes p in Thrift's binary protocol, fields in IDL order as the
// Java code Snowplow generates writes them.
func (p *CollectorPayload) Marshal() ([]byte, error) {
	buf := thrift.NewTMemoryBufferLen(256 + len(p.Body) + len(p.Querystring))
	if err := p.write(context.Background(), thrift.NewTBinaryProtocolConf(buf, conf)); err != nil {
		return nil, fmt.Errorf("encoding collector payload: %w", err)
	}
	return buf.Bytes(), nil
}

func (p *CollectorPayload) write(ctx context.Context, w thrift.TProtocol) error {
	schema := p.Schema
	if schema == "" {
		schema = Schema
	}
	str := func(id int16, name, v string, required bool) error {
		if v == "" && !required {
			return nil
		}
		if err := w.WriteFieldBegin(ctx, name, thrift.STRING, id); err != nil {
			return err
		}
		if err := w.WriteString(ctx, v); err != nil {
			return err
		}
		return w.WriteFieldEnd(ctx)
	}
	if err := w.WriteStructBegin(ctx, "CollectorPayload"); err != nil {
		return err
	}
	if err := str(idSchema, "schema", schema, true); err != nil {
		return err
	}
	if err := str(idIPAddress, "ipAddress", p.IPAddress, true); err != nil {
		return err
	}
	if err := w.WriteFieldBegin(ctx, "timestamp", thrift.I64, idTimestamp); err != nil {
		return err
	}
	if err := w.WriteI64(ctx, p.Timestamp); err != nil {
		return err
	}
	if err := w.WriteFieldEnd(ctx); err != nil {
		return err
	}
	for _, f := range []struct {
		id       int16
		name, v  string
		required bool
	}{
		{idEncoding, "encoding", p.Encoding, true},
		{idCollector, "collector", p.Collector, true},
		{idUserAgent, "userAgent", p.UserAgent, false},
		{idRefererURI, "refererUri", p.RefererURI, false},
		{idPath, "path", p.Path, false},
		{idQuerystring, "querystring", p.Querystring, false},
		{idBody, "body", p.Body, false},
	} {
		if err := str(f.id, f.name, f.v, f.required); err != nil {
			return err
		}
	}
	if p.HasHeaders || len(p.Headers) > 0 {
		if err := w.WriteFieldBegin(ctx, "headers", thrift.LIST, idHeaders); err != nil {
			return err
		}
		if err := w.WriteListBegin(ctx, thrift.STRING, len(p.Headers)); err != nil {
			return err
		}
		for _, h := range p.Headers {
			if err := w.WriteString(ctx, h); err != nil {
				return err
			}
		}
		if err := w.WriteListEnd(ctx); err != nil {
			return err
		}
		if err := w.WriteFieldEnd(ctx); err != nil {
			return err
		}
	}
	for _, f := range []struct {
		id      int16
		name, v string
	}{
		{idContentType, "contentType", p.ContentType},
		{idHostname, "hostname", p.Hostname},
		{idNetworkUserID, "networkUserId", p.NetworkUserID},
	} {
		if err := str(f.id, f.name, f.v, false); err != nil {
			return err
		}
	}
	if err := w.WriteFieldStop(ctx); err != nil {
		return err
	}
	return w.WriteStructEnd(ctx)
}

// ErrMissingField reports a payload without one of Thrift's required fields.
var ErrMissingField = errors.New("required field missing")

// Unmarshal decodes a binary-protocol CollectorPayload. Unknown fields of
// any Thrift type, nested ones included, are skipped (forward
// compatibility, as Thrift intends); a truncated or corrupt record, or one
// without schema, ipAddress, timestamp, encoding or collector (present with
// their declared types, as Snowplow's Java validate() requires), is an
// error that says what was wrong. It never panics on any input.
//
// The record is copied once into a string and every string field is a
// slice of it: one allocation for all fields instead of one per field. A
// field kept alive therefore keeps the whole record (at most MaxSize)
// alive; long-lived caches keyed by a field must clone it.
func Unmarshal(data []byte) (*CollectorPayload, error) {
	if len(data) > MaxSize {
		return nil, fmt.Errorf("collector payload of %d bytes exceeds the %d-byte limit", len(data), MaxSize)
	}
	d := decoder{s: string(data)}
	p := &CollectorPayload{}
	var seen uint16
	const (
		sSchema = 1 << iota
		sIP
		sTS
		sEnc
		sColl
	)
	for {
		typ, err := d.byte()
		if err != nil {
			return nil, fmt.Errorf("reading collector payload field header: %w", err)
		}
		if typ == tStop {
			break
		}
		id, err := d.i16()
		if err != nil {
			return nil, fmt.Errorf("reading collector payload field header: %w", err)
		}
		switch {
		case id == idTimestamp && typ == tI64:
			var v uint64
			v, err = d.u64()
			p.Timestamp = int64(v)
			seen |= sTS
		case id == idHeaders && typ == tList:
			err = d.headers(p)
		case typ == tString && p.stringField(id) != nil:
			*p.stringField(id), err = d.string()
			switch id {
			case idSchema:
				seen |= sSchema
			case idIPAddress:
				seen |= sIP
			case idEncoding:
				seen |= sEnc
			case idCollector:
				seen |= sColl
			}
		default:
			// Unknown field, or a known one with another type: Java's
			// generated reader skips both.
			err = d.skip(typ, maxDepth)
		}
		if err != nil {
			return nil, fmt.Errorf("reading collector payload field %d: %w", id, err)
		}
	}
	for _, m := range [...]struct {
		bit  uint16
		name string
	}{{sSchema, "schema"}, {sIP, "ipAddress"}, {sTS, "timestamp"}, {sEnc, "encoding"}, {sColl, "collector"}} {
		if seen&m.bit == 0 {
			return nil, fmt.Errorf("collector payload: %w: %s", ErrMissingField, m.name)
		}
	}
	return p, nil
}

// stringField is where the string field id goes, nil if id is not one.
func (p *CollectorPayload) stringField(id int16) *string {
	switch id {
	case idSchema:
		return &p.Schema
	case idIPAddress:
		return &p.IPAddress
	case idEncoding:
		return &p.Encoding
	case idCollector:
		return &p.Collector
	case idUserAgent:
		return &p.UserAgent
	case idRefererURI:
		return &p.RefererURI
	case idPath:
		return &p.Path
	case idQuerystring:
		return &p.Querystring
	case idBody:
		return &p.Body
	case idContentType:
		return &p.ContentType
	case idHostname:
		return &p.Hostname
	case idNetworkUserID:
		return &p.NetworkUserID
	}
	return nil
}

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

// Unmarshal decodes a binary-protocol CollectorPayload. Unknown fields are
// skipped (forward compatibility, as Thrift intends); a truncated or corrupt
// record, or one without schema, ipAddress, timestamp, encoding or collector,
// is an error that says what was wrong. It never panics on any input.
func Unmarshal(data []byte) (*CollectorPayload, error) {
	if len(data) > MaxSize {
		return nil, fmt.Errorf("collector payload of %d bytes exceeds the %d-byte limit", len(data), MaxSize)
	}
	ctx := context.Background()
	buf := &thrift.TMemoryBuffer{Buffer: bytesBuffer(data)}
	r := thrift.NewTBinaryProtocolConf(buf, conf)
	p := &CollectorPayload{}
	var seen uint16
	const (
		sSchema = 1 << iota
		sIP
		sTS
		sEnc
		sColl
	)
	if _, err := r.ReadStructBegin(ctx); err != nil {
		return nil, fmt.Errorf("reading collector payload: %w", err)
	}
	for {
		_, typ, id, err := r.ReadFieldBegin(ctx)
		if err != nil {
			return nil, fmt.Errorf("reading collector payload field header: %w", err)
		}
		if typ == thrift.STOP {
			break
		}
		readStr := func(dst *string) error {
			if typ != thrift.STRING {
				return thrift.SkipDefaultDepth(ctx, r, typ)
			}
			v, err := r.ReadString(ctx)
			if err != nil {
				return fmt.Errorf("field %d: %w", id, err)
			}
			*dst = v
			return nil
		}
		switch id {
		case idSchema:
			err = readStr(&p.Schema)
			seen |= sSchema
		case idIPAddress:
			err = readStr(&p.IPAddress)
			seen |= sIP
		case idTimestamp:
			if typ != thrift.I64 {
				err = thrift.SkipDefaultDepth(ctx, r, typ)
				break
			}
			p.Timestamp, err = r.ReadI64(ctx)
			seen |= sTS
		case idEncoding:
			err = readStr(&p.Encoding)
			seen |= sEnc
		case idCollector:
			err = readStr(&p.Collector)
			seen |= sColl
		case idUserAgent:
			err = readStr(&p.UserAgent)
		case idRefererURI:
			err = readStr(&p.RefererURI)
		case idPath:
			err = readStr(&p.Path)
		case idQuerystring:
			err = readStr(&p.Querystring)
		case idBody:
			err = readStr(&p.Body)
		case idContentType:
			err = readStr(&p.ContentType)
		case idHostname:
			err = readStr(&p.Hostname)
		case idNetworkUserID:
			err = readStr(&p.NetworkUserID)
		case idHeaders:
			if typ != thrift.LIST {
				err = thrift.SkipDefaultDepth(ctx, r, typ)
				break
			}
			err = readHeaders(ctx, r, p)
		default:
			err = thrift.SkipDefaultDepth(ctx, r, typ)
		}
		if err != nil {
			return nil, fmt.Errorf("reading collector payload field %d: %w", id, err)
		}
		if err := r.ReadFieldEnd(ctx); err != nil {
			return nil, fmt.Errorf("reading collector payload field %d end: %w", id, err)
		}
	}
	if err := r.ReadStructEnd(ctx); err != nil {
		return nil, fmt.Errorf("reading collector payload: %w", err)
	}
	missing := []struct {
		bit  uint16
		name string
	}{{sSchema, "schema"}, {sIP, "ipAddress"}, {sTS, "timestamp"}, {sEnc, "encoding"}, {sColl, "collector"}}
	for _, m := range missing {
		if seen&m.bit == 0 {
			return nil, fmt.Errorf("collector payload: %w: %s", ErrMissingField, m.name)
		}
	}
	return p, nil
}

func readHeaders(ctx context.Context, r thrift.TProtocol, p *CollectorPayload) error {
	et, n, err := r.ReadListBegin(ctx)
	if err != nil {
		return err
	}
	p.HasHeaders = true
	if et != thrift.STRING {
		// A list of another element type carries no header we can use.
		p.Headers = []string{}
		for i := 0; i < n; i++ {
			if err := thrift.SkipDefaultDepth(ctx, r, et); err != nil {
				return err
			}
		}
		return r.ReadListEnd(ctx)
	}
	// n comes from untrusted input: ReadListBegin already checked it against
	// the remaining bytes, but cap the preallocation anyway.
	p.Headers = make([]string, 0, min(n, 64))
	for i := 0; i < n; i++ {
		h, err := r.ReadString(ctx)
		if err != nil {
			return err
		}
		p.Headers = append(p.Headers, h)
	}
	return r.ReadListEnd(ctx)
}

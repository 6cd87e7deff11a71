package payload

import (
	"bytes"
	"context"
	"fmt"

	"github.com/apache/thrift/lib/go/thrift"
)

// unmarshalThrift is the reader Unmarshal replaced, built on apache/thrift's
// TBinaryProtocol: the reference the hand-written decoder must agree with
// on every input (FuzzUnmarshalAgreesWithThrift). Its one change from the
// original is that a required field sent with the wrong type does not
// count as present, as in Snowplow's generated Java reader.
func unmarshalThrift(data []byte) (*CollectorPayload, error) {
	if len(data) > MaxSize {
		return nil, fmt.Errorf("collector payload of %d bytes exceeds the %d-byte limit", len(data), MaxSize)
	}
	ctx := context.Background()
	buf := &thrift.TMemoryBuffer{Buffer: bytes.NewBuffer(data)}
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
		return nil, err
	}
	for {
		_, typ, id, err := r.ReadFieldBegin(ctx)
		if err != nil {
			return nil, err
		}
		if typ == thrift.STOP {
			break
		}
		readStr := func(dst *string, bit uint16) error {
			if typ != thrift.STRING {
				return thrift.SkipDefaultDepth(ctx, r, typ)
			}
			v, err := r.ReadString(ctx)
			if err != nil {
				return err
			}
			*dst = v
			seen |= bit
			return nil
		}
		switch id {
		case idSchema:
			err = readStr(&p.Schema, sSchema)
		case idIPAddress:
			err = readStr(&p.IPAddress, sIP)
		case idTimestamp:
			if typ != thrift.I64 {
				err = thrift.SkipDefaultDepth(ctx, r, typ)
				break
			}
			p.Timestamp, err = r.ReadI64(ctx)
			seen |= sTS
		case idEncoding:
			err = readStr(&p.Encoding, sEnc)
		case idCollector:
			err = readStr(&p.Collector, sColl)
		case idUserAgent:
			err = readStr(&p.UserAgent, 0)
		case idRefererURI:
			err = readStr(&p.RefererURI, 0)
		case idPath:
			err = readStr(&p.Path, 0)
		case idQuerystring:
			err = readStr(&p.Querystring, 0)
		case idBody:
			err = readStr(&p.Body, 0)
		case idContentType:
			err = readStr(&p.ContentType, 0)
		case idHostname:
			err = readStr(&p.Hostname, 0)
		case idNetworkUserID:
			err = readStr(&p.NetworkUserID, 0)
		case idHeaders:
			if typ != thrift.LIST {
				err = thrift.SkipDefaultDepth(ctx, r, typ)
				break
			}
			err = readHeadersThrift(ctx, r, p)
		default:
			err = thrift.SkipDefaultDepth(ctx, r, typ)
		}
		if err != nil {
			return nil, err
		}
		if err := r.ReadFieldEnd(ctx); err != nil {
			return nil, err
		}
	}
	if err := r.ReadStructEnd(ctx); err != nil {
		return nil, err
	}
	for _, m := range []struct {
		bit  uint16
		name string
	}{{sSchema, "schema"}, {sIP, "ipAddress"}, {sTS, "timestamp"}, {sEnc, "encoding"}, {sColl, "collector"}} {
		if seen&m.bit == 0 {
			return nil, fmt.Errorf("collector payload: %w: %s", ErrMissingField, m.name)
		}
	}
	return p, nil
}

func readHeadersThrift(ctx context.Context, r thrift.TProtocol, p *CollectorPayload) error {
	et, n, err := r.ReadListBegin(ctx)
	if err != nil {
		return err
	}
	p.HasHeaders = true
	if et != thrift.STRING {
		p.Headers = []string{}
		for i := 0; i < n; i++ {
			if err := thrift.SkipDefaultDepth(ctx, r, et); err != nil {
				return err
			}
		}
		return r.ReadListEnd(ctx)
	}
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

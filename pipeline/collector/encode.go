package collector

import (
	"encoding/binary"

	"github.com/plowline/plowline/pipeline/payload"
)

// record is one request as it goes into a CollectorPayload. The collector
// encodes it itself, appending bytes into one exactly-sized slice, instead
// of going through payload.Marshal's generic Thrift protocol: it is the
// hot path, and the output is byte-identical (encode_test.go checks it
// against payload.Marshal and payload.Unmarshal).
// header is one request header; it is encoded as "Name: value".
type header struct{ name, value string }

type record struct {
	ip          string
	timestamp   int64 // ms since the epoch
	collector   string
	userAgent   string
	referer     string
	path        string
	querystring string
	body        []byte
	headers     []header
	contentType string
	hostname    string
	nuid        string
}

// Thrift binary-protocol type ids and the payload's field ids (DESIGN.md).
const (
	tStop   = 0
	tI64    = 10
	tString = 11
	tList   = 15

	fSchema      = 31337
	fIP          = 100
	fTimestamp   = 200
	fEncoding    = 210
	fCollector   = 220
	fUserAgent   = 300
	fReferer     = 310
	fPath        = 320
	fQuerystring = 330
	fBody        = 340
	fHeaders     = 350
	fContentType = 360
	fHostname    = 400
	fNUID        = 410
)

const encoding = "UTF-8"

// strField is the size of a string field: type, id, length, bytes.
func strField(n int) int { return 3 + 4 + n }

func optField(n int) int {
	if n == 0 {
		return 0
	}
	return strField(n)
}

// size returns the encoded length, so the record is allocated once.
func (r *record) size() int {
	n := strField(len(payload.Schema)) + strField(len(r.ip)) + 3 + 8 +
		strField(len(encoding)) + strField(len(r.collector)) +
		optField(len(r.userAgent)) + optField(len(r.referer)) + optField(len(r.path)) +
		optField(len(r.querystring)) + optField(len(r.body)) +
		3 + 1 + 4 + // headers list header
		optField(len(r.contentType)) + optField(len(r.hostname)) + optField(len(r.nuid)) + 1
	for _, h := range r.headers {
		n += 4 + len(h.name) + 2 + len(h.value)
	}
	return n
}

// encode returns the Thrift binary CollectorPayload in a new slice.
func (r *record) encode() []byte {
	return r.appendTo(make([]byte, 0, r.size()))
}

func (r *record) appendTo(b []byte) []byte {
	b = appendStr(b, fSchema, payload.Schema)
	b = appendStr(b, fIP, r.ip)
	b = append(b, tI64)
	b = binary.BigEndian.AppendUint16(b, fTimestamp)
	b = binary.BigEndian.AppendUint64(b, uint64(r.timestamp))
	b = appendStr(b, fEncoding, encoding)
	b = appendStr(b, fCollector, r.collector)
	b = appendOpt(b, fUserAgent, r.userAgent)
	b = appendOpt(b, fReferer, r.referer)
	b = appendOpt(b, fPath, r.path)
	b = appendOpt(b, fQuerystring, r.querystring)
	if len(r.body) > 0 {
		b = append(b, tString)
		b = binary.BigEndian.AppendUint16(b, fBody)
		b = binary.BigEndian.AppendUint32(b, uint32(len(r.body)))
		b = append(b, r.body...)
	}
	b = append(b, tList)
	b = binary.BigEndian.AppendUint16(b, fHeaders)
	b = append(b, tString)
	b = binary.BigEndian.AppendUint32(b, uint32(len(r.headers)))
	for _, h := range r.headers {
		b = binary.BigEndian.AppendUint32(b, uint32(len(h.name)+2+len(h.value)))
		b = append(b, h.name...)
		b = append(b, ": "...)
		b = append(b, h.value...)
	}
	b = appendOpt(b, fContentType, r.contentType)
	b = appendOpt(b, fHostname, r.hostname)
	b = appendOpt(b, fNUID, r.nuid)
	return append(b, tStop)
}

func appendStr(b []byte, id uint16, s string) []byte {
	b = append(b, tString)
	b = binary.BigEndian.AppendUint16(b, id)
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

func appendOpt(b []byte, id uint16, s string) []byte {
	if s == "" {
		return b
	}
	return appendStr(b, id, s)
}

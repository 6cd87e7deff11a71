package collector

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/plowline/plowline/pipeline/payload"
)

// toPayload is what payload.Marshal should write for r.
func toPayload(r *record) *payload.CollectorPayload {
	p := &payload.CollectorPayload{Schema: payload.Schema, IPAddress: r.ip, Timestamp: r.timestamp,
		Encoding: "UTF-8", Collector: r.collector, UserAgent: r.userAgent, RefererURI: r.referer,
		Path: r.path, Querystring: r.querystring, Body: string(r.body), HasHeaders: true,
		Headers: []string{}, ContentType: r.contentType, Hostname: r.hostname, NetworkUserID: r.nuid}
	for _, h := range r.headers {
		p.Headers = append(p.Headers, h.name+": "+h.value)
	}
	return p
}

func TestEncodeIsByteIdenticalToThriftLibrary(t *testing.T) {
	for name, r := range map[string]record{
		"full": {ip: "203.0.113.7", timestamp: 1700000000123, collector: "plowline-0.1.0-kinesis",
			userAgent: "Mozilla/5.0", referer: "https://example.com/a", path: PathTP2, querystring: "a=b&c=%FF",
			body: []byte(`{"schema":"s","data":[{"e":"pv"}]}`), headers: []header{{"Host", "c.example.com"}, {"Accept", "*/*"}},
			contentType: "application/json", hostname: "c.example.com", nuid: "c6ef3124-b53a-4b13-a233-0088f79dcbcb"},
		"minimal": {ip: "unknown", timestamp: -1, collector: "x"},
		"binary":  {ip: "::1", collector: "c", body: []byte{0, 0xff, 0xfe, '\n'}, querystring: "\xff\x00", headers: []header{{"X", ""}}},
		"large":   {ip: "1.2.3.4", collector: "c", body: bytes.Repeat([]byte("x"), 70000), headers: []header{{"A", strings.Repeat("v", 5000)}}},
	} {
		t.Run(name, func(t *testing.T) {
			got := r.encode()
			if len(got) != r.size() {
				t.Fatalf("size() = %d, encoded %d bytes", r.size(), len(got))
			}
			want, err := toPayload(&r).Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("encodings differ:\n got %x\nwant %x", got, want)
			}
			back, err := payload.Unmarshal(got)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back, toPayload(&r)) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", back, toPayload(&r))
			}
		})
	}
}

func BenchmarkEncode(b *testing.B) {
	r := record{ip: "203.0.113.7", timestamp: 1700000000123, collector: "plowline-0.1.0-kinesis",
		userAgent: "Mozilla/5.0 (X11; Linux x86_64)", path: PathTP2,
		body:        bytes.Repeat([]byte("x"), 600),
		headers:     []header{{"Host", "c.example.com"}, {"Accept", "*/*"}, {"User-Agent", "Mozilla/5.0 (X11; Linux x86_64)"}, {"Content-Type", "application/json"}},
		contentType: "application/json", hostname: "c.example.com", nuid: "c6ef3124-b53a-4b13-a233-0088f79dcbcb"}
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r.encode()
		}
	})
	p := toPayload(&r)
	b.Run("thrift", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p.Marshal()
		}
	})
}

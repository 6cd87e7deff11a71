package config

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestDefaultsValidateAndRoundTrip(t *testing.T) {
	for name, c := range map[string]Config{
		"default": Default(),
		"local":   Local(LocalOptions{DataDir: "/tmp/x", CollectorURL: "http://127.0.0.1:8080", MetricsURL: "http://127.0.0.1:9100/metrics", S3Endpoint: "http://127.0.0.1:9000", Bucket: "b", WarehousePath: "/tmp/x/w.db"}),
	} {
		if err := c.Validate(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		data, err := c.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		back, err := Parse(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s does not parse back: %v\n%s", name, err, data)
		}
		if len(back.Edges) != len(c.Edges) || len(back.Nodes) != len(c.Nodes) || back.Window != c.Window || back.Sources[1].Settings.Kind == 0 {
			t.Errorf("%s: round trip lost something", name)
		}
	}
}

func TestValidationNamesKeyAndValue(t *testing.T) {
	base := `
sources: [{name: s, kind: metrics, interval: 5s, metrics: {url: "http://x"}}]
nodes: [{name: a, source: s}, {name: b, source: s}]
`
	cases := []struct{ yaml, want string }{
		{"window: 7m\n" + base, "window: 7m0s must divide an hour"},
		{"window: 90m\n" + base, "window: 1h30m0s"},
		{"lookback: 1m\n" + base, "lookback: 1m0s must be at least one window"},
		{base + "edges: [{name: e, from: a, to: zz, relation: eq}]", `edges[0].to: "zz" is not a configured node`},
		{base + "edges: [{name: e, from: a, to: b, relation: approx}]", `edges[0].relation: "approx" unknown`},
		{base + "edges: [{name: e, from: a, to: b, relation: eq, tolerance: {ratio: -0.1}}]", "edges[0].tolerance.ratio: -0.1"},
		{base + "edges: [{name: e, from: a, to: b, relation: eq, tolerance: {events: -3}}]", "edges[0].tolerance.events: -3"},
		{base + "edges: [{name: e, from: a, to: b, relation: split}]", `edges[0].to_bad: ""`},
		{base + "edges: [{name: e, from: a, to: b, relation: merge, from_also: c}]", `edges[0].from_also: "c" is not a configured node`},
		{base + "edges: [{name: e, from: a, to: b, relation: eq, from_also: b}]", `edges[0].from_also: "b" only applies to relation merge`},
		{base + "edges: [{name: e, from: a, to: a, relation: eq}]", `node "a" appears twice`},
		{base + "edges: [{name: e, from: a, to: b, relation: eq, latency_budget: 48h}]", "edges[0].latency_budget: 48h0m0s"},
		{strings.Replace(base, "kind: metrics", "kind: kafka", 1), `source kind "kafka" unknown`},
		{strings.Replace(base, "interval: 5s", "interval: 10ms", 1), "sources[0].interval: 10ms"},
		{base + "nodes2: 1", "field nodes2 not found"},
		{strings.Replace(base, "metrics: {url", "s3: {url", 1), `source key "s3" unknown`},
		{base + "canary: {collector_url: localhost:8080}", `canary.collector_url: "localhost:8080"`},
	}
	for _, c := range cases {
		_, err := Parse(strings.NewReader(c.yaml))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("config %q:\n got error %v\nwant one containing %q", c.yaml, err, c.want)
		}
	}
	c, err := Parse(strings.NewReader(base))
	if err != nil {
		t.Fatal(err)
	}
	if c.Window != time.Hour || c.Lookback != 24*time.Hour || c.Sources[0].Timeout != 5*time.Second {
		t.Errorf("defaults: %+v", c)
	}
}

// FuzzParse: any configuration file is a config or an error, never a panic,
// and whatever validates survives a round trip through Marshal.
func FuzzParse(f *testing.F) {
	for _, c := range []Config{Default(), Local(LocalOptions{DataDir: "/d", MetricsURL: "http://127.0.0.1:1/metrics", S3Endpoint: "http://127.0.0.1:2", Bucket: "b", WarehousePath: "/d/w.db", CollectorURL: "http://127.0.0.1:3"})} {
		data, err := c.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("window: 1m\nsources: [{name: x, kind: s3, s3: {bucket: b}}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(bytes.NewReader(data))
		if err != nil {
			return
		}
		out, err := c.Marshal()
		if err != nil {
			t.Fatalf("valid config does not marshal: %v", err)
		}
		if _, err := Parse(bytes.NewReader(out)); err != nil {
			t.Fatalf("marshalled config does not parse: %v\n%s", err, out)
		}
	})
}

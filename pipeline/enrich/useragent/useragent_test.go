package useragent

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestParseAndCache(t *testing.T) {
	p, err := New(2)
	if err != nil {
		t.Fatal(err)
	}
	c := p.Parse("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1")
	if c.UseragentFamily != "Mobile Safari" || *c.UseragentMajor != "17" || c.OSFamily != "iOS" || c.OSVersion != "iOS 17.4" || c.DeviceFamily != "iPhone" {
		t.Errorf("%+v", c)
	}
	other := p.Parse("curl/8.5.0")
	if other.UseragentFamily != "curl" || other.OSFamily != "Other" || other.OSMajor != nil {
		t.Errorf("%+v", other)
	}
	a := p.SelfDescribing("curl/8.5.0")
	b := p.SelfDescribing("curl/8.5.0")
	if &a[0] != &b[0] {
		t.Error("second lookup not served from the cache")
	}
	var doc struct {
		Schema string
		Data   map[string]any
	}
	if err := json.Unmarshal(a, &doc); err != nil || doc.Schema != Schema || doc.Data["useragentVersion"] != "curl 8.5.0" {
		t.Errorf("%s: %v", a, err)
	}
	p.SelfDescribing("x1")
	p.SelfDescribing("x2")
	if p.CacheLen() != 2 {
		t.Errorf("cache not bounded: %d", p.CacheLen())
	}
	// A huge agent is cut before parsing rather than costing seconds.
	p.Parse(strings.Repeat("Mozilla/5.0 (", 100000))
	if _, err := New(0); err == nil {
		t.Error("cache size 0 accepted")
	}
}

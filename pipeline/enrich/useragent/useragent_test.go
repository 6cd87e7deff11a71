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

// TestKnownFamilies: families the rules write literally or pick from a
// fixed alternation are known; text the agent controls is not, even when
// a rule copies it into a field (issue 11).
func TestKnownFamilies(t *testing.T) {
	p, err := New(16)
	if err != nil {
		t.Fatal(err)
	}
	const android = "Mozilla/5.0 (Linux; Android 13; S20-wendy@example.com Build/TP1A.220624.014) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.43 Mobile Safari/537.36"
	c := p.Parse(android)
	if !strings.Contains(c.DeviceFamily, "wendy@example.com") {
		t.Fatalf("the rules no longer copy the model: deviceFamily %q (pick another free-text capture)", c.DeviceFamily)
	}
	if KnownFamily(DeviceFamily, c.DeviceFamily) {
		t.Errorf("copied model %q counted as a known device family", c.DeviceFamily)
	}
	if !KnownFamily(UserAgentFamily, c.UseragentFamily) || !KnownFamily(OSFamily, c.OSFamily) {
		t.Errorf("Chrome Mobile / Android not known: %q %q", c.UseragentFamily, c.OSFamily)
	}
	if !KnownFamilyVersion(UserAgentFamily, c.UseragentVersion) || !KnownFamilyVersion(OSFamily, c.OSVersion) {
		t.Errorf("versions not known: %q %q", c.UseragentVersion, c.OSVersion)
	}
	for _, agent := range []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:121.0) Gecko/20100101 Firefox/121.0",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
	} {
		c := p.Parse(agent)
		for _, kv := range []struct {
			f Family
			v string
		}{{UserAgentFamily, c.UseragentFamily}, {OSFamily, c.OSFamily}, {DeviceFamily, c.DeviceFamily}} {
			if !KnownFamily(kv.f, kv.v) {
				t.Errorf("%s: family %q not known", agent, kv.v)
			}
		}
	}
	bot := p.Parse("Mozilla/5.0 (compatible; wendy-at-example-dot-com-bot/1.0)")
	if !strings.Contains(bot.UseragentFamily, "wendy") || KnownFamily(UserAgentFamily, bot.UseragentFamily) ||
		KnownFamilyVersion(UserAgentFamily, bot.UseragentVersion) {
		t.Errorf("bot name %q / %q: want copied by the rules and not known", bot.UseragentFamily, bot.UseragentVersion)
	}
	if g := p.Parse("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"); !KnownFamily(UserAgentFamily, g.UseragentFamily) {
		t.Errorf("Googlebot (a literal rule) not known: %q", g.UseragentFamily)
	}
	for v, want := range map[string]bool{"120": true, "0": true, "": false, "1a": false, "wendy": false, "1234567890": false} {
		if KnownVersion(v) != want {
			t.Errorf("KnownVersion(%q) = %v", v, !want)
		}
	}
	if KnownFamilyVersion(UserAgentFamily, "Chrome wendy") || KnownFamilyVersion(UserAgentFamily, "wendy 1.2") {
		t.Error("free text accepted as a family version")
	}
}

// UserAgentUtilsEnrichmentSpec's "parse useragent" cases, then common
// current agents.
func TestAtomicFieldsAsUserAgentUtils(t *testing.T) {
	p, err := New(10)
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewAtomic(p, 10)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]Atomic{
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/33.0.1750.152 Safari/537.36": {
			BrName: "Chrome 33", BrFamily: "Chrome", BrVersion: "33.0.1750.152", BrType: "Browser", BrRenderEngine: "WEBKIT",
			OSName: "Mac OS X", OSFamily: "Mac OS X", OSManufacturer: "Apple Inc.", DvceType: "Computer"},
		"Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0": {
			BrName: "Internet Explorer 11", BrFamily: "Internet Explorer", BrVersion: "11.0", BrType: "Browser", BrRenderEngine: "TRIDENT",
			OSName: "Windows 7", OSFamily: "Windows", OSManufacturer: "Microsoft Corporation", DvceType: "Computer"},
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1": {
			BrName: "Safari 17", BrFamily: "Safari", BrVersion: "17.1", BrType: "Browser (mobile)", BrRenderEngine: "WEBKIT",
			OSName: "iOS 17", OSFamily: "iOS", OSManufacturer: "Apple Inc.", DvceType: "Mobile", DvceIsMobile: true},
		"Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0": {
			BrName: "Firefox 120", BrFamily: "Firefox", BrVersion: "120.0", BrType: "Browser", BrRenderEngine: "GECKO",
			OSName: "Linux", OSFamily: "Linux", OSManufacturer: "Other", DvceType: "Computer"},
		"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)": {
			BrName: "Googlebot 2", BrFamily: "Googlebot", BrVersion: "2.1", BrType: "Robot", BrRenderEngine: "OTHER",
			OSName: "Other", OSFamily: "Other", OSManufacturer: "Other", DvceType: "Unknown"},
	}
	for agent, want := range cases {
		if got := a.Fields(agent); *got != want {
			t.Errorf("%s\n got %+v\nwant %+v", agent, *got, want)
		}
		if a.Fields(agent) != a.Fields(agent) {
			t.Errorf("not cached: %s", agent)
		}
	}
}

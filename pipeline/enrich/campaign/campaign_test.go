package campaign

import (
	"net/url"
	"strings"
	"testing"
)

func TestExtract(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Source = []string{"utm_source", "source"}
	q, _ := url.ParseQuery("source=fallback&utm_medium=cpc&utm_campaign=spring&utm_content=banner&utm_term=ci&dclid=D&msclkid=M")
	got := cfg.Extract(q)
	want := Campaign{Medium: "cpc", Source: "fallback", Term: "ci", Content: "banner", Campaign: "spring", ClickID: "D", Network: "DoubleClick"}
	if got != want {
		t.Errorf("got %+v want %+v", got, want)
	}
	cfg.ClickIDs["zz_click"] = "Acme"
	q, _ = url.ParseQuery("zz_click=Z")
	if got := cfg.Extract(q); got.ClickID != "Z" || got.Network != "Acme" {
		t.Errorf("configured click id not used: %+v", got)
	}
	if !cfg.Extract(url.Values{}).Empty() {
		t.Error("empty query gave a campaign")
	}
}

func TestNormalize(t *testing.T) {
	cfg := Config{ClickIDs: map[string]string{"b": "B", "a": "A", "c": "C"}, ClickIDOrder: []string{"c", "x", "c"}}
	cfg.Normalize()
	if got := strings.Join(cfg.ClickIDOrder, ","); got != "c,a,b" {
		t.Errorf("order %s", got)
	}
	q, _ := url.ParseQuery("a=1&c=3")
	if got := cfg.Extract(q); got.ClickID != "3" || got.Network != "C" {
		t.Errorf("%+v", got)
	}
}

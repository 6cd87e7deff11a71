// Package campaign extracts marketing-campaign attribution from a page
// URL's query string, as Snowplow's campaign_attribution enrichment does:
// utm_* parameters (or configured alternatives) to the mkt_* fields, and
// the first known click id (gclid, msclkid, ...) to mkt_clickid with its
// network.
package campaign

import (
	"net/url"
	"sort"
)

// Config says which query parameters feed which field, first match wins.
type Config struct {
	Medium   []string `yaml:"medium"`
	Source   []string `yaml:"source"`
	Term     []string `yaml:"term"`
	Content  []string `yaml:"content"`
	Campaign []string `yaml:"campaign"`
	// ClickIDs maps a click-id parameter to the ad network it identifies.
	ClickIDs map[string]string `yaml:"click_ids"`
	// ClickIDOrder is the order click ids are tried in when a URL has
	// several (map order is random); ids not listed are tried after, by name.
	ClickIDOrder []string `yaml:"click_id_order"`

	normalized bool // ClickIDOrder lists exactly the ClickIDs (see Normalize)
}

// Normalize makes ClickIDOrder list exactly the configured click ids (the
// listed ones first, in order, then the rest by name), so extraction
// never has to search the map.
func (cfg *Config) Normalize() {
	order := make([]string, 0, len(cfg.ClickIDs))
	seen := map[string]bool{}
	for _, n := range cfg.ClickIDOrder {
		if _, ok := cfg.ClickIDs[n]; ok && !seen[n] {
			order, seen[n] = append(order, n), true
		}
	}
	var rest []string
	for n := range cfg.ClickIDs {
		if !seen[n] {
			rest = append(rest, n)
		}
	}
	sort.Strings(rest)
	cfg.ClickIDOrder, cfg.normalized = append(order, rest...), true
}

// DefaultConfig is Snowplow's default mapping plus the click ids of the
// other large ad networks.
func DefaultConfig() Config {
	return Config{
		Medium: []string{"utm_medium"}, Source: []string{"utm_source"}, Term: []string{"utm_term"},
		Content: []string{"utm_content"}, Campaign: []string{"utm_campaign"},
		ClickIDs: map[string]string{
			"gclid": "Google", "gbraid": "Google", "wbraid": "Google", "dclid": "DoubleClick",
			"msclkid": "Microsoft", "fbclid": "Facebook", "ttclid": "TikTok", "twclid": "Twitter",
			"li_fat_id": "LinkedIn", "yclid": "Yandex", "epik": "Pinterest", "rdt_cid": "Reddit",
		},
		ClickIDOrder: []string{"gclid", "gbraid", "wbraid", "dclid", "msclkid", "fbclid", "ttclid", "twclid", "li_fat_id", "yclid", "epik", "rdt_cid"},
	}
}

// Campaign is the attribution found in one URL.
type Campaign struct {
	Medium, Source, Term, Content, Campaign string
	ClickID, Network                        string
}

type getter func(string) string

// Get returns the parameter's value.
func (g getter) Get(name string) string { return g(name) }

// Empty reports whether nothing was found.
func (c Campaign) Empty() bool { return c == Campaign{} }

// Extract reads the attribution from a parsed query string.
func (cfg *Config) Extract(q url.Values) Campaign {
	if len(q) == 0 {
		return Campaign{}
	}
	return cfg.ExtractFunc(q.Get)
}

// ExtractFunc reads the attribution through get, which returns a query
// parameter's first value ("" if absent): callers that hold the raw query
// string need not build a url.Values.
func (cfg *Config) ExtractFunc(get func(name string) string) Campaign {
	q := getter(get)
	first := func(names []string) string {
		for _, n := range names {
			if v := q.Get(n); v != "" {
				return v
			}
		}
		return ""
	}
	c := Campaign{Medium: first(cfg.Medium), Source: first(cfg.Source), Term: first(cfg.Term),
		Content: first(cfg.Content), Campaign: first(cfg.Campaign)}
	for _, n := range cfg.ClickIDOrder {
		if v := q.Get(n); v != "" {
			if net, ok := cfg.ClickIDs[n]; ok {
				c.ClickID, c.Network = v, net
				return c
			}
		}
	}
	if len(cfg.ClickIDOrder) >= len(cfg.ClickIDs) && cfg.normalized {
		return c
	}
	best := ""
	for n := range cfg.ClickIDs {
		if q.Get(n) != "" && (best == "" || n < best) {
			best = n
		}
	}
	if best != "" {
		c.ClickID, c.Network = q.Get(best), cfg.ClickIDs[best]
	}
	return c
}

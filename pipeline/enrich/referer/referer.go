// Package referer classifies a page's referrer as Snowplow's referer-parser
// enrichment does: medium (search, social, email, internal, unknown),
// source (Google, Twitter, ...) and, for search engines, the search term.
//
// Its database is small and embedded: the major search engines, social
// networks and webmail providers (see database.go). A referrer it does not
// know is medium "unknown" with no source; a referrer on the page's own
// host or on a configured internal domain is "internal".
package referer

import (
	"net/url"
	"strings"

	"github.com/plowline/plowline/pipeline/enrich/tp"
)

// Media of a referrer.
const (
	Search   = "search"
	Social   = "social"
	Email    = "email"
	Internal = "internal"
	Unknown  = "unknown"
)

// Referer is a classified referrer.
type Referer struct {
	Medium string
	Source string // "" when unknown
	Term   string // search term, "" when none
}

// Parser classifies referrers. It is immutable and safe for concurrent use.
type Parser struct {
	internal []string
}

// New returns a parser that treats hosts equal to, or subdomains of,
// internalDomains as internal (besides the page's own host).
func New(internalDomains []string) *Parser {
	in := make([]string, 0, len(internalDomains))
	for _, d := range internalDomains {
		d = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(d), "."))
		if d != "" {
			in = append(in, d)
		}
	}
	return &Parser{internal: in}
}

// Parse classifies refr, the referrer URL, for a page on pageHost. ok is
// false for referrers that are not http(s) URLs with a host.
func (p *Parser) Parse(refr *url.URL, pageHost string) (r Referer, ok bool) {
	if refr == nil || (refr.Scheme != "http" && refr.Scheme != "https") {
		return Referer{}, false
	}
	host := strings.ToLower(refr.Hostname())
	if host == "" {
		return Referer{}, false
	}
	if pageHost != "" && host == strings.ToLower(pageHost) {
		return Referer{Medium: Internal}, true
	}
	for _, d := range p.internal {
		if host == d || strings.HasSuffix(host, "."+d) {
			return Referer{Medium: Internal}, true
		}
	}
	e, found := lookup(host, refr.Path)
	if !found {
		return Referer{Medium: Unknown}, true
	}
	r = Referer{Medium: e.medium, Source: e.source}
	if len(e.params) > 0 && refr.RawQuery != "" {
		for _, name := range e.params {
			if t := tp.QueryValue(refr.RawQuery, name); t != "" {
				r.Term = t
				break
			}
		}
	}
	return r, true
}

// lookup finds host, then its parent domains, in the database; then tries
// the brand rules (google.<any tld>, ...).
func lookup(host, path string) (entry, bool) {
	h := strings.TrimPrefix(host, "www.")
	for d := h; d != ""; {
		if e, ok := domains[d]; ok {
			if e.pathPrefix == "" || strings.HasPrefix(path, e.pathPrefix) {
				return e, true
			}
		}
		i := strings.IndexByte(d, '.')
		if i < 0 {
			break
		}
		d = d[i+1:]
	}
	// Brand rules: a label that is a brand followed by one or two short
	// labels (google.com, google.co.uk), without splitting the host.
	for rest := h; rest != ""; {
		label, after, _ := strings.Cut(rest, ".")
		if e, ok := brands[label]; ok && after != "" && isTLDish(after) {
			return e, true
		}
		rest = after
	}
	return entry{}, false
}

// isTLDish accepts what can follow a brand label as a country or generic
// suffix: one or two labels of 2-3 characters (com, de, co.uk, com.br).
func isTLDish(rest string) bool {
	a, b, two := strings.Cut(rest, ".")
	short := func(l string) bool { return len(l) >= 2 && len(l) <= 3 }
	if !two {
		return short(a)
	}
	return short(a) && short(b) && !strings.Contains(b, ".")
}

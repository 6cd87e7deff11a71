package enrich

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/plowline/plowline/pipeline/payload"
)

// clientIP is the address of the client that sent the payload: the first
// address of X-Forwarded-For, else the first for= of Forwarded (RFC 7239),
// else the address the collector saw. Header values that are not an IP
// address (obfuscated identifiers, "unknown") are skipped.
func clientIP(cp *payload.CollectorPayload) string {
	var fwd string
	for _, h := range cp.Headers {
		name, value, ok := strings.Cut(h, ":")
		if !ok {
			continue
		}
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "x-forwarded-for":
			first, _, _ := strings.Cut(value, ",")
			if ip, ok := hostIP(first); ok {
				return ip
			}
		case "forwarded":
			if fwd == "" {
				fwd = value
			}
		}
	}
	if fwd != "" {
		first, _, _ := strings.Cut(fwd, ",")
		for pair := range strings.SplitSeq(first, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
			if ok && strings.EqualFold(k, "for") {
				if ip, ok := hostIP(strings.Trim(v, `"`)); ok {
					return ip
				}
			}
		}
	}
	return cp.IPAddress
}

// hostIP extracts the address from "1.2.3.4", "1.2.3.4:80", "[::1]:80" or "::1".
func hostIP(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		return a.String(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().String(), true
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		if a, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil {
			return a.String(), true
		}
	}
	return "", false
}

// anonymize replaces the last octets (IPv4) or segments (IPv6) of an
// address with "x", as Snowplow's anon_ip enrichment does. Something that
// is not an IP address is left alone (it is not personal data we can
// recognise, and dropping it would lose the event's provenance).
func anonymize(ip string, octets, segments int) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	if a.Is4() || a.Is4In6() {
		b := a.Unmap().As4()
		parts := make([]string, 4)
		for i := range parts {
			if i >= 4-octets {
				parts[i] = "x"
			} else {
				parts[i] = strconv.Itoa(int(b[i]))
			}
		}
		return strings.Join(parts, ".")
	}
	b := a.As16()
	parts := make([]string, 8)
	for i := range parts {
		if i >= 8-segments {
			parts[i] = "x"
		} else {
			parts[i] = strconv.FormatUint(uint64(b[2*i])<<8|uint64(b[2*i+1]), 16)
		}
	}
	return strings.Join(parts, ":")
}

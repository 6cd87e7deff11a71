package collector

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net/http"
	"net/netip"
	"net/url"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/plowline/plowline/pipeline/badrow"
	"github.com/plowline/plowline/pipeline/stream"
)

// pixel is the 1×1 transparent GIF Snowplow's collector answers pixel requests with.
var pixel, _ = base64.StdEncoding.DecodeString("R0lGODlhAQABAPAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==")

// robots disallows everything; AdsBot-Google ignores "*" and needs its own entry.
const robots = "User-agent: *\nDisallow: /\n\nUser-agent: Googlebot\nDisallow: /\n\nUser-agent: AdsBot-Google\nDisallow: /\n"

// zeroNUID is the network user id of SP-Anonymous requests.
const zeroNUID = "00000000-0000-0000-0000-000000000000"

// Shared, never-mutated header values (net/http only reads them), so a
// response does not allocate them.
var (
	hTrue        = []string{"true"}
	hStar        = []string{"*"}
	hGIF         = []string{"image/gif"}
	hText        = []string{"text/plain; charset=utf-8"}
	hNoCache     = []string{"no-cache, no-store, must-revalidate"}
	hPixelLen    = []string{strconv.Itoa(len(pixel))}
	hOKLen       = []string{"2"}
	hAllowHeader = []string{"Content-Type, SP-Anonymous"}
	okBody       = []byte("ok")
)

type kind int

const (
	kindPixel kind = iota
	kindPost
	kindRedirect
)

func (c *Collector) serve(w http.ResponseWriter, r *http.Request) {
	c.inflight.Add(1)
	defer c.inflight.Add(-1)

	t := c.route(r)
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		if v == http.ErrAbortHandler {
			panic(v)
		}
		c.m.panics.Inc()
		c.m.request(t.label, http.StatusInternalServerError)
		c.log.Error("bug: panic while serving a request; answered 500", "route", t.label, "panic", v, "stack", string(debug.Stack()))
		http.Error(w, "internal error", http.StatusInternalServerError)
	}()
	c.m.request(t.label, c.dispatch(w, r, t))
}

// op is what a route does.
type op int

const (
	opNotFound op = iota
	opMethodNotAllowed
	opPreflight
	opHealth
	opSinkHealth
	opRobots
	opTrack
)

// target is a routed request: its metric label, what to do, and for
// tracking routes the standard path and kind. A plain value, so routing
// allocates nothing.
type target struct {
	label string
	op    op
	path  string
	kind  kind
	allow string // for 405s
}

func (c *Collector) dispatch(w http.ResponseWriter, r *http.Request, t target) int {
	switch t.op {
	case opTrack:
		return c.track(w, r, t.path, t.kind)
	case opPreflight:
		return c.preflight(w, r)
	case opHealth:
		return c.health(w, r)
	case opSinkHealth:
		return c.sinkHealth(w, r)
	case opRobots:
		return serveRobots(w, r)
	case opMethodNotAllowed:
		w.Header().Set("Allow", t.allow)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return http.StatusMethodNotAllowed
	}
	return notFound(w, r)
}

// route picks what serves a request and its metric label. Custom paths
// are mapped onto standard ones first.
func (c *Collector) route(r *http.Request) target {
	path := r.URL.Path
	custom := false
	if to, ok := c.paths[path]; ok {
		path, custom = to, true
	}
	label := func(l string) string {
		if custom {
			return routeCustom
		}
		return l
	}
	if r.Method == http.MethodOptions {
		return target{label: routeOptions, op: opPreflight}
	}
	getOrHead := r.Method == http.MethodGet || r.Method == http.MethodHead
	only := func(t target) target {
		if !getOrHead {
			return target{label: t.label, op: opMethodNotAllowed, allow: "GET, HEAD, OPTIONS"}
		}
		return t
	}
	switch path {
	case "/health":
		return only(target{label: routeHealth, op: opHealth})
	case "/sink-health":
		return only(target{label: routeSinkHealth, op: opSinkHealth})
	case "/robots.txt":
		return only(target{label: routeRobots, op: opRobots})
	case PathPixel, PathIcePixel:
		return only(target{label: label(routePixel), op: opTrack, path: path, kind: kindPixel})
	}
	if strings.HasPrefix(path, "/r/") {
		if !c.cfg.Redirect.Enabled || path != PathRedirect {
			return target{label: routeOther, op: opNotFound}
		}
		return only(target{label: label(routeRedirect), op: opTrack, path: path, kind: kindRedirect})
	}
	if _, _, ok := twoSegments(path); ok {
		switch {
		case getOrHead:
			return target{label: label(routeVendorGet), op: opTrack, path: path, kind: kindPixel}
		case r.Method == http.MethodPost && path == PathTP2:
			return target{label: label(routeTP2), op: opTrack, path: path, kind: kindPost}
		case r.Method == http.MethodPost:
			return target{label: label(routeVendorPost), op: opTrack, path: path, kind: kindPost}
		}
		return target{label: label(routeVendorPost), op: opMethodNotAllowed, allow: "GET, HEAD, POST, OPTIONS"}
	}
	return target{label: routeOther, op: opNotFound}
}

func notFound(w http.ResponseWriter, _ *http.Request) int {
	http.Error(w, "not found", http.StatusNotFound)
	return http.StatusNotFound
}

func serveRobots(w http.ResponseWriter, _ *http.Request) int {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte(robots))
	return http.StatusOK
}

func (c *Collector) health(w http.ResponseWriter, _ *http.Request) int {
	if c.closing.Load() {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("OK"))
	return http.StatusOK
}

func (c *Collector) sinkHealth(w http.ResponseWriter, _ *http.Request) int {
	var failing []string
	for _, s := range []*sinkRef{c.good, c.bad} {
		if err := s.healthy(); err != nil {
			failing = append(failing, s.label+" sink: "+err.Error())
		}
	}
	if c.closing.Load() {
		failing = append(failing, "shutting down")
	}
	if len(failing) > 0 {
		http.Error(w, "Service Unavailable: "+strings.Join(failing, "; "), http.StatusServiceUnavailable)
		return http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("OK"))
	return http.StatusOK
}

// preflight answers a CORS preflight for any path.
func (c *Collector) preflight(w http.ResponseWriter, r *http.Request) int {
	h := w.Header()
	h["Access-Control-Allow-Origin"] = allowOrigin(r)
	h["Access-Control-Allow-Credentials"] = hTrue
	h["Access-Control-Allow-Headers"] = hAllowHeader
	h["Access-Control-Max-Age"] = c.maxAge
	w.WriteHeader(http.StatusOK)
	return http.StatusOK
}

// allowOrigin echoes the request's (first) Origin, or "*" without one.
func allowOrigin(r *http.Request) []string {
	o := r.Header["Origin"]
	if len(o) == 0 || o[0] == "" {
		return hStar
	}
	first, _, _ := strings.Cut(o[0], " ")
	return []string{first}
}

func (c *Collector) track(w http.ResponseWriter, r *http.Request, path string, k kind) int {
	if c.closing.Load() {
		http.Error(w, "shutting down; retry", http.StatusServiceUnavailable)
		return http.StatusServiceUnavailable
	}
	now := c.now()
	var redirectTo string
	if k == kindRedirect {
		target, err := c.redirectTarget(r.URL.RawQuery)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return http.StatusBadRequest
		}
		redirectTo = target
	}
	if c.dnt != nil {
		if ck, err := r.Cookie(c.cfg.DoNotTrackCookie.Name); err == nil && c.dnt.MatchString(ck.Value) {
			c.dntCount.Inc()
			return c.respond(w, r, k, "", redirectTo, now)
		}
	}

	var body []byte
	if k == kindPost {
		limit := c.cfg.Limits.MaxBodyBytes
		if r.ContentLength > limit {
			return tooLarge(w, r.ContentLength, limit)
		}
		// The body, the records made of it and the bad rows live until
		// this request returns: hold its weight in the in-flight budget
		// until then.
		weight := bodyWeight(r, limit)
		if !c.acquireBody(r, weight) {
			c.m.bodiesRefused.Inc()
			return unavailable(w)
		}
		defer c.bodies.Release(weight)
		buf, err := readBody(r, limit)
		if errors.Is(err, errTooLarge) {
			return tooLarge(w, -1, limit)
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return tooLarge(w, -1, mbe.Limit)
			}
			http.Error(w, "reading request body: "+err.Error(), http.StatusBadRequest)
			return http.StatusBadRequest
		}
		defer putBody(buf)
		body = buf.Bytes()
		c.m.bytes.Add(float64(len(body)))
	}

	anonymous := len(r.Header["Sp-Anonymous"]) > 0
	nuid := c.networkUserID(r, anonymous)
	rec := record{
		ip:          zeroIP,
		timestamp:   now.UnixMilli(),
		collector:   c.name,
		userAgent:   r.Header.Get("User-Agent"),
		referer:     r.Header.Get("Referer"),
		path:        path,
		querystring: r.URL.RawQuery,
		headers:     requestHeaders(r, anonymous),
		contentType: lowerASCII(r.Header.Get("Content-Type")),
		hostname:    hostname(r.Host),
		nuid:        nuid,
	}
	if !anonymous {
		rec.ip = clientIP(r)
	}
	good, bad, events := c.toRecords(&rec, body, path == PathTP2, now)

	key := ""
	if c.cfg.UseIPAddressAsPartitionKey && !anonymous {
		key = rec.ip
	}
	if len(bad) > 0 {
		recs := make([]stream.Record, len(bad))
		for i, b := range bad {
			recs[i] = stream.Record{PartitionKey: key, Data: b.Marshal()}
		}
		if err := c.bad.put(recs); err != nil {
			return unavailable(w)
		}
		c.m.badRows.WithLabelValues(badrow.TypeOf(badrow.SchemaSizeViolation)).Add(float64(len(bad)))
		if c.accepted != nil {
			c.accepted(now, 0, len(bad))
		}
	}
	if len(good) > 0 {
		var one [1]stream.Record
		recs := one[:0]
		if len(good) > 1 {
			recs = make([]stream.Record, 0, len(good))
		}
		for _, g := range good {
			recs = append(recs, stream.Record{PartitionKey: key, Data: g})
		}
		if err := c.good.put(recs); err != nil {
			return unavailable(w)
		}
		c.m.events.Add(float64(events))
		if c.accepted != nil {
			c.accepted(now, events, 0)
		}
	}
	setCookie := ""
	if c.cfg.Cookie.Enabled && !anonymous {
		setCookie = nuid
	}
	return c.respond(w, r, k, setCookie, redirectTo, now)
}

// zeroIP stands for the client address when it must not be recorded
// (SP-Anonymous) or cannot be known, as in Snowplow's collector.
const zeroIP = "unknown"

func tooLarge(w http.ResponseWriter, size, limit int64) int {
	msg := "request body exceeds the " + strconv.FormatInt(limit, 10) + "-byte limit"
	if size >= 0 {
		msg = "request body of " + strconv.FormatInt(size, 10) + " bytes exceeds the " + strconv.FormatInt(limit, 10) + "-byte limit"
	}
	// The body was not (fully) read: close the connection rather than
	// drain an arbitrary amount of it.
	w.Header().Set("Connection", "close")
	http.Error(w, msg, http.StatusRequestEntityTooLarge)
	return http.StatusRequestEntityTooLarge
}

func unavailable(w http.ResponseWriter) int {
	w.Header().Set("Retry-After", "1")
	http.Error(w, "sink unavailable; retry", http.StatusServiceUnavailable)
	return http.StatusServiceUnavailable
}

// respond writes the answer to a tracked request: the cookie (if nuid is
// set), CORS headers, and the pixel, "ok" or the redirect.
func (c *Collector) respond(w http.ResponseWriter, r *http.Request, k kind, nuid, redirectTo string, now time.Time) int {
	h := w.Header()
	if nuid != "" {
		h["Set-Cookie"] = []string{c.cookie(r, nuid, now)}
	}
	h["Access-Control-Allow-Origin"] = allowOrigin(r)
	h["Access-Control-Allow-Credentials"] = hTrue
	switch k {
	case kindPixel:
		h["Content-Type"] = hGIF
		h["Cache-Control"] = hNoCache
		h["Content-Length"] = hPixelLen
		w.WriteHeader(http.StatusOK)
		w.Write(pixel)
		return http.StatusOK
	case kindRedirect:
		h["Location"] = []string{redirectTo}
		h["Cache-Control"] = hNoCache
		w.WriteHeader(http.StatusFound)
		return http.StatusFound
	default:
		h["Content-Type"] = hText
		h["Content-Length"] = hOKLen
		w.WriteHeader(http.StatusOK)
		w.Write(okBody)
		return http.StatusOK
	}
}

// cookie builds the Set-Cookie value for nuid.
func (c *Collector) cookie(r *http.Request, nuid string, now time.Time) string {
	cc := &c.cfg.Cookie
	expires := c.cookieExpires(now)
	domain := c.cookieDomain(r)
	var b strings.Builder
	b.Grow(len(cc.Name) + len(nuid) + len(expires) + len(domain) + len(c.cookieAttrs) + 20)
	b.WriteString(cc.Name)
	b.WriteByte('=')
	b.WriteString(nuid)
	b.WriteString("; Expires=")
	b.WriteString(expires)
	if domain != "" {
		b.WriteString("; Domain=")
		b.WriteString(domain)
	}
	b.Write(c.cookieAttrs)
	return b.String()
}

// cookieDomain returns the first configured domain the request's Origin is
// in (the domain itself or a subdomain), else the fallback domain.
func (c *Collector) cookieDomain(r *http.Request) string {
	cc := &c.cfg.Cookie
	if len(cc.Domains) > 0 {
		if o := r.Header["Origin"]; len(o) > 0 {
			origins := strings.Fields(o[0])
			for _, d := range cc.Domains {
				for _, origin := range origins {
					if domainMatch(originHost(origin), d) {
						return d
					}
				}
			}
		}
	}
	return cc.FallbackDomain
}

func domainMatch(host, domain string) bool {
	domain = strings.ToLower(strings.TrimPrefix(domain, "."))
	host = strings.ToLower(host)
	return host != "" && (host == domain || strings.HasSuffix(host, "."+domain))
}

// originHost returns the host of an Origin value (scheme://host[:port]).
func originHost(origin string) string {
	_, rest, ok := strings.Cut(origin, "://")
	if !ok {
		return ""
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	return hostname(rest)
}

// networkUserID is the nuid parameter, else the cookie, else a new UUID;
// the zero UUID for SP-Anonymous requests. Values that could not be sent
// back in a Set-Cookie header unchanged are ignored.
func (c *Collector) networkUserID(r *http.Request, anonymous bool) string {
	if anonymous {
		return zeroNUID
	}
	if v, ok := queryParam(r.URL.RawQuery, "nuid"); ok && validNUID(v) {
		return v
	}
	if c.cfg.Cookie.Name != "" {
		if ck, err := r.Cookie(c.cfg.Cookie.Name); err == nil && validNUID(ck.Value) {
			return ck.Value
		}
	}
	return uuid.NewString()
}

// validNUID accepts up to 128 cookie-value octets (RFC 6265).
func validNUID(v string) bool {
	if v == "" || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		b := v[i]
		if b <= 0x20 || b >= 0x7f || b == '"' || b == ',' || b == ';' || b == '\\' {
			return false
		}
	}
	return true
}

// queryParam finds the first value of key in a raw query without parsing
// the whole query.
func queryParam(raw, key string) (string, bool) {
	for raw != "" {
		var part string
		part, raw, _ = strings.Cut(raw, "&")
		k, v, _ := strings.Cut(part, "=")
		if k != key {
			continue
		}
		if u, err := url.QueryUnescape(v); err == nil {
			return u, true
		}
		return "", false
	}
	return "", false
}

// requestHeaders lists the headers as the payload carries them ("Name:
// value", Host first, then sorted by name so records are reproducible).
// SP-Anonymous requests lose the headers that identify the client.
func requestHeaders(r *http.Request, anonymous bool) []header {
	n := 1
	var names [48]string
	keys := names[:0]
	for k, vs := range r.Header {
		if anonymous && identifying(k) {
			continue
		}
		keys = append(keys, k)
		n += len(vs)
	}
	slices.Sort(keys)
	out := make([]header, 0, n)
	if r.Host != "" {
		out = append(out, header{"Host", r.Host})
	}
	for _, k := range keys {
		for _, v := range r.Header[k] {
			out = append(out, header{k, v})
		}
	}
	return out
}

func identifying(canonical string) bool {
	switch canonical {
	case "X-Forwarded-For", "X-Real-Ip", "Forwarded", "Cookie":
		return true
	}
	return false
}

// clientIP is the first X-Forwarded-For address (the load balancer in
// front of the collector appends the client's), else X-Real-Ip, else the
// connection's peer, as Snowplow's collector does.
func clientIP(r *http.Request) string {
	if xff := r.Header["X-Forwarded-For"]; len(xff) > 0 {
		first, _, _ := strings.Cut(xff[0], ",")
		if ip, ok := parseIP(strings.TrimSpace(first)); ok {
			return ip
		}
	}
	if xr := r.Header["X-Real-Ip"]; len(xr) > 0 {
		if ip, ok := parseIP(strings.TrimSpace(xr[0])); ok {
			return ip
		}
	}
	if ip, ok := parseIP(r.RemoteAddr); ok {
		return ip
	}
	return zeroIP
}

// parseIP accepts an address with or without a port.
func parseIP(s string) (string, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		if a.Is4() && a.Zone() == "" {
			return s, true // already canonical: no need to format it again
		}
		return a.Unmap().String(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		if ap.Addr().Is4() {
			return s[:strings.LastIndexByte(s, ':')], true
		}
		return ap.Addr().Unmap().String(), true
	}
	return "", false
}

// hostname strips the port (and IPv6 brackets) from a Host value.
func hostname(host string) string {
	if strings.HasPrefix(host, "[") {
		if end := strings.IndexByte(host, ']'); end > 0 {
			return host[1:end]
		}
		return host[1:]
	}
	if i := strings.IndexByte(host, ':'); i >= 0 && strings.IndexByte(host[i+1:], ':') < 0 {
		return host[:i]
	}
	return host
}

func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}

// redirectTarget validates the u parameter of a redirect request.
func (c *Collector) redirectTarget(rawQuery string) (string, error) {
	target, ok := queryParam(rawQuery, "u")
	if !ok || target == "" {
		return "", errors.New("redirect: missing u parameter")
	}
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", errors.New("redirect: u must be an absolute http(s) URL")
	}
	for _, d := range c.cfg.Redirect.Domains {
		if domainMatch(u.Hostname(), d) {
			return u.String(), nil
		}
	}
	return "", errors.New("redirect: target host " + strconv.Quote(u.Hostname()) + " is not an allowed redirect domain")
}

// toRecords encodes the request as payloads: normally one. A payload over
// the record limit is split by event if its body is a payload_data batch
// (each part a valid batch of whole events); an event, or a payload, that
// cannot fit becomes a size_violation bad row. events counts the events
// in good records (for a body that is not a batch, 1: enrich will emit one
// row, good or bad, for it).
func (c *Collector) toRecords(rec *record, body []byte, isTP2 bool, now time.Time) (good [][]byte, bad []badrow.BadRow, events int) {
	max := c.cfg.Limits.MaxRecordBytes
	rec.body = body
	size := rec.size()
	if size <= max {
		events = 1
		if isTP2 {
			if b, ok := countBatch(body); ok && b.count > 0 {
				events = b.count
			}
		}
		return [][]byte{rec.encode()}, nil, events
	}
	var b batch
	parsed := false
	if len(body) > 0 {
		b, parsed = countBatch(body)
	}
	whole := func(why string) []badrow.BadRow {
		return []badrow.BadRow{c.sizeViolation(now, size, why, rec, body)}
	}
	switch {
	case len(body) == 0:
		return nil, whole("oversized collector payload: GET requests cannot be split"), 0
	case !parsed || len(b.schema) == 0 || b.schema[0] != '"':
		return nil, whole("oversized collector payload: cannot split a body that is not a payload_data batch"), 0
	case b.count == 0:
		return nil, whole("oversized collector payload: batch holds no events to split"), 0
	}
	rec.body = b.bodyFor(nil)
	overhead := rec.size()
	room := max - overhead
	if room <= 0 {
		rec.body = body
		return nil, whole("oversized collector payload: cannot split this POST request because the payload without events is still too big"), 0
	}
	// A record holds a run of consecutive events: body[from:to], separators
	// included, so no list of the events is ever built (issue 12: a 1 MiB
	// body can hold 340,000).
	from, to, n := 0, 0, 0
	flush := func() {
		if n == 0 {
			return
		}
		rec.body = b.bodyFor(body[from:to])
		good = append(good, rec.encode())
		events += n
		n = 0
	}
	b.eachEvent(body, func(start, end int) {
		if end-start > room {
			flush() // keeps each record's run contiguous
			bad = append(bad, c.sizeViolation(now, overhead+end-start, "oversized collector payload: this POST request split is still too large", nil, body[start:end]))
			return
		}
		if n > 0 && end-from > room {
			flush()
		}
		if n == 0 {
			from = start
		}
		to = end
		n++
	})
	flush()
	return good, bad, events
}

// sizeViolation builds the bad row for a payload (or one event of it) too
// big for the sink. Like Snowplow, it keeps the first tenth of the limit of
// the offending data so the row itself always fits.
func (c *Collector) sizeViolation(now time.Time, actual int, why string, rec *record, data []byte) badrow.BadRow {
	keep := c.cfg.Limits.MaxRecordBytes / 10
	var p []byte
	switch {
	case len(data) > 0:
		p = data
	case rec != nil:
		p = []byte(rec.path + "?" + rec.querystring)
	}
	if len(p) > keep {
		p = p[:keep]
	}
	return badrow.NewSizeViolation(c.processor, now, c.cfg.Limits.MaxRecordBytes, actual, why, string(bytes.ToValidUTF8(p, []byte("\uFFFD"))))
}

// Package enrich turns collector payloads into enriched events: it reads
// the Snowplow tracker protocol (GET pixels and tp2 POST batches) out of a
// Thrift CollectorPayload, validates every self-describing JSON against its
// Iglu schema, runs the enrichments (event fingerprint, IP anonymisation,
// user-agent parsing, referer parsing, campaign attribution) and writes
// the 131-field enriched TSV — or, for anything that fails, the bad row
// that says why and carries the input for reprocessing. Nothing is dropped
// without a bad row, and one bad event of a batch never fails the others.
package enrich

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/plowline/plowline/metricname"
	"github.com/plowline/plowline/pipeline/badrow"
	"github.com/plowline/plowline/pipeline/enrich/campaign"
	"github.com/plowline/plowline/pipeline/enrich/iglu"
	"github.com/plowline/plowline/pipeline/enrich/iplookup"
	"github.com/plowline/plowline/pipeline/enrich/referer"
	"github.com/plowline/plowline/pipeline/enrich/tp"
	"github.com/plowline/plowline/pipeline/enrich/useragent"
	"github.com/plowline/plowline/pipeline/event"
	"github.com/plowline/plowline/pipeline/payload"
	"github.com/prometheus/client_golang/prometheus"
)

// Artifact names the enricher in bad rows' processor.
const Artifact = "plowline-enrich"

// Output is what one collector payload became.
type Output struct {
	// Good holds enriched events, one TSV line each (no newline).
	Good [][]byte
	// Bad holds bad rows, one JSON document each (no newline).
	Bad [][]byte
	// BadTypes holds each bad row's type (schema_violations, ...), in the
	// order of Bad: callers count them without parsing the JSON.
	BadTypes []string
	// Validation and Enrichment are the time spent validating self-describing
	// JSON and enriching events (validation included), summed over the
	// payload's events: Lambda mode reports them as EMF.
	Validation, Enrichment time.Duration
}

// Enricher enriches collector payloads. It is safe for concurrent use.
type Enricher struct {
	cfg       Config
	resolver  *iglu.Resolver
	ua        *useragent.Parser
	uaAtomic  *useragent.AtomicParser
	ipLookups *iplookup.Lookups
	referer   *referer.Parser
	campaign  *campaign.Config
	fpExclude map[string]bool
	fpHashes  sync.Pool // of hash.Hash, the configured fingerprint algorithm
	limits    [event.NumFields]int
	processor badrow.Processor
	vEtl      string
	log       *slog.Logger
	m         metrics
	now       func() time.Time
	etl       atomic.Pointer[etlStamp] // the last etl_tstamp rendered
}

// etlStamp is an etl_tstamp rendered once for all events enriched in the
// same millisecond.
type etlStamp struct {
	ms int64
	s  string
}

// etlTstamp renders now as etl_tstamp, reusing the last rendering when the
// millisecond is the same: under load that is most events.
func (e *Enricher) etlTstamp(now time.Time) string {
	ms := now.UnixMilli()
	if c := e.etl.Load(); c != nil && c.ms == ms {
		return c.s
	}
	c := &etlStamp{ms: ms, s: formatMillis(ms)}
	e.etl.Store(c)
	return c.s
}

type metrics struct {
	payloads   prometheus.Counter
	good, bad  prometheus.Counter
	badRows    *prometheus.CounterVec
	validation prometheus.Histogram
	enrichment prometheus.Histogram
}

var latencyBuckets = []float64{1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 1e-2, 5e-2, 0.25, 1}

func newMetrics(reg prometheus.Registerer) (metrics, error) {
	events := prometheus.NewCounterVec(prometheus.CounterOpts{Name: metricname.EnricherEvents.Name, Help: metricname.EnricherEvents.Help},
		[]string{metricname.LabelResult})
	m := metrics{
		payloads: prometheus.NewCounter(prometheus.CounterOpts{Name: metricname.EnricherPayloads.Name, Help: metricname.EnricherPayloads.Help}),
		good:     events.WithLabelValues("good"),
		bad:      events.WithLabelValues("bad"),
		badRows: prometheus.NewCounterVec(prometheus.CounterOpts{Name: metricname.EnricherBadRows.Name, Help: metricname.EnricherBadRows.Help},
			[]string{metricname.LabelType}),
		validation: prometheus.NewHistogram(prometheus.HistogramOpts{Name: metricname.EnricherValidationDuration.Name,
			Help: metricname.EnricherValidationDuration.Help, Buckets: latencyBuckets}),
		enrichment: prometheus.NewHistogram(prometheus.HistogramOpts{Name: metricname.EnricherEnrichmentDuration.Name,
			Help: metricname.EnricherEnrichmentDuration.Help, Buckets: latencyBuckets}),
	}
	// Every bad-row type the enricher emits is exported from the start, at 0.
	for _, t := range []string{"collector_payload_format_violation", "tracker_protocol_violations", "adapter_failures",
		"schema_violations", "enrichment_failures"} {
		m.badRows.WithLabelValues(t)
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.payloads, events, m.badRows, m.validation, m.enrichment} {
			if err := reg.Register(c); err != nil {
				return m, fmt.Errorf("registering enricher metrics: %w", err)
			}
		}
	}
	return m, nil
}

// New builds an enricher: registries, caches, the user-agent regexes.
// reg may be nil (no metrics exported); log may be nil.
func New(cfg Config, reg prometheus.Registerer, log *slog.Logger) (*Enricher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("enrich config: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	regs := make([]iglu.Registry, 0, len(cfg.Registries))
	client := &http.Client{Timeout: cfg.RegistryTimeout}
	for _, rc := range cfg.Registries {
		var r iglu.Registry = iglu.DirRegistry{Root: rc.URI}
		if strings.HasPrefix(rc.URI, "http://") || strings.HasPrefix(rc.URI, "https://") {
			r = iglu.HTTPRegistry{BaseURL: rc.URI, Client: client}
		}
		regs = append(regs, iglu.Ranked{Registry: r, Priority: rc.Priority, VendorPrefixes: rc.VendorPrefixes})
	}
	e := &Enricher{
		cfg:      cfg,
		resolver: iglu.NewResolver(regs, iglu.Options{CacheSize: cfg.Cache.Size, CacheTTL: cfg.Cache.TTL, MissTTL: cfg.Cache.MissTTL}),
		log:      log,
		now:      time.Now,
	}
	var err error
	if e.m, err = newMetrics(reg); err != nil {
		return nil, err
	}
	en := cfg.Enrichments
	if en.UAParser.Enabled {
		if e.ua, err = useragent.New(en.UAParser.CacheSize); err != nil {
			return nil, err
		}
	}
	if en.UAAtomicFields.Enabled {
		p := e.ua
		if p == nil {
			if p, err = useragent.New(1); err != nil {
				return nil, err
			}
		}
		if e.uaAtomic, err = useragent.NewAtomic(p, en.UAAtomicFields.CacheSize); err != nil {
			return nil, err
		}
	}
	if en.IPLookups.Enabled {
		if e.ipLookups, err = iplookup.Open(en.IPLookups.Config); err != nil {
			return nil, fmt.Errorf("enrichments.ip_lookups: %w", err)
		}
	}
	if en.RefererParser.Enabled {
		e.referer = referer.New(en.RefererParser.InternalDomains)
	}
	if en.CampaignAttribution.Enabled {
		c := en.CampaignAttribution.Config
		c.ClickIDs = maps.Clone(c.ClickIDs)
		c.Normalize()
		e.campaign = &c
	}
	if en.EventFingerprint.Enabled {
		e.fpExclude = map[string]bool{}
		for _, p := range en.EventFingerprint.ExcludeParameters {
			e.fpExclude[p] = true
		}
		e.fpHashes.New = func() any { return fingerprintHashes[en.EventFingerprint.HashAlgorithm]() }
	}
	if e.limits, err = atomicLimits(); err != nil {
		return nil, err
	}
	e.processor = badrow.Processor{Artifact: Artifact, Version: semver(cfg.Version)}
	e.vEtl = "plowline-" + orDefault(cfg.Version, "dev")
	log.Info("enricher ready", "registries", len(regs), "ua_parser", en.UAParser.Enabled, "ua_atomic_fields", en.UAAtomicFields.Enabled, "ip_lookups", en.IPLookups.Enabled, "referer_parser", en.RefererParser.Enabled,
		"campaign_attribution", en.CampaignAttribution.Enabled, "event_fingerprint", en.EventFingerprint.Enabled, "anon_ip", en.AnonIP.Enabled)
	return e, nil
}

// Processor is how this enricher names itself in bad rows (adapters that
// emit their own, such as size violations, use it too).
func (e *Enricher) Processor() badrow.Processor { return e.processor }

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

var semverRE = regexp.MustCompile(`^\d+\.\d+\.\d+`)

// semver makes a version the bad-row schemas accept (^\d+\.\d+\.\d+, at
// most 32 characters): "v1.2.3" → "1.2.3", a git hash → "0.0.0+hash".
func semver(v string) string {
	v = strings.TrimPrefix(v, "v")
	if !semverRE.MatchString(v) {
		v = "0.0.0+" + orDefault(v, "dev")
	}
	if len(v) > 32 {
		v = v[:32]
	}
	return v
}

// atomicLimits reads each field's maxLength from the embedded atomic schema.
func atomicLimits() ([event.NumFields]int, error) {
	var lim [event.NumFields]int
	key, _ := iglu.ParseURI("iglu:com.snowplowanalytics.snowplow/atomic/jsonschema/1-0-0")
	raw, err := iglu.Embedded().Lookup(context.Background(), key)
	if err != nil {
		return lim, fmt.Errorf("reading the embedded atomic schema: %w", err)
	}
	var doc struct {
		Properties map[string]struct {
			MaxLength int `json:"maxLength"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return lim, fmt.Errorf("parsing the embedded atomic schema: %w", err)
	}
	for name, p := range doc.Properties {
		if f, ok := event.FieldByName(name); ok && p.MaxLength > 0 {
			lim[f] = p.MaxLength
		}
	}
	return lim, nil
}

// Enrich turns one record (a Thrift CollectorPayload) into enriched events
// and bad rows. Every event in the payload ends up in exactly one of them.
func (e *Enricher) Enrich(ctx context.Context, record []byte) Output {
	e.m.payloads.Inc()
	now := e.now().UTC()
	var out Output
	cp, err := payload.Unmarshal(record)
	if err != nil {
		e.addBad(&out, badrow.NewCollectorPayloadFormatViolation(e.processor, now, badrow.LoaderThrift,
			err.Error(), base64.StdEncoding.EncodeToString(record)))
		return out
	}
	events, fails := e.parse(ctx, cp, now, &out)
	for _, f := range fails {
		if f.Kind == tp.SizeViolation {
			e.addBad(&out, badrow.NewSizeViolation(e.processor, now, 0, f.ActualBytes, f.Expectation, f.Body))
			continue
		}
		cpj := e.collectorPayloadJSON(cp, f)
		if f.Kind == tp.AdapterFailure {
			e.addBad(&out, badrow.NewAdapterFailures(e.processor, now, f.Messages, cpj))
		} else {
			e.addBad(&out, badrow.NewTrackerProtocolViolations(e.processor, now, f.Messages, cpj))
		}
	}
	etl := e.etlTstamp(now)
	for i := range events {
		e.enrichOne(ctx, cp, &events[i], now, etl, &out)
	}
	return out
}

// parse runs the tracker-protocol adapter, turning a panic (a bug) into a
// bad row rather than losing the payload or the process.
func (e *Enricher) parse(ctx context.Context, cp *payload.CollectorPayload, now time.Time, out *Output) (evs []tp.Event, fails []tp.Failure) {
	defer func() {
		if r := recover(); r != nil {
			e.log.Error("tracker protocol adapter panicked", "panic", fmt.Sprint(r))
			evs = nil
			fails = []tp.Failure{{Kind: tp.AdapterFailure, Vendor: tp.Vendor, Version: tp.TP2, Body: cp.Body, HasBody: cp.Body != "",
				Messages: []badrow.Message{badrow.InputData("payload", nil, clip("processable by the adapter (internal error: "+fmt.Sprint(r)+")", 250))}}}
		}
	}()
	return tp.Parse(ctx, e.resolver, cp)
}

func (e *Enricher) addBad(out *Output, b badrow.BadRow) {
	t := badrow.TypeOf(b.Schema)
	out.Bad = append(out.Bad, b.Marshal())
	out.BadTypes = append(out.BadTypes, t)
	e.m.badRows.WithLabelValues(t).Inc()
	e.m.bad.Inc()
}

func nvps(ps []tp.Param) []badrow.NameValue {
	out := make([]badrow.NameValue, len(ps))
	for i, p := range ps {
		out[i] = badrow.NameValue{Name: p.Name, Value: p.Value}
	}
	return out
}

func (e *Enricher) collectorPayloadJSON(cp *payload.CollectorPayload, f tp.Failure) badrow.CollectorPayload {
	qs, err := tp.ParseQuery(cp.Querystring)
	if err != nil {
		// Keep the undecodable query string whole rather than lose it.
		qs = []tp.Param{{Name: "querystring", Value: cp.Querystring}}
	}
	return badrow.CollectorPayload{Vendor: f.Vendor, Version: f.Version, Querystring: nvps(qs), ContentType: cp.ContentType,
		Body: f.Body, HasBody: f.HasBody, Collector: cp.Collector, Encoding: cp.Encoding, Hostname: cp.Hostname,
		Timestamp: time.UnixMilli(cp.Timestamp), IPAddress: cp.IPAddress, UserAgent: cp.UserAgent, RefererURI: cp.RefererURI,
		Headers: cp.Headers, NetworkUserID: cp.NetworkUserID}
}

func rawEventJSON(cp *payload.CollectorPayload, ev *tp.Event) badrow.RawEvent {
	return badrow.RawEvent{Vendor: tp.Vendor, Version: ev.Version, Parameters: nvps(ev.Params), ContentType: cp.ContentType,
		LoaderName: badrow.LoaderThrift, Encoding: cp.Encoding, Hostname: cp.Hostname, Timestamp: time.UnixMilli(cp.Timestamp),
		IPAddress: cp.IPAddress, UserAgent: cp.UserAgent, RefererURI: cp.RefererURI, Headers: cp.Headers, UserID: cp.NetworkUserID}
}

// enrichOne enriches one raw event into a TSV line or one bad row.
func (e *Enricher) enrichOne(ctx context.Context, cp *payload.CollectorPayload, raw *tp.Event, now time.Time, etl string, out *Output) {
	start := time.Now()
	s := &state{}
	defer func() {
		if r := recover(); r != nil {
			e.log.Error("enrichment panicked", "panic", fmt.Sprint(r))
			e.addBad(out, badrow.NewEnrichmentFailures(e.processor, now, []badrow.EnrichmentFailure{
				{Message: badrow.ExternalError("internal error: " + fmt.Sprint(r))}}, rawEventJSON(cp, raw), nil))
		}
	}()
	ev := &s.ev
	s.collectorMs = clampMillis(cp.Timestamp)
	ev[event.CollectorTstamp] = formatMillis(s.collectorMs)
	ev[event.EtlTstamp] = etl
	ev[event.VCollector] = cp.Collector
	ev[event.VEtl] = e.vEtl
	ev[event.Useragent] = cp.UserAgent
	ev[event.UserIPAddress] = clientIP(cp)

	s.mapParams(raw.Params)

	// Identity set after the parameters, in Snowplow's order of precedence.
	if cp.NetworkUserID != "" {
		ev[event.NetworkUserID] = cp.NetworkUserID
	}
	if s.nuid != "" {
		ev[event.NetworkUserID] = s.nuid
	}
	if s.tnuid != "" {
		ev[event.NetworkUserID] = s.tnuid
	}
	if s.ipParam != "" {
		ev[event.UserIPAddress] = s.ipParam
	}
	if ev[event.EventType] == "" {
		if _, sent := raw.Get("e"); !sent {
			s.fails = append(s.fails, badrow.EnrichmentFailure{Message: badrow.InputData("e", nil, "an event type code: pv, pp, se, ue, tr, ti or ad")})
		}
	}
	if !s.haveEID {
		ev[event.EventID] = uuid.NewString()
	}
	if ev[event.PageURL] == "" && cp.RefererURI != "" && raw.Version == tp.TP1 {
		// A pixel without url: the page is the request's referer.
		ev[event.PageURL] = cp.RefererURI
	}

	vstart := time.Now()
	if s.contexts != "" {
		e.validateSDJ(ctx, s, s.contextsField, s.contexts, false)
	}
	if ev[event.EventType] == "unstruct" {
		if s.unstruct == "" {
			s.fails = append(s.fails, badrow.EnrichmentFailure{Message: badrow.InputData("ue_px", nil, "an unstructured event (ue_pr or ue_px) for e=ue")})
		} else {
			e.validateSDJ(ctx, s, s.unstructField, s.unstruct, true)
		}
	} else if sc, ok := eventSchemas[ev[event.EventType]]; ok {
		ev[event.EventVendor], ev[event.EventName], ev[event.EventFormat], ev[event.EventVersion] = sc[0], sc[1], sc[2], sc[3]
	}
	vdur := time.Since(vstart)
	out.Validation += vdur
	e.m.validation.Observe(vdur.Seconds())

	page := e.splitURL(s, ev[event.PageURL], "url", event.PageURLScheme)
	refr := e.splitURL(s, ev[event.PageReferrer], "refr", event.RefrURLScheme)
	e.enrichments(s, raw, page, refr)
	ev[event.DerivedTstamp] = s.derivedTstamp()

	for i := range ev {
		ev[i] = clean(ev[i])
		if lim := e.limits[i]; lim > 0 && len(ev[i]) > lim && utf8.RuneCountInString(ev[i]) > lim {
			if e.cfg.OversizedFields == "truncate" {
				ev[i] = truncateRunes(ev[i], lim)
			} else {
				// As Snowplow enrich's AtomicFieldsLengthValidator: a
				// schema violation against the atomic schema (its
				// "create a SchemaViolations bad row if an atomic field is
				// oversized" case).
				s.atomicLong = append(s.atomicLong, badrow.DataReport{Path: event.Field(i).Name(), Keyword: keywordLength,
					Message: fmt.Sprintf("Field is longer than maximum allowed size %d", lim)})
			}
		}
	}
	// Snowplow's order: the atomic parse errors first (found while mapping
	// the parameters), the length errors last (checked on the finished event).
	if len(s.atomic) > 0 {
		s.sdj = append([]badrow.Message{badrow.IgluValidationError(AtomicSchema, s.atomic)}, s.sdj...)
	}
	if len(s.atomicLong) > 0 {
		s.sdj = append(s.sdj, badrow.IgluValidationError(AtomicSchema, s.atomicLong))
	}

	switch {
	case len(s.sdj) > 0:
		e.addBad(out, badrow.NewSchemaViolations(e.processor, now, s.sdj, rawEventJSON(cp, raw), enrichedJSON(ev)))
	case len(s.fails) > 0:
		e.addBad(out, badrow.NewEnrichmentFailures(e.processor, now, s.fails, rawEventJSON(cp, raw), enrichedJSON(ev)))
	default:
		out.Good = append(out.Good, tsv(ev))
		e.m.good.Inc()
	}
	edur := time.Since(start)
	out.Enrichment += edur
	e.m.enrichment.Observe(edur.Seconds())
}

func clampMillis(ms int64) int64 { return min(max(ms, 0), maxMillis) }

func truncateRunes(s string, n int) string {
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}

// splitURL parses a page or referrer URL into its scheme/host/port/path/
// query/fragment fields (first is the scheme field; the others follow it
// in the TSV). Ports default to 443 (https) or 80. An unparseable URL fails the
// event, as in Snowplow.
func (e *Enricher) splitURL(s *state, raw, param string, first event.Field) *url.URL {
	if raw == "" {
		return nil
	}
	u, err := parseLenient(raw)
	if err != nil || u.Scheme == "" || (u.Host == "" && u.Scheme != "file") {
		msg := "an absolute URL"
		if err != nil {
			msg += ": " + err.Error()
		}
		s.fail(param, raw, clip(msg, 250))
		return nil
	}
	ev := &s.ev
	// A URL without a port gets 443 if https and 80 for every other scheme
	// (android-app://, file://, ...): Snowplow enrich's
	// ConversionUtils.explodeUri defaults the port that way.
	port := u.Port()
	if port == "" {
		port = "80"
		if strings.EqualFold(u.Scheme, "https") {
			port = "443"
		}
	}
	ev[first] = strings.ToLower(u.Scheme)
	ev[first+1] = strings.ToLower(u.Hostname())
	ev[first+2] = port
	ev[first+3] = u.EscapedPath()
	ev[first+4] = u.RawQuery
	ev[first+5] = u.EscapedFragment()
	return u
}

// parseLenient parses a URL, retrying with the characters browsers send
// unescaped (spaces, |, quotes, ...) percent-encoded, as Snowplow does.
func parseLenient(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err == nil {
		return u, nil
	}
	fixed := strings.NewReplacer(" ", "%20", "|", "%7C", "\"", "%22", "<", "%3C", ">", "%3E", "^", "%5E", "`", "%60", "{", "%7B", "}", "%7D").Replace(raw)
	if u2, err2 := url.Parse(fixed); err2 == nil {
		return u2, nil
	}
	return nil, err
}

// enrichments runs the configurable enrichments on a mapped event.
func (e *Enricher) enrichments(s *state, raw *tp.Event, page, refr *url.URL) {
	ev := &s.ev
	var rawQuery string
	if page != nil {
		rawQuery = page.RawQuery
	}
	if rawQuery != "" {
		// Cross-domain linking: _sp=domain_userid.timestamp from the
		// referring site's tracker.
		if sp := tp.QueryValue(rawQuery, "_sp"); sp != "" {
			duid, ts, ok := strings.Cut(sp, ".")
			if ok && duid != "" {
				ev[event.RefrDomainUserID] = duid
				if ms, err := strconv.ParseInt(ts, 10, 64); err == nil && ms > 0 && ms <= maxMillis {
					ev[event.RefrDvceTstamp] = formatMillis(ms)
				}
			}
		}
	}
	if e.campaign != nil && rawQuery != "" {
		// Parsed once, then looked up once per configured parameter.
		get := func(name string) string { return tp.QueryValue(rawQuery, name) }
		if ps, err := tp.ParseQuery(rawQuery); err == nil {
			get = func(name string) string {
				for _, p := range ps {
					if p.Name == name {
						return p.Value
					}
				}
				return ""
			}
		}
		c := e.campaign.ExtractFunc(get)
		ev[event.MktMedium], ev[event.MktSource], ev[event.MktTerm] = c.Medium, c.Source, c.Term
		ev[event.MktContent], ev[event.MktCampaign] = c.Content, c.Campaign
		ev[event.MktClickid], ev[event.MktNetwork] = c.ClickID, c.Network
	}
	if e.referer != nil && refr != nil {
		pageHost := ""
		if page != nil {
			pageHost = page.Hostname()
		}
		if r, ok := e.referer.Parse(refr, pageHost); ok {
			ev[event.RefrMedium], ev[event.RefrSource], ev[event.RefrTerm] = r.Medium, r.Source, r.Term
		}
	}
	if e.ua != nil && ev[event.Useragent] != "" {
		ev[event.DerivedContexts] = e.ua.DerivedContexts(ev[event.Useragent])
	}
	if e.uaAtomic != nil && ev[event.Useragent] != "" {
		a := e.uaAtomic.Fields(ev[event.Useragent])
		ev[event.BrName], ev[event.BrFamily], ev[event.BrVersion], ev[event.BrType] = a.BrName, a.BrFamily, a.BrVersion, a.BrType
		ev[event.BrRenderengine], ev[event.OSName], ev[event.OSFamily] = a.BrRenderEngine, a.OSName, a.OSFamily
		ev[event.OSManufacturer], ev[event.DvceType], ev[event.DvceIsmobile] = a.OSManufacturer, a.DvceType, "0"
		if a.DvceIsMobile {
			ev[event.DvceIsmobile] = "1"
		}
	}
	// IP lookups see the whole address; anon_ip hides it afterwards, as in
	// Snowplow's order of enrichments.
	if e.ipLookups != nil && ev[event.UserIPAddress] != "" {
		if r, ok := e.ipLookups.Lookup(ev[event.UserIPAddress]); ok {
			ev[event.GeoCountry], ev[event.GeoRegion], ev[event.GeoCity], ev[event.GeoZipcode] = r.Country, r.Region, r.City, r.Zipcode
			ev[event.GeoLatitude], ev[event.GeoLongitude], ev[event.GeoRegionName], ev[event.GeoTimezone] = r.Latitude, r.Longitude, r.RegionName, r.Timezone
			ev[event.IPIsp], ev[event.IPOrganization], ev[event.IPDomain], ev[event.IPNetspeed] = r.ISP, r.Organization, r.Domain, r.NetSpeed
		}
	}
	if e.cfg.Enrichments.AnonIP.Enabled && ev[event.UserIPAddress] != "" {
		ev[event.UserIPAddress] = anonymize(ev[event.UserIPAddress], e.cfg.Enrichments.AnonIP.IPv4Octets, e.cfg.Enrichments.AnonIP.IPv6Segments)
	}
	if e.fpExclude != nil {
		h := e.fpHash()
		ev[event.EventFingerprint] = fingerprint(raw.Params, e.fpExclude, h)
		e.fpHashes.Put(h)
	}
}

// fingerprint is Snowplow's event_fingerprint enrichment
// (EventFingerprintEnrichment.getEventFingerprint): the parameters sorted
// by name, the excluded ones left out, each written as name, U+001F,
// value, U+001F, and the whole hashed (hex). A name sent twice counts once,
// with its last value, as in Snowplow's parameter map. The unit separators
// keep {"prefix":"suffix"} and {"prefixs":"uffix"} apart (the spec's "should
// return different values even when fields overlap").
func fingerprint(params []tp.Param, exclude map[string]bool, h hash.Hash) string {
	fp := fpPool.Get().(*fpScratch)
	defer fpPool.Put(fp)
	ps := fp.params[:0]
	for _, p := range params {
		if !exclude[p.Name] {
			ps = append(ps, p)
		}
	}
	slices.SortStableFunc(ps, func(a, b tp.Param) int { return strings.Compare(a.Name, b.Name) })
	buf := fp.buf[:0]
	for i, p := range ps {
		if i+1 < len(ps) && ps[i+1].Name == p.Name {
			continue // a repeated name counts once, with its last value
		}
		buf = append(buf, p.Name...)
		buf = append(buf, 0x1f)
		buf = append(buf, p.Value...)
		buf = append(buf, 0x1f)
	}
	h.Reset()
	h.Write(buf)
	sum := h.Sum(fp.sum[:0])
	fp.params, fp.buf = ps[:0], buf[:0]
	return hex.EncodeToString(sum)
}

func (e *Enricher) fpHash() hash.Hash { return e.fpHashes.Get().(hash.Hash) }

// fingerprintHashes are the algorithms of Snowplow's
// event_fingerprint_config hashAlgorithm.
var fingerprintHashes = map[string]func() hash.Hash{
	"MD5": md5.New, "SHA1": sha1.New, "SHA256": sha256.New, "SHA384": sha512.New384, "SHA512": sha512.New,
}

// fpScratch is reused between events: fingerprinting needs a sorted copy
// of the parameters and their concatenation, both garbage right after.
type fpScratch struct {
	params []tp.Param
	buf    []byte
	sum    [64]byte
}

var fpPool = sync.Pool{New: func() any { return &fpScratch{} }}

// tsv renders the event; clean has made every field tab-free.
func tsv(ev *event.Event) []byte {
	n := len(ev) - 1
	for _, f := range ev {
		n += len(f)
	}
	return ev.AppendTSV(make([]byte, 0, n))
}

// enrichedJSON renders a partially enriched event as the bad-row schemas
// type it: integers for counts, ports, flags and sizes; numbers for
// coordinates; strings for the rest (txn_id and money included).
func enrichedJSON(ev *event.Event) map[string]any {
	out := make(map[string]any, 48)
	for i, v := range ev {
		if v == "" {
			continue
		}
		f := event.Field(i)
		switch {
		case f == event.GeoLatitude || f == event.GeoLongitude:
			if x, err := strconv.ParseFloat(v, 64); err == nil {
				out[f.Name()] = x
			}
		case f == event.TxnID:
			out[f.Name()] = v
		case f.Kind() == event.KindInt || f.Kind() == event.KindBool:
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				out[f.Name()] = n
			}
		default:
			out[f.Name()] = v
		}
	}
	return out
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

package enrich

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/plowline/plowline/pipeline/badrow"
	"github.com/plowline/plowline/pipeline/enrich/tp"
	"github.com/plowline/plowline/pipeline/event"
)

// state is one event being enriched.
type state struct {
	ev    event.Event
	fails []badrow.EnrichmentFailure // an enrichment failed (enrichment_failures)
	sdj   []badrow.Message           // its self-describing JSON failed (schema_violations)
	// atomic holds the tracker-protocol parameters that could not be mapped
	// to their atomic field; atomicLong the fields over the atomic schema's
	// maxLength. Both become schema_violations against the atomic schema.
	atomic, atomicLong []badrow.DataReport

	// Parameters read later, after the whole list is seen.
	contexts, contextsField string // JSON text (co) or base64 (cx)
	unstruct, unstructField string
	tnuid, nuid             string
	ipParam                 string
	haveEID                 bool
	// Milliseconds of the timestamps derived_tstamp is computed from (0: absent).
	collectorMs, createdMs, sentMs, trueMs int64
}

func (s *state) fail(field string, value string, expectation string) {
	v := value
	s.fails = append(s.fails, badrow.EnrichmentFailure{Message: badrow.InputData(field, &v, expectation)})
}

// Keywords of the atomic-field reports, as Snowplow enrich names them.
const (
	keywordParse  = "atomic_field_parse_error"
	keywordLength = "atomic_field_length_exceeded"
)

// AtomicSchema is the schema invalid atomic fields are reported against.
const AtomicSchema = "iglu:com.snowplowanalytics.snowplow/atomic/jsonschema/1-0-0"

// parseErr records a parameter whose value does not fit its atomic field.
// Snowplow enrich (since 4.2; AtomicFields.errorsToSchemaViolation and
// AtomicError in enrich's common module) reports these as one
// schema_violations failure against the atomic schema, one data report per
// field, its path the parameter's name and its keyword
// atomic_field_parse_error — no longer as enrichment_failures.
// EnrichmentManagerSpec's "return a SchemaViolations bad row that contains
// 1 ValidationError for the atomic field and 1 ValidationError for the
// unstruct event" (tr_tt=not number) is the case the tests mirror.
func (s *state) parseErr(field, value, msg string) {
	s.atomic = append(s.atomic, badrow.DataReport{Message: clip("want "+msg+", got "+strconv.Quote(value), 1000), Path: field, Keyword: keywordParse})
}

// eventTypes maps the tracker protocol's e codes to enriched event names.
var eventTypes = map[string]string{
	"pv": "page_view", "pp": "page_ping", "se": "struct", "ue": "unstruct",
	"tr": "transaction", "ti": "transaction_item", "ad": "ad_impression",
}

// eventSchemas are the event_vendor/name/format/version of the event types
// that carry no schema of their own (Snowplow's values).
var eventSchemas = map[string][4]string{
	"page_view":        {"com.snowplowanalytics.snowplow", "page_view", "jsonschema", "1-0-0"},
	"page_ping":        {"com.snowplowanalytics.snowplow", "page_ping", "jsonschema", "1-0-0"},
	"struct":           {"com.google.analytics", "event", "jsonschema", "1-0-0"},
	"transaction":      {"com.snowplowanalytics.snowplow", "transaction", "jsonschema", "1-0-0"},
	"transaction_item": {"com.snowplowanalytics.snowplow", "transaction_item", "jsonschema", "1-0-0"},
	"ad_impression":    {"com.snowplowanalytics.snowplow", "ad_impression", "jsonschema", "1-0-0"},
}

// platforms are the tracker protocol's platform codes.
var platforms = map[string]bool{"web": true, "mob": true, "pc": true, "srv": true, "app": true,
	"tv": true, "cnsl": true, "iot": true, "headset": true}

// mapParams maps every tracker-protocol parameter to its enriched field.
// Empty values are absent, as in Snowplow. Unknown parameters are ignored
// (they still count in the fingerprint and travel in bad rows).
func (s *state) mapParams(params []tp.Param) {
	for _, p := range params {
		v := p.Value
		if v == "" {
			continue
		}
		switch p.Name {
		case "e":
			name, ok := eventTypes[v]
			if !ok {
				s.parseErr("e", v, "an event type code: pv, pp, se, ue, tr, ti or ad")
				continue
			}
			s.ev[event.EventType] = name
		case "p":
			if !platforms[v] {
				s.parseErr("p", v, "a platform code: web, mob, pc, srv, app, tv, cnsl, iot or headset")
				continue
			}
			s.ev[event.Platform] = v
		case "aid":
			s.str(event.AppID, v)
		case "tna":
			s.str(event.NameTracker, v)
		case "tv":
			s.str(event.VTracker, v)
		case "eid":
			if !isUUID(v) {
				s.parseErr("eid", v, "a UUID")
				continue
			}
			s.ev[event.EventID] = strings.ToLower(v)
			s.haveEID = true
		case "tid":
			s.int(event.TxnID, p.Name, v)
		case "uid":
			s.str(event.UserID, v)
		case "duid":
			s.str(event.DomainUserID, v)
		case "nuid":
			s.nuid = v
		case "tnuid":
			s.tnuid = v
		case "sid":
			s.str(event.DomainSessionID, v)
		case "vid":
			s.int(event.DomainSessionIdx, p.Name, v)
		case "fp":
			s.str(event.UserFingerprint, v)
		case "ip":
			s.ipParam = v
		case "ua":
			s.str(event.Useragent, v)
		case "dtm":
			s.createdMs = s.tstamp(event.DvceCreatedTstamp, p.Name, v)
		case "stm":
			s.sentMs = s.tstamp(event.DvceSentTstamp, p.Name, v)
		case "ttm":
			s.trueMs = s.tstamp(event.TrueTstamp, p.Name, v)
		case "url":
			s.str(event.PageURL, v)
		case "page":
			s.str(event.PageTitle, v)
		case "refr":
			s.str(event.PageReferrer, v)
		case "lang":
			s.str(event.BrLang, v)
		case "cs":
			s.str(event.DocCharset, v)
		case "cd":
			s.str(event.BrColordepth, v)
		case "tz":
			s.str(event.OSTimezone, v)
		case "res":
			s.dims(event.DvceScreenwidth, event.DvceScreenheight, p.Name, v)
		case "vp":
			s.dims(event.BrViewwidth, event.BrViewheight, p.Name, v)
		case "ds":
			s.dims(event.DocWidth, event.DocHeight, p.Name, v)
		case "cookie":
			s.bool(event.BrCookies, p.Name, v)
		case "f_pdf":
			s.bool(event.BrFeaturesPdf, p.Name, v)
		case "f_fla":
			s.bool(event.BrFeaturesFlash, p.Name, v)
		case "f_java":
			s.bool(event.BrFeaturesJava, p.Name, v)
		case "f_dir":
			s.bool(event.BrFeaturesDirector, p.Name, v)
		case "f_qt":
			s.bool(event.BrFeaturesQuicktime, p.Name, v)
		case "f_realp":
			s.bool(event.BrFeaturesRealplayer, p.Name, v)
		case "f_wma":
			s.bool(event.BrFeaturesWindowsmedia, p.Name, v)
		case "f_gears":
			s.bool(event.BrFeaturesGears, p.Name, v)
		case "f_ag":
			s.bool(event.BrFeaturesSilverlight, p.Name, v)
		case "se_ca":
			s.str(event.SeCategory, v)
		case "se_ac":
			s.str(event.SeAction, v)
		case "se_la":
			s.str(event.SeLabel, v)
		case "se_pr":
			s.str(event.SeProperty, v)
		case "se_va":
			s.float(event.SeValue, p.Name, v)
		case "tr_id":
			s.str(event.TrOrderID, v)
		case "tr_af":
			s.str(event.TrAffiliation, v)
		case "tr_tt":
			s.float(event.TrTotal, p.Name, v)
		case "tr_tx":
			s.float(event.TrTax, p.Name, v)
		case "tr_sh":
			s.float(event.TrShipping, p.Name, v)
		case "tr_ci":
			s.str(event.TrCity, v)
		case "tr_st":
			s.str(event.TrState, v)
		case "tr_co":
			s.str(event.TrCountry, v)
		case "tr_cu":
			s.str(event.TrCurrency, v)
		case "ti_id":
			s.str(event.TiOrderID, v)
		case "ti_sk":
			s.str(event.TiSku, v)
		case "ti_nm", "ti_na":
			s.str(event.TiName, v)
		case "ti_ca":
			s.str(event.TiCategory, v)
		case "ti_pr":
			s.float(event.TiPrice, p.Name, v)
		case "ti_qu":
			s.int(event.TiQuantity, p.Name, v)
		case "ti_cu":
			s.str(event.TiCurrency, v)
		case "pp_mix":
			s.int(event.PpXOffsetMin, p.Name, v)
		case "pp_max":
			s.int(event.PpXOffsetMax, p.Name, v)
		case "pp_miy":
			s.int(event.PpYOffsetMin, p.Name, v)
		case "pp_may":
			s.int(event.PpYOffsetMax, p.Name, v)
		case "co":
			if s.contextsField != "cx" { // base64 wins when a tracker sends both
				s.contexts, s.contextsField = v, "co"
			}
		case "cx":
			s.contexts, s.contextsField = v, "cx"
		case "ue_pr":
			if s.unstructField != "ue_px" {
				s.unstruct, s.unstructField = v, "ue_pr"
			}
		case "ue_px":
			s.unstruct, s.unstructField = v, "ue_px"
		}
	}
}

func (s *state) str(f event.Field, v string) { s.ev[f] = v }

// isNull reports the literal "null" some trackers send for an absent
// number: Snowplow's integer and decimal conversions map it to null.
func isNull(v string) bool { return strings.EqualFold(v, "null") }

func (s *state) int(f event.Field, name, v string) {
	if isNull(v) {
		return
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		s.parseErr(name, v, "an integer (32-bit)")
		return
	}
	s.ev[f] = strconv.FormatInt(n, 10)
}

// float maps a decimal parameter (se_va, tr_tt, tr_tx, tr_sh, ti_pr) as
// Snowplow enrich does: read as a java.math.BigDecimal, so the scale sent
// is kept ("2.0" stays 2.0), and written as BigDecimal.toString writes it
// (see decimalString).
func (s *state) float(f event.Field, name, v string) {
	if isNull(v) {
		return
	}
	d, ok := decimalString(v)
	if !ok {
		s.parseErr(name, v, "a decimal number")
		return
	}
	s.ev[f] = d
}

func (s *state) bool(f event.Field, name, v string) {
	switch v {
	case "1", "true":
		s.ev[f] = "1"
	case "0", "false":
		s.ev[f] = "0"
	default:
		s.parseErr(name, v, "1 or 0")
	}
}

func (s *state) dims(w, h event.Field, name, v string) {
	a, b, ok := strings.Cut(v, "x")
	wn, err1 := strconv.ParseInt(a, 10, 32)
	hn, err2 := strconv.ParseInt(b, 10, 32)
	if !ok || err1 != nil || err2 != nil || wn < 0 || hn < 0 {
		s.parseErr(name, v, "WIDTHxHEIGHT in whole pixels, e.g. 1920x1080")
		return
	}
	s.ev[w], s.ev[h] = strconv.FormatInt(wn, 10), strconv.FormatInt(hn, 10)
}

// maxMillis is 9999-12-31T23:59:59.999Z: later instants do not fit the
// enriched timestamp format.
const maxMillis = 253402300799999

// tstamp sets a timestamp field from epoch milliseconds and returns them
// (0 if the value is not a timestamp).
func (s *state) tstamp(f event.Field, name, v string) int64 {
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil || ms < 0 || ms > maxMillis {
		s.parseErr(name, v, "milliseconds since the Unix epoch, up to year 9999")
		return 0
	}
	s.ev[f] = formatMillis(ms)
	return ms
}

// formatMillis renders epoch milliseconds in event.TimestampLayout
// (yyyy-MM-dd HH:mm:ss.SSS, UTC) — by hand: time.Format costs several
// times as much, and every event has four or five timestamps.
func formatMillis(ms int64) string {
	t := time.UnixMilli(ms).UTC()
	y, mo, d := t.Date()
	h, mi, sec := t.Clock()
	var b [23]byte
	put := func(i, v, n int) {
		for j := i + n - 1; j >= i; j-- {
			b[j] = byte('0' + v%10)
			v /= 10
		}
	}
	put(0, y, 4)
	b[4] = '-'
	put(5, int(mo), 2)
	b[7] = '-'
	put(8, d, 2)
	b[10] = ' '
	put(11, h, 2)
	b[13] = ':'
	put(14, mi, 2)
	b[16] = ':'
	put(17, sec, 2)
	b[19] = '.'
	put(20, int(ms%1000+1000)%1000, 3)
	return string(b[:])
}

// derivedTstamp is Snowplow's: the true timestamp if the tracker sent one;
// else the collector time corrected for the device clock's skew (how long
// the event waited on the device before being sent); else collector time.
func (s *state) derivedTstamp() string {
	switch {
	case s.trueMs > 0:
		return s.ev[event.TrueTstamp]
	case s.createdMs > 0 && s.sentMs > 0:
		return formatMillis(clampMillis(s.collectorMs - (s.sentMs - s.createdMs)))
	}
	return s.ev[event.CollectorTstamp]
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

const (
	lsbs = 0x0101010101010101
	msbs = 0x8080808080808080
)

// cleanSpecial reports whether any byte of w is one clean looks at: a
// control character, DEL or a non-ASCII byte. (w-n*lsbs)&^w&msbs is
// nonzero exactly when some byte of w is below n (n <= 0x80); DEL is
// the zero byte of w^0x7f7f….
func cleanSpecial(w uint64) bool {
	d := w ^ (0x7f * lsbs)
	return ((w-0x20*lsbs)&^w|(d-lsbs)&^d|w)&msbs != 0
}

// clean makes a field TSV-safe as Snowplow enrich's
// ConversionUtils.fixTabsNewlines does for every text field: a tab becomes
// four spaces and every other control character (U+0000–U+001F, U+007F)
// is removed; invalid UTF-8 becomes U+FFFD (as decoding the bytes as UTF-8
// on the JVM does). The common case (nothing to clean) does not allocate.
func clean(s string) string {
	dirty, ascii := false, true
	i := 0
	// Eight bytes at a time while they are printable ASCII (most of every
	// field: contexts, user agents, URLs), then byte by byte.
	for i+8 <= len(s) && !cleanSpecial(uint64(s[i])|uint64(s[i+1])<<8|uint64(s[i+2])<<16|uint64(s[i+3])<<24|
		uint64(s[i+4])<<32|uint64(s[i+5])<<40|uint64(s[i+6])<<48|uint64(s[i+7])<<56) {
		i += 8
	}
	for ; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x7f {
			dirty = true
			break
		}
		if c >= 0x80 {
			ascii = false
		}
	}
	if !dirty && (ascii || utf8.ValidString(s)) {
		return s
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	b.Grow(len(s) + 8)
	for _, r := range s {
		switch {
		case r == '\t':
			b.WriteString("    ")
		case r < 0x20 || r == 0x7f:
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

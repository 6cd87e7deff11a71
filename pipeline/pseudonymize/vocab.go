package pseudonymize

import (
	"mime"
	"strings"
	"unicode"

	"github.com/plowline/plowline/pipeline/enrich/useragent"
	"github.com/plowline/plowline/pipeline/event"
)

// A vocabulary restricts a kept value to a known set or shape: an
// allowlist entry "path in NAME" (or "field in NAME") keeps the value in
// clear only when it belongs to vocabulary NAME, and pseudonymizes it
// otherwise. It is for places where the pipeline usually writes a value
// from a fixed list but a tracker can put free text: the user-agent
// parser's families (it copies device models and bot names from the
// agent), content types with parameters, query parameter names, schema
// URIs a tracker made up.
type vocab func(string) bool

// vocabularies are the names usable after "in"; known-schema is built per
// allowlist (it depends on the allowlist's own schema patterns).
var vocabularies = map[string]vocab{
	"uuid":           isUUID,
	"ua-family":      func(s string) bool { return useragent.KnownFamily(useragent.UserAgentFamily, s) },
	"os-family":      func(s string) bool { return useragent.KnownFamily(useragent.OSFamily, s) },
	"device-family":  func(s string) bool { return useragent.KnownFamily(useragent.DeviceFamily, s) },
	"ua-version":     func(s string) bool { return familyVersion(useragent.UserAgentFamily, s) },
	"os-version":     func(s string) bool { return familyVersion(useragent.OSFamily, s) },
	"version-number": useragent.KnownVersion,
	"ua-class":       inSet(uaClasses),
	"currency":       isCurrency,
	// The IP lookups enrichment's coarse geography: shapes of what
	// MaxMind's databases hold, so free text in those columns (from input
	// the standalone pseudonymizer did not see enriched) is pseudonymized.
	"country-code":      func(s string) bool { return len(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z' },
	"region-code":       isRegionCode,
	"place-name":        isPlaceName,
	"timezone":          isTimezone,
	"netspeed":          inSet(map[string]bool{"Dialup": true, "Dial-up": true, "Cable/DSL": true, "Corporate": true, "Cellular": true, "Satellite": true}),
	"language-tag":      isLanguageTag,
	"digits":            func(s string) bool { return s != "" && len(s) <= 9 && allDigits(s) },
	"content-type":      isContentType,
	"tracker-parameter": inSet(trackerParameters),
	// atomic-field: what an atomic-field report's path names (the
	// parameter that did not parse, or the column over its maxLength).
	// Reports on JSON data have paths like "$.key", never one of these.
	"atomic-field":        func(s string) bool { _, col := event.FieldByName(s); return trackerParameters[s] || col },
	"json-schema-keyword": inSet(schemaKeywords),
	"adapter-vendor":      inSet(map[string]bool{"com.snowplowanalytics.snowplow": true, "com.snowplowanalytics.iglu": true}),
	"adapter-version":     inSet(map[string]bool{"tp1": true, "tp2": true, "v1": true}),
	"iglu-format":         inSet(map[string]bool{"jsonschema": true}),
	"iglu-version":        isSchemaVer,
	"not-iglu-code": inSet(map[string]bool{"INVALID_SCHEMAVER": true, "INVALID_IGLUURI": true,
		"INVALID_DATA_PAYLOAD": true, "INVALID_SCHEMA": true}),
	// unquoted-text is for messages the pipeline writes: kept unless they
	// quote something (Go's errors quote the offending input, as in
	// `invalid URL escape "%zz"`).
	"unquoted-text": func(s string) bool { return !strings.ContainsAny(s, "\"'`") },
}

func inSet(m map[string]bool) vocab { return func(s string) bool { return m[s] } }

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// familyVersion: a known family with or without numeric version parts, or
// numeric version parts alone ("120.0.1").
func familyVersion(f useragent.Family, s string) bool {
	return useragent.KnownFamilyVersion(f, s) || useragent.KnownVersionDotted(s)
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

func isCurrency(s string) bool {
	return len(s) == 3 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z' && s[2] >= 'A' && s[2] <= 'Z'
}

// isLanguageTag accepts the short BCP 47 tags browsers send: a 2-3
// letter language, an optional 4-letter script and an optional region
// (2 letters or 3 digits): "en", "en-US", "zh-Hant-TW", "es-419".
func isLanguageTag(s string) bool {
	parts := strings.Split(s, "-")
	if len(parts) > 3 || !letters(parts[0], 2, 3) {
		return false
	}
	rest := parts[1:]
	if len(rest) > 0 && letters(rest[0], 4, 4) {
		rest = rest[1:]
	}
	if len(rest) == 1 && (letters(rest[0], 2, 2) || len(rest[0]) == 3 && allDigits(rest[0])) {
		rest = rest[1:]
	}
	return len(rest) == 0
}

func letters(s string, lo, hi int) bool {
	if len(s) < lo || len(s) > hi {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i] | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// isContentType accepts a known media type whose only parameter, if any,
// is a known charset: "application/json; charset=UTF-8". Anything else a
// client put there (boundary strings, made-up parameters) is free text.
func isContentType(s string) bool {
	mt, params, err := mime.ParseMediaType(s)
	if err != nil || !mediaTypes[mt] {
		return false
	}
	for k, v := range params {
		if k != "charset" || !charsets[strings.ToLower(v)] {
			return false
		}
	}
	return true
}

var mediaTypes = map[string]bool{
	"application/json": true, "text/plain": true, "application/x-www-form-urlencoded": true,
	"application/x-thrift": true, "text/html": true, "application/octet-stream": true, "multipart/form-data": false,
}

var charsets = map[string]bool{"utf-8": true, "utf8": true, "iso-8859-1": true, "us-ascii": true, "utf-16": true, "windows-1252": true}

func isSchemaVer(s string) bool {
	parts := strings.Split(s, "-")
	if len(parts) != 3 {
		return false
	}
	for _, p := range parts {
		if p == "" || len(p) > 6 || !allDigits(p) {
			return false
		}
	}
	return true
}

// uaClasses are the classification words user-agent enrichments write in
// br_type, br_renderengine, os_manufacturer and dvce_type (Snowplow's
// user-agent-utils vocabulary), compared as written.
var uaClasses = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range []string{
		"Browser", "Browser (mobile)", "Browser (text only)", "Email Client", "Robot", "Tool", "Application",
		"Unknown", "Other", "WEBKIT", "BLINK", "GECKO", "TRIDENT", "EDGE_HTML", "PRESTO", "KHTML", "OTHER",
		"Microsoft Corporation", "Apple Inc.", "Google Inc.", "Mozilla Foundation", "Opera Software ASA",
		"Samsung", "Nokia", "BlackBerry", "Symbian Ltd.", "Sony Ericsson", "Amazon.com, Inc.", "Linux Foundation", "Canonical Ltd.",
		"Computer", "Mobile", "Tablet", "Game console", "Digital media receiver", "Wearable computer",
	} {
		m[w] = true
	}
	return m
}()

// trackerParameters are the Snowplow tracker protocol's parameter names:
// the names a tracker's query string or tp2 event is made of.
var trackerParameters = func() map[string]bool {
	m := map[string]bool{}
	for _, p := range strings.Fields(`e p tv tna aid eid dtm stm ttm tz uid duid nuid tnuid sid vid ip ua url page refr
		res vp ds cd cs lang cookie fp co cx ue_pr ue_px se_ca se_ac se_la se_pr se_va tid f_pdf f_fla f_java f_qt
		f_realp f_wma f_dir f_gears f_ag pp_mix pp_max pp_miy pp_may tr_id tr_af tr_tt tr_tx tr_sh tr_ci tr_st tr_co
		tr_cu ti_id ti_sk ti_nm ti_na ti_ca ti_pr ti_qu ti_cu mac u cv nw evn ad_ba ad_ca ad_ad ad_uid sa sd dfp
		cookie_set schema data`) {
		m[p] = true
	}
	return m
}()

// schemaKeywords are JSON Schema's keywords: what a validation report's
// keyword names (from the schema, never from the data); and the
// enricher's atomic-field keywords (Snowplow's atomic_field_parse_error
// and atomic_field_length_exceeded).
var schemaKeywords = func() map[string]bool {
	m := map[string]bool{}
	for _, k := range strings.Fields(`type enum const required properties additionalProperties patternProperties
		items additionalItems minItems maxItems uniqueItems contains minContains maxContains minLength maxLength
		pattern format minimum maximum exclusiveMinimum exclusiveMaximum multipleOf minProperties maxProperties
		dependencies dependentRequired dependentSchemas propertyNames anyOf allOf oneOf not if then else $ref
		unevaluatedProperties unevaluatedItems false schema atomic_field_parse_error atomic_field_length_exceeded`) {
		m[k] = true
	}
	return m
}()

// badRowKeys are the property names of the bad-row schemas plowline writes
// (and the 131 enriched-event column names their payload.enriched holds).
// Inside a bad row an object key from this set is structure and kept;
// any other key, like any key the allowlist does not name inside an event,
// is pseudonymized. A test keeps the set in step with Iglu Central.
var badRowKeys = func() map[string]bool {
	m := map[string]bool{}
	for _, k := range strings.Fields(`actual actualSizeBytes artifact attempts body collector contentType dataReports
		encoding enriched enrichment error errors expectation expectedMapping failure field headers hostname
		identifier ipAddress json keyword lastAttempt loader loaderName lookupHistory maximumAllowedSizeBytes message
		messages name networkUserId parameters path payload payloadField processor querystring raw refererUri
		repository repostitory schemaCriterion schemaIssues schemaKey targets timestamp userId useragent value vendor
		version`) {
		m[k] = true
	}
	for f := event.Field(0); f < event.NumFields; f++ {
		m[f.Name()] = true
	}
	return m
}()

// isRegionCode accepts an ISO 3166-2 subdivision code's second part as
// MaxMind writes it: one to three capital letters or digits ("BE", "22").
func isRegionCode(s string) bool {
	if len(s) < 1 || len(s) > 3 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// isPlaceName accepts a region's name as geographic databases write it:
// letters of any script, combining marks, spaces and the punctuation of
// place names ("Baden-Württemberg", "Provence-Alpes-Côte d'Azur",
// "St. Gallen"), at most 64 bytes; no digits, "@" or "/", so an e-mail
// address, a URL or an id is not a place name.
func isPlaceName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		switch {
		case unicode.IsLetter(r), unicode.Is(unicode.Mn, r):
		case strings.ContainsRune(" -'.,()’", r):
		default:
			return false
		}
	}
	return true
}

// isTimezone accepts an IANA time zone name's shape: "UTC", or an area
// and one or two locations ("Europe/Berlin", "America/Argentina/Buenos_Aires",
// "Etc/GMT+5"): ASCII letters, digits, "_", "-" and "+", each part
// starting with a capital, at most 64 bytes.
func isTimezone(s string) bool {
	if s == "UTC" {
		return true
	}
	parts := strings.Split(s, "/")
	if len(s) > 64 || len(parts) < 2 || len(parts) > 3 {
		return false
	}
	for _, p := range parts {
		if p == "" || !(p[0] >= 'A' && p[0] <= 'Z') {
			return false
		}
		for i := 0; i < len(p); i++ {
			if c := p[i]; !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '+') {
				return false
			}
		}
	}
	return true
}

package testkit

import (
	"strconv"
	"strings"
	"time"
)

// eventNames maps the tracker protocol's event codes to the enriched
// event column's values.
var eventNames = map[string]string{
	"pv": "page_view", "pp": "page_ping", "se": "struct", "ue": "unstruct",
	"tr": "transaction", "ti": "transaction_item", "ad": "ad_impression",
}

// directFields are tracker parameters copied unchanged into an enriched
// column (Snowplow enrich's transform map).
var directFields = map[string]string{
	"aid": "app_id", "p": "platform", "eid": "event_id", "tv": "v_tracker", "tna": "name_tracker",
	"uid": "user_id", "duid": "domain_userid", "sid": "domain_sessionid", "vid": "domain_sessionidx",
	"ua": "useragent", "url": "page_url", "page": "page_title", "refr": "page_referrer",
	"fp": "user_fingerprint", "cookie": "br_cookies", "lang": "br_lang", "cs": "doc_charset",
	"cd": "br_colordepth", "tz": "os_timezone", "ip": "user_ipaddress",
	"se_ca": "se_category", "se_ac": "se_action", "se_la": "se_label", "se_pr": "se_property", "se_va": "se_value",
}

// dimensionFields are "WxH" parameters split into two integer columns.
var dimensionFields = map[string][2]string{
	"res": {"dvce_screenwidth", "dvce_screenheight"},
	"vp":  {"br_viewwidth", "br_viewheight"},
	"ds":  {"doc_width", "doc_height"},
}

// timestampFields are Unix-millisecond parameters written as enriched
// timestamps (yyyy-MM-dd HH:mm:ss.SSS, UTC).
var timestampFields = map[string]string{
	"dtm": "dvce_created_tstamp", "stm": "dvce_sent_tstamp", "ttm": "true_tstamp",
}

// ExpectedEnriched returns, by enriched column name (the canonical TSV's
// names, as in pipeline/event), the value each parameter the tracker sent
// must have in the enriched event: the event code as its name, the fields
// copied as they are, "WxH" split into width and height, Unix milliseconds
// as enriched timestamps. It leaves out what the enricher decides itself —
// network_userid (the collector's cookie or nuid), the self-describing JSON
// of ue_px/ue_pr and cx/co (compare those decoded, with
// SelfDescribingParam), and anything an enrichment may rewrite by
// configuration (user_ipaddress under IP anonymization: drop it then).
// Values are the tracker's own: a test sending tabs or control characters
// must apply the enricher's cleaning rule itself.
func (e SentEvent) ExpectedEnriched() map[string]string {
	out := map[string]string{}
	for k, v := range e {
		if v == "" {
			continue
		}
		if k == "e" {
			if name, ok := eventNames[v]; ok {
				out["event"] = name
			}
			continue
		}
		if col, ok := directFields[k]; ok {
			out[col] = v
			continue
		}
		if cols, ok := dimensionFields[k]; ok {
			if w, h, ok := strings.Cut(v, "x"); ok {
				if _, err := strconv.Atoi(w); err == nil {
					out[cols[0]] = w
				}
				if _, err := strconv.Atoi(h); err == nil {
					out[cols[1]] = h
				}
			}
			continue
		}
		if col, ok := timestampFields[k]; ok {
			if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
				out[col] = time.UnixMilli(ms).UTC().Format("2006-01-02 15:04:05.000")
			}
		}
	}
	return out
}

// Package event models the Snowplow enriched event: the canonical 131-field
// TSV that enrich writes and every later stage (pseudonymizer, S3, warehouse)
// reads, and the JSON shape the Snowplow analytics SDKs make of it.
package event

// Field identifies one column of the enriched TSV. Its value is the column's
// zero-based position, so a Field indexes a parsed line directly.
type Field int

// Kind says how a field's text is typed when the event is turned into JSON.
type Kind uint8

// The kinds of enriched fields, as the analytics SDKs type them.
const (
	KindString Kind = iota
	KindInt
	KindFloat
	KindBool
	KindTimestamp
	// KindContexts is a self-describing contexts array (contexts, derived_contexts).
	KindContexts
	// KindUnstruct is a self-describing unstruct_event wrapper.
	KindUnstruct
)

// NumFields is the number of columns of the canonical enriched TSV.
const NumFields = 131

// The 131 fields, in the order of the canonical TSV.
const (
	AppID Field = iota
	Platform
	EtlTstamp
	CollectorTstamp
	DvceCreatedTstamp
	EventType // the "event" column: page_view, struct, unstruct, ...
	EventID
	TxnID
	NameTracker
	VTracker
	VCollector
	VEtl
	UserID
	UserIPAddress
	UserFingerprint
	DomainUserID
	DomainSessionIdx
	NetworkUserID
	GeoCountry
	GeoRegion
	GeoCity
	GeoZipcode
	GeoLatitude
	GeoLongitude
	GeoRegionName
	IPIsp
	IPOrganization
	IPDomain
	IPNetspeed
	PageURL
	PageTitle
	PageReferrer
	PageURLScheme
	PageURLHost
	PageURLPort
	PageURLPath
	PageURLQuery
	PageURLFragment
	RefrURLScheme
	RefrURLHost
	RefrURLPort
	RefrURLPath
	RefrURLQuery
	RefrURLFragment
	RefrMedium
	RefrSource
	RefrTerm
	MktMedium
	MktSource
	MktTerm
	MktContent
	MktCampaign
	Contexts
	SeCategory
	SeAction
	SeLabel
	SeProperty
	SeValue
	UnstructEvent
	TrOrderID
	TrAffiliation
	TrTotal
	TrTax
	TrShipping
	TrCity
	TrState
	TrCountry
	TiOrderID
	TiSku
	TiName
	TiCategory
	TiPrice
	TiQuantity
	PpXOffsetMin
	PpXOffsetMax
	PpYOffsetMin
	PpYOffsetMax
	Useragent
	BrName
	BrFamily
	BrVersion
	BrType
	BrRenderengine
	BrLang
	BrFeaturesPdf
	BrFeaturesFlash
	BrFeaturesJava
	BrFeaturesDirector
	BrFeaturesQuicktime
	BrFeaturesRealplayer
	BrFeaturesWindowsmedia
	BrFeaturesGears
	BrFeaturesSilverlight
	BrCookies
	BrColordepth
	BrViewwidth
	BrViewheight
	OSName
	OSFamily
	OSManufacturer
	OSTimezone
	DvceType
	DvceIsmobile
	DvceScreenwidth
	DvceScreenheight
	DocCharset
	DocWidth
	DocHeight
	TrCurrency
	TrTotalBase
	TrTaxBase
	TrShippingBase
	TiCurrency
	TiPriceBase
	BaseCurrency
	GeoTimezone
	MktClickid
	MktNetwork
	EtlTags
	DvceSentTstamp
	RefrDomainUserID
	RefrDvceTstamp
	DerivedContexts
	DomainSessionID
	DerivedTstamp
	EventVendor
	EventName
	EventFormat
	EventVersion
	EventFingerprint
	TrueTstamp
	fieldCount
)

type fieldSpec struct {
	name string
	kind Kind
}

// specs is indexed by Field; its length is checked against NumFields in tests.
var specs = [NumFields]fieldSpec{
	{"app_id", KindString}, {"platform", KindString}, {"etl_tstamp", KindTimestamp},
	{"collector_tstamp", KindTimestamp}, {"dvce_created_tstamp", KindTimestamp},
	{"event", KindString}, {"event_id", KindString}, {"txn_id", KindInt},
	{"name_tracker", KindString}, {"v_tracker", KindString}, {"v_collector", KindString},
	{"v_etl", KindString}, {"user_id", KindString}, {"user_ipaddress", KindString},
	{"user_fingerprint", KindString}, {"domain_userid", KindString},
	{"domain_sessionidx", KindInt}, {"network_userid", KindString},
	{"geo_country", KindString}, {"geo_region", KindString}, {"geo_city", KindString},
	{"geo_zipcode", KindString}, {"geo_latitude", KindFloat}, {"geo_longitude", KindFloat},
	{"geo_region_name", KindString}, {"ip_isp", KindString}, {"ip_organization", KindString},
	{"ip_domain", KindString}, {"ip_netspeed", KindString}, {"page_url", KindString},
	{"page_title", KindString}, {"page_referrer", KindString}, {"page_urlscheme", KindString},
	{"page_urlhost", KindString}, {"page_urlport", KindInt}, {"page_urlpath", KindString},
	{"page_urlquery", KindString}, {"page_urlfragment", KindString},
	{"refr_urlscheme", KindString}, {"refr_urlhost", KindString}, {"refr_urlport", KindInt},
	{"refr_urlpath", KindString}, {"refr_urlquery", KindString}, {"refr_urlfragment", KindString},
	{"refr_medium", KindString}, {"refr_source", KindString}, {"refr_term", KindString},
	{"mkt_medium", KindString}, {"mkt_source", KindString}, {"mkt_term", KindString},
	{"mkt_content", KindString}, {"mkt_campaign", KindString}, {"contexts", KindContexts},
	{"se_category", KindString}, {"se_action", KindString}, {"se_label", KindString},
	{"se_property", KindString}, {"se_value", KindFloat}, {"unstruct_event", KindUnstruct},
	{"tr_orderid", KindString}, {"tr_affiliation", KindString}, {"tr_total", KindFloat},
	{"tr_tax", KindFloat}, {"tr_shipping", KindFloat}, {"tr_city", KindString},
	{"tr_state", KindString}, {"tr_country", KindString}, {"ti_orderid", KindString},
	{"ti_sku", KindString}, {"ti_name", KindString}, {"ti_category", KindString},
	{"ti_price", KindFloat}, {"ti_quantity", KindInt}, {"pp_xoffset_min", KindInt},
	{"pp_xoffset_max", KindInt}, {"pp_yoffset_min", KindInt}, {"pp_yoffset_max", KindInt},
	{"useragent", KindString}, {"br_name", KindString}, {"br_family", KindString},
	{"br_version", KindString}, {"br_type", KindString}, {"br_renderengine", KindString},
	{"br_lang", KindString}, {"br_features_pdf", KindBool}, {"br_features_flash", KindBool},
	{"br_features_java", KindBool}, {"br_features_director", KindBool},
	{"br_features_quicktime", KindBool}, {"br_features_realplayer", KindBool},
	{"br_features_windowsmedia", KindBool}, {"br_features_gears", KindBool},
	{"br_features_silverlight", KindBool}, {"br_cookies", KindBool}, {"br_colordepth", KindString},
	{"br_viewwidth", KindInt}, {"br_viewheight", KindInt}, {"os_name", KindString},
	{"os_family", KindString}, {"os_manufacturer", KindString}, {"os_timezone", KindString},
	{"dvce_type", KindString}, {"dvce_ismobile", KindBool}, {"dvce_screenwidth", KindInt},
	{"dvce_screenheight", KindInt}, {"doc_charset", KindString}, {"doc_width", KindInt},
	{"doc_height", KindInt}, {"tr_currency", KindString}, {"tr_total_base", KindFloat},
	{"tr_tax_base", KindFloat}, {"tr_shipping_base", KindFloat}, {"ti_currency", KindString},
	{"ti_price_base", KindFloat}, {"base_currency", KindString}, {"geo_timezone", KindString},
	{"mkt_clickid", KindString}, {"mkt_network", KindString}, {"etl_tags", KindString},
	{"dvce_sent_tstamp", KindTimestamp}, {"refr_domain_userid", KindString},
	{"refr_dvce_tstamp", KindTimestamp}, {"derived_contexts", KindContexts},
	{"domain_sessionid", KindString}, {"derived_tstamp", KindTimestamp},
	{"event_vendor", KindString}, {"event_name", KindString}, {"event_format", KindString},
	{"event_version", KindString}, {"event_fingerprint", KindString},
	{"true_tstamp", KindTimestamp},
}

// Name returns the field's column name as in the TSV header and warehouse.
func (f Field) Name() string {
	if f < 0 || f >= NumFields {
		return "unknown"
	}
	return specs[f].name
}

// Kind returns how the field is typed in the analytics-SDK JSON.
func (f Field) Kind() Kind {
	if f < 0 || f >= NumFields {
		return KindString
	}
	return specs[f].kind
}

// String implements fmt.Stringer with the column name.
func (f Field) String() string { return f.Name() }

var byName = func() map[string]Field {
	m := make(map[string]Field, NumFields)
	for i := range specs {
		m[specs[i].name] = Field(i)
	}
	return m
}()

// FieldByName returns the field with the given column name.
func FieldByName(name string) (Field, bool) {
	f, ok := byName[name]
	return f, ok
}

// FieldNames returns the 131 column names in TSV order.
func FieldNames() []string {
	out := make([]string, NumFields)
	for i := range specs {
		out[i] = specs[i].name
	}
	return out
}

// TimestampLayout is the layout of enriched timestamps: UTC, millisecond precision.
const TimestampLayout = "2006-01-02 15:04:05.000"

// Event is one enriched event: the text of each of the 131 fields in TSV
// form ("" is null). Parsing a line slices it without copying, so an Event
// may share memory with the line it came from.
type Event [NumFields]string

// Get returns the text of field f.
func (e *Event) Get(f Field) string { return e[f] }

// Set sets the text of field f.
func (e *Event) Set(f Field, v string) { e[f] = v }

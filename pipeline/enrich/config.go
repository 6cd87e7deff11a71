package enrich

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/plowline/plowline/pipeline/enrich/campaign"
	"github.com/plowline/plowline/pipeline/enrich/iplookup"
	"go.yaml.in/yaml/v3"
)

// Config is the enricher's configuration (YAML). The zero value is not
// useful: start from DefaultConfig, which works offline.
type Config struct {
	// Registries are where schemas are looked up: each a local directory
	// in the static registry layout (DIR/schemas/vendor/name/format/version,
	// or DIR being that schemas directory) or an http(s):// static registry
	// base URL (Iglu Central is https://iglucentral.com), written either
	// as that string or as a RegistryConfig with a priority and vendor
	// prefixes. For each schema, those whose vendor prefixes match are
	// tried first, then by priority, then in the order written. The
	// embedded registry is always consulted last, except for the protocol
	// wrappers and the enricher's own derived contexts, which it serves first.
	Registries []RegistryConfig `yaml:"registries"`
	// RegistryTimeout bounds one HTTP registry request.
	RegistryTimeout time.Duration `yaml:"registry_timeout"`
	Cache           CacheConfig   `yaml:"cache"`
	// OversizedFields says what happens to an enriched field longer than
	// the atomic schema allows: "fail" (an enrichment_failures bad row, as
	// Snowplow does) or "truncate" (cut to the limit, keep the event).
	OversizedFields string      `yaml:"oversized_fields"`
	Enrichments     Enrichments `yaml:"enrichments"`
	// Version is plowline's version: v_etl is "plowline-<Version>" and bad
	// rows name it as their processor. Set by the binary, not by YAML.
	Version string `yaml:"-"`
}

// RegistryConfig is one Iglu registry, with the settings of a repository
// in Snowplow's resolver configuration. In YAML it is either the bare
// location or a mapping:
//
//	registries:
//	  - https://iglucentral.com
//	  - {uri: https://gitlab-org.gitlab.io/iglu, vendor_prefixes: [com.gitlab]}
type RegistryConfig struct {
	// URI is an http(s):// static registry base URL or a local directory.
	URI string `yaml:"uri"`
	// Name labels the registry in logs (the URI if empty).
	Name string `yaml:"name"`
	// Priority orders registries whose vendor prefixes match equally: lower first.
	Priority int `yaml:"priority"`
	// VendorPrefixes: for a schema whose vendor starts with one of these,
	// this registry is tried before the others (e.g. com.gitlab).
	VendorPrefixes []string `yaml:"vendor_prefixes"`
}

// UnmarshalYAML accepts a bare location or a mapping, refusing unknown keys.
func (r *RegistryConfig) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*r = RegistryConfig{URI: n.Value}
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: a registry is a URL, a directory or a mapping with uri, name, priority, vendor_prefixes", n.Line)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		switch k := n.Content[i].Value; k {
		case "uri", "name", "priority", "vendor_prefixes":
		default:
			return fmt.Errorf("line %d: registry key %q unknown: want uri, name, priority or vendor_prefixes", n.Content[i].Line, k)
		}
	}
	type plain RegistryConfig
	return n.Decode((*plain)(r))
}

// CacheConfig sizes the schema cache.
type CacheConfig struct {
	// Size bounds the compiled schemas (and known misses) kept.
	Size int `yaml:"size"`
	// TTL re-resolves a found schema after this long; 0 keeps it (Iglu
	// schemas are immutable once published).
	TTL time.Duration `yaml:"ttl"`
	// MissTTL remembers "not found" this long before asking the registries again.
	MissTTL time.Duration `yaml:"miss_ttl"`
}

// Enrichments switches each enrichment on or off and holds its settings.
type Enrichments struct {
	EventFingerprint    FingerprintConfig `yaml:"event_fingerprint"`
	AnonIP              AnonIPConfig      `yaml:"anon_ip"`
	UAParser            UAParserConfig    `yaml:"ua_parser"`
	UAAtomicFields      UAAtomicConfig    `yaml:"ua_atomic_fields"`
	IPLookups           IPLookupsConfig   `yaml:"ip_lookups"`
	RefererParser       RefererConfig     `yaml:"referer_parser"`
	CampaignAttribution CampaignConfig    `yaml:"campaign_attribution"`
}

// FingerprintConfig configures event_fingerprint, computed as Snowplow's
// event fingerprint enrichment does: a hash of the event's parameters,
// sorted by name, without the excluded ones (which differ between retries
// of the same event).
type FingerprintConfig struct {
	Enabled           bool     `yaml:"enabled"`
	ExcludeParameters []string `yaml:"exclude_parameters"`
	// HashAlgorithm is MD5 (Snowplow's usual choice), SHA1, SHA256, SHA384 or SHA512.
	HashAlgorithm string `yaml:"hash_algorithm"`
}

// AnonIPConfig configures IP anonymisation: the last IPv4Octets octets
// (1-4) or IPv6Segments segments (1-8) of user_ipaddress become "x".
type AnonIPConfig struct {
	Enabled      bool `yaml:"enabled"`
	IPv4Octets   int  `yaml:"ipv4_octets"`
	IPv6Segments int  `yaml:"ipv6_segments"`
}

// UAParserConfig configures the ua_parser_context derived context.
type UAParserConfig struct {
	Enabled bool `yaml:"enabled"`
	// CacheSize is how many distinct user agents keep their parse.
	CacheSize int `yaml:"cache_size"`
}

// UAAtomicConfig configures the atomic browser, OS and device fields
// (br_name, br_family, br_version, br_type, br_renderengine, os_name,
// os_family, os_manufacturer, dvce_type, dvce_ismobile), filled from the
// user-agent parse in the vocabulary of Snowplow's user_agent_utils
// enrichment.
type UAAtomicConfig struct {
	Enabled bool `yaml:"enabled"`
	// CacheSize is how many distinct user agents keep their fields.
	CacheSize int `yaml:"cache_size"`
}

// IPLookupsConfig configures the geo_* and ip_* fields from MaxMind
// databases (GeoIP2/GeoLite2 City, ISP, Domain, Connection-Type .mmdb
// files; any subset), looked up before anon_ip hides the address.
type IPLookupsConfig struct {
	Enabled         bool `yaml:"enabled"`
	iplookup.Config `yaml:",inline"`
}

// RefererConfig configures referer parsing into refr_medium/source/term.
type RefererConfig struct {
	Enabled bool `yaml:"enabled"`
	// InternalDomains are the site's own domains (and their subdomains):
	// a referrer there is medium "internal".
	InternalDomains []string `yaml:"internal_domains"`
}

// CampaignConfig configures campaign attribution into the mkt_* fields.
type CampaignConfig struct {
	Enabled         bool `yaml:"enabled"`
	campaign.Config `yaml:",inline"`
}

// DefaultConfig enriches offline with the embedded registry only, every
// enrichment on except IP anonymisation and IP lookups (which need a
// MaxMind database).
func DefaultConfig() Config {
	return Config{
		RegistryTimeout: 10 * time.Second,
		Cache:           CacheConfig{Size: 500, MissTTL: 30 * time.Second},
		OversizedFields: "fail",
		Enrichments: Enrichments{
			EventFingerprint:    FingerprintConfig{Enabled: true, ExcludeParameters: []string{"cv", "eid", "nuid", "stm"}, HashAlgorithm: "MD5"},
			AnonIP:              AnonIPConfig{Enabled: false, IPv4Octets: 1, IPv6Segments: 2},
			UAParser:            UAParserConfig{Enabled: true, CacheSize: 10000},
			UAAtomicFields:      UAAtomicConfig{Enabled: true, CacheSize: 10000},
			IPLookups:           IPLookupsConfig{Config: iplookup.Config{CheckInterval: time.Minute}},
			RefererParser:       RefererConfig{Enabled: true},
			CampaignAttribution: CampaignConfig{Enabled: true, Config: campaign.DefaultConfig()},
		},
	}
}

// LoadConfig reads a YAML file over DefaultConfig (keys left out keep their
// defaults; an empty file is all defaults), refusing unknown keys, and
// validates it.
func LoadConfig(path string) (Config, error) {
	cfg := DefaultConfig()
	raw, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("reading enrich config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return cfg, fmt.Errorf("parsing enrich config %s: %w", path, err)
	}
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("enrich config %s: %w", path, err)
	}
	return cfg, nil
}

// Validate checks every setting, naming the key and the offending value.
func (c Config) Validate() error {
	var errs []error
	bad := func(key string, val any, want string) {
		errs = append(errs, fmt.Errorf("%s: %v: %s", key, val, want))
	}
	for i, rc := range c.Registries {
		key := fmt.Sprintf("registries[%d]", i)
		r := rc.URI
		for j, p := range rc.VendorPrefixes {
			if strings.TrimSpace(p) == "" || strings.ContainsAny(p, "/: ") {
				bad(fmt.Sprintf("%s.vendor_prefixes[%d]", key, j), fmt.Sprintf("%q", p), "want a vendor prefix like com.gitlab")
			}
		}
		switch {
		case r == "":
			bad(key, `""`, "want a directory or an http(s):// URL")
		case strings.HasPrefix(r, "http://") || strings.HasPrefix(r, "https://"):
			u, err := url.Parse(r)
			if err != nil || u.Host == "" {
				bad(key, r, "not a valid URL")
			}
		case strings.Contains(r, "://"):
			bad(key, r, "only http:// and https:// registries (or a local directory) are supported")
		default:
			if st, err := os.Stat(r); err != nil || !st.IsDir() {
				bad(key, r, "not a readable directory")
			}
		}
	}
	if c.RegistryTimeout <= 0 {
		bad("registry_timeout", c.RegistryTimeout, "must be positive")
	}
	if c.Cache.Size <= 0 {
		bad("cache.size", c.Cache.Size, "must be positive")
	}
	if c.Cache.TTL < 0 {
		bad("cache.ttl", c.Cache.TTL, "must not be negative")
	}
	if c.Cache.MissTTL < 0 {
		bad("cache.miss_ttl", c.Cache.MissTTL, "must not be negative")
	}
	if c.OversizedFields != "fail" && c.OversizedFields != "truncate" {
		bad("oversized_fields", fmt.Sprintf("%q", c.OversizedFields), `want "fail" or "truncate"`)
	}
	e := c.Enrichments
	if e.AnonIP.Enabled {
		if e.AnonIP.IPv4Octets < 1 || e.AnonIP.IPv4Octets > 4 {
			bad("enrichments.anon_ip.ipv4_octets", e.AnonIP.IPv4Octets, "want 1 to 4")
		}
		if e.AnonIP.IPv6Segments < 1 || e.AnonIP.IPv6Segments > 8 {
			bad("enrichments.anon_ip.ipv6_segments", e.AnonIP.IPv6Segments, "want 1 to 8")
		}
	}
	if e.EventFingerprint.Enabled && fingerprintHashes[e.EventFingerprint.HashAlgorithm] == nil {
		bad("enrichments.event_fingerprint.hash_algorithm", fmt.Sprintf("%q", e.EventFingerprint.HashAlgorithm), "want MD5, SHA1, SHA256, SHA384 or SHA512")
	}
	if e.IPLookups.Enabled {
		ipc := e.IPLookups.Config
		if ipc.Geo == "" && ipc.ISP == "" && ipc.Domain == "" && ipc.ConnectionType == "" {
			bad("enrichments.ip_lookups", "enabled", "name at least one database: geo, isp, domain or connection_type")
		}
		for key, path := range map[string]string{"geo": ipc.Geo, "isp": ipc.ISP, "domain": ipc.Domain, "connection_type": ipc.ConnectionType} {
			if path == "" {
				continue
			}
			if st, err := os.Stat(path); err != nil || st.IsDir() {
				bad("enrichments.ip_lookups."+key, path, "not a readable .mmdb file")
			}
		}
		if ipc.CheckInterval < 0 {
			bad("enrichments.ip_lookups.check_interval", ipc.CheckInterval, "must not be negative")
		}
	}
	if e.UAAtomicFields.Enabled && e.UAAtomicFields.CacheSize <= 0 {
		bad("enrichments.ua_atomic_fields.cache_size", e.UAAtomicFields.CacheSize, "must be positive")
	}
	if e.UAParser.Enabled && e.UAParser.CacheSize <= 0 {
		bad("enrichments.ua_parser.cache_size", e.UAParser.CacheSize, "must be positive")
	}
	for i, d := range e.RefererParser.InternalDomains {
		if strings.TrimSpace(d) == "" || strings.ContainsAny(d, "/: ") {
			bad(fmt.Sprintf("enrichments.referer_parser.internal_domains[%d]", i), fmt.Sprintf("%q", d), "want a bare domain like gitlab.com")
		}
	}
	if e.CampaignAttribution.Enabled {
		for n, net := range e.CampaignAttribution.ClickIDs {
			if n == "" || net == "" {
				bad("enrichments.campaign_attribution.click_ids", fmt.Sprintf("%q: %q", n, net), "parameter and network must be non-empty")
			}
		}
	}
	return errors.Join(errs...)
}

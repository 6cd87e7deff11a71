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
	"go.yaml.in/yaml/v3"
)

// Config is the enricher's configuration (YAML). The zero value is not
// useful: start from DefaultConfig, which works offline.
type Config struct {
	// Registries are tried in order: a local directory in the static
	// registry layout (DIR/schemas/vendor/name/format/version, or DIR
	// being that schemas directory) or an http(s):// static registry base
	// URL (Iglu Central is https://iglucentral.com). The embedded registry
	// is always consulted last, except for the protocol wrappers and the
	// enricher's own derived contexts, which it serves first.
	Registries []string `yaml:"registries"`
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
// enrichment on except IP anonymisation.
func DefaultConfig() Config {
	return Config{
		RegistryTimeout: 10 * time.Second,
		Cache:           CacheConfig{Size: 500, MissTTL: 30 * time.Second},
		OversizedFields: "fail",
		Enrichments: Enrichments{
			EventFingerprint:    FingerprintConfig{Enabled: true, ExcludeParameters: []string{"cv", "eid", "nuid", "stm"}, HashAlgorithm: "MD5"},
			AnonIP:              AnonIPConfig{Enabled: false, IPv4Octets: 1, IPv6Segments: 2},
			UAParser:            UAParserConfig{Enabled: true, CacheSize: 10000},
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
	for i, r := range c.Registries {
		key := fmt.Sprintf("registries[%d]", i)
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

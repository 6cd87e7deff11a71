package collector

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Standard paths of the Snowplow tracker protocol; custom paths map onto them.
const (
	PathTP2      = "/com.snowplowanalytics.snowplow/tp2"
	PathPixel    = "/i"
	PathIcePixel = "/ice.png"
	PathRedirect = "/r/tp2"
)

// Config is the collector's configuration. Durations are Go durations in
// YAML ("5s", "8760h"); every key has a default (DefaultConfig).
type Config struct {
	// ListenAddress is where `plowline collector` serves trackers.
	ListenAddress string `yaml:"listen_address"`
	// MetricsListenAddress is where it serves /metrics (a separate port, so
	// the collector's public listener never exposes metrics).
	MetricsListenAddress string `yaml:"metrics_listen_address"`
	// ShutdownTimeout bounds the drain on SIGTERM: finishing requests in
	// flight and flushing the sinks' buffers.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`

	// CollectorName is the payload's collector field. Empty means
	// "plowline-<version>-<sink type>", as Snowplow writes "ssc-<version>-<sink>".
	CollectorName string `yaml:"collector_name"`
	// Version is the binary's version, used in the default collector name.
	// The binary sets it; it is not read from YAML.
	Version string `yaml:"-"`

	// Paths maps custom request paths onto standard ones, e.g.
	// "/-/collect_events": "/com.snowplowanalytics.snowplow/tp2". The payload
	// records the standard path, so enrich handles it like the original.
	Paths map[string]string `yaml:"paths"`

	Cookie           CookieConfig     `yaml:"cookie"`
	DoNotTrackCookie DoNotTrackConfig `yaml:"do_not_track_cookie"`
	CORS             CORSConfig       `yaml:"cors"`
	Redirect         RedirectConfig   `yaml:"redirect"`
	Limits           LimitsConfig     `yaml:"limits"`

	// UseIPAddressAsPartitionKey keys records by client IP (events of one
	// client stay in order on one shard); false spreads them evenly, as
	// Snowplow's collector does by default.
	UseIPAddressAsPartitionKey bool `yaml:"use_ip_address_as_partition_key"`

	// Sink selects and names the streams. The collector package itself only
	// uses Type (for the collector name); the binary builds the sinks.
	Sink SinkConfig `yaml:"sink"`
}

// CookieConfig controls the network-user-id cookie.
type CookieConfig struct {
	Enabled bool   `yaml:"enabled"`
	Name    string `yaml:"name"`
	// Expiration is the cookie's lifetime from the request.
	Expiration time.Duration `yaml:"expiration"`
	// Domains are matched against the request's Origin host (equal, or a
	// parent domain of it); the first match becomes the cookie's Domain.
	Domains []string `yaml:"domains"`
	// FallbackDomain is used when no domain matches; empty sets no Domain,
	// so the browser scopes the cookie to the collector's host.
	FallbackDomain string `yaml:"fallback_domain"`
	Secure         bool   `yaml:"secure"`
	HTTPOnly       bool   `yaml:"http_only"`
	// SameSite is None, Lax, Strict, or empty for no attribute. Trackers on
	// other sites need None (which browsers accept only with Secure).
	SameSite string `yaml:"same_site"`
}

// DoNotTrackConfig makes requests carrying a given cookie be answered as
// usual but not recorded.
type DoNotTrackConfig struct {
	Enabled bool   `yaml:"enabled"`
	Name    string `yaml:"name"`
	// Value is a regular expression the whole cookie value must match.
	Value string `yaml:"value"`
}

// CORSConfig controls preflight responses.
type CORSConfig struct {
	// AccessControlMaxAge is how long browsers may cache a preflight answer.
	AccessControlMaxAge time.Duration `yaml:"access_control_max_age"`
}

// RedirectConfig controls the /r/tp2 redirect endpoint (tracks the request,
// then redirects to the u parameter).
type RedirectConfig struct {
	Enabled bool `yaml:"enabled"`
	// Domains are the hosts (or parent domains) redirects may go to; an
	// enabled redirect needs at least one, so it can never be an open redirect.
	Domains []string `yaml:"domains"`
}

// LimitsConfig bounds what one client can make the collector hold.
type LimitsConfig struct {
	// MaxBodyBytes: larger bodies are refused with 413 before being read.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// MaxInflightBodyBytes bounds the bytes of POST bodies being read and
	// turned into records at once, across all requests (a body of unknown
	// length counts as MaxBodyBytes). A request that finds no room within
	// SinkTimeout gets 503 with Retry-After, which trackers retry — the
	// collector's memory does not grow with the number of clients.
	MaxInflightBodyBytes int64 `yaml:"max_inflight_body_bytes"`
	// MaxRecordBytes is the largest record the good sink takes (Kinesis:
	// 1 MiB including the partition key; Snowplow uses 1,000,000). Larger
	// tp2 batches are split; a single event still too big is a
	// size_violation bad row.
	MaxRecordBytes int `yaml:"max_record_bytes"`
	// MaxHeaderBytes bounds the request line and headers (431 beyond).
	MaxHeaderBytes int `yaml:"max_header_bytes"`
	// MaxConnections bounds the connections served at once; past it new
	// ones wait in the kernel's backlog until one closes (Snowplow's
	// collector has networking.maxConnections, 1024 by default). Each can
	// hold about MaxHeaderBytes while its headers arrive (~100 KiB
	// measured at the default), so this bounds memory whatever the number
	// of clients; the default, 256 (~25 MiB of such connections), keeps
	// plowline run's stated memory bound. Behind a load balancer that
	// reuses connections, 256 concurrent requests per process is far from
	// a limit.
	MaxConnections int `yaml:"max_connections"`
	// ReadHeaderTimeout bounds how long a client may take to send headers.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	// ReadTimeout bounds reading the whole request, body included.
	ReadTimeout time.Duration `yaml:"read_timeout"`
	// WriteTimeout bounds the time from the end of the headers to the end
	// of the response.
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// IdleTimeout closes keep-alive connections idle this long. Behind an
	// ALB it must exceed the ALB's idle timeout (60 s by default), so the
	// ALB, not the collector, closes idle connections.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// SinkTimeout bounds one write to a sink; beyond it the request gets
	// 503 so the tracker retries.
	SinkTimeout time.Duration `yaml:"sink_timeout"`
}

// SinkConfig names the sinks the binary builds.
type SinkConfig struct {
	// Type is kinesis, file, stdout or memory.
	Type string `yaml:"type"`
	// Good and Bad are stream names (kinesis) or file paths (file).
	Good string `yaml:"good"`
	Bad  string `yaml:"bad"`
	// Kinesis holds the Kinesis client's settings.
	Kinesis KinesisConfig `yaml:"kinesis"`
}

// KinesisConfig configures the Kinesis sink.
type KinesisConfig struct {
	// Region defaults to $AWS_REGION.
	Region string `yaml:"region"`
	// Endpoint overrides the service endpoint (kinesalite, VPC endpoints).
	Endpoint string `yaml:"endpoint"`
	// BufferBytes bounds what is acknowledged but not yet written; when
	// full, requests get 503.
	BufferBytes int64 `yaml:"buffer_bytes"`
	// MaxBatchRecords and MaxBatchBytes bound one PutRecords call (Kinesis
	// allows 500 records and 5 MiB).
	MaxBatchRecords int `yaml:"max_batch_records"`
	MaxBatchBytes   int `yaml:"max_batch_bytes"`
	// FlushInterval is the longest a record waits in the buffer.
	FlushInterval time.Duration `yaml:"flush_interval"`
}

// DefaultConfig returns the configuration used for keys a file leaves out.
func DefaultConfig() Config {
	return Config{
		ListenAddress:        "127.0.0.1:8080",
		MetricsListenAddress: "127.0.0.1:9101",
		ShutdownTimeout:      30 * time.Second,
		Paths:                map[string]string{"/-/collect_events": PathTP2},
		Cookie: CookieConfig{
			Enabled:    true,
			Name:       "sp",
			Expiration: 365 * 24 * time.Hour,
			Domains:    []string{},
			Secure:     true,
			HTTPOnly:   true,
			SameSite:   "None",
		},
		CORS:     CORSConfig{AccessControlMaxAge: time.Hour},
		Redirect: RedirectConfig{Domains: []string{}},
		Limits: LimitsConfig{
			MaxBodyBytes:         1 << 20,
			MaxInflightBodyBytes: 16 << 20,
			MaxRecordBytes:       1_000_000,
			MaxHeaderBytes:       64 << 10,
			MaxConnections:       256,
			ReadHeaderTimeout:    5 * time.Second,
			ReadTimeout:          10 * time.Second,
			WriteTimeout:         15 * time.Second,
			IdleTimeout:          75 * time.Second,
			SinkTimeout:          time.Second,
		},
		Sink: SinkConfig{
			Type: "stdout",
			Good: "raw-good",
			Bad:  "raw-bad",
			Kinesis: KinesisConfig{
				BufferBytes:     64 << 20,
				MaxBatchRecords: 500,
				MaxBatchBytes:   5 << 20,
				FlushInterval:   200 * time.Millisecond,
			},
		},
	}
}

// LoadConfig reads a YAML file over DefaultConfig. Unknown keys are errors,
// so a misspelt key is not silently ignored.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("reading collector config: %w", err)
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// ParseConfig reads YAML over DefaultConfig (no validation; call Validate).
func ParseConfig(data []byte) (Config, error) {
	return ParseConfigOver(DefaultConfig(), data)
}

// ParseConfigOver reads YAML over base: keys the document leaves out keep
// base's values.
func ParseConfigOver(base Config, data []byte) (Config, error) {
	cfg := base
	cfg.Paths = maps.Clone(base.Paths)
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	// An empty document (io.EOF) means "all defaults".
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return Config{}, fmt.Errorf("parsing collector config: %s", nameKeys(data, err))
	}
	// An empty target removes a custom path (e.g. the default one).
	for from, to := range cfg.Paths {
		if to == "" {
			delete(cfg.Paths, from)
		}
	}
	return cfg, nil
}

// nameKeys adds the dotted key to yaml's "line N:" errors, which name only
// the line: "line 3 (limits.read_timeout): cannot unmarshal ...".
func nameKeys(data []byte, err error) string {
	var root yaml.Node
	if yaml.Unmarshal(data, &root) != nil {
		return err.Error()
	}
	keys := map[int]string{}
	var walk func(n *yaml.Node, prefix string)
	walk = func(n *yaml.Node, prefix string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, prefix)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := prefix + n.Content[i].Value
				if _, seen := keys[n.Content[i].Line]; !seen {
					keys[n.Content[i].Line] = k
				}
				walk(n.Content[i+1], k+".")
			}
		}
	}
	walk(&root, "")
	return lineRe.ReplaceAllStringFunc(err.Error(), func(m string) string {
		var line int
		fmt.Sscanf(m, "line %d:", &line)
		if k, ok := keys[line]; ok {
			return fmt.Sprintf("line %d (%s):", line, k)
		}
		return m
	})
}

var lineRe = regexp.MustCompile(`line \d+:`)

var sinkTypes = []string{"kinesis", "file", "stdout", "memory"}

// Validate checks every key; the error names the key and the offending value.
func (c Config) Validate() error {
	var errs []error
	bad := func(key string, v any, why string) {
		errs = append(errs, fmt.Errorf("%s: %v: %s", key, v, why))
	}
	for from, to := range c.Paths {
		if !strings.HasPrefix(from, "/") {
			bad("paths", from, "a custom path must start with /")
		}
		switch from {
		case "/health", "/sink-health", "/robots.txt", PathTP2, PathPixel, PathIcePixel, PathRedirect:
			bad("paths", from, "cannot remap a built-in path")
		}
		if !isStandardTarget(to) {
			bad("paths."+from, to, "target must be "+PathTP2+", "+PathPixel+", "+PathIcePixel+", "+PathRedirect+" or another /{vendor}/{version} path")
		}
	}
	if c.Cookie.Enabled {
		if c.Cookie.Name == "" || !validCookieName(c.Cookie.Name) {
			bad("cookie.name", fmt.Sprintf("%q", c.Cookie.Name), "must be a non-empty HTTP token (letters, digits, !#$%&'*+-.^_`|~)")
		}
		if c.Cookie.Expiration <= 0 {
			bad("cookie.expiration", c.Cookie.Expiration, "must be positive")
		}
		switch c.Cookie.SameSite {
		case "", "None", "Lax", "Strict":
		default:
			bad("cookie.same_site", fmt.Sprintf("%q", c.Cookie.SameSite), "must be None, Lax, Strict or empty")
		}
		for _, d := range c.Cookie.Domains {
			if !validDomain(d) {
				bad("cookie.domains", fmt.Sprintf("%q", d), "not a domain name")
			}
		}
		if c.Cookie.FallbackDomain != "" && !validDomain(c.Cookie.FallbackDomain) {
			bad("cookie.fallback_domain", fmt.Sprintf("%q", c.Cookie.FallbackDomain), "not a domain name")
		}
	}
	if c.DoNotTrackCookie.Enabled {
		if c.DoNotTrackCookie.Name == "" || !validCookieName(c.DoNotTrackCookie.Name) {
			bad("do_not_track_cookie.name", fmt.Sprintf("%q", c.DoNotTrackCookie.Name), "must be a non-empty HTTP token")
		}
		if _, err := regexp.Compile(c.DoNotTrackCookie.Value); err != nil {
			bad("do_not_track_cookie.value", fmt.Sprintf("%q", c.DoNotTrackCookie.Value), "not a regular expression: "+err.Error())
		}
	}
	if c.CORS.AccessControlMaxAge < 0 {
		bad("cors.access_control_max_age", c.CORS.AccessControlMaxAge, "must not be negative")
	}
	if c.Redirect.Enabled && len(c.Redirect.Domains) == 0 {
		bad("redirect.domains", "[]", "an enabled redirect needs at least one allowed domain (no open redirects)")
	}
	for _, d := range c.Redirect.Domains {
		if !validDomain(d) {
			bad("redirect.domains", fmt.Sprintf("%q", d), "not a domain name")
		}
	}
	l := c.Limits
	if l.MaxBodyBytes <= 0 {
		bad("limits.max_body_bytes", l.MaxBodyBytes, "must be positive")
	}
	if l.MaxInflightBodyBytes < l.MaxBodyBytes {
		bad("limits.max_inflight_body_bytes", l.MaxInflightBodyBytes, fmt.Sprintf("must be at least limits.max_body_bytes (%d)", l.MaxBodyBytes))
	}
	if l.MaxRecordBytes < minRecordBytes {
		bad("limits.max_record_bytes", l.MaxRecordBytes, fmt.Sprintf("must be at least %d", minRecordBytes))
	}
	// Kinesis takes records up to 1 MiB including the partition key (at
	// most 256 bytes here); a larger limit would make the sink refuse
	// records the collector accepted, and trackers retry them forever.
	if c.Sink.Type == "kinesis" && l.MaxRecordBytes > 1<<20-256 {
		bad("limits.max_record_bytes", l.MaxRecordBytes, fmt.Sprintf("must be at most %d with the kinesis sink (1 MiB less the partition key)", 1<<20-256))
	}
	if l.MaxHeaderBytes < 1024 {
		bad("limits.max_header_bytes", l.MaxHeaderBytes, "must be at least 1024")
	}
	if l.MaxConnections < 1 {
		bad("limits.max_connections", l.MaxConnections, "must be at least 1")
	}
	for key, addr := range map[string]string{"listen_address": c.ListenAddress, "metrics_listen_address": c.MetricsListenAddress} {
		if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
			bad(key, fmt.Sprintf("%q", addr), "must be host:port, e.g. 127.0.0.1:8080 or :8080")
		}
	}
	if c.ShutdownTimeout <= 0 {
		bad("shutdown_timeout", c.ShutdownTimeout, "must be positive")
	}
	for key, d := range map[string]time.Duration{
		"limits.read_header_timeout": l.ReadHeaderTimeout, "limits.read_timeout": l.ReadTimeout,
		"limits.write_timeout": l.WriteTimeout, "limits.idle_timeout": l.IdleTimeout, "limits.sink_timeout": l.SinkTimeout,
	} {
		if d <= 0 {
			bad(key, d, "must be positive")
		}
	}
	if !contains(sinkTypes, c.Sink.Type) {
		bad("sink.type", fmt.Sprintf("%q", c.Sink.Type), "must be one of "+strings.Join(sinkTypes, ", "))
	}
	if (c.Sink.Type == "kinesis" || c.Sink.Type == "file") && (c.Sink.Good == "" || c.Sink.Bad == "") {
		bad("sink.good/sink.bad", fmt.Sprintf("%q/%q", c.Sink.Good, c.Sink.Bad), "both are required for sink type "+c.Sink.Type)
	}
	if c.Sink.Type == "file" && c.Sink.Good == c.Sink.Bad && c.Sink.Good != "" && c.Sink.Good != os.DevNull {
		bad("sink.bad", c.Sink.Bad, "must differ from sink.good")
	}
	k := c.Sink.Kinesis
	if c.Sink.Type == "kinesis" {
		if k.BufferBytes <= 0 {
			bad("sink.kinesis.buffer_bytes", k.BufferBytes, "must be positive")
		}
		if k.MaxBatchRecords < 1 || k.MaxBatchRecords > 500 {
			bad("sink.kinesis.max_batch_records", k.MaxBatchRecords, "must be 1..500 (the PutRecords limit)")
		}
		if k.MaxBatchBytes < 1 || k.MaxBatchBytes > 5<<20 {
			bad("sink.kinesis.max_batch_bytes", k.MaxBatchBytes, "must be 1..5242880 (the PutRecords limit)")
		}
		if k.FlushInterval <= 0 {
			bad("sink.kinesis.flush_interval", k.FlushInterval, "must be positive")
		}
		if k.Endpoint != "" && !strings.HasPrefix(k.Endpoint, "http://") && !strings.HasPrefix(k.Endpoint, "https://") {
			bad("sink.kinesis.endpoint", k.Endpoint, "must be an http:// or https:// URL")
		}
	}
	return errors.Join(errs...)
}

// minRecordBytes leaves room for a payload's fixed fields and a bad row.
const minRecordBytes = 4096

func isStandardTarget(p string) bool {
	switch p {
	case PathTP2, PathPixel, PathIcePixel, PathRedirect:
		return true
	}
	_, _, ok := twoSegments(p)
	return ok
}

// twoSegments splits "/vendor/version" into its non-empty segments.
func twoSegments(p string) (vendor, version string, ok bool) {
	if len(p) < 4 || p[0] != '/' {
		return "", "", false
	}
	vendor, version, ok = strings.Cut(p[1:], "/")
	if !ok || vendor == "" || version == "" || strings.IndexByte(version, '/') >= 0 {
		return "", "", false
	}
	return vendor, version, true
}

func validCookieName(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isTokenChar(s[i]) {
			return false
		}
	}
	return true
}

func isTokenChar(b byte) bool {
	switch {
	case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", b) >= 0
}

func validDomain(d string) bool {
	d = strings.TrimPrefix(d, ".")
	if d == "" || len(d) > 253 {
		return false
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			b := label[i]
			if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-') {
				return false
			}
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

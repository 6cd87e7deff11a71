package collector

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestConfigReferenceIsTheDefaultAndNamesEveryKey(t *testing.T) {
	cfg, err := ParseConfig([]byte(ConfigReference))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg, DefaultConfig()) {
		t.Fatalf("reference parses to\n%+v\nnot the default\n%+v", cfg, DefaultConfig())
	}
	var walk func(reflect.Type)
	walk = func(typ reflect.Type) {
		for i := range typ.NumField() {
			f := typ.Field(i)
			key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if key == "-" {
				continue
			}
			if !strings.Contains(ConfigReference, "\n"+key+":") && !strings.Contains(ConfigReference, " "+key+":") {
				t.Errorf("config key %s is not documented in ConfigReference", key)
			}
			if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Duration(0)) {
				walk(f.Type)
			}
		}
	}
	walk(reflect.TypeOf(Config{}))
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("default config invalid: %v", err)
	}
}

func TestParseConfig(t *testing.T) {
	cfg, err := ParseConfig([]byte(`
cookie:
  name: nuid
  expiration: 720h
  domains: [example.com]
paths:
  /acme/t: /com.snowplowanalytics.snowplow/tp2
limits:
  sink_timeout: 250ms
`))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Cookie.Name != "nuid" || cfg.Cookie.Expiration != 720*time.Hour || !cfg.Cookie.Secure ||
		cfg.Limits.SinkTimeout != 250*time.Millisecond || cfg.Limits.MaxBodyBytes != DefaultConfig().Limits.MaxBodyBytes {
		t.Fatalf("%+v", cfg)
	}
	if cfg.Paths["/acme/t"] != PathTP2 || cfg.Paths["/-/collect_events"] != PathTP2 {
		t.Fatalf("paths %v", cfg.Paths)
	}
	cfg, err = ParseConfig([]byte("paths:\n  /-/collect_events: \"\"\n"))
	if err != nil || len(cfg.Paths) != 0 {
		t.Fatalf("removing the default path: %v %v", cfg.Paths, err)
	}
	if DefaultConfig().Paths["/-/collect_events"] == "" {
		t.Fatal("parsing modified the default's map")
	}
	if _, err := ParseConfig(nil); err != nil {
		t.Fatalf("empty file: %v", err)
	}
	for doc, want := range map[string]string{
		"cookie:\n  nmae: x\n":         "nmae",
		"limits:\n  read_timeout: 5\n": "read_timeout",
		"limits: [1]\n":                "limits",
	} {
		if _, err := ParseConfig([]byte(doc)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want one naming %s", doc, err, want)
		}
	}
}

func TestValidateNamesKeyAndValue(t *testing.T) {
	for _, tc := range []struct {
		mutate func(*Config)
		want   []string
	}{
		{func(c *Config) { c.Cookie.Name = "a b" }, []string{"cookie.name", `"a b"`}},
		{func(c *Config) { c.Cookie.SameSite = "none" }, []string{"cookie.same_site", `"none"`}},
		{func(c *Config) { c.Cookie.Expiration = -time.Second }, []string{"cookie.expiration", "-1s"}},
		{func(c *Config) { c.Cookie.Domains = []string{"exa mple.com"} }, []string{"cookie.domains", `"exa mple.com"`}},
		{func(c *Config) { c.Paths["/x"] = "/i/j/k" }, []string{"paths./x", "/i/j/k"}},
		{func(c *Config) { c.Paths["/health"] = PathTP2 }, []string{"paths", "/health"}},
		{func(c *Config) { c.Paths["x"] = PathTP2 }, []string{"paths", "x"}},
		{func(c *Config) { c.DoNotTrackCookie = DoNotTrackConfig{Enabled: true, Name: "dnt", Value: "("} }, []string{"do_not_track_cookie.value", `"("`}},
		{func(c *Config) { c.Redirect.Enabled = true }, []string{"redirect.domains"}},
		{func(c *Config) { c.Limits.MaxBodyBytes = 0 }, []string{"limits.max_body_bytes", "0"}},
		{func(c *Config) { c.Limits.MaxRecordBytes = 100 }, []string{"limits.max_record_bytes", "100"}},
		{func(c *Config) { c.Sink.Type, c.Limits.MaxRecordBytes = "kinesis", 2<<20 }, []string{"limits.max_record_bytes", "2097152"}},
		{func(c *Config) { c.Limits.ReadHeaderTimeout = 0 }, []string{"limits.read_header_timeout", "0s"}},
		{func(c *Config) { c.Sink.Type = "kafka" }, []string{"sink.type", `"kafka"`}},
		{func(c *Config) { c.Sink.Type, c.Sink.Good = "kinesis", "" }, []string{"sink.good", `""`}},
		{func(c *Config) { c.Sink.Type, c.Sink.Kinesis.MaxBatchRecords = "kinesis", 501 }, []string{"sink.kinesis.max_batch_records", "501"}},
		{func(c *Config) { c.Sink.Type, c.Sink.Kinesis.Endpoint = "kinesis", "localhost:4567" }, []string{"sink.kinesis.endpoint", "localhost:4567"}},
		{func(c *Config) { c.ListenAddress = "8080" }, []string{"listen_address", `"8080"`}},
	} {
		cfg := DefaultConfig()
		cfg.Paths = map[string]string{}
		tc.mutate(&cfg)
		err := cfg.Validate()
		if err == nil {
			t.Errorf("%v: accepted", tc.want)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not name %s", err, w)
			}
		}
	}
}

func TestProcessorVersionIsAlwaysSemver(t *testing.T) {
	for in, want := range map[string]string{
		"0.1.0": "0.1.0", "0.1.0-dev": "0.1.0-dev", "cd051c4-dirty": "0.0.0-cd051c4-dirty",
		"v1.2.3": "0.0.0-v1.2.3", strings.Repeat("9", 40): "0.0.0-" + strings.Repeat("9", 26),
	} {
		if got := semver(in); got != want {
			t.Errorf("semver(%q) = %q, want %q", in, got, want)
		}
	}
}

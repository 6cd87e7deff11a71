package local

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"go.yaml.in/yaml/v3"
)

// FileConfig is `plowline run --config FILE`: the same settings as its
// flags, as YAML. Keys left out keep the flag's value; a flag given on the
// command line wins over the file. Relative paths are relative to the
// file's directory.
type FileConfig struct {
	DataDir                string        `yaml:"data_dir"`
	CollectorListenAddress string        `yaml:"collector_listen_address"`
	WebListenAddress       string        `yaml:"web_listen_address"`
	CollectorConfig        string        `yaml:"collector_config"`
	EnrichConfig           string        `yaml:"enrich_config"`
	Allowlist              string        `yaml:"allowlist"`
	StreamCapacity         int           `yaml:"stream_capacity"`
	StreamCapacityBytes    string        `yaml:"stream_capacity_bytes"`
	ShutdownTimeout        time.Duration `yaml:"shutdown_timeout"`
	MemoryLimit            string        `yaml:"memory_limit"`
	Lake                   struct {
		BufferSize     string        `yaml:"buffer_size"`
		BufferInterval time.Duration `yaml:"buffer_interval"`
	} `yaml:"lake"`
	Demo struct {
		Enabled         *bool    `yaml:"enabled"`
		Rate            float64  `yaml:"rate"`
		InvalidFraction *float64 `yaml:"invalid_fraction"`
	} `yaml:"demo"`
	Faults    []string `yaml:"faults"`
	FaultSeed *uint64  `yaml:"fault_seed"`
}

// FileConfigReference documents every key, for --help.
const FileConfigReference = `data_dir: plowline-data
collector_listen_address: 127.0.0.1:8080
web_listen_address: 127.0.0.1:9090
collector_config: ""        # plowline collector's YAML
enrich_config: ""           # plowline enrich's YAML
allowlist: ""               # pseudonymization allowlist YAML
stream_capacity: 2000
stream_capacity_bytes: 8MiB # per stream; what bounds memory
shutdown_timeout: 1m
memory_limit: 96MiB         # the Go runtime's soft limit (GOMEMLIMIT); 0: none
lake:
  buffer_size: 5MiB
  buffer_interval: 10s
demo:
  enabled: false
  rate: 20
  invalid_fraction: 0.05
faults: []                  # e.g. ["drop 0.1 enriched-good>pseudonymizer"]
fault_seed: 1
`

// LoadFileConfig reads path strictly: an unknown key is an error naming it.
func LoadFileConfig(path string) (FileConfig, error) {
	var fc FileConfig
	raw, err := os.ReadFile(path)
	if err != nil {
		return fc, fmt.Errorf("reading run config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&fc); err != nil && !errors.Is(err, io.EOF) {
		return fc, fmt.Errorf("parsing run config %s: %w", path, err)
	}
	base := filepath.Dir(path)
	for _, p := range []*string{&fc.DataDir, &fc.CollectorConfig, &fc.EnrichConfig, &fc.Allowlist} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(base, *p)
		}
	}
	return fc, nil
}

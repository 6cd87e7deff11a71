package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Source kinds the exporter knows.
const (
	KindPrometheus = "prometheus" // PromQL over a Prometheus server (the trackers' counters)
	KindMetrics    = "metrics"    // a pipeline process's own /metrics, scraped
	KindCloudWatch = "cloudwatch" // CloudWatch GetMetricData
	KindS3         = "s3"         // objects and records under S3 prefixes
	KindWarehouse  = "warehouse"  // COUNT(*) in the warehouse tables
)

// Kinds lists every source kind, for validation messages.
var Kinds = []string{KindPrometheus, KindMetrics, KindCloudWatch, KindS3, KindWarehouse}

// Relations an edge can assert between its nodes.
const (
	// RelationEq: the downstream node counts exactly what the upstream did.
	RelationEq = "eq"
	// RelationGe: the downstream node counts at least what the upstream did
	// (at-least-once delivery: duplicates are fine, a shortfall is not).
	RelationGe = "ge"
	// RelationSplit: what entered upstream left as good plus bad (in = good + bad).
	RelationSplit = "split"
	// RelationMerge: two upstream nodes feed one downstream (from + from_also = to),
	// e.g. two prefixes loaded into one table.
	RelationMerge = "merge"
)

// Config is the exporter's whole configuration.
type Config struct {
	// Window is the length of the aligned reconciliation windows.
	Window time.Duration `yaml:"window"`
	// Lookback is how far back windows are judged and kept.
	Lookback time.Duration `yaml:"lookback"`
	// Topology names the pipeline's AWS resources (used by the CloudWatch
	// source and the dashboards).
	Topology Topology `yaml:"topology"`
	Sources  []Source `yaml:"sources"`
	Nodes    []Node   `yaml:"nodes"`
	Edges    []Edge   `yaml:"edges"`
	Canary   *Canary  `yaml:"canary,omitempty"`
}

// Source is one place counts are read from. Its kind-specific settings sit
// under a key named after the kind (e.g. `s3:`) and are kept as a YAML node
// so this package needs no knowledge of any kind's settings.
type Source struct {
	Name string `yaml:"name"`
	Kind string `yaml:"kind"`
	// Interval is how often the source is refreshed in the background.
	Interval time.Duration `yaml:"interval"`
	// Timeout bounds one refresh; default min(interval, 30s).
	Timeout time.Duration `yaml:"timeout,omitempty"`
	// Settings is the block under the key named after Kind.
	Settings yaml.Node `yaml:"-"`
}

// sourceFields are the keys every source has; any other key must be its kind.
var sourceFields = map[string]bool{"name": true, "kind": true, "interval": true, "timeout": true}

// UnmarshalYAML decodes the common fields and keeps the kind's block.
func (s *Source) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: a source must be a mapping", n.Line)
	}
	type plain struct {
		Name     string        `yaml:"name"`
		Kind     string        `yaml:"kind"`
		Interval time.Duration `yaml:"interval"`
		Timeout  time.Duration `yaml:"timeout"`
	}
	common := yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	var settings *yaml.Node
	var kind string
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "kind" {
			kind = n.Content[i+1].Value
		}
	}
	if kind != "" && !contains(Kinds, kind) {
		return fmt.Errorf("line %d: source kind %q unknown (want one of %s)", n.Line, kind, strings.Join(Kinds, ", "))
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch {
		case sourceFields[k.Value]:
			common.Content = append(common.Content, k, v)
		case k.Value == kind:
			settings = v
		default:
			return fmt.Errorf("line %d: source key %q unknown (want name, kind, interval, timeout, or a block named after the kind %q)", k.Line, k.Value, kind)
		}
	}
	var p plain
	if err := common.Decode(&p); err != nil {
		return err
	}
	*s = Source{Name: p.Name, Kind: p.Kind, Interval: p.Interval, Timeout: p.Timeout}
	if settings != nil {
		s.Settings = *settings
	}
	return nil
}

// MarshalYAML writes the common keys first, then the kind's block under
// its key.
func (s Source) MarshalYAML() (any, error) {
	n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	add := func(k string, v *yaml.Node) {
		n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: k}, v)
	}
	str := func(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v} }
	add("name", str(s.Name))
	add("kind", str(s.Kind))
	add("interval", str(s.Interval.String()))
	if s.Timeout > 0 {
		add("timeout", str(s.Timeout.String()))
	}
	if s.Settings.Kind != 0 {
		settings := s.Settings
		add(s.Kind, &settings)
	}
	return n, nil
}

// DecodeSettings decodes the kind-specific block into v, refusing unknown keys.
func (s Source) DecodeSettings(v any) error {
	if s.Settings.Kind == 0 {
		return nil
	}
	return strictDecode(&s.Settings, v, fmt.Sprintf("sources[%s].%s", s.Name, s.Kind))
}

// Node is one counting point of the flow graph.
type Node struct {
	Name string `yaml:"name"`
	// Source is the name of the source that counts this node.
	Source string `yaml:"source"`
	// Help describes the node for the HTML page and reconcile output.
	Help string `yaml:"help,omitempty"`
	// Select says what to count; its shape depends on the source's kind
	// (a metric selector, a CloudWatch query, an S3 prefix, a table).
	Select yaml.Node `yaml:"select"`
}

// DecodeSelect decodes the node's select block into v, refusing unknown keys.
func (n Node) DecodeSelect(v any) error {
	if n.Select.Kind == 0 {
		return fmt.Errorf("nodes[%s].select: missing", n.Name)
	}
	return strictDecode(&n.Select, v, fmt.Sprintf("nodes[%s].select", n.Name))
}

// Tolerance is how far an edge's two sides may disagree and still be in
// tolerance: the larger of Ratio × expected and Events.
type Tolerance struct {
	Ratio  float64 `yaml:"ratio"`
	Events float64 `yaml:"events"`
}

// Edge is a pair of nodes whose counts should agree.
type Edge struct {
	Name string `yaml:"name"`
	From string `yaml:"from"`
	To   string `yaml:"to"`
	// ToBad is the second downstream node of a split edge.
	ToBad string `yaml:"to_bad,omitempty"`
	// FromAlso is the second upstream node of a merge edge.
	FromAlso  string    `yaml:"from_also,omitempty"`
	Relation  string    `yaml:"relation"`
	Tolerance Tolerance `yaml:"tolerance"`
	// LatencyBudget is how long after a window ends the downstream side may
	// still be catching up (Firehose buffering, load delay, CloudWatch
	// convergence); the window is judged only after it.
	LatencyBudget time.Duration `yaml:"latency_budget"`
	Help          string        `yaml:"help,omitempty"`
}

// Nodes returns the edge's nodes: from, to, and to_bad or from_also when set.
func (e Edge) Nodes() []string {
	out := []string{e.From, e.To}
	if e.ToBad != "" {
		out = append(out, e.ToBad)
	}
	if e.FromAlso != "" {
		out = append(out, e.FromAlso)
	}
	return out
}

// FromLabel names the upstream side ("a", or "a+b" for a merge).
func (e Edge) FromLabel() string {
	if e.Relation == RelationMerge {
		return e.From + "+" + e.FromAlso
	}
	return e.From
}

// ToLabel names the downstream side ("b", or "good+bad" for a split).
func (e Edge) ToLabel() string {
	if e.Relation == RelationSplit {
		return e.To + "+" + e.ToBad
	}
	return e.To
}

// Canary configures the synthetic heartbeat event.
type Canary struct {
	// CollectorURL is the collector's base URL; the event is POSTed to
	// <CollectorURL>/com.snowplowanalytics.snowplow/tp2.
	CollectorURL string        `yaml:"collector_url"`
	Interval     time.Duration `yaml:"interval"`
	// Deadline is how long a stage has to show the event before it counts as lost.
	Deadline time.Duration `yaml:"deadline"`
	// Stages are where the event is looked for, in pipeline order.
	Stages []CanaryStage `yaml:"stages"`
}

// CanaryStage names a stage and the source (s3 or warehouse) that finds the event there.
type CanaryStage struct {
	Name string `yaml:"name"`
	// Source is an s3 or warehouse source.
	Source string `yaml:"source"`
	// Node is the node whose prefix or table is searched.
	Node string `yaml:"node"`
}

// Load reads and validates a configuration file.
func Load(path string) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return Config{}, fmt.Errorf("reading exporter config: %w", err)
	}
	defer f.Close()
	c, err := Parse(f)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Parse decodes YAML, fills defaults and validates.
func Parse(r io.Reader) (Config, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return Config{}, err
	}
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return Config{}, fmt.Errorf("parsing: %w", err)
	}
	c.fillDefaults()
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Marshal renders the configuration as YAML (e.g. to print the default).
func (c Config) Marshal() ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func (c *Config) fillDefaults() {
	if c.Window == 0 {
		c.Window = time.Hour
	}
	if c.Lookback == 0 {
		c.Lookback = 24 * time.Hour
	}
	for i := range c.Sources {
		s := &c.Sources[i]
		if s.Interval == 0 {
			s.Interval = time.Minute
		}
		if s.Timeout == 0 {
			s.Timeout = min(s.Interval, 30*time.Second)
		}
	}
	if c.Canary != nil {
		if c.Canary.Interval == 0 {
			c.Canary.Interval = time.Minute
		}
		if c.Canary.Deadline == 0 {
			c.Canary.Deadline = 30 * time.Minute
		}
	}
}

var nameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_.:-]*$`)

// Validate refuses configurations the exporter cannot run, naming the key
// and the offending value.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Window <= 0 {
		bad("window: %s must be positive", c.Window)
	} else if c.Window < time.Second || (c.Window <= time.Hour && time.Hour%c.Window != 0) || (c.Window > time.Hour && c.Window%time.Hour != 0) || (c.Window > time.Hour && (24*time.Hour)%c.Window != 0) {
		bad("window: %s must divide an hour (1m, 5m, 15m, 1h, ...) or be whole hours dividing a day", c.Window)
	}
	if c.Lookback < c.Window {
		bad("lookback: %s must be at least one window (%s)", c.Lookback, c.Window)
	} else if c.Window > 0 && c.Lookback/c.Window > 10000 {
		bad("lookback: %s holds %d windows of %s; at most 10000", c.Lookback, c.Lookback/c.Window, c.Window)
	}
	sources := map[string]Source{}
	for i, s := range c.Sources {
		key := fmt.Sprintf("sources[%d]", i)
		if !nameRE.MatchString(s.Name) {
			bad("%s.name: %q is not a valid name (letters, digits, _ . : -)", key, s.Name)
		}
		if _, dup := sources[s.Name]; dup {
			bad("%s.name: %q defined twice", key, s.Name)
		}
		sources[s.Name] = s
		if !contains(Kinds, s.Kind) {
			bad("%s.kind: %q unknown (want one of %s)", key, s.Kind, strings.Join(Kinds, ", "))
		}
		if s.Interval < time.Second {
			bad("%s.interval: %s must be at least 1s", key, s.Interval)
		}
		if s.Timeout <= 0 {
			bad("%s.timeout: %s must be positive", key, s.Timeout)
		}
	}
	nodes := map[string]Node{}
	for i, n := range c.Nodes {
		key := fmt.Sprintf("nodes[%d]", i)
		if !nameRE.MatchString(n.Name) {
			bad("%s.name: %q is not a valid name", key, n.Name)
		}
		if _, dup := nodes[n.Name]; dup {
			bad("%s.name: %q defined twice", key, n.Name)
		}
		nodes[n.Name] = n
		if _, ok := sources[n.Source]; !ok {
			bad("%s.source: %q is not a configured source", key, n.Source)
		}
	}
	edges := map[string]bool{}
	for i, e := range c.Edges {
		key := fmt.Sprintf("edges[%d]", i)
		if !nameRE.MatchString(e.Name) {
			bad("%s.name: %q is not a valid name", key, e.Name)
		}
		if edges[e.Name] {
			bad("%s.name: %q defined twice", key, e.Name)
		}
		edges[e.Name] = true
		for _, ref := range []struct{ k, v string }{{"from", e.From}, {"to", e.To}} {
			if _, ok := nodes[ref.v]; !ok {
				bad("%s.%s: %q is not a configured node", key, ref.k, ref.v)
			}
		}
		switch e.Relation {
		case RelationEq, RelationGe, RelationSplit, RelationMerge:
		default:
			bad("%s.relation: %q unknown (want eq, ge, split or merge)", key, e.Relation)
		}
		if e.Relation == RelationSplit {
			if _, ok := nodes[e.ToBad]; !ok {
				bad("%s.to_bad: %q is not a configured node (relation split needs to and to_bad)", key, e.ToBad)
			}
		} else if e.ToBad != "" {
			bad("%s.to_bad: %q only applies to relation split, not %q", key, e.ToBad, e.Relation)
		}
		if e.Relation == RelationMerge {
			if _, ok := nodes[e.FromAlso]; !ok {
				bad("%s.from_also: %q is not a configured node (relation merge needs from and from_also)", key, e.FromAlso)
			}
		} else if e.FromAlso != "" {
			bad("%s.from_also: %q only applies to relation merge, not %q", key, e.FromAlso, e.Relation)
		}
		seen := map[string]bool{}
		for _, n := range e.Nodes() {
			if n != "" && seen[n] {
				bad("%s: node %q appears twice in the edge", key, n)
			}
			seen[n] = true
		}
		if e.Tolerance.Ratio < 0 || e.Tolerance.Ratio > 1 {
			bad("%s.tolerance.ratio: %v must be between 0 and 1", key, e.Tolerance.Ratio)
		}
		if e.Tolerance.Events < 0 {
			bad("%s.tolerance.events: %v must not be negative", key, e.Tolerance.Events)
		}
		if e.LatencyBudget < 0 {
			bad("%s.latency_budget: %s must not be negative", key, e.LatencyBudget)
		}
		if e.LatencyBudget >= c.Lookback && c.Lookback > 0 {
			bad("%s.latency_budget: %s is not shorter than lookback %s, so no window would ever be judged", key, e.LatencyBudget, c.Lookback)
		}
	}
	if k := c.Canary; k != nil {
		if !strings.HasPrefix(k.CollectorURL, "http://") && !strings.HasPrefix(k.CollectorURL, "https://") {
			bad("canary.collector_url: %q must be an http(s) URL", k.CollectorURL)
		}
		if k.Interval < time.Second {
			bad("canary.interval: %s must be at least 1s", k.Interval)
		}
		if k.Deadline < k.Interval/2 {
			bad("canary.deadline: %s is too short for interval %s", k.Deadline, k.Interval)
		}
		for i, st := range k.Stages {
			key := fmt.Sprintf("canary.stages[%d]", i)
			if !nameRE.MatchString(st.Name) {
				bad("%s.name: %q is not a valid name", key, st.Name)
			}
			s, ok := sources[st.Source]
			if !ok {
				bad("%s.source: %q is not a configured source", key, st.Source)
			} else if s.Kind != KindS3 && s.Kind != KindWarehouse {
				bad("%s.source: %q is of kind %s; the canary searches s3 or warehouse sources", key, st.Source, s.Kind)
			}
			if n, ok := nodes[st.Node]; !ok || n.Source != st.Source {
				bad("%s.node: %q is not a node of source %q", key, st.Node, st.Source)
			}
		}
	}
	return errors.Join(errs...)
}

// NodesOf returns the nodes counted by the named source, in config order.
func (c Config) NodesOf(source string) []Node {
	var out []Node
	for _, n := range c.Nodes {
		if n.Source == source {
			out = append(out, n)
		}
	}
	return out
}

// Node returns the node named name.
func (c Config) Node(name string) (Node, bool) {
	for _, n := range c.Nodes {
		if n.Name == name {
			return n, true
		}
	}
	return Node{}, false
}

// SourceOf returns the source that counts the named node.
func (c Config) SourceOf(node string) (Source, bool) {
	n, ok := c.Node(node)
	if !ok {
		return Source{}, false
	}
	for _, s := range c.Sources {
		if s.Name == n.Source {
			return s, true
		}
	}
	return Source{}, false
}

// SourceNames returns the configured source names, sorted.
func (c Config) SourceNames() []string {
	out := make([]string, 0, len(c.Sources))
	for _, s := range c.Sources {
		out = append(out, s.Name)
	}
	sort.Strings(out)
	return out
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// strictDecode decodes a YAML node into v and refuses unknown keys, which
// yaml.Node.Decode alone does not.
func strictDecode(n *yaml.Node, v any, key string) error {
	data, err := yaml.Marshal(n)
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	return nil
}

// EncodeNode turns a Go value into a YAML node, for building Select and
// Settings blocks in code (the defaults).
func EncodeNode(v any) yaml.Node {
	var n yaml.Node
	if err := n.Encode(v); err != nil {
		panic(fmt.Sprintf("config: encoding %T: %v", v, err))
	}
	return n
}

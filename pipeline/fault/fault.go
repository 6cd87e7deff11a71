// Package fault injects faults into the local pipeline for game days: it
// drops or duplicates a fraction of the records passing between two named
// stages, deterministically for a given seed, and counts what it did.
//
// It exists only for `plowline run`. Nothing under pipeline/lambda imports
// it (a test checks the import graph), and Parse refuses to build rules in
// an AWS Lambda environment, so a production function cannot lose data on
// purpose even if someone passes it a fault specification.
package fault

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/plowline/plowline/metricname"
	"github.com/plowline/plowline/pipeline/stream"
)

// Action is what a rule does to the records it picks.
type Action string

// The actions.
const (
	Drop      Action = "drop"
	Duplicate Action = "duplicate"
)

// Point is a named place between two stages of the local pipeline, written
// "<from>><to>". Names ending in "/" are object-store prefixes.
type Point struct {
	Name string
	Desc string
}

// Points lists every place a fault can be injected, in pipeline order.
var Points = []Point{
	{"collector>raw-good", "payloads the collector writes to the raw-good stream"},
	{"collector>raw-bad", "bad rows the collector writes to the raw-bad stream"},
	{"raw-good>enricher", "payloads the enricher reads from raw-good"},
	{"enricher>enriched-good", "events the enricher writes to enriched-good"},
	{"enricher>enriched-bad", "bad rows the enricher writes to enriched-bad"},
	{"enriched-good>pseudonymizer", "events the output delivery stream reads"},
	{"enriched-bad>pseudonymizer", "bad rows the enriched-bad delivery stream reads"},
	{"raw-bad>pseudonymizer", "bad rows the raw-bad delivery stream reads"},
	{"pseudonymizer>output/", "pseudonymized events into the output/ batch writer"},
	{"pseudonymizer>enriched-bad/", "pseudonymized bad rows into the enriched-bad/ batch writer"},
	{"pseudonymizer>raw-bad/", "pseudonymized bad rows into the raw-bad/ batch writer"},
	{"output/>warehouse", "lines of output/ objects the loader inserts into gitlab_events"},
	{"enriched-bad/>warehouse", "lines of enriched-bad/ objects the loader inserts into gitlab_bad_events"},
	{"raw-bad/>warehouse", "lines of raw-bad/ objects the loader inserts into gitlab_bad_events"},
}

// PointNames returns the names of Points.
func PointNames() []string {
	out := make([]string, len(Points))
	for i, p := range Points {
		out[i] = p.Name
	}
	return out
}

// Syntax documents the rule syntax for --help.
const Syntax = `ACTION FRACTION FROM>TO [after DURATION], e.g. "drop 0.1 enriched-good>pseudonymizer" or "duplicate 5% collector>raw-good after 2m"; ACTION is drop or duplicate (dup), FRACTION is in (0, 1] or a percentage, "after" delays the fault from the start of the run (a game day's incident start); several rules are separated by ";" or given as repeated flags`

// Rule is one parsed fault.
type Rule struct {
	Action   Action
	Fraction float64
	Point    string
	// After delays the rule: records passing before the injector is this
	// old are left alone.
	After time.Duration
}

// String prints the rule in the syntax ParseRules reads.
func (r Rule) String() string {
	if r.After > 0 {
		return fmt.Sprintf("%s %g %s after %s", r.Action, r.Fraction, r.Point, r.After)
	}
	return fmt.Sprintf("%s %g %s", r.Action, r.Fraction, r.Point)
}

// lambdaEnv are variables the Lambda runtime always sets.
var lambdaEnv = []string{"AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_RUNTIME_API"}

// ParseRules parses fault specifications (each may hold several rules
// separated by ";"), refusing unknown actions, fractions outside (0, 1],
// unknown points and a point named twice, each error naming the value.
func ParseRules(specs []string) ([]Rule, error) {
	for _, v := range lambdaEnv {
		if os.Getenv(v) != "" {
			return nil, fmt.Errorf("fault injection is not available in AWS Lambda (%s is set); it exists only for plowline run", v)
		}
	}
	var rules []Rule
	seen := map[string]bool{}
	for _, spec := range specs {
		for part := range strings.SplitSeq(spec, ";") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			r, err := parseRule(part)
			if err != nil {
				return nil, err
			}
			if seen[r.Point] {
				return nil, fmt.Errorf("fault %q: point %s already has a rule", part, r.Point)
			}
			seen[r.Point] = true
			rules = append(rules, r)
		}
	}
	return rules, nil
}

func parseRule(s string) (Rule, error) {
	f := strings.Fields(s)
	var r Rule
	if len(f) == 5 && strings.EqualFold(f[3], "after") {
		d, err := time.ParseDuration(f[4])
		if err != nil || d < 0 {
			return Rule{}, fmt.Errorf("fault %q: delay %q is not a duration such as 30s or 2m", s, f[4])
		}
		r.After = d
		f = f[:3]
	}
	if len(f) != 3 {
		return Rule{}, fmt.Errorf("fault %q: want %s", s, Syntax)
	}
	switch strings.ToLower(f[0]) {
	case "drop":
		r.Action = Drop
	case "duplicate", "dup":
		r.Action = Duplicate
	default:
		return Rule{}, fmt.Errorf("fault %q: action %q is not drop or duplicate", s, f[0])
	}
	frac := f[1]
	scale := 1.0
	if p, ok := strings.CutSuffix(frac, "%"); ok {
		frac, scale = p, 100
	}
	v, err := strconv.ParseFloat(frac, 64)
	if err != nil || v/scale <= 0 || v/scale > 1 || v != v {
		return Rule{}, fmt.Errorf("fault %q: fraction %q is not a number in (0, 1] or a percentage in (0%%, 100%%]", s, f[1])
	}
	r.Fraction = v / scale
	r.Point = f[2]
	if !slices.Contains(PointNames(), r.Point) {
		return Rule{}, fmt.Errorf("fault %q: unknown point %q (known: %s)", s, r.Point, strings.Join(PointNames(), ", "))
	}
	return r, nil
}

// Injector applies rules at their points. A nil *Injector injects nothing,
// so the pipeline can call it unconditionally.
type Injector struct {
	log    *slog.Logger
	points map[string]*point
	order  []string
}

type point struct {
	rule    Rule
	start   time.Time // the rule acts on records passing from then on
	mu      sync.Mutex
	rng     *rand.Rand
	seen    uint64
	changed uint64
	metric  prometheus.Counter
}

// New returns an injector for rules, or nil when there are none. seed makes
// the choice of records reproducible: the same records in the same order
// meet the same fate. reg may be nil.
func New(rules []Rule, seed uint64, reg prometheus.Registerer, log *slog.Logger) (*Injector, error) {
	if len(rules) == 0 {
		return nil, nil
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{Name: metricname.FaultRecords.Name, Help: metricname.FaultRecords.Help}, metricname.FaultRecords.Labels)
	if reg != nil {
		if err := reg.Register(vec); err != nil {
			return nil, fmt.Errorf("registering fault metrics: %w", err)
		}
	}
	in := &Injector{log: log, points: map[string]*point{}}
	for _, r := range rules {
		h := fnv.New64a()
		h.Write([]byte(r.Point))
		in.points[r.Point] = &point{
			rule:   r,
			start:  time.Now().Add(r.After),
			rng:    rand.New(rand.NewPCG(seed, h.Sum64())),
			metric: vec.WithLabelValues(r.Point, string(r.Action)),
		}
		in.order = append(in.order, r.Point)
		log.Warn("fault injection enabled", "action", r.Action, "fraction", r.Fraction, "point", r.Point, "seed", seed,
			"starts", in.points[r.Point].start.UTC().Format(time.RFC3339Nano))
	}
	return in, nil
}

// Active reports whether point has a rule.
func (in *Injector) Active(point string) bool {
	if in == nil {
		return false
	}
	_, ok := in.points[point]
	return ok
}

// decide picks each item's fate, calling keep with how many copies pass (0, 1 or 2).
func (p *point) decide(n int, keep func(i, copies int)) {
	if time.Now().Before(p.start) {
		for i := 0; i < n; i++ {
			keep(i, 1)
		}
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := 0; i < n; i++ {
		p.seen++
		if p.rng.Float64() < p.rule.Fraction {
			p.changed++
			p.metric.Inc()
			if p.rule.Action == Drop {
				keep(i, 0)
			} else {
				keep(i, 2)
			}
			continue
		}
		keep(i, 1)
	}
}

// Records applies point's rule to records, returning what passes on. The
// input slice is not modified.
func (in *Injector) Records(pointName string, recs []stream.Record) []stream.Record {
	if in == nil {
		return recs
	}
	p, ok := in.points[pointName]
	if !ok {
		return recs
	}
	out := make([]stream.Record, 0, len(recs)+1)
	p.decide(len(recs), func(i, copies int) {
		for c := 0; c < copies; c++ {
			out = append(out, recs[i])
		}
	})
	return out
}

// Lines applies point's rule to lines (the loader's hook).
func (in *Injector) Lines(pointName string, lines [][]byte) [][]byte {
	if in == nil {
		return lines
	}
	p, ok := in.points[pointName]
	if !ok {
		return lines
	}
	out := make([][]byte, 0, len(lines)+1)
	p.decide(len(lines), func(i, copies int) {
		for c := 0; c < copies; c++ {
			out = append(out, lines[i])
		}
	})
	return out
}

// Sink wraps next so the point's rule applies to every Put. Without a rule
// for point, next itself is returned.
func (in *Injector) Sink(pointName string, next stream.Sink) stream.Sink {
	if !in.Active(pointName) {
		return next
	}
	return &sink{in: in, point: pointName, next: next}
}

type sink struct {
	in    *Injector
	point string
	next  stream.Sink
}

// Put applies the point's rule, then writes what is left.
func (s *sink) Put(ctx context.Context, recs []stream.Record) error {
	recs = s.in.Records(s.point, recs)
	if len(recs) == 0 {
		return nil
	}
	return s.next.Put(ctx, recs)
}

// Close closes the wrapped sink.
func (s *sink) Close(ctx context.Context) error { return s.next.Close(ctx) }

// Healthy passes the wrapped sink's health through, if it has one.
func (s *sink) Healthy() error {
	if h, ok := s.next.(stream.Health); ok {
		return h.Healthy()
	}
	return nil
}

// Buffered passes the wrapped sink's buffer through, if it has one.
func (s *sink) Buffered() (used, limit int64) {
	if h, ok := s.next.(stream.Health); ok {
		return h.Buffered()
	}
	return 0, 0
}

// Count is what one rule did.
type Count struct {
	Rule Rule
	// Start is when the rule began to act (the run's start plus After).
	Start   time.Time
	Seen    uint64
	Changed uint64
}

// Counts returns what each rule did so far, in the order given.
func (in *Injector) Counts() []Count {
	if in == nil {
		return nil
	}
	out := make([]Count, 0, len(in.order))
	for _, name := range in.order {
		p := in.points[name]
		p.mu.Lock()
		out = append(out, Count{Rule: p.rule, Start: p.start, Seen: p.seen, Changed: p.changed})
		p.mu.Unlock()
	}
	return out
}

// LogSummary logs one line per rule with what it did; call it at exit.
func (in *Injector) LogSummary() {
	for _, c := range in.Counts() {
		in.log.Warn("fault injection summary", "point", c.Rule.Point, "action", c.Rule.Action,
			"fraction", c.Rule.Fraction, "records_seen", c.Seen, "records_"+verb(c.Rule.Action), c.Changed)
	}
}

func verb(a Action) string {
	if a == Drop {
		return "dropped"
	}
	return "duplicated"
}

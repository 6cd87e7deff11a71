package micro

import (
	"bytes"
	"fmt"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/plowline/plowline/metricname"
	"github.com/plowline/plowline/pipeline/enrich"
	"github.com/plowline/plowline/pipeline/event"
)

// DefaultMaxEvents is how many good and how many bad events a Store keeps
// unless told otherwise.
const DefaultMaxEvents = 10000

// goodEntry is one enriched event as the enricher wrote it (clear TSV).
type goodEntry struct {
	line string
	p    *payloadRef
	idx  int // its index among p's good lines
}

// badEntry is one bad row as the enricher or the collector wrote it.
type badEntry struct {
	row string
	typ string      // bad-row type: schema_violations, size_violation, ...
	p   *payloadRef // nil for the collector's own bad rows
	idx int         // its index among p's bad rows
}

// ring keeps the newest max entries; adding to a full ring drops the oldest.
type ring[T any] struct {
	buf   []T
	start int // index of the oldest entry
	n     int
}

func (r *ring[T]) add(v T, max int) (dropped bool) {
	if len(r.buf) < max {
		// Grow as events arrive rather than allocating max up front.
		r.buf = append(r.buf, v)
		r.n++
		return false
	}
	if r.n < len(r.buf) {
		r.buf[(r.start+r.n)%len(r.buf)] = v
		r.n++
		return false
	}
	r.buf[r.start] = v
	r.start = (r.start + 1) % len(r.buf)
	return true
}

// newestFirst returns the entries, newest first, as Micro lists them.
func (r *ring[T]) newestFirst() []T {
	out := make([]T, r.n)
	for i := 0; i < r.n; i++ {
		out[i] = r.buf[(r.start+r.n-1-i)%len(r.buf)]
	}
	return out
}

func (r *ring[T]) reset() { *r = ring[T]{} }

// Store keeps the newest good events and bad rows the pipeline produced,
// at most MaxEvents of each; adding to a full store drops the oldest and
// counts it (plowline_micro_events_dropped_total). It is safe for
// concurrent use: every enricher worker adds to it.
type Store struct {
	max int

	mu   sync.Mutex
	good ring[goodEntry]
	bad  ring[badEntry]

	dropped *prometheus.CounterVec
}

// NewStore returns a store keeping at most maxEvents good events and
// maxEvents bad rows (DefaultMaxEvents if maxEvents < 1).
func NewStore(maxEvents int) *Store {
	if maxEvents < 1 {
		maxEvents = DefaultMaxEvents
	}
	s := &Store{max: maxEvents}
	s.dropped = prometheus.NewCounterVec(prometheus.CounterOpts{Name: metricname.MicroEventsDropped.Name,
		Help: metricname.MicroEventsDropped.Help}, metricname.MicroEventsDropped.Labels)
	s.dropped.WithLabelValues("good")
	s.dropped.WithLabelValues("bad")
	return s
}

// Register adds the store's metrics (events held, events dropped) to reg.
func (s *Store) Register(reg prometheus.Registerer) error {
	held := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: metricname.MicroEvents.Name, Help: metricname.MicroEvents.Help},
		metricname.MicroEvents.Labels)
	for _, c := range []prometheus.Collector{s.dropped, heldCollector{s, held}} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("registering the Micro store's metrics: %w", err)
		}
	}
	return nil
}

// heldCollector reports how many events the store holds at scrape time.
type heldCollector struct {
	s    *Store
	desc *prometheus.GaugeVec
}

func (h heldCollector) Describe(ch chan<- *prometheus.Desc) { h.desc.Describe(ch) }
func (h heldCollector) Collect(ch chan<- prometheus.Metric) {
	sum := h.s.Summary()
	h.desc.WithLabelValues("good").Set(float64(sum.Good))
	h.desc.WithLabelValues("bad").Set(float64(sum.Bad))
	h.desc.Collect(ch)
}

// MaxEvents is the most good (and bad) events the store keeps.
func (s *Store) MaxEvents() int { return s.max }

// AddEnriched records what the enricher made of one record (a Thrift
// collector payload): its enriched TSV lines and its bad rows. It copies
// what it keeps and defers the parsing of the raw events to the first
// query, so the enricher's loop pays for a copy and a lock only.
func (s *Store) AddEnriched(record []byte, out enrich.Output) {
	if len(out.Good) == 0 && len(out.Bad) == 0 {
		return
	}
	p := &payloadRef{record: bytes.Clone(record)}
	goods := make([]goodEntry, len(out.Good))
	for i, line := range out.Good {
		id, _ := event.FieldOfBytes(line, event.EventID)
		p.goodIDs = append(p.goodIDs, string(id))
		goods[i] = goodEntry{line: string(line), p: p, idx: i}
	}
	bads := make([]badEntry, len(out.Bad))
	for i, row := range out.Bad {
		typ := ""
		if i < len(out.BadTypes) {
			typ = out.BadTypes[i]
		}
		p.badRows = append(p.badRows, string(row))
		bads[i] = badEntry{row: p.badRows[i], typ: typ, p: p, idx: i}
	}
	s.add(goods, bads)
}

// AddCollectorBad records bad rows the collector wrote itself (size
// violations): they never reach the enricher, yet a tester should see them.
func (s *Store) AddCollectorBad(rows [][]byte) {
	bads := make([]badEntry, len(rows))
	for i, row := range rows {
		bads[i] = badEntry{row: string(row), typ: badRowType(row)}
	}
	s.add(nil, bads)
}

// add keeps one payload's events, in the order they were sent: when the
// store is full, the earliest sent go first.
func (s *Store) add(goods []goodEntry, bads []badEntry) {
	var dg, db int
	s.mu.Lock()
	for _, g := range goods {
		if s.good.add(g, s.max) {
			dg++
		}
	}
	for _, b := range bads {
		if s.bad.add(b, s.max) {
			db++
		}
	}
	s.mu.Unlock()
	if dg > 0 {
		s.dropped.WithLabelValues("good").Add(float64(dg))
	}
	if db > 0 {
		s.dropped.WithLabelValues("bad").Add(float64(db))
	}
}

// Summary is Micro's ValidationSummary, the answer of /micro/all and
// /micro/reset.
type Summary struct {
	Total int `json:"total"`
	Good  int `json:"good"`
	Bad   int `json:"bad"`
}

// Summary counts the events the store holds.
func (s *Store) Summary() Summary {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Summary{Total: s.good.n + s.bad.n, Good: s.good.n, Bad: s.bad.n}
}

// Reset forgets every event (the drop counters keep counting).
func (s *Store) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.good.reset()
	s.bad.reset()
}

// snapshot lists the events as Micro does: payloads newest first, each
// payload's events in the order they were sent (Micro prepends each
// payload's list of events to what it holds).
func (s *Store) snapshot() (goods []goodEntry, bads []badEntry) {
	s.mu.Lock()
	goods, bads = s.good.newestFirst(), s.bad.newestFirst()
	s.mu.Unlock()
	sentOrder(goods, func(g goodEntry) *payloadRef { return g.p })
	sentOrder(bads, func(b badEntry) *payloadRef { return b.p })
	return goods, bads
}

// sentOrder reverses, in a newest-first list, each run of events of the
// same payload back into the order they were sent.
func sentOrder[T any](list []T, payloadOf func(T) *payloadRef) {
	for i := 0; i < len(list); {
		j := i + 1
		if p := payloadOf(list[i]); p != nil {
			for j < len(list) && payloadOf(list[j]) == p {
				j++
			}
		}
		slices.Reverse(list[i:j])
		i = j
	}
}

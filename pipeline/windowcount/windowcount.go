// Package windowcount counts the records passing each node of the local
// pipeline by the window of their event time — collector_tstamp for an
// enriched event, the failure timestamp for a bad row, the collector's
// clock for what the collector accepts — and serves the counts in the
// Prometheus text format for the exporter.
//
// Why not plain counters: a counter bumped when a stage handles a record is
// an arrival-time count. Under continuous traffic two stages a few seconds
// apart (the batch writer flushes up to its buffer interval later) put the
// records near a window boundary into different windows, so two healthy
// nodes never agree exactly, while the object store and the warehouse
// count by event time. Counting every node by event time makes a healthy
// edge exact in every window once the window has settled.
package windowcount

import (
	"encoding/json"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/plowline/plowline/metricname"
	"github.com/plowline/plowline/pipeline/event"
)

// DefaultRetention is how long a window's counts are served at least.
const DefaultRetention = 10 * time.Minute

type key struct {
	node  string
	start int64
}

// Counts holds per-node, per-window record counts. A nil *Counts counts
// nothing, so stages can call it unconditionally. Safe for concurrent use.
type Counts struct {
	window    time.Duration
	retention time.Duration
	// Now is the clock pruning uses; tests replace it.
	Now func() time.Time

	mu    sync.Mutex
	c     map[key]float64
	late  map[string]float64
	nodes map[string]bool

	desc, lengthDesc, retDesc, lateDesc *prometheus.Desc
}

// New returns counts in windows of window (at least a second), kept for
// retention after a window starts (at least DefaultRetention and 20
// windows, so a scraper polling every few seconds sees every window's
// final value).
func New(window, retention time.Duration) *Counts {
	window = max(window.Truncate(time.Second), time.Second)
	retention = max(retention, DefaultRetention, 20*window)
	return &Counts{
		window: window, retention: retention, Now: time.Now,
		c: map[key]float64{}, late: map[string]float64{}, nodes: map[string]bool{},
		desc:       prometheus.NewDesc(metricname.WindowRecords.Name, metricname.WindowRecords.Help, metricname.WindowRecords.Labels, nil),
		lengthDesc: prometheus.NewDesc(metricname.WindowLength.Name, metricname.WindowLength.Help, nil, nil),
		retDesc:    prometheus.NewDesc(metricname.WindowRetention.Name, metricname.WindowRetention.Help, nil, nil),
		lateDesc:   prometheus.NewDesc(metricname.WindowLateRecords.Name, metricname.WindowLateRecords.Help, metricname.WindowLateRecords.Labels, nil),
	}
}

// Window returns the window length.
func (c *Counts) Window() time.Duration {
	if c == nil {
		return 0
	}
	return c.window
}

// Declare makes node appear (with zero late records) before it counts
// anything, so a scraper can tell "nothing passed" from "not counted".
func (c *Counts) Declare(nodes ...string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range nodes {
		c.nodes[n] = true
	}
}

// Add counts n records at node in the window of t.
func (c *Counts) Add(node string, t time.Time, n int) {
	if c == nil || n == 0 {
		return
	}
	start := t.Unix() - mod(t.Unix(), int64(c.window/time.Second))
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nodes[node] = true
	if c.Now().Unix()-start > int64(c.retention/time.Second) {
		c.late[node] += float64(n)
		return
	}
	c.c[key{node, start}] += float64(n)
}

func mod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

// AddRecords counts each record at node by its own event time (see Of);
// a record without one is counted at now, the best guess of a stage that
// just received it.
func (c *Counts) AddRecords(node string, recs [][]byte) {
	if c == nil || len(recs) == 0 {
		return
	}
	var t Tally
	now := c.Now()
	for _, r := range recs {
		t.Record(r, now)
	}
	t.AddTo(c, node)
}

// Tally gathers records' event times (to the second) before they are
// counted: the batch writer tallies a buffer as records arrive and counts
// it once the object holding them is stored. The zero Tally is empty.
type Tally struct {
	secs      map[int64]int
	lastStamp string
	lastSec   int64
}

// Record adds one record, by its event time, or by now if it has none.
func (t *Tally) Record(rec []byte, now time.Time) {
	if t.secs == nil {
		t.secs = map[int64]int{}
	}
	sec := now.Unix()
	if s, ok := stampOf(rec); ok {
		// Consecutive events mostly share a second: parse it once.
		if t.lastStamp == "" || string(s) != t.lastStamp {
			if tt, err := time.Parse(time.DateTime, string(s)); err == nil {
				t.lastStamp, t.lastSec = string(s), tt.Unix()
				sec = t.lastSec
			}
		} else {
			sec = t.lastSec
		}
	} else if tt, ok := Of(rec); ok {
		sec = tt.Unix()
	}
	t.secs[sec]++
}

// Len is the number of records tallied.
func (t *Tally) Len() int {
	n := 0
	for _, v := range t.secs {
		n += v
	}
	return n
}

// AddTo counts the tallied records at node of c.
func (t *Tally) AddTo(c *Counts, node string) {
	for sec, n := range t.secs {
		c.Add(node, time.Unix(sec, 0), n)
	}
}

// stampOf returns collector_tstamp of an enriched TSV line to the second
// ("2006-01-02 15:04:05"), without allocating; false for a bad row or a
// line too short.
func stampOf(line []byte) ([]byte, bool) {
	if len(line) == 0 || line[0] == '{' {
		return nil, false
	}
	tabs := 0
	for i, b := range line {
		if b != '\t' {
			continue
		}
		tabs++
		if tabs == int(event.CollectorTstamp) {
			if len(line) < i+1+19 {
				return nil, false
			}
			return line[i+1 : i+1+19], true
		}
	}
	return nil, false
}

// Of returns a record's event time: the failure timestamp
// (data.failure.timestamp) of a self-describing bad row, or the
// collector_tstamp of an enriched TSV line (to the second) — the times the
// object-store and warehouse nodes bucket the same records by.
func Of(rec []byte) (time.Time, bool) {
	if len(rec) > 0 && rec[0] == '{' {
		return badRowTime(rec)
	}
	s, ok := stampOf(rec)
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.DateTime, string(s))
	return t, err == nil
}

func badRowTime(doc []byte) (time.Time, bool) {
	var br struct {
		Data struct {
			Failure struct {
				Timestamp string `json:"timestamp"`
			} `json:"failure"`
		} `json:"data"`
	}
	if err := json.Unmarshal(doc, &br); err != nil || br.Data.Failure.Timestamp == "" {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, br.Data.Failure.Timestamp)
	return t, err == nil
}

// Describe implements prometheus.Collector.
func (c *Counts) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.desc
	ch <- c.lengthDesc
	ch <- c.retDesc
	ch <- c.lateDesc
}

// Collect implements prometheus.Collector; it drops windows past the
// retention first.
func (c *Counts) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	oldest := c.Now().Unix() - int64(c.retention/time.Second)
	type sample struct {
		k key
		v float64
	}
	samples := make([]sample, 0, len(c.c))
	for k, v := range c.c {
		if k.start < oldest {
			delete(c.c, k)
			continue
		}
		samples = append(samples, sample{k, v})
	}
	late := make(map[string]float64, len(c.nodes))
	for n := range c.nodes {
		late[n] = c.late[n]
	}
	c.mu.Unlock()
	sort.Slice(samples, func(i, j int) bool {
		if samples[i].k.node != samples[j].k.node {
			return samples[i].k.node < samples[j].k.node
		}
		return samples[i].k.start < samples[j].k.start
	})
	for _, s := range samples {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, s.v, s.k.node, strconv.FormatInt(s.k.start, 10))
	}
	ch <- prometheus.MustNewConstMetric(c.lengthDesc, prometheus.GaugeValue, c.window.Seconds())
	ch <- prometheus.MustNewConstMetric(c.retDesc, prometheus.GaugeValue, c.retention.Seconds())
	for n, v := range late {
		ch <- prometheus.MustNewConstMetric(c.lateDesc, prometheus.CounterValue, v, n)
	}
}

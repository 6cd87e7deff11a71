// Package s3count is the exporter's "s3" source: it lists the objects a
// Firehose delivery stream wrote under hour prefixes (<prefix>YYYY/MM/DD/HH/)
// and counts objects and bytes, and optionally the exact records in them.
//
// Exact counting reads each object once: gzip-aware, it buckets every
// enriched TSV line by its collector_tstamp (field 4) and every bad row by
// its failure timestamp, and remembers each object's counts (by key, ETag
// and size) in a state file, so a second pass over unchanged objects reads
// no bytes, also across restarts.
package s3count

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/plowline/plowline/exporter/config"
	"github.com/plowline/plowline/exporter/flow"
	"github.com/plowline/plowline/exporter/source"
	"github.com/plowline/plowline/exporter/statelock"
	"github.com/plowline/plowline/metricname"
)

// Settings is the `s3:` block of a source.
type Settings struct {
	Bucket string `yaml:"bucket"`
	Region string `yaml:"region"`
	// Endpoint overrides the S3 endpoint (a local S3-compatible server).
	Endpoint       string `yaml:"endpoint"`
	ForcePathStyle bool   `yaml:"force_path_style"`
	// Anonymous sends unsigned requests (local servers that check no signature).
	Anonymous bool `yaml:"anonymous"`
	// StateFile remembers objects read and their counts across restarts.
	StateFile string `yaml:"state_file"`
	// Layout is how objects are partitioned under a prefix: "hourly"
	// (Firehose's default <prefix>YYYY/MM/DD/HH/, by arrival) or
	// "collector_partitions" (dynamic partitioning on the pseudonymizer's
	// keys: <prefix>collector_date=YYYY-MM-DD/collector_hour=HH/).
	Layout string `yaml:"layout"`
	// CloseAfter is how long after an hour ends its prefix can still get
	// objects (Firehose's buffer interval, at most 900s); after that the
	// prefix is listed one last time and never again. Default 20m.
	CloseAfter time.Duration `yaml:"close_after"`
	// ReadConcurrency is how many objects are read at once (default: cores).
	ReadConcurrency int `yaml:"read_concurrency"`
	// ReadBudget bounds the time one refresh spends reading objects; the
	// rest is read by later refreshes (windows they may touch stay unknown
	// meanwhile). Default 80% of the source's timeout.
	ReadBudget time.Duration `yaml:"read_budget"`
}

// Select is a node's `select:` block.
type Select struct {
	// Prefix is the delivery stream's prefix, ending in "/" (output/).
	Prefix string `yaml:"prefix"`
	// Count is what to count: records (exact, reads objects), objects or bytes.
	Count string `yaml:"count"`
	// Format is the records' format: tsv (enriched events) or bad_rows (JSON lines).
	Format string `yaml:"format"`
}

// Object layouts under a prefix.
const (
	LayoutHourly              = "hourly"
	LayoutCollectorPartitions = "collector_partitions"
)

// hourPrefix is the part of the key naming hour h in the layout.
func hourPrefix(layout string, h time.Time) string {
	if layout == LayoutCollectorPartitions {
		return h.Format("collector_date=2006-01-02/collector_hour=15/")
	}
	return h.Format("2006/01/02/15/")
}

// Counting modes.
const (
	CountRecords = "records"
	CountObjects = "objects"
	CountBytes   = "bytes"
	FormatTSV    = "tsv"
	FormatBad    = "bad_rows"
)

// API is the part of the S3 client the source uses.
type API interface {
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

type node struct {
	name string
	sel  Select
}

// Source counts objects and records under S3 prefixes.
type Source struct {
	name     string
	interval time.Duration
	set      Settings
	api      API
	nodes    []node
	readOnly bool
	lock     *statelock.Lock
	usage    source.Usage
	log      *slog.Logger
	// Now is the clock; tests replace it.
	Now func() time.Time

	mu sync.Mutex
	st *state
}

// NewAPI builds an S3 client from the settings: the default AWS credential
// chain, or unsigned requests when anonymous is set. hc, if not nil, is
// the HTTP client (tests).
func NewAPI(ctx context.Context, set Settings, hc *http.Client) (API, error) {
	opts := []func(*awsconfig.LoadOptions) error{}
	if set.Region != "" {
		opts = append(opts, awsconfig.WithRegion(set.Region))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("loading AWS configuration: %w", err)
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		if set.Endpoint != "" {
			o.BaseEndpoint = aws.String(set.Endpoint)
		}
		o.UsePathStyle = set.ForcePathStyle
		// Firehose objects carry no checksum; the SDK would log that on
		// every GetObject.
		o.DisableLogOutputChecksumValidationSkipped = true
		if set.Anonymous {
			o.Credentials = aws.AnonymousCredentials{}
		}
		if hc != nil {
			o.HTTPClient = hc
		}
	}), nil
}

// New builds the source. api may be nil to build a client from the
// settings. readOnly sources never write the state file.
func New(src config.Source, nodes []config.Node, readOnly bool, api API, log *slog.Logger) (*Source, error) {
	var set Settings
	if err := src.DecodeSettings(&set); err != nil {
		return nil, err
	}
	key := "sources[" + src.Name + "].s3"
	if set.Bucket == "" {
		return nil, fmt.Errorf("%s.bucket: missing", key)
	}
	if set.CloseAfter == 0 {
		set.CloseAfter = 20 * time.Minute
	}
	switch set.Layout {
	case "", LayoutHourly:
		set.Layout = LayoutHourly
	case LayoutCollectorPartitions:
	default:
		return nil, fmt.Errorf("%s.layout: %q unknown (want %s or %s)", key, set.Layout, LayoutHourly, LayoutCollectorPartitions)
	}
	if set.CloseAfter < 0 {
		return nil, fmt.Errorf("%s.close_after: %s must not be negative", key, set.CloseAfter)
	}
	if set.ReadConcurrency <= 0 {
		set.ReadConcurrency = runtime.GOMAXPROCS(0)
	}
	if set.ReadBudget <= 0 {
		set.ReadBudget = src.Timeout * 8 / 10
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Source{name: src.Name, interval: src.Interval, set: set, api: api, readOnly: readOnly, Now: time.Now, log: log}
	formats := map[string]string{}
	for _, n := range nodes {
		var sel Select
		if err := n.DecodeSelect(&sel); err != nil {
			return nil, err
		}
		nk := "nodes[" + n.Name + "].select"
		if sel.Prefix != "" && !strings.HasSuffix(sel.Prefix, "/") {
			return nil, fmt.Errorf("%s.prefix: %q must end in /", nk, sel.Prefix)
		}
		if sel.Count == "" {
			sel.Count = CountRecords
		}
		if sel.Count != CountRecords && sel.Count != CountObjects && sel.Count != CountBytes {
			return nil, fmt.Errorf("%s.count: %q unknown (want records, objects or bytes)", nk, sel.Count)
		}
		if sel.Format == "" {
			sel.Format = FormatTSV
		}
		if sel.Format != FormatTSV && sel.Format != FormatBad {
			return nil, fmt.Errorf("%s.format: %q unknown (want tsv or bad_rows)", nk, sel.Format)
		}
		if f, ok := formats[sel.Prefix]; ok && f != sel.Format && sel.Count == CountRecords {
			return nil, fmt.Errorf("%s.format: %q conflicts with %q for prefix %q of another node", nk, sel.Format, f, sel.Prefix)
		}
		if sel.Count == CountRecords {
			formats[sel.Prefix] = sel.Format
		}
		s.nodes = append(s.nodes, node{name: n.Name, sel: sel})
	}
	if set.StateFile != "" && !readOnly {
		lock, err := statelock.Acquire(set.StateFile)
		if err != nil {
			return nil, fmt.Errorf("%s.state_file: %w", key, err)
		}
		s.lock = lock
	}
	st, err := loadState(set.StateFile)
	if err != nil {
		s.lock.Release()
		return nil, fmt.Errorf("source %s: %w", src.Name, err)
	}
	s.st = st
	return s, nil
}

// Close releases the state file's lock.
func (s *Source) Close() error { return s.lock.Release() }

// Name implements source.Source.
func (s *Source) Name() string { return s.name }

// Kind implements source.Source.
func (s *Source) Kind() string { return config.KindS3 }

// Interval implements source.Source.
func (s *Source) Interval() time.Duration { return s.interval }

// Usage implements source.Source.
func (s *Source) Usage() *source.Usage { return &s.usage }

// prefixes returns each distinct prefix with whether any node needs its records.
func (s *Source) prefixes() map[string]string {
	out := map[string]string{}
	for _, n := range s.nodes {
		if _, ok := out[n.sel.Prefix]; !ok || n.sel.Count == CountRecords {
			f := ""
			if n.sel.Count == CountRecords {
				f = n.sel.Format
			}
			out[n.sel.Prefix] = f
		}
	}
	return out
}

// Refresh lists the hour prefixes of the range, reads new objects within
// the read budget, and returns per-window counts for every node.
func (s *Source) Refresh(ctx context.Context, r source.Range) (source.Result, error) {
	if s.api == nil {
		api, err := NewAPI(ctx, s.set, nil)
		if err != nil {
			return source.Result{}, err
		}
		s.api = api
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.Now()
	started := time.Now()
	s.st.setWindow(r.Window)
	firstHour := r.From.UTC().Truncate(time.Hour)
	pending := map[string]time.Time{} // prefix → earliest hour with unread objects
	for prefix, format := range s.prefixes() {
		ps := s.st.prefix(prefix)
		for h := firstHour; !h.After(now); h = h.Add(time.Hour) {
			hk := h.Unix()
			if ps.Closed[hk] {
				continue
			}
			listedAt := s.Now()
			err := s.list(ctx, prefix+hourPrefix(s.set.Layout, h), func(o listed) {
				if old, ok := ps.Objects[o.Key]; ok && old.sameETag(o.ETag) && old.Size == o.Size {
					return
				}
				obj := &object{Size: o.Size, Modified: o.Modified.UnixMilli(), Hour: hk}
				obj.setETag(o.ETag)
				ps.Objects[o.Key] = obj
				s.st.dirty = true
			})
			if err != nil {
				return source.Result{}, err
			}
			if listedAt.After(h.Add(time.Hour + s.set.CloseAfter)) {
				ps.Closed[hk] = true
			}
		}
		if format == "" {
			continue
		}
		if err := s.readNew(ctx, prefix, format, ps, started); err != nil {
			return source.Result{}, err
		}
		for _, o := range ps.Objects {
			if !o.Read {
				h := time.Unix(o.Hour, 0).UTC()
				if p, ok := pending[prefix]; !ok || h.Before(p) {
					pending[prefix] = h
				}
			}
		}
	}
	s.st.prune(firstHour.Unix())
	if s.set.StateFile != "" && !s.readOnly && s.st.dirty {
		if err := s.st.save(s.set.StateFile); err != nil {
			return source.Result{}, err
		}
	}
	return s.result(r, now, pending), nil
}

type listed struct {
	Key      string
	ETag     string
	Size     int64
	Modified time.Time
}

// list calls f for every object under prefix, one page at a time, so a
// prefix of 100,000 objects is never held in memory as a listing.
func (s *Source) list(ctx context.Context, prefix string, f func(listed)) error {
	in := &s3.ListObjectsV2Input{Bucket: aws.String(s.set.Bucket), Prefix: aws.String(prefix)}
	for {
		s.usage.Requests.Add(1)
		s.usage.AddCost("list_requests", 1)
		page, err := s.api.ListObjectsV2(ctx, in)
		if err != nil {
			return fmt.Errorf("listing s3://%s/%s: %w", s.set.Bucket, prefix, err)
		}
		for _, o := range page.Contents {
			f(listed{Key: aws.ToString(o.Key), ETag: aws.ToString(o.ETag), Size: aws.ToInt64(o.Size), Modified: aws.ToTime(o.LastModified)})
		}
		if !aws.ToBool(page.IsTruncated) || page.NextContinuationToken == nil {
			return nil
		}
		in.ContinuationToken = page.NextContinuationToken
	}
}

// readNew reads unread objects of a prefix, oldest hour first, until the
// read budget is spent. Each object's counts are kept only once the whole
// object has been read.
func (s *Source) readNew(ctx context.Context, prefix, format string, ps *prefixState, started time.Time) error {
	var todo []string
	for k, o := range ps.Objects {
		if !o.Read {
			todo = append(todo, k)
		}
	}
	sort.Strings(todo) // keys carry the hour, so this is oldest first
	type done struct {
		key string
		c   counts
		err error
	}
	work := make(chan string)
	results := make(chan done)
	var wg sync.WaitGroup
	for i := 0; i < s.set.ReadConcurrency; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range work {
				c, err := s.readObject(ctx, k, format, ps.Objects[k].modified())
				results <- done{k, c, err}
			}
		}()
	}
	go func() {
		defer close(work)
		for _, k := range todo {
			if time.Since(started) > s.set.ReadBudget || ctx.Err() != nil {
				return
			}
			select {
			case work <- k:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { wg.Wait(); close(results) }()
	var errs []error
	for d := range results {
		if d.err != nil {
			errs = append(errs, d.err)
			continue
		}
		o := ps.Objects[d.key]
		o.Read = true
		o.setWindows(d.c.windows)
		for id := range d.c.canary {
			// The object's write time is when the event reached S3.
			s.st.canarySeen(id, o.modified())
		}
		s.st.dirty = true
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return nil
}

// result sums the objects of each node's prefix per window.
func (s *Source) result(r source.Range, now time.Time, pending map[string]time.Time) source.Result {
	var res source.Result
	windows := flow.Windows(r.From, r.To, r.Window)
	for _, n := range s.nodes {
		ps := s.st.prefix(n.sel.Prefix)
		b := source.EventTime
		if n.sel.Count != CountRecords {
			b = source.ArrivalTime
		}
		se := source.Series{Node: n.name, Bucketing: b, Counts: map[time.Time]float64{}}
		for _, w := range windows {
			if w.After(now) {
				break
			}
			se.Counts[w] = 0
		}
		for _, o := range ps.Objects {
			switch n.sel.Count {
			case CountObjects, CountBytes:
				w := flow.Align(o.modified(), r.Window)
				if _, ok := se.Counts[w]; ok {
					if n.sel.Count == CountObjects {
						se.Counts[w]++
					} else {
						se.Counts[w] += float64(o.Size)
					}
				}
			case CountRecords:
				o.windows(func(win, n int64) {
					// Windows of the state can be finer than r.Window
					// (state written with a shorter window): re-align.
					w := flow.Align(time.Unix(win, 0), r.Window)
					if _, ok := se.Counts[w]; ok {
						se.Counts[w] += float64(n)
					}
				})
			}
		}
		if p, ok := pending[n.sel.Prefix]; ok && n.sel.Count == CountRecords {
			// Unread objects of hour p can hold records of that hour and
			// the one before it: those windows and later are not final.
			from := p.Add(-time.Hour)
			for w := range se.Counts {
				if !w.Before(flow.Align(from, r.Window)) {
					delete(se.Counts, w)
				}
			}
		}
		res.Series = append(res.Series, se)
	}
	res.Gauges = append(res.Gauges, source.Gauge{Name: metricname.S3ObjectsTracked.Name,
		Labels: map[string]string{metricname.LabelSource: s.name}, Value: float64(s.st.objectCount())})
	return res
}

// CanarySeen reports when an object holding the canary event with this id
// was written (its LastModified), if a refresh has read it.
func (s *Source) CanarySeen(eventID string) (time.Time, bool) {
	return s.st.canaryLookup(eventID)
}

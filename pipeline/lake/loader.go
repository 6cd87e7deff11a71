package lake

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/klauspost/compress/gzip"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/plowline/plowline/metricname"
	"github.com/plowline/plowline/pipeline/badrow"
	"github.com/plowline/plowline/pipeline/event"
)

// ObjectStore is the part of the S3 API the loader needs (*s3.Client has it).
type ObjectStore interface {
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// Route says which table an object prefix loads into.
type Route struct {
	Prefix string
	Table  string
}

// The delivery prefixes, as GitLab's S3 bucket has them.
const (
	PrefixOutput           = "output/"
	PrefixEnrichedBad      = "enriched-bad/"
	PrefixRawBad           = "raw-bad/"
	PrefixProcessingFailed = "processing-failed/"
)

// DefaultRoutes loads pseudonymized good events into gitlab_events and both
// bad-row prefixes into gitlab_bad_events.
//
// processing-failed/ is deliberately not loaded: what failed pseudonymization
// was never pseudonymized, so loading it would put the personal data the
// pseudonymizer exists to remove into the warehouse. It stays in the object
// store (counted there, for reprocessing), as in GitLab's pipeline.
func DefaultRoutes() []Route {
	return []Route{
		{PrefixOutput, TableEvents},
		{PrefixEnrichedBad, TableBadEvents},
		{PrefixRawBad, TableBadEvents},
	}
}

// LoaderConfig configures the warehouse loader.
type LoaderConfig struct {
	Bucket string
	Routes []Route
	// LineFilter, if set, sees each object's lines before they are
	// inserted and returns the lines to insert. Fault injection uses it
	// (point "<prefix>>warehouse"); nil in every normal run.
	LineFilter func(r Route, lines [][]byte) [][]byte
	// Now gives uploaded_at; default time.Now.
	Now func() time.Time
}

// LoaderProcessor names the loader in the generic_error bad rows it writes.
var LoaderProcessor = badrow.Processor{Artifact: "plowline-loader", Version: "0.1.0"}

// Loader is the local Snowpipe. Like Snowpipe's auto-ingest (S3 event
// notifications → queue → COPY), it loads objects it is told about
// (Notify, which the batch writers call after each successful put), and on
// Scan it lists the prefixes to catch objects written while it was not
// running. Each object is loaded exactly once: its key is recorded in
// plowline_loaded_objects in the same transaction as its rows.
type Loader struct {
	cfg   LoaderConfig
	wh    *Warehouse
	store ObjectStore
	log   *slog.Logger

	mu     sync.Mutex
	loaded map[string]bool
	queue  []string
	queued map[string]bool
	wake   chan struct{}
	loadMu sync.Mutex // one load at a time

	rows, objects, rejected *prometheus.CounterVec
	failures                prometheus.Counter
	lastPass                prometheus.Gauge
}

// NewLoader returns a loader over wh reading from store; it reads which
// objects are already loaded. reg may be nil.
func NewLoader(cfg LoaderConfig, wh *Warehouse, store ObjectStore, reg prometheus.Registerer, log *slog.Logger) (*Loader, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("loader: bucket is empty")
	}
	if len(cfg.Routes) == 0 {
		cfg.Routes = DefaultRoutes()
	}
	for _, r := range cfg.Routes {
		if r.Table != TableEvents && r.Table != TableBadEvents {
			return nil, fmt.Errorf("loader: route %q → unknown table %q (want %s or %s)", r.Prefix, r.Table, TableEvents, TableBadEvents)
		}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	l := &Loader{
		cfg: cfg, wh: wh, store: store, log: log.With("component", "loader"),
		loaded: map[string]bool{}, queued: map[string]bool{},
		wake:     make(chan struct{}, 1),
		rows:     counterVec(metricname.WarehouseRowsLoaded),
		objects:  counterVec(metricname.WarehouseObjectsLoaded),
		rejected: counterVec(metricname.WarehouseRejectedLines),
		failures: prometheus.NewCounter(prometheus.CounterOpts{Name: metricname.WarehouseLoadFailures.Name, Help: metricname.WarehouseLoadFailures.Help}),
		lastPass: prometheus.NewGauge(prometheus.GaugeOpts{Name: metricname.WarehouseLastLoadTimestamp.Name, Help: metricname.WarehouseLastLoadTimestamp.Help}),
	}
	if reg != nil {
		if err := registerAll(reg, l.rows, l.objects, l.rejected, l.failures, l.lastPass); err != nil {
			return nil, err
		}
	}
	rows, err := wh.DB.Query("SELECT object_key FROM " + TableLoaded)
	if err != nil {
		return nil, fmt.Errorf("reading loaded objects: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, fmt.Errorf("reading loaded objects: %w", err)
		}
		l.loaded[k] = true
	}
	return l, rows.Err()
}

func registerAll(reg prometheus.Registerer, cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("registering loader metrics: %w", err)
		}
	}
	return nil
}

// Notify tells the loader a new object exists. It never blocks.
func (l *Loader) Notify(key string) {
	l.mu.Lock()
	if !l.loaded[key] && !l.queued[key] {
		l.queued[key] = true
		l.queue = append(l.queue, key)
	}
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// Pending returns how many notified objects wait to be loaded.
func (l *Loader) Pending() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.queue)
}

// Scan lists every route's prefix and queues the objects not loaded yet.
func (l *Loader) Scan(ctx context.Context) error {
	for _, r := range l.cfg.Routes {
		p := s3.NewListObjectsV2Paginator(l.store, &s3.ListObjectsV2Input{
			Bucket: aws.String(l.cfg.Bucket), Prefix: aws.String(r.Prefix),
		})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return fmt.Errorf("listing s3://%s/%s: %w", l.cfg.Bucket, r.Prefix, err)
			}
			for _, o := range page.Contents {
				l.Notify(aws.ToString(o.Key))
			}
		}
	}
	return nil
}

// Run loads notified objects as they arrive until ctx ends. Failed loads
// stay queued and are retried after a pause.
func (l *Loader) Run(ctx context.Context) error {
	for {
		if _, err := l.LoadPending(ctx); err != nil && ctx.Err() == nil {
			l.log.Warn("load pass failed; retrying", "err", err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(time.Second):
			}
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-l.wake:
		}
	}
}

// LoadPending loads every queued object and returns how many it loaded. On
// the first failure it stops, leaving that object and the rest queued.
func (l *Loader) LoadPending(ctx context.Context) (int, error) {
	l.loadMu.Lock()
	defer l.loadMu.Unlock()
	n := 0
	for {
		l.mu.Lock()
		if len(l.queue) == 0 {
			l.mu.Unlock()
			l.lastPass.SetToCurrentTime()
			return n, nil
		}
		key := l.queue[0]
		l.mu.Unlock()
		if err := l.loadObject(ctx, key); err != nil {
			l.failures.Inc()
			return n, err
		}
		l.mu.Lock()
		l.queue = l.queue[1:]
		delete(l.queued, key)
		l.loaded[key] = true
		l.mu.Unlock()
		n++
	}
}

func (l *Loader) route(key string) (Route, bool) {
	for _, r := range l.cfg.Routes {
		if strings.HasPrefix(key, r.Prefix) {
			return r, true
		}
	}
	return Route{}, false
}

// loadObject reads one object and inserts its lines and its key in one
// transaction.
func (l *Loader) loadObject(ctx context.Context, key string) error {
	r, ok := l.route(key)
	if !ok {
		// Not a loaded prefix (e.g. processing-failed/): remember it as
		// seen without touching the database.
		return nil
	}
	uploadedAt := l.cfg.Now().UTC().Format(event.TimestampLayout)
	data, err := l.fetch(ctx, key)
	var unreadable *unreadableError
	if errors.As(err, &unreadable) {
		// Retrying cannot help and would block every later object: the
		// object is recorded as loaded with one generic_error bad row
		// saying why, so it is visible in the warehouse, not lost.
		l.log.Error("object cannot be loaded; recorded as a generic_error bad row", "key", key, "err", err)
		return l.recordUnreadable(ctx, key, r, err, uploadedAt)
	}
	if err != nil {
		return err
	}
	lines := splitLines(data)
	if l.cfg.LineFilter != nil {
		lines = l.cfg.LineFilter(r, lines)
	}

	tx, err := l.wh.DB.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("loading %s: %w", key, err)
	}
	defer tx.Rollback()
	var loaded, rejected int
	switch r.Table {
	case TableEvents:
		loaded, rejected, err = l.insertEvents(ctx, tx, key, lines, uploadedAt)
	default:
		loaded, err = l.insertBad(ctx, tx, lines, uploadedAt)
	}
	if err != nil {
		return fmt.Errorf("loading %s into %s: %w", key, r.Table, err)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO "+TableLoaded+" (object_key, table_name, rows_loaded, lines_rejected, loaded_at) VALUES (?, ?, ?, ?, ?)",
		key, r.Table, loaded, rejected, uploadedAt); err != nil {
		return fmt.Errorf("recording %s as loaded: %w", key, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing load of %s: %w", key, err)
	}
	l.objects.WithLabelValues(r.Table).Inc()
	l.rows.WithLabelValues(r.Table).Add(float64(loaded))
	if rejected > 0 {
		l.rows.WithLabelValues(TableBadEvents).Add(float64(rejected))
		l.rejected.WithLabelValues(TableEvents).Add(float64(rejected))
		l.log.Warn("lines with the wrong field count loaded as generic_error bad rows", "key", key, "lines", rejected)
	}
	return nil
}

// unreadableError is an object that exists but can never be loaded
// (corrupt gzip), or that is gone.
type unreadableError struct{ err error }

func (e *unreadableError) Error() string { return e.err.Error() }
func (e *unreadableError) Unwrap() error { return e.err }

func (l *Loader) recordUnreadable(ctx context.Context, key string, r Route, cause error, uploadedAt string) error {
	tx, err := l.wh.DB.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("loading %s: %w", key, err)
	}
	defer tx.Rollback()
	row := badrow.NewGenericError(LoaderProcessor, l.cfg.Now(), []string{cause.Error()}, "s3://"+l.cfg.Bucket+"/"+key).Marshal()
	if _, err := l.insertBad(ctx, tx, [][]byte{row}, uploadedAt); err != nil {
		return fmt.Errorf("recording unreadable %s: %w", key, err)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO "+TableLoaded+" (object_key, table_name, rows_loaded, lines_rejected, loaded_at) VALUES (?, ?, 0, 1, ?)",
		key, r.Table, uploadedAt); err != nil {
		return fmt.Errorf("recording unreadable %s: %w", key, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("recording unreadable %s: %w", key, err)
	}
	l.rows.WithLabelValues(TableBadEvents).Inc()
	l.rejected.WithLabelValues(r.Table).Inc()
	return nil
}

func (l *Loader) fetch(ctx context.Context, key string) ([]byte, error) {
	out, err := l.store.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(l.cfg.Bucket), Key: aws.String(key)})
	var missing *types.NoSuchKey
	if errors.As(err, &missing) {
		return nil, &unreadableError{fmt.Errorf("s3://%s/%s vanished before it was loaded: %w", l.cfg.Bucket, key, err)}
	}
	if err != nil {
		return nil, fmt.Errorf("getting s3://%s/%s: %w", l.cfg.Bucket, key, err)
	}
	defer out.Body.Close()
	var buf bytes.Buffer
	if n := aws.ToInt64(out.ContentLength); n > 0 && n < 1<<30 {
		buf.Grow(int(n) + bytes.MinRead)
	}
	_, err = buf.ReadFrom(out.Body)
	raw := buf.Bytes()
	if err != nil {
		return nil, fmt.Errorf("reading s3://%s/%s: %w", l.cfg.Bucket, key, err)
	}
	if !strings.HasSuffix(key, ".gz") && aws.ToString(out.ContentEncoding) != "gzip" {
		return raw, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, &unreadableError{fmt.Errorf("decompressing s3://%s/%s: %w", l.cfg.Bucket, key, err)}
	}
	var data bytes.Buffer
	// A gzip member ends with its uncompressed size (mod 2^32): size the
	// buffer once instead of doubling it (and clearing each copy).
	size := 4 * len(raw)
	if n := len(raw); n >= 18 {
		if isize := int(binary.LittleEndian.Uint32(raw[n-4:])); isize > 0 && isize < 1<<30 {
			size = isize
		}
	}
	data.Grow(size + bytes.MinRead)
	if _, err := data.ReadFrom(zr); err != nil {
		return nil, &unreadableError{fmt.Errorf("decompressing s3://%s/%s: %w", l.cfg.Bucket, key, err)}
	}
	return data.Bytes(), nil
}

// splitLines splits on newlines; a final newline ends the last line rather
// than starting an empty one. Every other line, even an empty one, is kept
// so that it is loaded or rejected, never lost.
func splitLines(data []byte) [][]byte {
	data = bytes.TrimSuffix(data, []byte("\n"))
	if len(data) == 0 {
		return nil
	}
	lines := bytes.Split(data, []byte("\n"))
	for i, ln := range lines {
		lines[i] = bytes.TrimSuffix(ln, []byte("\r"))
	}
	return lines
}

// rowsPerInsert rows go in one INSERT statement: fewer statement
// executions, and at most 132 × 64 parameters, under SQLite's limit.
const rowsPerInsert = 64

// shape says which of the 131 columns of a row are non-empty (bit i for
// column i). Rows are inserted by shape, binding only their non-empty
// values: NULL is the columns' default, and an enriched event leaves most
// of its 131 fields empty, so this halves the values bound per row.
type shape [3]uint64

// shapeRows collects the rows of one shape until they fill a statement.
type shapeRows struct {
	cols []string // the shape's columns, then uploaded_at
	args []any
	n    int
}

type stmtKey struct {
	s shape
	n int
}

func (l *Loader) insertEvents(ctx context.Context, tx *sql.Tx, key string, lines [][]byte, uploadedAt string) (loaded, rejected int, err error) {
	groups := map[shape]*shapeRows{}
	// Statements are prepared on the transaction (the warehouse has one
	// connection) and live as long as it; an object has few shapes.
	stmts := map[stmtKey]*sql.Stmt{}
	defer func() {
		for _, st := range stmts {
			st.Close()
		}
	}()
	exec := func(s shape, g *shapeRows) error {
		k := stmtKey{s, g.n}
		st, ok := stmts[k]
		if !ok {
			var err error
			if st, err = tx.PrepareContext(ctx, insertSQL(g.cols, g.n)); err != nil {
				return fmt.Errorf("preparing insert into %s: %w", TableEvents, err)
			}
			stmts[k] = st
		}
		_, err := st.ExecContext(ctx, g.args...)
		g.args, g.n = g.args[:0], 0
		return err
	}
	var bad [][]byte
	var fields [event.NumFields]string
	names := event.FieldNames()
	for _, line := range lines {
		if n := bytes.Count(line, []byte("\t")) + 1; n != event.NumFields {
			bad = append(bad, badrow.NewGenericError(LoaderProcessor, l.cfg.Now(),
				[]string{fmt.Sprintf("line of %s has %d tab-separated fields, expected %d", key, n, event.NumFields)},
				string(line)).Marshal())
			continue
		}
		splitFields(&fields, line)
		var sh shape
		for i, f := range fields {
			if f != "" {
				sh[i/64] |= 1 << (i % 64)
			}
		}
		g := groups[sh]
		if g == nil {
			g = &shapeRows{}
			for i, f := range fields {
				if f != "" {
					g.cols = append(g.cols, names[i])
				}
			}
			g.cols = append(g.cols, ColumnUploadedAt)
			g.args = make([]any, 0, rowsPerInsert*len(g.cols))
			groups[sh] = g
		}
		for _, f := range fields {
			if f != "" {
				g.args = append(g.args, f)
			}
		}
		g.args = append(g.args, uploadedAt)
		g.n++
		loaded++
		if g.n == rowsPerInsert {
			if err := exec(sh, g); err != nil {
				return 0, 0, err
			}
		}
	}
	for sh, g := range groups {
		if g.n > 0 {
			if err := exec(sh, g); err != nil {
				return 0, 0, err
			}
		}
	}
	if len(bad) > 0 {
		if _, err := l.insertBad(ctx, tx, bad, uploadedAt); err != nil {
			return 0, 0, err
		}
	}
	return loaded, len(bad), nil
}

// splitFields splits a 131-field line into fields: one string per line,
// the fields substrings of it (an allocation per line, not per field). An
// empty field stays empty and is loaded as NULL, as Snowflake's
// EMPTY_FIELD_AS_NULL loads it. The caller checked the field count.
func splitFields(fields *[event.NumFields]string, line []byte) {
	rest := string(line)
	for f := 0; f < event.NumFields; f++ {
		v := rest
		if i := strings.IndexByte(rest, '\t'); i >= 0 {
			v, rest = rest[:i], rest[i+1:]
		} else {
			rest = ""
		}
		fields[f] = v
	}
}

// insertSQL is an INSERT of nrows rows into gitlab_events naming cols.
func insertSQL(cols []string, nrows int) string {
	var q strings.Builder
	q.WriteString("INSERT INTO " + TableEvents + " (")
	for i, c := range cols {
		if i > 0 {
			q.WriteByte(',')
		}
		fmt.Fprintf(&q, "%q", c)
	}
	q.WriteString(") VALUES ")
	row := "(" + strings.TrimSuffix(strings.Repeat("?,", len(cols)), ",") + ")"
	for i := 0; i < nrows; i++ {
		if i > 0 {
			q.WriteByte(',')
		}
		q.WriteString(row)
	}
	return q.String()
}

func (l *Loader) insertBad(ctx context.Context, tx *sql.Tx, lines [][]byte, uploadedAt string) (int, error) {
	stmt, err := tx.PrepareContext(ctx, "INSERT INTO "+TableBadEvents+" (jsontext, "+ColumnUploadedAt+") VALUES (?, ?)")
	if err != nil {
		return 0, err
	}
	defer stmt.Close()
	for _, line := range lines {
		if _, err := stmt.ExecContext(ctx, string(line), uploadedAt); err != nil {
			return 0, err
		}
	}
	return len(lines), nil
}

// Close releases the loader (the warehouse stays open).
func (l *Loader) Close() error { return nil }

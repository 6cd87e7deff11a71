// Package warehouse is the exporter's "warehouse" source: one grouped
// COUNT(*) per refresh per table through database/sql — rows bucketed by
// the window of their collector timestamp (or any time expression), with
// MAX(uploaded_at) to say when data last arrived. Production runs it on
// Snowflake (gosnowflake, key-pair auth); plowline run's embedded warehouse
// is SQLite (modernc.org/sqlite, pure Go).
//
// A Snowflake query wakes a warehouse and costs credits, so refreshes have
// a minimum interval and a query timeout, and each query is counted.
package warehouse

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"database/sql"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	// Must stay before gosnowflake in init order; see its doc.
	_ "github.com/plowline/plowline/exporter/warehouse/nominicore"

	"github.com/snowflakedb/gosnowflake"
	_ "modernc.org/sqlite"

	"github.com/plowline/plowline/exporter/config"
	"github.com/plowline/plowline/exporter/source"
	"github.com/plowline/plowline/metricname"
)

// Drivers.
const (
	DriverSQLite    = "sqlite"
	DriverSnowflake = "snowflake"
)

// Settings is the `warehouse:` block of a source.
type Settings struct {
	// Driver is sqlite (the local embedded warehouse) or snowflake.
	Driver string `yaml:"driver"`
	// Path is the SQLite database file (opened read-only).
	Path      string     `yaml:"path"`
	Snowflake *Snowflake `yaml:"snowflake"`
	// MinInterval is the shortest allowed refresh interval (default 5m for
	// Snowflake, where every query costs credits; 0 for SQLite).
	MinInterval *time.Duration `yaml:"min_interval"`
	// QueryTimeout bounds each query (default: the source's timeout).
	QueryTimeout time.Duration `yaml:"query_timeout"`
}

// Snowflake holds connection settings. Authentication is key-pair only:
// the private key is read from a file, so no secret is ever on a command
// line or in the configuration.
type Snowflake struct {
	Account        string `yaml:"account"`
	User           string `yaml:"user"`
	Role           string `yaml:"role"`
	Warehouse      string `yaml:"warehouse"`
	Database       string `yaml:"database"`
	Schema         string `yaml:"schema"`
	PrivateKeyFile string `yaml:"private_key_file"`
}

// Select is a node's `select:` block.
type Select struct {
	Table string `yaml:"table"`
	// TimeColumn is the column rows are bucketed by (default collector_tstamp).
	TimeColumn string `yaml:"time_column"`
	// TimeExpr, if set, replaces TimeColumn with an SQL expression (e.g. the
	// failure timestamp inside a bad row's JSON).
	TimeExpr string `yaml:"time_expr"`
	// UploadedColumn is the load-time column for MAX(...) (default
	// uploaded_at; "-" to skip).
	UploadedColumn string `yaml:"uploaded_column"`
	// EventIDColumn is where the canary looks for its event (default event_id).
	EventIDColumn string `yaml:"event_id_column"`
}

type node struct {
	name string
	sel  Select
}

// Source counts rows per window in warehouse tables.
type Source struct {
	name     string
	interval time.Duration
	driver   string
	db       *sql.DB
	timeout  time.Duration
	nodes    []node
	usage    source.Usage
	// Now is the clock; tests replace it.
	Now func() time.Time

	mu sync.Mutex
}

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*){0,2}$`)

// New opens the warehouse named by the settings. db may be given (tests);
// otherwise it is opened from the settings.
func New(src config.Source, nodes []config.Node, db *sql.DB) (*Source, error) {
	var set Settings
	if err := src.DecodeSettings(&set); err != nil {
		return nil, err
	}
	key := "sources[" + src.Name + "].warehouse"
	minInterval := time.Duration(0)
	switch set.Driver {
	case DriverSQLite:
		if set.Path == "" && db == nil {
			return nil, fmt.Errorf("%s.path: missing (the SQLite database file)", key)
		}
	case DriverSnowflake:
		minInterval = 5 * time.Minute
		if db == nil {
			if set.Snowflake == nil {
				return nil, fmt.Errorf("%s.snowflake: missing (account, user, private_key_file, ...)", key)
			}
		}
	default:
		return nil, fmt.Errorf("%s.driver: %q unknown (want sqlite or snowflake)", key, set.Driver)
	}
	if set.MinInterval != nil {
		minInterval = *set.MinInterval
	}
	if src.Interval < minInterval {
		return nil, fmt.Errorf("sources[%s].interval: %s is below the warehouse's min_interval %s (each query costs; raise the interval or set %s.min_interval)", src.Name, src.Interval, minInterval, key)
	}
	timeout := set.QueryTimeout
	if timeout <= 0 {
		timeout = src.Timeout
	}
	s := &Source{name: src.Name, interval: src.Interval, driver: set.Driver, db: db, timeout: timeout, Now: time.Now}
	for _, n := range nodes {
		var sel Select
		if err := n.DecodeSelect(&sel); err != nil {
			return nil, err
		}
		nk := "nodes[" + n.Name + "].select"
		if !identRE.MatchString(sel.Table) {
			return nil, fmt.Errorf("%s.table: %q is not a table name", nk, sel.Table)
		}
		if sel.TimeColumn == "" {
			sel.TimeColumn = "collector_tstamp"
		}
		if sel.UploadedColumn == "" {
			sel.UploadedColumn = "uploaded_at"
		}
		if sel.EventIDColumn == "" {
			sel.EventIDColumn = "event_id"
		}
		for _, c := range []struct{ k, v string }{{"time_column", sel.TimeColumn}, {"event_id_column", sel.EventIDColumn}} {
			if !identRE.MatchString(c.v) {
				return nil, fmt.Errorf("%s.%s: %q is not a column name", nk, c.k, c.v)
			}
		}
		if sel.UploadedColumn != "-" && !identRE.MatchString(sel.UploadedColumn) {
			return nil, fmt.Errorf("%s.uploaded_column: %q is not a column name", nk, sel.UploadedColumn)
		}
		if strings.Contains(sel.TimeExpr, ";") {
			return nil, fmt.Errorf("%s.time_expr: %q must be one expression", nk, sel.TimeExpr)
		}
		s.nodes = append(s.nodes, node{name: n.Name, sel: sel})
	}
	if s.db == nil {
		db, err := open(set)
		if err != nil {
			return nil, fmt.Errorf("source %s: %w", src.Name, err)
		}
		s.db = db
	}
	return s, nil
}

func open(set Settings) (*sql.DB, error) {
	if set.Driver == DriverSQLite {
		q := url.Values{}
		q.Add("mode", "ro")
		q.Add("_pragma", "busy_timeout(10000)")
		db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: set.Path}).EscapedPath()+"?"+q.Encode())
		if err != nil {
			return nil, fmt.Errorf("opening warehouse %s: %w", set.Path, err)
		}
		return db, nil
	}
	sf := set.Snowflake
	data, err := os.ReadFile(sf.PrivateKeyFile)
	if err != nil {
		return nil, fmt.Errorf("reading snowflake.private_key_file: %w", err)
	}
	key, err := parseKey(data)
	if err != nil {
		return nil, fmt.Errorf("snowflake.private_key_file %s: %w", sf.PrivateKeyFile, err)
	}
	cfg := gosnowflake.Config{
		Account: sf.Account, User: sf.User, Role: sf.Role, Warehouse: sf.Warehouse,
		Database: sf.Database, Schema: sf.Schema,
		Authenticator: gosnowflake.AuthTypeJwt, PrivateKey: key,
		Application: "plowline-exporter",
	}
	return sql.OpenDB(gosnowflake.NewConnector(gosnowflake.SnowflakeDriver{}, cfg)), nil
}

// parseKey reads an unencrypted PKCS#8 (or PKCS#1) RSA private key in PEM,
// the form Snowflake's key-pair authentication documents.
func parseKey(data []byte) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block found (want an unencrypted PKCS#8 RSA private key)")
	}
	if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		if rk, ok := k.(*rsa.PrivateKey); ok {
			return rk, nil
		}
		return nil, errors.New("key is not an RSA key")
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	return nil, fmt.Errorf("PEM block %q is not an unencrypted PKCS#8 or PKCS#1 RSA private key", block.Type)
}

// Name implements source.Source.
func (s *Source) Name() string { return s.name }

// Kind implements source.Source.
func (s *Source) Kind() string { return config.KindWarehouse }

// Interval implements source.Source.
func (s *Source) Interval() time.Duration { return s.interval }

// Usage implements source.Source.
func (s *Source) Usage() *source.Usage { return &s.usage }

// Close closes the database.
func (s *Source) Close() error { return s.db.Close() }

// CountQuery returns the grouped count query for a node and the window
// length. Its parameters are those CountArgs returns. When rows are
// bucketed by a plain column, the inner WHERE on that column lets the
// database prune (Snowflake micro-partitions, an index in SQLite).
func CountQuery(driver string, sel Select, window time.Duration) string {
	w := int64(window / time.Second)
	expr, filter := sel.TimeExpr, ""
	if expr == "" {
		expr = quote(driver, sel.TimeColumn)
		filter = fmt.Sprintf(" WHERE %s >= ? AND %s < ?", expr, expr)
	}
	var win string
	switch driver {
	case DriverSnowflake:
		win = fmt.Sprintf("FLOOR(DATE_PART(EPOCH_SECOND, TO_TIMESTAMP_NTZ(%s)) / %d) * %d", expr, w, w)
	default:
		win = fmt.Sprintf("(CAST(strftime('%%s', %s) AS INTEGER) / %d) * %d", expr, w, w)
	}
	upAgg, upSel := "NULL", ""
	if sel.UploadedColumn != "-" {
		upAgg, upSel = "MAX(up)", ", "+quote(driver, sel.UploadedColumn)+" AS up"
	}
	return fmt.Sprintf("SELECT w, COUNT(*), %s FROM (SELECT %s AS w%s FROM %s%s) t WHERE w >= ? AND w < ? GROUP BY w",
		upAgg, win, upSel, sel.Table, filter)
}

// CountArgs returns CountQuery's parameters for the range.
func CountArgs(driver string, sel Select, r source.Range) []any {
	args := []any{}
	if sel.TimeExpr == "" {
		if driver == DriverSnowflake {
			args = append(args, r.From.UTC(), r.To.UTC())
		} else {
			// Enriched timestamps are text in SQLite; their layout sorts as time does.
			args = append(args, r.From.UTC().Format("2006-01-02 15:04:05"), r.To.UTC().Format("2006-01-02 15:04:05"))
		}
	}
	return append(args, r.From.Unix(), r.To.Unix())
}

// quote quotes a column name the way each dialect keeps it as written
// (SQLite keeps case anyway; Snowflake's unquoted names are upper-cased,
// which is what GitLab's tables use, so they are left bare there).
func quote(driver, col string) string {
	if driver == DriverSnowflake {
		return col
	}
	return `"` + col + `"`
}

// Refresh runs one grouped count per node over the range.
func (s *Source) Refresh(ctx context.Context, r source.Range) (source.Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var res source.Result
	now := s.Now()
	for _, n := range s.nodes {
		q := CountQuery(s.driver, n.sel, r.Window)
		qctx, cancel := context.WithTimeout(ctx, s.timeout)
		counts, latest, err := s.count(qctx, q, CountArgs(s.driver, n.sel, r))
		cancel()
		if err != nil {
			return source.Result{}, fmt.Errorf("counting %s for node %s: %w", n.sel.Table, n.name, err)
		}
		se := source.Series{Node: n.name, Bucketing: source.EventTime, Counts: map[time.Time]float64{}}
		for w := r.From; w.Before(r.To) && !w.After(now); w = w.Add(r.Window) {
			se.Counts[w] = counts[w.Unix()]
		}
		res.Series = append(res.Series, se)
		if !latest.IsZero() {
			res.Gauges = append(res.Gauges, source.Gauge{Name: metricname.WarehouseLatestLoad.Name,
				Labels: map[string]string{metricname.LabelTable: n.sel.Table}, Value: float64(latest.UnixNano()) / 1e9})
		}
	}
	return res, nil
}

func (s *Source) count(ctx context.Context, q string, args []any) (map[int64]float64, time.Time, error) {
	s.usage.Requests.Add(1)
	s.usage.AddCost("queries", 1)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, time.Time{}, err
	}
	defer rows.Close()
	out := map[int64]float64{}
	var latest time.Time
	for rows.Next() {
		var w sql.NullFloat64
		var n int64
		var up any
		if err := rows.Scan(&w, &n, &up); err != nil {
			return nil, time.Time{}, err
		}
		if w.Valid {
			out[int64(w.Float64)] += float64(n)
		}
		if t, ok := asTime(up); ok && t.After(latest) {
			latest = t
		}
	}
	return out, latest, rows.Err()
}

// asTime reads a timestamp column as either driver returns it.
func asTime(v any) (time.Time, bool) {
	switch x := v.(type) {
	case time.Time:
		return x.UTC(), true
	case []byte:
		return asTime(string(x))
	case string:
		for _, layout := range []string{"2006-01-02 15:04:05.000", "2006-01-02 15:04:05", time.RFC3339Nano} {
			if t, err := time.Parse(layout, x); err == nil {
				return t, true
			}
		}
	}
	return time.Time{}, false
}

// Find reports when the event with this id was loaded into the node's
// table (its uploaded_at), for the canary. found is false if it is not
// there yet.
func (s *Source) Find(ctx context.Context, nodeName, eventID string) (loaded time.Time, found bool, err error) {
	var sel *Select
	for _, n := range s.nodes {
		if n.name == nodeName {
			sel = &n.sel
		}
	}
	if sel == nil {
		return time.Time{}, false, fmt.Errorf("node %q is not counted by warehouse source %s", nodeName, s.name)
	}
	up := "COUNT(*)"
	if sel.UploadedColumn != "-" {
		up = "MIN(" + quote(s.driver, sel.UploadedColumn) + ")"
	}
	q := fmt.Sprintf("SELECT COUNT(*), %s FROM %s WHERE %s = ?", up, sel.Table, quote(s.driver, sel.EventIDColumn))
	qctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	s.usage.Requests.Add(1)
	s.usage.AddCost("queries", 1)
	var n int64
	var v any
	if err := s.db.QueryRowContext(qctx, q, eventID).Scan(&n, &v); err != nil {
		return time.Time{}, false, fmt.Errorf("looking for canary %s in %s: %w", eventID, sel.Table, err)
	}
	if n == 0 {
		return time.Time{}, false, nil
	}
	t, ok := asTime(v)
	if !ok {
		t = s.Now()
	}
	return t, true, nil
}

package lake

import (
	"database/sql"
	"fmt"
	"net/url"
	"strings"

	"github.com/plowline/plowline/pipeline/event"

	// The pure-Go SQLite driver ("sqlite"): no cgo, so the binary stays static.
	_ "modernc.org/sqlite"
)

// GitLab's warehouse tables, as the local warehouse names them.
const (
	TableEvents    = "gitlab_events"
	TableBadEvents = "gitlab_bad_events"
	// TableLoaded records every loaded object (key, table, row counts). A
	// key is inserted in the same transaction as its rows, which is what
	// makes each object load exactly once, also across crashes.
	TableLoaded = "plowline_loaded_objects"
)

// ColumnUploadedAt is the load-time column both GitLab tables carry.
const ColumnUploadedAt = "uploaded_at"

// Warehouse is the embedded SQL database standing in for Snowflake.
type Warehouse struct {
	DB   *sql.DB
	path string
}

func dsn(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	if readOnly {
		q.Add("mode", "ro")
	} else {
		// A 1 MiB page cache: the loader appends, so a bigger cache buys no
		// speed (BenchmarkLoader: the same rows/s at 8 MiB), and it costs
		// far more RSS than its size: each 64 KiB page is a 128 KiB mapping
		// in the pure-Go SQLite's allocator, which also keeps freed pages
		// for reuse. At 8 MiB SQLite held ~137 MiB at the worst-case
		// memory test's peak, at 1 MiB ~20 MiB. In WAL mode (set in
		// OpenWarehouse) synchronous=NORMAL can only lose commits on power
		// loss, never on a process crash.
		q.Add("_pragma", "cache_size(-1024)")
		q.Add("_pragma", "synchronous(NORMAL)")
	}
	q.Add("_txlock", "immediate")
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

// OpenWarehouse opens (or creates) the database at path with GitLab's tables.
func OpenWarehouse(path string) (*Warehouse, error) {
	db, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return nil, fmt.Errorf("opening warehouse %s: %w", path, err)
	}
	// One writer: SQLite serialises writes anyway, and one connection keeps
	// prepared statements hot.
	db.SetMaxOpenConns(1)
	// Big pages: an event row is several KiB and would otherwise spill into
	// overflow pages. The size is set before the first table exists and
	// before WAL mode, after which it cannot change.
	var tables int
	if err := db.QueryRow("SELECT COUNT(*) FROM sqlite_master").Scan(&tables); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening warehouse %s: %w", path, err)
	}
	stmts := schema()
	if tables == 0 {
		stmts = append([]string{"PRAGMA page_size=65536"}, stmts...)
	}
	// WAL (persistent in the file): readers (plowline query) never block
	// the loader, and a commit survives a process crash.
	stmts = append(stmts, "PRAGMA journal_mode=WAL")
	for _, stmt := range stmts {
		if _, err := db.Exec(stmt); err != nil {
			db.Close()
			return nil, fmt.Errorf("creating warehouse schema in %s: %w", path, err)
		}
	}
	return &Warehouse{DB: db, path: path}, nil
}

// OpenReadOnly opens the warehouse at path for queries only: a statement
// that would write fails.
func OpenReadOnly(path string) (*sql.DB, error) {
	db, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		return nil, fmt.Errorf("opening warehouse %s: %w", path, err)
	}
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening warehouse %s read-only: %w", path, err)
	}
	return db, nil
}

// Close closes the database.
func (w *Warehouse) Close() error { return w.DB.Close() }

// Path returns the database file's path.
func (w *Warehouse) Path() string { return w.path }

// EventColumns returns gitlab_events' columns in order: the 131 enriched
// fields, then uploaded_at.
func EventColumns() []string {
	return append(event.FieldNames(), ColumnUploadedAt)
}

func schema() []string {
	var cols strings.Builder
	for i, name := range EventColumns() {
		if i > 0 {
			cols.WriteString(", ")
		}
		fmt.Fprintf(&cols, "%q TEXT", name)
	}
	return []string{
		fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (%s)", TableEvents, cols.String()),
		fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (jsontext TEXT, %s TEXT)", TableBadEvents, ColumnUploadedAt),
		fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s (
			object_key TEXT PRIMARY KEY,
			table_name TEXT NOT NULL,
			rows_loaded INTEGER NOT NULL,
			lines_rejected INTEGER NOT NULL,
			loaded_at TEXT NOT NULL)`, TableLoaded),
	}
}

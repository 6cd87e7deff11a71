package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/plowline/plowline/pipeline/lake"
	"github.com/plowline/plowline/pipeline/local"
)

func init() {
	register(&command{
		name:    "query",
		summary: "run a read-only SQL query on plowline run's local warehouse",
		run:     runQuery,
	})
}

func runQuery(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("query", `query [flags] "SQL"`, stderr)
	dataDir := fs.String("data-dir", local.DefaultConfig().DataDir, "plowline run's data `directory`")
	format := fs.String("format", "table", "output `format`: table, csv (with a header) or json (an array of objects, NULL as null)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, `Usage: plowline query [flags] "SQL"

Runs one SQL statement (SQLite dialect) on the warehouse of 'plowline run'
(DATA-DIR/%s) through a read-only connection; it works while run is
running. Tables:
  gitlab_events      the 131 enriched fields (pseudonymized) as text, + uploaded_at
  gitlab_bad_events  jsontext (a pseudonymized bad row), uploaded_at
  %s  object_key, table_name, rows_loaded, lines_rejected, loaded_at

Flags may come before or after the SQL.

Flags:
`, local.WarehouseFile, lake.TableLoaded)
		fs.PrintDefaults()
	}
	// Allow flags after the statement: plowline query "SELECT 1" --format json.
	var sqls []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		sqls = append(sqls, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(sqls) != 1 || strings.TrimSpace(sqls[0]) == "" {
		return &exitError{code: 2, err: fmt.Errorf("want exactly one SQL statement as argument, got %d (quote it)", len(sqls))}
	}
	switch *format {
	case "table", "csv", "json":
	default:
		return &exitError{code: 2, err: fmt.Errorf("--format %q: want table, csv or json", *format)}
	}
	path := filepath.Join(*dataDir, local.WarehouseFile)
	if _, err := os.Stat(path); err != nil {
		return &exitError{code: 2, err: fmt.Errorf("no warehouse at %s: start 'plowline run --data-dir %s' first", path, *dataDir)}
	}
	db, err := lake.OpenReadOnly(path)
	if err != nil {
		return err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, sqls[0])
	if err != nil {
		return fmt.Errorf("query: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return fmt.Errorf("query: %w", err)
	}
	out := newQueryWriter(*format, stdout, cols)
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("query: %w", err)
		}
		if err := out.row(vals); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("query: %w", err)
	}
	return out.close()
}

type queryWriter struct {
	format string
	cols   []string
	w      io.Writer
	tw     *tabwriter.Writer
	cw     *csv.Writer
	n      int
}

func newQueryWriter(format string, w io.Writer, cols []string) *queryWriter {
	q := &queryWriter{format: format, cols: cols, w: w}
	switch format {
	case "table":
		q.tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(q.tw, strings.Join(cols, "\t"))
	case "csv":
		q.cw = csv.NewWriter(w)
		q.cw.Write(cols)
	case "json":
		io.WriteString(w, "[")
	}
	return q
}

// text renders a value for table and csv output.
func text(v any) (string, bool) {
	switch v := v.(type) {
	case nil:
		return "", false
	case []byte:
		return string(v), true
	default:
		return fmt.Sprint(v), true
	}
}

func (q *queryWriter) row(vals []any) error {
	q.n++
	switch q.format {
	case "table":
		cells := make([]string, len(vals))
		for i, v := range vals {
			s, ok := text(v)
			if !ok {
				s = "NULL"
			}
			// Keep one row per line.
			cells[i] = strings.NewReplacer("\t", " ", "\n", " ").Replace(s)
		}
		_, err := fmt.Fprintln(q.tw, strings.Join(cells, "\t"))
		return err
	case "csv":
		cells := make([]string, len(vals))
		for i, v := range vals {
			cells[i], _ = text(v)
		}
		return q.cw.Write(cells)
	default:
		obj := make(map[string]any, len(vals))
		for i, v := range vals {
			if b, ok := v.([]byte); ok {
				v = string(b)
			}
			obj[q.cols[i]] = v
		}
		b, err := json.Marshal(obj)
		if err != nil {
			return err
		}
		sep := ",\n"
		if q.n == 1 {
			sep = "\n"
		}
		_, err = io.WriteString(q.w, sep+string(b))
		return err
	}
}

func (q *queryWriter) close() error {
	switch q.format {
	case "table":
		if err := q.tw.Flush(); err != nil {
			return err
		}
		_, err := fmt.Fprintf(q.w, "(%d rows)\n", q.n)
		return err
	case "csv":
		q.cw.Flush()
		return q.cw.Error()
	default:
		_, err := io.WriteString(q.w, "\n]\n")
		return err
	}
}

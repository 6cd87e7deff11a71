package warehouse

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"database/sql"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/plowline/plowline/exporter/config"
	"github.com/plowline/plowline/exporter/source"
	"github.com/plowline/plowline/metricname"
)

var t0 = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

const layout = "2006-01-02 15:04:05.000"

// seed creates GitLab's two tables (the columns the exporter reads, typed
// TEXT as the local loader types them) and rows in known windows.
func seed(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "warehouse.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		`CREATE TABLE gitlab_events (app_id TEXT, platform TEXT, etl_tstamp TEXT, collector_tstamp TEXT, event TEXT, event_id TEXT, uploaded_at TEXT)`,
		`CREATE TABLE gitlab_bad_events (jsontext TEXT, uploaded_at TEXT)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	ins := func(ts time.Time, id string, up time.Time) {
		if _, err := db.Exec(`INSERT INTO gitlab_events VALUES ('gitlab','web',?,?,'page_view',?,?)`, ts.Format(layout), ts.Format(layout), id, up.Format(layout)); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 5; i++ {
		ins(t0.Add(time.Duration(i)*time.Second), fmt.Sprintf("a%d", i), t0.Add(2*time.Minute))
	}
	for i := 0; i < 3; i++ {
		ins(t0.Add(time.Minute+time.Duration(i)*10*time.Second), fmt.Sprintf("b%d", i), t0.Add(3*time.Minute))
	}
	ins(t0.Add(-time.Hour), "old", t0.Add(-50*time.Minute))                                     // before the range
	ins(t0.Add(59*time.Second+999*time.Millisecond), "edge", t0.Add(3*time.Minute+time.Second)) // last ms of window 0
	bad := func(ts string) {
		if _, err := db.Exec(`INSERT INTO gitlab_bad_events VALUES (?, ?)`, `{"schema":"iglu:com.snowplowanalytics.snowplow.badrows/schema_violations/jsonschema/2-0-0","data":{"failure":{"timestamp":"`+ts+`"}}}`, t0.Add(4*time.Minute).Format(layout)); err != nil {
			t.Fatal(err)
		}
	}
	bad(t0.Add(5 * time.Second).Format("2006-01-02T15:04:05.000Z"))
	bad(t0.Add(65 * time.Second).Format(time.RFC3339))
	return path
}

func newSource(t *testing.T, path string, extra string) *Source {
	t.Helper()
	cfg, err := config.Parse(strings.NewReader(`
window: 1m
sources:
  - name: wh
    kind: warehouse
    interval: 30s
    warehouse: {driver: sqlite, path: "` + path + `"` + extra + `}
nodes:
  - {name: good, source: wh, select: {table: gitlab_events}}
  - {name: bad, source: wh, select: {table: gitlab_bad_events, time_expr: "json_extract(jsontext, '$.data.failure.timestamp')"}}
`))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(cfg.Sources[0], cfg.NodesOf("wh"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	s.Now = func() time.Time { return t0.Add(10 * time.Minute) }
	return s
}

func TestGroupedCountsPerWindow(t *testing.T) {
	s := newSource(t, seed(t), "")
	r := source.Range{From: t0.Add(-5 * time.Minute), To: t0.Add(5 * time.Minute), Window: time.Minute}
	res, err := s.Refresh(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]map[time.Time]float64{}
	for _, se := range res.Series {
		if se.Bucketing != source.EventTime {
			t.Errorf("%s bucketed by %s", se.Node, se.Bucketing)
		}
		got[se.Node] = se.Counts
	}
	want := map[string]map[time.Time]float64{
		"good": {t0: 6, t0.Add(time.Minute): 3, t0.Add(-time.Minute): 0, t0.Add(4 * time.Minute): 0},
		"bad":  {t0: 1, t0.Add(time.Minute): 1, t0.Add(2 * time.Minute): 0},
	}
	for node, ws := range want {
		if len(got[node]) != 10 {
			t.Errorf("%s: %d windows, want all 10 of the range", node, len(got[node]))
		}
		for w, n := range ws {
			if v, ok := got[node][w]; !ok || v != n {
				t.Errorf("%s at %s = %v (present %v), want %v", node, w.Format("15:04"), v, ok, n)
			}
		}
	}
	latest := map[string]float64{}
	for _, g := range res.Gauges {
		if g.Name != metricname.WarehouseLatestLoad.Name {
			t.Errorf("gauge %s", g.Name)
		}
		latest[g.Labels[metricname.LabelTable]] = g.Value
	}
	if latest["gitlab_events"] != float64(t0.Add(3*time.Minute+time.Second).Unix()) || latest["gitlab_bad_events"] != float64(t0.Add(4*time.Minute).Unix()) {
		t.Errorf("latest loads %v", latest)
	}
	if q := s.Usage().Costs()["queries"]; q != 2 {
		t.Errorf("queries = %d, want one per table", q)
	}
}

func TestFindCanary(t *testing.T) {
	s := newSource(t, seed(t), "")
	at, ok, err := s.Find(context.Background(), "good", "b1")
	if err != nil || !ok || !at.Equal(t0.Add(3*time.Minute)) {
		t.Fatalf("Find = %s %v %v", at, ok, err)
	}
	if _, ok, err := s.Find(context.Background(), "good", "nope"); ok || err != nil {
		t.Fatalf("missing event: %v %v", ok, err)
	}
}

func TestRefusesAndFails(t *testing.T) {
	path := seed(t)
	cases := []struct{ yaml, want string }{
		{`{driver: oracle}`, `"oracle"`},
		{`{driver: snowflake, snowflake: {account: x}}`, "min_interval 5m0s"},
		{`{driver: sqlite}`, "path"},
	}
	for _, c := range cases {
		cfg, err := config.Parse(strings.NewReader("sources: [{name: wh, kind: warehouse, interval: 30s, warehouse: " + c.yaml + "}]"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := New(cfg.Sources[0], nil, nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want mention of %s", c.yaml, err, c.want)
		}
	}
	// A missing database is a refresh error naming the table, not a panic.
	s := newSource(t, filepath.Join(t.TempDir(), "missing.db"), "")
	if _, err := s.Refresh(context.Background(), source.Range{From: t0, To: t0.Add(time.Minute), Window: time.Minute}); err == nil || !strings.Contains(err.Error(), "gitlab_events") {
		t.Errorf("missing db: %v", err)
	}
	// The query timeout interrupts a slow query.
	cfg, err := config.Parse(strings.NewReader(`
sources: [{name: wh, kind: warehouse, interval: 30s, warehouse: {driver: sqlite, path: "` + path + `", query_timeout: 50ms}}]
nodes:
  - name: slow
    source: wh
    select:
      table: gitlab_events
      time_expr: "(WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c LIMIT 200000000) SELECT MAX(x) FROM c)"
`))
	if err != nil {
		t.Fatal(err)
	}
	slow, err := New(cfg.Sources[0], cfg.NodesOf("wh"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	start := time.Now()
	_, err = slow.Refresh(context.Background(), source.Range{From: t0, To: t0.Add(time.Minute), Window: time.Minute})
	if err == nil || time.Since(start) > 5*time.Second {
		t.Errorf("slow query not interrupted: %v after %s", err, time.Since(start))
	}
}

func TestSnowflakeSQLAndKey(t *testing.T) {
	q := CountQuery(DriverSnowflake, Select{Table: "RAW.SNOWPLOW.GITLAB_EVENTS", TimeColumn: "collector_tstamp", UploadedColumn: "uploaded_at"}, time.Hour)
	for _, want := range []string{"FLOOR(DATE_PART(EPOCH_SECOND, TO_TIMESTAMP_NTZ(collector_tstamp)) / 3600) * 3600", "FROM RAW.SNOWPLOW.GITLAB_EVENTS WHERE collector_tstamp >= ?", "MAX(up)", "GROUP BY w"} {
		if !strings.Contains(q, want) {
			t.Errorf("query %s lacks %s", q, want)
		}
	}
	k, _ := rsa.GenerateKey(rand.Reader, 2048)
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	pk, err := parseKey(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	if err != nil || !pk.Equal(k) {
		t.Fatalf("PKCS#8 key: %v", err)
	}
	if _, err := parseKey([]byte("not a key")); err == nil {
		t.Error("garbage key accepted")
	}
	if os.Getenv("SF_DISABLE_MINICORE") != "true" {
		t.Error("nominicore did not run before gosnowflake")
	}
}

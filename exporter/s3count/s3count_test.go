package s3count

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/plowline/plowline/exporter/config"
	"github.com/plowline/plowline/exporter/source"
)

const bucket = "events"

// fakeS3 starts gofakes3 in-process on 127.0.0.1 and returns a real SDK
// client for it.
func fakeS3(t testing.TB) (*s3.Client, string) {
	t.Helper()
	_, api, url := fakeS3Backend(t)
	return api, url
}

// fakeS3Backend is fakeS3 also returning the backend, to fill it fast.
func fakeS3Backend(t testing.TB) (*s3mem.Backend, *s3.Client, string) {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket(bucket); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend, gofakes3.WithLogger(gofakes3.DiscardLog())).Server())
	t.Cleanup(srv.Close)
	api, err := NewAPI(context.Background(), Settings{Region: "us-east-1", Endpoint: srv.URL, ForcePathStyle: true, Anonymous: true}, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	return backend, api.(*s3.Client), srv.URL
}

// tsvLine builds a 131-field enriched event line with realistic content.
func tsvLine(appID, eventID string, ts time.Time, i int) string {
	f := make([]string, 131)
	f[0], f[1], f[2], f[3], f[4], f[5], f[6] = appID, "web", ts.Add(2*time.Second).Format("2006-01-02 15:04:05.000"),
		ts.Format("2006-01-02 15:04:05.000"), ts.Add(-time.Second).Format("2006-01-02 15:04:05.000"), "page_view", eventID
	f[8], f[9], f[10], f[11] = "js-3.24.0", "js-3.24.0", "ssc-3.2.0-kinesis", "snowplow-enrich-kinesis-5.1.0"
	// Pseudonymized identifiers are HMAC-SHA256 hex: incompressible, as in
	// GitLab's bucket.
	f[12], f[13], f[15], f[17] = hmacLike(i, 1), hmacLike(i, 2), hmacLike(i%5000, 3), hmacLike(i%3000, 4)
	f[16] = fmt.Sprint(i % 40)
	f[45] = fmt.Sprintf("%d", 1+i%7)
	f[29] = fmt.Sprintf("https://gitlab.com/gitlab-org/gitlab/-/merge_requests/%d", i%100000)
	f[52] = `{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0","data":[{"schema":"iglu:com.gitlab/gitlab_standard/jsonschema/1-1-1","data":{"environment":"production","source":"gitlab-rails","plan":"free","namespace_id":` + fmt.Sprint(i%9000) + `,"project_id":` + fmt.Sprint(i%40000) + `}}]}`
	f[83] = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
	return strings.Join(f, "\t")
}

func hmacLike(i, salt int) string {
	h := sha256.Sum256([]byte(fmt.Sprint(i, "/", salt)))
	return hex.EncodeToString(h[:])
}

func gz(t testing.TB, s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.Bytes()
}

func put(t testing.TB, api *s3.Client, key string, body []byte) {
	t.Helper()
	if _, err := api.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
}

func newSource(t testing.TB, api API, stateFile string) *Source {
	t.Helper()
	cfg, err := config.Parse(strings.NewReader(`
window: 1m
lookback: 2h
sources:
  - name: lake
    kind: s3
    interval: 10s
    s3: {bucket: ` + bucket + `, state_file: "` + stateFile + `"}
nodes:
  - {name: good_records, source: lake, select: {prefix: output/}}
  - {name: good_objects, source: lake, select: {prefix: output/, count: objects}}
  - {name: good_bytes, source: lake, select: {prefix: output/, count: bytes}}
  - {name: bad_records, source: lake, select: {prefix: enriched-bad/, format: bad_rows}}
`))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(cfg.Sources[0], cfg.NodesOf("lake"), false, api, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func refresh(t testing.TB, s *Source, now time.Time) map[string]map[time.Time]float64 {
	t.Helper()
	r := source.Range{From: now.Truncate(time.Hour).Add(-2 * time.Hour), To: now.Truncate(time.Minute).Add(time.Minute), Window: time.Minute}
	res, err := s.Refresh(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[time.Time]float64{}
	for _, se := range res.Series {
		out[se.Node] = se.Counts
	}
	return out
}

func TestCountsRecordsOnceAcrossRestarts(t *testing.T) {
	api, _ := fakeS3(t)
	now := time.Now().UTC()
	hour := now.Format("2006/01/02/15/")
	w1 := now.Truncate(time.Minute).Add(-2 * time.Minute)
	w2 := w1.Add(time.Minute)
	var lines []string
	for i := 0; i < 3; i++ {
		lines = append(lines, tsvLine("gitlab", fmt.Sprintf("e%d", i), w1.Add(time.Duration(i)*time.Second), i))
	}
	lines = append(lines, tsvLine("gitlab", "e3", w2.Add(30*time.Second), 3), tsvLine(CanaryAppID, "canary-1", w2.Add(31*time.Second), 4))
	a := gz(t, strings.Join(lines, "\n")+"\n")
	put(t, api, "output/"+hour+"a.gz", a)
	plain := tsvLine("gitlab", "e5", w2, 5) // no trailing newline, not compressed
	put(t, api, "output/"+hour+"b", []byte(plain))
	bad := fmt.Sprintf(`{"schema":"iglu:com.snowplowanalytics.snowplow.badrows/schema_violations/jsonschema/2-0-0","data":{"failure":{"timestamp":%q}}}`+"\n", w1.Add(5*time.Second).Format(time.RFC3339Nano)) +
		`{"schema":"iglu:com.snowplowanalytics.snowplow.badrows/generic_error/jsonschema/1-0-0","data":{"failure":{"timestamp":"` + w2.Format("2006-01-02T15:04:05.000Z") + `"}}}` + "\n"
	put(t, api, "enriched-bad/"+hour+"c.gz", gz(t, bad))

	stateFile := filepath.Join(t.TempDir(), "s3.json")
	s := newSource(t, api, stateFile)
	c := refresh(t, s, now)
	check := func(node string, w time.Time, want float64) {
		t.Helper()
		if got, ok := c[node][w]; !ok || got != want {
			t.Errorf("%s at %s = %v (present %v), want %v", node, w.Format("15:04"), got, ok, want)
		}
	}
	check("good_records", w1, 3)
	check("good_records", w2, 3) // e3, the canary, e5
	check("good_records", w1.Add(-10*time.Minute), 0)
	check("bad_records", w1, 1)
	check("bad_records", w2, 1)
	check("good_objects", now.Truncate(time.Minute), 2)
	check("good_bytes", now.Truncate(time.Minute), float64(len(a)+len(plain)))
	if _, ok := s.CanarySeen("canary-1"); !ok {
		t.Error("canary event not noticed")
	}
	read := s.Usage().Costs()["bytes_read"]
	if want := int64(len(a) + len(plain) + len(gz(t, bad))); read != want {
		t.Errorf("bytes_read = %d, want %d", read, want)
	}

	// Second pass: nothing new, nothing read.
	refresh(t, s, now)
	if again := s.Usage().Costs()["bytes_read"]; again != read {
		t.Errorf("second pass read %d bytes", again-read)
	}
	// A restarted exporter remembers every object.
	s.Close() // the first exporter stops and releases the state file
	s2 := newSource(t, api, stateFile)
	c = refresh(t, s2, now)
	if n := s2.Usage().Costs()["bytes_read"]; n != 0 {
		t.Errorf("after restart read %d bytes, want 0", n)
	}
	check("good_records", w1, 3)
	check("good_records", w2, 3)

	// A rewritten object (new ETag) is read again and replaces its counts.
	put(t, api, "output/"+hour+"b", gz(t, plain+"\n"+tsvLine("gitlab", "e6", w1, 6)+"\n"))
	c = refresh(t, s2, now)
	check("good_records", w1, 4)
	check("good_records", w2, 3)
}

func TestReadBudgetLeavesWindowsUnknown(t *testing.T) {
	api, _ := fakeS3(t)
	now := time.Now().UTC()
	hour := now.Format("2006/01/02/15/")
	put(t, api, "output/"+hour+"a.gz", gz(t, tsvLine("gitlab", "x", now.Truncate(time.Minute), 1)+"\n"))
	s := newSource(t, api, "")
	s.set.ReadBudget = -1 // already spent: nothing is read this refresh
	c := refresh(t, s, now)
	if _, ok := c["good_records"][now.Truncate(time.Minute)]; ok {
		t.Error("window with an unread object reported as known")
	}
	if _, ok := c["good_records"][now.Truncate(time.Hour).Add(-2*time.Hour)]; !ok {
		t.Error("window long before the unread object should be known")
	}
	s.set.ReadBudget = time.Minute
	c = refresh(t, s, now)
	if got := c["good_records"][now.Truncate(time.Minute)]; got != 1 {
		t.Errorf("after reading: %v", got)
	}
}

func TestFailingS3IsAnError(t *testing.T) {
	api, url := fakeS3(t)
	_ = url
	s := newSource(t, api, "")
	s.set.Bucket = "no-such-bucket"
	_, err := s.Refresh(context.Background(), source.Range{From: time.Now().Add(-time.Hour), To: time.Now(), Window: time.Minute})
	if err == nil || !strings.Contains(err.Error(), "no-such-bucket") {
		t.Fatalf("err = %v", err)
	}
}

func TestParseStampMatchesTime(t *testing.T) {
	for _, s := range []string{"1970-01-01 00:00:00", "2026-02-28 23:59:59", "2024-02-29 12:00:00", "2000-03-01 00:00:01", "2099-12-31 23:59:59"} {
		want, _ := time.Parse("2006-01-02 15:04:05", s)
		got, ok := parseStamp([]byte(s))
		if !ok || got != want.Unix() {
			t.Errorf("%s: %d %v, want %d", s, got, ok, want.Unix())
		}
	}
	for _, s := range []string{"2026-13-01 00:00:00", "2026-01-01X00:00:00", "2026-01-01 0a:00:00"} {
		if _, ok := parseStamp([]byte(s)); ok {
			t.Errorf("%s accepted", s)
		}
	}
}

// FuzzCount: any object body is counted without panicking, and every
// non-empty line is counted exactly once.
func FuzzCount(f *testing.F) {
	f.Add([]byte(tsvLine("a", "b", time.Unix(0, 0).UTC(), 1)+"\n\n"), false)
	f.Add([]byte("x\ty\tz\t2026-01-01 00:00:00.000\n"), true)
	f.Add([]byte(`{"data":{"failure":{"timestamp":"2026-01-01T00:00:00Z"}}}`), false)
	f.Fuzz(func(t *testing.T, body []byte, bad bool) {
		format := FormatTSV
		if bad {
			format = FormatBad
		}
		c, err := Count(bytes.NewReader(body), format, 60, time.Unix(0, 0))
		if err != nil {
			if len(body) >= 2 && body[0] == 0x1f && body[1] == 0x8b {
				return // a broken gzip stream is an error, not a count
			}
			t.Fatal(err)
		}
		var total, want int64
		for _, w := range c.windows {
			total += w[1]
		}
		for _, l := range bytes.Split(body, []byte("\n")) {
			if len(bytes.TrimRight(l, "\r")) > 0 {
				want++
			}
		}
		if total != want {
			t.Fatalf("counted %d, want %d", total, want)
		}
	})
}

func TestCollectorPartitionLayout(t *testing.T) {
	api, _ := fakeS3(t)
	now := time.Now().UTC()
	w := now.Truncate(time.Minute)
	put(t, api, "output/"+now.Format("collector_date=2006-01-02/collector_hour=15/")+"a.gz", gz(t, tsvLine("gitlab", "x", w, 1)+"\n"+tsvLine("gitlab", "y", w, 2)+"\n"))
	put(t, api, "output/"+now.Format("2006/01/02/15/")+"hourly.gz", gz(t, tsvLine("gitlab", "z", w, 3)+"\n"))
	s := newSource(t, api, "")
	s.set.Layout = LayoutCollectorPartitions
	if got := refresh(t, s, now)["good_records"][w]; got != 2 {
		t.Errorf("collector_partitions layout counted %v, want the 2 records under collector_date=/collector_hour=", got)
	}
	cfg, _ := config.Parse(strings.NewReader("sources: [{name: l, kind: s3, interval: 1m, s3: {bucket: b, layout: daily}}]"))
	if _, err := New(cfg.Sources[0], nil, false, api, nil); err == nil || !strings.Contains(err.Error(), `layout: "daily"`) {
		t.Errorf("bad layout: %v", err)
	}
}

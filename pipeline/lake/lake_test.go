package lake

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/klauspost/compress/gzip"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/plowline/plowline/metricname"
	"github.com/plowline/plowline/pipeline/badrow"
	"github.com/plowline/plowline/pipeline/event"
	"github.com/plowline/plowline/pipeline/stream"
)

const testBucket = "plowline-test"

func startS3(t *testing.T, dir string) *LocalS3 {
	t.Helper()
	s, err := StartLocalS3(dir, testBucket, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

// tsvLine returns a valid 131-field line whose event_id is id.
func tsvLine(id string) []byte {
	var e event.Event
	e[event.AppID] = "gitlab"
	e[event.EventID] = id
	e[event.EventType] = "page_view"
	e[event.CollectorTstamp] = "2026-11-26 18:00:00.000"
	return []byte(strings.Join(e[:], "\t"))
}

func records(lines ...[]byte) []stream.Record {
	out := make([]stream.Record, len(lines))
	for i, l := range lines {
		out[i] = stream.Record{Data: l}
	}
	return out
}

func listKeys(t *testing.T, c *s3.Client, prefix string) []string {
	t.Helper()
	out, err := c.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(testBucket), Prefix: aws.String(prefix)})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	return keys
}

func getObject(t *testing.T, c *s3.Client, key string) []byte {
	t.Helper()
	out, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Body.Close()
	zr, err := gzip.NewReader(out.Body)
	if err != nil {
		t.Fatalf("%s is not gzip: %v", key, err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func count(t *testing.T, wh *Warehouse, q string) int {
	t.Helper()
	var n int
	if err := wh.DB.QueryRow(q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func TestWriterNamesObjectsLikeFirehoseAndFlushesOnClose(t *testing.T) {
	dir := t.TempDir()
	s := startS3(t, dir)
	cfg := DefaultWriterConfig(testBucket, PrefixOutput, "snowplow-good")
	at := time.Date(2026, 11, 26, 7, 4, 5, 0, time.FixedZone("CET", 3600))
	cfg.Now = func() time.Time { return at }
	var notified []string
	cfg.OnPut = func(key string, n int) { notified = append(notified, key) }
	reg := prometheus.NewRegistry()
	w, err := NewWriter(cfg, s.Client(), NewWriterMetrics(reg), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Put(context.Background(), records([]byte("a"), []byte("b\n"), []byte(""))); err != nil {
		t.Fatal(err)
	}
	if keys := listKeys(t, s.Client(), ""); len(keys) != 0 {
		t.Fatalf("objects written before the buffer was full or old: %v", keys)
	}
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	keys := listKeys(t, s.Client(), "")
	if len(keys) != 1 {
		t.Fatalf("want one object after Close, got %v", keys)
	}
	// Arrival time in UTC (06:04:05Z), the stream's name, a UUID.
	re := regexp.MustCompile(`^output/2026/11/26/06/snowplow-good-1-2026-11-26-06-04-05-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\.gz$`)
	if !re.MatchString(keys[0]) {
		t.Errorf("object key %q does not follow Firehose's naming", keys[0])
	}
	if got := string(getObject(t, s.Client(), keys[0])); got != "a\nb\n\n" {
		t.Errorf("object holds %q, want each record newline-terminated", got)
	}
	if len(notified) != 1 || notified[0] != keys[0] {
		t.Errorf("OnPut saw %v, want %v", notified, keys)
	}
	if got := testutil.ToFloat64(w.recordsOut); got != 3 {
		t.Errorf("%s = %v, want 3", metricname.LakeRecordsWritten.Name, got)
	}
	if err := w.Put(context.Background(), records([]byte("late"))); !errors.Is(err, stream.ErrClosed) {
		t.Errorf("Put after Close: %v, want ErrClosed", err)
	}
}

func TestWriterFlushesBySizeAndByTime(t *testing.T) {
	s := startS3(t, t.TempDir())
	cfg := DefaultWriterConfig(testBucket, PrefixRawBad, "raw-bad")
	cfg.BufferBytes = 100
	cfg.BufferInterval = 200 * time.Millisecond
	w, err := NewWriter(cfg, s.Client(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(context.Background())
	line := bytes.Repeat([]byte("x"), 39) // 40 bytes with its newline
	if err := w.Put(context.Background(), records(line, line, line, line, line)); err != nil {
		t.Fatal(err)
	}
	// 5 records of 40 bytes with a 100-byte buffer: two full buffers of
	// three records go out without waiting (the 3rd record crosses 100).
	deadline := time.Now().Add(5 * time.Second)
	for len(listKeys(t, s.Client(), PrefixRawBad)) < 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := len(listKeys(t, s.Client(), PrefixRawBad)); n != 1 {
		t.Fatalf("after a size-triggered flush: %d objects, want 1", n)
	}
	// The remaining two records go out once the interval passes, without Close.
	for len(listKeys(t, s.Client(), PrefixRawBad)) < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	keys := listKeys(t, s.Client(), PrefixRawBad)
	if len(keys) != 2 {
		t.Fatalf("after the buffer interval: %d objects, want 2", len(keys))
	}
	total := 0
	for _, k := range keys {
		total += bytes.Count(getObject(t, s.Client(), k), []byte("\n"))
	}
	if total != 5 {
		t.Errorf("objects hold %d records, want 5", total)
	}
}

func TestWriterConfigRefusesFirehoseOutOfRangeValues(t *testing.T) {
	for _, mod := range []func(*WriterConfig){
		func(c *WriterConfig) { c.BufferBytes = MaxBufferBytes + 1 },
		func(c *WriterConfig) { c.BufferBytes = 0 },
		func(c *WriterConfig) { c.BufferInterval = 901 * time.Second },
		func(c *WriterConfig) { c.Prefix = "output" },
	} {
		c := DefaultWriterConfig(testBucket, PrefixOutput, "x")
		mod(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("config %+v accepted", c)
		}
	}
}

// flakyPutter fails the first n puts.
type flakyPutter struct {
	ObjectPutter
	fail  atomic.Int32
	calls atomic.Int32
}

func (f *flakyPutter) PutObject(ctx context.Context, in *s3.PutObjectInput, o ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	f.calls.Add(1)
	if f.fail.Add(-1) >= 0 {
		return nil, errors.New("503 SlowDown")
	}
	return f.ObjectPutter.PutObject(ctx, in, o...)
}

func TestWriterRetriesFailedPutsAndReportsWhatItCouldNotDeliver(t *testing.T) {
	s := startS3(t, t.TempDir())
	fp := &flakyPutter{ObjectPutter: s.Client()}
	fp.fail.Store(2)
	cfg := DefaultWriterConfig(testBucket, PrefixOutput, "good")
	cfg.RetryBackoff = time.Millisecond
	w, err := NewWriter(cfg, fp, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Put(context.Background(), records([]byte("one"), []byte("two")))
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := fp.calls.Load(); got != 3 {
		t.Errorf("%d put attempts, want 3 (two failures, one success)", got)
	}
	if keys := listKeys(t, s.Client(), ""); len(keys) != 1 {
		t.Fatalf("want the batch stored once after retries, got %v", keys)
	}

	// A store that never recovers: Close gives up at its deadline and says
	// how many records it could not deliver.
	fp2 := &flakyPutter{ObjectPutter: s.Client()}
	fp2.fail.Store(1 << 30)
	w2, _ := NewWriter(cfg, fp2, nil, nil)
	w2.Put(context.Background(), records([]byte("x"), []byte("y"), []byte("z")))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err = w2.Close(ctx)
	if err == nil || !strings.Contains(err.Error(), "3 records not delivered") {
		t.Fatalf("Close with a dead store: %v, want it to count 3 undelivered records", err)
	}
	if used, _ := w2.Buffered(); used != 0 {
		t.Errorf("buffer accounts %d bytes after Close", used)
	}
}

func TestWriterConcurrentPutsLoseNothing(t *testing.T) {
	s := startS3(t, t.TempDir())
	cfg := DefaultWriterConfig(testBucket, PrefixOutput, "good")
	cfg.BufferBytes = 1000
	cfg.BufferInterval = 5 * time.Millisecond
	w, _ := NewWriter(cfg, s.Client(), nil, nil)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 250; i++ {
				w.Put(context.Background(), records([]byte(fmt.Sprintf("g%d-%d", g, i))))
			}
		}()
	}
	wg.Wait()
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, k := range listKeys(t, s.Client(), "") {
		for _, l := range splitLines(getObject(t, s.Client(), k)) {
			seen[string(l)]++
		}
	}
	if len(seen) != 1000 {
		t.Fatalf("%d distinct records stored, want 1000", len(seen))
	}
	for r, n := range seen {
		if n != 1 {
			t.Fatalf("record %s stored %d times", r, n)
		}
	}
}

func TestLoaderLoadsEachObjectExactlyOnceAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	s := startS3(t, dir)
	dbPath := filepath.Join(dir, "warehouse.db")
	wh, err := OpenWarehouse(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	ld, err := NewLoader(LoaderConfig{Bucket: testBucket}, wh, s.Client(), prometheus.NewRegistry(), nil)
	if err != nil {
		t.Fatal(err)
	}
	put := func(prefix string, lines ...[]byte) {
		cfg := DefaultWriterConfig(testBucket, prefix, "d")
		cfg.OnPut = func(key string, _ int) { ld.Notify(key) }
		w, err := NewWriter(cfg, s.Client(), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		w.Put(context.Background(), records(lines...))
		if err := w.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	short := []byte("app\tonly-three\tfields")
	put(PrefixOutput, tsvLine("e1"), tsvLine("e2"), short)
	put(PrefixEnrichedBad, []byte(`{"schema":"iglu:com.snowplowanalytics.snowplow.badrows/schema_violations/jsonschema/2-0-0","data":{}}`))
	put(PrefixRawBad, []byte(`{"schema":"iglu:com.snowplowanalytics.snowplow.badrows/size_violation/jsonschema/1-0-0","data":{}}`))
	put(PrefixProcessingFailed, []byte(`{"errorCode":"x"}`))
	if n, err := ld.LoadPending(context.Background()); err != nil || n != 4 {
		t.Fatalf("LoadPending = %d, %v; want 4 objects", n, err)
	}
	if got := count(t, wh, "SELECT COUNT(*) FROM gitlab_events"); got != 2 {
		t.Errorf("gitlab_events has %d rows, want 2", got)
	}
	if got := count(t, wh, "SELECT COUNT(*) FROM gitlab_events WHERE event_id='e2' AND app_id='gitlab' AND user_id IS NULL AND uploaded_at IS NOT NULL"); got != 1 {
		t.Errorf("event e2 not loaded with empty fields as NULL")
	}
	if got := count(t, wh, "SELECT COUNT(*) FROM gitlab_bad_events"); got != 3 {
		t.Errorf("gitlab_bad_events has %d rows, want 3 (two bad rows, one rejected line; processing-failed not loaded)", got)
	}
	var js string
	if err := wh.DB.QueryRow("SELECT jsontext FROM gitlab_bad_events WHERE jsontext LIKE '%generic_error%'").Scan(&js); err != nil {
		t.Fatalf("the short line is not in gitlab_bad_events as a generic_error: %v", err)
	}
	br, err := badrow.Parse([]byte(js))
	if err != nil || badrow.TypeOf(br.Schema) != "generic_error" || !strings.Contains(js, "only-three") || !strings.Contains(js, "3 tab-separated fields") {
		t.Errorf("rejected line's bad row %s: %v", js, err)
	}

	// Restart: a new loader over the same database and store, a full scan,
	// and notifications of already loaded keys load nothing again.
	ld.Close()
	wh.Close()
	wh2, err := OpenWarehouse(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer wh2.Close()
	ld2, err := NewLoader(LoaderConfig{Bucket: testBucket}, wh2, s.Client(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ld2.Scan(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n, err := ld2.LoadPending(context.Background()); err != nil || n != 0 {
		t.Fatalf("after restart LoadPending = %d, %v; want nothing loaded twice", n, err)
	}
	// An object written while the loader was down is found by the scan.
	cfg := DefaultWriterConfig(testBucket, PrefixOutput, "d")
	w, _ := NewWriter(cfg, s.Client(), nil, nil)
	w.Put(context.Background(), records(tsvLine("e3")))
	w.Close(context.Background())
	ld2.Scan(context.Background())
	if n, err := ld2.LoadPending(context.Background()); err != nil || n != 1 {
		t.Fatalf("scan after an unnotified put loaded %d, %v; want 1", n, err)
	}
	if got := count(t, wh2, "SELECT COUNT(*) FROM gitlab_events"); got != 3 {
		t.Errorf("gitlab_events has %d rows, want 3", got)
	}
}

// failingStore fails every GetObject.
type failingStore struct{ ObjectStore }

func (failingStore) GetObject(context.Context, *s3.GetObjectInput, ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	return nil, errors.New("connection reset")
}

func TestLoaderKeepsFailedObjectsQueued(t *testing.T) {
	dir := t.TempDir()
	s := startS3(t, dir)
	wh, _ := OpenWarehouse(filepath.Join(dir, "w.db"))
	defer wh.Close()
	bad, _ := NewLoader(LoaderConfig{Bucket: testBucket}, wh, failingStore{s.Client()}, nil, nil)
	w, _ := NewWriter(DefaultWriterConfig(testBucket, PrefixOutput, "d"), s.Client(), nil, nil)
	w.Put(context.Background(), records(tsvLine("e1")))
	w.Close(context.Background())
	bad.Scan(context.Background())
	if _, err := bad.LoadPending(context.Background()); err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("LoadPending with a failing store: %v", err)
	}
	if bad.Pending() != 1 {
		t.Fatalf("failed object not kept queued (pending %d)", bad.Pending())
	}
	if got := count(t, wh, "SELECT COUNT(*) FROM "+TableLoaded); got != 0 {
		t.Errorf("a failed object was recorded as loaded")
	}
}

func TestReadOnlyWarehouseRefusesWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.db")
	wh, err := OpenWarehouse(path)
	if err != nil {
		t.Fatal(err)
	}
	defer wh.Close()
	ro, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if _, err := ro.Exec("DELETE FROM gitlab_events"); err == nil {
		t.Fatal("read-only connection deleted rows")
	}
	var n int
	if err := ro.QueryRow("SELECT COUNT(*) FROM gitlab_bad_events").Scan(&n); err != nil {
		t.Fatal(err)
	}
}

func TestLocalS3RefusesASecondProcessOnTheSameDataDir(t *testing.T) {
	dir := t.TempDir()
	startS3(t, dir)
	if _, err := StartLocalS3(dir, testBucket, nil); err == nil || !strings.Contains(err.Error(), "another plowline process") {
		t.Fatalf("second store on the same directory: %v", err)
	}
}

// TestLoaderRecordsUnreadableObjectsAndMovesOn: a corrupt object cannot
// block the queue; it becomes one generic_error bad row naming it.
func TestLoaderRecordsUnreadableObjectsAndMovesOn(t *testing.T) {
	dir := t.TempDir()
	s := startS3(t, dir)
	wh, _ := OpenWarehouse(filepath.Join(dir, "w.db"))
	defer wh.Close()
	ld, _ := NewLoader(LoaderConfig{Bucket: testBucket}, wh, s.Client(), nil, nil)
	if _, err := s.Client().PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(testBucket),
		Key: aws.String(PrefixOutput + "2026/11/26/00/corrupt.gz"), Body: strings.NewReader("not gzip at all")}); err != nil {
		t.Fatal(err)
	}
	w, _ := NewWriter(DefaultWriterConfig(testBucket, PrefixOutput, "d"), s.Client(), nil, nil)
	w.Put(context.Background(), records(tsvLine("after-corrupt")))
	w.Close(context.Background())
	ld.Scan(context.Background())
	ld.Notify(PrefixOutput + "gone.gz") // notified, then never there
	if n, err := ld.LoadPending(context.Background()); err != nil || n != 3 {
		t.Fatalf("LoadPending = %d, %v; want the corrupt, the missing and the good object handled", n, err)
	}
	if got := count(t, wh, "SELECT COUNT(*) FROM gitlab_events WHERE event_id = 'after-corrupt'"); got != 1 {
		t.Error("the object after the corrupt one was not loaded")
	}
	if got := count(t, wh, "SELECT COUNT(*) FROM gitlab_bad_events WHERE jsontext LIKE '%generic_error%' AND (jsontext LIKE '%corrupt.gz%' OR jsontext LIKE '%gone.gz%')"); got != 2 {
		t.Errorf("%d generic_error rows name the unreadable objects, want 2", got)
	}
}

// TestLocalS3ListsLikeS3 checks the listing the embedded store serves
// (its own, which skips object contents) against the keys put: prefixes,
// delimiters, pagination, sizes.
func TestLocalS3ListsLikeS3(t *testing.T) {
	s := startS3(t, t.TempDir())
	c := s.Client()
	var keys []string
	for _, k := range []string{"a/1", "a/2", "b/x/1", "b/x/2", "b/x/3", "b/y/1", "b/z", "ba", "c"} {
		keys = append(keys, k)
	}
	for i := 0; i < 12; i++ {
		keys = append(keys, fmt.Sprintf("output/2026/11/26/%02d/o-%02d.gz", i%3, i))
	}
	for _, k := range keys {
		if _, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String(k), Body: strings.NewReader(k + "-body")}); err != nil {
			t.Fatal(err)
		}
	}
	list := func(prefix, delim string, maxKeys int32) (objs, prefixes []string) {
		in := &s3.ListObjectsV2Input{Bucket: aws.String(testBucket), Prefix: aws.String(prefix), MaxKeys: aws.Int32(maxKeys)}
		if delim != "" {
			in.Delimiter = aws.String(delim)
		}
		p := s3.NewListObjectsV2Paginator(c, in)
		for p.HasMorePages() {
			page, err := p.NextPage(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range page.Contents {
				if aws.ToInt64(o.Size) != int64(len(aws.ToString(o.Key))+len("-body")) {
					t.Errorf("%s: size %d", aws.ToString(o.Key), aws.ToInt64(o.Size))
				}
				objs = append(objs, aws.ToString(o.Key))
			}
			for _, cp := range page.CommonPrefixes {
				prefixes = append(prefixes, aws.ToString(cp.Prefix))
			}
		}
		return objs, prefixes
	}
	want := func(prefix string) []string {
		var out []string
		for _, k := range keys {
			if strings.HasPrefix(k, prefix) {
				out = append(out, k)
			}
		}
		sort.Strings(out)
		return out
	}
	for _, tc := range []struct {
		prefix string
		max    int32
	}{{"", 1000}, {"", 4}, {"b/", 2}, {"output/", 5}, {"output/2026/11/26/01/", 1}, {"nothing/", 10}} {
		got, _ := list(tc.prefix, "", tc.max)
		if fmt.Sprint(got) != fmt.Sprint(want(tc.prefix)) {
			t.Errorf("list %q max %d: %v, want %v", tc.prefix, tc.max, got, want(tc.prefix))
		}
	}
	objs, prefixes := list("b/", "/", 1000)
	if fmt.Sprint(objs) != "[b/z]" || fmt.Sprint(prefixes) != "[b/x/ b/y/]" {
		t.Errorf("delimited list of b/: objects %v, prefixes %v", objs, prefixes)
	}
	objs, prefixes = list("", "/", 2)
	if fmt.Sprint(objs) != "[ba c]" || fmt.Sprint(prefixes) != "[a/ b/ output/]" {
		t.Errorf("paged delimited root list: objects %v, prefixes %v", objs, prefixes)
	}
}

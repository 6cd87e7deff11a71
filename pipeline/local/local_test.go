package local

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/klauspost/compress/gzip"

	"github.com/plowline/plowline/pipeline/demo"
	"github.com/plowline/plowline/pipeline/fault"
	"github.com/plowline/plowline/pipeline/lake"
	"github.com/plowline/plowline/pipeline/stream"
)

func testConfig(t testing.TB, dir string) Config {
	cfg := DefaultConfig()
	cfg.DataDir = dir
	cfg.CollectorAddress = "127.0.0.1:0"
	cfg.WebAddress = "127.0.0.1:0"
	cfg.BufferInterval = 200 * time.Millisecond
	return cfg
}

func queryInt(t testing.TB, db *sql.DB, q string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// send posts batches of demo events and returns the ids of the valid and
// invalid ones.
func send(t testing.TB, url string, batches, size int, invalid float64) (valid, bad []string) {
	t.Helper()
	b := demo.NewBuilder(42, invalid)
	for i := 0; i < batches; i++ {
		body, _, _ := b.Batch(size)
		if err := demo.Post(context.Background(), http.DefaultClient, url, body); err != nil {
			t.Fatal(err)
		}
		for j, id := range b.LastIDs {
			if b.LastValid[j] {
				valid = append(valid, id)
			} else {
				bad = append(bad, id)
			}
		}
	}
	return valid, bad
}

func TestPipelineDeliversEveryEventAndSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	p, err := Start(testConfig(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	valid, bad := send(t, p.Info().CollectorURL, 20, 10, 0.2)
	if len(bad) == 0 || len(valid) == 0 {
		t.Fatalf("demo sent %d valid and %d invalid events; want both", len(valid), len(bad))
	}
	resp, err := http.Get(p.Info().MetricsURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	db, err := lake.OpenReadOnly(filepath.Join(dir, WarehouseFile))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got := queryInt(t, db, "SELECT COUNT(*) FROM gitlab_events"); got != len(valid) {
		t.Errorf("gitlab_events has %d rows, want the %d valid events", got, len(valid))
	}
	if got := queryInt(t, db, "SELECT COUNT(DISTINCT event_id) FROM gitlab_events WHERE event_id IN ('"+strings.Join(valid, "','")+"')"); got != len(valid) {
		t.Errorf("%d of %d valid event ids found in gitlab_events", got, len(valid))
	}
	if got := queryInt(t, db, "SELECT COUNT(*) FROM gitlab_bad_events"); got != len(bad) {
		t.Errorf("gitlab_bad_events has %d rows, want the %d invalid events", got, len(bad))
	}
	// Pseudonymized: user ids are 64-hex HMACs, never the clear number.
	if got := queryInt(t, db, "SELECT COUNT(*) FROM gitlab_events WHERE length(user_id) != 64"); got != 0 {
		t.Errorf("%d rows with a user_id that is not an HMAC", got)
	}
	db.Close()

	// Restart on the same data directory: nothing is loaded twice, and new
	// events are added.
	p2, err := Start(testConfig(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	valid2, _ := send(t, p2.Info().CollectorURL, 2, 10, 0)
	if err := p2.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	db, _ = lake.OpenReadOnly(filepath.Join(dir, WarehouseFile))
	defer db.Close()
	if got := queryInt(t, db, "SELECT COUNT(*) FROM gitlab_events"); got != len(valid)+len(valid2) {
		t.Errorf("after restart gitlab_events has %d rows, want %d", got, len(valid)+len(valid2))
	}
}

func TestFaultDropsAreCountedAndMissingDownstream(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	rules, err := fault.ParseRules([]string{"drop 0.5 enriched-good>pseudonymizer"})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Faults = rules
	p, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	valid, _ := send(t, p.Info().CollectorURL, 10, 10, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	dropped := int(p.Faults().Counts()[0].Changed)
	if dropped == 0 || dropped == len(valid) {
		t.Fatalf("dropped %d of %d at fraction 0.5", dropped, len(valid))
	}
	db, _ := lake.OpenReadOnly(filepath.Join(dir, WarehouseFile))
	defer db.Close()
	if got := queryInt(t, db, "SELECT COUNT(*) FROM gitlab_events"); got != len(valid)-dropped {
		t.Errorf("gitlab_events has %d rows; %d sent - %d dropped = %d", got, len(valid), dropped, len(valid)-dropped)
	}
}

// TestPseudonymizerRejectsGoToProcessingFailed: a record the pseudonymizer
// cannot parse is written, as Firehose writes it, under processing-failed/
// (original data base64, with the error) and is not loaded.
func TestPseudonymizerRejectsGoToProcessingFailed(t *testing.T) {
	dir := t.TempDir()
	p, err := Start(testConfig(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	broken := []byte(`{"schema":"iglu:com.snowplowanalytics.snowplow.badrows/generic_error/jsonschema/1-0-0","data":{"payload":"secret-user@example.com"`)
	if err := p.enrBad.Put(context.Background(), []stream.Record{{Data: broken}}); err != nil {
		t.Fatal(err)
	}
	client := p.s3.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Keep the store up after the drain to read it: list before closing.
	p.collSrv.Shutdown(ctx)
	p.coll.Shutdown(ctx)
	p.enrichWG.Wait()
	p.enrGood.Close(ctx)
	p.enrBad.Close(ctx)
	p.deliveryWG.Wait()
	for _, d := range p.deliveries {
		d.writer.Close(ctx)
		d.failed.Close(ctx)
	}
	out, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(DefaultBucket), Prefix: aws.String(lake.PrefixProcessingFailed)})
	if err != nil || len(out.Contents) != 1 {
		t.Fatalf("processing-failed/ holds %d objects (%v), want 1", len(out.Contents), err)
	}
	key := aws.ToString(out.Contents[0].Key)
	if !strings.HasPrefix(key, "processing-failed/") || !strings.Contains(key, "/snowplow-enriched-bad-1-") {
		t.Errorf("key %s", key)
	}
	obj, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(DefaultBucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(obj.Body)
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		ErrorCode, ErrorMessage, RawData string
	}
	if err := json.NewDecoder(zr).Decode(&rec); err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.StdEncoding.DecodeString(rec.RawData)
	if rec.ErrorCode != "Lambda.ProcessingFailedStatus" || string(raw) != string(broken) || strings.Contains(rec.ErrorMessage, "secret-user") {
		t.Errorf("processing-failed record %+v (raw %q)", rec, raw)
	}
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	db, _ := lake.OpenReadOnly(filepath.Join(dir, WarehouseFile))
	defer db.Close()
	if n := queryInt(t, db, "SELECT COUNT(*) FROM gitlab_bad_events WHERE jsontext LIKE '%secret-user%'"); n != 0 {
		t.Error("an unpseudonymized record reached the warehouse")
	}
}

// TestStartFailureStopsWhatItStarted: a busy collector address fails Start
// with the address named, and releases the data directory.
func TestStartFailureStopsWhatItStarted(t *testing.T) {
	dir := t.TempDir()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cfg := testConfig(t, dir)
	cfg.CollectorAddress = busy.Addr().String()
	if _, err := Start(cfg); err == nil || !strings.Contains(err.Error(), busy.Addr().String()) {
		t.Fatalf("Start on a busy address: %v", err)
	}
	// The object store's lock is released: a second Start works.
	p, err := Start(testConfig(t, dir))
	if err != nil {
		t.Fatalf("data directory still held after a failed start: %v", err)
	}
	p.Shutdown(context.Background())
}

// TestStartRefusesLostOrDamagedState: once the warehouse has rows, a
// missing or empty HMAC key or an emptied object store stops the start with
// an error naming the file and the way out; the flags accept it; a damaged
// warehouse is named too.
func TestStartRefusesLostOrDamagedState(t *testing.T) {
	dir := t.TempDir()
	p, err := Start(testConfig(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	send(t, p.Info().CollectorURL, 2, 5, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	keyPath := filepath.Join(dir, KeyFile)
	key, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	refused := func(what string, cfg Config, wantInErr ...string) {
		t.Helper()
		p, err := Start(cfg)
		if err == nil {
			p.Shutdown(ctx)
			t.Fatalf("%s: started", what)
		}
		for _, w := range wantInErr {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not mention %q", what, err, w)
			}
		}
	}
	for _, damage := range []func(){func() { os.Remove(keyPath) }, func() { os.WriteFile(keyPath, nil, 0o600) }} {
		damage()
		refused("key lost", testConfig(t, dir), keyPath, "--allow-new-key")
	}
	os.Remove(keyPath)
	cfg := testConfig(t, dir)
	cfg.AllowNewKey = true
	p, err = Start(cfg)
	if err != nil {
		t.Fatalf("--allow-new-key: %v", err)
	}
	p.Shutdown(ctx)
	if k, _ := os.ReadFile(keyPath); len(k) == 0 || string(k) == string(key) {
		t.Errorf("--allow-new-key did not make a new key")
	}

	bucketDir := filepath.Join(dir, lake.ObjectStoreDir, DefaultBucket)
	if err := os.RemoveAll(bucketDir); err != nil {
		t.Fatal(err)
	}
	refused("store lost", testConfig(t, dir), bucketDir, "--allow-empty-object-store")
	cfg = testConfig(t, dir)
	cfg.AllowEmptyObjectStore = true
	p, err = Start(cfg)
	if err != nil {
		t.Fatalf("--allow-empty-object-store: %v", err)
	}
	p.Shutdown(ctx)

	whPath := filepath.Join(dir, WarehouseFile)
	os.Remove(whPath + "-wal")
	os.Remove(whPath + "-shm")
	if err := os.WriteFile(whPath, []byte("this is not an SQLite database, it is damage"), 0o600); err != nil {
		t.Fatal(err)
	}
	refused("warehouse damaged", testConfig(t, dir), whPath, "backup")
}

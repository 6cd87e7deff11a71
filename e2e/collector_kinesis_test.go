package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plowline/plowline/metricname"
	"github.com/plowline/plowline/testkit"
)

// loadRequest is one tp2 POST of the load loop and how it was answered.
type loadRequest struct {
	eids   []string
	status int // 0: no answer (transport error)
	during bool
}

// TestCollectorKinesisSurvivesKinesaliteKill drives `plowline collector
// --sink kinesis` with a loop of tp2 POSTs, kills kinesalite mid-load and
// brings it back (same port, data persisted). Every request answered 2xx
// must have its events in raw-good afterwards; no request answered 503 may
// be counted as accepted (plowline_collector_events_total) or be in the
// stream; and while Kinesis is away the collector keeps answering 2xx from
// its buffer until the buffer is full, then 503.
func TestCollectorKinesisSurvivesKinesaliteKill(t *testing.T) {
	k := testkit.KinesaliteProcess(t)
	kc := testkit.KinesisClient(k.URL)
	testkit.CreateStream(t, kc, "raw-good", 2)
	testkit.CreateStream(t, kc, "raw-bad", 1)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "collector.yaml")
	// A buffer small enough for the outage to fill it within the test (then
	// 503s), big enough to carry the collector through the first moments.
	writeFile(t, cfg, "sink:\n  kinesis:\n    buffer_bytes: 1500000\n    flush_interval: 20ms\n")
	col := startCollector(t, []string{"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_REGION=us-east-1"},
		"--config", cfg, "--sink", "kinesis", "--good", "raw-good", "--bad", "raw-bad", "--kinesis.endpoint", k.URL)

	var (
		mu       sync.Mutex
		requests []loadRequest
		down     atomic.Bool
		stop     = make(chan struct{})
		wg       sync.WaitGroup
	)
	client := &http.Client{Timeout: 10 * time.Second}
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				req := loadRequest{during: down.Load()}
				var evs []map[string]string
				for j := 0; j < 3; j++ {
					eid := fmt.Sprintf("e2e-%d-%06d-%d", g, i, j)
					req.eids = append(req.eids, eid)
					evs = append(evs, map[string]string{"e": "se", "eid": eid, "tv": "e2e-load", "p": "srv", "aid": "load",
						"se_ca": "load", "se_ac": "post", "dtm": fmt.Sprint(time.Now().UnixMilli()), "pad": string(bytes.Repeat([]byte{'x'}, 300))})
				}
				body, _ := json.Marshal(map[string]any{"schema": "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4", "data": evs})
				resp, err := client.Post(col.URL+"/com.snowplowanalytics.snowplow/tp2", "application/json; charset=utf-8", bytes.NewReader(body))
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					req.status = resp.StatusCode
				}
				mu.Lock()
				requests = append(requests, req)
				mu.Unlock()
				if req.status == http.StatusServiceUnavailable {
					time.Sleep(5 * time.Millisecond) // as a tracker backs off
				}
				// A steady load kinesalite keeps up with on a busy machine,
				// so the buffer is near empty when it is killed.
				time.Sleep(2 * time.Millisecond)
			}
		}()
	}

	time.Sleep(time.Second)
	down.Store(true)
	k.Kill()
	// Stay down until the buffer has filled and the collector has answered 503.
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n503 := 0
		for _, r := range requests {
			if r.status == http.StatusServiceUnavailable {
				n503++
			}
		}
		mu.Unlock()
		if n503 >= 20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no 503s 30s into a Kinesis outage with a 1.5 MB buffer")
		}
		time.Sleep(50 * time.Millisecond)
	}
	health, err := http.Get(col.URL + "/sink-health")
	if err != nil {
		t.Fatal(err)
	}
	health.Body.Close()
	if health.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/sink-health during the outage = %d, want 503", health.StatusCode)
	}
	k.Start()
	down.Store(false)
	time.Sleep(1500 * time.Millisecond)
	close(stop)
	wg.Wait()

	// Wait until everything acknowledged is written, then compare counts
	// before the collector stops.
	waitUntil(t, 30*time.Second, "the collector's buffer to drain", func() bool {
		return col.metric(t, metricname.CollectorBufferBytes.Name) == 0
	})
	accepted := map[string]bool{}
	refused := map[string]bool{}
	var n2xx, n503, nErr, n2xxDuring int
	for _, r := range requests {
		switch {
		case r.status >= 200 && r.status < 300:
			n2xx++
			if r.during {
				n2xxDuring++
			}
			for _, e := range r.eids {
				accepted[e] = true
			}
		case r.status == http.StatusServiceUnavailable:
			n503++
			for _, e := range r.eids {
				refused[e] = true
			}
		case r.status == 0:
			nErr++
		default:
			t.Errorf("unexpected status %d", r.status)
		}
	}
	if n := col.metric(t, metricname.CollectorEvents.Name); int(n) != len(accepted) {
		t.Errorf("%s = %v, but requests answered 2xx carried %d events (503s counted as accepted?)", metricname.CollectorEvents.Name, n, len(accepted))
	}
	col.stop(t, 30*time.Second)

	inStream := map[string]int{}
	for _, p := range decodePayloads(t, recordsOf(testkit.ReadStream(t, kc, "raw-good"))) {
		for _, ev := range eventsOf(t, p) {
			inStream[ev["eid"]]++
		}
	}
	missing, dups := 0, 0
	for e := range accepted {
		switch inStream[e] {
		case 0:
			missing++
			if missing <= 5 {
				t.Errorf("event %s was answered 2xx but is not in raw-good", e)
			}
		case 1:
		default:
			dups++
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d acknowledged events missing from raw-good", missing, len(accepted))
	}
	leaked := 0
	for e := range refused {
		if inStream[e] > 0 {
			leaked++
		}
	}
	if leaked > 0 {
		t.Errorf("%d events answered 503 are in raw-good", leaked)
	}
	if n2xxDuring == 0 {
		t.Error("no request was acknowledged during the outage: the buffer did not carry the collector through it")
	}
	if nErr > 0 {
		t.Errorf("%d requests got no answer at all", nErr)
	}
	t.Logf("%d requests: %d answered 2xx (%d while kinesalite was down), %d answered 503, %d no answer; %d events acknowledged, all in raw-good, %d duplicated (at-least-once)",
		len(requests), n2xx, n2xxDuring, n503, nErr, len(accepted), dups)
}

func recordsOf(recs []testkit.StreamRecord) [][]byte {
	out := make([][]byte, len(recs))
	for i, r := range recs {
		out[i] = r.Data
	}
	return out
}

func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestCollectorKinesisDrainsOnSIGTERM: payloads acknowledged while Kinesis
// is away sit in the collector's buffer; SIGTERM makes it wait for the
// stream (within shutdown_timeout) and write them before it exits.
func TestCollectorKinesisDrainsOnSIGTERM(t *testing.T) {
	k := testkit.KinesaliteProcess(t)
	kc := testkit.KinesisClient(k.URL)
	testkit.CreateStream(t, kc, "raw-good", 1)
	testkit.CreateStream(t, kc, "raw-bad", 1)
	cfg := filepath.Join(t.TempDir(), "collector.yaml")
	writeFile(t, cfg, "shutdown_timeout: 30s\nsink:\n  kinesis:\n    flush_interval: 20ms\n")
	col := startCollector(t, []string{"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_REGION=us-east-1"},
		"--config", cfg, "--sink", "kinesis", "--good", "raw-good", "--bad", "raw-bad", "--kinesis.endpoint", k.URL)
	k.Kill()
	var eids []string
	for i := 0; i < 50; i++ {
		eid := fmt.Sprintf("drain-%03d", i)
		resp, err := http.Get(col.URL + "/i?e=se&se_ca=drain&se_ac=sigterm&tv=e2e&p=srv&eid=" + eid)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %d while Kinesis is away (buffer not full) = %d, want 200", i, resp.StatusCode)
		}
		eids = append(eids, eid)
	}
	if used := col.metric(t, metricname.CollectorBufferBytes.Name); used == 0 {
		t.Fatal("nothing buffered while Kinesis is away")
	}
	exited := make(chan struct{})
	go func() { col.stop(t, 40*time.Second); close(exited) }()
	time.Sleep(time.Second)
	select {
	case <-exited:
		t.Fatal("collector exited on SIGTERM with its buffer unwritten and Kinesis away")
	default:
	}
	k.Start()
	<-exited
	inStream := map[string]int{}
	for _, p := range decodePayloads(t, recordsOf(testkit.ReadStream(t, kc, "raw-good"))) {
		for _, ev := range eventsOf(t, p) {
			inStream[ev["eid"]]++
		}
	}
	for _, e := range eids {
		if inStream[e] == 0 {
			t.Errorf("event %s acknowledged before SIGTERM is not in raw-good after the drain", e)
		}
	}
	if !col.Proc.Contains("sinks drained") {
		t.Errorf("collector did not report a clean drain:\n%s", col.Proc.Output())
	}
}

// TestCollectorKinesisWithRealTrackers: the production path end to end —
// real node and browser trackers, `plowline collector --sink kinesis`,
// kinesalite — with every parameter in the records read back by GetRecords.
func TestCollectorKinesisWithRealTrackers(t *testing.T) {
	kURL := testkit.Kinesalite(t)
	kc := testkit.KinesisClient(kURL)
	testkit.CreateStream(t, kc, "raw-good", 2)
	testkit.CreateStream(t, kc, "raw-bad", 1)
	cfg := filepath.Join(t.TempDir(), "collector.yaml")
	writeFile(t, cfg, "cookie:\n  secure: false\n  same_site: Lax\nsink:\n  kinesis:\n    flush_interval: 20ms\n")
	col := startCollector(t, []string{"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_REGION=us-east-1"},
		"--config", cfg, "--sink", "kinesis", "--good", "raw-good", "--bad", "raw-bad", "--kinesis.endpoint", kURL)
	sent := testkit.NodeTracker(t, col.URL, trackerEvents("kinesis-node"), testkit.NodeTrackerOptions{Namespace: "k-node-post"})
	sent = append(sent, testkit.BrowserTracker(t, col.URL, trackerEvents("kinesis-web"), testkit.BrowserTrackerOptions{Namespace: "k-web"}).Sent...)
	col.stop(t, 30*time.Second) // drains the sink: everything acknowledged is written
	var all []testkit.SentEvent
	recs := testkit.ReadStream(t, kc, "raw-good")
	for _, p := range decodePayloads(t, recordsOf(recs)) {
		all = append(all, eventsOf(t, p)...)
	}
	testkit.AssertArrived(t, sent, all)
	if bad := testkit.ReadStream(t, kc, "raw-bad"); len(bad) != 0 {
		t.Errorf("%d bad rows in raw-bad for valid tracker traffic", len(bad))
	}
	keys := map[string]bool{}
	for _, r := range recs {
		keys[r.PartitionKey] = true
	}
	if len(recs) > 1 && len(keys) < 2 {
		t.Errorf("%d records all under partition key %q: not spread over shards", len(recs), recs[0].PartitionKey)
	}
}

// BenchmarkCollectorToKinesalite measures the real binary writing to
// kinesalite: tp2 POSTs of 10 events from 8 concurrent clients, until every
// acknowledged payload is written (the buffer is empty). Reports events/s;
// kinesalite (one node process) is usually the bottleneck, so this bounds
// the pipeline's local Kinesis path, not the collector.
func BenchmarkCollectorToKinesalite(b *testing.B) {
	kURL := testkit.Kinesalite(b)
	kc := testkit.KinesisClient(kURL)
	testkit.CreateStream(b, kc, "raw-good", 4)
	testkit.CreateStream(b, kc, "raw-bad", 1)
	cfg := filepath.Join(b.TempDir(), "collector.yaml")
	writeFile(b, cfg, "sink:\n  kinesis:\n    flush_interval: 50ms\n")
	col := startCollector(b, []string{"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_REGION=us-east-1"},
		"--config", cfg, "--sink", "kinesis", "--good", "raw-good", "--bad", "raw-bad", "--kinesis.endpoint", kURL)
	var evs []map[string]string
	for j := 0; j < 10; j++ {
		evs = append(evs, map[string]string{"e": "pv", "eid": fmt.Sprintf("bench-%d", j), "tv": "bench", "p": "web", "aid": "bench",
			"url": "https://gitlab.example/group/project/-/issues/1", "page": "Issue 1"})
	}
	body, _ := json.Marshal(map[string]any{"schema": "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4", "data": evs})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	var next atomic.Int64
	var refused atomic.Int64
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				for {
					resp, err := client.Post(col.URL+"/com.snowplowanalytics.snowplow/tp2", "application/json", bytes.NewReader(body))
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode == http.StatusOK {
						break
					}
					refused.Add(1)
					time.Sleep(10 * time.Millisecond) // a tracker backs off and retries
				}
			}
		}()
	}
	wg.Wait()
	for col.metric(b, metricname.CollectorBufferBytes.Name) > 0 {
		time.Sleep(10 * time.Millisecond)
	}
	el := time.Since(start)
	b.ReportMetric(float64(b.N*10)/el.Seconds(), "events/s")
	b.ReportMetric(float64(refused.Load()), "503s")
}

package e2e

import (
	"context"
	"net/http"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/plowline/plowline/pipeline/demo"
)

// ackedBatch is one request the collector acknowledged.
type ackedBatch struct {
	at  time.Time
	ids []string
}

// TestRunCrashLosesOnlyTheBufferAndDuplicatesNothing kills `plowline run`
// with SIGKILL while events stream in and objects are being loaded,
// restarts it on the same data directory and checks the bound the README
// states: an event acknowledged more than one buffer interval (plus a
// slack for crossing the in-memory stages) before the kill is in the
// warehouse, and no event is loaded twice.
func TestRunCrashLosesOnlyTheBufferAndDuplicatesNothing(t *testing.T) {
	const interval = time.Second
	const slack = 2 * time.Second // in-memory stages; milliseconds when not backlogged
	data := filepath.Join(t.TempDir(), "data")
	r := startRun(t, data, "--lake.buffer-interval", interval.String())

	var (
		mu      sync.Mutex
		acked   []ackedBatch
		sentIDs = map[string]bool{}
	)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 5 * time.Second}
	for g := 0; g < 2; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := demo.NewBuilder(uint64(100+g), 0.05)
			for ctx.Err() == nil {
				body, _, _ := b.Batch(20)
				ids := append([]string(nil), b.LastIDs...)
				mu.Lock()
				for _, id := range ids {
					sentIDs[id] = true
				}
				mu.Unlock()
				if err := demo.Post(ctx, client, r.URL, body); err != nil {
					time.Sleep(20 * time.Millisecond)
					continue
				}
				mu.Lock()
				acked = append(acked, ackedBatch{time.Now(), ids})
				mu.Unlock()
				time.Sleep(10 * time.Millisecond)
			}
		}()
	}
	time.Sleep(3500 * time.Millisecond)
	if err := r.Proc.Cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	r.Proc.Cmd.Process.Wait()
	cancel()
	wg.Wait()

	// Restart on the same data directory: the loader's startup scan finds
	// objects written before the kill but not loaded; SIGTERM drains.
	r2 := startRun(t, data, "--lake.buffer-interval", interval.String())
	r2.stop(t)

	if dups := query(t, data, "SELECT event_id, COUNT(*) AS n FROM gitlab_events GROUP BY event_id HAVING n > 1 LIMIT 5"); len(dups) > 0 {
		t.Errorf("events loaded more than once after kill -9 and restart: %v", dups)
	}
	loaded := map[string]bool{}
	for _, row := range query(t, data, "SELECT event_id FROM gitlab_events") {
		id, _ := row["event_id"].(string)
		if !sentIDs[id] {
			t.Errorf("gitlab_events holds event %q nobody sent", id)
		}
		loaded[id] = true
	}
	// Invalid demo events become bad rows whose event_id is in clear.
	badIDs := badRowIDs(query(t, data, "SELECT jsontext FROM gitlab_bad_events"))

	var total, lost, lostOld int
	var oldest time.Duration
	for _, b := range acked {
		for _, id := range b.ids {
			total++
			if loaded[id] || badIDs[id] {
				continue
			}
			lost++
			oldest = max(oldest, killed.Sub(b.at))
			if b.at.Before(killed.Add(-(interval + slack))) {
				lostOld++
				if lostOld <= 5 {
					t.Errorf("event %s acknowledged %s before the kill is lost (bound: %s)", id, killed.Sub(b.at).Round(time.Millisecond), interval+slack)
				}
			}
		}
	}
	t.Logf("acknowledged %d events before kill -9; %d in the warehouse after restart, %d lost, the oldest acknowledged %s before the kill (bound %s)",
		total, total-lost, lost, oldest.Round(time.Millisecond), interval+slack)
	if total < 1000 {
		t.Errorf("only %d events acknowledged: the load was too light to test a crash under load", total)
	}
	if lostOld > 0 {
		t.Errorf("%d events older than the bound were lost", lostOld)
	}
}

var badEventID = regexp.MustCompile(`"event_id":"([0-9a-f-]{36})"`)

// badRowIDs returns the event ids bad rows carry in clear.
func badRowIDs(rows []map[string]any) map[string]bool {
	ids := map[string]bool{}
	for _, r := range rows {
		s, _ := r["jsontext"].(string)
		for _, m := range badEventID.FindAllStringSubmatch(s, -1) {
			ids[m[1]] = true
		}
	}
	return ids
}

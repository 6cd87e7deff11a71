package e2e

import (
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/plowline/plowline/metricname"
)

// TestRunDemoDrainsEverythingOnStop runs `plowline run --demo`, checks the
// start banner and the metrics, stops it with SIGTERM and checks that the
// warehouse holds exactly what the demo says the collector acknowledged:
// valid events in gitlab_events, invalid ones in gitlab_bad_events.
func TestRunDemoDrainsEverythingOnStop(t *testing.T) {
	data := t.TempDir() + "/data"
	r := startRun(t, data, "--demo", "--demo.rate", "300", "--demo.invalid-fraction", "0.2", "--lake.buffer-interval", "400ms")
	// The collector answers /health before run has printed its banner
	// (extensions start in between): wait for it, or the check races.
	for deadline := time.Now().Add(15 * time.Second); !r.Proc.Contains("Ctrl-C stops it") && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	for _, want := range []string{r.URL, r.MetricsURL, "curl '" + r.URL + "/i?", "plowline query --data-dir " + data, "gitlab_events"} {
		if !strings.Contains(r.Proc.Output(), want) {
			t.Errorf("start banner lacks %q:\n%s", want, r.Proc.Output())
		}
	}
	if got := waitRows(t, data, "SELECT COUNT(*) FROM gitlab_events", 50, 30*time.Second); got < 50 {
		t.Fatalf("only %d demo events loaded while running", got)
	}
	resp, err := http.Get(r.MetricsURL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, m := range []string{metricname.CollectorEvents.Name, metricname.EnricherEvents.Name, metricname.PseudonymizerRecords.Name,
		metricname.LakeRecordsWritten.Name, metricname.WarehouseRowsLoaded.Name} {
		if !strings.Contains(string(body), m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
	r.stop(t)

	m := regexp.MustCompile(`demo sent" requests=\d+ valid_events=(\d+) invalid_events=(\d+) events_in_failed_requests=(\d+)`).FindStringSubmatch(r.Proc.Output())
	if m == nil {
		t.Fatalf("no demo summary in the output:\n%s", r.Proc.Output())
	}
	valid, _ := strconv.Atoi(m[1])
	invalid, _ := strconv.Atoi(m[2])
	if m[3] != "0" {
		t.Errorf("%s demo events were refused by the collector", m[3])
	}
	if got := queryCount(t, data, "SELECT COUNT(*) FROM gitlab_events"); got != valid {
		t.Errorf("gitlab_events has %d rows after the drain; the collector acknowledged %d valid demo events", got, valid)
	}
	if got := queryCount(t, data, "SELECT COUNT(*) FROM gitlab_bad_events"); got != invalid || invalid == 0 {
		t.Errorf("gitlab_bad_events has %d rows after the drain; the collector acknowledged %d invalid demo events", got, invalid)
	}
}

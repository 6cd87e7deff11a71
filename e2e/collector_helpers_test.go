package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/plowline/plowline/pipeline/payload"
	"github.com/plowline/plowline/pipeline/stream"
	"github.com/plowline/plowline/testkit"
)

// collectorProc is the real plowline binary running `plowline collector`.
type collectorProc struct {
	URL        string // trackers' endpoint, http://127.0.0.1:PORT
	MetricsURL string // http://127.0.0.1:PORT/metrics
	Proc       *testkit.Process
}

// startCollector runs `plowline collector` with args (sink flags etc.) on
// free loopback ports and waits until it serves /health.
func startCollector(t testing.TB, env []string, args ...string) *collectorProc {
	t.Helper()
	bin := testkit.Binary(t)
	port, mport := testkit.FreePort(t), testkit.FreePort(t)
	c := &collectorProc{
		URL:        fmt.Sprintf("http://127.0.0.1:%d", port),
		MetricsURL: fmt.Sprintf("http://127.0.0.1:%d/metrics", mport),
	}
	all := append([]string{"collector",
		"--listen-address", fmt.Sprintf("127.0.0.1:%d", port),
		"--web.listen-address", fmt.Sprintf("127.0.0.1:%d", mport)}, args...)
	c.Proc = testkit.Start(t, env, bin, all...)
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(c.URL + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return c
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("collector not healthy after 20s (last: %v):\n%s", err, c.Proc.Output())
		}
		if c.Proc.Cmd.ProcessState != nil {
			t.Fatalf("collector exited:\n%s", c.Proc.Output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop sends SIGTERM and waits for the process to exit (it drains its sinks).
func (c *collectorProc) stop(t testing.TB, timeout time.Duration) {
	t.Helper()
	if err := c.Proc.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM to the collector: %v", err)
	}
	deadline := time.Now().Add(timeout)
	for {
		// Signal 0 fails once the process has been reaped by testkit.Start.
		if err := c.Proc.Cmd.Process.Signal(syscall.Signal(0)); err != nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("collector still running %s after SIGTERM:\n%s", timeout, c.Proc.Output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// metric returns the value of an unlabelled sample (or the sum over all
// label sets of a metric) from the collector's /metrics.
func (c *collectorProc) metric(t testing.TB, name string) float64 {
	t.Helper()
	resp, err := http.Get(c.MetricsURL)
	if err != nil {
		t.Fatalf("scraping %s: %v", c.MetricsURL, err)
	}
	defer resp.Body.Close()
	sum, found := 0.0, false
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		series, value, ok := strings.Cut(line, " ")
		if !ok || (series != name && !strings.HasPrefix(series, name+"{")) {
			continue
		}
		v, err := strconv.ParseFloat(strings.Fields(value)[0], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		sum, found = sum+v, true
	}
	if !found {
		t.Fatalf("metric %s not exposed on %s", name, c.MetricsURL)
	}
	return sum
}

// received is a tracker event as the collector recorded it, with the
// payload that carried it.
type received struct {
	Event   testkit.SentEvent
	Payload *payload.CollectorPayload
}

// decodePayloads turns raw records into collector payloads, failing the
// test on any that does not decode.
func decodePayloads(t *testing.T, records [][]byte) []*payload.CollectorPayload {
	t.Helper()
	out := make([]*payload.CollectorPayload, 0, len(records))
	for i, r := range records {
		p, err := payload.Unmarshal(r)
		if err != nil {
			t.Fatalf("record %d is not a Thrift CollectorPayload: %v", i, err)
		}
		out = append(out, p)
	}
	return out
}

// eventsOf parses the tracker events a payload carries: a tp2 POST body or
// a GET query string.
func eventsOf(t *testing.T, p *payload.CollectorPayload) []testkit.SentEvent {
	t.Helper()
	switch {
	case p.Body != "":
		evs, err := testkit.ParseTP2([]byte(p.Body))
		if err != nil {
			t.Fatalf("payload %s: %v", p.Path, err)
		}
		return evs
	case p.Querystring != "":
		ev, err := testkit.ParseQuery(p.Querystring)
		if err != nil {
			t.Fatalf("payload %s: %v", p.Path, err)
		}
		return []testkit.SentEvent{ev}
	}
	return nil
}

// readFileSink reads a file written by the file sink (one base64 record
// per line); a line that is not base64 fails the test.
func readFileSink(t *testing.T, path string) [][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("opening sink output: %v", err)
	}
	defer f.Close()
	src := stream.NewLineSource(f)
	var out [][]byte
	for {
		recs, err := src.Read(context.Background(), 1000)
		if errors.Is(err, stream.ErrClosed) {
			return out
		}
		if err != nil {
			t.Fatalf("reading %s: %v", path, err)
		}
		for _, r := range recs {
			out = append(out, r.Data)
		}
	}
}

// header returns the value of a "Name: value" header of a payload.
func header(p *payload.CollectorPayload, name string) (string, bool) {
	for _, h := range p.Headers {
		k, v, ok := strings.Cut(h, ":")
		if ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

package testkit

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// BrowserTrackerOptions configure BrowserTracker. Zero values take the
// defaults in the comments.
type BrowserTrackerOptions struct {
	AppID     string // aid (default "plowline-test")
	Namespace string // tracker namespace prefix (default "web"); trackers are "<ns>-post" and "<ns>-get"
	// Methods are the emitters to track with, each tracking every event
	// (default both: "post" — tp2 batches — and "get" — /i per event).
	Methods []string
	// BufferSize is the POST tracker's batch size (default 1, the browser
	// tracker's own default).
	BufferSize int
	// EncodeBase64 overrides the tracker's default (false for POST, so
	// ue_pr/co; true for GET, so ue_px/cx).
	EncodeBase64 *bool
	UserID       string // setUserId (uid)
	// PostPath replaces /com.snowplowanalytics.snowplow/tp2 for the POST
	// tracker (GitLab self-managed posts to /-/collect_events).
	PostPath string
	// ServerAnonymization turns on anonymous tracking with server
	// anonymisation: no user or session cookies, and SP-Anonymous: * on
	// every request.
	ServerAnonymization bool
	// Timeout bounds the whole run (default 60s).
	Timeout time.Duration
}

// BrowserRun is what BrowserTracker observed.
type BrowserRun struct {
	// Sent are the events exactly as the trackers sent them.
	Sent []SentEvent
	// PageURL is the URL the page was served from (events' url unless a
	// TrackerEvent sets PageURL).
	PageURL string
	// UserAgent is the browser's User-Agent header.
	UserAgent string
}

var (
	bundleOnce sync.Once
	bundleJS   []byte
	bundleErr  error
)

// trackerBundle bundles @snowplow/browser-tracker with esbuild, once per
// test process.
func trackerBundle(t testing.TB) []byte {
	t.Helper()
	mods := NodeModules(t)
	node := Node(t)
	bundleOnce.Do(func() {
		dir := filepath.Dir(mods)
		out := filepath.Join(os.TempDir(), fmt.Sprintf("plowline-sp-bundle-%d.js", os.Getpid()))
		defer os.Remove(out)
		// esbuild's JS API works whether npm installed the native binary
		// in place of bin/esbuild or left the JS shim.
		script := fmt.Sprintf(`require(%q).buildSync({entryPoints: ['browser_entry.js'], bundle: true, format: 'iife', target: 'es2020', minify: true, logLevel: 'warning', outfile: %q})`,
			filepath.Join(mods, "esbuild"), out)
		cmd := exec.Command(node, "-e", script)
		cmd.Dir = dir
		if b, err := cmd.CombinedOutput(); err != nil {
			bundleErr = fmt.Errorf("bundling the browser tracker with esbuild: %v\n%s", err, b)
			return
		}
		bundleJS, bundleErr = os.ReadFile(out)
	})
	if bundleErr != nil {
		t.Fatal(bundleErr)
	}
	return bundleJS
}

// BrowserTracker runs the real @snowplow/browser-tracker (bundled with
// esbuild) in headless Chromium against the collector at collectorURL. It
// serves a page from a server on 127.0.0.1 (another origin than the
// collector, so requests are cross-origin with credentials, as in
// production: CORS and the network-user-id cookie are exercised), the page
// tracks every event once per method (by default a POST and a GET tracker)
// and reports to the page server once the collector has answered every
// request; BrowserTracker returns then. The test fails if any request
// failed or the page did not report within the timeout.
func BrowserTracker(t testing.TB, collectorURL string, events []TrackerEvent, opts BrowserTrackerOptions) BrowserRun {
	t.Helper()
	chromium := LookPath(t, "chromium", "apt-get install -y chromium")
	bundle := trackerBundle(t)
	if opts.AppID == "" {
		opts.AppID = "plowline-test"
	}
	if opts.Namespace == "" {
		opts.Namespace = "web"
	}
	if len(opts.Methods) == 0 {
		opts.Methods = []string{"post", "get"}
	}
	if opts.BufferSize <= 0 {
		opts.BufferSize = 1
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 60 * time.Second
	}
	collectorURL = strings.TrimRight(collectorURL, "/")
	nodeDir := filepath.Join(RepoRoot(t), "testkit", "node")
	page, err := os.ReadFile(filepath.Join(nodeDir, "browser_page.html"))
	if err != nil {
		t.Fatal(err)
	}
	driver, err := os.ReadFile(filepath.Join(nodeDir, "browser_driver.js"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := json.Marshal(map[string]any{
		"collector": collectorURL, "appId": opts.AppID, "namespace": opts.Namespace, "methods": opts.Methods,
		"bufferSize": opts.BufferSize, "encodeBase64": opts.EncodeBase64, "userId": opts.UserID, "postPath": opts.PostPath, "anonymous": opts.ServerAnonymization, "events": events,
	})
	if err != nil {
		t.Fatalf("BrowserTracker: encoding config: %v", err)
	}

	type report struct {
		Sent     []map[string]any `json:"sent"`
		Failures []struct {
			Status  int    `json:"status"`
			Message string `json:"message"`
			Events  int    `json:"events"`
			Method  string `json:"method"`
		} `json:"failures"`
		Error string `json:"error"`
	}
	reports := make(chan report, 1)
	var uaMu sync.Mutex
	var userAgent string
	mux := http.NewServeMux()
	serve := func(ctype string, body []byte) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", ctype)
			w.Header().Set("Cache-Control", "no-store")
			w.Write(body)
		}
	}
	mux.HandleFunc("GET /tracker.js", serve("text/javascript", bundle))
	mux.HandleFunc("GET /driver.js", serve("text/javascript", driver))
	mux.HandleFunc("GET /config.json", serve("application/json", cfg))
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("POST /done", func(w http.ResponseWriter, r *http.Request) {
		var rep report
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &rep); err != nil {
			rep.Error = fmt.Sprintf("bad report %q: %v", b, err)
		}
		select {
		case reports <- rep:
		default:
		}
	})
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		uaMu.Lock()
		userAgent = r.UserAgent()
		uaMu.Unlock()
		serve("text/html; charset=utf-8", page)(w, r)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	pageURL := fmt.Sprintf("http://%s/plowline/test-page?from=testkit", ln.Addr())

	profile := t.TempDir()
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--no-proxy-server", "--remote-debugging-port=0",
		"--user-data-dir=" + profile, pageURL}
	cmd := exec.Command(chromium, args...)
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	setProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	defer func() {
		killGroup(cmd)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
		}
	}()

	var rep report
	select {
	case rep = <-reports:
	case <-exited:
		t.Fatalf("chromium exited before the page reported:\n%s", tail(out.String(), 4000))
	case <-time.After(opts.Timeout):
		t.Fatalf("browser tracker page did not report within %s; chromium output:\n%s", opts.Timeout, tail(out.String(), 4000))
	}
	if rep.Error != "" {
		t.Fatalf("browser tracker page failed: %s", rep.Error)
	}
	if len(rep.Failures) > 0 {
		f := rep.Failures[0]
		t.Fatalf("browser tracker: %d requests failed, first (%s): HTTP %d %q (%d events)", len(rep.Failures), f.Method, f.Status, f.Message, f.Events)
	}
	run := BrowserRun{PageURL: pageURL}
	uaMu.Lock()
	run.UserAgent = userAgent
	uaMu.Unlock()
	for _, p := range rep.Sent {
		run.Sent = append(run.Sent, stringify(p))
	}
	if want := len(events) * len(opts.Methods); len(run.Sent) != want {
		t.Fatalf("browser trackers sent %d events, want %d", len(run.Sent), want)
	}
	return run
}
